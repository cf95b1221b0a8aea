"""harness.serving.gotemplate: Go text/template semantics and Ollama's prompt building, byte for byte.

Expected strings marked "Ollama" are copied from ollama/ollama ``template/template_test.go``
and ``template/testdata``.
"""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.serving.gotemplate import TemplateError, parse, render

# Ollama's qwen2.5 template (library/qwen2.5), tool block included.
QWEN25 = """{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.

<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""

# Ollama template/llama3-instruct.gotmpl
LLAMA3 = """{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>
{{- end }}<|start_header_id|>assistant<|end_header_id|>

"""

# The old-style Llama 3 template (Ollama parser_test.go).
LLAMA3_LEGACY = (
    "{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}"
    "{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>"
)

HELLO = [  # Ollama TestTemplate "system-user-assistant-user"
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hello, how are you?"},
    {"role": "assistant", "content": "I'm doing great. How can I help you today?"},
    {"role": "user", "content": "I'd like to show off how chat templating works!"},
]


# ------------------------------------------------------------------ real model templates
def test_qwen25_chatml_with_system_and_turns() -> None:
    out = render(QWEN25, HELLO[1:], system="You are a helpful assistant.")
    assert out == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHello, how are you?<|im_end|>\n"
        "<|im_start|>assistant\nI'm doing great. How can I help you today?<|im_end|>\n"
        "<|im_start|>user\nI'd like to show off how chat templating works!<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert render(QWEN25, HELLO) == out  # a system message in the list is the same thing


def test_qwen25_without_system_and_prefilled_assistant() -> None:
    assert render(QWEN25, [{"role": "user", "content": "hi"}]) == (
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    # A trailing assistant message is continued, not closed (Ollama's prefill).
    out = render(QWEN25, [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "think:"}])
    assert out == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nthink:"


def test_react_conversation_chatml() -> None:
    system = "You are an agent in a household text world. Reply with exactly one line."
    task = (
        "Interact with a household to solve a task. Here is the task.\n"
        "You are in the middle of a room. Looking quickly around you, you see a countertop 1.\n"
        "Your task is to: put a clean mug in coffeemachine."
    )
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": task},
        {"role": "assistant", "content": "think: To solve the task, I need to find a mug first."},
        {"role": "user", "content": "OK."},
        {"role": "assistant", "content": "go to countertop 1"},
        {"role": "user", "content": "On the countertop 1, you see a mug 1, and a apple 2."},
    ]
    assert render(QWEN25, messages) == (
        f"<|im_start|>system\n{system}<|im_end|>\n"
        f"<|im_start|>user\n{task}<|im_end|>\n"
        "<|im_start|>assistant\nthink: To solve the task, I need to find a mug first.<|im_end|>\n"
        "<|im_start|>user\nOK.<|im_end|>\n"
        "<|im_start|>assistant\ngo to countertop 1<|im_end|>\n"
        "<|im_start|>user\nOn the countertop 1, you see a mug 1, and a apple 2.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_llama3_messages_template_matches_ollama_testdata() -> None:
    assert render(LLAMA3, HELLO) == (
        "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHello, how are you?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
        "I'm doing great. How can I help you today?<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n"
        "I'd like to show off how chat templating works!<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_old_style_template_renders_once_per_turn_and_cuts_after_response() -> None:
    out = render(LLAMA3_LEGACY, HELLO)
    assert out == (
        "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHello, how are you?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
        "I'm doing great. How can I help you today?<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n"
        "I'd like to show off how chat templating works!<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert out == render(LLAMA3, HELLO)  # Ollama's legacy and messages outputs agree


MISTRAL_MSGS = [
    {"role": "user", "content": "Hello friend!"},
    {"role": "assistant", "content": "Hello human!"},
    {"role": "user", "content": "What is your name?"},
]
MISTRAL_NO_RESPONSE = "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}{{ .Prompt }}[/INST] "
MISTRAL_RESPONSE = MISTRAL_NO_RESPONSE + "{{ .Response }}"
MISTRAL_MESSAGES = (
    "[INST] {{ if .System }}{{ .System }}\n\n{{ end }}\n{{- range .Messages }}\n"
    '{{- if eq .Role "user" }}{{ .Content }}[/INST] {{ else if eq .Role "assistant" }}'
    "{{ .Content }}[INST] {{ end }}\n{{- end }}"
)
CHATML_RESPONSE = (
    "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
    "{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}"
    "<|im_start|>assistant\n{{ .Response }}<|im_end|>\n"
)
CHATML_MESSAGES = (
    "\n{{- range $index, $_ := .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
)


@pytest.mark.parametrize("template", [MISTRAL_NO_RESPONSE, MISTRAL_RESPONSE, MISTRAL_MESSAGES])
def test_ollama_execute_with_messages_mistral(template: str) -> None:
    assert render(template, MISTRAL_MSGS) == (
        "[INST] Hello friend![/INST] Hello human![INST] What is your name?[/INST] "
    )
    system = [{"role": "system", "content": "You are a helpful assistant!"}, *MISTRAL_MSGS]
    assert render(template, system) == (
        "[INST] You are a helpful assistant!\n\n"
        "Hello friend![/INST] Hello human![INST] What is your name?[/INST] "
    )


@pytest.mark.parametrize(
    "template",
    [
        "[INST] {{ .Prompt }}[/INST] ",
        "[INST] {{ .Prompt }}[/INST] {{ .Response }}",
        '\n{{- range $i, $m := .Messages }}\n{{- if eq .Role "user" }}[INST] {{ .Content }}[/INST] '
        '{{ else if eq .Role "assistant" }}{{ .Content }}{{ end }}\n{{- end }}',
    ],
)
def test_ollama_execute_with_messages_assistant_prefill(template: str) -> None:
    msgs = [*MISTRAL_MSGS, {"role": "assistant", "content": "My name is Ollama and I"}]
    assert render(template, msgs) == (
        "[INST] Hello friend![/INST] Hello human![INST] What is your name?[/INST] My name is Ollama and I"
    )


@pytest.mark.parametrize("template", [CHATML_RESPONSE, CHATML_MESSAGES])
def test_ollama_execute_with_messages_chatml(template: str) -> None:
    msgs = [{"role": "system", "content": "You are a helpful assistant!"}, *MISTRAL_MSGS]
    assert render(template, msgs) == (
        "<|im_start|>system\nYou are a helpful assistant!<|im_end|>\n"
        "<|im_start|>user\nHello friend!<|im_end|>\n"
        "<|im_start|>assistant\nHello human!<|im_end|>\n"
        "<|im_start|>user\nWhat is your name?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [  # Ollama TestParse
        ("{{ .Prompt }}", ["prompt", "response"]),
        ("{{ .System }} {{ .Prompt }}", ["prompt", "response", "system"]),
        ("{{ .System }} {{ .Prompt }} {{ .Response }}", ["prompt", "response", "system"]),
        (
            "{{ with .Tools }}{{ . }}{{ end }} {{ .System }} {{ .Prompt }}",
            ["prompt", "response", "system", "tools"],
        ),
        ("{{ range .Messages }}{{ .Role }} {{ .Content }}{{ end }}", ["content", "messages", "role"]),
    ],
)
def test_vars_like_ollama(template: str, expected: list[str]) -> None:
    assert parse(template).vars() == expected


# ------------------------------------------------------------------------ Ollama details
def test_system_argument_is_prepended_unless_conversation_has_one() -> None:
    t = "{{ range .Messages }}{{ .Role }}:{{ .Content }};{{ end }}"
    assert render(t, [("user", "hi")], system="S") == "system:S;user:hi;"
    assert render(t, [("system", "own"), ("user", "hi")], system="S") == "system:own;user:hi;"
    assert render(t, [("user", "hi")], system="") == "user:hi;"


def test_collate_merges_same_role_and_joins_system() -> None:
    msgs = [("system", "a"), ("system", "b"), ("user", "x"), ("user", "y"), ("tool", "1"), ("tool", "2")]
    t = "[{{ .System }}]{{ range .Messages }}{{ .Role }}={{ .Content }}|{{ end }}"
    assert render(t, msgs) == "[a\n\nb]system=a\n\nb|user=x\n\ny|tool=1|tool=2|"


def test_template_without_response_gets_it_appended() -> None:
    msgs = [("user", "U1"), ("assistant", "A1"), ("user", "U2")]
    assert render("{{ .Prompt }}", msgs) == "U1A1U2"
    assert render("<{{ .Prompt }}>{{ .Response }}</s>", msgs) == "<U1>A1</s><U2>"


def test_messages_data_has_ollama_fields() -> None:
    t = (
        "{{ range .Messages }}{{ .Role }}{{ len .ToolCalls }}{{ .ToolName }}{{ .Thinking }}{{ end }}"
        "|{{ .Prompt }}|{{ .Response }}|{{ len .Tools }}"
    )
    assert render(t, [("user", "x")]) == "user0|<no value>||0"
    # template.go hands templates *templateMessage values (convertMessagesForTemplate)
    with pytest.raises(TemplateError, match=r"can't evaluate field role in type \*template\.templateMessage"):
        render("{{ range .Messages }}{{ .role }}{{ end }}", [("user", "x")])


def test_messages_and_tools_are_template_go_values() -> None:
    """template.go convertMessagesForTemplate / convertToolsForTemplate: messages and tool calls are
    structs without JSON tags; tools print as their JSON, nil when the request has none; a property
    is an api.ToolProperty (unknown keys dropped, nested properties in their order), and the
    properties themselves a Go map (key order)."""
    assert render(
        "{{ .Tools }}|{{ json .Tools }}|{{ range .Messages }}{{ json . }}{{ end }}", [("user", "x")]
    ) == (
        'null|null|{"Role":"user","Content":"x","Thinking":"","Images":null,"ToolCalls":null,'
        '"ToolName":"","ToolCallID":""}'
    )
    call = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": {"a": 1}}}],
    }
    assert render("{{ range .Messages }}{{ json .ToolCalls }}{{ end }}", [call]) == (
        '[{"ID":"c1","Function":{"Index":0,"Name":"f","Arguments":{"a":1}}}]'
    )
    props = {
        "p": {"description": "d", "type": "string", "default": 1},
        "o": {"type": "object", "properties": {"z": {"type": "string"}, "a": {"type": ["string", "null"]}}},
    }
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": props}}},
             {"type": "function", "function": {"name": "g", "parameters": {"type": "object"}}}]  # fmt: skip
    out = render(
        "{{ range .Messages }}{{ end }}{{ range .Tools }}{{ .Function }}|{{ end }}",
        [("user", "x")],
        tools=tools,
    )
    want = ('{"o":{"type":"object","properties":{"z":{"type":"string"},"a":{"type":["string","null"]}}},'
            '"p":{"type":"string","description":"d"}}')  # fmt: skip
    assert out == f"{{f  {{object <nil> <nil> [] {want}}}}}|{{g  {{object <nil> <nil> [] {{}}}}}}|"


# ------------------------------------------------------------------- Go template semantics
def go(template: str, **data: object) -> str:
    """Execute a template once with ``data`` as dot (plain Go semantics; ``.Response`` is
    set because ``parse`` appends it, as Ollama does, to templates that lack it)."""
    return parse(template).execute({"Response": "", **data})


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("a  {{- 1 }}  b", "a1  b"),
        ("a  {{ 1 -}}  \n\t b", "a  1b"),
        ("a \n {{- 1 -}} \n b", "a1b"),
        ("{{-3}}", "-3"),  # no space after '-': a negative number, not a trim marker
        ("a {{- /* note */ -}} b", "ab"),
        ("a {{/* note */}} b", "a  b"),
        ("x\n{{- if true }}\ny\n{{- end }}\nz", "x\ny\nz"),
    ],
)
def test_trimming_and_comments(template: str, expected: str) -> None:
    assert go(template) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{{ and 1 0 "x" }}|{{ and 1 "x" }}|{{ or 0 "" "y" }}|{{ or 0 "" }}', "0|x|y|"),
        ('{{ and .Empty (index .Missing 0) }}|{{ or "a" (index .Missing 0) }}', "|a"),  # short-circuit
        (
            '{{ not 0 }} {{ not "" }} {{ not .List }} {{ not .Map }} {{ not 0.0 }} {{ not "x" }}',
            "true true false false true false",
        ),
        ("{{ if .Empty }}t{{ else if .List }}list{{ else }}f{{ end }}", "list"),
        ('{{ if "" }}t{{ else if 0 }}z{{ else }}f{{ end }}', "f"),
        (
            '{{ eq .S "a" }} {{ eq .S "a" "b" "c" }} {{ ne 1 2 }} {{ eq .Missing "x" }}',
            "false true true false",
        ),
        ('{{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1.5 2.5 }}', "true true true false"),
        ('{{ len "héllo" }} {{ len .List }} {{ len .Map }}', "6 3 2"),
        ('{{ index .List 1 }} {{ index .Map "k" }} {{ index .Map "none" }}', "20 v <no value>"),
        ('{{ slice .List 1 }} {{ slice .List 1 2 }} {{ slice "hello" 1 3 }}', "[20 30] [20] el"),
        (
            '{{ print 1 2 "a" "b" 3 }}|{{ println 1 "a" }}|'
            '{{ printf "%s=%d %q %v %5.2f" "k" 7 "q" .List 3.14159 }}',
            '1 2ab3|1 a\n|k=7 "q" [10 20 30]  3.14',
        ),
        (
            "{{ 1.5 }} {{ 1e6 }} {{ 100000.0 }} {{ 0.0001 }} {{ 0x1F }} {{ 'a' }} {{ true }}",
            "1.5 1e+06 100000 0.0001 31 97 true",
        ),
        ('{{ "a\\tb\\u00e9" }} {{ `raw\\n` }}', "a\tbé raw\\n"),
        ("{{ .List }} {{ .Map }} {{ .Missing }}", "[10 20 30] map[a:1 k:v] <no value>"),
        ('{{ .S | printf "%s-%s" "x" }} {{ .List | len | printf "%03d" }}', "x-b 003"),
        ("{{ (index .Nested 0).Name }} {{ (index .Nested 0).Tags }}", "n [t]"),
    ],
)
def test_functions_and_values(template: str, expected: str) -> None:
    data = {"S": "b", "Empty": "", "List": [10, 20, 30], "Map": {"k": "v", "a": 1},
            "Nested": [{"Name": "n", "Tags": ["t"]}]}  # fmt: skip
    assert go(template, **data) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ range .L }}{{ . }},{{ end }}", "a,b,c,"),
        ("{{ range $i, $e := .L }}{{ $i }}={{ $e }} {{ end }}", "0=a 1=b 2=c "),
        ("{{ range $e := .L }}{{ $e }}{{ end }}", "abc"),
        ("{{ range .None }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ range $k, $v := .M }}{{ $k }}{{ $v }}{{ end }}", "a2b1"),  # maps iterate in key order
        ('{{ range .L }}{{ if eq . "b" }}{{ break }}{{ end }}{{ . }}{{ end }}', "a"),
        ('{{ range .L }}{{ if eq . "b" }}{{ continue }}{{ end }}{{ . }}{{ end }}', "ac"),
        ("{{ range .L }}{{ $.Top }}{{ end }}", "TTT"),
        (
            '{{ $n := 0 }}{{ range $i, $e := .L }}{{ if ne $e "c" }}{{ $n = $i }}{{ end }}{{ end }}{{ $n }}',
            "1",
        ),
        ("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", "21"),
        ("{{ with .Top }}[{{ . }}]{{ end }}{{ with .None }}x{{ else }}none{{ end }}", "[T]none"),
        ("{{ with $t := .Top }}{{ $t }}{{ . }}{{ end }}", "TT"),
        ("{{ range 3 }}{{ . }}{{ end }}", "012"),
    ],
)
def test_control_flow_and_variables(template: str, expected: str) -> None:
    assert go(template, L=["a", "b", "c"], M={"b": 1, "a": 2}, Top="T") == expected


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ if .X }}", "missing {{end}}"),
        ("a\n{{ end }}", "template line 2: unexpected {{end}}"),
        ("{{ else }}", "unexpected {{else}}"),
        ("{{ .X | }}", "missing command after '|'"),
        ("{{ nosuch .X }}", 'function "nosuch" not defined'),
        ("{{ $x }}", 'undefined variable "$x"'),
        ('{{ "abc }}', "unterminated quoted string"),
        ("{{ .X", "unclosed action"),
        ("{{/* x */ }}", "comment ends before closing delimiter"),
        ("{{/* x", "unclosed comment"),
        ("{{ range .M }}{{ else if .X }}{{ end }}", "not allowed in {{range}}"),
        ("{{ break }}", "{{break}} outside {{range}}"),
        ("{{ (.X }}", "unclosed left paren"),
        ("{{ .X) }}", "unexpected right paren"),
        ("{{ 1 | 2 }}", "non executable command"),
        ('{{ define "x" }}{{ end }}', "{{define}} is not supported"),
        ("{{ }}", "missing value"),
        ("{{ .X ! }}", "unrecognized character"),
        ("{{ 1abc }}", "bad number syntax"),
    ],
)
def test_parse_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=r"^template line") as info:
        parse(template)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ('{{ eq 1 "a" }}', "error calling eq: incompatible types for comparison"),
        ("{{ index .L 9 }}", "error calling index: index out of range: 9"),
        ("{{ .S.X }}", "can't evaluate field X in type string"),
        ("{{ .Missing.X }}", "nil pointer evaluating interface {}.X"),
        ("{{ len 3 }}", "len of type int"),
        ("{{ lt true false }}", "invalid type for comparison"),
        ("{{ not }}", "wrong number of args for not: want 1 got 0"),
        ("{{ .S 1 }}", "S has arguments but cannot be invoked as function"),
        ("{{ eq .L .L }}", "non-comparable type"),
    ],
)
def test_execution_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        go(template, S="s", L=[1])
    assert message in str(info.value)


def test_error_types() -> None:
    with pytest.raises(HarnessError):
        parse("{{ if }}")
    with pytest.raises(ValueError):
        render("{{ .Prompt }}", [{"content": "no role"}])


def test_a_tool_without_type_has_an_empty_type_as_in_go() -> None:
    """api.Tool's Type is a plain string field: a request tool without "type" reaches the
    template as "" (no "function" default), and marshals as such."""
    tools = [{"function": {"name": "f", "parameters": {"type": "object"}}}]
    out = render("{{ range .Messages }}{{ end }}{{ range .Tools }}[{{ .Type }}]{{ json . }}{{ end }}",
                 [("user", "x")], tools=tools)  # fmt: skip
    assert out.startswith('[]{"type":"","function":{"name":"f"')
