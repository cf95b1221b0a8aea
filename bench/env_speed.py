"""Measure the environment's speed on the shared ALFWorld games.

    ALFWORLD_DATA=../shared/alfworld python bench/env_speed.py [--limit N]

Prints: game load time (parse + build, per game), reset time, and step time (replaying each
game's recorded expert commands, plus admissible_commands() after each step), as median and
mean over all games. The real environment takes ~0.9 s to reset and ~50 ms a step here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from harness.world import load_game


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--data", default=os.environ.get("ALFWORLD_DATA", "../shared/alfworld"))
    args = ap.parse_args()
    root = Path(args.data) / "json_2.1.1"
    games = sorted(root.glob("*/*/*/game.tw-pddl"))[: args.limit]
    if not games:
        raise SystemExit(f"no games under {root}: set ALFWORLD_DATA")
    load, reset, step, adm = [], [], [], []
    n_steps = 0
    for p in games:
        traj_file = p.with_name("gt_traj.json")
        cmds = [t["value"] for t in json.loads(traj_file.read_text())[1::2]] if traj_file.exists() else []
        t0 = time.perf_counter()
        g = load_game(p)
        t1 = time.perf_counter()
        g.reset()
        t2 = time.perf_counter()
        load.append(t1 - t0)
        reset.append(t2 - t1)
        for c in cmds:
            t3 = time.perf_counter()
            g.step(c)
            t4 = time.perf_counter()
            g.admissible_commands()
            t5 = time.perf_counter()
            step.append(t4 - t3)
            adm.append(t5 - t4)
            n_steps += 1

    def fmt(xs: list[float], unit: float, name: str) -> str:
        return f"{statistics.median(xs) / unit:8.1f} median {statistics.mean(xs) / unit:8.1f} mean  {name}"

    print(f"{len(games)} games, {n_steps} steps")
    print(fmt(load, 1e-6, "µs  load_game (read + parse + build)"))
    print(fmt(reset, 1e-6, "µs  reset"))
    if step:
        print(fmt(step, 1e-6, "µs  step"))
        print(fmt(adm, 1e-6, "µs  admissible_commands"))


if __name__ == "__main__":
    main()
