"""Episodes: a model plays a suite's games through the ReAct protocol.

Greedy and seeded by default, so two runs give identical traces. Every finished episode is
appended to ``traces.jsonl`` as it ends; rerunning into the same folder skips finished
episodes (resume), whatever killed the previous run.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.agent.protocol import (
    INVALID_REPLY,
    SYSTEM_PROMPT,
    THINK_REPLY,
    Demo,
    build_messages,
    observation_text,
    parse_reply,
)
from harness.backends.base import (
    Backend,
    BackendError,
    BackendUnavailable,
    ChatOptions,
    ChatResult,
    EpisodeContext,
    ModelNotFound,
    TransientBackendError,
)
from harness.bench.pool import HOST_ERRORS, PoolHost, play_pool
from harness.bench.suites import DRAW_RULE, Suite, SuiteGame, draw
from harness.bench.traces import UNREADABLE, EpisodeTrace, StepTrace, TraceWriter, load_traces, set_aside
from harness.errors import HarnessError
from harness.world.progress import SubgoalTracker

MAX_EMPTY_REPLIES = 3


class RunMismatch(HarnessError):
    """The output folder holds a different run."""


class EngineChanged(RunMismatch):
    """The run was started with another engine version."""


NOT_IDENTITY = ("provenance", "machine", "resumes", "drawn")
"""Keys of run.json that record the run without deciding whether a rerun may resume it."""


@dataclass
class RunConfig:
    suite: str
    model: str
    backend: str
    mode: str = "finetuned"
    max_steps: int = 50
    seed: int = 0
    limit: int | None = None
    options: ChatOptions = field(default_factory=ChatOptions)
    system: str | None = SYSTEM_PROMPT
    retries: int = 3
    backoff_s: float = 0.5
    allow_engine_change: bool = False
    """Resume a run although its engine version changed since it started."""

    def identity(self) -> dict:
        """What must match for a rerun to resume this run."""
        d = asdict(self)
        d["options"] = self.options.record()
        for k in ("retries", "backoff_s", "limit", "allow_engine_change"):
            d.pop(k)
        return d


def _chat_with_retries(
    backend: Backend, messages: list[dict[str, str]], cfg: RunConfig
) -> tuple[ChatResult, int, float]:
    retries = 0
    t0 = time.perf_counter()
    while True:
        try:
            res = backend.chat(messages, cfg.options)
            return res, retries, time.perf_counter() - t0
        except TransientBackendError:
            if retries >= cfg.retries:
                raise
            time.sleep(cfg.backoff_s * (2**retries))
            retries += 1


def play_episode(
    entry: SuiteGame,
    suite: Suite,
    backend: Backend,
    cfg: RunConfig,
    examples: list[Demo] | None = None,
    *,
    fatal: tuple[type[BaseException], ...] = (),
) -> EpisodeTrace:
    """Play one game; backend errors end the episode and are recorded in the trace, except
    those in ``fatal`` (an unreachable server, an unknown model), which propagate."""
    from harness.world.expert import ExpertFailed, solve

    t_start = time.perf_counter()
    world = entry.world()
    from harness.world.game import Game

    game = Game(world, text_format=suite.text_format, max_steps=cfg.max_steps)
    intro = game.reset()
    tracker = SubgoalTracker(game)
    tracker.update(intro)
    try:
        expert_steps: int | None = len(solve(world, text_format=suite.text_format))
    except ExpertFailed:
        expert_steps = None
    trace = EpisodeTrace(
        game_id=entry.id,
        task_type=world.task_type,
        task=world.task,
        suite=suite.name,
        model=cfg.model,
        backend=cfg.backend,
        model_digest=backend.digest(),
        mode=cfg.mode,
        options=cfg.options.record(),
        max_steps=cfg.max_steps,
        subgoals=list(tracker.subgoals),
        expert_steps=expert_steps,
    )
    backend_s = 0.0
    history: list[tuple[str, str]] = []
    empty_run = 0
    try:
        backend.begin_episode(EpisodeContext(game=game, game_id=entry.id, text_format=suite.text_format))
        trace.template = getattr(backend, "template", None)
        for i in range(cfg.max_steps):
            messages = build_messages(intro, history, system=cfg.system, examples=examples)
            try:
                res, retries, latency = _chat_with_retries(backend, messages, cfg)
            except TransientBackendError as e:
                if fatal and isinstance(e, fatal):  # a pool plays the game again on another host
                    raise
                trace.ended, trace.error = "error", f"step {i}: {e}"
                break
            backend_s += latency
            if res.done_reason == "timeout":  # the infrastructure's failure, not the model's reply
                trace.steps.append(
                    StepTrace(
                        index=i, assistant=res.text, kind="timeout", observation="", latency_s=latency,
                        prompt_tokens=res.prompt_tokens, prompt_eval_count=res.prompt_eval_count,
                        eval_count=res.eval_count, eval_duration_s=res.eval_duration_s,
                        done_reason=res.done_reason, retries=retries,
                    )
                )  # fmt: skip
                trace.ended = "timeout"
                trace.error = f"step {i}: no complete reply within {cfg.options.timeout_s:g} s (--timeout)"
                break
            parsed = parse_reply(res.text)
            command = None
            admissible = False
            if parsed.kind == "think":
                observation = THINK_REPLY
            elif parsed.kind == "command":
                command = parsed.text
                r = game.step(command)
                observation, admissible = r.observation, r.admissible
            else:
                observation = INVALID_REPLY
            tracker.update(observation)
            trace.steps.append(
                StepTrace(
                    index=i,
                    assistant=res.text,
                    kind=parsed.kind,
                    command=command,
                    parse_error=parsed.error,
                    observation=observation,
                    admissible=admissible,
                    won=game.won,
                    prompt_tokens=res.prompt_tokens,
                    prompt_eval_count=res.prompt_eval_count,
                    eval_count=res.eval_count,
                    latency_s=latency,
                    eval_duration_s=res.eval_duration_s,
                    done_reason=res.done_reason,
                    retries=retries,
                )
            )
            shown = parsed.assistant_text if parsed.kind != "invalid" else (res.text or "").strip()
            history.append((shown, observation_text(observation)))
            if game.won:
                trace.won, trace.ended = True, "won"
                break
            empty_run = empty_run + 1 if not (res.text or "").strip() else 0
            if empty_run >= MAX_EMPTY_REPLIES:
                trace.ended = "model_stopped"
                trace.error = f"{MAX_EMPTY_REPLIES} empty replies in a row"
                break
    except BackendError as e:
        if fatal and isinstance(e, fatal):
            raise
        trace.ended, trace.error = "error", str(e)
    trace.subgoals_reached = list(tracker.reached)
    trace.wall_s = time.perf_counter() - t_start
    trace.harness_s = max(0.0, trace.wall_s - backend_s)
    return trace


def run_suite(
    suite: Suite,
    make_backend: Callable[[], Backend],
    cfg: RunConfig,
    out_dir: str | Path,
    *,
    workers: int = 1,
    examples_for: Callable[[str], list[Demo] | None] | None = None,
    on_episode: Callable[[EpisodeTrace], None] | None = None,
    fatal: tuple[type[BaseException], ...] = (BackendUnavailable, ModelNotFound),
    log: Callable[[str], None] | None = None,
    on_ready: Callable[[], None] | None = None,
    pool: list[PoolHost] | None = None,
) -> list[EpisodeTrace]:
    """Play every unfinished game of the suite into ``out_dir``; returns all traces of the run
    (earlier and new) in suite order. Exceptions in ``fatal`` stop the run (finished episodes
    stay on disk); other backend errors are recorded per episode. The folder is locked while
    the run writes it (a second run into it fails, naming the first); unreadable lines of an
    earlier traces.jsonl are moved aside (``log`` says how many). ``on_ready`` is called once
    these checks pass, before the first episode (the CLI starts its progress bar there).

    With ``pool`` (hosts, :mod:`harness.bench.pool`), ``make_backend`` and ``workers`` are unused:
    the games are spread over the hosts, and a host's failures replay its games on the others."""
    from harness._util.lock import FolderLock

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with FolderLock(out, "bench run"):
        return _run_locked(
            suite, make_backend, cfg, out, workers, examples_for, on_episode, fatal, log, on_ready, pool
        )


