"""Which template renders a model's prompt, as current Ollama decides, and the exact prompt text.

Followed from ollama/ollama at :data:`~harness.serving.emulation.OLLAMA_COMMIT`:

* **A Modelfile TEMPLATE** (a Go template) renders the prompt, unless the GGUF's own chat template
  (Jinja) has capabilities the TEMPLATE lacks (tools, thinking): then llama-server renders the
  GGUF's template (server/images.go ``shouldPreferChatTemplate``, routes.go ``chatModeForModel`` /
  ``shouldUseGoTemplate``). ``OLLAMA_GO_TEMPLATE`` set to a true value keeps the TEMPLATE, a false
  one keeps the GGUF's; releases before 0.30 always use the TEMPLATE.
* **No TEMPLATE**: on create, Ollama looks for a known template whose Jinja source is within
  Levenshtein distance 100 of the GGUF's (server/model.go ``detectChatTemplate``, template/template.go
  ``Named``) and stores its Go template and stop words. Without a match the model has no Go
  template, so llama-server renders the GGUF's chat template; without one either, the prompt is
  the bare text (``{{ .Prompt }}``).
* RENDERER / PARSER name Ollama's built-in Go renderers, which are not emulated: the TEMPLATE is
  used and :attr:`TemplateChoice.reason` says so.

:class:`PromptBuilder` joins this with the message rules of the chat handler (routes.go: SYSTEM in
front unless the request starts with a system message, MESSAGE history before the request).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError
from harness.serving import gotemplate
from harness.serving.emulation import emulated_version, prefers_gguf_templates
from harness.serving.modelfile import Modelfile

__all__ = [
    "PromptBuilder",
    "TemplateChoice",
    "builder_for",
    "choose_template",
    "detect_template",
    "render_jinja",
]

DEFAULT_TEMPLATE = "{{ .Prompt }}"


class PromptError(HarnessError, ValueError):
    """A chat template that cannot render the conversation."""


@dataclass(frozen=True)
class TemplateChoice:
    """The template that renders the prompt: ``kind`` ``go`` or ``jinja``."""

    kind: str
    source: str
    """``modelfile``, ``detected:<name>`` (a known template matched the GGUF's), ``gguf`` (the GGUF's
    Jinja chat template) or ``default`` (``{{ .Prompt }}``)."""
    text: str
    reason: str
    stop: tuple[str, ...] = ()
    """Stop words that come with a detected template (its ``<name>.json``)."""


# ---------------------------------------------------------------- capabilities (server/images.go)
def go_capabilities(template: str | None) -> set[str]:
    """server/images.go ``goTemplateCapabilities``: ``tools`` when the template's Vars hold "tools",
    ``insert`` for "suffix", ``thinking`` when thinking.InferTags (thinking/template.go) finds both
    an opening and a closing tag (``openingTag != "" && closingTag != ""``)."""
    if not template:
        return set()
    names = set(gotemplate.parse(template).vars())
    caps = {c for c, var in (("tools", "tools"), ("insert", "suffix")) if var in names}
    opening, closing = infer_thinking_tags(template)
    if opening and closing:
        caps.add("thinking")
    return caps


def infer_thinking_tags(template: str | None) -> tuple[str, str]:
    """thinking/template.go ``InferTags``: for each ``.Thinking`` field inside a range over
    ``.Messages``, the first and last text (trimmed) of the node list that holds it; the last such
    field wins. ("", "") when there is none."""
    from harness.serving.gotemplate.nodes import Action, Branch, Field, SubPipe, Text

    tags = ["", ""]
    if not template:
        return ("", "")

    def uses(pipe: Any, name: str) -> bool:
        for cmd in pipe.cmds:
            for a in cmd.args:
                if (isinstance(a, Field) and a.idents[:1] == (name,)) or (
                    isinstance(a, SubPipe) and uses(a.pipe, name)
                ):
                    return True
        return False

    def check(pipe: Any, nodes: tuple[Any, ...], in_messages: bool) -> None:
        if in_messages and uses(pipe, "Thinking"):
            if isinstance(nodes[0], Text):
                tags[0] = nodes[0].text.strip()
            if isinstance(nodes[-1], Text):
                tags[1] = nodes[-1].text.strip()

    def visit(nodes: tuple[Any, ...], in_messages: bool) -> None:
        for n in nodes:
            if isinstance(n, Action):
                check(n.pipe, nodes, in_messages)
            elif isinstance(n, Branch):
                inner = uses(n.pipe, "Messages") if n.kind == "range" else in_messages
                check(n.pipe, nodes, inner)
                visit(n.body, inner)
                if n.else_:
                    visit(n.else_, inner)

    visit(gotemplate.parse(template).nodes, False)
    return tags[0], tags[1]


def _go_round_trip(template: str | None) -> bool:
    """``goTemplateHasToolRoundTrip``."""
    if not template:
        return False
    names = set(gotemplate.parse(template).vars())
    if not {"tools", "toolcalls"} <= names:
        return False
    return any(s in template for s in ('eq .Role "tool"', "tool_response", "TOOL_RESULTS"))


def chat_capabilities(chat_template: str | None) -> set[str]:
    """``chatTemplateCapabilities`` of a GGUF's Jinja chat template (substring tests, as Ollama's)."""
    if not chat_template:
        return set()
    caps = set()
    if "tools" in chat_template or "tool_call" in chat_template:
        caps.add("tools")
    t = chat_template
    if ("<think>" in t and "</think>" in t) or (
        ("content.split('</think>')" in t or 'content.split("</think>")' in t)
        and "reasoning_content" not in t
        and "<SPECIAL_12>" not in t
    ):
        caps.add("thinking")
    return caps


def _chat_round_trip(t: str) -> bool:
    """``chatTemplateHasToolRoundTrip``."""
    if "tools" not in t and "tool_call" not in t:
        return False
    calls = "tool_calls" in t or "assistant_tool_call" in t
    results = ("tool_response", "tool_results", "role'] == 'tool'", "role'] == \"tool\"", "role\"] == 'tool'",
               'role"] == "tool"', "message.role == 'tool'", 'message.role == "tool"', "ipython")  # fmt: skip
    return calls and any(s in t for s in results)


def prefer_chat_template(chat_template: str, go_template: str | None) -> bool:
    """server/images.go ``shouldPreferChatTemplate``."""
    chat_caps, go_caps = chat_capabilities(chat_template), go_capabilities(go_template)
    if len(chat_caps) > len(go_caps):
        return not _go_round_trip(go_template) or _chat_round_trip(chat_template)
    if chat_caps != go_caps or "tools" not in chat_caps:
        return False
    return _chat_round_trip(chat_template) and not _go_round_trip(go_template)


def _go_template_env() -> bool | None:
    """envconfig ``GoTemplate``: None when OLLAMA_GO_TEMPLATE is unset; Go's ParseBool, else True."""
    raw = os.environ.get("OLLAMA_GO_TEMPLATE", "").strip().strip("'\"")
    if not raw:
        return None
    return {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True, "0": False,
            "f": False, "F": False, "FALSE": False, "false": False, "False": False}.get(raw, True)  # fmt: skip


