"""The seeded scene generator: deterministic, realistic (same fact and goal shapes as real
ALFWorld games) and solvable by construction (a scripted solver wins every task type)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from harness.world import vocab as V
from harness.world.game import Game
from harness.world.generator import (
    MAX_RECEPTACLES,
    MIN_RECEPTACLES,
    TASK_TYPES,
    GeneratorError,
    alfred_goals,
    derive_seed,
    generate_world,
    parse_synthetic_id,
    pick_task_type,
    synthetic_id,
    world_from_id,
)
from harness.world.pddl import SExpr
from harness.world.world import World

REPO = Path(__file__).resolve().parents[1]
SOLVER_SEEDS = range(200)
TRANSFORM_VERB = {"heat": "heat", "cool": "cool", "clean": "clean"}

# The goal of each task type with the type constants replaced by T, as every real game has it.
REAL_GOAL_SHAPES = {
    "pick_and_place_simple": "('and', ('exists', ('?r', '-', 'receptacle'), ('exists', ('?o', '-', "
    "'object'), ('and', ('inreceptacle', '?o', '?r'), ('objecttype', '?o', 'T'), ('receptacletype', "
    "'?r', 'T')))))",
    "look_at_obj_in_light": "('and', ('exists', ('?ot', '-', 'object', '?r', '-', 'receptacle', '?a', '-', "
    "'agent', '?l', '-', 'location'), ('and', ('objecttype', '?ot', 'T'), ('toggleable', '?ot'), "
    "('istoggled', '?ot'), ('receptacleatlocation', '?r', '?l'), ('atlocation', '?a', '?l'), "
    "('inreceptacle', '?ot', '?r'))), ('exists', ('?o', '-', 'object', '?a', '-', 'agent'), ('and', "
    "('objecttype', '?o', 'T'), ('holds', '?a', '?o'))))",
    "pick_clean_then_place_in_recep": "('and', ('exists', ('?r', '-', 'receptacle'), ('exists', ('?o', '-', "
    "'object'), ('and', ('cleanable', '?o'), ('objecttype', '?o', 'T'), ('receptacletype', '?r', 'T'), "
    "('isclean', '?o'), ('inreceptacle', '?o', '?r')))))",
    "pick_heat_then_place_in_recep": "('and', ('exists', ('?r', '-', 'receptacle'), ('exists', ('?o', '-', "
    "'object'), ('and', ('heatable', '?o'), ('objecttype', '?o', 'T'), ('receptacletype', '?r', 'T'), "
    "('ishot', '?o'), ('inreceptacle', '?o', '?r')))))",
    "pick_cool_then_place_in_recep": "('and', ('exists', ('?r', '-', 'receptacle'), ('exists', ('?o', '-', "
    "'object'), ('and', ('coolable', '?o'), ('objecttype', '?o', 'T'), ('receptacletype', '?r', 'T'), "
    "('iscool', '?o'), ('inreceptacle', '?o', '?r')))))",
    "pick_two_obj_and_place": "('and', ('exists', ('?r', '-', 'receptacle'), ('exists', ('?o1', '-', "
    "'object'), ('and', ('objecttype', '?o1', 'T'), ('receptacletype', '?r', 'T'), ('inreceptacle', "
    "'?o1', '?r'), ('exists', ('?o2', '-', 'object'), ('and', ('not', ('=', '?o1', '?o2')), "
    "('objecttype', '?o2', 'T'), ('receptacletype', '?r', 'T'), ('inreceptacle', '?o2', '?r')))))))",
}
# Every predicate real games use in their initial facts.
REAL_INIT_PREDICATES = {
    "objectatlocation", "atlocation", "pickupable", "objecttype", "cancontain", "receptacleatlocation",
    "receptacletype", "inreceptacle", "openable", "cleanable", "isreceptacleobject", "coolable", "heatable",
    "sliceable", "toggleable", "inreceptacleobject", "iscool",
}  # fmt: skip
_COORD = r"_(?:plus|minus)_\d\d_dot_\d\d"
ID_RE = re.compile(rf"[a-z]+_bar_{_COORD}_bar_{_COORD}_bar_{_COORD}(?:_bar_(?:sinkbasin|bathtubbasin))?")
LOC_RE = re.compile(r"loc_bar_(?:_minus_)?\d+_bar_(?:_minus_)?\d+_bar_[0-3]_bar_(?:_minus_)?\d+")


def abstract(goal: SExpr) -> str:
    def sub(f: SExpr) -> SExpr:
        if isinstance(f, str):
            return "T" if f.endswith("type") and f not in ("objecttype", "receptacletype") else f
        return tuple(sub(x) for x in f)

    return repr(sub(goal))


def task_sentences(world: World) -> set[str]:
    """The sentences ALFRED's templates give for this world's goal."""
    spec = world.spec
    obj = (spec.object_type or "")[: -len("type")]
    recep = (spec.toggle_type or spec.receptacle_type or "")[: -len("type")]
    return {f"Your task is to: {t.format(obj=obj, recep=recep)}." for t in V.TASK_TEMPLATES[world.task_type]}


def init_facts(world: World) -> list[tuple[str, ...]]:
    return sorted([f for s in world.static.by_pred.values() for f in s] + list(world.init_dynamic))


def digest(world: World) -> str:
    text = "\n".join(" ".join(f) for f in init_facts(world)) + "\n" + world.task + "\n" + repr(world.goal)
    return hashlib.sha256(text.encode()).hexdigest()


# -- a scripted solver that knows where everything is ----------------------------------------------
class ScriptedSolver:
    def __init__(self, world: World, check_admissible: bool = False) -> None:
        self.w, self.names = world, world.names
        self.game = Game(world)
        self.game.reset()
        self.check = check_admissible
        self.opened: set[str] = set()
        self.inrec = {f[1]: f[2] for f in world.init_dynamic if f[0] == "inreceptacle"}

    def do(self, cmd: str) -> None:
        assert not self.game.won, f"{self.w.path}: already won before {cmd!r}"
        if self.check:
            assert cmd in self.game.admissible_commands(), f"{self.w.path}: {cmd!r} not admissible"
        r = self.game.step(cmd)
        assert r.admissible, f"{self.w.path}: {cmd!r} → {r.observation}"

    def visit(self, rec: str) -> None:
        if self.game.loc != self.w.rec_loc[rec]:
            self.do(f"go to {self.names[rec]}")
        if self.w.has("openable", rec) and rec not in self.opened:
            self.do(f"open {self.names[rec]}")
            self.opened.add(rec)

    def take(self, obj: str) -> None:
        rec = self.inrec[obj]
        self.visit(rec)
        self.do(f"take {self.names[obj]} from {self.names[rec]}")

    def put(self, obj: str, rec: str) -> None:
        self.visit(rec)
        self.do(f"put {self.names[obj]} in/on {self.names[rec]}")

    def solve(self) -> bool:
        w, spec = self.w, self.w.spec
        targets = [o for o in w.of_type("object") if w.otype.get(o) == spec.object_type and o in self.inrec]
        if spec.task_type == "look_at_obj_in_light":
            lamps = [o for o in w.of_type("object") if w.otype.get(o) == spec.toggle_type and o in self.inrec]
            self.take(targets[0])
            self.visit(self.inrec[lamps[0]])
            self.do(f"use {self.names[lamps[0]]}")
            return self.game.won
        dest = next(r for r in w.receptacles if w.rtype[r] == spec.receptacle_type)
        for obj in targets[: spec.count]:
            self.take(obj)
            if spec.transform:
                tool_type = V.type_constant(V.TRANSFORMERS[spec.transform])
                tool = next(r for r in w.receptacles if w.rtype[r] == tool_type)
                self.visit(tool)
                self.do(f"{TRANSFORM_VERB[spec.transform]} {self.names[obj]} with {self.names[tool]}")
            self.put(obj, dest)
        return self.game.won


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_scripted_solver_wins_every_seed(task_type: str) -> None:
    for seed in SOLVER_SEEDS:
        world = generate_world(task_type, seed)
        assert world.task_type == task_type
        assert ScriptedSolver(world, check_admissible=seed < 20).solve(), world.path


# -- determinism -------------------------------------------------------------------------------------
def test_same_seed_same_world() -> None:
    for task_type in TASK_TYPES:
        for seed in (0, 1, 12345):
            a, b = generate_world(task_type, seed), generate_world(task_type, seed)
            ga, gb = Game(a), Game(b)
            assert ga.reset() == gb.reset()
            assert ga.admissible_commands() == gb.admissible_commands()
            assert init_facts(a) == init_facts(b)
            assert a.task == b.task and a.goal == b.goal and a.names == b.names and a.path == b.path


def test_different_seeds_differ() -> None:
    assert len({digest(generate_world("pick_and_place_simple", s)) for s in range(20)}) == 20
    assert derive_seed("pick_and_place_simple", 1) != derive_seed("pick_two_obj_and_place", 1)


def test_same_world_across_processes() -> None:
    cases = [(t, s) for t in TASK_TYPES for s in (3, 99)]
    code = (
        "import sys, hashlib\n"
        "from harness.world.generator import generate_world\n"
        "for arg in sys.argv[1:]:\n"
        "    t, s = arg.split('=')\n"
        "    w = generate_world(t, int(s))\n"
        "    facts = sorted([f for x in w.static.by_pred.values() for f in x] + list(w.init_dynamic))\n"
        "    text = '\\n'.join(' '.join(f) for f in facts) + '\\n' + w.task + '\\n' + repr(w.goal)\n"
        "    print(hashlib.sha256(text.encode()).hexdigest())\n"
    )
    expected = [digest(generate_world(t, s)) for t, s in cases]
    for hashseed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed, "PYTHONPATH": str(REPO)}
        out = subprocess.run(
            [sys.executable, "-c", code, *(f"{t}={s}" for t, s in cases)],
            capture_output=True, text=True, check=True, env=env, cwd=REPO,
        )  # fmt: skip
        assert out.stdout.split() == expected


def test_task_type_from_seed_and_ids() -> None:
    for seed in range(30):
        world = generate_world(None, seed)
        task_type = pick_task_type(seed)
        assert world.path == synthetic_id(task_type, seed) == f"synthetic:{task_type}:{seed}"
        assert digest(world) == digest(generate_world(task_type, seed))
        assert parse_synthetic_id(world.path) == (task_type, seed, "observed")
        assert digest(world_from_id(world.path)) == digest(world)
        other = generate_world(task_type, seed, "alfred")
        assert other.path == f"synthetic:{task_type}:{seed}:alfred"
        assert digest(world_from_id(other.path)) == digest(other)
    assert {pick_task_type(s) for s in range(100)} == set(TASK_TYPES)


def test_alfred_goals_reach_object_types_the_counted_goals_lack() -> None:
    """``goals: alfred`` draws from every goal ALFRED's constants allow in a room kind: it asks
    for object types no counted game does, each goal is one the room kind can hold, and the
    expert wins the games."""
    from harness.world import vocab as V
    from harness.world.expert import solve

    fresh = set()
    for task_type in TASK_TYPES:
        counted = {g[1] for g in V.GOALS[task_type]}
        allowed = alfred_goals(task_type)
        assert allowed
        fresh |= {g[1] for g in allowed} - counted
        for room, obj, recep, _ in allowed:
            assert obj in V.PICKUPABLE and obj in V.OBJECT_POOL[room]
            if task_type != "look_at_obj_in_light":
                assert obj in V.CAN_CONTAIN[recep] and recep in V.RECEPTACLE_POOL[room]
        for seed in range(8):
            world = generate_world(task_type, seed, "alfred")
            assert world.spec.task_type == task_type
            assert solve(world)[-1].won
    assert len(fresh) >= 10


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(GeneratorError, match="unknown task type"):
        generate_world("pick_and_place_with_movable_recep", 0)
    for bad in ("synthetic:nope:1", "synthetic:pick_and_place_simple:x", "games/foo"):
        with pytest.raises(GeneratorError):
            parse_synthetic_id(bad)


# -- realism: the same fact shapes as real games --------------------------------------------------------
def sample_worlds(per_type: int = 40) -> list[World]:
    return [generate_world(t, s) for t in TASK_TYPES for s in range(per_type)]


def test_scene_facts_have_real_shapes() -> None:
    for w in sample_worlds():
        facts = init_facts(w)
        preds = Counter(f[0] for f in facts)
        assert set(preds) <= REAL_INIT_PREDICATES, w.path
        assert MIN_RECEPTACLES <= len(w.receptacles) <= MAX_RECEPTACLES, w.path
        assert not any(f[0] in ("opened", "holds", "isclean", "ishot", "istoggled") for f in facts)
        # the agent starts where there is nothing
        agent_loc = next(f[2] for f in facts if f[0] == "atlocation")
        assert agent_loc not in w.loc_recs
        assert not any(f[0] == "objectatlocation" and f[2] == agent_loc for f in facts)
        # ids look like ALFWorld's and name their type
        for r in w.receptacles:
            assert ID_RE.fullmatch(r), r
            rtype = w.rtype[r][: -len("type")]
            assert rtype in V.RECEPTACLE_TYPES
            assert w.names[r].split()[0] == rtype
            assert LOC_RE.fullmatch(w.rec_loc[r]), w.rec_loc[r]
            assert w.has("openable", r) <= (rtype in V.OPENABLE_TYPES)
        objects = [o for o in w.entity_types if w.entity_types[o] == "object"]
        for o in objects:
            assert ID_RE.fullmatch(o), o
            otype = w.otype[o][: -len("type")]
            assert otype in V.OBJECT_TYPES and w.names[o].split()[0] == otype
            for pred, members in V.PROPERTY_FACTS:
                assert w.has(pred, o) == (otype in members), (w.path, pred, o)
        # objects lie in receptacles that can hold them, at the receptacle's location
        loc_of = {f[1]: f[2] for f in facts if f[0] == "objectatlocation"}
        assert set(loc_of) == set(objects)
        for _, o, r in (f for f in facts if f[0] == "inreceptacle"):
            assert loc_of[o] == w.rec_loc[r]
            if w.has("pickupable", o):
                assert w.has("cancontain", w.rtype[r], w.otype[o]), (w.path, o, r)
            else:
                assert w.otype[o] in {"desklamptype", "houseplanttype", "televisiontype"}
        for _, o in (f for f in facts if f[0] == "iscool"):
            assert w.rtype[next(f[2] for f in facts if f[0] == "inreceptacle" and f[1] == o)] == "fridgetype"
        # cancontain: every (receptacle type, object type) present that ALFRED allows, nothing else
        rtypes = {t[:-4] for t in w.rtype.values()}
        otypes = {t[:-4] for t in w.otype.values()}
        want = {(r + "type", o + "type") for r in rtypes for o in otypes if o in V.CAN_CONTAIN[r]}
        assert {(f[1], f[2]) for f in facts if f[0] == "cancontain"} == want


def test_goals_and_sentences_have_real_shapes() -> None:
    for w in sample_worlds():
        spec = w.spec
        assert abstract(w.goal) == REAL_GOAL_SHAPES[spec.task_type]
        assert w.task in task_sentences(w)
        game = Game(w)
        game.reset()
        assert not game.won, w.path


def test_solvable_setup() -> None:
    for w in sample_worlds(60):
        spec = w.spec
        inrec = {f[1]: f[2] for f in w.init_dynamic if f[0] == "inreceptacle"}
        targets = [o for o in inrec if w.otype.get(o) == spec.object_type]
        assert len(targets) >= spec.count
        if spec.task_type == "look_at_obj_in_light":
            assert spec.toggle_type == "desklamptype"
            assert any(w.otype.get(o) == "desklamptype" for o in inrec)
            continue
        dests = [r for r in w.receptacles if w.rtype[r] == spec.receptacle_type]
        assert dests and all(w.has("cancontain", spec.receptacle_type, spec.object_type) for _ in dests)
        if spec.task_type in ("pick_and_place_simple", "pick_two_obj_and_place"):
            assert not any(w.rtype[inrec[o]] == spec.receptacle_type for o in targets)
        if spec.transform:
            tool = V.type_constant(V.TRANSFORMERS[spec.transform])
            assert tool in w.rtype.values()
            if spec.transform == "cool":
                assert not any(("iscool", o) in w.init_dynamic for o in targets)


def test_every_goal_in_the_table_is_possible() -> None:
    for task_type, goals in V.GOALS.items():
        assert task_type in TASK_TYPES
        for room, obj, recep, _ in goals:
            entry = V.OBJECT_POOL[room][obj]
            assert entry[2], (room, obj)  # found in receptacles, never only on the floor
            if task_type == "look_at_obj_in_light":
                assert recep == "desklamp" and V.OBJECT_POOL[room]["desklamp"][2]
                continue
            assert obj in V.CAN_CONTAIN[recep] and recep in V.RECEPTACLE_POOL[room]
            assert set(entry[2]) - {recep}, (room, obj)  # somewhere to start from
            transform = V.TASK_TRANSFORM.get(task_type)
            if transform:
                assert obj in {"heat": V.HEATABLE, "cool": V.COOLABLE, "clean": V.CLEANABLE}[transform]
                assert V.TRANSFORMERS[transform] in V.RECEPTACLE_POOL[room]


def test_location_sharing_matches_real_rate() -> None:
    shares: dict[str, list[float]] = {}
    for w in sample_worlds(50):
        rtypes = set(w.rtype.values())
        room = (
            "kitchen" if "fridgetype" in rtypes
            else "bathroom" if "toilettype" in rtypes
            else "bedroom" if "bedtype" in rtypes
            else "livingroom"
        )  # fmt: skip
        shared = sum(1 for r in w.receptacles if len(w.loc_recs[w.rec_loc[r]]) > 1)
        shares.setdefault(room, []).append(shared / len(w.receptacles))
    for room, values in shares.items():
        if len(values) >= 20:
            assert abs(sum(values) / len(values) - V.SHARED_LOCATION_RATE[room]) < 0.06, room


# -- against the real games, when they are here ----------------------------------------------------
def real_games() -> list[World]:
    if not os.environ.get("ALFWORLD_DATA"):
        pytest.skip("ALFWORLD_DATA is not set: point it at the folder holding json_2.1.1/ to compare")
    from harness.world.loader import discover_games, load_world

    return [load_world(p) for p in discover_games("valid_seen")]


def test_real_games_agree_with_vocab() -> None:
    games = real_games()
    assert games
    for w in games:
        assert abstract(w.goal) == REAL_GOAL_SHAPES[w.task_type], w.path
        assert {f[0] for f in init_facts(w)} <= REAL_INIT_PREDICATES
        rtypes = {t[:-4] for t in w.rtype.values()}
        otypes = {t[:-4] for t in w.otype.values()}
        want = {(r + "type", o + "type") for r in rtypes for o in otypes if o in V.CAN_CONTAIN[r]}
        assert {(f[1], f[2]) for f in w.static.with_pred("cancontain")} == want, w.path
        for o, t in w.otype.items():
            for pred, members in V.PROPERTY_FACTS:
                if pred == "pickupable" and t == "footstooltype":
                    continue  # the one type real games mark inconsistently
                assert w.has(pred, o) == (t[:-4] in members), (w.path, pred, o)
        assert w.task in task_sentences(w), w.path
