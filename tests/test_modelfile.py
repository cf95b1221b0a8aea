"""harness.serving.modelfile: Ollama's Modelfile rules, typed parameters, writing, shipped files.

Cases marked "Ollama" are the vectors of ollama/ollama ``parser/parser_test.go``; the raw
ones go through ``parse_commands`` (Ollama's ``ParseFile``), the rest through ``parse``.
"""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.serving import gotemplate
from harness.serving.modelfile import Modelfile, ModelfileError, load, parse, parse_commands, write

MODELFILES = Path(__file__).resolve().parent.parent / "modelfiles"


def raw(text: str) -> list[tuple[str, str]]:
    """(name, args) of each raw command; a PARAMETER shows its parameter name, a MESSAGE
    ``role: content`` (Ollama's own Command shape)."""
    out = []
    for c in parse_commands(text):
        if c.name == "parameter":
            out.append((c.key, c.args))
        elif c.name == "message":
            out.append(("message", f"{c.key}: {c.args}"))
        else:
            out.append((c.name, c.args))
    return out


# --------------------------------------------------------------------- Ollama's vectors
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('FROM "FOO  BAR  "', [("from", "FOO  BAR  ")]),
        ('FROM "FOO BAR"\nPARAMETER param1 value1', [("from", "FOO BAR"), ("param1", "value1")]),
        ("FROM     FOOO BAR    ", [("from", "FOOO BAR")]),
        ("FROM /what/is/the path ", [("from", "/what/is/the path")]),
        ("FROM llama3:7b-instruct-q4_K_M", [("from", "llama3:7b-instruct-q4_K_M")]),
        ("PARAMETER param1 value1\nFROM foo", [("param1", "value1"), ("from", "foo")]),
        (
            "PARAMETER what the \nFROM lemons make lemonade ",
            [("what", "the"), ("from", "lemons make lemonade")],
        ),
    ],
)
def test_ollama_from_and_trimming(text: str, expected: list[tuple[str, str]]) -> None:
    assert raw(text) == expected


@pytest.mark.parametrize(
    ("text", "system"),
    [
        ('SYSTEM """\nThis is a\nmultiline system.\n"""\n\t\t\t', "\nThis is a\nmultiline system.\n"),
        ('SYSTEM """\nThis is a\nmultiline system."""\n', "\nThis is a\nmultiline system."),
        ('SYSTEM """This is a\nmultiline system."""\n', "This is a\nmultiline system."),
        ('SYSTEM """This is a multiline system."""\n', "This is a multiline system."),
        (
            'SYSTEM """\nThis is a multiline system with "quotes".\n"""\n',
            '\nThis is a multiline system with "quotes".\n',
        ),
        ('SYSTEM """"""\n', ""),
        ('SYSTEM ""\n', ""),
        ('SYSTEM "\'"\n', "'"),
        ('SYSTEM """\'\'"\'""\'""\'"\'\'\'\'\'""\'""\'"""\n', "''\"'\"\"'\"\"'\"'''''\"\"'\"\"'"),
        ('SYSTEM "spans\nlines"\n', "spans\nlines"),
        ("SYSTEM no # comment here\n", "no # comment here"),
    ],
)
def test_ollama_quoted_values(text: str, system: str) -> None:
    assert parse("FROM foo\n" + text).system == system


def test_ollama_template_value_keeps_newlines() -> None:
    assert parse('FROM foo\nTEMPLATE """\n{{ .Prompt }}\n"""').template == "\n{{ .Prompt }}\n"


@pytest.mark.parametrize(
    ("line", "name", "value"),
    [  # Ollama TestParseFileParameters (raw)
        ("num_ctx 1", "num_ctx", "1"),
        ("top_p 1.0", "top_p", "1.0"),
        ("stop ### User:", "stop", "### User:"),
        ("stop ### User: ", "stop", "### User:"),
        ('stop "### User:"', "stop", "### User:"),
        ('stop "### User: "', "stop", "### User: "),
        ('stop """### User:"""', "stop", "### User:"),
        ('stop """### User:\n"""', "stop", "### User:\n"),
        ("stop <|endoftext|>", "stop", "<|endoftext|>"),
        ("stop </s>", "stop", "</s>"),
    ],
)
def test_ollama_parameter_values(line: str, name: str, value: str) -> None:
    assert raw(f"FROM foo\nPARAMETER {line}\n") == [("from", "foo"), (name, value)]


