"""Where objects are usually found: expected number of objects of a type per receptacle of
a type, counted over the initial states of ALFWorld's 1200 shared ``train`` games.

The expert searches likely receptacles first by this table (a person's common sense:
apples are in the fridge more often than in a drawer). The table is data, ``priors.json`` beside
this module; ``python -m harness.world.priors $ALFWORLD_DATA`` recounts it and rewrites the file.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

PRIORS_FILE = Path(__file__).with_name("priors.json")
"""The table, as ``count_priors`` wrote it (data, not code)."""

# object type → receptacle type → mean number of such objects per receptacle of that type
PRIORS: dict[str, dict[str, float]] = json.loads(PRIORS_FILE.read_text(encoding="utf-8"))


def prior(object_type: str, receptacle_type: str) -> float:
    """Score for finding an object of ``object_type`` in one receptacle of ``receptacle_type``
    (PDDL type constants, with or without the ``type`` suffix)."""
    o = object_type.removesuffix("type")
    r = receptacle_type.removesuffix("type")
    return PRIORS.get(o, {}).get(r, 0.0)


def count_priors(data_dir: str) -> dict[str, dict[str, float]]:
    """Recount the table from ``$ALFWORLD_DATA``'s train split."""
    from harness.world.loader import discover_games, load_world

    found: Counter[tuple[str, str]] = Counter()
    present: Counter[tuple[str, str]] = Counter()
    for path in discover_games("train", data_dir):
        w = load_world(path)
        per_type = Counter(w.rtype[r] for r in w.receptacles)
        here = set()
        for f in w.init_dynamic:
            if f[0] == "inreceptacle" and f[1] in w.otype and f[2] in w.rtype:
                found[(w.otype[f[1]], w.rtype[f[2]])] += 1
                here.add(w.otype[f[1]])
        for ot in here:
            for rt, n in per_type.items():
                present[(ot, rt)] += n
    out: dict[str, dict[str, float]] = {}
    for (ot, rt), n in present.items():
        if found[(ot, rt)]:
            out.setdefault(ot.removesuffix("type"), {})[rt.removesuffix("type")] = round(
                found[(ot, rt)] / n, 3
            )
    return out


def write_priors(data_dir: str, out: Path = PRIORS_FILE) -> dict[str, dict[str, float]]:
    """Recount the table and write it (atomically) where the package reads it."""
    from harness._util.atomic import atomic_write_text

    table = count_priors(data_dir)
    atomic_write_text(out, json.dumps(table, indent=1, sort_keys=True) + "\n")
    return table


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    print(f"wrote {PRIORS_FILE}: {len(write_priors(sys.argv[1]))} object types")
