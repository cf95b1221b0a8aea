"""``harness report``: rebuild a run's reports, or compare runs side by side."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("run_dirs", nargs=-1, required=True)
@click.option(
    "--out", "out_file", default=None, type=click.Path(dir_okay=False), help="Write the comparison here too."
)
def report(run_dirs: tuple[str, ...], out_file: str | None) -> None:
    """Rebuild results.json / report.md / report.html of one run (from its traces), or, given
    several runs, print a comparison: success per task type with deltas vs the first, and each
    run paired with the first over the games both played (McNemar p, delta with its CI).

    A run played in parts (``harness bench --games`` on two processes) is given as its folders
    joined by +:

    harness report runs/a-h1+runs/a-h2 runs/b-h1+runs/b-h2"""
    from harness._util.atomic import atomic_write_text
    from harness.report import compare_runs, load_run_checked, write_reports

    if len(run_dirs) == 1 and Path(run_dirs[0]).is_dir():
        traces, info, unreadable = load_run_checked(run_dirs[0])
        if unreadable:
            click.echo(
                f"warning: {unreadable} unreadable line(s) in {run_dirs[0]}/traces.jsonl left out of the "
                "reports (a resumed bench moves them aside and plays those games again)",
                err=True,
            )
        results = write_reports(run_dirs[0], traces, info, unreadable=unreadable)
        o = results["overall"]
        click.echo(
            f"{run_dirs[0]}: success {o['success_rate']:.1%} ({o['successes']}/{o['episodes']}), "
            f"progress {o['progress_rate']:.1%}; reports rebuilt"
        )
        return
    text = compare_runs(list(run_dirs))
    click.echo(text)
    if out_file:
        atomic_write_text(out_file, text)
