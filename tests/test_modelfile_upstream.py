"""Ollama's own Modelfile vectors, ported: the ParseFile* tests of ``parser/parser_test.go`` of
ollama/ollama at :data:`UPSTREAM` (the commit :data:`~harness.serving.emulation.OLLAMA_COMMIT`
names) that tests/test_modelfile.py does not already hold.

Raw cases go through ``parse_commands`` (Ollama's ``ParseFile``) and are compared with Ollama's own
``Command`` lists: FROM is named ``model``, a PARAMETER by its parameter name, a MESSAGE carries
``role: content``. Typed cases go through ``parse``, which also does what ``CreateRequest`` checks.
Already in tests/test_modelfile.py and not repeated: TestParseFileQuoted, TestParseFileBadCommand,
TestParseFileParametersMissingValue, TestParseFileUTF16ParseFile, the MESSAGE errors, and the FROM
and PARAMETER cases listed there.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from test_modelfile import raw

from harness.serving.emulation import OLLAMA_COMMIT
from harness.serving.modelfile import PARAMETER_TYPES, ModelfileError, load, parse

UPSTREAM = "fb30760996871fa9460115c753afd2c60d4ab0f7"
assert OLLAMA_COMMIT == UPSTREAM

LLAMA3_LEGACY = (
    "{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}"
    "{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>"
)


def commands(text: str) -> list[tuple[str, str]]:
    """Ollama's ``Modelfile.Commands`` of ``text`` as (Name, Args) pairs: test_modelfile's raw
    commands, with FROM under Go's name ``model``."""
    return [("model" if name == "from" else name, args) for name, args in raw(text)]


# --------------------------------------------------------- TestParseFileFile, TestParseFileTrimSpace
def test_parse_file_file() -> None:
    text = (
        "\nFROM model1\nADAPTER adapter1\nLICENSE MIT\nPARAMETER param1 value1\nPARAMETER param2 value2\n"
        f'TEMPLATE """{LLAMA3_LEGACY}"""    \n'
    )
    assert commands(text) == [
        ("model", "model1"),
        ("adapter", "adapter1"),
        ("license", "MIT"),
        ("param1", "value1"),
        ("param2", "value2"),
        ("template", LLAMA3_LEGACY),
    ]


def test_parse_file_trim_space() -> None:
    text = (
        '\nFROM "     model 1"\nADAPTER      adapter3\nLICENSE "MIT       "\nPARAMETER param1        value1\n'
        f'PARAMETER param2    value2\nTEMPLATE """   {LLAMA3_LEGACY}   """    \n'
    )
    assert commands(text) == [
        ("model", "     model 1"),
        ("adapter", "adapter3"),
        ("license", "MIT       "),
        ("param1", "value1"),
        ("param2", "value2"),
        ("template", f"   {LLAMA3_LEGACY}   "),
    ]


# ---------------------------------------------------- TestParseFileDraft, Renderer, Parser, Comments
def test_parse_file_draft() -> None:
    text = "\nFROM base\nDRAFT ./assistant\n"
    assert commands(text) == [("model", "base"), ("draft", "./assistant")]
    mf = parse(text)
    assert mf.draft == "./assistant"
    assert "DRAFT ./assistant" in mf.to_text()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\nFROM foo\nRENDERER renderer1\n", [("model", "foo"), ("renderer", "renderer1")]),  # Renderer
        ("\nFROM foo\nPARSER parser1\n", [("model", "foo"), ("parser", "parser1")]),  # Parser
        ("\n# comment\nFROM foo\n\t", [("model", "foo")]),  # Comments
    ],
)
def test_parse_file_renderer_parser_comments(text: str, expected: list[tuple[str, str]]) -> None:
    assert commands(text) == expected
    mf = parse(text)
    assert (mf.from_, mf.renderer, mf.parser) == (
        "foo",
        dict(expected).get("renderer"),
        dict(expected).get("parser"),
    )


# ------------------------------------------------------------------------------ TestParseFileFrom
@pytest.mark.parametrize("name", ["foo", "/path/to/model", "/path/to/model/fp16.bin", "llama3:latest"])
def test_parse_file_from(name: str) -> None:
    assert commands(f"FROM {name}") == [("model", name)]
    assert parse(f"FROM {name}").from_ == name


def test_parse_file_from_missing() -> None:
    # ParseFile gives errMissingFrom before CreateRequest would reject the unknown param1
    assert commands("PARAMETER param1 value1") == [("param1", "value1")]
    with pytest.raises(ModelfileError, match="no FROM line"):
        parse("PARAMETER param1 value1")


# -------------------------------------------------------------------------- TestParseFileMessages
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "\nFROM foo\nMESSAGE system You are a file parser. Always parse things.\n",
            [("message", "system: You are a file parser. Always parse things.")],
        ),
        (
            "\nFROM foo\nMESSAGE system You are a file parser. Always parse things.",
            [("message", "system: You are a file parser. Always parse things.")],
        ),
        (
            '\nFROM foo\nMESSAGE system """\nYou are a multiline file parser. Always parse things.\n"""\n\t\t\t',
            [("message", "system: \nYou are a multiline file parser. Always parse things.\n")],
        ),
    ],
)
def test_parse_file_messages(text: str, expected: list[tuple[str, str]]) -> None:
    assert commands(text) == [("model", "foo"), *expected]
    role, content = expected[0][1].split(": ", 1)
    assert parse(text).messages == [(role, content)]


