"""Play a game: ALFWorld's actions, preconditions, effects and feedback text.

The rules are those of ALFWorld's PDDL domain as the real TextWorld environment grounds them
(through Fast Downward), including its quirks, checked against the real environment:

* ``go to X`` is only admissible when X is at another location than the agent's (several
  receptacles can share a location; arriving at one lets you act on all of them);
* ``examine O`` works on the object the agent holds only;
* ``use O`` toggles a toggleable object in any receptacle at the agent's location, and the
  feedback always says "You turn on";
* anything else → ``Nothing happens.``, the state unchanged.

Feedback follows the game's grammar (old 2.1.1 text by default; ``text_format="0.4"`` gives
ALFWorld ≥ 0.4's ``move X to Y`` / ``You arrive at Y.``). Lists follow the sorted raw ids,
use the article "a" and put ", and" before the last of two or more items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.world.facts import Fact, FactStore
from harness.world.world import DYNAMIC_PREDICATES, World

TEXT_FORMATS = ("2.1.1", "0.4")
NOTHING = "Nothing happens."
KNIFE_TYPES = ("knifetype", "butterknifetype")

# ALFWorld >= 0.4's grammar writes a leading newline that TextWorld's parser drops.
HELP_TEXT = (
    "Available commands:\n"
    "  look:                             look around your current location\n"
    "  inventory:                        check your current inventory\n"
    "  go to (receptacle):               move to a receptacle\n"
    "  open (receptacle):                open a receptacle\n"
    "  close (receptacle):               close a receptacle\n"
    "  take (object) from (receptacle):  take an object from a receptacle\n"
    "  move (object) to (receptacle):  place an object in or on a receptacle\n"
    "  examine (something):              examine a receptacle or an object\n"
    "  use (object):                     use an object\n"
    "  heat (object) with (receptacle):  heat an object using a receptacle\n"
    "  clean (object) with (receptacle): clean an object using a receptacle\n"
    "  cool (object) with (receptacle):  cool an object using a receptacle\n"
    "  slice (object) with (object):     slice an object using a sharp object\n"
)

_TWO_ARG = {
    "take": re.compile(r"take (.+) from (.+)"),
    "put": re.compile(r"put (.+) in/on (.+)"),
    "move": re.compile(r"move (.+) to (.+)"),
    "heat": re.compile(r"heat (.+) with (.+)"),
    "cool": re.compile(r"cool (.+) with (.+)"),
    "clean": re.compile(r"clean (.+) with (.+)"),
    "slice": re.compile(r"slice (.+) with (.+)"),
}
_TRANSFORM = {"heat": "heatobject", "cool": "coolobject", "clean": "cleanobject"}


def display_list(items: list[str]) -> str:
    """TextWorld's list: ``nothing`` / ``a`` / ``a, and b`` / ``a, b, and c``."""
    if not items:
        return "nothing"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + ", and " + items[-1]


@dataclass(frozen=True)
class StepResult:
    observation: str
    """The environment's text for this step (``Nothing happens.`` when inadmissible)."""
    won: bool
    """The goal holds after this step."""
    done: bool
    """The episode is over: won, or ``max_steps`` reached."""
    admissible: bool
    """The command was admissible (it changed, or could have changed, the state)."""


