"""``harness regress NAME``: regression tests per quantization level."""

from __future__ import annotations

from pathlib import Path

import click

from harness._util.cli import exit_interrupted
from harness.backends.registry import backend_help
from harness.cli._hosts import host_options
from harness.regress.run import DEFAULT_LEVELS

PHASES = ("episodes", "agreement", "divergence")


@click.command()
@click.argument("name", required=False)
@click.option(
    "--levels",
    default=DEFAULT_LEVELS,
    show_default=True,
    help="Levels (NAME:<level>) or full model names, comma-separated.",
)
@click.option("--baseline", default="f16", show_default=True, help="The level the others are compared with.")
@click.option("--suite", default=None, help="Suite name or YAML (default as harness bench).")
@click.option(
    "--gates",
    "gates_file",
    type=click.Path(dir_okay=False, exists=True),
    help="Thresholds per level (YAML, e.g. regress/gates.yaml); exit 3 when one fails "
    "(with --junit and no --gates: the shipped regress/gates.yaml).",
)
@click.option(
    "--junit", type=click.Path(dir_okay=False), help="Write JUnit XML: one test case per level × gate."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Output folder (default runs/regress-<NAME>-<suite>); rerun to resume.",
)
@click.option("--backend", default="auto", show_default=True, help=backend_help(policies=False))
@click.option(
    "--limit",
    default=None,
    type=click.IntRange(1),
    help="Only K games, taken round-robin over task types (as harness bench).",
)
@click.option(
    "--max-steps", default=None, type=click.IntRange(1), help="Steps per episode (default: the suite's)."
)
@click.option("--mode", type=click.Choice(["finetuned", "fewshot"]), default="finetuned", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--num-predict", default=64, show_default=True, help="Max new tokens per reply.")
@click.option(
    "--timeout", "timeout_s", default=120.0, show_default=True, help="Wall-clock limit per reply (s)."
)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Parallel episodes (Ollama)."
)
@click.option(
    "--gold-games",
    default=6,
    show_default=True,
    type=click.IntRange(1),
    help="Expert trajectories (first games of the suite) for agreement and divergence.",
)
@click.option(
    "--replay-turns",
    default=None,
    type=click.IntRange(1),
    help="Replay at most N turns per trajectory (teacher forcing).",
)
@click.option("--skip", multiple=True, type=click.Choice(PHASES), help="Leave out a phase (repeatable).")
@click.option("--threads", default=None, type=click.IntRange(1), help="llama.cpp threads.")
@host_options
def regress(
    name: str | None, levels: str, baseline: str, suite: str | None, gates_file: str | None, junit: str | None,
    out_dir: str | None, backend: str, limit: int | None, max_steps: int | None, mode: str, seed: int,
    num_predict: int, timeout_s: float, workers: int, gold_games: int, replay_turns: int | None,
    skip: tuple[str, ...], threads: int | None, hosts: tuple[str, ...], hosts_file: str | None, openai_mode: str,
    retries: int,
) -> None:  # fmt: skip
    """Does the agent still act the same at each quantization level? Episodes, paired success
    test (McNemar, bootstrap CI), teacher-forced action agreement and token-level KL divergence
    vs the baseline, gates; Markdown + HTML + JSON report (and JUnit).

    \b
    harness build tiny --from-merged DIR --levels f16,q8_0,q6_k,q5_k_m,q4_k_m,q3_k_m,q2_k
    harness regress tiny --suite synthetic-smoke --gates regress/gates.yaml --junit junit.xml
    harness regress --levels qwen-a:q8_0,qwen-a:q4_k_m --baseline qwen-a:q8_0

    Exit status: 0 when every gate passes, 3 when one fails, 1 on an error, 130 when interrupted
    (rerun the same command to resume).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from harness._util.paths import slug
    from harness.backends.resolve import resolve_backend_name
    from harness.bench.pool import make_pool
    from harness.bench.suites import load_suite
    from harness.cli._common import log_console
    from harness.cli._hosts import host_specs
    from harness.cli.bench import default_suite
    from harness.regress.report import GatesFailed, failed, finish, load_gates
    from harness.regress.run import RegressPlan, resolve_levels, run_regress

    console = log_console()
    s = load_suite(suite or default_suite())
    lvls, base = resolve_levels(name, levels, baseline)
    if junit and not gates_file:  # a JUnit file with no test cases would pass any CI
        from harness._util.resources import shipped_file

        gates_file = str(shipped_file("regress", "gates.yaml"))
        console.print(f"--junit without --gates: applying the shipped default gates ({gates_file})")
    gates = load_gates(gates_file) if gates_file else None
    specs = host_specs(hosts, hosts_file)
    for lv in lvls:  # an unknown level fails now, not after an hour of episodes
        if specs:
            make_pool(lv.model, backend, specs, workers, openai_mode)  # every host serves every level
        else:
            resolve_backend_name(lv.model, backend)
    out = Path(out_dir or f"runs/regress-{slug(name or base.model)}-{slug(s.name)}")
    plan = RegressPlan(
        levels=lvls, baseline=base, suite=suite or default_suite(), out=out, backend=backend, mode=mode,
        max_steps=max_steps, limit=limit, seed=seed, num_predict=num_predict, timeout_s=timeout_s,
        workers=workers, gold_games=gold_games, replay_turns=replay_turns, threads=threads,
        hosts=specs, openai_mode=openai_mode, retries=retries,
        episodes="episodes" not in skip, agreement="agreement" not in skip, divergence="divergence" not in skip,
    )  # fmt: skip
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    try:
        with Progress(*columns, console=console) as progress:
            raw = run_regress(plan, progress)
    except KeyboardInterrupt as e:
        exit_interrupted(e, f"Finished work is saved in {out}; rerun the same command to resume.")
    run = {
        "name": name, "baseline": base.label, "levels": [{"label": lv.label, "model": lv.model} for lv in lvls],
        "suite": s.name, "backend": backend, "mode": mode, "max_steps": max_steps or s.max_steps, "limit": limit,
        "seed": seed, "num_predict": num_predict, "gold_games": gold_games, "replay_turns": replay_turns,
        "skipped_phases": list(skip), "gates_file": gates_file, "notes": plan.notes,
    }  # fmt: skip
    results = finish(raw, run, gates, out, Path(junit) if junit else None)
    _print(console, results)
    console.print(f"results.json, report.md, report.html → {out}" + (f"; JUnit → {junit}" if junit else ""))
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {note}")
    if bad := failed(results):
        names = ", ".join(f"{g['level']} {g['gate']}" for g in bad)
        raise GatesFailed(f"{len(bad)} gate(s) failed: {names}; see {out / 'report.md'}")


def _print(console, results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from harness.regress.report import level_table

    levels = level_table(results)
    head, rows = levels.columns, levels.rows
    keep = ["level", "bpw", "k-quant fallback", "success (95% CI)", "Δ success [95% CI]", "McNemar p", "agree base", "same reply",
            "agree expert", "mean KLD", "same top-1", "gates"]  # fmt: skip
    idx = [head.index(k) for k in keep]
    table = Table(title=f"regress vs {results['run']['baseline']} on {results['suite']['name']}")
    for k in keep:
        table.add_column(k, justify="left" if k in ("level", "gates") else "right", no_wrap=k != "gates")
    for r in rows:
        table.add_row(*[r[i] for i in idx], style="red" if r[-1].startswith("FAIL") else None)
    Console(width=max(160, console.width)).print(table)