# ---------------------------------------------------------------- detection (template.Named)
@functools.cache
def _known() -> dict[str, Any]:
    from importlib.resources import files

    return json.loads((files("harness.serving") / "ollama_templates.json").read_text(encoding="utf-8"))


def _levenshtein_below(a: str, b: str, limit: int) -> int | None:
    """The edit distance of ``a`` and ``b`` (per code point, as agnivade/levenshtein counts runes)
    when it is below ``limit``, else None. Only the band |i - j| ≤ limit is computed: cells
    outside it are farther than ``limit`` anyway."""
    n, m = len(a), len(b)
    if abs(n - m) >= limit:
        return None
    inf = limit + 1
    prev = [j if j <= limit else inf for j in range(m + 1)]
    for i in range(1, n + 1):
        cur = [inf] * (m + 1)
        if i <= limit:
            cur[0] = i
        lo, hi = max(1, i - limit), min(m, i + limit)
        ca = a[i - 1]
        for j in range(lo, hi + 1):
            v = prev[j - 1] + (ca != b[j - 1])
            if prev[j] + 1 < v:
                v = prev[j] + 1
            if cur[j - 1] + 1 < v:
                v = cur[j - 1] + 1
            cur[j] = v if v < inf else inf
        if min(cur[lo - 1 : hi + 1]) >= limit:
            return None
        prev = cur
    return prev[m] if prev[m] < limit else None


