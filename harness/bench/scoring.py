"""Metrics over episode traces, per run and per task type.

* success rate with a Wilson 95 % interval;
* progress rate: subgoals reached / subgoals (1 for a win), AgentBoard-style;
* steps; invalid-command rate (commands answered ``Nothing happens.``); parse-failure rate
  (over the replies that arrived: a reply cut off by the timeout is counted in ``timeouts``,
  with ``errors``, as an infrastructure failure, never as the model's parse failure);
  think ratio; loop rate (episodes where one command was issued three times in a row);
* efficiency vs the expert: success × expert steps / max(agent steps, expert steps);
* where lost episodes stopped (``lost_at``): the first subgoal they did not reach, as a stage
  (search, pick up, clean/heat/cool, place, second object, lamp), or error/timeout;
* tokens and latency per step; generation tokens/s from the backend's own timings.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

from harness.bench.traces import EpisodeTrace
from harness.world.world import TASK_TYPES

NOTHING = "Nothing happens."


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes out of n."""
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def has_loop(ep: EpisodeTrace, repeat: int = 3) -> bool:
    """The same command issued ``repeat`` times in a row (thoughts in between don't break it)."""
    run, last = 0, None
    for s in ep.steps:
        if s.kind != "command":
            continue
        run = run + 1 if s.command == last else 1
        last = s.command
        if run >= repeat:
            return True
    return False


def efficiency(ep: EpisodeTrace) -> float:
    if not ep.won or not ep.expert_steps:
        return 0.0
    return ep.expert_steps / max(len(ep.steps), ep.expert_steps)


def lost_at(ep: EpisodeTrace) -> str | None:
    """The stage where a lost episode stopped: its first subgoal not reached (None for a win).

    Subgoals come from the goal (harness.world.progress): ``seen X`` → search, ``picked X`` →
    pick up, ``clean/heat/cool X`` → that verb, ``placed one X`` / ``placed X`` → place,
    ``placed two X`` → second object, ``<lamp> on`` → lamp. All reached but not won → finish.
    """
    if ep.won:
        return None
    if ep.ended in ("error", "timeout"):
        return ep.ended
    missing = [g for g in ep.subgoals if g not in ep.subgoals_reached]
    if not missing:
        return "finish"
    first = missing[0].split()
    if first[0] == "seen":
        return "search"
    if first[0] == "picked":
        return "pick up"
    if first[0] in ("clean", "heat", "cool"):
        return first[0]
    if first[0] == "placed":
        return "second object" if first[1] == "two" else "place"
    return "lamp" if first[-1] == "on" else missing[0]


@dataclass
class Metrics:
    episodes: int
    successes: int
    success_rate: float
    success_ci: tuple[float, float]
    progress_rate: float
    mean_steps: float
    invalid_rate: float
    parse_failure_rate: float
    think_ratio: float
    loop_rate: float
    efficiency: float
    errors: int
    timeouts: int
    """Episodes ended because a reply did not arrive within the timeout."""
    prompt_tokens_per_step: float | None
    prompt_eval_per_step: float | None
    gen_tokens_per_step: float | None
    latency_per_step_s: float | None
    gen_tokens_per_s: float | None
    lost_at: dict[str, int] = field(default_factory=dict)
    """Lost episodes by the stage where they stopped (:func:`lost_at`), most frequent first."""

    def to_dict(self) -> dict:
        return asdict(self)


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def compute(traces: list[EpisodeTrace]) -> Metrics:
    n = len(traces)
    wins = sum(t.won for t in traces)
    steps = [s for t in traces for s in t.steps]
    replies = [s for s in steps if s.kind != "timeout"]
    commands = [s for s in steps if s.kind == "command"]
    evals = [s.eval_count for s in steps if s.eval_count is not None]
    gen_tok_s = None
    timed = [s for s in steps if s.eval_count and s.eval_duration_s]
    if timed:
        gen_tok_s = sum(s.eval_count or 0 for s in timed) / sum(s.eval_duration_s or 0 for s in timed)
    return Metrics(
        episodes=n,
        successes=wins,
        success_rate=wins / n if n else 0.0,
        success_ci=wilson(wins, n),
        progress_rate=sum(t.progress for t in traces) / n if n else 0.0,
        mean_steps=len(steps) / n if n else 0.0,
        invalid_rate=sum(s.observation == NOTHING for s in commands) / len(commands) if commands else 0.0,
        parse_failure_rate=sum(s.kind == "invalid" for s in replies) / len(replies) if replies else 0.0,
        think_ratio=sum(s.kind == "think" for s in replies) / len(replies) if replies else 0.0,
        loop_rate=sum(has_loop(t) for t in traces) / n if n else 0.0,
        efficiency=sum(efficiency(t) for t in traces) / n if n else 0.0,
        errors=sum(t.ended == "error" for t in traces),
        timeouts=sum(t.ended == "timeout" for t in traces),
        prompt_tokens_per_step=_mean([s.prompt_tokens for s in steps if s.prompt_tokens is not None]),
        prompt_eval_per_step=_mean([s.prompt_eval_count for s in steps if s.prompt_eval_count is not None]),
        gen_tokens_per_step=_mean([float(e) for e in evals]),
        latency_per_step_s=_mean([s.latency_s for s in steps]),
        gen_tokens_per_s=gen_tok_s,
        lost_at=dict(Counter(stage for t in traces if (stage := lost_at(t)) is not None).most_common()),
    )


def score(traces: list[EpisodeTrace]) -> dict:
    """``{"overall": Metrics, "by_task_type": {task_type: Metrics}}`` (known task types first)."""
    groups: dict[str, list[EpisodeTrace]] = defaultdict(list)
    for t in traces:
        groups[t.task_type].append(t)
    order = [t for t in TASK_TYPES if t in groups] + sorted(set(groups) - set(TASK_TYPES))
    return {"overall": compute(traces), "by_task_type": {t: compute(groups[t]) for t in order}}
