"""The expert solves every shared ALFWorld game with admissible commands only."""

from __future__ import annotations

from pathlib import Path

from harness.world import load_world
from harness.world.expert import solve


def _check(paths: list[Path]) -> list[int]:
    lengths = []
    for p in paths:
        steps = solve(load_world(p))
        assert steps[-1].won, p
        assert all(s.observation != "Nothing happens." for s in steps), p
        assert sum(s.won for s in steps) == 1, p
        lengths.append(len(steps))
    return lengths


def test_expert_solves_all_valid_seen_within_50_steps(valid_seen_games: list[Path]) -> None:
    lengths = _check(valid_seen_games)
    assert len(lengths) == 140 and max(lengths) <= 50


def test_expert_solves_all_train_games(train_games: list[Path]) -> None:
    lengths = _check(train_games)
    assert len(lengths) == 1200


def test_expert_is_deterministic(valid_seen_games: list[Path]) -> None:
    p = valid_seen_games[7]
    assert solve(load_world(p)) == solve(load_world(p))


def test_expert_thoughts_are_react_style(valid_seen_games: list[Path]) -> None:
    steps = solve(load_world(valid_seen_games[0]))
    assert steps[0].text.startswith("think: To solve the task, I need to")
    assert all(s.observation == "OK." for s in steps if s.is_thought)


def test_expert_solves_5000_synthetic_games() -> None:
    from harness.world.generator import generate_world
    from harness.world.world import TASK_TYPES

    longest = 0
    for i in range(5004):
        w = generate_world(TASK_TYPES[i % 6], i)
        steps = solve(w)
        assert steps[-1].won, w.path
        longest = max(longest, len(steps))
    assert longest <= 50
