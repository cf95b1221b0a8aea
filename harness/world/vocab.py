"""ALFWorld's vocabulary for synthetic scenes: object and receptacle types, what fits where, which
objects can be heated, cooled, cleaned, toggled, sliced or picked up, and per room kind which
receptacles and objects a scene has, how many, and where the objects lie.

Names are ALFWorld's classes in lower case (``alarmclock``, ``countertop``, ``sinkbasin``); the PDDL
type constants add ``type`` (``alarmclocktype``). The class lists, ``CAN_CONTAIN`` and the property
sets are ALFRED's own (``alfworld/gen/constants.py``: OBJECTS, RECEPTACLES, VAL_RECEPTACLE_OBJECTS,
VAL_ACTION_OBJECTS); the property sets and ``CAN_CONTAIN`` agree exactly with the facts of the real
games. The statistics below (``OPENABLE_RATE``, ``RECEPTACLE_POOL``, ``OBJECT_POOL``, ``GOALS``,
``TARGET_COUNTS``) were counted over the 1340 shared real games (json_2.1.1 train + valid_seen,
103 scenes); they are derived numbers, not game files.
"""

from __future__ import annotations


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

# Share of receptacles of a type that are openable (per scene; fridge and microwave always are).
OPENABLE_RATE: dict[str, float] = {
    "cabinet": 0.84,
    "drawer": 0.85,
    "fridge": 1.0,
    "microwave": 1.0,
    "safe": 0.83,
}

# Room kind -> receptacle type -> (share of scenes that have it, {instances: scenes}).
RECEPTACLE_POOL: dict[str, dict[str, tuple[float, dict[int, int]]]] = {
    "kitchen": {  # 27 scenes
        "cabinet": (
            1.0,
            {
                2: 1,
                4: 2,
                8: 1,
                9: 2,
                10: 3,
                11: 2,
                12: 1,
                13: 4,
                15: 1,
                16: 1,
                18: 1,
                19: 1,
                20: 3,
                21: 1,
                23: 1,
                26: 1,
                27: 1,
            },
        ),
        "coffeemachine": (1.0, {1: 27}),
        "countertop": (1.0, {1: 5, 2: 11, 3: 8, 4: 3}),
        "diningtable": (0.56, {1: 11, 2: 3, 3: 1}),
        "drawer": (0.96, {1: 2, 2: 1, 3: 6, 4: 4, 5: 3, 6: 3, 7: 1, 8: 1, 9: 1, 12: 2, 13: 1, 27: 1}),
        "fridge": (1.0, {1: 27}),
        "garbagecan": (1.0, {1: 27}),
        "microwave": (1.0, {1: 27}),
        "safe": (0.04, {1: 1}),
        "shelf": (0.15, {3: 4}),
        "sidetable": (0.11, {1: 3}),
        "sinkbasin": (1.0, {1: 27}),
        "stoveburner": (1.0, {4: 26, 6: 1}),
        "toaster": (1.0, {1: 27}),
    },
    "livingroom": {  # 24 scenes
        "armchair": (0.96, {1: 14, 2: 8, 3: 1}),
        "cabinet": (0.12, {1: 1, 4: 1, 8: 1}),
        "coffeetable": (0.88, {1: 16, 2: 5}),
        "desk": (0.04, {1: 1}),
        "diningtable": (0.5, {1: 9, 2: 3}),
        "drawer": (0.75, {1: 3, 2: 1, 4: 6, 6: 2, 7: 3, 8: 1, 12: 1, 21: 1}),
        "dresser": (0.38, {1: 8, 2: 1}),
        "garbagecan": (1.0, {1: 24}),
        "ottoman": (0.12, {1: 3}),
        "safe": (0.04, {1: 1}),
        "shelf": (0.33, {1: 1, 2: 1, 3: 1, 4: 1, 6: 1, 8: 1, 13: 1, 14: 1}),
        "sidetable": (0.75, {1: 8, 2: 4, 3: 5, 5: 1}),
        "sofa": (1.0, {1: 19, 2: 5}),
        "tvstand": (0.42, {1: 8, 2: 2}),
    },
    "bedroom": {  # 27 scenes
        "armchair": (0.22, {1: 4, 2: 1, 3: 1}),
        "bed": (1.0, {1: 23, 2: 4}),
        "cabinet": (0.15, {1: 1, 2: 1, 4: 2}),
        "countertop": (0.04, {1: 1}),
        "desk": (0.67, {1: 16, 2: 2}),
        "diningtable": (0.15, {1: 4}),
        "drawer": (0.96, {2: 7, 3: 3, 4: 2, 5: 4, 6: 2, 8: 1, 10: 2, 11: 2, 13: 1, 16: 1, 17: 1}),
        "dresser": (0.48, {1: 11, 2: 2}),
        "garbagecan": (1.0, {1: 27}),
        "laundryhamper": (0.26, {1: 7}),
        "safe": (0.15, {1: 4}),
        "shelf": (0.67, {1: 6, 2: 3, 5: 3, 6: 1, 7: 1, 8: 1, 9: 1, 12: 1, 14: 1}),
        "sidetable": (0.67, {1: 12, 2: 6}),
    },
    "bathroom": {  # 25 scenes
        "bathtubbasin": (0.72, {1: 18}),
        "cabinet": (0.48, {2: 1, 3: 1, 4: 8, 5: 1, 9: 1}),
        "cart": (0.08, {1: 2}),
        "countertop": (0.84, {1: 18, 2: 3}),
        "drawer": (0.52, {1: 2, 2: 2, 4: 4, 6: 2, 8: 3}),
        "dresser": (0.08, {1: 2}),
        "garbagecan": (1.0, {1: 25}),
        "handtowelholder": (1.0, {1: 14, 2: 10, 4: 1}),
        "shelf": (0.24, {1: 3, 2: 1, 3: 1, 4: 1}),
        "sidetable": (0.08, {1: 2}),
        "sinkbasin": (1.0, {1: 13, 2: 12}),
        "toilet": (1.0, {1: 25}),
        "toiletpaperhanger": (1.0, {1: 25}),
        "towelholder": (1.0, {1: 17, 2: 8}),
    },
}

