"""ALFWorld's vocabulary for synthetic scenes: object and receptacle types, what fits where, which
objects can be heated, cooled, cleaned, toggled, sliced or picked up, and per room kind which
receptacles and objects a scene has, how many, and where the objects lie.

Names are ALFWorld's classes in lower case (``alarmclock``, ``countertop``, ``sinkbasin``); the PDDL
type constants add ``type`` (``alarmclocktype``). The class lists, ``CAN_CONTAIN`` and the property
sets are ALFRED's own (``alfworld/gen/constants.py``: OBJECTS, RECEPTACLES, VAL_RECEPTACLE_OBJECTS,
VAL_ACTION_OBJECTS); the property sets and ``CAN_CONTAIN`` agree exactly with the facts of the real
games. The statistics below (``OPENABLE_RATE``, ``RECEPTACLE_POOL``, ``OBJECT_POOL``, ``GOALS``,
``TARGET_COUNTS``) were counted over the 1340 shared real games (json_2.1.1 train + valid_seen,
103 scenes); they are derived numbers, not game files: data, ``scene_stats.json`` beside this
module, which ``python -m harness.world.scene_stats $ALFWORLD_DATA`` recounts and rewrites.
"""

from __future__ import annotations

import json
from pathlib import Path


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


ROOM_KINDS = ("kitchen", "livingroom", "bedroom", "bathroom")

# ALFRED's scene numbers per room kind (FloorPlan<N>).
ROOM_SCENES = {
    "kitchen": range(1, 31),
    "livingroom": range(201, 231),
    "bedroom": range(301, 331),
    "bathroom": range(401, 431),
}

# Static receptacle classes (ALFRED's RECEPTACLES less the movable ones).
RECEPTACLE_TYPES = _words(
    """
armchair bathtubbasin bed cabinet cart coffeemachine coffeetable countertop desk diningtable drawer
dresser fridge garbagecan handtowelholder laundryhamper microwave ottoman paintinghanger safe shelf
sidetable sinkbasin sofa stoveburner toaster toilet toiletpaperhanger towelholder tvstand
"""
)

# Object classes (ALFRED's OBJECTS less the static receptacles; bowls, pots … are objects).
OBJECT_TYPES = _words(
    """
alarmclock apple baseballbat basketball bathtub blinds book boots bowl box bread butterknife candle
cd cellphone chair cloth creditcard cup curtains desklamp dishsponge egg floorlamp footstool fork
glassbottle handtowel houseplant kettle keychain knife ladle laptop laundryhamperlid lettuce
lightswitch mirror mug newspaper painting pan papertowel papertowelroll pen pencil peppershaker
pillow plate plunger poster pot potato remotecontrol saltshaker scrubbrush showerdoor showerglass
sink soapbar soapbottle spatula spoon spraybottle statue stoveknob teddybear television tennisracket
tissuebox toiletpaper toiletpaperroll tomato towel vase watch wateringcan window winebottle
"""
)

# Property facts, by object type, exactly as the real games state them.
PICKUPABLE = _set(
    """
alarmclock apple baseballbat basketball book boots bowl box bread butterknife candle cd cellphone
cloth creditcard cup dishsponge egg fork glassbottle handtowel kettle keychain knife ladle laptop
lettuce mug newspaper pan papertowelroll pen pencil peppershaker pillow plate plunger pot potato
remotecontrol saltshaker scrubbrush soapbar soapbottle spatula spoon spraybottle statue teddybear
tennisracket tissuebox toiletpaper tomato towel vase watch wateringcan winebottle
"""
)
HEATABLE = _set("apple bread cup egg mug plate potato tomato")
COOLABLE = _set("apple bowl bread cup egg lettuce mug pan plate pot potato tomato winebottle")
CLEANABLE = _set(
    """
apple bowl butterknife cloth cup dishsponge egg fork kettle knife ladle lettuce mug pan plate pot
potato soapbar spatula spoon tomato
"""
)
TOGGLEABLE = _set("desklamp floorlamp")
SLICEABLE = _set("apple bread egg lettuce potato tomato")
RECEPTACLE_OBJECTS = _set("bowl box cup mug pan plate pot")
"""Objects marked ``isReceptacleObject``."""

# The predicate each object property becomes, in the order real games list them.
PROPERTY_FACTS = (
    ("pickupable", PICKUPABLE),
    ("isreceptacleobject", RECEPTACLE_OBJECTS),
    ("cleanable", CLEANABLE),
    ("heatable", HEATABLE),
    ("coolable", COOLABLE),
    ("toggleable", TOGGLEABLE),
    ("sliceable", SLICEABLE),
)

