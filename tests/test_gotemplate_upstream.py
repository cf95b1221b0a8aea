"""Ollama's own template vectors, ported: ``template/template_test.go`` and ``template/testdata``
of ollama/ollama at :data:`UPSTREAM` (the commit :data:`~harness.serving.emulation.OLLAMA_COMMIT`
names), run through this project's Go template engine and prompt layer.

Ported here: TestNamed, TestTemplate (the testdata renders), the TestParse and TestParseError
cases not yet in tests/test_gotemplate.py, TestCollate, TestExecuteWithSuffix, TestDateFunctions,
TestTemplateArgumentsJSON / PropertiesJSON / ArgumentsRange / PropertiesRange. TestExecuteWithMessages
and the first five TestParse cases live in tests/test_gotemplate.py, and so does the llama3-instruct
system-user-assistant-user render (test_llama3_messages_template_matches_ollama_testdata).
"""

from __future__ import annotations

import datetime
import json

import pytest

from harness.serving.emulation import OLLAMA_COMMIT
from harness.serving.gotemplate import TemplateError, parse, render
from harness.serving.prompt import _known, detect_template

UPSTREAM = "fb30760996871fa9460115c753afd2c60d4ab0f7"
assert OLLAMA_COMMIT == UPSTREAM


# ------------------------------------------------------------------------------ TestNamed
# testdata/templates.jsonl holds 35 (name, GGUF chat template) pairs, every one of them an entry of
# template/index.json, which harness/serving/ollama_templates.json carries verbatim (checked when
# this was ported); so the 37 index entries are the cases.
@pytest.mark.parametrize("entry", _known()["index"], ids=lambda e: e["name"])
def test_named_finds_each_known_chat_template(entry: dict[str, str]) -> None:
    assert _known()["ollama_commit"] == UPSTREAM
    name, gotmpl, _ = detect_template(entry["template"]) or ("", "", ())
    assert name == entry["name"]
    assert parse(gotmpl).nodes  # it parses, and is not empty


# ---------------------------------------------------------------------------- TestTemplate
CHATS = {
    "user": [{"role": "user", "content": "Hello, how are you?"}],
    "user-assistant-user": [
        {"role": "user", "content": "Hello, how are you?"},
        {"role": "assistant", "content": "I'm doing great. How can I help you today?"},
        {"role": "user", "content": "I'd like to show off how chat templating works!"},
    ],
}
CHATS["system-user-assistant-user"] = [
    {"role": "system", "content": "You are a helpful assistant."},
    *CHATS["user-assistant-user"],
]
# template/vicuna.gotmpl: not in index.json, so not in ollama_templates.json
VICUNA = (
    '{{- $system := "" }}\n'
    "{{- range .Messages }}\n"
    '{{- if eq .Role "system" }}\n'
    "{{- if not $system }}{{ $system = .Content }}\n"
    '{{- else }}{{ $system = printf "%s\\n\\n%s" $system .Content }}\n'
    "{{- end }}\n"
    '{{- else if eq .Role "user" }}\n'
    "{{- if $system }}{{ $system }}\n"
    "\n"
    '{{ $system = "" }}\n'
    "{{- end }}USER: {{ .Content }}\n"
    '{{ else if eq .Role "assistant" }}ASSISTANT: {{ .Content }}</s>\n'
    "{{ end }}\n"
    "{{- end }}ASSISTANT:"
)
# TestTemplate drops one trailing space from the output of these before comparing
TRAILING_SPACE = {"chatqa", "llama2-chat", "mistral-instruct", "openchat", "vicuna"}