# Room kind -> object type -> (share of games that have it, {instances: games}, where): where is
# {receptacle type: objects found there}, restricted to receptacles that canContain the type (for
# the lamps and plants real games put on furniture: the furniture they stand on), or None for
# objects real games leave on the floor (objectAtLocation only, never inReceptacle).
OBJECT_POOL: dict[str, dict[str, tuple[float, dict[int, int], dict[str, int] | None]]] = {
    "kitchen": {  # 632 games
        "apple": (
            1.0,
            {1: 225, 2: 188, 3: 205, 4: 14},
            {
                "countertop": 326,
                "diningtable": 180,
                "fridge": 302,
                "garbagecan": 158,
                "microwave": 150,
                "sidetable": 24,
                "sinkbasin": 112,
            },
        ),
        "blinds": (0.21, {1: 133}, None),
        "book": (
            0.1,
            {1: 43, 2: 16, 3: 7},
            {"cabinet": 14, "countertop": 64, "diningtable": 8, "drawer": 6, "shelf": 4},
        ),
        "bowl": (
            1.0,
            {1: 234, 2: 206, 3: 183, 4: 9},
            {
                "cabinet": 432,
                "countertop": 269,
                "diningtable": 169,
                "fridge": 249,
                "microwave": 40,
                "shelf": 19,
                "sidetable": 3,
                "sinkbasin": 38,
            },
        ),
        "bread": (
            1.0,
            {1: 354, 2: 187, 3: 85, 4: 6},
            {"countertop": 591, "diningtable": 288, "fridge": 116, "garbagecan": 5, "sidetable": 6},
        ),
        "butterknife": (
            0.97,
            {1: 247, 2: 208, 3: 153, 4: 4},
            {"countertop": 670, "diningtable": 279, "drawer": 91, "sidetable": 10, "sinkbasin": 62},
        ),
        "cellphone": (0.1, {1: 23, 2: 20, 3: 23}, {"countertop": 53, "diningtable": 20, "drawer": 58}),
        "chair": (0.85, {1: 371, 2: 144, 5: 24}, None),
        "creditcard": (0.1, {1: 13, 2: 18, 3: 30}, {"countertop": 59, "drawer": 51, "shelf": 26}),
        "cup": (
            1.0,
            {1: 212, 2: 212, 3: 185, 4: 23},
            {
                "cabinet": 280,
                "countertop": 278,
                "diningtable": 179,
                "fridge": 252,
                "microwave": 88,
                "shelf": 24,
                "sidetable": 29,
                "sinkbasin": 127,
            },
        ),
        "curtains": (0.06, {1: 40}, None),
        "dishsponge": (
            1.0,
            {1: 230, 2: 211, 3: 191},
            {
                "cabinet": 301,
                "countertop": 311,
                "diningtable": 151,
                "drawer": 236,
                "garbagecan": 65,
                "shelf": 24,
                "sidetable": 10,
                "sinkbasin": 91,
            },
        ),
        "egg": (
            1.0,
            {1: 202, 2: 208, 3: 204, 4: 18},
            {
                "countertop": 321,
                "diningtable": 151,
                "fridge": 296,
                "garbagecan": 175,
                "microwave": 137,
                "sidetable": 21,
                "sinkbasin": 150,
            },
        ),
        "fork": (
            1.0,
            {1: 211, 2: 229, 3: 186, 4: 6},
            {"countertop": 538, "diningtable": 265, "drawer": 264, "sidetable": 23, "sinkbasin": 108},
        ),
        "glassbottle": (
            0.24,
            {1: 50, 2: 47, 3: 52, 4: 1},
            {"cabinet": 106, "countertop": 89, "diningtable": 31, "fridge": 21, "shelf": 8, "sinkbasin": 23},
        ),
        "houseplant": (0.34, {1: 199, 2: 18}, {"countertop": 186, "diningtable": 49}),
        "kettle": (
            0.53,
            {1: 147, 2: 133, 3: 56, 4: 1},
            {
                "cabinet": 134,
                "countertop": 144,
                "diningtable": 45,
                "shelf": 1,
                "sinkbasin": 4,
                "stoveburner": 253,
            },
        ),
        "knife": (
            1.0,
            {1: 228, 2: 206, 3: 197, 4: 1},
            {"countertop": 577, "diningtable": 255, "drawer": 263, "sidetable": 10, "sinkbasin": 55},
        ),
        "ladle": (
            0.34,
            {1: 75, 2: 81, 3: 57},
            {"cabinet": 96, "countertop": 162, "diningtable": 48, "drawer": 72, "sinkbasin": 5},
        ),
        "lettuce": (
            1.0,
            {1: 286, 2: 211, 3: 135},
            {
                "countertop": 470,
                "diningtable": 313,
                "fridge": 222,
                "garbagecan": 10,
                "sidetable": 14,
                "sinkbasin": 48,
            },
        ),
        "lightswitch": (1.0, {1: 632}, None),
        "mirror": (0.1, {1: 63}, None),
        "mug": (
            1.0,
            {1: 227, 2: 209, 3: 186, 4: 10},
            {
                "cabinet": 225,
                "coffeemachine": 229,
                "countertop": 195,
                "diningtable": 108,
                "fridge": 195,
                "microwave": 111,
                "shelf": 22,
                "sidetable": 9,
                "sinkbasin": 86,
            },
        ),
        "pan": (
            1.0,
            {1: 433, 2: 178, 3: 21},
            {
                "cabinet": 86,
                "countertop": 343,
                "diningtable": 41,
                "fridge": 51,
                "sinkbasin": 1,
                "stoveburner": 326,
            },
        ),
        # "papertowelroll": real games put it where it cannot be put back (no canContain): left out
        "pen": (
            0.07,
            {1: 14, 2: 12, 3: 17},
            {"countertop": 35, "diningtable": 37, "drawer": 14, "garbagecan": 3},
        ),
        "pencil": (
            0.07,
            {1: 20, 2: 13, 3: 10},
            {"countertop": 28, "diningtable": 17, "drawer": 26, "garbagecan": 5},
        ),
        "peppershaker": (
            1.0,
            {1: 201, 2: 190, 3: 241},
            {
                "cabinet": 420,
                "countertop": 443,
                "diningtable": 198,
                "drawer": 183,
                "shelf": 36,
                "sidetable": 24,
            },
        ),
        "plate": (
            1.0,
            {1: 265, 2: 208, 3: 158, 4: 1},
            {
                "cabinet": 455,
                "countertop": 323,
                "diningtable": 169,
                "fridge": 88,
                "microwave": 3,
                "shelf": 16,
                "sidetable": 1,
                "sinkbasin": 27,
            },
        ),
        "pot": (
            1.0,
            {1: 329, 2: 244, 3: 59},
            {
                "cabinet": 47,
                "countertop": 156,
                "diningtable": 44,
                "fridge": 48,
                "shelf": 4,
                "sinkbasin": 6,
                "stoveburner": 687,
            },
        ),
        "potato": (
            1.0,
            {1: 235, 2: 198, 3: 199},
            {
                "countertop": 342,
                "diningtable": 180,
                "fridge": 325,
                "garbagecan": 78,
                "microwave": 125,
                "sidetable": 16,
                "sinkbasin": 136,
            },
        ),
        "saltshaker": (
            1.0,
            {1: 225, 2: 222, 3: 185},
            {
                "cabinet": 434,
                "countertop": 369,
                "diningtable": 199,
                "drawer": 165,
                "shelf": 29,
                "sidetable": 28,
            },
        ),
        "sink": (1.0, {1: 632}, None),
        "soapbottle": (
            1.0,
            {1: 230, 2: 210, 3: 192},
            {
                "cabinet": 355,
                "countertop": 397,
                "diningtable": 243,
                "drawer": 16,
                "garbagecan": 143,
                "shelf": 27,
                "sidetable": 17,
            },
        ),
        "spatula": (
            1.0,
            {1: 213, 2: 234, 3: 185},
            {"countertop": 533, "diningtable": 284, "drawer": 275, "sidetable": 9, "sinkbasin": 104},
        ),
        "spoon": (
            1.0,
            {1: 200, 2: 208, 3: 224},
            {"countertop": 473, "diningtable": 264, "drawer": 348, "sidetable": 22, "sinkbasin": 131},
        ),
        "spraybottle": (
            0.06,
            {1: 16, 2: 13, 3: 10},
            {"cabinet": 28, "countertop": 28, "diningtable": 6, "garbagecan": 10},
        ),
        "statue": (0.13, {1: 34, 2: 41, 3: 9}, {"countertop": 74, "diningtable": 9, "shelf": 60}),
        "stoveknob": (1.0, {4: 613, 6: 19}, None),
        "tomato": (
            1.0,
            {1: 206, 2: 214, 3: 209, 4: 3},
            {
                "countertop": 381,
                "diningtable": 216,
                "fridge": 445,
                "garbagecan": 115,
                "sidetable": 19,
                "sinkbasin": 84,
            },
        ),
        "vase": (0.13, {2: 43, 3: 41}, {"cabinet": 61, "countertop": 72, "diningtable": 4, "shelf": 72}),
        "window": (0.91, {1: 379, 2: 179, 3: 19}, None),
        "winebottle": (
            0.39,
            {1: 90, 2: 74, 3: 83},
            {
                "cabinet": 120,
                "countertop": 180,
                "diningtable": 122,
                "fridge": 10,
                "garbagecan": 37,
                "shelf": 18,
            },
        ),
    },
    "livingroom": {  # 130 games
        "book": (
            0.38,
            {1: 21, 2: 16, 3: 12, 4: 1},
            {
                "armchair": 10,
                "coffeetable": 24,
                "diningtable": 10,
                "drawer": 4,
                "dresser": 25,
                "sidetable": 12,
                "sofa": 7,
            },
        ),
        "boots": (0.17, {1: 22}, None),
        "bowl": (
            0.11,
            {1: 5, 2: 4, 3: 4, 4: 1},
            {"coffeetable": 5, "diningtable": 14, "shelf": 3, "sidetable": 3},
        ),
        "box": (
            1.0,
            {1: 97, 2: 28, 3: 5},
            {
                "armchair": 2,
                "cabinet": 3,
                "coffeetable": 34,
                "desk": 1,
                "diningtable": 37,
                "dresser": 8,
                "ottoman": 1,
                "shelf": 1,
                "sidetable": 13,
                "sofa": 34,
            },
        ),
        "candle": (0.07, {1: 2, 2: 4, 3: 3}, {"coffeetable": 8, "diningtable": 3, "sidetable": 6}),
        "cellphone": (
            0.27,
            {1: 12, 2: 13, 3: 10},
            {
                "armchair": 5,
                "coffeetable": 15,
                "diningtable": 7,
                "drawer": 6,
                "dresser": 13,
                "ottoman": 1,
                "sidetable": 14,
                "sofa": 6,
            },
        ),
        "chair": (0.8, {1: 25, 2: 15, 3: 12, 4: 21, 5: 3, 6: 17, 7: 1, 8: 10}, None),
        "creditcard": (
            1.0,
            {1: 28, 2: 41, 3: 53, 4: 8},
            {
                "armchair": 33,
                "coffeetable": 39,
                "diningtable": 34,
                "drawer": 37,
                "dresser": 29,
                "ottoman": 3,
                "shelf": 11,
                "sidetable": 43,
                "sofa": 52,
            },
        ),
        "curtains": (0.35, {1: 42, 2: 3, 3: 1}, None),
        "desklamp": (0.39, {1: 51}, {"coffeetable": 3, "sidetable": 48}),
        "floorlamp": (1.0, {1: 130}, None),
        "houseplant": (
            1.0,
            {1: 125, 2: 5},
            {"coffeetable": 14, "diningtable": 8, "dresser": 9, "sidetable": 63, "tvstand": 3},
        ),
        "keychain": (
            1.0,
            {1: 47, 2: 39, 3: 44},
            {
                "armchair": 14,
                "coffeetable": 30,
                "diningtable": 13,
                "drawer": 38,
                "dresser": 19,
                "shelf": 5,
                "sidetable": 29,
                "sofa": 36,
            },
        ),
        "laptop": (
            1.0,
            {1: 80, 2: 38, 3: 12},
            {
                "armchair": 14,
                "coffeetable": 37,
                "diningtable": 41,
                "dresser": 11,
                "ottoman": 3,
                "sidetable": 22,
                "sofa": 55,
            },
        ),
        "lightswitch": (1.0, {1: 130}, None),
        "mirror": (0.08, {1: 11}, None),
        "newspaper": (
            0.57,
            {1: 25, 2: 26, 3: 21, 4: 2},
            {
                "armchair": 2,
                "coffeetable": 23,
                "diningtable": 21,
                "drawer": 4,
                "dresser": 14,
                "ottoman": 1,
                "shelf": 19,
                "sidetable": 32,
                "sofa": 25,
            },
        ),
        "painting": (1.0, {1: 51, 2: 44, 3: 18, 4: 17}, None),
        "pen": (
            0.25,
            {1: 13, 2: 8, 3: 11},
            {
                "coffeetable": 24,
                "diningtable": 4,
                "drawer": 1,
                "dresser": 9,
                "garbagecan": 3,
                "shelf": 1,
                "sidetable": 16,
            },
        ),
        "pencil": (
            0.19,
            {1: 7, 2: 6, 3: 12},
            {
                "coffeetable": 20,
                "diningtable": 1,
                "drawer": 2,
                "dresser": 3,
                "garbagecan": 3,
                "shelf": 2,
                "sidetable": 19,
            },
        ),
        "pillow": (1.0, {1: 112, 2: 18}, {"armchair": 33, "ottoman": 1, "sofa": 114}),
        "plate": (
            0.27,
            {1: 21, 2: 9, 3: 5},
            {"coffeetable": 11, "diningtable": 33, "shelf": 4, "sidetable": 3},
        ),
        "remotecontrol": (
            1.0,
            {1: 37, 2: 42, 3: 50, 4: 1},
            {
                "armchair": 21,
                "coffeetable": 57,
                "diningtable": 23,
                "drawer": 15,
                "dresser": 34,
                "ottoman": 2,
                "shelf": 4,
                "sidetable": 29,
                "sofa": 46,
            },
        ),
        "statue": (
            0.98,
            {1: 24, 2: 63, 3: 35, 4: 1, 7: 4},
            {"coffeetable": 70, "diningtable": 55, "dresser": 27, "shelf": 33, "sidetable": 78},
        ),
        "television": (1.0, {1: 130}, {"coffeetable": 5, "dresser": 56, "tvstand": 32}),
        "tissuebox": (
            0.39,
            {1: 16, 2: 18, 3: 17},
            {
                "coffeetable": 32,
                "diningtable": 13,
                "drawer": 5,
                "dresser": 1,
                "garbagecan": 1,
                "shelf": 14,
                "sidetable": 32,
                "tvstand": 5,
            },
        ),
        "vase": (
            0.53,
            {1: 10, 2: 17, 3: 26, 4: 12, 6: 4},
            {"cabinet": 2, "coffeetable": 24, "diningtable": 28, "dresser": 26, "shelf": 51, "sidetable": 26},
        ),
        "watch": (
            0.5,
            {1: 15, 2: 23, 3: 27},
            {"coffeetable": 34, "diningtable": 20, "drawer": 36, "dresser": 18, "shelf": 7, "sidetable": 18},
        ),
        "wateringcan": (0.54, {1: 69, 2: 1}, None),
        "window": (1.0, {1: 20, 2: 64, 3: 21, 4: 12, 6: 9, 7: 3, 8: 1}, None),
    },
    "bedroom": {  # 417 games
        "alarmclock": (
            1.0,
            {1: 207, 2: 132, 3: 71, 4: 7},
            {"countertop": 3, "desk": 242, "diningtable": 42, "dresser": 116, "shelf": 161, "sidetable": 142},
        ),
        "baseballbat": (0.39, {1: 157, 2: 4}, None),
        "basketball": (0.37, {1: 156}, None),
        "blinds": (0.91, {1: 218, 2: 129, 3: 20, 4: 13}, None),
        "book": (
            1.0,
            {1: 170, 2: 132, 3: 101, 4: 14},
            {
                "armchair": 12,
                "bed": 416,
                "cabinet": 18,
                "countertop": 2,
                "desk": 159,
                "diningtable": 15,
                "drawer": 87,
                "dresser": 36,
                "shelf": 17,
                "sidetable": 31,
            },
        ),
        "boots": (0.1, {1: 40}, None),
        "bowl": (
            0.46,
            {1: 115, 2: 46, 3: 26, 4: 4},
            {"countertop": 6, "desk": 128, "diningtable": 17, "dresser": 41, "shelf": 93, "sidetable": 16},
        ),
        "box": (0.45, {1: 188}, None),
        "cd": (
            1.0,
            {1: 128, 2: 120, 3: 154, 4: 15},
            {
                "cabinet": 11,
                "desk": 161,
                "diningtable": 40,
                "drawer": 223,
                "dresser": 113,
                "garbagecan": 67,
                "safe": 6,
                "shelf": 56,
                "sidetable": 95,
            },
        ),
        "cellphone": (
            1.0,
            {1: 128, 2: 145, 3: 125, 4: 19},
            {
                "armchair": 19,
                "bed": 266,
                "countertop": 3,
                "desk": 156,
                "diningtable": 23,
                "drawer": 147,
                "dresser": 84,
                "safe": 22,
                "shelf": 66,
                "sidetable": 83,
            },
        ),
        "chair": (0.79, {1: 259, 2: 61, 3: 11}, None),
        "cloth": (0.16, {1: 21, 2: 35, 3: 11}, None),
        "creditcard": (
            1.0,
            {1: 122, 2: 141, 3: 151, 4: 3},
            {
                "armchair": 21,
                "countertop": 6,
                "desk": 160,
                "diningtable": 25,
                "drawer": 246,
                "dresser": 103,
                "shelf": 168,
                "sidetable": 140,
            },
        ),
        "curtains": (0.06, {1: 4, 2: 22}, None),
        "desklamp": (0.77, {1: 296, 2: 26}, {"desk": 130, "dresser": 87, "shelf": 39, "sidetable": 92}),
        "footstool": (0.05, {1: 19}, None),
        "houseplant": (0.25, {1: 105}, {"desk": 31, "dresser": 8, "shelf": 48}),
        "keychain": (
            1.0,
            {1: 129, 2: 135, 3: 151, 4: 2},
            {
                "armchair": 16,
                "countertop": 1,
                "desk": 160,
                "diningtable": 32,
                "drawer": 226,
                "dresser": 105,
                "safe": 35,
                "shelf": 137,
                "sidetable": 104,
            },
        ),
        "laptop": (
            1.0,
            {1: 215, 2: 152, 3: 48, 4: 2},
            {"armchair": 5, "bed": 498, "countertop": 5, "desk": 123, "diningtable": 13, "dresser": 27},
        ),
        "laundryhamperlid": (0.27, {1: 113}, None),
        "lightswitch": (1.0, {1: 417}, None),
        "mirror": (1.0, {1: 417}, None),
        "mug": (
            0.5,
            {1: 80, 2: 68, 3: 60},
            {
                "cabinet": 14,
                "countertop": 5,
                "desk": 141,
                "diningtable": 37,
                "dresser": 61,
                "shelf": 73,
                "sidetable": 53,
            },
        ),
        "painting": (0.39, {1: 89, 2: 43, 3: 29}, None),
        "pen": (
            1.0,
            {1: 112, 2: 145, 3: 155, 4: 5},
            {
                "countertop": 7,
                "desk": 253,
                "diningtable": 45,
                "drawer": 169,
                "dresser": 131,
                "garbagecan": 15,
                "shelf": 143,
                "sidetable": 120,
            },
        ),
        "pencil": (
            1.0,
            {1: 130, 2: 157, 3: 125, 4: 5},
            {
                "countertop": 8,
                "desk": 206,
                "diningtable": 38,
                "drawer": 165,
                "dresser": 98,
                "garbagecan": 39,
                "shelf": 133,
                "sidetable": 150,
            },
        ),
        "pillow": (1.0, {1: 192, 2: 192, 3: 33}, {"armchair": 6, "bed": 669}),
        "poster": (0.23, {1: 68, 2: 11, 4: 15}, None),
        "remotecontrol": (
            0.1,
            {1: 13, 2: 13, 3: 15},
            {
                "armchair": 6,
                "countertop": 8,
                "desk": 21,
                "diningtable": 3,
                "drawer": 25,
                "dresser": 2,
                "shelf": 1,
                "sidetable": 11,
            },
        ),
        "statue": (0.13, {1: 31, 2: 17, 3: 8}, {"desk": 24, "dresser": 24, "shelf": 34, "sidetable": 3}),
        # "teddybear": real games put it where it cannot be put back (no canContain): left out
        "television": (0.1, {1: 41}, None),
        "tennisracket": (0.4, {1: 167}, None),
        "tissuebox": (
            0.12,
            {1: 18, 2: 18, 3: 12},
            {"desk": 36, "diningtable": 12, "drawer": 19, "dresser": 3, "shelf": 13, "sidetable": 7},
        ),
        "vase": (0.06, {1: 4, 2: 14, 3: 6, 4: 1}, {"desk": 7, "dresser": 18, "shelf": 24, "sidetable": 5}),
        "watch": (
            0.06,
            {1: 7, 2: 12, 3: 4},
            {"desk": 7, "diningtable": 6, "drawer": 14, "dresser": 8, "shelf": 7, "sidetable": 1},
        ),
        "window": (1.0, {1: 233, 2: 151, 3: 20, 4: 13}, None),
    },
    "bathroom": {  # 161 games
        "bathtub": (0.77, {1: 124}, None),
        "candle": (
            1.0,
            {1: 45, 2: 48, 3: 55, 4: 13},
            {
                "cabinet": 31,
                "cart": 4,
                "countertop": 110,
                "drawer": 44,
                "dresser": 4,
                "shelf": 23,
                "sidetable": 3,
                "toilet": 97,
            },
        ),
        "cloth": (
            1.0,
            {1: 43, 2: 54, 3: 54, 4: 10},
            {
                "bathtubbasin": 109,
                "cabinet": 65,
                "cart": 8,
                "countertop": 79,
                "drawer": 36,
                "dresser": 5,
                "shelf": 18,
                "sinkbasin": 19,
                "toilet": 12,
            },
        ),
        "dishsponge": (
            0.24,
            {1: 12, 2: 12, 3: 8, 4: 7},
            {
                "bathtubbasin": 22,
                "cabinet": 5,
                "cart": 6,
                "countertop": 16,
                "drawer": 11,
                "garbagecan": 3,
                "shelf": 7,
                "sinkbasin": 3,
                "toilet": 10,
            },
        ),
        "floorlamp": (0.08, {2: 13}, None),
        "footstool": (0.04, {1: 7}, None),
        "handtowel": (1.0, {1: 128, 2: 32, 3: 1}, {"handtowelholder": 195}),
        "lightswitch": (1.0, {1: 161}, None),
        "mirror": (1.0, {1: 157, 2: 4}, None),
        "painting": (0.03, {1: 5}, None),
        # "papertowelroll": real games put it where it cannot be put back (no canContain): left out
        "plunger": (1.0, {1: 161}, None),
        "scrubbrush": (1.0, {1: 161}, None),
        "showerdoor": (0.55, {1: 89}, None),
        "showerglass": (0.43, {1: 70}, None),
        "sink": (1.0, {1: 102, 2: 59}, None),
        "soapbar": (
            1.0,
            {1: 61, 2: 47, 3: 50, 4: 3},
            {
                "bathtubbasin": 37,
                "cabinet": 27,
                "cart": 4,
                "countertop": 57,
                "drawer": 39,
                "garbagecan": 13,
                "shelf": 15,
                "sidetable": 4,
                "sinkbasin": 47,
                "toilet": 49,
            },
        ),
        "soapbottle": (
            1.0,
            {1: 54, 2: 59, 3: 48},
            {
                "cabinet": 67,
                "cart": 5,
                "countertop": 76,
                "drawer": 6,
                "garbagecan": 32,
                "shelf": 30,
                "sidetable": 1,
                "toilet": 58,
            },
        ),
        "spraybottle": (
            1.0,
            {1: 45, 2: 56, 3: 58, 4: 2},
            {
                "cabinet": 53,
                "cart": 20,
                "countertop": 102,
                "drawer": 1,
                "dresser": 10,
                "garbagecan": 31,
                "shelf": 32,
                "sidetable": 5,
                "toilet": 85,
            },
        ),
        "tissuebox": (
            0.27,
            {1: 24, 2: 9, 3: 10, 4: 1},
            {
                "cabinet": 1,
                "cart": 4,
                "countertop": 21,
                "drawer": 18,
                "shelf": 28,
                "sidetable": 2,
                "toilet": 2,
            },
        ),
        "toiletpaper": (
            1.0,
            {2: 109, 3: 51, 4: 1},
            {
                "cabinet": 41,
                "cart": 3,
                "countertop": 59,
                "drawer": 37,
                "dresser": 6,
                "garbagecan": 27,
                "shelf": 23,
                "sidetable": 3,
                "toilet": 69,
                "toiletpaperhanger": 40,
            },
        ),
        "towel": (1.0, {1: 133, 2: 28}, {"towelholder": 189}),
        "window": (0.66, {1: 76, 2: 23, 4: 7}, None),
    },
}