def test_ollama_messages() -> None:
    text = (
        "FROM foo\nMESSAGE system You are a file parser. Always parse things.\n"
        "MESSAGE user Hey there!\nMESSAGE assistant Hello, I want to parse all the things!\n"
        'MESSAGE system """\nYou are a multiline file parser. Always parse things.\n"""\n'
    )
    assert parse(text).messages == [
        ("system", "You are a file parser. Always parse things."),
        ("user", "Hey there!"),
        ("assistant", "Hello, I want to parse all the things!"),
        ("system", "\nYou are a multiline file parser. Always parse things.\n"),
    ]


def test_commands_are_case_insensitive_and_comments_only_at_line_start() -> None:
    mf = parse("# comment\n  # indented comment\nfrom foo\nSyStEm hi # kept\nlicense MIT\nAdapter ./lora\n")
    assert (mf.from_, mf.system, mf.licenses, mf.adapter) == ("foo", "hi # kept", ["MIT"], "./lora")


def test_utf16_and_bom_files(tmp_path: Path) -> None:
    text = "FROM bob\nPARAMETER num_ctx 4096\nSYSTEM You are a utf16 file.\n"
    for i, data in enumerate(
        [
            codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
            codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
            codecs.BOM_UTF8 + text.encode(),
        ]
    ):
        path = tmp_path / f"m{i}"
        path.write_bytes(data)
        mf = load(path)
        assert (mf.from_, mf.parameters, mf.system) == ("bob", {"num_ctx": 4096}, "You are a utf16 file.")


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("FROM foo\nMESSAGE badguy I'm a bad guy!\n", 2, 'invalid MESSAGE role "badguy"'),
        ("\nFROM foo\nMESSAGE badguy hi", 3, "invalid MESSAGE role"),
        ("FROM foo\nPARAMETER param1\n", 2, "unexpected end of line: PARAMETER param1 has no value"),
        ("FROM foo\nPARAMETER param1", 2, "unexpected end of file: PARAMETER param1 has no value"),
        ("FROM foo\nMESSAGE system\n", 2, "unexpected end"),
        ("FROM foo\nMESSAGE system", 2, "unexpected end"),
        ("\nFROM foo\nBADCOMMAND param1 value1\n", 3, 'unknown command "BADCOMMAND"'),
        ('FROM foo\nSYSTEM """This is a multiline system.""\n', 2, "never closed"),
        ('FROM foo\nSYSTEM "\n\t\t\t', 2, "never closed"),
        ("FROM\n", 1, "FROM has no value"),
        ("FROM foo\nPARAMETER  temperature 1\n", 2, "single space"),
        ("FROM foo\r\nSYSTEM x\r\nFROB y\r\n", 3, "unknown command"),
    ],
)
def test_syntax_errors_carry_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ModelfileError) as info:
        parse(text)
    assert info.value.line == line
    assert str(info.value).startswith(f"Modelfile line {line}: ")
    assert message in str(info.value)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "PARAMETER temperature 1\nSYSTEM hi\n"])
def test_missing_from(text: str) -> None:
    with pytest.raises(ModelfileError, match="no FROM line"):
        parse(text)


# --------------------------------------------------------------------- typed parameters
def test_parameters_are_typed_and_stop_collects() -> None:
    mf = parse(
        "FROM foo\nPARAMETER num_ctx 8192\nPARAMETER temperature 0\nPARAMETER top_p 0.9\n"
        "PARAMETER seed -1\nPARAMETER use_mmap false\nPARAMETER stop <|im_start|>\n"
        'PARAMETER stop "### User: "\nPARAMETER min_p 5e-2\nPARAMETER temperature 0.2\n'
    )
    assert mf.parameters == {
        "num_ctx": 8192,
        "temperature": 0.2,  # a repeated scalar: the last one wins, as in Ollama
        "top_p": 0.9,
        "seed": -1,
        "use_mmap": False,
        "stop": ["<|im_start|>", "### User: "],
        "min_p": 0.05,
    }
    assert isinstance(mf.parameters["num_ctx"], int) and isinstance(mf.parameters["temperature"], float)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("foo 1", 'unknown parameter "foo"'),
        ("temprature 0.5", 'unknown parameter "temprature" (did you mean "temperature"?)'),
        ("Temperature 0.5", 'did you mean "temperature"'),
        ("num_ctx 1.0", 'parameter "num_ctx" must be an integer, got "1.0"'),
        ("top_k many", "must be an integer"),
        ("temperature hot", 'parameter "temperature" must be a number, got "hot"'),
        ("use_mmap yes", "must be true or false"),
    ],
)
def test_bad_parameters(line: str, message: str) -> None:
    with pytest.raises(ModelfileError) as info:
        parse(f"FROM foo\n\nPARAMETER {line}\n")
    assert str(info.value).startswith("Modelfile line 3: ")
    assert message in str(info.value)


