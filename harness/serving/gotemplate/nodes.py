"""The syntax tree of a parsed Go ``text/template`` and the error every layer raises."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError


class TemplateError(HarnessError, ValueError):
    """A TEMPLATE that does not parse, or that fails while it is rendered."""


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Field:  # .A.B (on dot)
    idents: tuple[str, ...]


@dataclass(frozen=True)
class Var:  # $x.A.B  ($ alone is the data root)
    name: str
    idents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ident:  # a function name
    name: str


@dataclass(frozen=True)
class Lit:  # bool, number, string or char constant; kind "nil" for nil, "dot" for .
    value: Any
    kind: str = "const"


@dataclass(frozen=True)
class Command:
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Pipe:
    line: int
    decl: tuple[str, ...]
    is_assign: bool
    cmds: tuple[Command, ...]


@dataclass(frozen=True)
class SubPipe:  # (pipeline).A.B
    pipe: Pipe
    idents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    line: int
    pipe: Pipe


@dataclass(frozen=True)
class Branch:  # if / range / with
    kind: str
    line: int
    pipe: Pipe
    body: tuple[Any, ...]
    else_: tuple[Any, ...] | None


@dataclass(frozen=True)
class Jump:  # break / continue
    kind: str
    line: int


Node = Text | Action | Branch | Jump


class Struct(dict[str, Any]):
    """A Go struct value: a missing field is an error, and it is always true."""

    def __init__(self, type_name: str, fields: Mapping[str, Any], json_names: Mapping[str, str]):
        super().__init__(fields)
        self.type_name = type_name
        self.json_names = dict(json_names)
