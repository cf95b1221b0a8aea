"""Random play recorded in the REAL ALFWorld environment (tools/alfworld_oracle.py: alfworld
0.4.2 + textworld 1.7.0; one walk per game mixing admissible and deliberately invalid
commands) replays identically here: every observation, every won flag, and every admissible
command list (compared by hash).

* valid_seen: 140 walks of 80 steps, 2.1.1 text (the game files as shipped);
* train: 200 walks of 80 steps over every 6th train game, 2.1.1 text;
* valid_seen, 0.4 text: 140 walks of 60 steps recorded on copies of the games carrying
  alfworld 0.4.2's own grammar and domain (``tools/alfworld_oracle.py random04``), replayed
  here on the shipped files with ``text_format="0.4"``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from harness.world import load_game

DATA = Path(__file__).parent / "data"
FIXTURES = [
    ("oracle_walks_valid_seen.jsonl.gz", 140, 11_000),
    ("oracle_walks_train.jsonl.gz", 200, 15_000),
    ("oracle_walks_valid_seen_04.jsonl.gz", 140, 8_000),
]


def _sha(lines: list[str], n: int | None = None) -> str:
    return hashlib.sha1("\n".join(lines).encode()).hexdigest()[:n]


@pytest.mark.parametrize(("fixture", "n_walks", "min_steps"), FIXTURES)
def test_random_walks_match_the_real_environment(
    alfworld_root: Path, fixture: str, n_walks: int, min_steps: int
) -> None:
    with gzip.open(DATA / fixture, "rt") as fh:
        walks = [json.loads(line) for line in fh]
    assert len(walks) == n_walks
    failures = []
    n = 0
    for w in walks:
        game = load_game(alfworld_root / w["game"], text_format=w["text_format"])
        if _sha([game.reset()]) != w["intro_sha1"]:
            failures.append(f"{w['game']}: intro")
            continue
        if _sha(game.admissible_commands()) != w["admissible0_sha1"]:
            failures.append(f"{w['game']}: admissible commands at start")
            continue
        for i, (cmd, obs, won, adm) in enumerate(w["steps"]):
            r = game.step(cmd)
            n += 1
            if (r.observation, r.won) != (obs, won) or _sha(game.admissible_commands(), 16) != adm:
                failures.append(
                    f"{w['game']} step {i} {cmd!r}: got {r.observation!r} won={r.won}, want {obs!r} won={won}"
                )
                break
    assert n > min_steps
    assert not failures, "\n".join(failures[:10])
