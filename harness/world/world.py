"""The static side of a game: entities and their display names, the facts no action changes,
the initial state, the goal and what it asks for.

A ``World`` comes from a real ALFWorld file (``World.from_parsed``) or from the synthetic
generator; the rules in ``harness.world.game`` treat both alike.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from harness.world.facts import Fact, FactStore
from harness.world.goals import GoalChecker
from harness.world.pddl import DEFAULT_ACTION_RTYPES, ParsedGame, SExpr

# Predicates that some action changes; every other predicate is static.
DYNAMIC_PREDICATES = frozenset(
    {
        "atlocation",
        "objectatlocation",
        "inreceptacle",
        "opened",
        "holds",
        "holdsany",
        "isclean",
        "ishot",
        "iscool",
        "ison",
        "istoggled",
        "issliced",
        "checked",
    }
)

TASK_TYPES = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)
SHORT_NAMES = {
    "pick_and_place_simple": "pick & place",
    "look_at_obj_in_light": "look in light",
    "pick_clean_then_place_in_recep": "clean & place",
    "pick_heat_then_place_in_recep": "heat & place",
    "pick_cool_then_place_in_recep": "cool & place",
    "pick_two_obj_and_place": "pick two",
}
"""Task types as the score tables name them."""


def demangle_names(ids: list[str]) -> dict[str, str]:
    """ALFWorld's display names: ``alarmclock_bar__plus_01…`` → ``alarmclock 2``.

    The name is the part before the first ``_bar_`` (plus ``basin`` when the id mentions a
    basin, so ``sink_bar_…_bar_sinkbasin`` is a ``sinkbasin``); numbers count the ids of
    one name, handed out over the sorted ids from the end (the first id gets the largest).
    Ids without ``_bar_`` keep their text followed by a space, as ALFWorld does.
    """
    ordered = sorted(ids)
    counts: Counter[str] = Counter()
    stems: dict[str, str] = {}
    for i in ordered:
        if "_bar_" in i:
            stem = i.split("_bar_", 1)[0] + ("basin" if "basin" in i else "")
            stems[i] = stem
            counts[stem] += 1
    remaining = dict(counts)
    names: dict[str, str] = {}
    for i in ordered:
        stem = stems.get(i)
        if stem is None:
            names[i] = f"{i} "
        else:
            names[i] = f"{stem} {remaining[stem]}"
            remaining[stem] -= 1
    return names


@dataclass(frozen=True)
class GoalSpec:
    """What the goal asks for, in ALFWorld's terms (derived from the PDDL goal)."""

    task_type: str
    object_type: str | None = None
    """``objecttype`` constant of the object to move/examine, e.g. ``alarmclocktype``."""
    receptacle_type: str | None = None
    """``receptacletype`` constant of the destination, e.g. ``desktype``."""
    toggle_type: str | None = None
    """Light source type for look_at_obj_in_light (``desklamptype`` / ``floorlamptype``)."""
    transform: str | None = None
    """``clean``, ``heat`` or ``cool`` when the object must be transformed first."""
    count: int = 1
    """How many distinct objects must be placed (2 for pick_two_obj_and_place)."""


def _atoms(f: SExpr) -> list[tuple]:
    if isinstance(f, str) or not f:
        return []
    if f[0] in ("and", "or", "not", "imply"):
        return [a for x in f[1:] for a in _atoms(x)]
    if f[0] in ("exists", "forall"):
        return _atoms(f[2])
    return [f]


