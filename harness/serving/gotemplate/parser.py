"""The Go ``text/template`` parser: tokens to a syntax tree (``text/template/parse``)."""

from __future__ import annotations

from typing import Any

from harness.serving.gotemplate.funcs import _FUNCS
from harness.serving.gotemplate.lexer import _lex, _Tok
from harness.serving.gotemplate.nodes import (
    Action,
    Branch,
    Command,
    Field,
    Ident,
    Jump,
    Lit,
    Node,
    Pipe,
    SubPipe,
    TemplateError,
    Text,
    Var,
)


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


def _parse_nodes(source: str) -> list[Any]:
    """Parse Go template text into a node list (no Ollama touch-ups)."""
    nodes, _ = _Parser(_lex(source)).item_list(top=True)
    return nodes