def test_error_message_format_and_types(tmp_path: Path) -> None:
    with pytest.raises(ModelfileError) as info:
        parse("FROM foo\nSYSTEM hi\nPARAMETER foo 1\n")
    assert str(info.value).startswith('Modelfile line 3: unknown parameter "foo"')
    assert isinstance(info.value, HarnessError) and isinstance(info.value, ValueError)
    path = tmp_path / "Modelfile"
    path.write_text("FROM foo\nPARAMETER foo 1\n")
    with pytest.raises(ModelfileError, match=f"^{path} line 2: unknown parameter"):
        load(path)
    with pytest.raises(ModelfileError, match="cannot read it"):
        load(tmp_path / "missing")


def test_deprecated_parameters_are_ignored_with_a_warning() -> None:
    mf = parse("FROM foo\nPARAMETER mirostat 1\nPARAMETER penalize_newline true\n")
    assert mf.parameters == {}
    assert mf.warnings == [
        "line 2: parameter mirostat is deprecated and ignored",
        "line 3: parameter penalize_newline is deprecated and ignored",
    ]


@pytest.mark.parametrize(
    ("version", "ok"),
    [  # golang.org/x/mod/semver IsValid, after parser.go adds the "v"
        ("0.14.0", True), ("v0.14.0", True), ("1", True), ("1.2", True), ("1.2.3-rc.1", True),
        ("1.2.3-rc-1+build.5", True), ("1.2.3+meta", True), ("1.2.3-0", True), ("1.2.3-x.07a", True),
        ("01.2.3", False), ("1.02", False), ("1.2.3-rc.01", False), ("1.2-rc1", False), ("1-rc1", False),
        ("1.2.3-", False), ("1.2.3-a..b", False), ("1.2.3+", False), ("1.2.3.4", False), ("vv1.2.3", False),
        ("1.2.3-rc_1", False), ("soon", False), ("", False),
    ],
)  # fmt: skip
def test_requires_follows_go_semver(version: str, ok: bool) -> None:
    text = f"FROM foo\nREQUIRES {version}\n"
    if ok:
        assert parse(text).requires == (version[1:] if version.startswith("v") else version)
    else:
        with pytest.raises(ModelfileError, match="REQUIRES"):
            parse(text)


def test_requires_is_a_version() -> None:
    assert parse("FROM foo\nREQUIRES v0.14.0\n").requires == "0.14.0"
    with pytest.raises(ModelfileError, match="REQUIRES must be a version"):
        parse("FROM foo\nREQUIRES soon\n")