# template/testdata/<name>.gotmpl/{user, user-assistant-user, system-user-assistant-user}
RENDERS: dict[str, tuple[str, str, str]] = {
    "alfred": (
        "<start_user>Hello, how are you?<end_message><start_assistant>",
        "<start_user>Hello, how are you?<end_message><start_assistant>I'm doing great. How can I help you today?<end_message><start_user>I'd like to show off how chat templating works!<end_message><start_assistant>",
        "<start_system>You are a helpful assistant.<end_message><start_user>Hello, how are you?<end_message><start_assistant>I'm doing great. How can I help you today?<end_message><start_user>I'd like to show off how chat templating works!<end_message><start_assistant>",
    ),
    "alpaca": (
        ("### Instruction:\nHello, how are you?\n\n### Response:\n"),
        (
            "### Instruction:\n"
            "Hello, how are you?\n"
            "\n"
            "### Response:\n"
            "I'm doing great. How can I help you today?\n"
            "\n"
            "### Instruction:\n"
            "I'd like to show off how chat templating works!\n"
            "\n"
            "### Response:\n"
        ),
        (
            "You are a helpful assistant.\n"
            "\n"
            "### Instruction:\n"
            "Hello, how are you?\n"
            "\n"
            "### Response:\n"
            "I'm doing great. How can I help you today?\n"
            "\n"
            "### Instruction:\n"
            "I'd like to show off how chat templating works!\n"
            "\n"
            "### Response:\n"
        ),
    ),
    "chatml": (
        ("<|im_start|>user\nHello, how are you?<|im_end|>\n<|im_start|>assistant\n"),
        (
            "<|im_start|>user\n"
            "Hello, how are you?<|im_end|>\n"
            "<|im_start|>assistant\n"
            "I'm doing great. How can I help you today?<|im_end|>\n"
            "<|im_start|>user\n"
            "I'd like to show off how chat templating works!<|im_end|>\n"
            "<|im_start|>assistant\n"
        ),
        (
            "<|im_start|>system\n"
            "You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\n"
            "Hello, how are you?<|im_end|>\n"
            "<|im_start|>assistant\n"
            "I'm doing great. How can I help you today?<|im_end|>\n"
            "<|im_start|>user\n"
            "I'd like to show off how chat templating works!<|im_end|>\n"
            "<|im_start|>assistant\n"
        ),
    ),
    "chatqa": (
        ("User: Hello, how are you?\n\nAssistant:"),
        (
            "User: Hello, how are you?\n"
            "\n"
            "Assistant: I'm doing great. How can I help you today?\n"
            "\n"
            "User: I'd like to show off how chat templating works!\n"
            "\n"
            "Assistant:"
        ),
        (
            "System: You are a helpful assistant.\n"
            "\n"
            "User: Hello, how are you?\n"
            "\n"
            "Assistant: I'm doing great. How can I help you today?\n"
            "\n"
            "User: I'd like to show off how chat templating works!\n"
            "\n"
            "Assistant:"
        ),
    ),
    "codellama-70b-instruct": (
        ("Source: user\n\n Hello, how are you? <step> Source: assistant\nDestination: user\n\n "),
        (
            "Source: user\n"
            "\n"
            " Hello, how are you? <step> Source: assistant\n"
            "\n"
            " I'm doing great. How can I help you today? <step> Source: user\n"
            "\n"
            " I'd like to show off how chat templating works! <step> Source: assistant\n"
            "Destination: user\n"
            "\n"
            " "
        ),
        (
            "Source: system\n"
            "\n"
            " You are a helpful assistant. <step> Source: user\n"
            "\n"
            " Hello, how are you? <step> Source: assistant\n"
            "\n"
            " I'm doing great. How can I help you today? <step> Source: user\n"
            "\n"
            " I'd like to show off how chat templating works! <step> Source: assistant\n"
            "Destination: user\n"
            "\n"
            " "
        ),
    ),
    "command-r": (
        "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello, how are you?<|END_OF_TURN_TOKEN|><|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n",
        "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello, how are you?<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>I'm doing great. How can I help you today?<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>I'd like to show off how chat templating works!<|END_OF_TURN_TOKEN|><|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n",
        "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>You are a helpful assistant.<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello, how are you?<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>I'm doing great. How can I help you today?<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>I'd like to show off how chat templating works!<|END_OF_TURN_TOKEN|><|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n",
    ),
    "falcon-instruct": (
        ("User:\nHello, how are you?\nFalcon:\n"),
        (
            "User:\n"
            "Hello, how are you?\n"
            "Falcon:\n"
            "I'm doing great. How can I help you today?\n"
            "User:\n"
            "I'd like to show off how chat templating works!\n"
            "Falcon:\n"
        ),
        (
            "System: You are a helpful assistant.\n"
            "User:\n"
            "Hello, how are you?\n"
            "Falcon:\n"
            "I'm doing great. How can I help you today?\n"
            "User:\n"
            "I'd like to show off how chat templating works!\n"
            "Falcon:\n"
        ),
    ),
    "gemma-instruct": (
        ("<start_of_turn>user\nHello, how are you?<end_of_turn>\n<start_of_turn>model\n"),
        (
            "<start_of_turn>user\n"
            "Hello, how are you?<end_of_turn>\n"
            "<start_of_turn>model\n"
            "I'm doing great. How can I help you today?<end_of_turn>\n"
            "<start_of_turn>user\n"
            "I'd like to show off how chat templating works!<end_of_turn>\n"
            "<start_of_turn>model\n"
        ),
        (
            "<start_of_turn>user\n"
            "You are a helpful assistant.\n"
            "Hello, how are you?<end_of_turn>\n"
            "<start_of_turn>model\n"
            "I'm doing great. How can I help you today?<end_of_turn>\n"
            "<start_of_turn>user\n"
            "I'd like to show off how chat templating works!<end_of_turn>\n"
            "<start_of_turn>model\n"
        ),
    ),
    "gemma3-instruct": (
        ("<start_of_turn>user\nHello, how are you?<end_of_turn>\n<start_of_turn>model\n\n"),
        (
            "<start_of_turn>user\n"
            "Hello, how are you?<end_of_turn>\n"
            "<start_of_turn>model\n"
            "I'm doing great. How can I help you today?<end_of_turn>\n"
            "<start_of_turn>user\n"
            "I'd like to show off how chat templating works!<end_of_turn>\n"
            "<start_of_turn>model\n"
            "\n"
        ),
        (
            "<start_of_turn>user\n"
            "You are a helpful assistant.\n"
            "\n"
            "Hello, how are you?<end_of_turn>\n"
            "<start_of_turn>model\n"
            "I'm doing great. How can I help you today?<end_of_turn>\n"
            "<start_of_turn>user\n"
            "I'd like to show off how chat templating works!<end_of_turn>\n"
            "<start_of_turn>model\n"
            "\n"
        ),
    ),
    "granite-instruct": (
        ("Question:\nHello, how are you?\n\nAnswer:\n"),
        (
            "Question:\n"
            "Hello, how are you?\n"
            "\n"
            "Answer:\n"
            "I'm doing great. How can I help you today?\n"
            "\n"
            "Question:\n"
            "I'd like to show off how chat templating works!\n"
            "\n"
            "Answer:\n"
        ),
        (
            "System:\n"
            "You are a helpful assistant.\n"
            "\n"
            "Question:\n"
            "Hello, how are you?\n"
            "\n"
            "Answer:\n"
            "I'm doing great. How can I help you today?\n"
            "\n"
            "Question:\n"
            "I'd like to show off how chat templating works!\n"
            "\n"
            "Answer:\n"
        ),
    ),
    "llama2-chat": (
        ("[INST] <<SYS>><</SYS>>\n\nHello, how are you? [/INST]"),
        (
            "[INST] <<SYS>><</SYS>>\n"
            "\n"
            "Hello, how are you? [/INST] I'm doing great. How can I help you today?</s><s>[INST] <<SYS>><</SYS>>\n"
            "\n"
            "I'd like to show off how chat templating works! [/INST]"
        ),
        (
            "[INST] <<SYS>>\n"
            "You are a helpful assistant.\n"
            "<</SYS>>\n"
            "\n"
            "Hello, how are you? [/INST] I'm doing great. How can I help you today?</s><s>[INST] <<SYS>><</SYS>>\n"
            "\n"
            "I'd like to show off how chat templating works! [/INST]"
        ),
    ),
    "llama3-instruct": (
        (
            "<|start_header_id|>user<|end_header_id|>\n"
            "\n"
            "Hello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
            "\n"
        ),
        (
            "<|start_header_id|>user<|end_header_id|>\n"
            "\n"
            "Hello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
            "\n"
            "I'm doing great. How can I help you today?<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
            "\n"
            "I'd like to show off how chat templating works!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
            "\n"
        ),
        (
            "<|start_header_id|>system<|end_header_id|>\n"
            "\n"
            "You are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
            "\n"
            "Hello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
            "\n"
            "I'm doing great. How can I help you today?<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
            "\n"
            "I'd like to show off how chat templating works!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
            "\n"
        ),
    ),
    "magicoder": (
        ("@@ Instruction\nHello, how are you?\n\n@@ Response\n"),
        (
            "@@ Instruction\n"
            "Hello, how are you?\n"
            "\n"
            "@@ Response\n"
            "I'm doing great. How can I help you today?\n"
            "\n"
            "@@ Instruction\n"
            "I'd like to show off how chat templating works!\n"
            "\n"
            "@@ Response\n"
        ),
        (
            "You are a helpful assistant.\n"
            "\n"
            "@@ Instruction\n"
            "Hello, how are you?\n"
            "\n"
            "@@ Response\n"
            "I'm doing great. How can I help you today?\n"
            "\n"
            "@@ Instruction\n"
            "I'd like to show off how chat templating works!\n"
            "\n"
            "@@ Response\n"
        ),
    ),
    "mistral-instruct": (
        "[INST] Hello, how are you?[/INST]",
        "[INST] Hello, how are you?[/INST] I'm doing great. How can I help you today?</s>[INST] I'd like to show off how chat templating works![/INST]",
        (
            "[INST] You are a helpful assistant.\n"
            "\n"
            "Hello, how are you?[/INST] I'm doing great. How can I help you today?</s>[INST] I'd like to show off how chat templating works![/INST]"
        ),
    ),
    "openchat": (
        "GPT4 Correct User: Hello, how are you?<|end_of_turn|>GPT4 Correct Assistant:",
        "GPT4 Correct User: Hello, how are you?<|end_of_turn|>GPT4 Correct Assistant: I'm doing great. How can I help you today?<|end_of_turn|>GPT4 Correct User: I'd like to show off how chat templating works!<|end_of_turn|>GPT4 Correct Assistant:",
        "GPT4 Correct System: You are a helpful assistant.<|end_of_turn|>GPT4 Correct User: Hello, how are you?<|end_of_turn|>GPT4 Correct Assistant: I'm doing great. How can I help you today?<|end_of_turn|>GPT4 Correct User: I'd like to show off how chat templating works!<|end_of_turn|>GPT4 Correct Assistant:",
    ),
    "phi-3": (
        ("<|user|>\nHello, how are you?<|end|>\n<|assistant|>\n"),
        (
            "<|user|>\n"
            "Hello, how are you?<|end|>\n"
            "<|assistant|>\n"
            "I'm doing great. How can I help you today?<|end|>\n"
            "<|user|>\n"
            "I'd like to show off how chat templating works!<|end|>\n"
            "<|assistant|>\n"
        ),
        (
            "<|system|>\n"
            "You are a helpful assistant.<|end|>\n"
            "<|user|>\n"
            "Hello, how are you?<|end|>\n"
            "<|assistant|>\n"
            "I'm doing great. How can I help you today?<|end|>\n"
            "<|user|>\n"
            "I'd like to show off how chat templating works!<|end|>\n"
            "<|assistant|>\n"
        ),
    ),
    "solar-instruct": (
        ("### User:\nHello, how are you?\n\n### Assistant:\n"),
        (
            "### User:\n"
            "Hello, how are you?\n"
            "\n"
            "### Assistant:\n"
            "I'm doing great. How can I help you today?</s>\n"
            "\n"
            "### User:\n"
            "I'd like to show off how chat templating works!\n"
            "\n"
            "### Assistant:\n"
        ),
        (
            "### System:\n"
            "You are a helpful assistant.\n"
            "\n"
            "### User:\n"
            "Hello, how are you?\n"
            "\n"
            "### Assistant:\n"
            "I'm doing great. How can I help you today?</s>\n"
            "\n"
            "### User:\n"
            "I'd like to show off how chat templating works!\n"
            "\n"
            "### Assistant:\n"
        ),
    ),
    "starcoder2-instruct": (
        ("### Instruction\nHello, how are you?\n\n### Response\n"),
        (
            "### Instruction\n"
            "Hello, how are you?\n"
            "\n"
            "### Response\n"
            "I'm doing great. How can I help you today?<|endoftext|>\n"
            "\n"
            "### Instruction\n"
            "I'd like to show off how chat templating works!\n"
            "\n"
            "### Response\n"
        ),
        (
            "You are a helpful assistant.\n"
            "\n"
            "### Instruction\n"
            "Hello, how are you?\n"
            "\n"
            "### Response\n"
            "I'm doing great. How can I help you today?<|endoftext|>\n"
            "\n"
            "### Instruction\n"
            "I'd like to show off how chat templating works!\n"
            "\n"
            "### Response\n"
        ),
    ),
    "vicuna": (
        ("USER: Hello, how are you?\nASSISTANT:"),
        (
            "USER: Hello, how are you?\n"
            "ASSISTANT: I'm doing great. How can I help you today?</s>\n"
            "USER: I'd like to show off how chat templating works!\n"
            "ASSISTANT:"
        ),
        (
            "You are a helpful assistant.\n"
            "\n"
            "USER: Hello, how are you?\n"
            "ASSISTANT: I'm doing great. How can I help you today?</s>\n"
            "USER: I'd like to show off how chat templating works!\n"
            "ASSISTANT:"
        ),
    ),
    "zephyr": (
        ("<|user|>\nHello, how are you?</s>\n<|assistant|>\n"),
        (
            "<|user|>\n"
            "Hello, how are you?</s>\n"
            "<|assistant|>\n"
            "I'm doing great. How can I help you today?</s>\n"
            "<|user|>\n"
            "I'd like to show off how chat templating works!</s>\n"
            "<|assistant|>\n"
        ),
        (
            "<|system|>\n"
            "You are a helpful assistant.</s>\n"
            "<|user|>\n"
            "Hello, how are you?</s>\n"
            "<|assistant|>\n"
            "I'm doing great. How can I help you today?</s>\n"
            "<|user|>\n"
            "I'd like to show off how chat templating works!</s>\n"
            "<|assistant|>\n"
        ),
    ),
}


