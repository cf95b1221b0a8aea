"""Render an Ollama TEMPLATE (Go ``text/template``) exactly as Ollama builds a prompt.

Two layers live here:

* a Go ``text/template`` engine: text, ``{{ pipeline }}`` actions, ``if / else if / else``,
  ``range`` (``$i, $m :=``, ``break``, ``continue``, ``else``), ``with``, ``$`` variables
  (``:=`` and ``=``), parenthesised pipelines, ``|`` chaining, ``{{-``/``-}}`` trimming,
  ``{{/* comments */}}``, literals, and the builtins ``and or not len index slice eq ne lt
  le gt ge print printf println html urlquery`` plus Ollama's ``json``. ``define``,
  ``template`` and ``block`` are rejected when parsing;
* Ollama's prompt semantics (``template/template.go``, see :meth:`Template.render`).

Use :func:`render` for a prompt and :func:`parse` to validate a template; both raise
:class:`TemplateError` with the template line of the problem.
"""

from __future__ import annotations

import functools
import html
import json
import math
import re
import urllib.parse
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from harness.errors import HarnessError

__all__ = ["Template", "TemplateError", "parse", "render"]


class TemplateError(HarnessError, ValueError):
    """A TEMPLATE that does not parse, or that fails while it is rendered."""


# ---------------------------------------------------------------- syntax tree
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


# ---------------------------------------------------------------------- lexer
class _Tok(NamedTuple):
    kind: str  # text right space field var ident kw const lparen rparen pipe declare assign comma eof
    val: Any
    line: int


_SPACE = " \t\r\n"
_KEYWORDS = {"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"}
_WORD = re.compile(r"\w*")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_CHAR = re.compile(r"'(?:[^'\\\n]|\\[^\n]+?)'")
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?|0[oObB][0-7_]*"
    r"|[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]+)?)"
)
_ESCAPE = re.compile(
    r"\\(?:([abfnrtv\\'\"])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3})|(.))"
)
_SIMPLE_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _lex(src: str) -> list[_Tok]:
    """Split ``src`` into tokens, applying ``{{-``/``-}}`` trimming and dropping comments."""
    newlines = [i for i, c in enumerate(src) if c == "\n"]
    toks: list[_Tok] = []

    def line(pos: int) -> int:
        return bisect_left(newlines, pos) + 1

    def err(pos: int, msg: str) -> TemplateError:
        return TemplateError(f"template line {line(pos)}: {msg}")

    def right_delim(pos: int) -> tuple[int, bool] | None:
        if src.startswith("}}", pos):
            return 2, False
        if pos < len(src) and src[pos] in _SPACE and src.startswith("-}}", pos + 1):
            return 4, True
        return None

    def terminated(pos: int) -> bool:
        return pos >= len(src) or src[pos] in _SPACE + ".,|:)(" or src.startswith("}}", pos)

    pos, trim_next = 0, False
    while True:
        start = src.find("{{", pos)
        text = src[pos:] if start < 0 else src[pos:start]
        marker = src[start + 2 : start + 4] if start >= 0 else ""
        left_trim = len(marker) == 2 and marker[0] == "-" and marker[1] in _SPACE
        if trim_next:
            text = text.lstrip(_SPACE)
        if left_trim:
            text = text.rstrip(_SPACE)
        if text:
            toks.append(_Tok("text", text, line(pos)))
        if start < 0:
            toks.append(_Tok("eof", None, line(len(src))))
            return toks
        pos = start + (4 if left_trim else 2)
        if src.startswith("/*", pos):
            close = src.find("*/", pos + 2)
            if close < 0:
                raise err(start, "unclosed comment")
            rd = right_delim(close + 2)
            if rd is None:
                raise err(close, "comment ends before closing delimiter")
            pos, trim_next = close + 2 + rd[0], rd[1]
            continue
        toks.append(_Tok("left", None, line(start)))
        depth = 0
        while True:
            rd = right_delim(pos)
            if rd is not None:
                if depth:
                    raise err(pos, "unclosed left paren")
                toks.append(_Tok("right", None, line(pos)))
                pos, trim_next = pos + rd[0], rd[1]
                break
            if pos >= len(src):
                raise err(start, "unclosed action")
            c, nxt, ln = src[pos], src[pos + 1 : pos + 2], line(pos)
            if c in _SPACE:
                end = pos
                while end < len(src) and src[end] in _SPACE:
                    end += 1
                if src.startswith("-}}", end):  # the last space belongs to " -}}"
                    end -= 1
                if end > pos:
                    toks.append(_Tok("space", None, ln))
                pos = end
            elif c == '"':
                m = _STRING.match(src, pos)
                if m is None:
                    raise err(pos, "unterminated quoted string")
                toks.append(_Tok("const", _unquote(m.group()[1:-1], ln), ln))
                pos = m.end()
            elif c == "`":
                end = src.find("`", pos + 1)
                if end < 0:
                    raise err(pos, "unterminated raw quoted string")
                toks.append(_Tok("const", src[pos + 1 : end].replace("\r", ""), ln))
                pos = end + 1
            elif c == "'":
                m = _CHAR.match(src, pos)
                value = _unquote(m.group()[1:-1], ln) if m else ""
                if m is None or len(value) != 1:
                    raise err(pos, "malformed character constant")
                toks.append(_Tok("const", ord(value), ln))
                pos = m.end()
            elif c in "$." and not (c == "." and nxt.isdigit()):
                m = _WORD.match(src, pos + 1)
                if not terminated(m.end()):
                    raise err(m.end(), f"bad character {src[m.end()]!r}")
                word = m.group()
                if c == "$":
                    toks.append(_Tok("var", "$" + word, ln))
                else:
                    toks.append(_Tok("field", word, ln) if word else _Tok("dot", None, ln))
                pos = m.end()
            elif c.isdigit() or c in "+-.":
                m = _NUMBER.match(src, pos)
                end = m.end() if m else pos
                if end == pos or (end < len(src) and (src[end].isalnum() or src[end] == "_")):
                    raise err(pos, f"bad number syntax: {src[pos : end + 1]!r}")
                toks.append(_Tok("const", _number(src[pos:end], ln), ln))
                pos = end
            elif c.isalpha() or c == "_":
                m = _WORD.match(src, pos)
                word = m.group()
                if not terminated(m.end()):
                    raise err(m.end(), f"bad character {src[m.end()]!r}")
                if word in _KEYWORDS:
                    toks.append(_Tok("kw", word, ln))
                elif word in ("true", "false"):
                    toks.append(_Tok("const", word == "true", ln))
                elif word == "nil":
                    toks.append(_Tok("nil", None, ln))
                else:
                    toks.append(_Tok("ident", word, ln))
                pos = m.end()
            elif c == ":" and nxt == "=":
                toks.append(_Tok("declare", None, ln))
                pos += 2
            elif c in "()|,=":
                depth += {"(": 1, ")": -1}.get(c, 0)
                if depth < 0:
                    raise err(pos, "unexpected right paren")
                kind = {"(": "lparen", ")": "rparen", "|": "pipe", ",": "comma", "=": "assign"}[c]
                toks.append(_Tok(kind, c, ln))
                pos += 1
            else:
                raise err(pos, f"unrecognized character in action: {c!r}")


