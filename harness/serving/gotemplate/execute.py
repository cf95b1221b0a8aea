"""The Go ``text/template`` executor: walks a syntax tree with data as dot and writes the text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.serving.gotemplate.funcs import (
    _ARITY,
    _FUNCS,
    _MISSING,
    _fmt,
    _FuncError,
    _go_type,
    _sorted_items,
    _truth,
)
from harness.serving.gotemplate.nodes import (
    Action,
    Branch,
    Command,
    Field,
    Ident,
    Lit,
    Pipe,
    Struct,
    TemplateError,
    Text,
    Var,
)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


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