def detect_template(chat_template: str) -> tuple[str, str, tuple[str, ...]] | None:
    """template.Named: (name, Go template, stop words) of the known template nearest to
    ``chat_template`` when its distance is under 100, else None."""
    data = _known()
    best: tuple[int, str] | None = None
    for entry in data["index"]:
        d = _levenshtein_below(chat_template, entry["template"], 100 if best is None else best[0])
        if d is not None and (best is None or d < best[0]):
            best = (d, entry["name"])
    if best is None:
        return None
    t = data["templates"][best[1]]
    return best[1], t["gotmpl"], tuple(t["stop"] or ())


def _gguf_over_go(
    mf: Modelfile, chat_template: str | None, go: str, modern: bool, what: str, stop: tuple[str, ...] = ()
) -> TemplateChoice | None:
    """The GGUF's chat template when Ollama renders with it instead of the Go template ``go``
    (``what``): server/images.go GetModel sets PreferChatTemplate when OLLAMA_GO_TEMPLATE is unset
    and shouldPreferChatTemplate holds, and routes.go shouldUseGoTemplate then (or when
    OLLAMA_GO_TEMPLATE is false) leaves the GGUF's template to llama-server. None: ``go`` renders."""
    if not (modern and chat_template and mf.renderer is None and mf.parser is None):
        return None
    env = _go_template_env()
    if env is False:
        return TemplateChoice("jinja", "gguf", chat_template, "OLLAMA_GO_TEMPLATE is false: llama-server "
                              "renders the GGUF's chat template", stop)  # fmt: skip
    if env is None and prefer_chat_template(chat_template, go):
        more = ", ".join(sorted(chat_capabilities(chat_template) - go_capabilities(go))) or "tools"
        return TemplateChoice("jinja", "gguf", chat_template, f"the GGUF's chat template has capabilities "
                              f"{what} lacks ({more}), so Ollama prefers it (shouldPreferChatTemplate; "
                              f"OLLAMA_GO_TEMPLATE=1 keeps {what})", stop)  # fmt: skip
    return None


def choose_template(
    mf: Modelfile, chat_template: str | None, *, version: str | None = None
) -> TemplateChoice:
    """The template Ollama (``version``, default the emulated one) renders this model's chat with."""
    modern = prefers_gguf_templates(version)
    if mf.template is None:
        hit = detect_template(chat_template) if chat_template else None
        if hit is not None:
            name, text, stop = hit
            # server/model.go detectChatTemplate stores the known template as the model's TEMPLATE
            # layer (and its stops as the params layer), so server/images.go GetModel sees
            # HasGoTemplate and still runs shouldPreferChatTemplate on it (images.go ~793); the
            # stops stay in the model's options, which llama-server gets too (llm/llama_server.go
            # llamaServerChatRequest "stop").
            gguf = _gguf_over_go(mf, chat_template, text, modern, f"the detected template {name!r}", stop)
            if gguf is not None:
                return gguf
            return TemplateChoice("go", f"detected:{name}", text, f"no TEMPLATE; the GGUF's chat template "
                                  f"matches Ollama's known template {name!r} (detectChatTemplate)", stop)  # fmt: skip
        if chat_template and modern:
            return TemplateChoice("jinja", "gguf", chat_template, "no TEMPLATE and no known template matches: "
                                  "llama-server renders the GGUF's chat template")  # fmt: skip
        why = (
            "no TEMPLATE and no chat template in the GGUF"
            if not chat_template
            else (
                f"no TEMPLATE and no known template matches; Ollama {emulated_version(version)} renders Go templates only"
            )
        )
        return TemplateChoice("go", "default", DEFAULT_TEMPLATE, why + ": the prompt is the bare text")
    env = _go_template_env()
    gguf = _gguf_over_go(mf, chat_template, mf.template, modern, "the TEMPLATE")
    if gguf is not None:
        return gguf
    why = "the Modelfile TEMPLATE"
    if mf.renderer or mf.parser:
        why += " (RENDERER/PARSER name Ollama built-ins that are not emulated here)"
    elif env:
        why += " (OLLAMA_GO_TEMPLATE is set)"
    elif not modern:
        why += f" (Ollama {emulated_version(version)} renders Go templates only)"
    return TemplateChoice("go", "modelfile", mf.template, why)