def _unquote(body: str, line: int) -> str:
    """Go ``strconv.Unquote`` for the inside of a double-quoted or character literal."""

    def one(m: re.Match[str]) -> str:
        simple, x, u, big_u, octal, bad = m.groups()
        if bad is not None:
            raise TemplateError(f"template line {line}: unknown escape sequence \\{bad}")
        if simple is not None:
            return _SIMPLE_ESC.get(simple, simple)
        return chr(int(x or u or big_u, 16) if octal is None else int(octal, 8))

    return _ESCAPE.sub(one, body)


def _number(text: str, line: int) -> int | float:
    """A Go number constant: integer unless written with ``.``, an exponent or ``p``."""
    try:
        body = text.lstrip("+-").lower()
        if body.startswith("0x") and "p" in body:
            return float.fromhex(text.replace("_", ""))
        if body.startswith(("0x", "0o", "0b")):
            return int(text, 0)
        if "." in body or "e" in body:
            return float(text)
        if re.fullmatch(r"0[0-7_]+", body):
            return int(text, 8)
        return int(text, 10)
    except ValueError:
        raise TemplateError(f"template line {line}: bad number syntax: {text!r}") from None


# --------------------------------------------------------------------- parser
class _Parser:
    """Recursive descent over the tokens, following Go's ``text/template/parse``."""

    def __init__(self, toks: list[_Tok]):
        self.toks, self.i = toks, 0
        self.vars: list[str] = ["$"]
        self.range_depth = 0

    def err(self, tok: _Tok, msg: str) -> TemplateError:
        return TemplateError(f"template line {tok.line}: {msg}")

    def next(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def peek_ns(self) -> _Tok:
        while self.toks[self.i].kind == "space":
            self.i += 1
        return self.toks[self.i]

    def next_ns(self) -> _Tok:
        self.peek_ns()
        return self.next()

    def expect_right(self, context: str) -> None:
        tok = self.next_ns()
        if tok.kind != "right":
            raise self.err(tok, f"unexpected {_show(tok)} in {context}")

    def item_list(self, top: bool = False) -> tuple[list[Any], str | None]:
        """Nodes up to ``{{end}}``/``{{else}}`` (returned as the second item) or EOF."""
        nodes: list[Any] = []
        while True:
            tok = self.next()
            if tok.kind == "eof":
                if top:
                    return nodes, None
                raise self.err(tok, "unexpected EOF: missing {{end}}")
            if tok.kind == "text":
                nodes.append(Text(tok.val))
                continue
            kw = self.peek_ns()
            if kw.kind != "kw":
                nodes.append(Action(kw.line, self.pipeline("command", "right")))
                continue
            self.next_ns()
            if kw.val in ("end", "else"):
                if top:
                    raise self.err(kw, f"unexpected {{{{{kw.val}}}}}")
                if kw.val == "end":
                    self.expect_right("end")
                return nodes, kw.val
            nodes.append(self.control(kw))

    def control(self, kw: _Tok) -> Node:
        ctx = kw.val
        if ctx in ("break", "continue"):
            if not self.range_depth:
                raise self.err(kw, f"{{{{{ctx}}}}} outside {{{{range}}}}")
            self.expect_right(ctx)
            return Jump(ctx, kw.line)
        if ctx not in ("if", "range", "with"):
            raise self.err(kw, f"{{{{{ctx}}}}} is not supported by this renderer")
        mark = len(self.vars)
        pipe = self.pipeline(ctx, "right")
        self.range_depth += ctx == "range"
        body, end = self.item_list()
        self.range_depth -= ctx == "range"
        else_: list[Any] | None = None
        if end == "else":
            nxt = self.peek_ns()
            if nxt.kind == "kw" and nxt.val in ("if", "with"):
                if nxt.val != ctx:
                    raise self.err(nxt, f"{{{{else {nxt.val}}}}} is not allowed in {{{{{ctx}}}}}")
                self.next_ns()
                else_ = [self.control(nxt)]
            else:
                self.expect_right("else")
                else_, end = self.item_list()
                if end != "end":
                    raise self.err(kw, f"expected {{{{end}}}} after {{{{else}}}} of {{{{{ctx}}}}}")
        del self.vars[mark:]
        return Branch(ctx, kw.line, pipe, tuple(body), None if else_ is None else tuple(else_))

    def pipeline(self, ctx: str, end: str) -> Pipe:
        first = self.peek_ns()
        decl: list[str] = []
        is_assign = False
        while self.peek_ns().kind == "var":
            j = self.i + 1
            while self.toks[j].kind == "space":
                j += 1
            after = self.toks[j]
            if after.kind not in ("declare", "assign", "comma"):
                if decl:
                    raise self.err(after, f"{ctx} can only initialize variables")
                break
            name = self.next().val
            self.i = j + 1
            decl.append(name)
            if after.kind == "comma":
                if ctx != "range" or len(decl) > 1 or self.peek_ns().kind != "var":
                    raise self.err(after, f"too many declarations in {ctx}")
                continue
            is_assign = after.kind == "assign"
            if is_assign and any(d not in self.vars for d in decl):
                raise self.err(after, f"undefined variable {name!r}")
            self.vars.extend(decl)
            break
        cmds: list[Command] = []
        while True:
            tok = self.peek_ns()
            if tok.kind == end:
                self.next()
                break
            if tok.kind not in ("field", "var", "ident", "const", "dot", "nil", "lparen"):
                raise self.err(tok, f"unexpected {_show(tok)} in {ctx}")
            cmd, piped = self.command()
            cmds.append(cmd)
            if piped and self.peek_ns().kind == end:
                raise self.err(tok, f"missing command after '|' in {ctx}")
        if not cmds:
            raise self.err(first, f"missing value for {ctx}")
        for n, cmd in enumerate(cmds[1:], 2):
            if isinstance(cmd.args[0], Lit):
                raise self.err(first, f"non executable command in pipeline stage {n}")
        return Pipe(first.line, tuple(decl), is_assign, tuple(cmds))

    def command(self) -> tuple[Command, bool]:
        args: list[Any] = []
        while True:
            self.peek_ns()
            operand = self.operand()
            if operand is not None:
                args.append(operand)
            tok = self.next()
            if tok.kind == "space":
                continue
            if tok.kind in ("right", "rparen"):
                self.i -= 1
                return Command(tuple(args)), False
            if tok.kind == "pipe" and args:
                return Command(tuple(args)), True
            raise self.err(tok, f"unexpected {_show(tok)} in operand")

    def operand(self) -> Any:
        node = self.term()
        if node is None or self.toks[self.i].kind != "field":
            return node
        idents: list[str] = []
        while self.toks[self.i].kind == "field":
            idents.append(self.next().val)
        if isinstance(node, Field):
            return Field(node.idents + tuple(idents))
        if isinstance(node, Var):
            return Var(node.name, tuple(idents))
        if isinstance(node, SubPipe):
            return SubPipe(node.pipe, tuple(idents))
        raise self.err(self.toks[self.i - 1], "unexpected . after term")

    def term(self) -> Any:
        tok = self.next()
        if tok.kind == "ident":
            if tok.val not in _FUNCS:
                raise self.err(tok, f'function "{tok.val}" not defined')
            return Ident(tok.val)
        if tok.kind == "var":
            if tok.val not in self.vars:
                raise self.err(tok, f'undefined variable "{tok.val}"')
            return Var(tok.val)
        if tok.kind == "field":
            return Field((tok.val,))
        if tok.kind in ("const", "dot", "nil"):
            return Lit(tok.val, tok.kind)
        if tok.kind == "lparen":
            return SubPipe(self.pipeline("parenthesized pipeline", "rparen"))
        self.i -= 1
        return None


def _show(tok: _Tok) -> str:
    names = {"right": "}}", "rparen": ")", "lparen": "(", "eof": "EOF", "space": "space"}
    return repr(str(tok.val)) if tok.val is not None else repr(names.get(tok.kind, tok.kind))


# ------------------------------------------------------------------- executor
class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _FuncError(Exception):
    pass


_MISSING: Any = object()


class _Exec:
    """Walks the tree with Go's scoping: variables pushed by a pipeline live to its block end."""

    def __init__(self, data: Any):
        self.vars: list[list[Any]] = [["$", data]]
        self.out: list[str] = []
        self.line = 0

    def err(self, msg: str) -> TemplateError:
        return TemplateError(f"template line {self.line}: {msg}")

    def walk(self, dot: Any, nodes: Sequence[Any]) -> None:
        for n in nodes:
            if isinstance(n, Text):
                self.out.append(n.text)
            elif isinstance(n, Action):
                self.line = n.line
                value = self.pipe(dot, n.pipe)
                if not n.pipe.decl:
                    self.out.append(_fmt(value, top=True))
            elif isinstance(n, Branch):
                self.branch(dot, n)
            else:
                raise _Break if n.kind == "break" else _Continue

    def branch(self, dot: Any, n: Branch) -> None:
        mark = len(self.vars)
        try:
            self.line = n.line
            value = self.pipe(dot, n.pipe)
            if n.kind == "range":
                self.range(dot, n, value)
            elif _truth(value):
                self.walk(value if n.kind == "with" else dot, n.body)
            elif n.else_ is not None:
                self.walk(dot, n.else_)
        finally:
            del self.vars[mark:]

    def range(self, dot: Any, n: Branch, value: Any) -> None:
        if value is None or value is _MISSING:
            items: list[tuple[Any, Any]] = []
        elif isinstance(value, (Struct, str, float, bool)):
            raise self.err(f"range can't iterate over {_fmt(value)}")
        elif isinstance(value, dict):
            items = _sorted_items(value)
        elif isinstance(value, int):
            items = [(i, i) for i in range(value)]
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        else:
            raise self.err(f"range can't iterate over {_fmt(value)}")
        if not items:
            if n.else_ is not None:
                self.walk(dot, n.else_)
            return
        decl, mark = n.pipe.decl, len(self.vars)
        for index, elem in items:
            if n.pipe.is_assign:
                self.set_var(decl[0], index if len(decl) > 1 else elem)
                if len(decl) > 1:
                    self.set_var(decl[1], elem)
            elif decl:
                self.vars[-1][1] = elem
                if len(decl) > 1:
                    self.vars[-2][1] = index
            try:
                self.walk(elem, n.body)
            except _Continue:
                pass
            except _Break:
                break
            finally:
                del self.vars[mark:]

    def set_var(self, name: str, value: Any) -> None:
        for slot in reversed(self.vars):
            if slot[0] == name:
                slot[1] = value
                return
        raise self.err(f"undefined variable: {name}")

    def get_var(self, name: str) -> Any:
        for slot in reversed(self.vars):
            if slot[0] == name:
                return slot[1]
        raise self.err(f"undefined variable: {name}")

    def pipe(self, dot: Any, p: Pipe) -> Any:
        value = _MISSING
        for cmd in p.cmds:
            value = self.command(dot, cmd, value)
        for name in p.decl:
            if p.is_assign:
                self.set_var(name, value)
            else:
                self.vars.append([name, value])
        return value

    def command(self, dot: Any, cmd: Command, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, Ident):
            return self.call(dot, first.name, cmd.args[1:], final)
        if len(cmd.args) > 1 or final is not _MISSING:
            if isinstance(first, Field):
                raise self.err(f"{first.idents[-1]} has arguments but cannot be invoked as function")
            raise self.err("can't give argument to non-function")
        if isinstance(first, Lit) and first.kind == "nil":
            raise self.err("nil is not a command")
        return self.arg(dot, first)

    def arg(self, dot: Any, node: Any) -> Any:
        if isinstance(node, Field):
            return self.chain(dot, node.idents)
        if isinstance(node, Var):
            return self.chain(self.get_var(node.name), node.idents)
        if isinstance(node, Lit):
            if node.kind == "nil":
                raise self.err("cannot use nil as a function argument")
            return dot if node.kind == "dot" else node.value
        if isinstance(node, Ident):
            return self.call(dot, node.name, (), _MISSING)
        return self.chain(self.pipe(dot, node.pipe), node.idents)

    def chain(self, receiver: Any, idents: Sequence[str]) -> Any:
        for name in idents:
            if isinstance(receiver, Struct):
                if name not in receiver:
                    raise self.err(f"can't evaluate field {name} in type {receiver.type_name}")
                receiver = receiver[name]
            elif isinstance(receiver, dict):
                receiver = receiver.get(name)
            elif receiver is None or receiver is _MISSING:
                raise self.err(f"nil pointer evaluating interface {{}}.{name}")
            else:
                raise self.err(f"can't evaluate field {name} in type {_go_type(receiver)}")
        return receiver

    def call(self, dot: Any, name: str, arg_nodes: Sequence[Any], final: Any) -> Any:
        n_args = len(arg_nodes) + (final is not _MISSING)
        lo, hi = _ARITY.get(name, (0, None))
        if n_args < lo or (hi is not None and n_args > hi):
            want = f"at least {lo}" if hi is None else str(lo)
            raise self.err(f"wrong number of args for {name}: want {want} got {n_args}")
        if name in ("and", "or"):  # short-circuit: return the deciding operand
            value = None
            for node in arg_nodes:
                value = self.arg(dot, node)
                if _truth(value) == (name == "or"):
                    return value
            return final if final is not _MISSING else value
        args = [self.arg(dot, a) for a in arg_nodes]
        if final is not _MISSING:
            args.append(final)
        try:
            return _FUNCS[name](*args)
        except _FuncError as e:
            raise self.err(f"error calling {name}: {e}") from None


def _execute(nodes: Sequence[Any], data: Any) -> str:
    """Execute a parsed tree with ``data`` as dot and ``$``."""
    ex = _Exec(data)
    ex.walk(data, nodes)
    return "".join(ex.out)


# ----------------------------------------------------------- Go value helpers
def _truth(v: Any) -> bool:
    if v is None or v is _MISSING:
        return False
    if isinstance(v, Struct):
        return True
    if isinstance(v, (bool, int, float, str, list, tuple, dict)):
        return bool(v)
    return True


def _kind(v: Any) -> str:
    if v is None or v is _MISSING:
        return "invalid"
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("string", str)):
        if isinstance(v, types):
            return kind
    return "other"


