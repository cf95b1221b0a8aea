"""Evaluate PDDL goal formulas (and, or, not, exists, forall, =, atoms) against the facts.

Existential variables are bound by joining the positive atoms of a conjunction, most
constrained first, so the check after every step costs a handful of index lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from harness.world.pddl import SExpr

Matcher = Callable[[tuple], Iterator[tuple]]
_TESTS = ("not", "or", "=", "imply", "forall")
TypedDomain = Callable[[str], list[str]]


def parse_vars(spec: tuple) -> list[tuple[str, str]]:
    """``(?a - agent ?l - location)`` → ``[("?a", "agent"), ("?l", "location")]``."""
    names: list[str] = []
    out: list[tuple[str, str]] = []
    toks = [t.rstrip(",") for t in spec if t.rstrip(",")]
    i = 0
    while i < len(toks):
        t = toks[i]
        if t == "-" and i + 1 < len(toks):
            out.extend((n, toks[i + 1]) for n in names)
            names = []
            i += 2
            continue
        names.append(t)
        i += 1
    out.extend((n, "object") for n in names)
    return out


def _free_vars(f: SExpr, bound: frozenset[str] = frozenset()) -> set[str]:
    if isinstance(f, str):
        return {f} if f.startswith("?") and f not in bound else set()
    if not f:
        return set()
    if f[0] in ("exists", "forall"):
        inner = bound | {n for n, _ in parse_vars(f[1])}
        return _free_vars(f[2], inner)
    out: set[str] = set()
    for x in f[1:]:
        out |= _free_vars(x, bound)
    return out


class GoalChecker:
    """Checks one goal formula; ``match`` yields facts for a pattern with None wildcards."""

    def __init__(self, goal: SExpr, domain_of_type: TypedDomain) -> None:
        self.goal = goal
        self.domain_of_type = domain_of_type
        self._fresh = 0
        # A conjunction of existentials (every ALFWorld goal) is flattened once, up front.
        self._flat: tuple[list[SExpr], dict[str, str]] | None = None
        if not isinstance(goal, str) and goal and goal[0] in ("and", "exists"):
            self._flat = self._flatten([goal], {})

        self._plan = self._compile(*self._flat) if self._flat is not None else None

    def __call__(self, match: Matcher) -> bool:
        if self._plan is not None:
            return self._run(self._plan, 0, {}, match)
        return self.holds(self.goal, {}, match)

    # -- compiled plan for the top-level conjunction --------------------------------------
    def _compile(self, goals: list[SExpr], types: dict[str, str]) -> list[tuple]:
        """Order the conjuncts once: each positive atom as soon as it is the most bound one,
        each other test as soon as its variables are bound."""
        plan: list[tuple] = []
        bound: set[str] = set()
        remaining = list(goals)
        while remaining:
            ready = [g for g in remaining if g[0] in _TESTS and _free_vars(g) <= bound]
            if ready:
                plan.append(("test", ready[0]))
                remaining.remove(ready[0])
                continue
            atoms = [g for g in remaining if g[0] not in _TESTS]
            if not atoms:
                unbound = sorted({v for g in remaining for v in _free_vars(g)} - bound)
                plan.append(("enum", [(v, types.get(v, "object")) for v in unbound]))
                bound |= set(unbound)
                continue
            best = max(atoms, key=lambda g: sum(1 for a in g[1:] if not a.startswith("?") or a in bound))
            remaining.remove(best)
            terms = best[1:]
            plan.append(("atom", best[0], terms, tuple(a.startswith("?") for a in terms)))
            bound |= {a for a in terms if a.startswith("?")}
        return plan

    def _run(self, plan: list[tuple], i: int, env: dict[str, str], match: Matcher) -> bool:
        if i == len(plan):
            return True
        step = plan[i]
        kind = step[0]
        if kind == "test":
            return self.holds(step[1], env, match) and self._run(plan, i + 1, env, match)
        if kind == "enum":
            return any(self._run(plan, i + 1, e, match) for e in self._enumerate(step[1], env))
        _, pred, terms, is_var = step
        pattern = (pred, *(env.get(t) if v else t for t, v in zip(terms, is_var, strict=True)))
        for fact in match(pattern):
            new = env
            ok = True
            for t, v, value in zip(terms, is_var, fact[1:], strict=True):
                if v:
                    cur = new.get(t)
                    if cur is None:
                        if new is env:
                            new = dict(env)
                        new[t] = value
                    elif cur != value:
                        ok = False
                        break
            if ok and self._run(plan, i + 1, new, match):
                return True
        return False

    # -- boolean evaluation -------------------------------------------------------------
    def holds(self, f: SExpr, env: dict[str, str], match: Matcher) -> bool:
        if isinstance(f, str) or not f:
            raise ValueError(f"malformed goal formula: {f!r}")
        op = f[0]
        if op == "and":
            return next(self._solve(list(f[1:]), env, {}, match), None) is not None
        if op == "or":
            return any(self.holds(x, env, match) for x in f[1:])
        if op == "not":
            return not self.holds(f[1], env, match)
        if op == "imply":
            return (not self.holds(f[1], env, match)) or self.holds(f[2], env, match)
        if op == "=":
            return self._val(f[1], env) == self._val(f[2], env)
        if op == "exists":
            return next(self._solve([f], env, {}, match), None) is not None
        if op == "forall":
            vs = parse_vars(f[1])
            return all(self.holds(f[2], e, match) for e in self._enumerate(vs, env))
        pattern = (op, *(self._val(a, env) for a in f[1:]))
        if any(v is None for v in pattern):
            raise ValueError(f"unbound variable in goal atom {f!r}")
        return next(match(pattern), None) is not None

    @staticmethod
    def _val(term: str, env: dict[str, str]) -> str | None:
        return env.get(term) if term.startswith("?") else term

    def _enumerate(self, vs: list[tuple[str, str]], env: dict[str, str]) -> Iterator[dict[str, str]]:
        if not vs:
            yield env
            return
        (name, typ), rest = vs[0], vs[1:]
        for value in self.domain_of_type(typ):
            yield from self._enumerate(rest, {**env, name: value})

    # -- conjunctive search -----------------------------------------------------------
    def _solve(
        self, goals: list[SExpr], env: dict[str, str], types: dict[str, str], match: Matcher
    ) -> Iterator[dict[str, str]]:
        """Yield bindings that satisfy every formula in ``goals`` (a conjunction)."""
        flat, types = self._flatten(goals, types)
        yield from self._join(flat, env, types, match)

    def _flatten(self, goals: list[SExpr], types: dict[str, str]) -> tuple[list[SExpr], dict[str, str]]:
        goals = list(goals)
        # Flatten nested and/exists (renaming existential variables apart).
        flat: list[SExpr] = []
        while goals:
            g = goals.pop(0)
            if g[0] == "and":
                goals[:0] = list(g[1:])
            elif g[0] == "exists":
                body = g[2]
                for name, typ in parse_vars(g[1]):
                    self._fresh += 1
                    new = f"{name}#{self._fresh}"
                    body = _rename(body, name, new)
                    types = {**types, new: typ}
                goals.insert(0, body)
            else:
                flat.append(g)
        return flat, types

    def _join(
        self, goals: list[SExpr], env: dict[str, str], types: dict[str, str], match: Matcher
    ) -> Iterator[dict[str, str]]:
        if not goals:
            yield env
            return
        # Pick a ready non-atom (all variables bound) or the most bound positive atom.
        best_i, best_score = -1, -1
        for i, g in enumerate(goals):
            if g[0] in ("not", "or", "=", "imply", "forall"):
                if all(v in env for v in _free_vars(g)):
                    best_i, best_score = i, 10**6
                    break
                continue
            score = sum(1 for a in g[1:] if not a.startswith("?") or a in env)
            if score > best_score:
                best_i, best_score = i, score
        if best_i < 0:
            # Only non-atoms with unbound variables remain: enumerate those variables.
            unbound = sorted({v for g in goals for v in _free_vars(g)} - env.keys())
            for e in self._enumerate([(v, types.get(v, "object")) for v in unbound], env):
                if all(self.holds(g, e, match) for g in goals):
                    yield e
            return
        g = goals[best_i]
        rest = goals[:best_i] + goals[best_i + 1 :]
        if best_score == 10**6:
            if self.holds(g, env, match):
                yield from self._join(rest, env, types, match)
            return
        pattern = (g[0], *(self._val(a, env) for a in g[1:]))
        for fact in match(pattern):
            new = dict(env)
            ok = True
            for term, value in zip(g[1:], fact[1:], strict=True):
                if term.startswith("?") and new.setdefault(term, value) != value:
                    ok = False
                    break
            if ok:
                yield from self._join(rest, new, types, match)


def _rename(f: SExpr, old: str, new: str) -> SExpr:
    if isinstance(f, str):
        return new if f == old else f
    if f and f[0] in ("exists", "forall") and old in {n for n, _ in parse_vars(f[1])}:
        return f  # shadowed
    return tuple(_rename(x, old, new) for x in f)