# ---------------------------------------------------------------- Jinja, as llama-server renders it
def render_jinja(
    chat_template: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    bos_token: str = "",
    eos_token: str = "",
    think: bool | str | None = None,
) -> str:
    """A GGUF chat template rendered as llama-server does for /v1/chat/completions: the messages,
    ``tools``, ``add_generation_prompt``, the BOS/EOS texts, ``enable_thinking``; trim_blocks and
    lstrip_blocks as in Hugging Face's ``apply_chat_template``."""
    try:
        import jinja2
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:
        raise PromptError("rendering a GGUF chat template needs jinja2: pip install jinja2") from None

    def raise_exception(msg: str) -> None:
        raise PromptError(f"the GGUF chat template refused the conversation: {msg}")

    def strftime_now(fmt: str) -> str:
        import datetime

        return datetime.datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = lambda x, indent=None, ensure_ascii=False, **_: json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=None if indent else (", ", ": "))  # fmt: skip
    env.globals.update(raise_exception=raise_exception, strftime_now=strftime_now)
    variables: dict[str, Any] = {"messages": [dict(m) for m in messages], "add_generation_prompt": True,
                                 "bos_token": bos_token, "eos_token": eos_token}  # fmt: skip
    if tools:
        variables["tools"] = [dict(t) for t in tools]
    if think is not None:  # llm/llama_server.go llamaServerChatTemplateKwargs
        variables["enable_thinking"] = bool(think)  # think.Bool(): true, or any valid level
        if isinstance(think, str) and think:  # think.IsString(): the level as reasoning_effort
            variables["reasoning_effort"] = think
    try:
        return env.from_string(chat_template).render(**variables)
    except jinja2.TemplateError as e:
        raise PromptError(
            f"the GGUF chat template does not render: {e}; set a TEMPLATE in the Modelfile"
        ) from None