def _source(name: str) -> str:
    return VICUNA if name == "vicuna" else _known()["templates"][name]["gotmpl"]


@pytest.mark.parametrize(
    ("name", "chat"),
    [
        (name, chat)
        for name in RENDERS
        for chat in CHATS
        if (name, chat) != ("llama3-instruct", "system-user-assistant-user")  # in test_gotemplate.py
    ],
)
def test_testdata_renders(name: str, chat: str) -> None:
    out = render(_source(name), CHATS[chat])
    if name in TRAILING_SPACE and out.endswith(" "):
        out = out[:-1]
    assert out == RENDERS[name][list(CHATS).index(chat)]


# ------------------------------------------------------------------- TestParse, TestParseError
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (  # ToolResultConditional
            '{{ range .Messages }}{{ if eq .Role "tool" }}Tool Result: {{ .ToolName }} {{ .Content }}{{ end }}{{ end }}',
            ["content", "messages", "role", "toolname"],
        ),
        (  # MultilineSystemUserAssistant
            '{{- range .Messages }}\n{{- if eq .Role "system" }}SYSTEM:\n{{- else if eq .Role "user" }}USER:\n'
            '{{- else if eq .Role "assistant" }}ASSISTANT:\n{{- else if eq .Role "tool" }}TOOL:\n'
            "{{- end }} {{ .Content }}\n{{- end }}",
            ["content", "messages", "role"],
        ),
        (  # ChatMLLike
            "{{- if .Messages }}\n{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
            "{{ end }}<|im_start|>assistant\n{{ else -}}\n{{ if .System }}<|im_start|>system\n"
            "{{ .System }}<|im_end|>\n{{ end }}{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n"
            "{{ end }}<|im_start|>assistant\n{{ .Response }}<|im_end|>\n{{- end -}}",
            ["content", "messages", "prompt", "response", "role", "system"],
        ),
    ],
)
def test_parse_vars(template: str, expected: list[str]) -> None:
    assert parse(template).vars() == expected


