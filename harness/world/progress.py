"""Subgoals of a game's goal and which ones an episode reached (AgentBoard-style progress):
the target object seen, picked up, transformed (clean/heat/cool), placed; the lamp used.
Derived from the goal, never listed per game."""

from __future__ import annotations

import re

from harness.world.game import Game


class SubgoalTracker:
    def __init__(self, game: Game) -> None:
        self.game = game
        w = game.world
        spec = w.spec
        self.spec = spec
        obj = (spec.object_type or "object").removesuffix("type")
        self.targets = sorted(o for o, t in w.otype.items() if t == spec.object_type)
        self._seen_re = (
            re.compile(r"\ba (" + "|".join(re.escape(w.names[o]) for o in self.targets) + r")(?!\d)")
            if self.targets
            else None
        )
        if spec.task_type == "look_at_obj_in_light":
            lamp = (spec.toggle_type or "lamp").removesuffix("type")
            self.lamps = sorted(o for o, t in w.otype.items() if t == spec.toggle_type)
            self.subgoals = [f"seen {obj}", f"picked {obj}", f"{lamp} on"]
        else:
            rec = (spec.receptacle_type or "receptacle").removesuffix("type")
            self.dests = {r for r, t in w.rtype.items() if t == spec.receptacle_type}
            subs = [f"seen {obj}", f"picked {obj}"]
            if spec.transform:
                subs.append(f"{spec.transform} {obj}")
            if spec.count >= 2:
                subs += [f"placed one {obj} in {rec}", f"placed two {obj} in {rec}"]
            else:
                subs.append(f"placed {obj} in {rec}")
            self.subgoals = subs
        self.reached: list[str] = []

    def _mark(self, i: int) -> None:
        name = self.subgoals[i]
        if name not in self.reached:
            self.reached.append(name)

    def update(self, observation: str) -> None:
        """Call after reset (with the intro) and after every step (with its observation)."""
        g, spec = self.game, self.spec
        if self._seen_re is not None and self._seen_re.search(observation):
            self._mark(0)
        held = set(g.holding())
        if held & set(self.targets):
            self._mark(1)
        if spec.task_type == "look_at_obj_in_light":
            if any(g.fact("istoggled", lamp) for lamp in self.lamps):
                self._mark(2)
            return
        prop = {"clean": "isclean", "heat": "ishot", "cool": "iscool"}.get(spec.transform or "")
        ok = [o for o in self.targets if prop is None or g.fact(prop, o)]
        k = 2
        if prop is not None:
            if ok:
                self._mark(2)
            k = 3
        per_dest: dict[str, int] = {}
        for o in ok:
            for r in self.dests:
                if g.fact("inreceptacle", o, r):
                    per_dest[r] = per_dest.get(r, 0) + 1
        best = max(per_dest.values(), default=0)
        if best >= 1:
            self._mark(k)
        if spec.count >= 2 and best >= 2:
            self._mark(k + 1)

    @property
    def progress(self) -> float:
        return len(self.reached) / len(self.subgoals) if self.subgoals else 0.0
