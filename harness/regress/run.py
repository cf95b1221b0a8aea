"""Regression tests per quantization level: does the agent still act the same?

For every level (``NAME:<level>`` as ``harness build`` registers them, or any registered
models) against a baseline level, on the same suite, seeds and options:

1. **episodes** — the bench runner (resumable, ``<out>/episodes/<level>/traces.jsonl``):
   success, progress, invalid rate, steps, generation tok/s;
2. **paired comparison** — per-episode success pairs with the baseline: exact McNemar test and
   the success delta with a paired bootstrap 95 % interval, overall and per task type;
3. **teacher-forced action agreement** (:mod:`harness.analysis.agreement`) on the baseline's
   own trajectories and on the expert's (the gold set);
4. **token-level divergence** (:mod:`harness.analysis.divergence`) on the gold set's assistant
   tokens, from full-vocabulary llama.cpp logits (GGUF levels only: Ollama exposes no logits);
5. **gates** (:mod:`harness.regress.report`) and the reports: Markdown, HTML, JSON, JUnit.

Each phase's per-level result is kept under ``<out>`` with a key of its inputs, so a rerun
resumes where an interrupted one stopped and recomputes only what changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness._util.atomic import atomic_write_text
from harness._util.paths import slug
from harness.backends.base import ChatOptions
from harness.bench.paired import bootstrap_delta_ci, mcnemar_exact, paired_comparison
from harness.bench.traces import EpisodeTrace
from harness.errors import HarnessError, UsageError

REGRESS_VERSION = 1
DEFAULT_LEVELS = "f16,q8_0,q6_k,q5_k_m,q4_k_m,q3_k_m,q2_k"

Log = Callable[[str], None]


class RegressError(HarnessError):
    """A regression run cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Level:
    label: str
    """As given in ``--levels`` (``q4_k_m``), used in reports and gates."""
    model: str
    """The registered model name (``tiny:q4_k_m``)."""


def resolve_levels(name: str | None, levels: str, baseline: str) -> tuple[list[Level], Level]:
    """``q8_0`` → ``NAME:q8_0``; an entry with a colon (or any entry without NAME) is a full
    model name. The baseline comes first, added when ``--levels`` lacks it."""

    def one(entry: str) -> Level:
        entry = entry.strip()
        model = entry if (":" in entry or not name) else f"{name}:{entry}"
        return Level(entry, model)

    out = [one(e) for e in levels.split(",") if e.strip()]
    if not out:
        raise UsageError("--levels is empty; give e.g. --levels f16,q8_0,q4_k_m")
    base = one(baseline)
    if len({lv.label for lv in out}) != len(out):
        raise UsageError(f"--levels names a level twice: {levels}")
    out = [base] + [lv for lv in out if lv.model != base.model]
    return out, base


# ---------------------------------------------------------------------------------- the plan
@dataclass
class RegressPlan:
    levels: list[Level]
    baseline: Level
    suite: str
    out: Path
    backend: str = "auto"
    mode: str = "finetuned"
    max_steps: int | None = None
    limit: int | None = None
    seed: int = 0
    num_predict: int = 64
    timeout_s: float = 120.0
    workers: int = 1
    gold_games: int = 6
    """Expert trajectories (the first games of the suite) for agreement and divergence."""
    replay_turns: int | None = None
    """Cap on the turns replayed per trajectory (teacher forcing)."""
    episodes: bool = True
    agreement: bool = True
    divergence: bool = True
    threads: int | None = None
    hosts: list[Any] = field(default_factory=list)
    """A pool (:class:`harness.bench.pool.HostSpec`) for the episodes phase; with ``backend`` openai the
    agreement phase runs on the first host. Divergence needs the level's GGUF here."""
    openai_mode: str = "chat"
    retries: int = 3
    notes: list[str] = field(default_factory=list)
    """What was left out and why (filled in by the run, shown in the report)."""

    def options(self) -> ChatOptions:
        from harness.agent.protocol import REPLY_STOPS

        return ChatOptions(
            temperature=0.0,
            seed=self.seed,
            num_predict=self.num_predict,
            timeout_s=self.timeout_s,
            stop=list(REPLY_STOPS),
        )


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _cached(path: Path, key: str) -> dict | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return None
    return data if data.get("key") == key and data.get("version") == REGRESS_VERSION else None


