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
from harness.bench.suites import Suite, SuiteGame
from harness.bench.traces import EpisodeTrace, StepTrace, TraceWriter, read_traces
from harness.errors import HarnessError
from harness.world.progress import SubgoalTracker

MAX_EMPTY_REPLIES = 3


class RunMismatch(HarnessError):
    """The output folder holds a different run."""


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

    def identity(self) -> dict:
        """What must match for a rerun to resume this run."""
        d = asdict(self)
        d["options"] = self.options.record()
        d.pop("retries")
        d.pop("backoff_s")
        d.pop("limit")
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
        for i in range(cfg.max_steps):
            messages = build_messages(intro, history, system=cfg.system, examples=examples)
            try:
                res, retries, latency = _chat_with_retries(backend, messages, cfg)
            except TransientBackendError as e:
                trace.ended, trace.error = "error", f"step {i}: {e}"
                break
            backend_s += latency
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
) -> list[EpisodeTrace]:
    """Play every unfinished game of the suite into ``out_dir``; returns all traces of the run
    (earlier and new) in suite order. Exceptions in ``fatal`` stop the run (finished episodes
    stay on disk); other backend errors are recorded per episode."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run_file = out / "run.json"
    identity = cfg.identity()
    if run_file.exists():
        old = json.loads(run_file.read_text())
        if old != identity:
            diff = sorted(k for k in set(old) | set(identity) if old.get(k) != identity.get(k))
            raise RunMismatch(
                f"{out} holds a different run (differs in {', '.join(diff)}); use another --out or remove it"
            )
    else:
        from harness._util.atomic import atomic_write_text

        atomic_write_text(run_file, json.dumps(identity, indent=2))
    entries = suite.games()
    if cfg.limit:
        entries = entries[: cfg.limit]
    traces_path = out / "traces.jsonl"
    writer = TraceWriter(traces_path)
    done = {t.game_id: t for t in read_traces(traces_path)}
    todo = [e for e in entries if e.id not in done]
    lock = threading.Lock()
    local = threading.local()

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

    if workers <= 1:
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