def test_parse_error_unclosed_action() -> None:
    with pytest.raises(TemplateError, match="unclosed action"):
        parse("{{ .Prompt ")


def test_parse_error_template_reference() -> None:
    # Go refuses it in Vars ("undefined template specified"); this engine refuses define/template
    # outright, so only the refusal is the same, not the words
    with pytest.raises(TemplateError):
        parse('{{define "x"}}{{template "x"}}{{end}}{{template "x"}}')


# ----------------------------------------------------------------------------- TestCollate
LIST = "{{ .System }}|{{ range .Messages }}{{ .Role }}:{{ .Content }}:{{ .ToolName }};{{ end }}"


@pytest.mark.parametrize(
    ("messages", "system", "collated"),
    [
        (  # consecutive user messages are merged
            [("user", "Hello", ""), ("user", "How are you?", "")],
            "",
            [("user", "Hello\n\nHow are you?", "")],
        ),
        (  # consecutive tool messages are NOT merged
            [("tool", "sunny", "get_weather"), ("tool", "72F", "get_temperature")],
            "",
            [("tool", "sunny", "get_weather"), ("tool", "72F", "get_temperature")],
        ),
        (  # tool messages preserve all fields
            [("user", "What's the weather?", ""), ("tool", "sunny", "get_conditions"),
             ("tool", "72F", "get_temperature")],
            "",
            [("user", "What's the weather?", ""), ("tool", "sunny", "get_conditions"),
             ("tool", "72F", "get_temperature")],
        ),
        (  # mixed messages with system
            [("system", "You are helpful", ""), ("user", "Hello", ""), ("assistant", "Hi there!", ""),
             ("user", "What's the weather?", ""), ("tool", "sunny", "get_weather"),
             ("tool", "72F", "get_temperature"), ("user", "Thanks", "")],
            "You are helpful",
            [("system", "You are helpful", ""), ("user", "Hello", ""), ("assistant", "Hi there!", ""),
             ("user", "What's the weather?", ""), ("tool", "sunny", "get_weather"),
             ("tool", "72F", "get_temperature"), ("user", "Thanks", "")],
        ),
    ],
)  # fmt: skip
def test_collate(
    messages: list[tuple[str, str, str]], system: str, collated: list[tuple[str, str, str]]
) -> None:
    msgs = [{"role": r, "content": c, **({"tool_name": t} if t else {})} for r, c, t in messages]
    expected = system + "|" + "".join(f"{r}:{c}:{t};" for r, c, t in collated)
    assert render(LIST, msgs) == expected