# ALFRED's OPENABLE_CLASS_LIST (boxes are objects and never get the fact in the games).
OPENABLE_TYPES = _set("fridge cabinet microwave drawer safe")

# The receptacle a transformation needs (the PDDL domain's heatobject / coolobject / cleanobject).
TRANSFORMERS = {"heat": "microwave", "cool": "fridge", "clean": "sinkbasin"}
TASK_TRANSFORM = {
    "pick_heat_then_place_in_recep": "heat",
    "pick_cool_then_place_in_recep": "cool",
    "pick_clean_then_place_in_recep": "clean",
}

# Receptacles whose ids carry a basin suffix: sink_bar_<xyz>_bar_sinkbasin.
BASIN_STEMS = {"sinkbasin": "sink", "bathtubbasin": "bathtub"}

# Scenery that comes with a receptacle: one per receptacle of that type.
TIED_SCENERY = {
    "sink": "sinkbasin",
    "bathtub": "bathtubbasin",
    "stoveknob": "stoveburner",
    "laundryhamperlid": "laundryhamper",
}

# Share of objects lying in a fridge that start cool (``iscool``), as in the real games.
FRIDGE_COOL_RATE = 0.053

# Mean share of a game's receptacles that stand at a location another receptacle shares, per room
# kind. In real games they are mostly siblings: drawers, cabinets, stove burners, shelves.
SHARED_LOCATION_RATE = {"kitchen": 0.20, "livingroom": 0.05, "bedroom": 0.17, "bathroom": 0.13}

# Share of floor objects (never inReceptacle) whose location is a receptacle's (the rest stand
# at locations of their own).
FLOOR_AT_RECEPTACLE_RATE = 0.126

# Camera horizons of the locations (loc_bar_<x>_bar_<z>_bar_<rotation>_bar_<horizon>): {degrees: count}.
LOCATION_HORIZONS = {60: 34577, 45: 31669, 30: 9521, -30: 5501, 15: 2766, 0: 2276, -15: 2197}

# Task sentences, ALFRED's goal_library templates (both are used about equally by real games).
TASK_TEMPLATES = {
    "pick_and_place_simple": ("put a {obj} in {recep}", "put some {obj} on {recep}"),
    "look_at_obj_in_light": ("look at {obj} under the {recep}", "examine the {obj} with the {recep}"),
    "pick_clean_then_place_in_recep": (
        "put a clean {obj} in {recep}",
        "clean some {obj} and put it in {recep}",
    ),
    "pick_heat_then_place_in_recep": ("put a hot {obj} in {recep}", "heat some {obj} and put it in {recep}"),
    "pick_cool_then_place_in_recep": ("put a cool {obj} in {recep}", "cool some {obj} and put it in {recep}"),
    "pick_two_obj_and_place": ("put two {obj} in {recep}", "find two {obj} and put them in {recep}"),
}

# Goal formulas, ALFRED's goal_library PDDL (lower case, as the games are read).
GOAL_PDDL = {
    "pick_and_place_simple": (
        "(and (exists (?r - receptacle) (exists (?o - object) (and (inreceptacle ?o ?r)"
        " (objecttype ?o {obj}type) (receptacletype ?r {recep}type)))))"
    ),
    "look_at_obj_in_light": (
        "(and (exists (?ot - object ?r - receptacle ?a - agent ?l - location) (and"
        " (objecttype ?ot {recep}type) (toggleable ?ot) (istoggled ?ot) (receptacleatlocation ?r ?l)"
        " (atlocation ?a ?l) (inreceptacle ?ot ?r))) (exists (?o - object ?a - agent) (and"
        " (objecttype ?o {obj}type) (holds ?a ?o))))"
    ),
    "pick_clean_then_place_in_recep": (
        "(and (exists (?r - receptacle) (exists (?o - object) (and (cleanable ?o)"
        " (objecttype ?o {obj}type) (receptacletype ?r {recep}type) (isclean ?o) (inreceptacle ?o ?r)))))"
    ),
    "pick_heat_then_place_in_recep": (
        "(and (exists (?r - receptacle) (exists (?o - object) (and (heatable ?o)"
        " (objecttype ?o {obj}type) (receptacletype ?r {recep}type) (ishot ?o) (inreceptacle ?o ?r)))))"
    ),
    "pick_cool_then_place_in_recep": (
        "(and (exists (?r - receptacle) (exists (?o - object) (and (coolable ?o)"
        " (objecttype ?o {obj}type) (receptacletype ?r {recep}type) (iscool ?o) (inreceptacle ?o ?r)))))"
    ),
    "pick_two_obj_and_place": (
        "(and (exists (?r - receptacle) (exists (?o1 - object) (and (objecttype ?o1 {obj}type)"
        " (receptacletype ?r {recep}type) (inreceptacle ?o1 ?r) (exists (?o2 - object) (and"
        " (not (= ?o1 ?o2)) (objecttype ?o2 {obj}type) (receptacletype ?r {recep}type)"
        " (inreceptacle ?o2 ?r)))))))"
    ),
}

