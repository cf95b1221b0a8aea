"""Record the REAL ALFWorld environment (alfworld 0.4.2 + textworld 1.7.0) as an oracle for
harness.world. Not a dependency of the project: run it in a separate venv.

    python3 -m venv /tmp/oracle && /tmp/oracle/bin/pip install alfworld==0.4.2 textworld==1.7.0
    /tmp/oracle/bin/python tools/alfworld_oracle.py probe GAME          # names, admissible commands
    /tmp/oracle/bin/python tools/alfworld_oracle.py script GAME < cmds   # play commands, print replies
    /tmp/oracle/bin/python tools/alfworld_oracle.py random LIST SEED N > walks.json
        # LIST: a file of game paths; one random walk of N steps per game (a command group is
        # drawn uniformly, then a command; 25 % are built to be invalid), recording each
        # observation, won flag and admissible list
    /tmp/oracle/bin/python tools/alfworld_oracle.py random04 LIST SEED N > walks.json
        # the same on copies of the games carrying ALFWorld 0.4.2's own grammar and domain

tests/data/oracle_walks_*.jsonl.gz were made from such walks (see tests/test_env_oracle.py).
"""

import json
import random
import sys
from pathlib import Path

import textworld
from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos


def start(game):
    infos = textworld.EnvInfos(won=True, admissible_commands=True, facts=True, extras=["gamefile"])
    env = textworld.start(game, request_infos=infos, wrappers=[AlfredDemangler(), AlfredInfos])
    return env


def random_walk(game, seed, n, p_invalid=0.25):
    rng = random.Random(seed)
    env = start(game)
    st = env.reset()
    rec = {
        "game": game,
        "seed": seed,
        "intro": st.feedback,
        "admissible0": st["admissible_commands"],
        "steps": [],
    }
    names = sorted({c.split(" ", 1)[1] for c in st["admissible_commands"] if c.startswith("go to ")})
    verbs = [
        "go to {r}",
        "open {r}",
        "close {r}",
        "take {o} from {r}",
        "put {o} in/on {r}",
        "examine {o}",
        "examine {r}",
        "use {o}",
        "heat {o} with {r}",
        "cool {o} with {r}",
        "clean {o} with {r}",
        "look",
        "inventory",
        "slice {o} with {o}",
        "put {o} in {r}",
        "move {o} to {r}",
        "take {o}",
        "go to {o}",
    ]
    seen_objs = set()
    for _ in range(n):
        adm = st["admissible_commands"]
        for c in adm:
            w = c.split()
            if w[0] in ("take", "examine", "use"):
                seen_objs.add(" ".join(w[1:3]))
        if rng.random() < p_invalid:
            t = rng.choice(verbs)
            o = rng.choice(sorted(seen_objs)) if seen_objs else "apple 1"
            cmd = t.format(o=o, r=rng.choice(names))
        else:
            groups = {}
            for c in adm:
                groups.setdefault(c.split()[0], []).append(c)
            cmd = rng.choice(groups[rng.choice(sorted(groups))])
        st, _score, done = env.step(cmd)
        rec["steps"].append(
            {
                "cmd": cmd,
                "obs": st.feedback,
                "won": bool(st["won"]),
                "done": bool(done),
                "admissible": st["admissible_commands"],
            }
        )
        if done:
            break
    return rec


def convert04(game, outdir="/work/oracle/g04"):
    import hashlib
    import os
    import re as _re

    import alfworld

    base = os.path.dirname(alfworld.__file__) + "/data/"
    d = json.loads(Path(game).read_text())
    m = _re.search(r'"task"\s*:\s*\[\s*\{\s*"rhs"\s*:\s*"((?:[^"\\]|\\.)*)"', d["grammar"])
    task = m.group(1)
    g = Path(base + "alfred.twl2").read_text().replace("Your task is to: UNKNOWN GOAL.", task)
    d["grammar"] = g
    d["pddl_domain"] = Path(base + "alfred.pddl").read_text()
    os.makedirs(outdir, exist_ok=True)
    out = os.path.join(outdir, hashlib.sha1(game.encode()).hexdigest()[:12] + ".tw-pddl")
    Path(out).write_text(json.dumps(d))
    return out


if __name__ == "__main__":
    argv = list(sys.argv)
    mode = argv[1]
    if mode == "probe":
        env = start(argv[2])
        st = env.reset()
        print(st.feedback)
        for k, v in sorted(env._entity_infos.items()):
            print(k, "->", repr(v.name), v.type)
        print(st["admissible_commands"])
    elif mode == "random":
        out = [
            random_walk(g.strip(), int(argv[3]) + j, int(argv[4]))
            for j, g in enumerate(Path(argv[2]).read_text().splitlines())
        ]
        json.dump(out, sys.stdout)
    elif mode == "random04":
        out = [
            random_walk(convert04(g.strip()), int(argv[3]) + j, int(argv[4]))
            for j, g in enumerate(Path(argv[2]).read_text().splitlines())
        ]
        json.dump(out, sys.stdout)
    elif mode == "script":
        env = start(argv[2])
        st = env.reset()
        print(st.feedback)
        print(st["admissible_commands"])
        for line in sys.stdin:
            st, s, d = env.step(line.strip())
            print(">", line.strip())
            print(repr(st.feedback), st["won"], d)
            print(st["admissible_commands"])