def _check_run_file(
    out: Path, cfg: RunConfig, entries: list[SuiteGame], server: dict[str, str] | None = None
) -> None:
    """Write run.json, or check that the one in ``out`` is this run (the engine version too).
    ``server``: engine versions the backend itself read (the Ollama backend's ``/api/version``)."""
    from harness._util.atomic import atomic_write_text
    from harness._util.jsonfile import read_json
    from harness.bench.provenance import engine_version, provenance

    run_file = out / "run.json"
    identity = cfg.identity()
    facts = {**provenance(backend=cfg.backend), **(server or {})}
    facts["engine"] = engine_version(cfg.backend, facts)
    drawn = {"rule": DRAW_RULE, "limit": cfg.limit, "games": [e.id for e in entries]}
    if not run_file.exists():
        from harness.bench.system import facts as system_facts

        record = {**identity, "provenance": facts, "machine": system_facts(), "drawn": drawn}
        atomic_write_text(run_file, json.dumps(record, indent=2))
        return
    old = read_json(
        run_file, "run record", RunMismatch, "use another --out, or remove the folder to start over"
    )
    mine = {k: v for k, v in old.items() if k not in NOT_IDENTITY}
    if mine != identity:
        diff = sorted(k for k in set(mine) | set(identity) if mine.get(k) != identity.get(k))
        raise RunMismatch(
            f"{out} holds a different run (differs in {', '.join(diff)}); use another --out or remove it"
        )
    was = (old.get("provenance") or {}).get("engine")
    if was is not None and was != facts["engine"] and not cfg.allow_engine_change:
        raise EngineChanged(
            f"{out} was started with {was}, this is {facts['engine']}; finish it with the same engine, "
            "rerun with --allow-engine-change to mix them, or use another --out"
        )
    old.setdefault("provenance", facts)
    old["resumes"] = [*old.get("resumes", []), facts]
    old["drawn"] = drawn
    atomic_write_text(run_file, json.dumps(old, indent=2))


