"""Rules and feedback text on small hand-built worlds (shaped like real ALFWorld facts)."""

from __future__ import annotations

import random

import pytest

from harness.world import NOTHING, Game, World
from harness.world.game import display_list
from harness.world.pddl import parse_sexpr
from harness.world.world import demangle_names

A = "agent1"
START = "loc_bar_0_bar_0_bar_0_bar_0"
L1 = "loc_bar_1_bar_1_bar_1_bar_60"
L2 = "loc_bar_2_bar_2_bar_2_bar_60"
SHELF_A = "shelf_bar__plus_01_dot_00_bar__plus_01_dot_00_bar__plus_01_dot_00"
SHELF_B = "shelf_bar__plus_02_dot_00_bar__plus_01_dot_00_bar__plus_01_dot_00"
FRIDGE = "fridge_bar__minus_01_dot_00_bar__plus_00_dot_00_bar__plus_01_dot_00"
APPLE = "apple_bar__plus_01_dot_10_bar__plus_01_dot_00_bar__plus_01_dot_00"
LAMP = "desklamp_bar__plus_01_dot_20_bar__plus_01_dot_00_bar__plus_01_dot_00"
MUG = "mug_bar__minus_01_dot_10_bar__plus_00_dot_50_bar__plus_01_dot_00"
KNIFE = "knife_bar__plus_02_dot_10_bar__plus_01_dot_00_bar__plus_01_dot_00"

GOAL = """(and (exists (?r - receptacle) (exists (?o - object) (and (iscool ?o) (objecttype ?o appletype)
          (receptacletype ?r shelftype) (inreceptacle ?o ?r)))))"""
LIGHT_GOAL = """(and (exists (?ot - object ?r - receptacle ?a - agent ?l - location) (and
          (objecttype ?ot desklamptype) (toggleable ?ot) (istoggled ?ot) (receptacleatlocation ?r ?l)
          (atlocation ?a ?l) (inreceptacle ?ot ?r))) (exists (?o - object ?a - agent) (and
          (objecttype ?o mugtype) (holds ?a ?o))))"""


def make_world(goal: str = GOAL) -> World:
    init = [
        ("atlocation", A, START),
        # two shelves share location L1; the fridge is at L2
        ("receptacleatlocation", SHELF_A, L1),
        ("receptacleatlocation", SHELF_B, L1),
        ("receptacleatlocation", FRIDGE, L2),
        ("receptacletype", SHELF_A, "shelftype"),
        ("receptacletype", SHELF_B, "shelftype"),
        ("receptacletype", FRIDGE, "fridgetype"),
        ("openable", FRIDGE),
        ("objecttype", APPLE, "appletype"),
        ("objecttype", LAMP, "desklamptype"),
        ("objecttype", MUG, "mugtype"),
        ("objecttype", KNIFE, "knifetype"),
        ("inreceptacle", APPLE, SHELF_A),
        ("objectatlocation", APPLE, L1),
        ("inreceptacle", LAMP, SHELF_A),
        ("objectatlocation", LAMP, L1),
        ("inreceptacle", MUG, FRIDGE),
        ("objectatlocation", MUG, L2),
        ("inreceptacle", KNIFE, SHELF_B),
        ("objectatlocation", KNIFE, L1),
        ("pickupable", APPLE),
        ("pickupable", MUG),
        ("pickupable", KNIFE),
        ("coolable", APPLE),
        ("heatable", APPLE),
        ("sliceable", APPLE),
        ("toggleable", LAMP),
        ("isreceptacleobject", MUG),
        ("cancontain", "shelftype", "appletype"),
        ("cancontain", "shelftype", "mugtype"),
        ("cancontain", "shelftype", "knifetype"),
        ("cancontain", "fridgetype", "appletype"),
        ("cancontain", "fridgetype", "mugtype"),
    ]
    types = {
        A: "agent",
        START: "location",
        L1: "location",
        L2: "location",
        SHELF_A: "receptacle",
        SHELF_B: "receptacle",
        FRIDGE: "receptacle",
        APPLE: "object",
        LAMP: "object",
        MUG: "object",
        KNIFE: "object",
    }
    return World.from_facts(
        task="Your task is to: put a cool apple in shelf.",
        goal=parse_sexpr(goal),
        init=init,
        entity_types=types,
    )


