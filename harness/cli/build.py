"""``harness build``: the whole model factory in one re-entrant command."""

from __future__ import annotations

from pathlib import Path

import click

from harness.serving import STORE_BACKENDS
from train.build import STEPS


@click.command()
@click.argument("name")
@click.option("--recipe", type=click.Path(dir_okay=False, exists=True), help="Training recipe (YAML).")
@click.option(
    "--from-merged", type=click.Path(file_okay=False, exists=True), help="Start from a merged HF checkpoint."
)
@click.option("--from-gguf", type=click.Path(dir_okay=False, exists=True), help="Start from a float GGUF.")
@click.option(
    "--levels", default="f16,q8_0,q4_k_m", show_default=True, help="Comma-separated levels to register."
)
@click.option(
    "--data-suite",
    default=None,
    help="Suite the data step exports (default: the recipe's data_suite, else synthetic-train).",
)
@click.option(
    "--modelfile", type=click.Path(dir_okay=False, exists=True), help="Modelfile (default qwen2.5-react)."
)
@click.option(
    "--backend", default="auto", show_default=True, help=f"Register into {' | '.join(STORE_BACKENDS)}."
)
@click.option(
    "--build-dir", type=click.Path(file_okay=False), help="Where artifacts go (default builds/NAME)."
)
@click.option(
    "--force", multiple=True, type=click.Choice(STEPS), help="Redo this step (and the ones after it)."
)
def build(
    name: str,
    recipe: str | None,
    from_merged: str | None,
    from_gguf: str | None,
    levels: str,
    data_suite: str,
    modelfile: str | None,
    backend: str,
    build_dir: str | None,
    force: tuple[str, ...],
) -> None:
    """data → sft → merge → convert → quantize → register each level as NAME:<level>.

    \b
    harness build tiny-react --recipe train/configs/tiny-cpu.yaml
    harness build my-qwen --from-merged ./merged --levels q8_0,q4_k_m
    harness bench tiny-react:q4_k_m --suite synthetic-smoke --limit 6
    """
    from harness.serving.quant import FLOAT_LEVELS
    from train.build import Builder, BuildPlan
    from train.quantize import parse_levels

    wanted = [lv.strip().lower() for lv in levels.split(",") if lv.strip()]
    quant = [lv for lv in wanted if lv not in FLOAT_LEVELS]
    if quant:
        parse_levels(",".join(quant))  # a clear error for an unknown level, before any work
    plan = BuildPlan(
        name=name,
        build_dir=Path(build_dir or f"builds/{name}"),
        recipe=Path(recipe) if recipe else None,
        from_merged=Path(from_merged) if from_merged else None,
        from_gguf=Path(from_gguf) if from_gguf else None,
        levels=wanted,
        data_suite=data_suite,
        modelfile=Path(modelfile) if modelfile else None,
        backend=backend,
        force=set(force),
    )
    models = Builder(plan, log=lambda line: click.echo(line, err=True)).run()
    for m in models:
        click.echo(f"{m['name']}\t{m['where']}\t{m['status']}\t{m['sha256'][:12]}")