# ------------------------------------------------------------------------ TestParseFileParameters
# The cases not already in tests/test_modelfile.py. Every one is read raw by ParseFile; what
# CreateRequest then does with it (api.FormatParams over api/types.go Options and Runner) is the
# typed value: numa and num_gqa are no options any more, penalize_newline is deprecated.
@pytest.mark.parametrize(
    ("line", "name", "value", "typed"),
    [
        ("numa true", "numa", "true", "unknown"),
        ("num_batch 1", "num_batch", "1", 1),
        ("num_gqa 1", "num_gqa", "1", "unknown"),
        ("num_gpu 1", "num_gpu", "1", 1),
        ("main_gpu 1", "main_gpu", "1", 1),
        ("use_mmap true", "use_mmap", "true", True),
        ("num_thread 1", "num_thread", "1", 1),
        ("num_keep 1", "num_keep", "1", 1),
        ("seed 1", "seed", "1", 1),
        ("num_predict 1", "num_predict", "1", 1),
        ("top_k 1", "top_k", "1", 1),
        ("min_p 0.05", "min_p", "0.05", 0.05),
        ("typical_p 1.0", "typical_p", "1.0", 1.0),
        ("repeat_last_n 1", "repeat_last_n", "1", 1),
        ("temperature 1.0", "temperature", "1.0", 1.0),
        ("repeat_penalty 1.0", "repeat_penalty", "1.0", 1.0),
        ("presence_penalty 1.0", "presence_penalty", "1.0", 1.0),
        ("frequency_penalty 1.0", "frequency_penalty", "1.0", 1.0),
        ("penalize_newline true", "penalize_newline", "true", "deprecated"),
        ("stop <|eot_id|>", "stop", "<|eot_id|>", ["<|eot_id|>"]),
    ],
)
def test_parse_file_parameters(line: str, name: str, value: str, typed: object) -> None:
    text = f"FROM foo\nPARAMETER {line}\n"
    assert commands(text) == [("model", "foo"), (name, value)]
    if typed == "unknown":
        with pytest.raises(ModelfileError, match=f'unknown parameter "{name}"'):
            parse(text)
    elif typed == "deprecated":
        mf = parse(text)
        assert mf.parameters == {} and "deprecated" in mf.warnings[0]
    else:
        assert parse(text).parameters == {name: typed}


# api/types.go at UPSTREAM: the JSON names of Options and its embedded Runner, by Go kind
# (FormatParams: Float32 → float, Int and *int → int, *bool → bool, []string → stop list).
GO_OPTIONS = {
    "num_keep": int, "seed": int, "num_predict": int, "top_k": int, "top_p": float, "min_p": float,
    "typical_p": float, "repeat_last_n": int, "temperature": float, "repeat_penalty": float,
    "presence_penalty": float, "frequency_penalty": float, "stop": list,
    "num_ctx": int, "num_batch": int, "num_gpu": int, "main_gpu": int, "use_mmap": bool,
    "num_thread": int, "draft_num_predict": int,
}  # fmt: skip


def test_parameters_are_ollamas_options() -> None:
    assert PARAMETER_TYPES == GO_OPTIONS
    assert parse("FROM foo\nPARAMETER draft_num_predict 8\n").parameters == {"draft_num_predict": 8}


# --------------------------------------------------------------------- TestParseFileFormatParseFile
# Modelfile.String() read back is the same Modelfile. Cases 2 and 3 (1 and 4 are ROUND_TRIP in
# tests/test_modelfile.py), with PARAMETER param1/param2, which CreateRequest refuses, replaced by
# options: this project's writer works on the typed Modelfile.
@pytest.mark.parametrize(
    "text",
    [
        "\nFROM foo\nADAPTER adapter1\nLICENSE MIT\nPARAMETER num_ctx 1\nPARAMETER top_k 2\nTEMPLATE template1\n"
        'MESSAGE system """\nYou are a store greeter. Always respond with "Hello!".\n"""\n'
        "MESSAGE user Hey there!\nMESSAGE assistant Hello, I want to parse all the things!\n",
        '\nFROM foo\nADAPTER adapter1\nLICENSE """\nVery long and boring legal text.\nBlah blah blah.\n'
        '"Oh look, a quote!"\n"""\n\nPARAMETER num_ctx 1\nPARAMETER top_k 2\nTEMPLATE template1\n'
        'MESSAGE system """\nYou are a store greeter. Always respond with "Hello!".\n"""\n'
        "MESSAGE user Hey there!\nMESSAGE assistant Hello, I want to parse all the things!\n",
    ],
)
def test_parse_file_format_parse_file(text: str) -> None:
    mf = parse(text)
    assert parse(mf.to_text()) == mf
    assert mf.messages[0] == ("system", '\nYou are a store greeter. Always respond with "Hello!".\n')


# --------------------------------------------------------------------------------- TestParseMultiByte
@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s.encode("utf-8"),
        lambda s: codecs.BOM_UTF16_LE + s.encode("utf-16-le"),
        lambda s: codecs.BOM_UTF16_BE + s.encode("utf-16-be"),
    ],
    ids=["utf-8", "utf-16le", "utf-16be"],
)
def test_parse_multi_byte(tmp_path: Path, encode) -> None:  # type: ignore[no-untyped-def]
    text = "FROM test\n\tSYSTEM 你好👋"
    assert commands(text) == [("model", "test"), ("system", "你好👋")]
    path = tmp_path / "Modelfile"
    path.write_bytes(encode(text))
    mf = load(path)
    assert (mf.from_, mf.system) == ("test", "你好👋")