@pytest.fixture
def game() -> Game:
    g = Game(make_world())
    g.reset()
    return g


def test_display_list() -> None:
    assert display_list([]) == "nothing"
    assert display_list(["a x 1"]) == "a x 1"
    assert display_list(["a x 1", "a y 1"]) == "a x 1, and a y 1"
    assert display_list(["a", "b", "c"]) == "a, b, and c"


def test_names_count_from_the_end_of_sorted_ids() -> None:
    names = demangle_names(
        [
            "cd_bar__plus_01",
            "cd_bar__minus_01",
            "sink_bar__plus_01_bar_sinkbasin",
            "sink_bar__plus_02",
            "agent1",
        ]
    )
    assert names["cd_bar__minus_01"] == "cd 2"  # '_minus_' sorts before '_plus_'
    assert names["cd_bar__plus_01"] == "cd 1"
    assert names["sink_bar__plus_01_bar_sinkbasin"] == "sinkbasin 1"
    assert names["sink_bar__plus_02"] == "sink 1"
    assert names["agent1"] == "agent1 "


def test_intro_and_first_commands(game: Game) -> None:
    intro = game.reset()
    assert intro == (
        "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly around you, "
        "you see a fridge 1, a shelf 2, and a shelf 1.\n\nYour task is to: put a cool apple in shelf."
    )
    assert game.admissible_commands() == [
        "go to fridge 1",
        "go to shelf 1",
        "go to shelf 2",
        "inventory",
        "look",
    ]
    assert game.step("look").observation == (
        "You are in the middle of a room. Looking quickly around you, you see nothing."
    )


def test_shared_location(game: Game) -> None:
    r = game.step("go to shelf 2")
    assert r.observation == "You arrive at loc 2. On the shelf 2, you see a apple 1, and a desklamp 1."
    # shelf 1 is at the same location: no 'go to' either shelf, but both can be used
    assert game.step("go to shelf 1").observation == NOTHING
    assert game.step("go to shelf 2").observation == NOTHING
    cmds = game.admissible_commands()
    assert "take knife 1 from shelf 1" in cmds and "examine shelf 1" in cmds
    assert (
        game.step("look").observation
        == "You are facing the shelf 2, and shelf 1. Next to it, you see nothing."
    )


def test_examine_object_only_when_held(game: Game) -> None:
    game.step("go to shelf 2")
    assert game.step("examine apple 1").observation == NOTHING
    assert game.step("take apple 1 from shelf 2").observation == "You pick up the apple 1 from the shelf 2."
    assert game.step("examine apple 1").observation == "There's nothing special about apple 1."
    assert game.step("take knife 1 from shelf 1").observation == NOTHING  # hands full
    assert game.step("inventory").observation == "You are carrying: a apple 1."


def test_open_close_and_receptacle_object_text(game: Game) -> None:
    assert game.step("go to fridge 1").observation == "You arrive at loc 1. The fridge 1 is closed."
    assert game.step("take mug 1 from fridge 1").observation == NOTHING
    assert game.step("open fridge 1").observation == (
        "You open the fridge 1. The fridge 1 is open. In it, you see a mug 1."
    )
    assert game.step("open fridge 1").observation == NOTHING
    game.step("take mug 1 from fridge 1")
    game.step("cool mug 1 with fridge 1")  # mugs are not coolable here
    assert game.step("examine mug 1").observation == "This is a normal mug 1. In it, you see nothing."
    assert game.step("close fridge 1").observation == "You close the fridge 1."
    assert game.step("put mug 1 in/on fridge 1").observation == NOTHING  # closed


def test_cool_then_place_wins_and_feedback(game: Game) -> None:
    game.step("go to shelf 1")
    game.step("take apple 1 from shelf 2")
    game.step("go to fridge 1")
    assert game.step("cool apple 1 with fridge 1").observation == "You cool the apple 1 using the fridge 1."
    assert game.step("examine apple 1").observation == "This is a cold apple 1."
    game.step("go to shelf 1")
    r = game.step("put apple 1 in/on shelf 1")
    assert r.observation == "You put the apple 1 in/on the shelf 1." and r.won and r.done


