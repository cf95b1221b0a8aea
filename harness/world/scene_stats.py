"""Scene statistics of the real ALFWorld games: the tables the synthetic generator draws its
scenes from (``OPENABLE_RATE``, ``RECEPTACLE_POOL``, ``OBJECT_POOL``, ``GOALS``, ``TARGET_COUNTS``
in ``harness.world.vocab``), counted over ``$ALFWORLD_DATA``'s train and valid_seen games.

The tables are data, ``scene_stats.json`` beside this module (``vocab`` reads it);
``python -m harness.world.scene_stats $ALFWORLD_DATA`` recounts them and rewrites the file.

How they are counted (a game is ``json_2.1.1/<split>/<task>-<Obj>-<Mrecep>-<Recep>-<scene>/<trial>``;
the scene number gives the room kind, ``vocab.ROOM_SCENES``):

- Receptacles are the scene's: ``RECEPTACLE_POOL`` and ``OPENABLE_RATE`` count each receptacle
  of a scene once, however many games the scene has.
- Objects are the game's: ``OBJECT_POOL`` counts per game. An object that several receptacles
  hold (a pan over two burners, a mug in the coffee machine on the counter) counts once, in the
  last receptacle the game lists. For pickupable types only receptacles that ``canContain`` the
  type count (real games put a few where the agent could never put them back); other types (desk
  lamps, plants, televisions) count the furniture they stand on.
- A type fewer than half of whose objects lie in a receptacle is floor scenery (``where`` is
  None). Left out: a pickupable type that mostly lies in receptacles none of which can contain it
  (teddy bears, paper towel rolls: a scene could place it only against its own ``canContain``
  facts), and a type seen in fewer than ``MIN_GAMES`` games of a room kind (a bathroom's plant).
- ``GOALS`` and ``TARGET_COUNTS`` count every game's goal and how many objects of its target type
  the game has.

Key order is part of the tables (the generator's draws walk them in order): room kinds as
``vocab.ROOM_KINDS``, types and task types sorted, histograms by instance count.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.world import vocab as V
from harness.world.vocab import SCENE_STATS_FILE

SPLITS = ("train", "valid_seen")
FLOOR_SHARE = 0.5
"""A type with a smaller share of its objects in receptacles is floor scenery (the real games
split cleanly: any value from 0.31 to 0.715 gives the tables)."""
MIN_GAMES = 3
"""Object types seen in fewer games of a room kind are left out (any of 3–5 gives the tables)."""
WIDTH = 110
"""The JSON file's line width (the project's): a value that fits stays on one line."""


@dataclass
class SceneGame:
    """What the tables need of one real game (types without the ``type`` suffix)."""

    scene: int
    room: str
    task_type: str
    goal: tuple[str, str]
    """(target object type, destination receptacle type or, for look_at_obj_in_light, the lamp)."""
    receptacles: dict[str, str]
    openable: set[str]
    objects: dict[str, str]
    in_receptacle: dict[str, str] = field(default_factory=dict)
    """Object id → the receptacle the game lists last for it."""


def room_of(scene: int) -> str:
    return next(room for room, scenes in V.ROOM_SCENES.items() if scene in scenes)


def read_games(data_dir: str | Path | None = None) -> Iterator[SceneGame]:
    """The train and valid_seen games of ``data_dir`` (default ``$ALFWORLD_DATA``)."""
    from harness.world.loader import discover_games, load_world

    for split in SPLITS:
        for path in discover_games(split, data_dir):
            w = load_world(path)
            scene = int(path.parent.parent.name.rsplit("-", 1)[1])
            spec = w.spec
            recep = spec.toggle_type or spec.receptacle_type
            objects = {o: t.removesuffix("type") for o, t in w.otype.items()}
            receptacles = {r: t.removesuffix("type") for r, t in w.rtype.items()}
            inside = {f[1]: f[2] for f in w.init_dynamic if f[0] == "inreceptacle"}
            yield SceneGame(
                scene=scene,
                room=room_of(scene),
                task_type=spec.task_type,
                goal=(str(spec.object_type).removesuffix("type"), str(recep).removesuffix("type")),
                receptacles=receptacles,
                openable={r for r in receptacles if w.has("openable", r)},
                objects=objects,
                in_receptacle={o: r for o, r in inside.items() if o in objects and r in receptacles},
            )


def _hist(values: Iterable[int]) -> dict[int, int]:
    return dict(sorted(Counter(values).items()))


def _share(part: int, whole: int) -> float:
    return round(part / whole, 2)


def openable_rate(games: list[SceneGame]) -> dict[str, float]:
    """Receptacle type → share of its receptacles (each scene's once) that are openable."""
    seen: dict[tuple[int, str], tuple[str, bool]] = {}
    for g in games:
        for r, t in g.receptacles.items():
            seen[(g.scene, r)] = (t, r in g.openable)
    total = Counter(t for t, _ in seen.values())
    opened = Counter(t for t, o in seen.values() if o)
    return {t: _share(opened[t], total[t]) for t in sorted(opened)}


def receptacle_pool(games: list[SceneGame]) -> dict[str, dict[str, tuple[float, dict[int, int]]]]:
    """Room kind → receptacle type → (share of scenes with it, {instances: scenes})."""
    scenes: dict[int, dict[str, str]] = defaultdict(dict)
    for g in games:
        scenes[g.scene].update(g.receptacles)
    out: dict[str, dict[str, tuple[float, dict[int, int]]]] = {}
    for room in V.ROOM_KINDS:
        counts = [Counter(recs.values()) for s, recs in sorted(scenes.items()) if room_of(s) == room]
        if counts:
            types = sorted({t for c in counts for t in c})
            out[room] = {
                t: (_share(sum(t in c for c in counts), len(counts)), _hist(c[t] for c in counts if t in c))
                for t in types
            }
    return out


ObjectEntry = tuple[float, dict[int, int], dict[str, int] | None]


def object_pool(games: list[SceneGame]) -> dict[str, dict[str, ObjectEntry]]:
    """Room kind → object type → (share of games with it, {instances: games}, where): where is
    {receptacle type: objects found there}, or None for floor scenery (see the module's doc)."""
    out: dict[str, dict[str, ObjectEntry]] = {}
    for room in V.ROOM_KINDS:
        here = [g for g in games if g.room == room]
        if not here:
            continue
        per_game = [Counter(g.objects.values()) for g in here]
        objects = Counter(t for g in here for t in g.objects.values())
        lying = Counter(g.objects[o] for g in here for o in g.in_receptacle)
        found: dict[str, Counter[str]] = defaultdict(Counter)
        for g in here:
            for o, r in g.in_receptacle.items():
                t, rt = g.objects[o], g.receptacles[r]
                if t not in V.PICKUPABLE or t in V.CAN_CONTAIN[rt]:
                    found[t][rt] += 1
        pool: dict[str, ObjectEntry] = {}
        for t in sorted(objects):
            with_it = [c[t] for c in per_game if t in c]
            where = dict(sorted(found[t].items())) if lying[t] >= FLOOR_SHARE * objects[t] else None
            if len(with_it) < MIN_GAMES or where == {}:
                continue
            pool[t] = (_share(len(with_it), len(here)), _hist(with_it), where)
        out[room] = pool
    return out


def goals(games: list[SceneGame]) -> dict[str, tuple[tuple[str, str, str, int], ...]]:
    """Task type → every (room kind, object type, receptacle or lamp type, games) of the games."""
    by_task: dict[str, list[tuple[str, str, str, int]]] = defaultdict(list)
    for (task, room, obj, recep), n in Counter((g.task_type, g.room, *g.goal) for g in games).items():
        by_task[task].append((room, obj, recep, n))
    rank = {room: i for i, room in enumerate(V.ROOM_KINDS)}
    return {
        task: tuple(sorted(rows, key=lambda row: (rank[row[0]], row[1], row[2])))
        for task, rows in sorted(by_task.items())
    }


def target_counts(games: list[SceneGame]) -> dict[str, dict[int, int]]:
    """Task type → {objects of the target type in the game: games}."""
    per_task: dict[str, list[int]] = defaultdict(list)
    for g in games:
        per_task[g.task_type].append(sum(t == g.goal[0] for t in g.objects.values()))
    return {task: _hist(n) for task, n in sorted(per_task.items())}


def count_scene_stats(data_dir: str | Path | None = None) -> dict[str, Any]:
    """The five tables, recounted from ``data_dir``, as ``vocab`` exposes them."""
    games = list(read_games(data_dir))
    return {
        "GOALS": goals(games),
        "OBJECT_POOL": object_pool(games),
        "OPENABLE_RATE": openable_rate(games),
        "RECEPTACLE_POOL": receptacle_pool(games),
        "TARGET_COUNTS": target_counts(games),
    }


def _dump(value: Any, indent: int, room: int) -> str:
    """``value`` as JSON on one line when it fits in ``room`` characters, else one item a line."""
    flat = json.dumps(value)
    if len(flat) <= room or not isinstance(value, dict | list | tuple) or not value:
        return flat
    pad = " " * (indent + 1)
    if isinstance(value, dict):
        pairs, brackets = [(f"{pad}{json.dumps(str(k))}: ", v) for k, v in value.items()], "{}"
    else:
        pairs, brackets = [(pad, v) for v in value], "[]"
    items = [head + _dump(v, indent + 1, WIDTH - len(head) - 1) for head, v in pairs]
    return brackets[0] + "\n" + ",\n".join(items) + "\n" + " " * indent + brackets[1]


def encode(stats: dict[str, Any]) -> str:
    """The JSON file's text (tuples become lists, int keys strings; ``vocab`` converts back)."""
    return _dump(stats, 0, WIDTH) + "\n"


def write_scene_stats(data_dir: str | Path | None = None, out: Path = SCENE_STATS_FILE) -> dict[str, Any]:
    """Recount the tables and write them (atomically) where ``vocab`` reads them."""
    from harness._util.atomic import atomic_write_text

    stats = count_scene_stats(data_dir)
    atomic_write_text(out, encode(stats))
    return stats


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    written = write_scene_stats(sys.argv[1] if len(sys.argv) > 1 else None)
    print(f"wrote {SCENE_STATS_FILE}: {', '.join(written)}")