# Task type -> (room kind, object type, receptacle type (the lamp for look_at_obj_in_light), games):
# every goal of the shared real games.
GOALS: dict[str, tuple[tuple[str, str, str, int], ...]] = {
    "look_at_obj_in_light": (
        ("livingroom", "box", "desklamp", 6),
        ("livingroom", "laptop", "desklamp", 3),
        ("livingroom", "newspaper", "desklamp", 14),
        ("livingroom", "pillow", "desklamp", 8),
        ("livingroom", "statue", "desklamp", 1),
        ("bedroom", "alarmclock", "desklamp", 22),
        ("bedroom", "book", "desklamp", 15),
        ("bedroom", "bowl", "desklamp", 10),
        ("bedroom", "cd", "desklamp", 34),
        ("bedroom", "cellphone", "desklamp", 9),
        ("bedroom", "creditcard", "desklamp", 5),
        ("bedroom", "keychain", "desklamp", 5),
        ("bedroom", "laptop", "desklamp", 18),
        ("bedroom", "mug", "desklamp", 4),
        ("bedroom", "pen", "desklamp", 18),
        ("bedroom", "pencil", "desklamp", 23),
        ("bedroom", "pillow", "desklamp", 17),
        ("bedroom", "vase", "desklamp", 1),
    ),
    "pick_and_place_simple": (
        ("kitchen", "bowl", "fridge", 2),
        ("kitchen", "bread", "microwave", 3),
        ("kitchen", "butterknife", "drawer", 2),
        ("kitchen", "butterknife", "sidetable", 2),
        ("kitchen", "egg", "microwave", 1),
        ("kitchen", "knife", "sidetable", 1),
        ("kitchen", "tomato", "microwave", 1),
        ("kitchen", "winebottle", "shelf", 1),
        ("livingroom", "book", "armchair", 5),
        ("livingroom", "book", "coffeetable", 2),
        ("livingroom", "book", "sofa", 9),
        ("livingroom", "bowl", "coffeetable", 3),
        ("livingroom", "box", "armchair", 7),
        ("livingroom", "box", "diningtable", 2),
        ("livingroom", "box", "dresser", 2),
        ("livingroom", "box", "sofa", 5),
        ("livingroom", "creditcard", "armchair", 8),
        ("livingroom", "creditcard", "drawer", 1),
        ("livingroom", "newspaper", "sofa", 1),
        ("livingroom", "remotecontrol", "armchair", 1),
        ("livingroom", "remotecontrol", "sofa", 1),
        ("livingroom", "vase", "coffeetable", 1),
        ("livingroom", "watch", "sidetable", 1),
        ("bedroom", "alarmclock", "desk", 8),
        ("bedroom", "alarmclock", "diningtable", 2),
        ("bedroom", "alarmclock", "dresser", 2),
        ("bedroom", "alarmclock", "shelf", 5),
        ("bedroom", "book", "armchair", 3),
        ("bedroom", "book", "bed", 4),
        ("bedroom", "book", "cabinet", 3),
        ("bedroom", "book", "desk", 9),
        ("bedroom", "book", "dresser", 2),
        ("bedroom", "book", "sidetable", 3),
        ("bedroom", "cd", "diningtable", 3),
        ("bedroom", "cd", "dresser", 4),
        ("bedroom", "cd", "safe", 5),
        ("bedroom", "cd", "shelf", 8),
        ("bedroom", "cd", "sidetable", 4),
        ("bedroom", "cellphone", "armchair", 5),
        ("bedroom", "cellphone", "bed", 9),
        ("bedroom", "cellphone", "desk", 8),
        ("bedroom", "cellphone", "diningtable", 1),
        ("bedroom", "cellphone", "drawer", 4),
        ("bedroom", "cellphone", "dresser", 5),
        ("bedroom", "cellphone", "safe", 5),
        ("bedroom", "cellphone", "shelf", 1),
        ("bedroom", "cellphone", "sidetable", 4),
        ("bedroom", "mug", "dresser", 1),
        ("bedroom", "mug", "sidetable", 2),
        ("bedroom", "pencil", "desk", 1),
        ("bedroom", "pencil", "dresser", 1),
        ("bathroom", "candle", "cabinet", 6),
        ("bathroom", "candle", "cart", 4),
        ("bathroom", "candle", "countertop", 5),
        ("bathroom", "candle", "drawer", 2),
        ("bathroom", "candle", "dresser", 2),
        ("bathroom", "candle", "sidetable", 2),
        ("bathroom", "candle", "toilet", 22),
        ("bathroom", "cloth", "cart", 3),
        ("bathroom", "cloth", "countertop", 2),
        ("bathroom", "cloth", "drawer", 2),
        ("bathroom", "cloth", "toilet", 1),
        ("bathroom", "soapbar", "cart", 1),
        ("bathroom", "soapbottle", "cabinet", 1),
        ("bathroom", "soapbottle", "countertop", 1),
        ("bathroom", "spraybottle", "cabinet", 1),
        ("bathroom", "spraybottle", "garbagecan", 1),
        ("bathroom", "spraybottle", "toilet", 2),
        ("bathroom", "tissuebox", "toilet", 1),
        ("bathroom", "toiletpaper", "toiletpaperhanger", 2),
    ),
    "pick_clean_then_place_in_recep": (
        ("kitchen", "apple", "diningtable", 7),
        ("kitchen", "apple", "fridge", 3),
        ("kitchen", "apple", "microwave", 7),
        ("kitchen", "apple", "sidetable", 2),
        ("kitchen", "bowl", "cabinet", 1),
        ("kitchen", "bowl", "diningtable", 4),
        ("kitchen", "bowl", "fridge", 7),
        ("kitchen", "bowl", "microwave", 3),
        ("kitchen", "bowl", "shelf", 4),
        ("kitchen", "butterknife", "countertop", 7),
        ("kitchen", "butterknife", "diningtable", 6),
        ("kitchen", "butterknife", "drawer", 9),
        ("kitchen", "butterknife", "sidetable", 3),
        ("kitchen", "cup", "cabinet", 2),
        ("kitchen", "cup", "microwave", 6),
        ("kitchen", "cup", "shelf", 4),
        ("kitchen", "cup", "sidetable", 3),
        ("kitchen", "dishsponge", "shelf", 3),
        ("kitchen", "egg", "countertop", 2),
        ("kitchen", "egg", "diningtable", 5),
        ("kitchen", "egg", "fridge", 2),
        ("kitchen", "egg", "garbagecan", 1),
        ("kitchen", "egg", "microwave", 5),
        ("kitchen", "egg", "sidetable", 2),
        ("kitchen", "fork", "countertop", 3),
        ("kitchen", "fork", "diningtable", 4),
        ("kitchen", "fork", "drawer", 11),
        ("kitchen", "fork", "sidetable", 5),
        ("kitchen", "kettle", "cabinet", 14),
        ("kitchen", "kettle", "countertop", 5),
        ("kitchen", "kettle", "diningtable", 8),
        ("kitchen", "kettle", "shelf", 4),
        ("kitchen", "kettle", "stoveburner", 5),
        ("kitchen", "ladle", "countertop", 2),
        ("kitchen", "ladle", "diningtable", 3),
        ("kitchen", "lettuce", "countertop", 1),
        ("kitchen", "lettuce", "fridge", 1),
        ("kitchen", "mug", "coffeemachine", 1),
        ("kitchen", "plate", "countertop", 1),
        ("kitchen", "plate", "fridge", 1),
        ("kitchen", "spatula", "diningtable", 1),
        ("kitchen", "tomato", "countertop", 1),
        ("bathroom", "cloth", "cabinet", 3),
        ("bathroom", "cloth", "cart", 3),
        ("bathroom", "cloth", "countertop", 5),
        ("bathroom", "cloth", "drawer", 11),
        ("bathroom", "cloth", "dresser", 1),
        ("bathroom", "cloth", "shelf", 3),
        ("bathroom", "cloth", "toilet", 12),
        ("bathroom", "dishsponge", "cabinet", 1),
        ("bathroom", "dishsponge", "cart", 3),
        ("bathroom", "dishsponge", "countertop", 4),
        ("bathroom", "dishsponge", "drawer", 3),
        ("bathroom", "dishsponge", "shelf", 3),
        ("bathroom", "dishsponge", "toilet", 2),
        ("bathroom", "soapbar", "cabinet", 1),
        ("bathroom", "soapbar", "drawer", 1),
        ("bathroom", "soapbar", "toilet", 2),
    ),
    "pick_cool_then_place_in_recep": (
        ("kitchen", "apple", "countertop", 4),
        ("kitchen", "apple", "diningtable", 4),
        ("kitchen", "apple", "garbagecan", 9),
        ("kitchen", "apple", "microwave", 14),
        ("kitchen", "apple", "sidetable", 2),
        ("kitchen", "bowl", "cabinet", 11),
        ("kitchen", "bowl", "countertop", 6),
        ("kitchen", "bowl", "diningtable", 4),
        ("kitchen", "bowl", "microwave", 6),
        ("kitchen", "bowl", "shelf", 7),
        ("kitchen", "bread", "countertop", 16),
        ("kitchen", "bread", "diningtable", 10),
        ("kitchen", "bread", "microwave", 2),
        ("kitchen", "cup", "cabinet", 8),
        ("kitchen", "cup", "diningtable", 4),
        ("kitchen", "cup", "microwave", 12),
        ("kitchen", "cup", "shelf", 9),
        ("kitchen", "cup", "sidetable", 3),
        ("kitchen", "egg", "countertop", 6),
        ("kitchen", "egg", "garbagecan", 2),
        ("kitchen", "egg", "microwave", 16),
        ("kitchen", "egg", "sidetable", 2),
        ("kitchen", "lettuce", "countertop", 12),
        ("kitchen", "lettuce", "diningtable", 15),
        ("kitchen", "lettuce", "garbagecan", 12),
        ("kitchen", "mug", "cabinet", 9),
        ("kitchen", "mug", "coffeemachine", 7),
        ("kitchen", "pan", "diningtable", 1),
        ("kitchen", "pan", "stoveburner", 2),
        ("kitchen", "plate", "cabinet", 2),
        ("kitchen", "plate", "countertop", 1),
        ("kitchen", "pot", "diningtable", 1),
        ("kitchen", "tomato", "countertop", 2),
        ("kitchen", "tomato", "garbagecan", 1),
        ("kitchen", "tomato", "microwave", 2),
        ("kitchen", "winebottle", "diningtable", 1),
    ),
    "pick_heat_then_place_in_recep": (
        ("kitchen", "apple", "countertop", 5),
        ("kitchen", "apple", "diningtable", 6),
        ("kitchen", "apple", "fridge", 13),
        ("kitchen", "apple", "garbagecan", 7),
        ("kitchen", "apple", "sidetable", 5),
        ("kitchen", "bread", "countertop", 2),
        ("kitchen", "bread", "diningtable", 2),
        ("kitchen", "bread", "fridge", 2),
        ("kitchen", "bread", "garbagecan", 2),
        ("kitchen", "cup", "cabinet", 23),
        ("kitchen", "cup", "countertop", 8),
        ("kitchen", "cup", "diningtable", 2),
        ("kitchen", "cup", "fridge", 9),
        ("kitchen", "cup", "shelf", 3),
        ("kitchen", "cup", "sidetable", 3),
        ("kitchen", "egg", "countertop", 8),
        ("kitchen", "egg", "diningtable", 8),
        ("kitchen", "egg", "fridge", 23),
        ("kitchen", "egg", "garbagecan", 19),
        ("kitchen", "egg", "sidetable", 9),
        ("kitchen", "mug", "cabinet", 31),
        ("kitchen", "mug", "coffeemachine", 17),
        ("kitchen", "mug", "sidetable", 1),
        ("kitchen", "plate", "cabinet", 1),
        ("kitchen", "plate", "diningtable", 1),
        ("kitchen", "potato", "fridge", 2),
        ("kitchen", "tomato", "diningtable", 1),
        ("kitchen", "tomato", "fridge", 3),
    ),
    "pick_two_obj_and_place": (
        ("kitchen", "bread", "fridge", 2),
        ("kitchen", "cup", "cabinet", 2),
        ("kitchen", "cup", "countertop", 1),
        ("kitchen", "glassbottle", "shelf", 1),
        ("kitchen", "knife", "drawer", 1),
        ("kitchen", "pan", "countertop", 1),
        ("kitchen", "spatula", "drawer", 1),
        ("livingroom", "book", "sofa", 2),
        ("livingroom", "bowl", "coffeetable", 2),
        ("livingroom", "box", "coffeetable", 4),
        ("livingroom", "cellphone", "armchair", 2),
        ("livingroom", "cellphone", "dresser", 3),
        ("livingroom", "cellphone", "sofa", 4),
        ("livingroom", "creditcard", "armchair", 18),
        ("livingroom", "creditcard", "coffeetable", 2),
        ("livingroom", "creditcard", "drawer", 2),
        ("livingroom", "creditcard", "dresser", 1),
        ("livingroom", "creditcard", "sofa", 5),
        ("livingroom", "newspaper", "drawer", 1),
        ("livingroom", "remotecontrol", "ottoman", 1),
        ("livingroom", "vase", "desk", 1),
        ("livingroom", "watch", "dresser", 1),
        ("bedroom", "alarmclock", "desk", 9),
        ("bedroom", "alarmclock", "dresser", 5),
        ("bedroom", "alarmclock", "shelf", 2),
        ("bedroom", "alarmclock", "sidetable", 2),
        ("bedroom", "book", "bed", 10),
        ("bedroom", "book", "desk", 8),
        ("bedroom", "book", "diningtable", 3),
        ("bedroom", "book", "drawer", 4),
        ("bedroom", "book", "dresser", 5),
        ("bedroom", "bowl", "desk", 3),
        ("bedroom", "bowl", "dresser", 2),
        ("bedroom", "cd", "desk", 2),
        ("bedroom", "cd", "drawer", 7),
        ("bedroom", "cd", "dresser", 2),
        ("bedroom", "cd", "garbagecan", 4),
        ("bedroom", "cd", "safe", 1),
        ("bedroom", "cd", "shelf", 5),
        ("bedroom", "cd", "sidetable", 1),
        ("bedroom", "cellphone", "bed", 14),
        ("bedroom", "cellphone", "desk", 1),
        ("bedroom", "cellphone", "diningtable", 3),
        ("bedroom", "cellphone", "drawer", 5),
        ("bedroom", "cellphone", "dresser", 4),
        ("bedroom", "cellphone", "safe", 2),
        ("bedroom", "cellphone", "shelf", 3),
        ("bedroom", "cellphone", "sidetable", 1),
        ("bedroom", "creditcard", "armchair", 3),
        ("bedroom", "creditcard", "desk", 2),
        ("bedroom", "creditcard", "diningtable", 4),
        ("bedroom", "creditcard", "dresser", 2),
        ("bedroom", "creditcard", "safe", 2),
        ("bedroom", "creditcard", "shelf", 1),
        ("bedroom", "creditcard", "sidetable", 2),
        ("bathroom", "candle", "cabinet", 11),
        ("bathroom", "candle", "countertop", 2),
        ("bathroom", "candle", "drawer", 10),
        ("bathroom", "candle", "shelf", 2),
        ("bathroom", "candle", "toilet", 3),
        ("bathroom", "cloth", "drawer", 2),
        ("bathroom", "cloth", "shelf", 1),
        ("bathroom", "cloth", "toilet", 2),
        ("bathroom", "soapbar", "garbagecan", 2),
        ("bathroom", "spraybottle", "cabinet", 1),
        ("bathroom", "spraybottle", "garbagecan", 1),
        ("bathroom", "spraybottle", "toilet", 2),
        ("bathroom", "tissuebox", "toilet", 1),
        ("bathroom", "toiletpaper", "drawer", 1),
        ("bathroom", "toiletpaper", "toilet", 1),
    ),
}

# Task type -> {instances of the target object type: games}.
TARGET_COUNTS: dict[str, dict[int, int]] = {
    "look_at_obj_in_light": {1: 83, 2: 52, 3: 44, 4: 34},
    "pick_and_place_simple": {1: 94, 2: 54, 3: 55, 4: 32},
    "pick_clean_then_place_in_recep": {1: 65, 2: 67, 3: 54, 4: 41},
    "pick_cool_then_place_in_recep": {1: 101, 2: 56, 3: 41, 4: 27},
    "pick_heat_then_place_in_recep": {1: 65, 2: 60, 3: 52, 4: 39},
    "pick_two_obj_and_place": {2: 91, 3: 80, 4: 53},
}


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