# Receptacle type -> the object types it can hold: ALFRED's VAL_RECEPTACLE_OBJECTS for the static
# receptacles (sliced variants dropped: no game has them). Real games state (canContain R O) for
# every receptacle type R present and every object type O present with O in this table.
_CAN_CONTAIN = """
armchair: basketball book box cellphone cloth creditcard keychain laptop newspaper pillow remotecontrol
bathtubbasin: cloth dishsponge handtowel soapbar
bed: baseballbat basketball book cellphone laptop newspaper pillow tennisracket
cabinet: book bowl box candle cd cloth cup dishsponge glassbottle handtowel kettle ladle mug newspaper
    pan peppershaker plate plunger pot saltshaker soapbar soapbottle spraybottle tissuebox toiletpaper
    toiletpaperroll vase wateringcan winebottle
cart: candle cloth dishsponge handtowel mug papertowel plunger soapbar soapbottle spraybottle statue
    tissuebox toiletpaper toiletpaperroll vase
coffeemachine: mug
coffeetable: alarmclock apple baseballbat basketball book bowl box bread butterknife candle cd cellphone
    cloth creditcard cup dishsponge egg fork glassbottle handtowel kettle keychain knife ladle laptop
    lettuce mug newspaper pan papertowel pen pencil peppershaker plate pot potato remotecontrol
    saltshaker soapbar soapbottle spatula spoon spraybottle statue tennisracket tissuebox toiletpaper
    toiletpaperroll tomato vase watch wateringcan winebottle
countertop: alarmclock apple baseballbat basketball book bowl box bread butterknife candle cd cellphone
    cloth creditcard cup dishsponge egg fork glassbottle handtowel kettle keychain knife ladle laptop
    lettuce mug newspaper pan papertowel pen pencil peppershaker plate pot potato remotecontrol
    saltshaker soapbar soapbottle spatula spoon spraybottle statue tennisracket tissuebox toiletpaper
    toiletpaperroll tomato vase watch wateringcan winebottle
desk: alarmclock basketball book bowl box candle cd cellphone cloth creditcard cup glassbottle keychain
    laptop mug newspaper pen pencil plate remotecontrol soapbottle spraybottle statue tennisracket
    tissuebox toiletpaper toiletpaperroll vase watch wateringcan winebottle
diningtable: alarmclock apple baseballbat basketball book bowl box bread butterknife candle cd cellphone
    cloth creditcard cup dishsponge egg fork glassbottle handtowel kettle keychain knife ladle laptop
    lettuce mug newspaper pan papertowel pen pencil peppershaker plate pot potato remotecontrol
    saltshaker soapbar soapbottle spatula spoon spraybottle statue tennisracket tissuebox toiletpaper
    toiletpaperroll tomato vase watch wateringcan winebottle
drawer: book butterknife candle cd cellphone cloth creditcard dishsponge fork handtowel keychain knife
    ladle newspaper pen pencil peppershaker remotecontrol saltshaker soapbar soapbottle spatula spoon
    spraybottle tissuebox toiletpaper toiletpaperroll watch wateringcan
dresser: alarmclock basketball book bowl box candle cd cellphone cloth creditcard cup glassbottle
    keychain laptop mug newspaper pen pencil plate remotecontrol spraybottle statue tennisracket
    tissuebox toiletpaper toiletpaperroll vase watch wateringcan winebottle
fridge: apple bowl bread cup egg glassbottle lettuce mug pan plate pot potato tomato winebottle
garbagecan: apple bread cd cloth dishsponge egg handtowel lettuce newspaper papertowel pen pencil potato
    soapbar soapbottle spraybottle tissuebox toiletpaper toiletpaperroll tomato winebottle
handtowelholder: handtowel
laundryhamper: cloth
microwave: apple bowl bread cup egg glassbottle mug plate potato tomato
ottoman: basketball book box cellphone cloth creditcard keychain laptop newspaper pillow remotecontrol
safe: cd cellphone creditcard keychain statue vase watch
shelf: alarmclock book bowl box candle cd cellphone cloth creditcard cup dishsponge glassbottle
    handtowel kettle keychain mug newspaper papertowel pen pencil peppershaker plate pot remotecontrol
    saltshaker soapbar soapbottle spraybottle statue tissuebox toiletpaper toiletpaperroll vase watch
    wateringcan winebottle
sidetable: alarmclock apple baseballbat basketball book bowl box bread butterknife candle cd cellphone
    cloth creditcard cup dishsponge egg fork glassbottle handtowel kettle keychain knife ladle laptop
    lettuce mug newspaper pan papertowel pen pencil peppershaker plate pot potato remotecontrol
    saltshaker soapbar soapbottle spatula spoon spraybottle statue tennisracket tissuebox toiletpaper
    toiletpaperroll tomato vase watch wateringcan winebottle
sinkbasin: apple bowl butterknife cloth cup dishsponge egg fork glassbottle handtowel kettle knife ladle
    lettuce mug pan plate pot potato soapbar spatula spoon tomato
sofa: basketball book box cellphone cloth creditcard keychain laptop newspaper pillow remotecontrol
stoveburner: kettle pan pot
toaster: -
toilet: candle cloth dishsponge handtowel newspaper papertowel soapbar soapbottle spraybottle tissuebox
    toiletpaper toiletpaperroll
toiletpaperhanger: toiletpaper toiletpaperroll
towelholder: towel
tvstand: tissuebox
"""

