"""``harness data``: export expert ReAct trajectories as LLaMA-Factory datasets."""

from __future__ import annotations

import os

import click


@click.command()
@click.option(
    "--suite",
    default=None,
    help="Suite to export (default: alfworld-train when ALFWORLD_DATA is set, else synthetic-train).",
)
@click.option("--out", "out_dir", default="data/react", show_default=True, type=click.Path(file_okay=False))
@click.option("--test-fraction", default=0.1, show_default=True, type=click.FloatRange(0, 0.9))
@click.option("--seed", default=0, show_default=True, help="Seed of the train/test split.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Only the first K games of the suite."
)
@click.option(
    "--no-system", is_flag=True, help="Leave the system prompt out (use the Modelfile's SYSTEM instead)."
)
def data(
    suite: str | None, out_dir: str, test_fraction: float, seed: int, limit: int | None, no_system: bool
) -> None:
    """Write react_{train,test}_{alpaca,sharegpt}.json + dataset_info.json into --out.

    \b
    LLaMA-Factory reads the folder as its dataset_dir, e.g.:
      llamafactory-cli train ... --dataset_dir data/react --dataset react_train_sharegpt
    """
    from rich.progress import Progress

    from harness.agent.protocol import SYSTEM_PROMPT
    from harness.bench.suites import load_suite
    from train.data import export

    name = suite or ("alfworld-train" if os.environ.get("ALFWORLD_DATA") else "synthetic-train")
    s = load_suite(name)
    total = len(s.games()[:limit] if limit else s.games())
    with Progress(transient=True) as bar:
        task = bar.add_task(f"expert on {s.name}", total=total)
        manifest = export(
            s,
            out_dir,
            test_fraction=test_fraction,
            seed=seed,
            limit=limit,
            system=None if no_system else SYSTEM_PROMPT,
            progress=lambda _id: bar.advance(task),
        )
    click.echo(
        f"{manifest['episodes']} episodes from {s.name} → {out_dir}: "
        f"{len(manifest['train_games'])} train / {len(manifest['test_games'])} test games"
        + (
            f"; {len(manifest['skipped_unsolvable'])} unsolvable skipped"
            if manifest["skipped_unsolvable"]
            else ""
        )
    )
