"""A small indexed fact store: facts are tuples ``(predicate, arg, ...)`` in lower case.

Lookups by predicate, or by predicate + one bound argument, are O(1); the argument index of
a predicate is built the first time it is needed. The environment keeps
static facts (types, locations of receptacles, what fits where) in one store shared by every
reset, and the facts actions change in a second, small store copied at reset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

Fact = tuple[str, ...]

_EMPTY: frozenset = frozenset()


class FactStore:
    __slots__ = ("by_arg", "by_pred", "indexed")

    def __init__(self, facts: Iterable[Fact] = ()) -> None:
        self.by_pred: dict[str, set[Fact]] = defaultdict(set)
        self.by_arg: dict[tuple[str, int, str], set[Fact]] = defaultdict(set)
        self.indexed: set[str] = set()
        for f in facts:
            self.by_pred[f[0]].add(f)

    def copy(self) -> FactStore:
        new = FactStore.__new__(FactStore)
        new.by_pred = defaultdict(set, {k: set(v) for k, v in self.by_pred.items()})
        new.by_arg = defaultdict(set, {k: set(v) for k, v in self.by_arg.items()})
        new.indexed = set(self.indexed)
        return new

    def _index(self, pred: str) -> None:
        by_arg = self.by_arg
        for f in self.by_pred.get(pred, _EMPTY):
            for i in range(1, len(f)):
                by_arg[(pred, i, f[i])].add(f)
        self.indexed.add(pred)

    def __contains__(self, fact: Fact) -> bool:
        s = self.by_pred.get(fact[0])
        return s is not None and fact in s

    def add(self, fact: Fact) -> bool:
        s = self.by_pred[fact[0]]
        if fact in s:
            return False
        s.add(fact)
        pred = fact[0]
        if pred in self.indexed:
            for i in range(1, len(fact)):
                self.by_arg[(pred, i, fact[i])].add(fact)
        return True

    def remove(self, fact: Fact) -> bool:
        s = self.by_pred.get(fact[0])
        if s is None or fact not in s:
            return False
        s.discard(fact)
        pred = fact[0]
        if pred in self.indexed:
            for i in range(1, len(fact)):
                self.by_arg[(pred, i, fact[i])].discard(fact)
        return True

    def with_pred(self, pred: str) -> set[Fact] | frozenset:
        return self.by_pred.get(pred, _EMPTY)

    def with_arg(self, pred: str, pos: int, value: str) -> set[Fact] | frozenset:
        """Facts of ``pred`` whose argument ``pos`` (1-based) is ``value``."""
        if pred not in self.indexed:
            self._index(pred)
        return self.by_arg.get((pred, pos, value), _EMPTY)

    def match(self, pattern: tuple[str | None, ...]) -> Iterator[Fact]:
        """Facts matching ``pattern``: ``(pred, arg-or-None, ...)``."""
        pred = pattern[0]
        if pred not in self.indexed:
            self._index(pred)
        best: set[Fact] | frozenset | None = None
        for i in range(1, len(pattern)):
            v = pattern[i]
            if v is not None:
                cand = self.by_arg.get((pred, i, v), _EMPTY)
                if best is None or len(cand) < len(best):
                    best = cand
        if best is None:
            best = self.by_pred.get(pred, _EMPTY)
        n = len(pattern)
        for f in best:
            if len(f) != n:
                continue
            for i in range(1, n):
                v = pattern[i]
                if v is not None and f[i] != v:
                    break
            else:
                yield f