def _go_type(v: Any) -> str:
    if isinstance(v, Struct):
        return v.type_name
    names = {"bool": "bool", "int": "int", "float": "float64", "string": "string", "invalid": "<nil>"}
    if _kind(v) in names:
        return names[_kind(v)]
    return "map[string]interface {}" if isinstance(v, dict) else "[]interface {}"


def _sorted_items(d: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    try:
        return sorted(d.items())
    except TypeError:
        return sorted(d.items(), key=lambda kv: str(kv[0]))


def _fmt_float(f: float) -> str:
    """Go ``%v`` for float64: shortest digits, ``%e`` form when exp < -4 or exp >= 6."""
    if math.isinf(f) or math.isnan(f):
        return "NaN" if math.isnan(f) else ("+Inf" if f > 0 else "-Inf")
    mant, _, exp_s = repr(abs(f)).partition("e")
    int_part, _, frac = mant.partition(".")
    full = int_part + frac
    zeros = len(full) - len(full.lstrip("0"))
    digits = full[zeros:].rstrip("0")
    sign = "-" if math.copysign(1, f) < 0 else ""
    if not digits:
        return sign + "0"
    dp = len(int_part) + int(exp_s or 0) - zeros
    exp = dp - 1
    if exp < -4 or exp >= 6:
        frac_part = "." + digits[1:] if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{frac_part}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def _fmt(v: Any, top: bool = False) -> str:
    """Go ``fmt`` ``%v``; an interface nil at the top of an action prints ``<no value>``."""
    if v is None or v is _MISSING:
        return "<no value>" if top else "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _fmt_float(v)
    if isinstance(v, str):
        return v
    if isinstance(v, Struct):
        return "{" + " ".join(_fmt(x) for x in v.values()) + "}"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{_fmt(k)}:{_fmt(x)}" for k, x in _sorted_items(v)) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_fmt(x) for x in v) + "]"
    return str(v)