# ----------------------------------------------------------------------------- writing
ROUND_TRIP = [
    "FROM foo\nADAPTER adapter1\nLICENSE MIT\nPARAMETER num_ctx 4096\nPARAMETER stop <|eot_id|>\n"
    "TEMPLATE template1\nMESSAGE system You are a file parser. Always parse things.\n"
    "MESSAGE user Hey there!\nMESSAGE assistant Hello, I want to parse all the things!\n",
    'FROM foo\nLICENSE """\nVery long and boring legal text.\nBlah blah blah.\n"Oh look, a quote!"\n"""\n\n'
    'MESSAGE system """\nYou are a store greeter. Always respond with "Hello!".\n"""\n',
    'FROM foo\nSYSTEM ""\n',
    'FROM "  spaced  "\nSYSTEM "ends with space "\nPARAMETER stop "### User: "\nPARAMETER stop """\n"""\n',
    'FROM foo\nTEMPLATE """{{- range .Messages }}{{ if eq .Role "user" }}<|im_start|>user\n'
    '{{ .Content }}<|im_end|>\n{{ end }}{{ end }}"quoted"\n"""\nSYSTEM ""quoted twice""\n'
    "PARAMETER temperature 0.7\nPARAMETER use_mmap true\nPARAMETER seed 42\nREQUIRES 0.5.0\n",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_write_then_parse_gives_the_same_modelfile(text: str) -> None:
    mf = parse(text)
    assert parse(mf.to_text()) == mf
    assert write(mf) == mf.to_text()


def test_writer_picks_a_quoting_that_reads_back() -> None:
    mf = Modelfile(
        from_="./m.gguf",
        template='{{ if .System }}"sys"{{ end }}\n{{ .Prompt }} "',
        system="line one\nline two",
        parameters={"stop": ["a ", '"b"'], "temperature": 0.0, "num_ctx": 8192},
        messages=[("user", ""), ("assistant", " padded ")],
    )
    text = mf.to_text()
    assert 'TEMPLATE """{{ if .System }}"sys"{{ end }}\n{{ .Prompt }} """"' in text
    assert "PARAMETER temperature 0.0\n" in text and "PARAMETER num_ctx 8192\n" in text
    assert parse(text) == mf


def test_writer_round_trips_or_refuses_random_values() -> None:
    rng = random.Random(0)
    alphabet = ["a", " ", '"', "\n", "#", "\t", "\r", "{", "é"]
    for _ in range(2000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        mf = Modelfile(from_="x", system=value, messages=[("user", value)], parameters={"stop": [value]})
        try:
            text = mf.to_text()
        except ModelfileError:
            continue
        assert parse(text) == mf, (value, text)


def test_writer_refuses_values_ollama_cannot_hold() -> None:
    with pytest.raises(ModelfileError, match="cannot be written"):
        Modelfile(from_="foo", system='"""\n"').to_text()


def test_prompt_applies_system_and_message_history_like_ollama() -> None:
    mf = parse(
        'FROM foo\nTEMPLATE "{{ range .Messages }}{{ .Role }}:{{ .Content }};{{ end }}"\n'
        "SYSTEM be brief\nMESSAGE user earlier\nMESSAGE assistant reply\n"
    )
    assert mf.prompt([{"role": "user", "content": "now"}]) == (
        "system:be brief;user:earlier;assistant:reply;user:now;"
    )
    assert mf.prompt([{"role": "system", "content": "own"}, {"role": "user", "content": "now"}]) == (
        "user:earlier;assistant:reply;system:own;user:now;"
    )
    assert parse("FROM foo\n").prompt([{"role": "user", "content": "hi"}]) == "hi"


# ---------------------------------------------------------------------- shipped files
SHORT_CHAT = [
    {"role": "user", "content": "Your task is to: put a mug in sinkbasin."},
    {"role": "assistant", "content": "think: I need a mug."},
    {"role": "user", "content": "OK."},
]


@pytest.mark.parametrize(
    ("name", "expected_tail"),
    [
        ("qwen2.5-react", "<|im_start|>user\nOK.<|im_end|>\n<|im_start|>assistant\n"),
        ("smollm2", "<|im_start|>user\nOK.<|im_end|>\n<|im_start|>assistant\n"),
        (
            "llama3-react",
            "<|start_header_id|>user<|end_header_id|>\n\nOK.<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n",
        ),
    ],
)
def test_shipped_modelfiles_parse_and_render(name: str, expected_tail: str) -> None:
    mf = load(MODELFILES / f"{name}.Modelfile")
    assert mf.from_ == f"./{name}.gguf"
    assert mf.template and mf.system
    assert mf.parameters["num_ctx"] >= 8192 and mf.parameters["temperature"] == 0.0
    assert "messages" in gotemplate.parse(mf.template).vars()
    prompt = mf.prompt(SHORT_CHAT)
    assert prompt.endswith(expected_tail)
    assert prompt.count(mf.system) == 1 and prompt.count("think: I need a mug.") == 1
    end_token = "<|eot_id|>" if name.startswith("llama3") else "<|im_end|>"
    assert end_token in mf.parameters["stop"]
    assert parse(mf.to_text()) == mf


def test_qwen_modelfile_renders_the_chatml_training_format() -> None:
    mf = load(MODELFILES / "qwen2.5-react.Modelfile")
    assert mf.prompt(SHORT_CHAT) == (
        f"<|im_start|>system\n{mf.system}<|im_end|>\n"
        "<|im_start|>user\nYour task is to: put a mug in sinkbasin.<|im_end|>\n"
        "<|im_start|>assistant\nthink: I need a mug.<|im_end|>\n"
        "<|im_start|>user\nOK.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert set(mf.parameters["stop"]) == {"<|im_start|>", "<|im_end|>", "<|endoftext|>"}


@pytest.mark.parametrize("name", ["qwen2.5-react", "llama3-react", "smollm2-react"])
def test_react_modelfiles_system_is_the_protocol_prompt(name: str) -> None:
    protocol = pytest.importorskip("harness.agent.protocol")
    if not hasattr(protocol, "SYSTEM_PROMPT"):
        pytest.skip("harness.agent.protocol has no SYSTEM_PROMPT")
    assert load(MODELFILES / f"{name}.Modelfile").system == protocol.SYSTEM_PROMPT