def goal_spec(goal: SExpr) -> GoalSpec:
    atoms = _atoms(goal)
    preds = {a[0] for a in atoms}
    var_type = {a[1]: a[2] for a in atoms if a[0] == "objecttype" and len(a) == 3}
    rec_type = {a[1]: a[2] for a in atoms if a[0] == "receptacletype" and len(a) == 3}
    placed = [a for a in atoms if a[0] == "inreceptacle" and len(a) == 3]
    if "istoggled" in preds or "ison" in preds:
        lamp = next(a[1] for a in atoms if a[0] in ("istoggled", "ison"))
        held = next((a[2] for a in atoms if a[0] == "holds" and len(a) == 3), None)
        return GoalSpec(
            "look_at_obj_in_light",
            object_type=var_type.get(held) if held else None,
            toggle_type=var_type.get(lamp),
        )
    obj = placed[0][1] if placed else None
    rec = placed[0][2] if placed else None
    transform = next(
        (t for p, t in (("isclean", "clean"), ("ishot", "heat"), ("iscool", "cool")) if p in preds), None
    )
    count = len({a[1] for a in placed}) if placed else 1
    if transform:
        task_type = f"pick_{transform}_then_place_in_recep"
    elif count >= 2 or "=" in preds:
        task_type = "pick_two_obj_and_place"
    else:
        task_type = "pick_and_place_simple"
    return GoalSpec(
        task_type,
        object_type=var_type.get(obj) if obj else None,
        receptacle_type=rec_type.get(rec) if rec else None,
        transform=transform,
        count=max(count, 2 if task_type == "pick_two_obj_and_place" else 1),
    )


@dataclass
class World:
    """Everything about a game that does not change while it is played."""

    task: str
    goal: SExpr
    entity_types: dict[str, str]
    static: FactStore
    init_dynamic: list[Fact]
    names: dict[str, str]
    action_rtypes: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_ACTION_RTYPES))
    path: str | None = None

    def __post_init__(self) -> None:
        self.by_name = {n: i for i, n in self.names.items()}
        self.spec = goal_spec(self.goal)
        self.check_goal = GoalChecker(self.goal, self.of_type)
        self.receptacles = sorted(f[1] for f in self.static.with_pred("receptacleatlocation"))
        self.rec_loc = {f[1]: f[2] for f in self.static.with_pred("receptacleatlocation")}
        self.loc_recs: dict[str, list[str]] = {}
        for r in self.receptacles:
            self.loc_recs.setdefault(self.rec_loc[r], []).append(r)
        self.otype = {f[1]: f[2] for f in self.static.with_pred("objecttype")}
        self.rtype = {f[1]: f[2] for f in self.static.with_pred("receptacletype")}
        agents = [f[1] for f in self.init_dynamic if f[0] == "atlocation"]
        self.agent = agents[0] if agents else "agent1"

    @property
    def task_type(self) -> str:
        return self.spec.task_type

    def of_type(self, typ: str) -> list[str]:
        return sorted(i for i, t in self.entity_types.items() if t == typ)

    def has(self, pred: str, *args: str) -> bool:
        return (pred, *args) in self.static

    @classmethod
    def from_facts(
        cls,
        *,
        task: str,
        goal: SExpr,
        init: list[Fact],
        entity_types: dict[str, str],
        action_rtypes: dict[str, tuple[str, ...]] | None = None,
        path: str | None = None,
    ) -> World:
        static = FactStore(f for f in init if f[0] not in DYNAMIC_PREDICATES)
        dynamic = [f for f in init if f[0] in DYNAMIC_PREDICATES]
        # Entities are what the initial facts mention, as in the real environment.
        ids = sorted({a for f in init for a in f[1:]})
        return cls(
            task=task,
            goal=goal,
            entity_types={i: entity_types.get(i, "object") for i in ids},
            static=static,
            init_dynamic=dynamic,
            names=demangle_names(ids),
            action_rtypes=dict(action_rtypes or DEFAULT_ACTION_RTYPES),
            path=path,
        )

    @classmethod
    def from_parsed(cls, parsed: ParsedGame) -> World:
        return cls.from_facts(
            task=parsed.task,
            goal=parsed.goal,
            init=parsed.init,
            entity_types=parsed.objects,
            action_rtypes=parsed.action_rtypes,
            path=parsed.path,
        )
