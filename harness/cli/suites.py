"""``harness suites``: the scenario suites and their games."""

from __future__ import annotations

import click


@click.command()
@click.argument("name", required=False)
def suites(name: str | None) -> None:
    """List the suites, or the games of suite NAME."""
    from harness.bench.suites import available_suites, load_suite, load_suite_file

    if name is None:
        for n, path in available_suites().items():
            s = load_suite_file(path)
            click.echo(f"{n:24} {s.source:10} {s.description}")
        return
    s = load_suite(name)
    for i, g in enumerate(s.games()):
        click.echo(f"{i:4}  {g.task_type:32} {g.id}")