# ---------------------------------------------------------------- the whole prompt
@dataclass
class PromptBuilder:
    """A model's prompt as Ollama builds it: ``messages()`` then ``render()``."""

    modelfile: Modelfile
    chat_template: str | None = None
    bos_token: str = ""
    eos_token: str = ""
    version: str | None = None
    choice: TemplateChoice = field(init=False)

    def __post_init__(self) -> None:
        self.choice = choose_template(self.modelfile, self.chat_template, version=self.version)

    def messages(self, request: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """SYSTEM, MESSAGE history and the request (:meth:`Modelfile.chat_messages`). All of these
        may be dropped to fit the context."""
        return self.modelfile.chat_messages(request)

    def render(self, msgs: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None = None,
               think: bool | str | None = None) -> str:  # fmt: skip
        """The prompt text for ``msgs`` (already through :meth:`messages`). ``think`` None on a
        thinking-capable model means true, as server/routes.go ChatHandler sets ``req.Think``
        (``if req.Think == nil { req.Think = &api.ThinkValue{Value: true} }``)."""
        if think is None and "thinking" in self.capabilities():
            think = True
        if self.choice.kind == "jinja":
            return render_jinja(self.choice.text, msgs, tools=tools, bos_token=self.bos_token,
                                eos_token=self.eos_token, think=think)  # fmt: skip
        return gotemplate.parse(self.choice.text).render(list(msgs), tools=tools, think=think)

    def capabilities(self) -> set[str]:
        """The template part of server/images.go ``Model.Capabilities`` (templateCapabilitySelected):
        the GGUF chat template's when llama-server renders it (``ggufCapabilities``, when not
        ``usesOllamaRenderedChat``), else the selected Go template's (``templateCapabilities``)."""
        if self.choice.kind == "jinja":
            return chat_capabilities(self.choice.text)
        return go_capabilities(self.choice.text)

    def thinking_tags(self) -> tuple[str, str] | None:
        """The tags around a reply's thinking when the model thinks (routes.go ChatHandler: a
        thinking-capable model thinks unless the request says not to; tags from InferTags, or
        <think>…</think> for a GGUF chat template), else None."""
        if self.choice.kind == "jinja":
            return ("<think>", "</think>") if "thinking" in chat_capabilities(self.choice.text) else None
        opening, closing = infer_thinking_tags(self.choice.text)
        return (opening, closing) if opening and closing else None

    def prompt(self, request: Sequence[Mapping[str, Any]], **kw: Any) -> str:
        return self.render(self.messages(request), **kw)

    def parameters(self) -> dict[str, Any]:
        """The Modelfile's PARAMETERs, plus the stop words of a detected template (create stores
        them as the model's params layer when the Modelfile sets none)."""
        params = dict(self.modelfile.parameters)
        if self.choice.stop and "stop" not in params:
            params["stop"] = list(self.choice.stop)
        return params


def gguf_special_texts(path: str) -> tuple[str, str]:
    """The BOS and EOS token texts of a GGUF (what a Jinja template sees as bos_token / eos_token)."""
    from harness.serving.gguf_info import read_gguf_info

    info = read_gguf_info(path)
    if info.bos_token_id is None and info.eos_token_id is None:
        return "", ""
    try:
        from gguf import GGUFReader

        field_ = GGUFReader(path).fields.get("tokenizer.ggml.tokens")
    except Exception:  # an unreadable vocabulary: templates then see empty texts
        return "", ""
    if field_ is None:
        return "", ""

    def text(i: int | None) -> str:
        if i is None or not 0 <= i < len(field_.data):
            return ""
        return bytes(field_.parts[field_.data[i]]).decode("utf-8", "replace")

    return text(info.bos_token_id), text(info.eos_token_id)


def builder_for(mf: Modelfile, gguf: str | None, *, version: str | None = None) -> PromptBuilder:
    """The :class:`PromptBuilder` of a model made of ``mf`` and the GGUF ``gguf`` (its chat template
    and BOS/EOS texts): what ``harness prompt`` and ``harness diagnose`` render with."""
    from harness.serving.gguf_info import read_gguf_info

    chat_template = read_gguf_info(gguf).chat_template if gguf else None
    bos, eos = gguf_special_texts(gguf) if gguf and chat_template else ("", "")
    return PromptBuilder(mf, chat_template, bos, eos, version=version)


def explain(
    mf: Modelfile,
    gguf: str | None,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    think: bool | str | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """What ``harness prompt`` shows: the exact prompt, the template that made it and why, the
    effective parameters (Ollama's defaults < PARAMETERs) and the stop words."""
    from harness.serving.emulation import OLLAMA_COMMIT, ollama_defaults

    b = builder_for(mf, gguf, version=version)
    params = {**ollama_defaults(version), **b.parameters()}
    return {
        "ollama_version": emulated_version(version), "ollama_commit": OLLAMA_COMMIT,
        "template": {"source": b.choice.source, "kind": b.choice.kind, "reason": b.choice.reason,
                     "text": b.choice.text},
        "prompt": b.prompt(messages, tools=tools, think=think),
        "parameters": params, "stop": list(params.get("stop") or []),
    }  # fmt: skip
