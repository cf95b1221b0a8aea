"""Read ALFWorld's ``game.tw-pddl`` files: the PDDL problem (entities, initial facts, goal),
the task sentence from the grammar, and the few domain details that vary between game files.

Names are lower-cased on the way in, as Fast Downward (which the real environment uses to
ground the PDDL) lower-cases every symbol. Parsing is regex-based and fast: a game loads in
well under a millisecond of Python work beyond ``json.loads``.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import GameFileError

# An s-expression: a symbol or a tuple of s-expressions.
SExpr = str | tuple

_FACT_RE = re.compile(r"\(([^()]*)\)")
_TASK_RE = re.compile(r'"task"\s*:\s*\[\s*\{\s*"rhs"\s*:\s*"((?:[^"\\]|\\.)*)"')
_TOKEN_RE = re.compile(r"[()]|[^\s()]+")
_ACTION_RE = re.compile(r"\(:action\s+(\S+)")

# The receptacle types each transforming action accepts when a domain does not say.
DEFAULT_ACTION_RTYPES = {
    "cleanobject": ("sinktype", "sinkbasintype"),
    "heatobject": ("microwavetype",),
    "coolobject": ("fridgetype",),
}


@dataclass
class ParsedGame:
    """What a ``game.tw-pddl`` file says, in lower case."""

    objects: dict[str, str]
    """Declared entities: id → PDDL type (``object``, ``receptacle``, ``location`` …)."""
    init: list[tuple[str, ...]]
    """Initial facts as ``(predicate, arg, ...)`` tuples, in file order."""
    goal: SExpr
    """The ``:goal`` formula as a nested tuple."""
    task: str
    """The task sentence, e.g. ``Your task is to: put some spraybottle on toilet.``"""
    action_rtypes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Receptacle types allowed by clean/heat/cool in this file's domain."""
    path: str | None = None


_COMMENT_RE = re.compile(r";[^\n]*")


def _strip_comments(text: str) -> str:
    return _COMMENT_RE.sub("", text) if ";" in text else text


def parse_sexpr(text: str) -> SExpr:
    """Parse the first s-expression of ``text`` into nested tuples of lower-case symbols."""
    stack: list[list] = [[]]
    for tok in _TOKEN_RE.findall(text):
        if tok == "(":
            stack.append([])
        elif tok == ")":
            if len(stack) == 1:
                raise ValueError("unbalanced ')'")
            done = tuple(stack.pop())
            if len(stack) == 1:
                return done
            stack[-1].append(done)
        elif len(stack) == 1:
            return tok.lower()
        else:
            stack[-1].append(tok.lower())
    raise ValueError("unbalanced '('" if len(stack) > 1 else "empty expression")


def _section(text: str, start: str, end: str | None) -> str:
    i = text.find(start)
    if i < 0:
        raise ValueError(f"no {start} section")
    j = text.find(end, i) if end else len(text)
    if j < 0:
        raise ValueError(f"no {end} section after {start}")
    return text[i + len(start) : j]


@functools.lru_cache(maxsize=8)
def parse_domain_rtypes(domain: str) -> dict[str, tuple[str, ...]]:
    """The receptacle types that clean/heat/cool accept in ``domain`` (comments ignored)."""
    text = _strip_comments(domain).lower()
    starts = [(m.start(), m.group(1)) for m in _ACTION_RE.finditer(text)]
    out: dict[str, tuple[str, ...]] = {}
    for k, (pos, name) in enumerate(starts):
        if name not in DEFAULT_ACTION_RTYPES:
            continue
        end = starts[k + 1][0] if k + 1 < len(starts) else len(text)
        found = re.findall(r"\(receptacletype\s+\?r\s+(\S+?)\)", text[pos:end])
        out[name] = tuple(found) if found else DEFAULT_ACTION_RTYPES[name]
    for name, default in DEFAULT_ACTION_RTYPES.items():
        out.setdefault(name, default)
    return out


_DECL_RE = re.compile(r"(\S+)\s+-\s+(\S+)")


def parse_problem(problem: str) -> tuple[dict[str, str], list[tuple[str, ...]], SExpr]:
    """Declared objects, initial facts and goal of a PDDL problem."""
    low = _strip_comments(problem).lower()
    objects = dict(_DECL_RE.findall(_section(low, "(:objects", ")")))
    init_text = _section(low, "(:init", "(:goal")
    init = [tuple(m.split()) for m in _FACT_RE.findall(init_text)]
    init = [f for f in init if f]
    start = low.find("(:goal")
    if start < 0:
        raise ValueError("no (:goal section")
    goal_expr = parse_sexpr(low[start:])
    if not (isinstance(goal_expr, tuple) and len(goal_expr) == 2):
        raise ValueError("malformed (:goal section")
    return objects, init, goal_expr[1]


def parse_task(grammar: str) -> str:
    m = _TASK_RE.search(grammar)
    if not m:
        raise ValueError('grammar has no "task" rule')
    return json.loads(f'"{m.group(1)}"')


def parse_game_data(data: object, path: str | None = None) -> ParsedGame:
    """Parse the JSON object of a ``game.tw-pddl`` file."""
    where = path or "game data"
    if not isinstance(data, dict):
        raise GameFileError(f"{where}: not a game.tw-pddl object (expected a JSON object)")
    missing = [k for k in ("pddl_problem", "grammar") if not isinstance(data.get(k), str)]
    if missing:
        raise GameFileError(f"{where}: not a game.tw-pddl file (missing {', '.join(missing)})")
    try:
        objects, init, goal = parse_problem(data["pddl_problem"])
        task = parse_task(data["grammar"])
    except ValueError as e:
        raise GameFileError(f"{where}: malformed game file ({e})") from None
    rtypes = parse_domain_rtypes(data.get("pddl_domain") or "")
    return ParsedGame(objects=objects, init=init, goal=goal, task=task, action_rtypes=rtypes, path=path)


def read_game_file(path: str | Path) -> tuple[ParsedGame, dict]:
    """Read and parse a ``game.tw-pddl`` file; returns the parsed game and the raw JSON."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise GameFileError(f"{p}: no such game file") from None
    except IsADirectoryError:
        raise GameFileError(f"{p}: is a directory; pass its game.tw-pddl file") from None
    except OSError as e:
        raise GameFileError(f"{p}: cannot read ({e.strerror})") from None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise GameFileError(f"{p}: not valid JSON ({e})") from None
    return parse_game_data(data, str(p)), data
