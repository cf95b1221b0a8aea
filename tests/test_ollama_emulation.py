"""Ollama as it is today (issue 13), checked against ollama/ollama fb30760 (2026-08-21, ~v0.33-rc):
options layering and defaults (api/types.go DefaultOptions, routes.go modelOptions), Modelfile value
checks, the template Ollama picks (server/images.go shouldPreferChatTemplate, server/model.go
detectChatTemplate), Jinja rendering, context fitting (server/prompt.go chatPrompt), template data."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from harness.backends.base import ChatOptions
from harness.backends.ollama_semantics import fit_prompt, layer_options
from harness.serving import gotemplate
from harness.serving.emulation import OLLAMA_COMMIT, clamp_num_ctx, ollama_defaults
from harness.serving.modelfile import Modelfile, ModelfileError, parse
from harness.serving.prompt import PromptBuilder, choose_template, detect_template, render_jinja

assert OLLAMA_COMMIT.startswith("fb30760")
SMOLLM = Path(__file__).resolve().parents[1] / "modelfiles" / "smollm2.Modelfile"
TOOLS_JINJA = (
    "{% if tools %}<tools>{{ tools | tojson }}</tools>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
    "{% if m.tool_calls %}<tool_call>{{ m.tool_calls | tojson }}</tool_call>{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
GO_NO_TOOLS = (
    "{{ range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
)


# ---------------------------------------------------------------- options (5, 6)
def test_a_request_carries_only_what_was_set() -> None:
    assert ChatOptions().ollama_options() == {}
    assert ChatOptions(num_predict=3, stop=["\n"]).ollama_options() == {"num_predict": 3, "stop": ["\n"]}
    assert ChatOptions(extra={"repeat_penalty": 1.2}).ollama_options() == {"repeat_penalty": 1.2}


def test_modelfile_parameters_take_effect_under_the_request() -> None:
    merged = layer_options({"temperature": 0.7, "num_predict": 128}, ChatOptions())
    assert merged["temperature"] == 0.7 and merged["num_predict"] == 128
    merged = layer_options({"temperature": 0.7}, ChatOptions(temperature=0.0))
    assert merged["temperature"] == 0.0 and merged["num_predict"] == -1 and merged["seed"] == -1


def test_defaults_of_current_and_older_ollama(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_CONTEXT_LENGTH", raising=False)
    monkeypatch.delenv("HARNESS_OLLAMA_VERSION", raising=False)
    assert ollama_defaults()["repeat_penalty"] == 1.0  # since v0.32.10
    assert ollama_defaults("0.32.9")["repeat_penalty"] == 1.1
    monkeypatch.setenv("HARNESS_OLLAMA_VERSION", "0.29.0")
    assert ollama_defaults()["repeat_penalty"] == 1.1
    assert ollama_defaults()["num_ctx"] == 4096  # routes.go: under 23 GiB of VRAM
    monkeypatch.setenv("OLLAMA_CONTEXT_LENGTH", "8192")
    assert ollama_defaults()["num_ctx"] == 8192
    assert clamp_num_ctx(32768, 8192) == 8192 and clamp_num_ctx(2048, 8192) == 2048  # llm/server.go


def test_bench_keeps_its_evaluation_defaults_unless_asked() -> None:
    from harness.cli.bench import bench_options

    opts, decoding = bench_options(None, None, None, 60.0, False, False)
    assert (opts.temperature, opts.seed, opts.num_predict) == (0.0, 0, 64) and "\n" in opts.stop
    assert decoding["source"] == "bench evaluation defaults" and decoding["one_line"]
    opts, decoding = bench_options(None, None, 32, 60.0, False, True)
    assert opts.ollama_options().keys() == {"num_predict", "stop"} and decoding["source"] == "modelfile"


# ---------------------------------------------------------------- validation (issue 14 item 4, 8)
@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("PARAMETER num_ctx -5", "at least 1"),
        ("PARAMETER temperature nan", "finite"),
        ("PARAMETER temperature 1e999", "finite"),
        ("PARAMETER top_p 1.5", "between"),
        ('TEMPLATE "{{ .Prompt }"', "Go template"),
        ('TEMPLATE "{{ frobnicate .Prompt }}"', 'function "frobnicate" not defined'),
    ],
)
def test_bad_values_and_templates_are_refused_with_the_file_named(line: str, words: str) -> None:
    with pytest.raises(ModelfileError, match=words) as e:
        parse(f"FROM ./m.gguf\n{line}\n", source="mf/Bad.Modelfile")
    assert str(e.value).startswith("mf/Bad.Modelfile line 2:")


# ---------------------------------------------------------------- template choice (1, 2, 7)
def test_gguf_template_with_tools_wins_over_a_template_without(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_GO_TEMPLATE", raising=False)
    mf = Modelfile(from_="m.gguf", template=GO_NO_TOOLS)
    assert choose_template(mf, TOOLS_JINJA).source == "gguf"
    assert choose_template(mf, TOOLS_JINJA, version="0.29.1").source == "modelfile"  # before v0.30
    monkeypatch.setenv("OLLAMA_GO_TEMPLATE", "1")
    assert choose_template(mf, TOOLS_JINJA).source == "modelfile"
    monkeypatch.setenv("OLLAMA_GO_TEMPLATE", "0")
    assert choose_template(mf, TOOLS_JINJA).source == "gguf"


def test_template_with_the_same_capabilities_keeps_the_modelfile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_GO_TEMPLATE", raising=False)
    plain = "{% for m in messages %}{{ m.content }}{% endfor %}"
    assert choose_template(Modelfile(from_="m", template=GO_NO_TOOLS), plain).source == "modelfile"
    assert choose_template(
        Modelfile(from_="m", template=GO_NO_TOOLS, renderer="qwen3"), TOOLS_JINJA
    ).source == ("modelfile")


def test_no_template_detects_a_known_one_or_renders_the_gguf_template() -> None:
    chatml = (
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
        "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    name, _, stop = detect_template(chatml) or ("", "", ())
    assert name == "chatml" and stop == ("<|im_start|>", "<|im_end|>")
    b = PromptBuilder(Modelfile(from_="m"), chatml)
    assert b.choice.source == "detected:chatml" and b.parameters()["stop"] == ["<|im_start|>", "<|im_end|>"]
    assert (
        b.prompt([{"role": "user", "content": "hi"}])
        == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    b = PromptBuilder(Modelfile(from_="m"), TOOLS_JINJA + "{# nothing like a known template #}" * 8)
    assert b.choice.source == "gguf" and b.choice.kind == "jinja"
    assert PromptBuilder(Modelfile(from_="m"), None).choice.source == "default"


def test_a_detected_template_still_yields_to_a_more_capable_gguf_template(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # server/model.go detectChatTemplate stores the match as the TEMPLATE layer, so server/images.go
    # GetModel still runs shouldPreferChatTemplate on it; its stops stay in the params layer
    monkeypatch.delenv("OLLAMA_GO_TEMPLATE", raising=False)
    chatml = (
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
        "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    with_tools = "{# tools #}" + chatml  # still chatml by distance, but the "tools" capability
    assert (detect_template(with_tools) or ("",))[0] == "chatml"
    b = PromptBuilder(Modelfile(from_="m"), with_tools)
    assert (b.choice.source, b.choice.kind) == (
        "gguf",
        "jinja",
    ) and "detected template 'chatml'" in b.choice.reason
    assert b.parameters()["stop"] == ["<|im_start|>", "<|im_end|>"]
    assert choose_template(Modelfile(from_="m"), with_tools, version="0.29.1").source == "detected:chatml"
    monkeypatch.setenv("OLLAMA_GO_TEMPLATE", "1")
    assert choose_template(Modelfile(from_="m"), with_tools).source == "detected:chatml"
    monkeypatch.setenv("OLLAMA_GO_TEMPLATE", "0")
    assert choose_template(Modelfile(from_="m"), with_tools).source == "gguf"


def test_thinking_capability_comes_from_inferred_tags() -> None:
    # server/images.go goTemplateCapabilities: thinking only when thinking.InferTags finds both tags
    from harness.serving.prompt import go_capabilities

    assert "thinking" in go_capabilities(INFER_BASIC)
    assert "thinking" not in go_capabilities("{{ range .Messages }}{{ .Thinking }}{{ end }}")
    assert "thinking" not in go_capabilities("{{ .Thinking }}{{ range .Messages }}{{ .Content }}{{ end }}")
    assert "thinking" not in go_capabilities(
        "{{ range .Messages }}<think>{{ .Thinking }}{{ .Content }}{{ end }}"
    )


def test_think_defaults_to_true_on_a_thinking_model_and_true_means_medium() -> None:
    # server/routes.go ChatHandler: req.Think = true when unset on a thinking-capable model;
    # server/prompt.go renderPrompt: ThinkLevel = ThinkValue.String(), "medium" for true (api/types.go)
    values = "{{ .IsThinkSet }} {{ .Think }} {{ .ThinkLevel }}|"
    thinking = (
        values
        + "{{ range .Messages }}{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}{{ end }}"
    )
    plain = values + "{{ range .Messages }}{{ .Content }}{{ end }}"
    hi = [{"role": "user", "content": "hi"}]
    assert PromptBuilder(Modelfile(from_="m", template=thinking)).render(hi) == "true true medium|hi"
    assert PromptBuilder(Modelfile(from_="m", template=thinking)).render(hi, think=False) == "true false |hi"
    assert (
        PromptBuilder(Modelfile(from_="m", template=thinking)).render(hi, think="low") == "true true low|hi"
    )
    assert PromptBuilder(Modelfile(from_="m", template=plain)).render(hi) == "false false |hi"
    assert gotemplate.parse(plain).render(hi, think=True) == "true true medium|hi"


def test_jinja_think_kwargs_as_llama_server() -> None:
    # llm/llama_server.go llamaServerChatTemplateKwargs: enable_thinking = Bool(), reasoning_effort for a level
    probe = "{{ enable_thinking is defined and enable_thinking }} {{ reasoning_effort | default('-') }}"
    hi = [{"role": "user", "content": "hi"}]
    assert render_jinja(probe, hi) == "False -"
    assert render_jinja(probe, hi, think=True) == "True -"
    assert render_jinja(probe, hi, think=False) == "False -"
    assert render_jinja(probe, hi, think="high") == "True high"
    b = PromptBuilder(
        Modelfile(from_="m"), "{# <think></think> #}" + probe + "{# nothing like a known template #}" * 8
    )
    assert b.choice.kind == "jinja" and b.render(hi) == "True -"  # thinking-capable: think defaults to true


def test_jinja_render_as_llama_server() -> None:
    tools = [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}}}]
    text = render_jinja(TOOLS_JINJA, [{"role": "user", "content": "hi"}], tools=tools)
    assert text.startswith("<tools>[{") and text.endswith(
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )


# ---------------------------------------------------------------- context fitting (4)
def test_fit_drops_message_history_and_counts_without_bos() -> None:
    mf = Modelfile(
        from_="m", template=GO_NO_TOOLS, system="S", messages=[("user", "old " * 20), ("assistant", "ok")]
    )
    b = PromptBuilder(mf)
    msgs = b.messages([{"role": "user", "content": "new"}])
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]

    def tokenize(text: str) -> list[int]:
        return [0, *range(len(text.split()))]  # BOS + one token a word

    def count(text: str) -> int:
        return len(text.split())

    full = count(b.render(msgs))
    tokens, cut = fit_prompt(msgs, b.render, tokenize, full + 2, 4, count=count)
    assert not cut and len(tokens) == full + 1
    # the fit test is ≤ num_ctx without BOS: nothing is dropped, then the runner shifts (llama_server.go
    # completionPromptForRequest): 30 tokens > 28; nKeep = 4 + 1 (BOS) = 5, limit = 29 - (29-5)//2 = 17
    tokens, cut = fit_prompt(msgs, b.render, tokenize, full, 4, count=count)
    assert full == 29 and cut and tokens == [0, 0, 1, 2, 3, *range(17, 29)]
    tokens, cut = fit_prompt(msgs, b.render, tokenize, full - 1, 4, count=count)
    assert cut and len(tokens) == count(b.render([msgs[0], *msgs[2:]])) + 1  # oldest dropped, system kept


@pytest.mark.parametrize(
    ("n_ctx", "n_tokens", "num_keep", "adds_bos", "want"),
    [  # llm/llama_server.go completionPromptForRequest + contextShiftPromptLimit (ollama fb30760)
        (10, 12, 4, True, [*range(5), 9, 10, 11]),  # nKeep 5, limit 10-(5//2)=8, discard 4
        (10, 12, 4, False, [*range(4), 9, 10, 11]),  # nKeep 4, limit 10-3=7, discard 5
        (10, 12, -1, True, list(range(9))),  # nKeep min(13, 9)=9, limit 10-max(0,1)=9
        (10, 12, 0, False, [7, 8, 9, 10, 11]),  # nKeep 0, limit 10-5=5
        (10, 12, 20, True, list(range(9))),  # nKeep capped at NumCtx-1
        (10, 9, 4, True, list(range(9))),  # ≤ NumCtx-1 tokens: untouched
        (1, 12, 4, True, list(range(12))),  # NumCtx <= 1: untouched
    ],
)
def test_overflow_shifts_as_llama_server_does(
    n_ctx: int, n_tokens: int, num_keep: int, adds_bos: bool, want: list[int]
) -> None:
    def render(msgs: list[dict[str, str]]) -> str:
        return msgs[-1]["content"]

    msgs = [{"role": "user", "content": "w " * 40}]
    tokens, cut = fit_prompt(msgs, render, lambda t: list(range(n_tokens)), n_ctx, num_keep,
                             count=lambda t: 0, adds_bos=adds_bos)  # fmt: skip
    assert tokens == want and cut == (want != list(range(n_tokens)))
    # a prompt text shorter (in bytes) than NumCtx is never cut, whatever its token count
    short = [{"role": "user", "content": "w"}]
    assert fit_prompt(short, render, lambda t: list(range(12)), 10, 4, count=lambda t: 0)[0] == list(
        range(12)
    )


# ---------------------------------------------------------------- template data (3)
def test_date_functions_and_typescript_types() -> None:
    today = datetime.date.today()
    out = gotemplate.parse("{{ currentDate }} {{ yesterdayDate }}").execute({"Response": ""})
    assert out == f"{today.isoformat()} {(today - datetime.timedelta(days=1)).isoformat()}"
    tmpl = gotemplate.parse("{{ range $k, $v := .P }}{{ $k }}: {{ toTypeScriptType $v }}; {{ end }}")
    props = {"a": {"type": "string"}, "b": {"type": ["integer", "null"]}, "c": {"anyOf": [{"type": "array"}]}}
    assert tmpl.execute({"P": props, "Response": ""}) == "a: string; b: number | null; c: any[]; "


def test_think_values_and_tool_shapes_reach_templates() -> None:
    src = (
        "{{ .IsThinkSet }} {{ .Think }} {{ .ThinkLevel }}|{{ range .Tools }}{{ json .Function.Parameters }}{{ end }}|"
        "{{ range .Messages }}{{ range .ToolCalls }}{{ .Function.Name }}{{ json .Function.Arguments }}{{ end }}"
        "{{ .ToolCallID }}{{ end }}"
    )
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
              "properties": {"z": {"type": "string"}, "a": {"type": "number"}}}}}]  # fmt: skip
    msgs = [
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"z": 1, "a": {"y": 1, "b": 2}}}}]},
        {"role": "tool", "content": "r", "tool_call_id": "c1"},
    ]  # fmt: skip
    out = gotemplate.parse(src).render(msgs, tools=tools, think="high")
    head, params, calls = out.split("|")
    assert head == "true true high"
    assert json.loads(params)["properties"] == {"z": {"type": "string"}, "a": {"type": "number"}}
    # since ollama 626af2d (template.go templateProperties / templateArgs) templates see plain Go
    # maps: properties and arguments come out in key order, whatever order the request gave
    assert params.index('"a"') < params.index('"z"')
    assert calls == 'f{"a":{"b":2,"y":1},"z":1}c1'


# ---------------------------------------------------------------- harness prompt (9)
def _gguf_with(path: Path, chat_template: str) -> Path:
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(2048)
    w.add_chat_template(chat_template)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_harness_prompt_renders_a_tools_gguf_template_as_current_ollama(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.cli import main

    monkeypatch.delenv("OLLAMA_GO_TEMPLATE", raising=False)
    model = _gguf_with(tmp_path / "m.gguf", TOOLS_JINJA)
    msgs = tmp_path / "chat.json"
    msgs.write_text(json.dumps([{"role": "user", "content": "hi"}]))
    shipped = Path(__file__).resolve().parents[1] / "modelfiles" / "qwen2.5-react.Modelfile"

    def run(*extra: str) -> dict:
        try:
            main(
                ["prompt", str(model), "--modelfile", str(shipped), "--messages", str(msgs), "--json", *extra]
            )
        except SystemExit as e:
            assert e.code in (0, None)
        return json.loads(capsys.readouterr().out)

    now = run()
    assert now["template"]["source"] == "gguf" and "shouldPreferChatTemplate" in now["template"]["reason"]
    assert now["prompt"].startswith("<|im_start|>system\nYou are an agent")  # the Modelfile's SYSTEM in front
    assert now["prompt"].endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    old = run("--ollama-version", "0.29.0")
    assert old["template"]["source"] == "modelfile" and old["ollama_version"] == "0.29.0"
    assert old["prompt"].endswith("<|im_start|>assistant\n") and old["stop"]


# ---------------------------------------------------------------- thinking apart from content (3)
INFER_BASIC = """
{{ if .Thinking}}
    /think
{{ end }}
{{- range $i, $_ := .Messages }}
    {{- $last := eq (len (slice $.Messages $i)) 1 -}}
    {{ if and $last .Thinking }}
        <think>{{ .Thinking }}</think>
    {{ end }}
{{ end }}
"""


@pytest.mark.parametrize(
    ("template", "tags"),
    [  # thinking/template_test.go TestInferThinkingTags (fb30760)
        (INFER_BASIC, ("<think>", "</think>")),
        (INFER_BASIC.replace("{{- $last", "{{- range $j, $_ := .NotMessages }}{{- $last").replace(
            "{{ end }}\n{{ end }}", "{{ end }}{{ end }}\n{{ end }}"), ("", "")),
        (INFER_BASIC.replace("<think>{{ .Thinking }}</think>", "Some text before   {{ .Thinking }}    Some text after"),
         ("Some text before", "Some text after")),
        ("{{ range .Messages }}{{ .Content }}{{ end }}", ("", "")),
    ],
)  # fmt: skip
def test_infer_thinking_tags(template: str, tags: tuple[str, str]) -> None:
    from harness.serving.prompt import infer_thinking_tags

    assert infer_thinking_tags(template) == tags


@pytest.mark.parametrize(
    ("reply", "prompt", "thinking", "content"),
    [  # thinking/parser_test.go TestExtractThinking, and the prompt-ends-with-tag rule of routes.go
        ("<think> internal </think> world", "", "internal ", "world"),
        ("<think>a</think><think>b</think>c", "", "a", "<think>b</think>c"),
        ("no think", "", "", "no think"),
        ("  abc <think>def</think> ghi", "", "", "  abc <think>def</think> ghi"),
        ("step one</think>\n\nanswer", "<|im_start|>assistant\n<think>\n", "step one", "answer"),
        ("<think>still going </thi", "", "still going ", ""),
    ],
)
def test_thinking_is_returned_apart_from_content(
    reply: str, prompt: str, thinking: str, content: str
) -> None:
    from harness.backends.ollama_semantics import ThinkingStream

    split = ThinkingStream(prompt, ("<think>", "</think>"))
    shown = split.add(reply)  # the whole reply in one piece
    assert (split.thinking, shown) == (thinking, content)
    plain = ThinkingStream(prompt, None)
    assert (plain.add(reply), plain.thinking) == (reply, "")


_STATES = {  # thinking/parser.go thinkingState → ThinkingParser.state
    "LookingForOpening": "looking",
    "ThinkingStartedEatingWhitespace": "started",
    "Thinking": "thinking",
    "ThinkingDoneEatingWhitespace": "done_eating",
    "ThinkingDone": "done",
}


@pytest.mark.parametrize(
    "steps",
    [  # thinking/parser_test.go TestThinkingStreaming @fb30760, every case: (piece, thinking, content, state)
        [("  abc", "", "  abc", "ThinkingDone"), ("def", "", "def", "ThinkingDone")],
        [("  abc <think>def</think> ghi", "", "  abc <think>def</think> ghi", "ThinkingDone")],
        [("  <th", "", "", "LookingForOpening"), ("in", "", "", "LookingForOpening"), ("k>a", "a", "", "Thinking")],
        [("<think>abc</th", "abc", "", "Thinking"), ("ink>def", "", "def", "ThinkingDone")],
        [("<think>abc</th", "abc", "", "Thinking"), ("ing>def", "</thing>def", "", "Thinking"),
         ("ghi</thi", "ghi", "", "Thinking"), ("nk>jkl", "", "jkl", "ThinkingDone")],
        [("  <think>abc</think>\n\ndef", "abc", "def", "ThinkingDone")],
        [("  <think>abc</think>", "abc", "", "ThinkingDoneEatingWhitespace"), ("\n\ndef", "", "def", "ThinkingDone")],
        [("  <think>abc</think>\n\ndef ", "abc", "def ", "ThinkingDone"), (" ghi", "", " ghi", "ThinkingDone")],
        [("<think>", "", "", "ThinkingStartedEatingWhitespace"), ("\n", "", "", "ThinkingStartedEatingWhitespace"),
         ("</think>", "", "", "ThinkingDoneEatingWhitespace"), ("\n\n", "", "", "ThinkingDoneEatingWhitespace"),
         ("Hi", "", "Hi", "ThinkingDone"), (" there", "", " there", "ThinkingDone")],
        [("  <think>   \t ", "", "", "ThinkingStartedEatingWhitespace"),
         ("  these are some ", "these are some ", "", "Thinking"),
         ("thoughts </think>  ", "thoughts ", "", "ThinkingDoneEatingWhitespace"),
         ("  more content", "", "more content", "ThinkingDone")],
    ],
)  # fmt: skip
def test_streamed_thinking_splits_piece_by_piece_as_ollamas_parser(steps: list[tuple[str, ...]]) -> None:
    from harness.backends.ollama_semantics import ThinkingParser

    parser = ThinkingParser("<think>", "</think>")
    for piece, thinking, content, state in steps:
        assert parser.add(piece) == (thinking, content), piece
        assert parser.state == _STATES[state], piece


def test_streamed_replies_carry_only_content_and_the_result_keeps_the_thinking() -> None:
    """A thinking model streamed token by token: the stream yields what Ollama's chunks carry
    as ``message.content``; the thinking arrives whole in ``last_result.thinking``."""
    from harness.backends.ollama_semantics import ThinkingStream

    pieces = ["<thi", "nk>", "\n", "I should ", "go", " north.</th", "ink>", "\n\n", "go ", "north"]
    stream = ThinkingStream("<|im_start|>assistant\n", ("<think>", "</think>"))
    shown = [c for c in (stream.add(p) for p in pieces) if c]
    assert shown == ["go ", "north"]
    assert stream.thinking == "I should go north."
    plain = ThinkingStream("x", None)
    assert [plain.add(p) for p in ["<think>", "a"]] == ["<think>", "a"] and plain.thinking == ""


def test_a_thinking_template_gives_the_builder_its_tags() -> None:
    from harness.backends.ollama_semantics import thinking_stream

    tmpl = ('{{ range .Messages }}<|im_start|>{{ .Role }}\n{{ if .Thinking }}<think>{{ .Thinking }}</think>'
            '{{ end }}{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n')  # fmt: skip
    b = PromptBuilder(Modelfile(from_="x", template=tmpl))
    assert b.thinking_tags() == ("<think>", "</think>")
    split = thinking_stream(b, [{"role": "user", "content": "hi"}])
    assert (split.add("<think>hmm</think> go north"), split.thinking) == ("go north", "hmm")
    assert PromptBuilder(Modelfile(from_="x", template=GO_NO_TOOLS)).thinking_tags() is None
    assert PromptBuilder(Modelfile(from_="x", template=GO_NO_TOOLS), "{% if x %}<think></think>{% endif %}{{ y }}"
                         ).thinking_tags() == ("<think>", "</think>")  # fmt: skip
