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
from harness.serving.gotemplate.funcs import GoMap, GoSlice, JSONSlice, JSONStruct, Ordered, PropertyType
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
        prompt: str = "",
        suffix: str = "",
    ) -> str:
        """Build the prompt for a chat as Ollama's ``Template.Execute`` does.

        With both ``prompt`` and ``suffix`` (a generate request's fill-in-the-middle) the template
        runs once with only ``.Prompt``, ``.Suffix`` and the think values set; messages are ignored.

        ``system`` goes in front as a system message unless the chat starts with one.
        Consecutive same-role messages are merged with a blank line (tool messages excepted).
        A template that mentions ``.Messages`` runs once with every message and ``.System`` set
        to all system texts joined by a blank line. Otherwise it runs once per
        (system, prompt, response) turn, and in the last turn, where the reply goes, it stops
        right after ``{{ .Response }}``.
        """
        think_vars = _think_values(think)
        if prompt and suffix:  # template.go Execute: the Values.Prompt/Suffix case comes first
            return self.execute({"Prompt": prompt, "Suffix": suffix, "Response": "", **think_vars})
        msgs = [_message(m, i) for i, m in enumerate(messages)]
        if system and (not msgs or msgs[0]["role"] != "system"):
            msgs.insert(0, {"role": "system", "content": system})
        system_text, collated = _collate(msgs)
        if {"messages", "document"} & set(self.vars()):
            return self.execute({
                "System": system_text, "Messages": [_struct(m) for m in collated],
                "Tools": JSONSlice([_tool(t) for t in tools or ()], "template.templateTools", nil=tools is None),
                "Response": "", **think_vars,
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
    prompt: str = "",
    suffix: str = "",
) -> str:
    """Render ``messages`` (dicts with ``role``/``content``, or ``(role, content)`` pairs).

    ``system`` is the model's SYSTEM: like Ollama, it is put in front as a system message
    unless the conversation already starts with one. ``prompt`` and ``suffix``: see
    :meth:`Template.render`.
    """
    tmpl = template if isinstance(template, Template) else parse(template)
    return tmpl.render(messages, system, tools=tools, think=think, prompt=prompt, suffix=suffix)


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
    (true/false, or a level "high" | "medium" | "low" | "max", which also means Think), as
    server/prompt.go ``renderPrompt`` sets them: Think = think.Bool(), ThinkLevel = think.String()
    (api/types.go ``ThinkValue.String``: a level is itself, true is "medium", false is "")."""
    level = think if isinstance(think, str) else ("medium" if think is True else "")
    return {"Think": bool(think), "ThinkLevel": level, "IsThinkSet": think is not None}


def _go_name(key: str) -> str:
    return {"tool_call_id": "ToolCallID", "id": "ID"}.get(key) or "".join(
        p[:1].upper() + p[1:] for p in key.split("_")
    )


def _tool_call(c: Mapping[str, Any]) -> Struct:
    """template/template.go ``convertMessagesForTemplate``: an ``api.ToolCall`` as a
    ``templateToolCall`` {ID, Function {Index, Name, Arguments}}. These structs have no JSON tags
    (``json`` writes the Go field names), and Arguments is a ``templateArgs``: a plain Go map, so
    it ranges and marshals in key order, and prints as its JSON."""
    fn = dict(c.get("function") or {})
    args = fn.get("arguments")
    if isinstance(args, str):
        args = json.loads(args) if args.strip() else {}
    arguments = GoMap(args or {}, "template.templateArgs", nil=args is None)
    function = Struct("template.templateToolCallFunction", {"Index": int(fn.get("index", 0)),
                      "Name": fn.get("name", ""), "Arguments": arguments}, {})  # fmt: skip
    return Struct("template.templateToolCall", {"ID": c.get("id", ""), "Function": function}, {})


_PROPERTY_JSON = {"AnyOf": "anyOf,omitempty", "Type": "type,omitempty", "Items": "items,omitempty",
                  "Description": "description,omitempty", "Enum": "enum,omitempty",
                  "Properties": "properties,omitempty", "Required": "required,omitempty"}  # fmt: skip


def _property(p: Any) -> Struct:
    """An ``api.ToolProperty`` as Go decodes it from a request (api/types.go): its seven fields
    only (other keys are dropped), ``type`` a PropertyType, nested ``properties`` an ordered
    ToolPropertiesMap."""
    p = p if isinstance(p, Mapping) else {}
    kind = p.get("type")
    nested = p.get("properties")
    fields = {
        "AnyOf": [_property(x) for x in p.get("anyOf") or ()],
        "Type": PropertyType([kind] if isinstance(kind, str) else list(kind or ())),
        "Items": p.get("items"), "Description": p.get("description", ""), "Enum": list(p.get("enum") or ()),
        "Properties": None if nested is None else Ordered({k: _property(v) for k, v in nested.items()}),
        "Required": list(p.get("required") or ()),
    }  # fmt: skip
    return Struct("api.ToolProperty", fields, _PROPERTY_JSON)


def _tool(t: Mapping[str, Any]) -> Struct:
    """template/template.go ``convertToolsForTemplate``: an ``api.Tool`` as a ``templateTool``
    (its String() is its JSON); ``.Function.Parameters.Properties`` is a ``templateProperties``:
    a plain Go map of ToolProperty, so it ranges and marshals in key order, and prints as JSON."""
    fn = dict(t.get("function") or {})
    params = dict(fn.get("parameters") or {})
    props = params.get("properties")
    properties = GoMap({k: _property(v) for k, v in (props or {}).items()}, "template.templateProperties",
                       nil=props is None)  # fmt: skip
    parameters = Struct("template.templateToolFunctionParameters", {
        "Type": params.get("type", ""), "Defs": params.get("$defs"), "Items": params.get("items"),
        "Required": list(params.get("required") or []), "Properties": properties,
    }, {"Type": "type", "Defs": "$defs,omitempty", "Items": "items,omitempty", "Required": "required,omitempty",
        "Properties": "properties"})  # fmt: skip
    function = Struct("template.templateToolFunction", {"Name": fn.get("name", ""),
                      "Description": fn.get("description", ""), "Parameters": parameters},
                      {"Name": "name", "Description": "description", "Parameters": "parameters"})  # fmt: skip
    return JSONStruct("template.templateTool", {"Type": t.get("type", ""), "Items": t.get("items"),
                      "Function": function}, {"Type": "type", "Items": "items,omitempty", "Function": "function"})  # fmt: skip


_NIL_TOOL_CALLS = "[]template.templateToolCall"


def _struct(m: dict[str, Any]) -> Struct:
    """template/template.go ``convertMessagesForTemplate``: a ``*templateMessage``, api.Message's
    seven fields (other keys are dropped, as Go's JSON decoding drops them) with no JSON tags;
    Images and ToolCalls are nil slices when empty. A field it lacks is an error."""
    fields: dict[str, Any] = {"Role": "", "Content": "", "Thinking": "", "Images": GoSlice((), "[]api.ImageData", nil=True),
                              "ToolCalls": GoSlice((), _NIL_TOOL_CALLS, nil=True), "ToolName": "", "ToolCallID": ""}  # fmt: skip
    for key, value in m.items():
        name = _go_name(key)
        if name == "ToolCalls":
            value = GoSlice([_tool_call(c) for c in value or ()], _NIL_TOOL_CALLS, nil=not value)
        if name in fields:
            fields[name] = value
    return Struct("*template.templateMessage", fields, {})


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