def _save(path: Path, key: str, data: dict) -> dict:
    data = {"version": REGRESS_VERSION, "key": key, **data}
    atomic_write_text(path, json.dumps(data, indent=2))
    return data


def level_info(model: str) -> dict[str, Any]:
    """Size, quantization, bits per weight and sha256 of a level's GGUF in the local store
    (``where: local``); ``where: remote`` for a model only Ollama (or a policy) serves."""
    from harness.serving.store import get_local

    m = get_local(model)
    if m is None:
        return {"where": "remote"}  # Ollama (or a policy): no file to read
    info: dict[str, Any] = {"where": "local", "gguf": m.gguf, "sha256": m.sha256, "size": m.size}
    info["quantization"] = m.quantization
    from harness.serving.quant import LEVELS, fallback_note, tensor_types

    types = tensor_types(m.gguf)
    info["bpw"] = types.bpw
    level = (m.quantization or "").lower()
    fallback = types.fallback(level)
    # k-quants need rows that divide by 256: how many matrices llama.cpp stored in another type
    info["fallback"] = (
        {
            "matrices": len(fallback),
            "of": len(types.matrices),
            "types": sorted({t for _, t, _ in fallback}),
            "note": fallback_note(level, fallback, len(types.matrices)),
        }
        if level in LEVELS
        else None
    )
    return info


# ---------------------------------------------------------------------------------- the run
class _Bar:
    """A rich progress task for one phase (nothing when no Progress is given)."""

    def __init__(self, progress: Any, description: str, total: int, completed: int = 0) -> None:
        self.progress, self.total = progress, total
        self.task = progress.add_task(description, total=total, completed=completed) if progress else None

    def advance(self, *_: Any) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)

    def done(self) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=self.total)


class _Backends:
    """Opens each level's backend once, shared by the episode and agreement phases."""

    def __init__(self, plan: RegressPlan) -> None:
        self.plan = plan
        self._open: dict[str, Any] = {}
        self._kinds: dict[str, str] = {}

    def kind(self, level: Level) -> str:
        """``llamacpp``, ``ollama`` or a policy name (resolved once per level)."""
        from harness.backends.resolve import resolve_backend_name

        if level.model not in self._kinds:
            self._kinds[level.model] = resolve_backend_name(level.model, self.plan.backend)
        return self._kinds[level.model]

    def new(self, level: Level) -> Any:
        from harness.backends.resolve import open_model

        kind = self.kind(level)
        if kind == "openai" and self.plan.hosts:
            from harness.bench.pool import open_openai

            return open_openai(level.model, self.plan.hosts[0].url, self.plan.openai_mode)
        opts = {"n_threads": self.plan.threads} if self.plan.threads and kind == "llamacpp" else {}
        return open_model(level.model, kind, **opts)

    def get(self, level: Level) -> Any:
        if level.model not in self._open:
            self._open[level.model] = self.new(level)
        return self._open[level.model]

    def close(self, level: Level) -> None:
        be = self._open.pop(level.model, None)
        if be is not None and hasattr(be, "close"):
            be.close()