# Tables counted over the real games (``harness.world.scene_stats`` derives them; data, not code).
SCENE_STATS_FILE = Path(__file__).with_name("scene_stats.json")
"""The counted tables, as ``python -m harness.world.scene_stats $ALFWORLD_DATA`` wrote them."""


def _int_keys(hist: dict[str, int]) -> dict[int, int]:
    return {int(n): count for n, count in hist.items()}


_STATS = json.loads(SCENE_STATS_FILE.read_text(encoding="utf-8"))

# Share of receptacles of a type that are openable (per scene; fridge and microwave always are).
OPENABLE_RATE: dict[str, float] = _STATS["OPENABLE_RATE"]

# Room kind -> receptacle type -> (share of scenes that have it, {instances: scenes}).
RECEPTACLE_POOL: dict[str, dict[str, tuple[float, dict[int, int]]]] = {
    room: {r: (share, _int_keys(hist)) for r, (share, hist) in pool.items()}
    for room, pool in _STATS["RECEPTACLE_POOL"].items()
}

# Room kind -> object type -> (share of games that have it, {instances: games}, where): where is
# {receptacle type: objects found there}, restricted to receptacles that canContain the type (for
# the lamps and plants real games put on furniture: the furniture they stand on), or None for
# the types real games mostly leave on the floor (objectAtLocation only, no inReceptacle).
OBJECT_POOL: dict[str, dict[str, tuple[float, dict[int, int], dict[str, int] | None]]] = {
    room: {o: (share, _int_keys(hist), where) for o, (share, hist, where) in pool.items()}
    for room, pool in _STATS["OBJECT_POOL"].items()
}

# Task type -> (room kind, object type, receptacle type (the lamp for look_at_obj_in_light), games):
# every goal of the shared real games.
GOALS: dict[str, tuple[tuple[str, str, str, int], ...]] = {
    task: tuple((room, obj, recep, n) for room, obj, recep, n in goals)
    for task, goals in _STATS["GOALS"].items()
}

# Task type -> {instances of the target object type: games}.
TARGET_COUNTS: dict[str, dict[int, int]] = {task: _int_keys(h) for task, h in _STATS["TARGET_COUNTS"].items()}


def _parse_can_contain(text: str) -> dict[str, frozenset[str]]:
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.strip().splitlines():
        if line.startswith(" "):
            out[current] += line.split()
        else:
            current, _, rest = line.partition(":")
            out[current] = [w for w in rest.split() if w != "-"]
    return {r: frozenset(v) for r, v in out.items()}


CAN_CONTAIN: dict[str, frozenset[str]] = _parse_can_contain(_CAN_CONTAIN)
"""Receptacle type → object types it can hold (``canContain``)."""


def type_constant(name: str) -> str:
    """The PDDL type constant of a class: ``alarmclock`` → ``alarmclocktype``."""
    return f"{name}type"
