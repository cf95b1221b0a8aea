"""Seeded generator of ALFWorld-like scenes for the six task types, solvable by construction.

    from harness.world.generator import generate_world
    world = generate_world("pick_heat_then_place_in_recep", 7)   # a World; world.path names it
    world = generate_world(None, 7)                               # task type drawn from the seed
    world.path                                                    # "synthetic:<task_type>:<seed>"

A scene has the facts real games have, with the same shapes: a room kind (kitchen, livingroom,
bedroom, bathroom) with 8–30 receptacles each at a location (siblings sometimes share one),
objects in receptacles that can hold them (``inreceptacle`` + ``objectatlocation``), floor
scenery, ``cancontain`` per (receptacle type, object type) present, property facts per object
type, closed openable receptacles, and the agent at a location with nothing there. The goal is
one of the real games' (task, object, receptacle) goals, in ALFRED's PDDL goal shape, with one of
ALFRED's task sentences. Tables live in ``harness.world.vocab``.

Solvable by construction: the target objects (two or more for pick_two) lie in receptacles the
agent can open, the destination and the transforming receptacle (microwave, fridge, sinkbasin)
exist, a desk lamp stands on furniture for look_at_obj_in_light (as in every real game: floor
lamps are never in a receptacle, so ``use`` could not reach them), and the goal does not hold at
the start. The same (task type, seed) gives the same world in every process: the only randomness
is one ``random.Random`` seeded from a sha256 of both.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from harness.errors import HarnessError
from harness.world import vocab as V
from harness.world.facts import Fact
from harness.world.pddl import parse_sexpr
from harness.world.world import TASK_TYPES, World

__all__ = [
    "MAX_RECEPTACLES",
    "MIN_RECEPTACLES",
    "TASK_TYPES",
    "GeneratorError",
    "TaskChoice",
    "derive_seed",
    "generate_world",
    "parse_synthetic_id",
    "pick_task_type",
    "synthetic_id",
    "world_from_id",
]

MIN_RECEPTACLES = 8
MAX_RECEPTACLES = 30
ID_PREFIX = "synthetic"
# Chance that the next receptacle of a type stands at its sibling's location; tuned so the share
# of receptacles at a shared location per game matches V.SHARED_LOCATION_RATE.
_SIBLING_SHARE = {"kitchen": 0.2, "livingroom": 0.1, "bedroom": 0.22, "bathroom": 0.4}
_SHARING_TYPES = frozenset({"drawer", "cabinet", "stoveburner", "shelf"})
_SHRINKABLE = frozenset({"cabinet", "drawer", "shelf"})  # the types big kitchens have many of
_NO_DEST_OVERLAP = frozenset({"pick_and_place_simple", "pick_two_obj_and_place"})
_ROOM_HALF = 3.0  # metres from the room centre to a wall
_K = TypeVar("_K")
_DIRS = ((0, 1), (1, 0), (0, -1), (-1, 0))  # facing per rotation 0..3


class GeneratorError(HarnessError, ValueError):
    """An unknown task type or a malformed synthetic game id."""


@dataclass(frozen=True)
class TaskChoice:
    """What a synthetic game asks for."""

    task_type: str
    room: str
    obj: str
    """Target object type, e.g. ``apple``."""
    recep: str
    """Destination receptacle type, or the lamp type (``desklamp``) for look_at_obj_in_light."""


# -- names and seeds ------------------------------------------------------------------------------
GOAL_SOURCES = ("observed", "alfred")
"""Where a game's goal (room kind, object, receptacle) is drawn from: ``observed``, the goals of
the shared real games as counted (``vocab.GOALS``); ``alfred``, every goal ALFRED's constants
allow in a room kind (:func:`alfred_goals`), uniformly: object types no counted game asks for
included."""


def synthetic_id(task_type: str, seed: int, goals: str = "observed") -> str:
    """The stable name of a generated game, also set as ``world.path``."""
    tail = "" if goals == "observed" else f":{goals}"
    return f"{ID_PREFIX}:{task_type}:{seed}{tail}"


def parse_synthetic_id(game_id: str) -> tuple[str, int, str]:
    """``synthetic:<task_type>:<seed>[:<goals>]`` → ``(task_type, seed, goals)``."""
    parts = game_id.split(":")
    if len(parts) == 3:
        parts.append("observed")
    if len(parts) != 4 or parts[0] != ID_PREFIX or parts[1] not in TASK_TYPES or parts[3] not in GOAL_SOURCES:
        raise GeneratorError(
            f"{game_id!r} is not a synthetic game id (synthetic:<task_type>:<seed>[:{'|'.join(GOAL_SOURCES)}])"
        )
    try:
        return parts[1], int(parts[2]), parts[3]
    except ValueError:
        raise GeneratorError(f"{game_id!r}: the seed must be an integer") from None


def derive_seed(task_type: str, seed: int) -> int:
    """The random seed of one game: a sha256 of task type and seed (never ``hash()``)."""
    digest = hashlib.sha256(f"alfworld-synthetic/{task_type}/{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def pick_task_type(seed: int) -> str:
    """The task type ``generate_world(None, seed)`` uses."""
    return TASK_TYPES[derive_seed("any", seed) % len(TASK_TYPES)]


def world_from_id(game_id: str) -> World:
    return generate_world(*parse_synthetic_id(game_id))


# -- entry point ----------------------------------------------------------------------------------
def generate_world(task_type: str | None, seed: int, goals: str = "observed") -> World:
    """A solvable ALFWorld-like game for ``task_type`` (drawn from ``seed`` when None), its goal
    drawn from ``goals`` (:data:`GOAL_SOURCES`)."""
    if task_type is None:
        task_type = pick_task_type(seed)
    if task_type not in TASK_TYPES:
        raise GeneratorError(f"unknown task type {task_type!r} (choose from {', '.join(TASK_TYPES)})")
    if goals not in GOAL_SOURCES:
        raise GeneratorError(f"unknown goal source {goals!r} (choose from {', '.join(GOAL_SOURCES)})")
    rng = random.Random(derive_seed(task_type, seed))
    task = _choose_task(
        rng, task_type, V.GOALS[task_type] if goals == "observed" else alfred_goals(task_type)
    )
    scene = _Scene(rng, task)
    scene.build()
    template = rng.choice(V.TASK_TEMPLATES[task_type])
    sentence = "Your task is to: " + template.format(obj=task.obj, recep=task.recep) + "."
    goal = parse_sexpr(V.GOAL_PDDL[task_type].format(obj=task.obj, recep=task.recep))
    return World.from_facts(
        task=sentence,
        goal=goal,
        init=scene.facts,
        entity_types=scene.entity_types,
        path=synthetic_id(task_type, seed, goals),
    )


def _weighted(rng: random.Random, table: Mapping[_K, float]) -> _K:
    keys = list(table)
    return rng.choices(keys, weights=[table[k] for k in keys])[0]


def _choose_task(
    rng: random.Random, task_type: str, goals: Sequence[tuple[str, str, str, int]]
) -> TaskChoice:
    room, obj, recep, _ = rng.choices(goals, weights=[g[3] for g in goals])[0]
    return TaskChoice(task_type, room, obj, recep)


_PROPERTY = {"heat": V.HEATABLE, "cool": V.COOLABLE, "clean": V.CLEANABLE}


@functools.cache
def alfred_goals(task_type: str) -> tuple[tuple[str, str, str, int], ...]:
    """Every goal (room kind, object, receptacle, weight 1) of ``task_type`` that ALFRED's
    constants allow where a room kind has the things it needs: a pickupable object that lies in
    some receptacle there (and can be heated, cooled or cleaned, with the microwave, fridge or
    sink basin in the room, when the task says so), put in a receptacle of the room that can
    hold it (``CAN_CONTAIN``), or looked at under a lamp that stands on a receptacle of the
    room. Unlike ``vocab.GOALS``, counted from the shared games, this knows nothing of which
    goals those games ask for."""
    transform = V.TASK_TRANSFORM.get(task_type)
    out = []
    for room in V.ROOM_KINDS:
        objects, receptacles = V.OBJECT_POOL[room], V.RECEPTACLE_POOL[room]
        if transform and V.TRANSFORMERS[transform] not in receptacles:
            continue
        for obj, (_p, _hist, where) in sorted(objects.items()):
            if obj not in V.PICKUPABLE or not where or (transform and obj not in _PROPERTY[transform]):
                continue
            if task_type == "look_at_obj_in_light":
                # a lamp that stands in/on a receptacle (the generator places lamps there)
                dests = [lamp for lamp in sorted(V.TOGGLEABLE) if objects.get(lamp, (0, 0, None))[2]]
            else:
                dests = [r for r in sorted(receptacles) if obj in V.CAN_CONTAIN.get(r, ())]
            if task_type in _NO_DEST_OVERLAP:  # it must start somewhere else than where it goes
                dests = [d for d in dests if set(where) - {d}]
            out += [(room, obj, d, 1) for d in dests]
    return tuple(out)


# -- ids and locations ----------------------------------------------------------------------------
def _num(v: float) -> str:
    sign = "_plus_" if v >= 0 else "_minus_"
    return sign + f"{abs(v):05.2f}".replace(".", "_dot_")


def _loc_num(v: int) -> str:
    return str(v) if v >= 0 else f"_minus_{-v}"


class _Scene:
    """Builds the initial facts of one game."""

    def __init__(self, rng: random.Random, task: TaskChoice) -> None:
        self.rng = rng
        self.task = task
        self.room = task.room
        self.facts: list[Fact] = []
        self.entity_types: dict[str, str] = {"agent1": "agent"}
        self.ids: set[str] = set()
        self.locs: set[str] = set()
        self.recs: list[tuple[str, str, tuple[float, float, float]]] = []  # (id, rtype, xyz)
        self.rec_loc: dict[str, str] = {}
        self.otypes: set[str] = set()

    def build(self) -> None:
        counts = self._plan_receptacles()
        self._add_receptacles(counts)
        self._add_objects(self._plan_objects(counts))
        self._add_can_contain(sorted(counts))
        self.facts.append(("atlocation", "agent1", self._new_loc(self._random_xyz())))

    # -- receptacles ------------------------------------------------------------------------------
    def _where(self, otype: str) -> dict[str, int]:
        """Receptacle types an object of ``otype`` may start in, weighted as in real games."""
        entry = V.OBJECT_POOL[self.room].get(otype)
        where = entry[2] if entry and entry[2] is not None else None
        if where is None:
            where = {r: 1 for r in V.RECEPTACLE_POOL[self.room] if otype in V.CAN_CONTAIN[r]}
        if otype == self.task.obj and self.task.task_type in _NO_DEST_OVERLAP:
            where = {r: w for r, w in where.items() if r != self.task.recep}
        return where

    def _plan_receptacles(self) -> dict[str, int]:
        rng, task = self.rng, self.task
        pool = V.RECEPTACLE_POOL[self.room]
        counts: dict[str, int] = {}
        for rtype, (p, hist) in pool.items():
            if rng.random() < p:
                counts[rtype] = _weighted(rng, hist)
        # Whatever the task needs: somewhere the target lies, where the lamp stands, the
        # destination, the transforming appliance.
        needs = [self._where(task.obj)]
        if task.task_type == "look_at_obj_in_light":
            needs.append(self._where(task.recep))
        else:
            needs.append({task.recep: 1})
        transform = V.TASK_TRANSFORM.get(task.task_type)
        if transform:
            needs.append({V.TRANSFORMERS[transform]: 1})
        for options in needs:
            if not options:
                raise GeneratorError(f"{task}: no receptacle in a {self.room} fits it (vocab tables broken?)")
            if not any(r in counts for r in options):
                counts[_weighted(rng, options)] = 1
        self._fit(counts)
        return dict(sorted(counts.items()))

    def _fit(self, counts: dict[str, int]) -> None:
        """Shrink multi-instance types proportionally, or grow them, into the allowed range."""
        rng = self.rng
        while sum(counts.values()) > MAX_RECEPTACLES:
            multi = sorted(r for r, n in counts.items() if n > 1 and r in _SHRINKABLE)
            multi = multi or sorted(r for r, n in counts.items() if n > 1)
            counts[rng.choices(multi, weights=[counts[r] for r in multi])[0]] -= 1
        growable = sorted(r for r, (_, hist) in V.RECEPTACLE_POOL[self.room].items() if max(hist) > 1)
        while sum(counts.values()) < MIN_RECEPTACLES:
            r = rng.choice(growable)
            counts[r] = counts.get(r, 0) + 1

    def _add_receptacles(self, counts: dict[str, int]) -> None:
        rng = self.rng
        share = _SIBLING_SHARE[self.room]
        for rtype, n in counts.items():
            prev_loc = None
            for _ in range(n):
                xyz = self._random_xyz()
                stem = V.BASIN_STEMS.get(rtype, rtype)
                rid = self._new_id(stem, xyz, suffix=rtype if rtype in V.BASIN_STEMS else "")
                if prev_loc is not None and rtype in _SHARING_TYPES and rng.random() < share:
                    loc = prev_loc
                else:
                    loc = self._new_loc(xyz)
                prev_loc = loc
                self.entity_types[rid] = "receptacle"
                self.recs.append((rid, rtype, xyz))
                self.rec_loc[rid] = loc
                self.facts.append(("receptacletype", rid, V.type_constant(rtype)))
                self.entity_types[V.type_constant(rtype)] = "rtype"
                self.facts.append(("receptacleatlocation", rid, loc))
                rate = V.OPENABLE_RATE.get(rtype, 0.0) if rtype in V.OPENABLE_TYPES else 0.0
                if rate and rng.random() < rate:
                    self.facts.append(("openable", rid))

    # -- objects ----------------------------------------------------------------------------------
    def _plan_objects(self, rcounts: dict[str, int]) -> dict[str, int]:
        rng, task = self.rng, self.task
        counts: dict[str, int] = {}
        for otype, (p, hist, _) in V.OBJECT_POOL[self.room].items():
            tied = V.TIED_SCENERY.get(otype)
            if tied is not None:
                n = rcounts.get(tied, 0)
            elif otype == task.obj:
                n = 0  # set below
            else:
                n = (_weighted(rng, hist)) if rng.random() < p else 0
            if n:
                counts[otype] = n
        counts[task.obj] = _weighted(rng, V.TARGET_COUNTS[task.task_type])
        if task.task_type == "look_at_obj_in_light":
            counts[task.recep] = max(1, counts.get(task.recep, 0))
        return dict(sorted(counts.items()))

    def _add_objects(self, counts: dict[str, int]) -> None:
        rng, task = self.rng, self.task
        by_type: dict[str, list[int]] = {}
        for i, (_, rtype, _) in enumerate(self.recs):
            by_type.setdefault(rtype, []).append(i)
        cool_target = task.task_type == "pick_cool_then_place_in_recep"
        for otype, n in counts.items():
            entry = V.OBJECT_POOL[self.room].get(otype)
            on_floor = entry is not None and entry[2] is None and otype != task.obj
            where = {} if on_floor else {r: w for r, w in self._where(otype).items() if r in by_type}
            if not on_floor and not where:
                continue  # nothing here can hold it: leave it out, as a scene without its furniture
            for _ in range(n):
                if on_floor:
                    self._add_floor_object(otype)
                    continue
                rtype = _weighted(rng, where)
                rid, _, rxyz = self.recs[rng.choice(by_type[rtype])]
                xyz = (
                    rxyz[0] + rng.uniform(-0.4, 0.4),
                    rxyz[1] + rng.uniform(0.0, 0.4),
                    rxyz[2] + rng.uniform(-0.4, 0.4),
                )
                oid = self._add_object(otype, xyz, self.rec_loc[rid])
                self.facts.append(("inreceptacle", oid, rid))
                starts_cool = rtype == "fridge" and not (cool_target and otype == task.obj)
                if starts_cool and rng.random() < V.FRIDGE_COOL_RATE:
                    self.facts.append(("iscool", oid))

    def _add_floor_object(self, otype: str) -> None:
        rng = self.rng
        xyz = self._random_xyz()
        if self.recs and rng.random() < V.FLOOR_AT_RECEPTACLE_RATE:
            loc = self.rec_loc[rng.choice(self.recs)[0]]
        else:
            loc = self._new_loc(xyz)
        self._add_object(otype, xyz, loc)

    def _add_object(self, otype: str, xyz: tuple[float, float, float], loc: str) -> str:
        oid = self._new_id(otype, xyz)
        self.entity_types[oid] = "object"
        self.entity_types[V.type_constant(otype)] = "otype"
        self.otypes.add(otype)
        self.facts.append(("objecttype", oid, V.type_constant(otype)))
        self.facts.append(("objectatlocation", oid, loc))
        for pred, members in V.PROPERTY_FACTS:
            if otype in members:
                self.facts.append((pred, oid))
        return oid

    def _add_can_contain(self, rtypes: list[str]) -> None:
        otypes = sorted(self.otypes)
        for r in rtypes:
            rc = V.type_constant(r)
            self.facts.extend(("cancontain", rc, V.type_constant(o)) for o in otypes if o in V.CAN_CONTAIN[r])

    # -- coordinates ------------------------------------------------------------------------------
    def _random_xyz(self) -> tuple[float, float, float]:
        u = self.rng.uniform
        return (u(-_ROOM_HALF, _ROOM_HALF), u(0.0, 1.8), u(-_ROOM_HALF, _ROOM_HALF))

    def _new_id(self, stem: str, xyz: tuple[float, float, float], suffix: str = "") -> str:
        """``apple_bar__plus_01_dot_00_bar__plus_00_dot_90_bar__minus_01_dot_20`` (unique)."""
        x, y, z = xyz
        while True:
            rid = "_bar_".join((stem, _num(round(x, 2)), _num(round(y, 2)), _num(round(z, 2))))
            if suffix:
                rid += f"_bar_{suffix}"
            if rid not in self.ids:
                self.ids.add(rid)
                return rid
            x += 0.01 if x < _ROOM_HALF else -0.37

    def _new_loc(self, xyz: tuple[float, float, float]) -> str:
        """A fresh ``loc_bar_<x>_bar_<z>_bar_<rot>_bar_<horizon>`` where an agent would stand to
        face ``xyz`` from 0.5–1.25 m away (grid of 0.25 m, as ALFRED's)."""
        rng = self.rng
        while True:
            rot = rng.randrange(4)
            dist = rng.randint(2, 5)
            dx, dz = _DIRS[rot]
            lx = round(xyz[0] * 4) - dx * dist
            lz = round(xyz[2] * 4) - dz * dist
            hor = _weighted(rng, V.LOCATION_HORIZONS)
            loc = "_bar_".join(("loc", _loc_num(lx), _loc_num(lz), str(rot), _loc_num(hor)))
            if loc not in self.locs:
                self.locs.add(loc)
                self.entity_types[loc] = "location"
                return loc