def run_regress(plan: RegressPlan, progress: Any = None) -> dict:
    """Every phase for every level, resuming what ``plan.out`` holds. Returns the raw results
    (per level: GGUF info, episode scores, paired stats, agreement, divergence); gates and
    reports are :func:`harness.regress.report.finish`'s job."""
    from harness.agent.fewshot import examples_for
    from harness.analysis.agreement import expert_trajectories
    from harness.bench.suites import draw, load_suite

    suite = load_suite(plan.suite)
    # the games the episodes play (run_suite draws them the same way): --limit K is round-robin
    # over task types, so the gold trajectories and the baseline's pairs cover every type
    entries = draw(suite.games(), plan.limit)
    if not entries:
        raise RegressError(f"suite {suite.name} has no games")
    plan.out.mkdir(parents=True, exist_ok=True)
    shots = (lambda t: list(examples_for(t, suite.text_format))) if plan.mode == "fewshot" else None
    gold = expert_trajectories(suite, entries[: plan.gold_games], examples_for=shots)
    backends = _Backends(plan)
    levels: dict[str, dict[str, Any]] = {}
    base_traces: list[EpisodeTrace] = []
    base_trajs: list[Any] = []
    for lv in plan.levels:  # the baseline first
        row: dict[str, Any] = {"label": lv.label, "model": lv.model, **level_info(lv.model)}
        try:
            if plan.episodes:
                traces = _episodes(plan, suite, lv, backends, progress, shots, len(entries))
                if lv == plan.baseline:
                    base_traces = traces
                    base_trajs = _baseline_trajectories(suite, entries, traces, shots)
                row["episodes"] = _score(traces)
                row["paired"] = paired_comparison(base_traces, traces, plan.seed)
            if plan.agreement:
                row["agreement"] = _agreement(plan, lv, backends, row, gold, base_trajs, progress)
        finally:
            backends.close(lv)
        levels[lv.label] = row
    if plan.divergence:
        _divergence(plan, gold, levels, progress)
    return {
        "suite": {
            "name": suite.name,
            "games": len(entries),
            "text_format": suite.text_format,
            "drawn": [e.id for e in entries],
        },
        "gold": [t.id for t in gold],
        "levels": levels,
    }


def _score(traces: list[EpisodeTrace]) -> dict:
    from harness.bench.scoring import score

    s = score(traces)
    by_type = {k: m.to_dict() for k, m in s["by_task_type"].items()}
    return {"overall": s["overall"].to_dict(), "by_task_type": by_type}


def _episodes(
    plan: RegressPlan, suite: Any, lv: Level, backends: _Backends, progress: Any, shots: Any, total: int
):
    from harness.bench.runner import RunConfig, run_suite
    from harness.bench.traces import read_traces

    kind = backends.kind(lv)
    cfg = RunConfig(
        suite=suite.name, model=lv.model, backend=kind, mode=plan.mode,
        max_steps=plan.max_steps or suite.max_steps, seed=plan.seed, limit=plan.limit, options=plan.options(),
        retries=plan.retries,
    )  # fmt: skip
    out = plan.out / "episodes" / slug(lv.label)
    done = len(read_traces(out / "traces.jsonl"))
    bar = _Bar(progress, f"episodes   {lv.label}", total, min(done, total))
    workers = 1 if kind == "llamacpp" else plan.workers
    first = [backends.get(lv)] if done < total and not plan.hosts else []

    def make() -> Any:  # the shared backend for the first worker, fresh ones for the others
        return first.pop() if first else backends.new(lv)

    pool = None
    if plan.hosts:
        from harness.bench.pool import make_pool

        cfg.backend, pool = make_pool(lv.model, plan.backend, plan.hosts, plan.workers, plan.openai_mode)
    traces = run_suite(
        suite, make, cfg, out, workers=workers, examples_for=shots, on_episode=bar.advance, pool=pool
    )
    bar.done()
    return traces


def _baseline_trajectories(suite: Any, entries: list, traces: list[EpisodeTrace], shots: Any) -> list:
    from harness.analysis.agreement import from_trace

    by_id = {e.id: e for e in entries}
    out = []
    for t in traces:
        if t.game_id in by_id and t.steps:
            game = suite.game(by_id[t.game_id])
            intro = game.reset()
            out.append(from_trace(t, intro, examples=shots(t.task_type) if shots else None, game=game))
    return out


