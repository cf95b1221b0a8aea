"""Random play recorded in the REAL ALFWorld environment (tools/alfworld_oracle.py: alfworld
0.4.2 + textworld 1.7.0, one 80-step walk per valid_seen game mixing admissible and invalid
commands) replays identically here: every observation, every won flag, and every admissible
command list (compared by hash)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from harness.env import load_game

DATA = Path(__file__).parent / "data"


def _sha(lines: list[str], n: int | None = None) -> str:
    return hashlib.sha1("\n".join(lines).encode()).hexdigest()[:n]


def test_random_walks_match_the_real_environment(alfworld_root: Path) -> None:
    with gzip.open(DATA / "oracle_walks_valid_seen.jsonl.gz", "rt") as fh:
        walks = [json.loads(line) for line in fh]
    assert len(walks) == 140
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
    assert n > 10_000
    assert not failures, "\n".join(failures[:10])
