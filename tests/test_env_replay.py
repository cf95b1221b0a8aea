"""Every recorded expert trajectory of the shared ALFWorld games replays exactly."""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.world import load_game

ARRIVE = re.compile(r"^You arrive at loc \d+\. ")


def test_all_recorded_trajectories_replay_exactly(train_games: list[Path]) -> None:
    trajs = [p.with_name("gt_traj.json") for p in train_games]
    trajs = [t for t in trajs if t.exists()]
    assert len(trajs) >= 1200
    failures = []
    for t in trajs:
        turns = json.loads(t.read_text())
        game = load_game(t.with_name("game.tw-pddl"))
        if game.reset() != turns[0]["value"]:
            failures.append(f"{t}: intro differs")
            continue
        won = False
        for i in range(1, len(turns) - 1, 2):
            r = game.step(turns[i]["value"])
            got = ARRIVE.sub("", r.observation)
            if got != turns[i + 1]["value"]:
                failures.append(
                    f"{t} step {i // 2}: {turns[i]['value']!r}: {got!r} != {turns[i + 1]['value']!r}"
                )
                break
            won = r.won
        else:
            if not won:
                failures.append(f"{t}: recording ends without the win")
    assert not failures, "\n".join(failures[:10])