class Game:
    """One playable game. ``reset()`` before the first ``step()``."""

    def __init__(self, world: World, *, text_format: str = "2.1.1", max_steps: int | None = None) -> None:
        if text_format not in TEXT_FORMATS:
            raise ValueError(f"unknown text format {text_format!r} (choose from {', '.join(TEXT_FORMATS)})")
        self.world = world
        self.text_format = text_format
        self.max_steps = max_steps
        self._dyn: FactStore | None = None
        self._init_store = FactStore(world.init_dynamic)
        for pred in DYNAMIC_PREDICATES:  # index once; every reset's copy keeps the index
            self._init_store.with_arg(pred, 1, "")

    # -- public API -----------------------------------------------------------------------
    @property
    def task(self) -> str:
        return self.world.task

    @property
    def task_type(self) -> str:
        return self.world.task_type

    @property
    def path(self) -> str | None:
        return self.world.path

    def reset(self) -> str:
        """Start over; returns the intro text exactly as TextWorld prints it."""
        self._dyn = self._init_store.copy()
        self._negated: set[Fact] = set()
        self.moves = 0
        self.steps_taken = 0
        self.won = self._check_goal()
        names = self.world.names
        recs = display_list([f"a {names[r]}" for r in self.world.receptacles])
        return (
            "-= Welcome to TextWorld, ALFRED! =-\n\n"
            f"You are in the middle of a room. Looking quickly around you, you see {recs}.\n\n"
            f"{self.world.task}"
        )

    def step(self, command: str) -> StepResult:
        if self._dyn is None:
            raise RuntimeError("call reset() before step()")
        action = self._resolve(command.strip())
        if action is None:
            obs, ok = NOTHING, False
        else:
            obs, ok = action(), True
            self.moves += 1
            self.won = self._check_goal()
        self.steps_taken += 1
        done = self.won or (self.max_steps is not None and self.steps_taken >= self.max_steps)
        return StepResult(obs, self.won, done, ok)

    def admissible_commands(self) -> list[str]:
        """Every admissible command, sorted as ALFWorld lists them."""
        if self._dyn is None:
            raise RuntimeError("call reset() before admissible_commands()")
        w, names = self.world, self.world.names
        here = self._here()
        held = self._held()
        cmds = {"look", "inventory"}
        if self.text_format == "0.4":
            cmds.add("help")
        put = "put {} in/on {}" if self.text_format == "2.1.1" else "move {} to {}"
        for r in w.receptacles:
            if w.rec_loc[r] != self.loc:
                cmds.add(f"go to {names[r]}")
        for r in here:
            rn = names[r]
            cmds.add(f"examine {rn}")
            openable = w.has("openable", r)
            is_open = ("opened", r) in self._dyn
            if openable:
                cmds.add(f"close {rn}" if is_open else f"open {rn}")
            accessible = not openable or is_open
            for f in self._dyn.with_arg("inreceptacle", 2, r):
                o = f[1]
                if accessible and not held and w.has("pickupable", o):
                    cmds.add(f"take {names[o]} from {rn}")
                if w.has("toggleable", o):
                    cmds.add(f"use {names[o]}")
            for o in held:
                if accessible and self._can_contain(r, o):
                    cmds.add(put.format(names[o], rn))
                for verb, action in _TRANSFORM.items():
                    if self._can_transform(action, o, r):
                        cmds.add(f"{verb} {names[o]} with {rn}")
        for o in held:
            cmds.add(f"examine {names[o]}")
            if w.otype.get(o) in KNIFE_TYPES:
                for f in self._dyn.with_arg("objectatlocation", 2, self.loc):
                    if w.has("sliceable", f[1]):
                        cmds.add(f"slice {names[f[1]]} with {names[o]}")
        return sorted(cmds)

    # -- read-only views (what an observer of the text could know) -----------------------
    def contents(self, r: str) -> list[str]:
        """Ids of the objects in receptacle ``r``, in listing order."""
        assert self._dyn is not None
        return sorted(f[1] for f in self._dyn.with_arg("inreceptacle", 2, r))

    def is_open(self, r: str) -> bool:
        assert self._dyn is not None
        return ("opened", r) in self._dyn

    def holding(self) -> list[str]:
        return self._held()

    def fact(self, *fact: str) -> bool:
        """Whether a fact holds now, e.g. ``game.fact("isclean", obj_id)``."""
        store = self._dyn if fact[0] in DYNAMIC_PREDICATES else self.world.static
        assert store is not None
        return tuple(fact) in store

    def receptacles_here(self) -> list[str]:
        return list(self._here())

    def facts(self) -> list[Fact]:
        """The current state as sorted facts (static and dynamic)."""
        assert self._dyn is not None
        out = [f for s in self.world.static.by_pred.values() for f in s]
        out += [f for s in self._dyn.by_pred.values() for f in s]
        return sorted(out)

    # -- state helpers --------------------------------------------------------------------
    @property
    def loc(self) -> str:
        assert self._dyn is not None
        for f in self._dyn.with_arg("atlocation", 1, self.world.agent):
            return f[2]
        return ""

    def _here(self) -> list[str]:
        return self.world.loc_recs.get(self.loc, [])

    def _held(self) -> list[str]:
        assert self._dyn is not None
        return sorted(f[2] for f in self._dyn.with_arg("holds", 1, self.world.agent))

    def _holds_any(self) -> bool:
        assert self._dyn is not None
        return ("holdsany", self.world.agent) in self._dyn

    def _match(self, pattern: tuple) -> object:
        store = self._dyn if pattern[0] in DYNAMIC_PREDICATES else self.world.static
        assert store is not None
        return store.match(pattern)

    def _check_goal(self) -> bool:
        return self.world.check_goal(self._match)

    def _add(self, fact: Fact) -> None:
        assert self._dyn is not None
        self._dyn.add(fact)
        self._negated.discard(fact)

    def _delete(self, fact: Fact) -> None:
        assert self._dyn is not None
        self._dyn.remove(fact)
        self._negated.add(fact)

    def _accessible(self, r: str) -> bool:
        assert self._dyn is not None
        return not self.world.has("openable", r) or ("opened", r) in self._dyn

    def _can_contain(self, r: str, o: str) -> bool:
        w = self.world
        rt, ot = w.rtype.get(r), w.otype.get(o)
        return rt is not None and ot is not None and w.has("cancontain", rt, ot)

    def _can_transform(self, action: str, o: str, r: str) -> bool:
        w = self.world
        prop = {"heatobject": "heatable", "coolobject": "coolable", "cleanobject": "cleanable"}[action]
        return w.has(prop, o) and w.rtype.get(r) in w.action_rtypes[action]

    # -- text ----------------------------------------------------------------------------
    def _contents(self, r: str) -> str:
        assert self._dyn is not None
        names = self.world.names
        objs = sorted(f[1] for f in self._dyn.with_arg("inreceptacle", 2, r))
        return display_list([f"a {names[o]}" for o in objs])

    def _describe_receptacle(self, r: str) -> str:
        assert self._dyn is not None
        n = self.world.names[r]
        if self.world.has("openable", r):
            if ("opened", r) in self._dyn:
                return f"The {n} is open. In it, you see {self._contents(r)}."
            return f"The {n} is closed."
        return f"On the {n}, you see {self._contents(r)}."

    def _describe_object(self, o: str) -> str:
        assert self._dyn is not None
        w, d, n = self.world, self._dyn, self.world.names[o]
        if w.has("isreceptacleobject", o):
            inner = sorted(f[1] for f in w.static.with_arg("inreceptacleobject", 2, o))
            return f"This is a normal {n}. In it, you see {display_list([f'a {w.names[i]}' for i in inner])}."
        clean, hot, cool = ("isclean", o) in d, ("ishot", o) in d, ("iscool", o) in d
        sliced = ("issliced", o) in d
        if sliced:
            if clean and hot:
                return f"This is a hot and clean sliced {n}."
            if clean and cool:
                return f"This is a cool and clean sliced {n}."
            if clean:
                return f"This is a clean sliced {n}."
            if hot:
                return f"This is a hot sliced {n}."
            if cool:
                return f"This is a cool sliced {n}."
        if clean and hot:
            return f"This is a hot and clean {n}."
        if clean and cool:
            return f"This is a cool and clean {n}."
        if hot:
            return f"This is a hot {n}."
        if clean:
            return f"This is a clean {n}."
        if cool:
            return f"This is a cold {n}."
        if w.has("toggleable", o):
            if ("istoggled", o) in d:
                return f"This {n} is on."
            if ("istoggled", o) in self._negated:
                return f"This {n} is off."
        if w.has("sliceable", o) and sliced:
            return f"This is a sliced {n}."
        return f"There's nothing special about {n}."

    def _look(self) -> str:
        assert self._dyn is not None
        w, names, loc = self.world, self.world.names, self.loc
        here = self._here()
        if not here:
            return "You are in the middle of a room. Looking quickly around you, you see nothing."
        facing = display_list([names[r] for r in here])
        floor: list[str] = []
        for o in sorted(f[1] for f in self._dyn.with_arg("objectatlocation", 2, loc)):
            for r in here:
                if ("inreceptacle", o, r) in self._negated and o != r:
                    floor.append(f"a {names[o]}")
        del w
        return f"You are facing the {facing}. Next to it, you see {display_list(floor)}."

    # -- commands -----------------------------------------------------------------------
    def _resolve(self, cmd: str):
        """The action a command names when it is admissible now, else None."""
        w, by_name, agent = self.world, self.world.by_name, self.world.agent
        if cmd == "look":
            return self._look
        if cmd == "inventory":
            return self._inventory
        if cmd == "help" and self.text_format == "0.4":
            return lambda: HELP_TEXT
        verb, _, rest = cmd.partition(" ")
        if verb == "go" and rest.startswith("to "):
            r = by_name.get(rest[3:])
            if r is None or r not in w.rec_loc or w.rec_loc[r] == self.loc:
                return None
            return lambda: self._goto(r)
        if verb in ("open", "close", "examine", "use"):
            x = by_name.get(rest)
            if x is None:
                return None
            here = self._here()
            assert self._dyn is not None
            if verb == "examine":
                if x in here:
                    return lambda: self._describe_receptacle(x)
                if ("holds", agent, x) in self._dyn:
                    return lambda: self._describe_object(x)
                return None
            if verb == "use":
                if w.has("toggleable", x) and any(("inreceptacle", x, r) in self._dyn for r in here):
                    return lambda: self._toggle(x)
                return None
            if x not in here or not w.has("openable", x):
                return None
            is_open = ("opened", x) in self._dyn
            if verb == "open" and not is_open:
                return lambda: self._open(x)
            if verb == "close" and is_open:
                return lambda: self._close(x)
            return None
        if verb == "put" and self.text_format != "2.1.1":
            return None
        if verb == "move" and self.text_format != "0.4":
            return None
        rx = _TWO_ARG.get(verb)
        m = rx.fullmatch(cmd) if rx else None
        if m is None:
            return None
        a, b = by_name.get(m.group(1)), by_name.get(m.group(2))
        if a is None or b is None:
            return None
        assert self._dyn is not None
        if verb == "take":
            if (
                b in self._here()
                and ("inreceptacle", a, b) in self._dyn
                and w.has("pickupable", a)
                and not self._holds_any()
                and self._accessible(b)
            ):
                return lambda: self._take(a, b)
            return None
        if verb == "slice":
            if (
                w.has("sliceable", a)
                and w.otype.get(b) in KNIFE_TYPES
                and ("holds", agent, b) in self._dyn
                and ("objectatlocation", a, self.loc) in self._dyn
            ):
                return lambda: self._slice(a, b)
            return None
        holding = ("holds", agent, a) in self._dyn
        if not holding or b not in self._here():
            return None
        if verb in ("put", "move"):
            if self._accessible(b) and self._can_contain(b, a):
                return lambda: self._put(a, b)
            return None
        action = _TRANSFORM[verb]
        if self._can_transform(action, a, b):
            return lambda: self._transform(verb, a, b)
        return None

    def _goto(self, r: str) -> str:
        agent, old, new = self.world.agent, self.loc, self.world.rec_loc[r]
        self._delete(("atlocation", agent, old))
        self._add(("atlocation", agent, new))
        if self.text_format == "2.1.1":
            return f"You arrive at {self.world.names[new]}. {self._describe_receptacle(r)}"
        return f"You arrive at {self.world.names[r]}. {self._describe_receptacle(r)}"

    def _open(self, r: str) -> str:
        self._add(("opened", r))
        self._add(("checked", r))
        return f"You open the {self.world.names[r]}. {self._describe_receptacle(r)}"

    def _close(self, r: str) -> str:
        self._delete(("opened", r))
        return f"You close the {self.world.names[r]}."

    def _take(self, o: str, r: str) -> str:
        agent = self.world.agent
        self._delete(("inreceptacle", o, r))
        self._add(("holds", agent, o))
        self._add(("holdsany", agent))
        self._delete(("objectatlocation", o, self.loc))
        names = self.world.names
        return f"You pick up the {names[o]} from the {names[r]}."

    def _put(self, o: str, r: str) -> str:
        agent = self.world.agent
        self._add(("inreceptacle", o, r))
        self._add(("objectatlocation", o, self.loc))
        self._delete(("holds", agent, o))
        self._delete(("holdsany", agent))
        names = self.world.names
        if self.text_format == "2.1.1":
            return f"You put the {names[o]} in/on the {names[r]}."
        return f"You move the {names[o]} to the {names[r]}."

    def _transform(self, verb: str, o: str, r: str) -> str:
        if verb == "clean":
            self._add(("isclean", o))
        elif verb == "heat":
            self._add(("ishot", o))
            self._delete(("iscool", o))
        else:
            self._add(("iscool", o))
            self._delete(("ishot", o))
        names = self.world.names
        return f"You {verb} the {names[o]} using the {names[r]}."

    def _toggle(self, o: str) -> str:
        assert self._dyn is not None
        if ("ison", o) in self._dyn:
            self._delete(("ison", o))
        else:
            self._add(("ison", o))
        self._add(("istoggled", o))
        return f"You turn on the {self.world.names[o]}."

    def _slice(self, co: str, ko: str) -> str:
        self._add(("issliced", co))
        names = self.world.names
        return f"You sliced the {names[co]} with the {names[ko]}."

    def _inventory(self) -> str:
        held = self._held()
        if not self._holds_any():
            return "You are not carrying anything."
        names = self.world.names
        return f"You are carrying: {display_list([f'a {names[o]}' for o in held])}."
