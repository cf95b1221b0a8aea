"""Paired success statistics for two runs over the same games: which games only one of them
won, the exact McNemar test on those, and the success delta with a paired bootstrap interval.
``harness regress`` compares each level with its baseline this way; ``harness report`` any runs.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Any

from harness.bench.traces import EpisodeTrace


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b and c discordant pairs (binomial, p = 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def bootstrap_delta_ci(
    pairs: list[tuple[int, int]], reps: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(candidate − base) over resampled episode pairs."""
    if not pairs:
        return (0.0, 0.0)
    rng = random.Random(seed)
    diffs = [c - b for b, c in pairs]
    n = len(diffs)
    stats = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(reps))
    lo = stats[int((1 - level) / 2 * (reps - 1))]
    hi = stats[int((1 + level) / 2 * (reps - 1))]
    return (lo, hi)


def pair_stats(pairs: list[tuple[int, int]], seed: int) -> dict[str, Any]:
    """Counts, delta, its bootstrap interval and the McNemar p of (baseline won, candidate won)
    pairs, one per game."""
    b = sum(1 for x, y in pairs if x and not y)  # baseline won, candidate lost
    c = sum(1 for x, y in pairs if y and not x)
    n = len(pairs)
    return {
        "pairs": n,
        "both_won": sum(1 for x, y in pairs if x and y),
        "baseline_only": b,
        "candidate_only": c,
        "neither": sum(1 for x, y in pairs if not x and not y),
        "delta": (c - b) / n if n else 0.0,
        "delta_ci": list(bootstrap_delta_ci(pairs, seed=seed)),
        "p_value": mcnemar_exact(b, c),
    }


def paired_comparison(base: list[EpisodeTrace], cand: list[EpisodeTrace], seed: int = 0) -> dict:
    """Success pairs over the games both runs played: overall and per task type."""
    by_id = {t.game_id: t for t in cand}
    pairs = [(t, by_id[t.game_id]) for t in base if t.game_id in by_id]
    groups: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for b, c in pairs:
        groups[b.task_type].append((int(b.won), int(c.won)))
    overall = pair_stats([(int(b.won), int(c.won)) for b, c in pairs], seed)
    overall["by_task_type"] = {t: pair_stats(p, seed) for t, p in groups.items()}
    return overall


__all__ = ["bootstrap_delta_ci", "mcnemar_exact", "pair_stats", "paired_comparison"]
