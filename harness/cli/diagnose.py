"""``harness diagnose NAME``: find the pipeline stage where a model loses quality."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli._hosts import host_options


@click.command()
@click.argument("name")
@click.option(
    "--build-dir", type=click.Path(file_okay=False), help="The build's folder (default builds/NAME)."
)
@click.option(
    "--stage",
    "stage_specs",
    multiple=True,
    metavar="KIND[:LABEL]=PATH",
    help="Add or replace a stage: adapter=DIR, merged=DIR, gguf=FILE|NAME, ollama=NAME. Repeatable.",
)
@click.option(
    "--modelfile",
    type=click.Path(dir_okay=False, exists=True),
    help="Modelfile for --stage GGUF files (default modelfiles/qwen2.5-react.Modelfile).",
)
@click.option("--suite", default="synthetic-smoke", show_default=True, help="Suite of the gold trajectories.")
@click.option(
    "--conversations", default=4, show_default=True, type=click.IntRange(1), help="Gold trajectories."
)
@click.option(
    "--agreement-turns",
    default=6,
    show_default=True,
    type=click.IntRange(0),
    help="Teacher-forced replies per trajectory (0: skip).",
)
@click.option(
    "--episodes", default=4, show_default=True, type=click.IntRange(0), help="Games per stage (0: skip)."
)
@click.option(
    "--num-predict", default=48, show_default=True, type=click.IntRange(1), help="Max tokens per reply."
)
@click.option("--max-steps", default=15, show_default=True, type=click.IntRange(1), help="Steps per episode.")
@click.option(
    "--kld-float", default=0.01, show_default=True, help="KLD limit for lossless steps (merge, convert)."
)
@click.option(
    "--kld-quant",
    default=0.1,
    show_default=True,
    help="KLD limit for a quantization level vs the float GGUF.",
)
@click.option(
    "--max-success-drop",
    type=click.FloatRange(0, 1),
    help="Also flag a stage whose episode success drops by more than this vs its parent.",
)
@host_options
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), help="Report folder (default runs/diagnose-NAME)."
)
@click.option("--gate", is_flag=True, help="Exit 1 when a stage fails a check.")
def diagnose(
    name: str,
    build_dir: str | None,
    stage_specs: tuple[str, ...],
    modelfile: str | None,
    suite: str,
    conversations: int,
    agreement_turns: int,
    episodes: int,
    num_predict: int,
    max_steps: int,
    kld_float: float,
    kld_quant: float,
    max_success_drop: float | None,
    hosts: tuple[str, ...],
    hosts_file: str | None,
    openai_mode: str,
    retries: int,
    out_dir: str | None,
    gate: bool,
) -> None:
    """Compare every stage of a model's pipeline — adapter, merged checkpoint, GGUF, each
    quantization level, the Ollama model — on the same gold ReAct trajectories, and name the
    first stage that loses quality, with the likely cause and the evidence.

    \b
    harness diagnose tiny-react                              # stages from builds/tiny-react/build.json
    harness diagnose tiny --stage merged=./merged            # add what build.json lacks
    harness diagnose my-qwen --stage merged=./merged --stage gguf=./my.q4_k_m.gguf \\
        --modelfile modelfiles/qwen2.5-react.Modelfile --gate
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from harness.cli._common import log_console
    from harness.cli._hosts import host_specs
    from harness.diagnose.run import DiagnoseConfig, order_stages, parse_stage, stages_from_build
    from harness.diagnose.run import diagnose as run
    from harness.serving.modelfile import load

    console = log_console()
    specs = host_specs(hosts, hosts_file)
    # the first host serves the Ollama stages' checks; with several, their episodes use them all
    host = specs[0].url if specs else None
    mf = load(modelfile) if modelfile else None
    bdir = Path(build_dir or f"builds/{name}")
    stages = stages_from_build(bdir, host) if (bdir / "build.json").exists() or not stage_specs else []
    stages += [parse_stage(s, mf) for s in stage_specs]
    cfg = DiagnoseConfig(
        suite=suite, conversations=conversations, agreement_turns=agreement_turns, episodes=episodes,
        max_steps=max_steps, num_predict=num_predict, host=host, hosts=specs if len(specs) > 1 else [],
        openai_mode=openai_mode, retries=retries, out_dir=Path(out_dir or f"runs/diagnose-{name}"),
    )  # fmt: skip
    thresholds = {"kld_float": kld_float, "kld_quant": kld_quant, "max_success_drop": max_success_drop}
    ordered = order_stages(stages)
    console.print("stages: " + " → ".join(f"{s.label}" for s in ordered))
    if not any(s.kind in ("adapter", "merged") for s in ordered):
        console.print(
            "[yellow]no checkpoint stage (a --from-merged build does not record its folder): the first "
            "GGUF is the reference; add --stage merged=DIR to check the conversion too[/]"
        )
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("diagnose", total=len(ordered))
        seen: set[str] = set()

        def progress(label: str, check: str) -> None:
            if label not in seen and seen:
                bar.advance(task)
            seen.add(label)
            bar.update(task, description=f"{label}: {check}")

        report = run(name, ordered, cfg, thresholds, progress)
        bar.update(task, completed=len(ordered), description="done")
    _print(report)
    console.print(f"report: {cfg.out_dir / 'diagnose.md'} (JSON: diagnose.json)")
    if gate and report["verdict"]:
        raise click.exceptions.Exit(1)


def _print(report: dict) -> None:
    """The summary table and the verdict on stdout."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from harness.diagnose.report import HEADERS, summary_rows

    out = Console()
    table = Table(*HEADERS, title=f"diagnose {report['name']}")
    for row in summary_rows(report):
        table.add_row(*map(escape, row))
    out.print(table)
    v = report["verdict"]
    if v is None:
        out.print("[green]no stage passes a threshold[/]")
        return
    out.print(f"[bold red]first failing stage: {v['stage']}[/] — {escape(v['message'])}", highlight=False)
    out.print(f"likely cause: {v['likely_cause']}", highlight=False)
    for e in v["evidence"]:
        out.print(f"  • {e}", markup=False, highlight=False)
