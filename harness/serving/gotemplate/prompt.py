"""Ollama's prompt semantics over the Go template engine (``template/template.go``).

:class:`Template` is a parsed TEMPLATE with the ``{{ .Response }}`` Ollama appends; :func:`parse`
caches parses, :func:`render` builds the prompt for a chat (see :meth:`Template.render`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.serving.gotemplate.execute import _execute
from harness.serving.gotemplate.funcs import Ordered
from harness.serving.gotemplate.nodes import (
    Action,
    Branch,
    Command,
    Field,
    Node,
    Pipe,
    Struct,
    SubPipe,
    TemplateError,
    Var,
)
from harness.serving.gotemplate.parser import _parse_nodes

_JSON_NAMES = {"Role": "role", "Content": "content", "Thinking": "thinking,omitempty",
               "Images": "images,omitempty", "ToolCalls": "tool_calls,omitempty",
               "ToolName": "tool_name,omitempty", "ToolCallID": "tool_call_id,omitempty"}  # fmt: skip


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

    def render(
        self,
        messages: Sequence[Any],
        system: str | None = None,
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        think: bool | str | None = None,
    ) -> str:
        """Build the prompt for a chat as Ollama's ``Template.Execute`` does.

        ``system`` goes in front as a system message unless the chat starts with one.
        Consecutive same-role messages are merged with a blank line (tool messages excepted).
        A template that mentions ``.Messages`` runs once with every message and ``.System`` set
        to all system texts joined by a blank line. Otherwise it runs once per
        (system, prompt, response) turn, and in the last turn, where the reply goes, it stops
        right after ``{{ .Response }}``.
        """
        think_vars = _think_values(think)
        msgs = [_message(m, i) for i, m in enumerate(messages)]
        if system and (not msgs or msgs[0]["role"] != "system"):
            msgs.insert(0, {"role": "system", "content": system})
        system_text, collated = _collate(msgs)
        if {"messages", "document"} & set(self.vars()):
            return self.execute({
                "System": system_text, "Messages": [_struct(m) for m in collated],
                "Tools": [_tool(t) for t in tools or ()], "Response": "", **think_vars,
                "Query": "", "Document": "", "Instruction": "",
            })  # fmt: skip
        return self._render_legacy(collated, think_vars)

    def _render_legacy(self, msgs: list[dict[str, Any]], think_vars: dict[str, Any]) -> str:
        """One execution per (system, prompt, response) turn; the last is cut after .Response."""
        out: list[str] = []
        turn = {"System": "", "Prompt": "", "Response": ""}

        def flush(nodes: list[Node]) -> None:
            out.append(_execute(nodes, {**turn, **think_vars}))
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


def render(
    template: str | Template,
    messages: Sequence[Any],
    system: str | None = None,
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    think: bool | str | None = None,
) -> str:
    """Render ``messages`` (dicts with ``role``/``content``, or ``(role, content)`` pairs).

    ``system`` is the model's SYSTEM: like Ollama, it is put in front as a system message
    unless the conversation already starts with one.
    """
    tmpl = template if isinstance(template, Template) else parse(template)
    return tmpl.render(messages, system, tools=tools, think=think)


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


def _think_values(think: bool | str | None) -> dict[str, Any]:
    """template.Values ``Think`` / ``ThinkLevel`` / ``IsThinkSet`` from a request's ``think``
    (true/false, or a level "high" | "medium" | "low" | "max", which also means Think)."""
    level = think if isinstance(think, str) else ""
    return {"Think": bool(think), "ThinkLevel": level, "IsThinkSet": think is not None}


def _go_name(key: str) -> str:
    return {"tool_call_id": "ToolCallID", "id": "ID"}.get(key) or "".join(
        p[:1].upper() + p[1:] for p in key.split("_")
    )


def _tool_call(c: Mapping[str, Any]) -> Struct:
    """An ``api.ToolCall``: ``{"id", "function": {"index", "name", "arguments"}}``, arguments
    in their given order (ToolCallFunctionArguments is an ordered map)."""
    fn = dict(c.get("function") or {})
    args = fn.get("arguments") or {}
    if isinstance(args, str):
        args = json.loads(args) if args.strip() else {}
    function = Struct("api.ToolCallFunction", {"Index": int(fn.get("index", 0)), "Name": fn.get("name", ""),
                      "Arguments": Ordered(args)}, {"Index": "index", "Name": "name", "Arguments": "arguments"})  # fmt: skip
    return Struct("api.ToolCall", {"ID": c.get("id", ""), "Function": function},
                  {"ID": "id,omitempty", "Function": "function"})  # fmt: skip


def _ordered(v: Any) -> Any:
    return Ordered({k: _ordered(x) if k != "properties" else Ordered(x) for k, x in v.items()}) if isinstance(
        v, Mapping) else v  # fmt: skip


def _tool(t: Mapping[str, Any]) -> Struct:
    """An ``api.Tool`` with Go's field names (``.Function.Parameters.Properties`` keeps its order)."""
    fn = dict(t.get("function") or {})
    params = dict(fn.get("parameters") or {})
    parameters = Struct("api.ToolFunctionParameters", {
        "Type": params.get("type", ""), "Defs": params.get("$defs"), "Items": params.get("items"),
        "Required": list(params.get("required") or []),
        "Properties": Ordered({k: _ordered(v) for k, v in (params.get("properties") or {}).items()}),
    }, {"Type": "type", "Defs": "$defs,omitempty", "Items": "items,omitempty", "Required": "required,omitempty",
        "Properties": "properties"})  # fmt: skip
    function = Struct("api.ToolFunction", {"Name": fn.get("name", ""), "Description": fn.get("description", ""),
                      "Parameters": parameters},
                      {"Name": "name", "Description": "description,omitempty", "Parameters": "parameters"})  # fmt: skip
    return Struct("api.Tool", {"Type": t.get("type", "function"), "Items": t.get("items"), "Function": function},
                  {"Type": "type", "Items": "items,omitempty", "Function": "function"})  # fmt: skip


def _struct(m: dict[str, Any]) -> Struct:
    """An ``api.Message`` value: Go field names, empty defaults, unknown fields an error."""
    fields: dict[str, Any] = {"Role": "", "Content": "", "Thinking": "", "Images": [],
                              "ToolCalls": [], "ToolName": "", "ToolCallID": ""}  # fmt: skip
    for key, value in m.items():
        name = _go_name(key)
        fields[name] = [_tool_call(c) for c in value] if name == "ToolCalls" else value
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