def _run_locked(
    suite: Suite,
    make_backend: Callable[[], Backend],
    cfg: RunConfig,
    out: Path,
    workers: int,
    examples_for: Callable[[str], list[Demo] | None] | None,
    on_episode: Callable[[EpisodeTrace], None] | None,
    fatal: tuple[type[BaseException], ...],
    log: Callable[[str], None] | None,
    on_ready: Callable[[], None] | None,
    pool: list[PoolHost] | None = None,
) -> list[EpisodeTrace]:
    entries = draw(suite.games(), cfg.limit)
    local = threading.local()
    server = None
    if cfg.backend == "ollama":  # cheap to open: ask the server the run talks to for its release
        local.backend = make_backend()
        if callable(getattr(local.backend, "server_version", None)):
            server = {"ollama": local.backend.server_version()}
    _check_run_file(out, cfg, entries, server)
    traces_path = out / "traces.jsonl"
    found = load_traces(traces_path)
    if moved := set_aside(traces_path, found):
        (log or (lambda _: None))(
            f"{traces_path}: {moved} unreadable line(s) ({found.summary()}) moved to {out / UNREADABLE}; "
            "games without a readable record are played again"
        )
    writer = TraceWriter(traces_path)
    done = {t.game_id: t for t in found.traces}
    todo = [e for e in entries if e.id not in done]
    if on_ready:
        on_ready()
    lock = threading.Lock()

    def backend() -> Backend:
        if not hasattr(local, "backend"):
            local.backend = make_backend()
        return local.backend

    def job(entry: SuiteGame) -> EpisodeTrace:
        examples = examples_for(entry.task_type) if examples_for else None
        trace = play_episode(entry, suite, backend(), cfg, examples, fatal=fatal)
        with lock:
            writer.append(trace)
            done[trace.game_id] = trace
            if on_episode:
                on_episode(trace)
        return trace

    if pool:

        def record(trace: EpisodeTrace) -> None:  # called under the pool's lock, once per game
            writer.append(trace)
            done[trace.game_id] = trace
            if on_episode:
                on_episode(trace)

        def play(entry: SuiteGame, be: Backend) -> EpisodeTrace:
            examples = examples_for(entry.task_type) if examples_for else None
            return play_episode(entry, suite, be, cfg, examples, fatal=HOST_ERRORS)

        play_pool(todo, pool, play, record, retries=cfg.retries, backoff_s=2 * cfg.backoff_s, warn=log)
    elif workers <= 1:
        for entry in todo:
            job(entry)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(job, e) for e in todo]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for f in finished:
                if f.exception() is not None:
                    for g in futures:
                        g.cancel()
                    raise f.exception()  # type: ignore[misc]
    return [done[e.id] for e in entries if e.id in done]