# ---------------------------------------------------------------------- TestExecuteWithSuffix
SUFFIX = "{{- if .Suffix }}<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>\n{{- else }}{{ .Prompt }}\n{{- end }}"


def test_execute_with_suffix_message() -> None:
    assert render(SUFFIX, [{"role": "user", "content": "hello"}]) == "hello"


def test_execute_with_suffix_prompt_and_suffix() -> None:
    assert render(SUFFIX, [], prompt="def add(", suffix="return x") == "<PRE> def add( <SUF>return x <MID>"


# -------------------------------------------------------------------------- TestDateFunctions
HELLO = [{"role": "user", "content": "Hello"}]


def test_current_date() -> None:
    out = render("{{- range .Messages }}{{ .Content }}{{ end }} Today is {{ currentDate }}", HELLO)
    assert out == "Hello Today is " + datetime.date.today().strftime("%Y-%m-%d")


def test_yesterday_date() -> None:
    out = render("{{- range .Messages }}{{ .Content }}{{ end }} Yesterday was {{ yesterdayDate }}", HELLO)
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    assert out == "Hello Yesterday was " + yesterday.strftime("%Y-%m-%d")


def test_yesterday_date_format() -> None:
    out = render("{{- range .Messages }}{{ end }}{{ yesterdayDate }}", HELLO)
    assert len(out) == 10
    assert datetime.datetime.strptime(out, "%Y-%m-%d").date() == datetime.date.today() - datetime.timedelta(
        days=1
    )