def test_object_taken_then_put_at_same_location_is_next_to_it(game: Game) -> None:
    game.step("go to shelf 1")
    game.step("take apple 1 from shelf 2")
    game.step("put apple 1 in/on shelf 1")
    # TextWorld lists it "next to" shelf 2 (it left shelf 2 and is at the location again)
    assert game.step("look").observation == (
        "You are facing the shelf 2, and shelf 1. Next to it, you see a apple 1."
    )


def test_use_lamp_and_light_goal_in_either_order() -> None:
    g = Game(make_world(LIGHT_GOAL))
    g.reset()
    g.step("go to fridge 1")
    g.step("open fridge 1")
    g.step("take mug 1 from fridge 1")
    g.step("go to shelf 1")
    r = g.step("use desklamp 1")
    assert r.observation == "You turn on the desklamp 1." and r.won
    g.reset()
    g.step("go to shelf 1")
    assert g.step("use desklamp 1").observation == "You turn on the desklamp 1."
    assert g.step("use desklamp 1").observation == "You turn on the desklamp 1."  # always 'on'
    g.step("go to fridge 1")
    g.step("open fridge 1")
    assert not g.step("take mug 1 from fridge 1").won  # lamp is at another location
    g.step("go to shelf 1")
    # back at the lamp's location while holding the mug: the goal holds on arrival
    assert g.step("examine shelf 1").won


def test_slice_needs_a_knife_in_hand(game: Game) -> None:
    game.step("go to shelf 1")
    assert game.step("slice apple 1 with knife 1").observation == NOTHING
    game.step("take knife 1 from shelf 1")
    assert "slice apple 1 with knife 1" in game.admissible_commands()
    assert game.step("slice apple 1 with knife 1").observation == "You sliced the apple 1 with the knife 1."


def test_text_format_04() -> None:
    g = Game(make_world(), text_format="0.4")
    g.reset()
    assert g.step("go to shelf 1").observation == "You arrive at shelf 1. On the shelf 1, you see a knife 1."
    g.step("take apple 1 from shelf 2")
    assert "move apple 1 to shelf 1" in g.admissible_commands()
    assert g.step("put apple 1 in/on shelf 1").observation == NOTHING
    assert g.step("move apple 1 to shelf 1").observation == "You move the apple 1 to the shelf 1."
    assert g.step("help").observation.startswith("Available commands:\n  look:")


def test_commands_are_exact_but_stripped(game: Game) -> None:
    assert game.step("  go to shelf 1  ").admissible
    assert game.step("Go to fridge 1").observation == NOTHING
    assert game.step("go to  fridge 1").observation == NOTHING
    assert game.step("").observation == NOTHING


def test_admissible_iff_something_happens() -> None:
    """Random play: each admissible command is accepted, and every candidate command built
    from the vocabulary that is not admissible gives 'Nothing happens.' and changes nothing."""
    rng = random.Random(7)
    g = Game(make_world())
    names = ["apple 1", "desklamp 1", "mug 1", "knife 1", "shelf 1", "shelf 2", "fridge 1"]
    verbs = [
        "go to {a}",
        "open {a}",
        "close {a}",
        "take {a} from {b}",
        "put {a} in/on {b}",
        "examine {a}",
        "use {a}",
        "heat {a} with {b}",
        "cool {a} with {b}",
        "clean {a} with {b}",
        "slice {a} with {b}",
        "look",
        "inventory",
    ]
    for _ in range(20):
        g.reset()
        for _ in range(30):
            adm = set(g.admissible_commands())
            cands = {v.format(a=a, b=b) for v in verbs for a in names for b in names}
            for c in sorted(cands - adm)[:40]:
                before = g.facts()
                assert g.step(c).observation == NOTHING, c
                assert g.facts() == before
            cmd = rng.choice(sorted(adm))
            assert g.step(cmd).admissible