# ------------------------------------------------------------------- builtins
def _eq(a: Any, *others: Any) -> bool:
    ka = _kind(a)
    for b in others:
        kb = _kind(b)
        if ka != kb:
            if "invalid" not in (ka, kb):
                raise _FuncError("incompatible types for comparison")
            continue
        if isinstance(a, (dict, list, tuple)) or isinstance(b, (dict, list, tuple)):
            raise _FuncError(f"non-comparable type {_fmt(a)}: {_go_type(a)}")
        if ka == "invalid" or a == b:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka not in ("int", "float", "string") or kb not in ("int", "float", "string"):
        raise _FuncError("invalid type for comparison")
    if ka != kb:
        raise _FuncError("incompatible types for comparison")
    return bool(a < b)


def _len(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode("utf-8"))
    if isinstance(v, (list, tuple, dict)) and not isinstance(v, Struct):
        return len(v)
    raise _FuncError(f"len of type {_go_type(v)}")


def _int_arg(i: Any) -> int:
    if _kind(i) != "int":
        raise _FuncError(f"cannot index slice/array with type {_go_type(i)}")
    return int(i)


def _index(item: Any, *indexes: Any) -> Any:
    for i in indexes:
        if item is None or item is _MISSING:
            raise _FuncError("index of untyped nil")
        if isinstance(item, dict) and not isinstance(item, Struct):
            item = item.get(i)
        elif isinstance(item, (list, tuple, str)):
            seq = item.encode("utf-8") if isinstance(item, str) else item
            if not 0 <= _int_arg(i) < len(seq):
                raise _FuncError(f"index out of range: {i}")
            item = seq[i]
        else:
            raise _FuncError(f"can't index item of type {_go_type(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if isinstance(item, str):
        seq: Any = item.encode("utf-8")
        if len(indexes) > 2:
            raise _FuncError("cannot 3-index slice a string")
    elif isinstance(item, (list, tuple)):
        seq = item
        if len(indexes) > 3:
            raise _FuncError(f"too many slice indexes: {len(indexes)}")
    else:
        raise _FuncError(f"can't slice item of type {_go_type(item)}")
    idx = [_int_arg(i) for i in indexes]
    for i in idx:
        if not 0 <= i <= len(seq):
            raise _FuncError(f"index out of range: {i}")
    lo = idx[0] if idx else 0
    hi = idx[1] if len(idx) > 1 else len(seq)
    if lo > hi or (len(idx) == 3 and hi > idx[2]):
        raise _FuncError(f"invalid slice index: {lo} > {hi}")
    out = seq[lo:hi]
    return out.decode("utf-8", "replace") if isinstance(out, bytes) else list(out)


def _sprint(*args: Any) -> str:
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += _fmt(a)
    return out


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def _sprintf(fmt: str, *args: Any) -> str:
    """Go ``fmt.Sprintf`` for the common verbs (v s d q t f e g x X c)."""
    rest = list(args)

    def one(m: re.Match[str]) -> str:
        flags, width, prec, verb = m.groups()
        if verb == "%":
            return "%"
        if not rest:
            return f"%!{verb}(MISSING)"
        a = rest.pop(0)
        kind = _kind(a)
        if verb in "vs" or (verb == "d" and kind == "int") or (verb == "t" and kind == "bool"):
            s = _fmt(a) if verb != "s" or prec is None else _fmt(a)[: int(prec)]
        elif verb == "q" and kind == "string":
            s = json.dumps(a, ensure_ascii=False)
        elif verb in "feEgG" and kind in ("int", "float"):
            if verb in "gG" and prec is None:
                s = _fmt_float(float(a))
            else:
                s = format(float(a), f".{prec or 6}{verb}")
        elif verb in "xX" and kind in ("int", "string"):
            s = format(a, verb) if kind == "int" else a.encode().hex()
            s = s.upper() if verb == "X" else s
        elif verb == "c" and kind == "int":
            s = chr(a)
        else:
            return f"%!{verb}({_go_type(a)}={_fmt(a)})"
        if width:
            fill = "0" if "0" in flags and "-" not in flags else " "
            s = s.ljust(int(width)) if "-" in flags else s.rjust(int(width), fill)
        return s

    out = _VERB.sub(one, fmt)
    if rest:
        out += "%!(EXTRA " + ", ".join(f"{_go_type(a)}={_fmt(a)}" for a in rest) + ")"
    return out


def _to_json(v: Any) -> Any:
    if isinstance(v, Struct):
        out = {}
        for key, x in v.items():
            name, _, omit = v.json_names.get(key, key).partition(",")
            if not (omit and x in ("", [], None, False, 0)):
                out[name] = _to_json(x)
        return out
    if isinstance(v, dict):
        return {str(k): _to_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_to_json(x) for x in v]
    return None if v is _MISSING else v


def _json(v: Any) -> str:
    """Ollama's ``json`` func: Go ``json.Marshal`` (compact, HTML characters escaped)."""
    text = json.dumps(_to_json(v), ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text


_FUNCS: dict[str, Callable[..., Any]] = {
    "and": lambda *a: a[-1],
    "or": lambda *a: a[-1],
    "not": lambda a: not _truth(a),
    "len": _len,
    "index": _index,
    "slice": _slice,
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _lt,
    "le": lambda a, b: _lt(a, b) or _eq(a, b),
    "gt": lambda a, b: not (_lt(a, b) or _eq(a, b)),
    "ge": lambda a, b: not _lt(a, b),
    "print": _sprint,
    "printf": _sprintf,
    "println": lambda *a: " ".join(_fmt(x) for x in a) + "\n",
    "html": lambda *a: html.escape(_sprint(*a)).replace("&#x27;", "&#39;").replace("&quot;", "&#34;"),
    "urlquery": lambda *a: urllib.parse.quote_plus(_sprint(*a)),
    "json": _json,
}
_ARITY: dict[str, tuple[int, int | None]] = {
    "and": (1, None), "or": (1, None), "not": (1, 1), "len": (1, 1), "index": (1, None),
    "slice": (1, None), "eq": (2, None), "ne": (2, 2), "lt": (2, 2), "le": (2, 2), "gt": (2, 2),
    "ge": (2, 2), "printf": (1, None), "json": (1, 1),
}  # fmt: skip


def _parse_nodes(source: str) -> list[Any]:
    """Parse Go template text into a node list (no Ollama touch-ups)."""
    nodes, _ = _Parser(_lex(source)).item_list(top=True)
    return nodes


# ------------------------------------------------------ Ollama prompt semantics
_JSON_NAMES = {"Role": "role", "Content": "content", "Thinking": "thinking,omitempty",
               "Images": "images,omitempty", "ToolCalls": "tool_calls,omitempty",
               "ToolName": "tool_name,omitempty"}  # fmt: skip


@dataclass(frozen=True)
class Template:
    """A parsed TEMPLATE. ``nodes`` already carry the ``{{ .Response }}`` Ollama appends."""

    source: str
    nodes: tuple[Node, ...]

    def vars(self) -> list[str]:
        """Lower-cased field and variable names the template mentions (Ollama's ``Vars``)."""
        names: set[str] = set()
        for node in self.nodes:
            names.update(n.lower() for n in _identifiers(node))
        return sorted(names)

    def execute(self, data: Mapping[str, Any]) -> str:
        """Run the template once with ``data`` as dot (Go ``Execute``)."""
        return _execute(list(self.nodes), dict(data))

    def render(self, messages: Sequence[Any], system: str | None = None) -> str:
        """Build the prompt for a chat as Ollama's ``Template.Execute`` does.

        ``system`` goes in front as a system message unless the chat starts with one.
        Consecutive same-role messages are merged with a blank line (tool messages excepted).
        A template that mentions ``.Messages`` runs once with every message and ``.System`` set
        to all system texts joined by a blank line. Otherwise it runs once per
        (system, prompt, response) turn, and in the last turn, where the reply goes, it stops
        right after ``{{ .Response }}``.
        """
        msgs = [_message(m, i) for i, m in enumerate(messages)]
        if system and (not msgs or msgs[0]["role"] != "system"):
            msgs.insert(0, {"role": "system", "content": system})
        system_text, collated = _collate(msgs)
        if {"messages", "document"} & set(self.vars()):
            return self.execute({
                "System": system_text, "Messages": [_struct(m) for m in collated], "Tools": [],
                "Response": "", "Think": False, "IsThinkSet": False,
                "Query": "", "Document": "", "Instruction": "",
            })  # fmt: skip
        return self._render_legacy(collated)

    def _render_legacy(self, msgs: list[dict[str, Any]]) -> str:
        """One execution per (system, prompt, response) turn; the last is cut after .Response."""
        out: list[str] = []
        turn = {"System": "", "Prompt": "", "Response": ""}

        def flush(nodes: list[Node]) -> None:
            out.append(_execute(nodes, {**turn, "Think": False, "IsThinkSet": False}))
            turn.update(System="", Prompt="", Response="")

        for m in msgs:
            role, content = m["role"], m["content"]
            if role == "system":
                if turn["Prompt"] or turn["Response"]:
                    flush(list(self.nodes))
                turn["System"] = content
            elif role == "user":
                if turn["Response"]:
                    flush(list(self.nodes))
                turn["Prompt"] = content
            elif role == "assistant":
                turn["Response"] = content
        flush(_cut_after_response(list(self.nodes)))
        return "".join(out)


def parse(source: str) -> Template:
    """Parse a TEMPLATE; raises :class:`TemplateError` with the line of the first problem."""
    return _parse_cached(source)


@functools.lru_cache(maxsize=128)
def _parse_cached(source: str) -> Template:
    nodes = _parse_nodes(source)
    tmpl = Template(source, tuple(nodes))
    if not {"messages", "response"} & set(tmpl.vars()):
        line = source.count("\n") + 1
        response = Action(line, Pipe(line, (), False, (Command((Field(("Response",)),)),)))
        tmpl = Template(source, (*nodes, response))
    return tmpl


def render(template: str | Template, messages: Sequence[Any], system: str | None = None) -> str:
    """Render ``messages`` (dicts with ``role``/``content``, or ``(role, content)`` pairs).

    ``system`` is the model's SYSTEM: like Ollama, it is put in front as a system message
    unless the conversation already starts with one.
    """
    tmpl = template if isinstance(template, Template) else parse(template)
    return tmpl.render(messages, system)


def _message(m: Any, i: int) -> dict[str, Any]:
    """Normalise one input message to a dict with str ``role`` and ``content``."""
    if isinstance(m, Mapping):
        out = dict(m)
    elif isinstance(m, Sequence) and not isinstance(m, str) and len(m) == 2:
        out = {"role": m[0], "content": m[1]}
    else:
        raise TemplateError(f"message {i}: expected a dict with 'role' and 'content', got {m!r}")
    if not isinstance(out.get("role"), str) or not isinstance(out.get("content", ""), str):
        raise TemplateError(f"message {i}: 'role' and 'content' must be strings, got {m!r}")
    out.setdefault("content", "")
    return out


def _collate(msgs: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Ollama's collate: join system texts; merge consecutive same-role (non-tool) messages."""
    system = [m["content"] for m in msgs if m["role"] == "system"]
    out: list[dict[str, Any]] = []
    for m in msgs:
        if out and out[-1]["role"] == m["role"] and m["role"] != "tool":
            out[-1] = {**out[-1], "content": out[-1]["content"] + "\n\n" + m["content"]}
        else:
            out.append(dict(m))
    return "\n\n".join(system), out


def _struct(m: dict[str, Any]) -> Struct:
    """An ``api.Message`` value: Go field names, empty defaults, unknown fields an error."""
    fields: dict[str, Any] = {"Role": "", "Content": "", "Thinking": "", "Images": [],
                              "ToolCalls": [], "ToolName": ""}  # fmt: skip
    for key, value in m.items():
        name = "".join(p[:1].upper() + p[1:] for p in key.split("_"))
        fields[name] = value
    json_names = {k: _JSON_NAMES.get(k, k[:1].lower() + k[1:] + ",omitempty") for k in fields}
    return Struct("api.Message", fields, json_names)


def _identifiers(node: Any) -> list[str]:
    """Ollama's ``Identifiers``: field/variable names in actions and branch pipelines."""
    if isinstance(node, Action):
        return _identifiers(node.pipe)
    if isinstance(node, Branch):
        names = _identifiers(node.pipe)
        for child in (*node.body, *(node.else_ or ())):
            names += _identifiers(child)
        return names
    if isinstance(node, Pipe):
        return [n for cmd in node.cmds for a in cmd.args for n in _identifiers(a)]
    if isinstance(node, Field):
        return list(node.idents)
    if isinstance(node, Var):
        return [node.name, *node.idents]
    if isinstance(node, SubPipe) and not node.idents:  # a chained (pipe).X is not walked
        return _identifiers(node.pipe)
    return []


def _cut_after_response(nodes: list[Node]) -> list[Node]:
    """Ollama's ``deleteNode``: keep the ``.Response`` field, drop everything after it."""
    cut = False

    def walk_list(items: Sequence[Node]) -> list[Node]:
        return [k for k in (walk(n) for n in items) if k is not None]

    def walk(n: Node) -> Node | None:
        if cut:
            return None
        if isinstance(n, Branch):
            body = walk_list(n.body)
            else_ = None if n.else_ is None else walk_list(n.else_)
            return Branch(n.kind, n.line, n.pipe, tuple(body), None if else_ is None else tuple(else_))
        if isinstance(n, Action):
            pipe = walk_pipe(n.pipe)
            return None if pipe is None else Action(n.line, pipe)
        return n

    def walk_pipe(p: Pipe) -> Pipe | None:
        nonlocal cut
        if cut:
            return None
        cmds = []
        for cmd in p.cmds:
            args = []
            for a in cmd.args:
                if isinstance(a, Field) and "Response" in a.idents:
                    cut = True
                    args.append(a)
                elif cut:
                    continue
                elif isinstance(a, SubPipe) and not a.idents:
                    sub = walk_pipe(a.pipe)
                    if sub is not None:
                        args.append(SubPipe(sub, ()))
                else:
                    args.append(a)
            if not args:
                return None
            cmds.append(Command(tuple(args)))
        return Pipe(p.line, p.decl, p.is_assign, tuple(cmds))

    return walk_list(nodes)