# ------------------------------------------------- TestTemplateArguments*, TestTemplateProperties*
def _call(arguments: dict[str, object]) -> list[dict[str, object]]:
    return [{"role": "assistant", "content": "",
             "tool_calls": [{"function": {"name": "get_weather", "arguments": arguments}}]}]  # fmt: skip


def _weather_tool(properties: dict[str, object], description: str = "") -> list[dict[str, object]]:
    function: dict[str, object] = {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": properties},
    }
    if description:
        function["description"] = description
    return [{"type": "function", "function": function}]


def test_arguments_print_as_json() -> None:
    out = render(
        "{{- range .Messages }}{{- range .ToolCalls }}{{ .Function.Arguments }}{{- end }}{{- end }}",
        _call({"location": "Tokyo", "unit": "celsius"}),
    )
    assert not out.startswith("map[")
    assert json.loads(out) == {"location": "Tokyo", "unit": "celsius"}
    assert out == '{"location":"Tokyo","unit":"celsius"}'  # encoding/json of a Go map: keys in order


def test_properties_print_as_json() -> None:
    tools = _weather_tool({"location": {"type": "string", "description": "City name"}}, "Get weather")
    out = render(
        "{{- range .Messages }}{{- end }}{{- range .Tools }}{{ .Function.Parameters.Properties }}{{- end }}",
        [{"role": "user", "content": "test"}],
        tools=tools,
    )
    assert not out.startswith("map[")
    assert out == '{"location":{"type":"string","description":"City name"}}'


def test_range_over_arguments() -> None:
    out = render(
        "{{- range .Messages }}{{- range .ToolCalls }}{{- range $k, $v := .Function.Arguments }}"
        "{{ $k }}={{ $v }};{{- end }}{{- end }}{{- end }}",
        _call({"city": "Tokyo"}),
    )
    assert out == "city=Tokyo;"


def test_range_over_properties() -> None:
    out = render(
        "{{- range .Messages }}{{- end }}{{- range .Tools }}{{- range $name, $prop := .Function.Parameters.Properties }}"
        "{{ $name }}:{{ $prop.Type }};{{- end }}{{- end }}",
        [{"role": "user", "content": "test"}],
        tools=_weather_tool({"location": {"type": "string"}}),
    )
    assert out == "location:string;"