def _agreement(
    plan: RegressPlan, lv: Level, backends: _Backends, row: dict, gold: list, base: list, progress: Any
):
    from harness.analysis.agreement import summarize, teacher_forced

    sets = {"expert": gold, "baseline": base}
    ident = {k: [(t.id, t.turns, t.examples) for t in v] for k, v in sets.items()}
    digest = row.get("sha256") or backends.get(lv).digest()
    opts = {k: v for k, v in asdict(plan.options()).items() if k != "timeout_s"}
    key = _key(lv.model, digest, opts, ident, plan.replay_turns)
    path = plan.out / "agreement" / f"{slug(lv.label)}.json"
    if (hit := _cached(path, key)) is not None:
        return hit["summary"]
    cap = plan.replay_turns
    bar = _Bar(progress, f"agreement  {lv.label}", sum(len(t.turns[:cap]) for v in sets.values() for t in v))
    summary, steps = {}, {}
    for which, trajs in sets.items():
        got = teacher_forced(trajs, backends.get(lv), plan.options(), on_step=bar.advance, max_turns=cap)
        summary[which] = summarize(got).to_dict()
        steps[which] = [s.to_dict() for s in got]
    bar.done()
    _save(path, key, {"level": lv.label, "model": lv.model, "summary": summary, "steps": steps})
    return summary


def _divergence(plan: RegressPlan, gold: list, levels: dict[str, dict], progress: Any) -> None:
    """Adds ``divergence`` (or a note) to every non-baseline level that has a local GGUF."""
    from harness.analysis.llamacpp_logits import BaselineLogits, GGUFModel, TokenizerMismatch
    from harness.serving.store import get_local

    def model(label: str) -> GGUFModel | None:
        m = get_local(levels[label]["model"])
        return GGUFModel(m.name, m.path, m.parsed_modelfile().prompt) if m else None

    no_logits = "has no GGUF in the local store (Ollama's API exposes no logits)"
    base = model(plan.baseline.label)
    if base is None:
        plan.notes.append(f"divergence skipped: the baseline {plan.baseline.model} {no_logits}")
        return
    convs = [t.messages() for t in gold]
    folder = plan.out / "divergence"
    todo = [lv for lv in plan.levels if lv != plan.baseline]
    bar = _Bar(progress, "divergence", len(todo) + 1)
    ref = BaselineLogits(base, convs, folder, n_threads=plan.threads)
    bar.advance()
    for lv in todo:
        cand = model(lv.label)
        if cand is None:
            plan.notes.append(f"{lv.label}: divergence skipped, {lv.model} {no_logits}")
            bar.advance()
            continue
        path = folder / f"{slug(lv.label)}.json"
        key = _key(ref.key, levels[lv.label].get("sha256"))
        hit = _cached(path, key)
        if hit is None:
            try:
                hit = _save(path, key, {"stats": ref.compare(cand, convs, n_threads=plan.threads).to_dict()})
            except TokenizerMismatch as e:  # the worst breakage: a failure, never a skip
                hit = _save(path, key, {"tokenizer_mismatch": str(e)})
            except ValueError as e:
                hit = _save(path, key, {"skipped": str(e)})
        if "tokenizer_mismatch" in hit:
            levels[lv.label]["tokenizer_mismatch"] = hit["tokenizer_mismatch"]
            plan.notes.append(f"{lv.label}: {hit['tokenizer_mismatch']}")
        elif "skipped" in hit:
            plan.notes.append(f"{lv.label}: divergence skipped, {hit['skipped']}")
        else:
            levels[lv.label]["divergence"] = hit["stats"]
        bar.advance()


__all__ = [
    "DEFAULT_LEVELS",
    "REGRESS_VERSION",
    "Level",
    "RegressError",
    "RegressPlan",
    "bootstrap_delta_ci",
    "level_info",
    "mcnemar_exact",
    "paired_comparison",
    "resolve_levels",
    "run_regress",
]
