"""A Modelfile TEMPLATE (Go template) written as a Jinja chat template that renders the same prompt,
for the ``tokenizer.chat_template`` of a GGUF the project converts.

Why: since v0.30 Ollama renders with the GGUF's chat template when it has capabilities the
TEMPLATE lacks (server/images.go ``shouldPreferChatTemplate``). A chat template translated from
the TEMPLATE has exactly the TEMPLATE's text, so it has no capability the TEMPLATE lacks, and any
other engine that reads the GGUF (llama.cpp, LM Studio) builds the prompt Ollama builds.

The Jinja side gets what llama-server passes (``messages`` with role/content) and first does what
Ollama's template/template.go ``Execute`` does before running a Messages template: ``collate``
(system texts joined by a blank line as ``.System``, consecutive same-role messages merged).
Supported: text, actions, ``if``/``else``, ``range`` over a list (with ``$i, $v`` declarations),
``with``, ``break``/``continue``, ``:=`` declarations, fields of dot, ``$`` and variables, and the
functions eq, ne, lt, le, gt, ge, and, or, not, len, slice, index. Anything else raises
:class:`Untranslatable`, and so does a template that is not a Messages template (Ollama runs
those once per turn).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from harness.errors import HarnessError
from harness.serving import gotemplate
from harness.serving.gotemplate.nodes import (
    Action,
    Branch,
    Command,
    Field,
    Ident,
    Jump,
    Lit,
    Pipe,
    SubPipe,
    Text,
    Var,
)

__all__ = ["Untranslatable", "jinja_from_go"]

_PRELUDE = (
    "{%- set ns = namespace(sys=[], msgs=[]) -%}"
    "{%- for m in messages -%}"
    "{%- set c = m.content if m.content is string else '' -%}"
    "{%- if m.role == 'system' -%}{%- set ns.sys = ns.sys + [c] -%}{%- endif -%}"
    "{%- if ns.msgs and ns.msgs[-1].Role == m.role and m.role != 'tool' -%}"
    "{%- set ns.msgs = ns.msgs[:-1] + [{'Role': m.role, 'Content': ns.msgs[-1].Content + '\\n\\n' + c}] -%}"
    "{%- else -%}{%- set ns.msgs = ns.msgs + [{'Role': m.role, 'Content': c}] -%}{%- endif -%}"
    "{%- endfor -%}"
    "{%- set root = {'System': ns.sys | join('\\n\\n'), 'Messages': ns.msgs, 'Response': '', 'Prompt': ''} -%}"
)
_COMPARE = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_FIELDS = {"System", "Messages", "Response", "Prompt", "Role", "Content"}


class Untranslatable(HarnessError, ValueError):
    """A TEMPLATE that uses something the translation does not cover."""


class _Writer:
    def __init__(self) -> None:
        self.count = 0

    def fresh(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    # ---------------------------------------------------------------- nodes
    def nodes(self, nodes: Sequence[Any], dot: str) -> str:
        return "".join(self.node(n, dot) for n in nodes)

    def node(self, n: Any, dot: str) -> str:
        if isinstance(n, Text):
            return "{{ " + json.dumps(n.text, ensure_ascii=False) + " }}" if n.text else ""
        if isinstance(n, Action):
            if n.pipe.is_assign:
                raise Untranslatable(f"line {n.line}: '=' assignment")
            if n.pipe.decl:
                return "{%- set " + _var(n.pipe.decl[0]) + " = " + self.pipe(n.pipe, dot) + " -%}"
            return "{{ " + self.pipe(n.pipe, dot) + " }}"
        if isinstance(n, Jump):
            return "{%- " + n.kind + " -%}"
        if isinstance(n, Branch):
            return self.branch(n, dot)
        raise Untranslatable(f"node {type(n).__name__}")

    def branch(self, n: Branch, dot: str) -> str:
        else_ = "{%- else -%}" + self.nodes(n.else_, dot) if n.else_ else ""
        value = self.pipe(n.pipe, dot)
        if n.kind == "if":
            if n.pipe.decl:
                raise Untranslatable(f"line {n.line}: a declaration in {{{{ if }}}}")
            return "{%- if " + value + " -%}" + self.nodes(n.body, dot) + else_ + "{%- endif -%}"
        if n.kind == "with":
            inner = _var(n.pipe.decl[0]) if n.pipe.decl else self.fresh("w")
            return ("{%- set " + inner + " = " + value + " -%}{%- if " + inner + " -%}"
                    + self.nodes(n.body, inner) + else_ + "{%- endif -%}")  # fmt: skip
        if n.kind == "range":
            decl = n.pipe.decl
            item = _var(decl[-1]) if decl else self.fresh("it")
            index = "{%- set " + _var(decl[0]) + " = loop.index0 -%}" if len(decl) == 2 else ""
            return ("{%- for " + item + " in " + value + " -%}" + index + self.nodes(n.body, item)
                    + else_ + "{%- endfor -%}")  # fmt: skip
        raise Untranslatable(f"line {n.line}: {{{{ {n.kind} }}}}")

    # ---------------------------------------------------------------- pipelines
    def pipe(self, p: Pipe, dot: str) -> str:
        out: str | None = None
        for cmd in p.cmds:
            out = self.command(cmd, dot, out)
        assert out is not None
        return out

    def command(self, cmd: Command, dot: str, piped: str | None) -> str:
        head, *rest = cmd.args
        if not isinstance(head, Ident):
            if rest or piped is not None:
                raise Untranslatable("a value given arguments")
            return self.operand(head, dot)
        args = [self.operand(a, dot) for a in rest] + ([piped] if piped is not None else [])
        name = head.name
        if name in _COMPARE:
            if name == "eq" and len(args) > 2:
                return "(" + " or ".join(f"{args[0]} == {a}" for a in args[1:]) + ")"
            return f"({args[0]} {_COMPARE[name]} {args[1]})"
        if name in ("and", "or"):
            return "(" + f" {name} ".join(args) + ")"
        if name == "not":
            return f"(not {args[0]})"
        if name == "len":
            return f"({args[0]} | length)"
        if name == "slice":
            bounds = ":".join(args[1:3]) if len(args) > 2 else (args[1] + ":" if len(args) == 2 else ":")
            return f"{args[0]}[{bounds}]"
        if name == "index":
            return args[0] + "".join(f"[{a}]" for a in args[1:])
        raise Untranslatable(f"the function {name!r}")

    def operand(self, a: Any, dot: str) -> str:
        if isinstance(a, Field):
            return dot + _fields(a.idents)
        if isinstance(a, Var):
            return ("root" if a.name == "$" else _var(a.name)) + _fields(a.idents)
        if isinstance(a, SubPipe):
            return "(" + self.pipe(a.pipe, dot) + ")" + _fields(a.idents)
        if isinstance(a, Lit):
            if a.kind == "dot":
                return dot
            if a.kind == "nil":
                return "none"
            if isinstance(a.value, bool):
                return "true" if a.value else "false"
            if isinstance(a.value, str):
                return json.dumps(a.value, ensure_ascii=False)
            return repr(a.value)
        raise Untranslatable(f"the operand {a!r}")


def _var(name: str) -> str:
    return "v_" + (name.lstrip("$") or "root")


def _fields(idents: Sequence[str]) -> str:
    for ident in idents:
        if ident not in _FIELDS:
            raise Untranslatable(f"the field .{ident}")
    return "".join(f".{i}" for i in idents)


_SAMPLES: tuple[tuple[Mapping[str, str], ...], ...] = (
    ({"role": "user", "content": "hi"},),
    ({"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
     {"role": "assistant", "content": "hello"}, {"role": "user", "content": "go"}),
    ({"role": "user", "content": "a"}, {"role": "user", "content": "b"},
     {"role": "assistant", "content": "c"}),
)  # fmt: skip


def jinja_from_go(template: str) -> str:
    """The Jinja chat template for ``template``; checked to render what Ollama renders for sample
    conversations, else :class:`Untranslatable`."""
    from harness.serving.prompt import PromptError, render_jinja

    t = gotemplate.parse(template)
    if "messages" not in t.vars():
        raise Untranslatable("not a .Messages template (Ollama runs those once per turn)")
    jinja = _PRELUDE + _Writer().nodes(t.nodes, "root")
    for msgs in _SAMPLES:
        try:
            same = render_jinja(jinja, msgs) == t.render(list(msgs))
        except (PromptError, gotemplate.TemplateError) as e:
            raise Untranslatable(f"the translation does not render ({e})") from None
        if not same:
            raise Untranslatable("the translation renders a different prompt")
    return jinja
