"""Ollama's CreateRequest vectors, ported: the TestCreateRequest* tests of ``parser/parser_test.go``
of ollama/ollama at :data:`UPSTREAM` (the commit :data:`~harness.serving.emulation.OLLAMA_COMMIT`
names).

Ollama builds the request in ``Modelfile.CreateRequest`` from the file's paths; here the fields come
from :func:`~harness.backends.ollama_create.create_request` and the files from ``harness register``
(which uploads them, then names them as cmd.go ``createRequestFileNames`` does: by base name), so
the file vectors run ``harness register`` against a stand-in Ollama and read the body it sent.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from ollama_api import create_stream, gguf_file, show_response

from harness.backends.ollama_create import create_request
from harness.cli import main
from harness.serving.emulation import OLLAMA_COMMIT
from harness.serving.modelfile import parse

UPSTREAM = "fb30760996871fa9460115c753afd2c60d4ab0f7"
assert OLLAMA_COMMIT == UPSTREAM


# ------------------------------------------------------------------------------ TestCreateRequest
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM test", {"from": "test"}),
        ("FROM test\nTEMPLATE some template\n", {"from": "test", "template": "some template"}),
        (
            "FROM test\nLICENSE single license\nPARAMETER temperature 0.5\nMESSAGE user Hello\n",
            {"from": "test", "license": ["single license"], "parameters": {"temperature": 0.5},
             "messages": [{"role": "user", "content": "Hello"}]},
        ),
        (
            "FROM test\nPARAMETER temperature 0.5\nPARAMETER top_k 1\nSYSTEM You are a bot.\nLICENSE license1\n"
            "LICENSE license2\nMESSAGE user Hello there!\nMESSAGE assistant Hi! How are you?\n",
            {"from": "test", "license": ["license1", "license2"], "system": "You are a bot.",
             "parameters": {"temperature": 0.5, "top_k": 1},
             "messages": [{"role": "user", "content": "Hello there!"},
                          {"role": "assistant", "content": "Hi! How are you?"}]},
        ),
    ],
)  # fmt: skip
def test_create_request(text: str, expected: dict[str, Any]) -> None:
    body = create_request("m", parse(text), {})
    assert body.pop("model") == "m" and body.pop("stream") is True  # set by cmd.go, not CreateRequest
    assert body == expected
    # api.CreateRequest's JSON: temperature a float32, top_k an int64
    assert all(
        isinstance(v, float if k == "temperature" else int) for k, v in body.get("parameters", {}).items()
    )


# ------------------------------------------------- TestCreateRequestFiles, TestCreateRequestDraft*
@pytest.fixture
def ollama(httpserver, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """A stand-in Ollama that has every blob already; returns the create bodies it is sent."""
    pytest.importorskip("pytest_httpserver")
    from werkzeug import Response

    seen: list[dict[str, Any]] = []

    def create(request):  # type: ignore[no-untyped-def]
        seen.append(request.get_json())
        return Response(create_stream(seen[-1]), content_type="application/x-ndjson")

    def show(request):  # type: ignore[no-untyped-def]
        return Response(json.dumps(show_response(seen[-1])), content_type="application/json")

    monkeypatch.setenv("OLLAMA_HOST", httpserver.url_for("/").rstrip("/"))
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.33.0"})
    httpserver.expect_request(re.compile("/api/blobs/.*"), method="HEAD").respond_with_data("", status=200)
    httpserver.expect_request("/api/create", method="POST").respond_with_handler(create)
    httpserver.expect_request("/api/show", method="POST").respond_with_handler(show)
    return seen


def register(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``harness register ARGS --backend ollama``: (exit code, stderr)."""
    try:
        main(["register", *args, "--backend", "ollama", "--quiet"])
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    return code, capsys.readouterr().err


def digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_create_request_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ollama: list[dict[str, Any]]
) -> None:
    model = gguf_file(tmp_path / "testbin.gguf", {"general.architecture": "test"})
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text(f"FROM {model}\n")
    code, err = register(capsys, "m", "--modelfile", str(modelfile))
    assert code == 0, err
    (body,) = ollama
    assert body["files"] == {"testbin.gguf": digest(model)} and "from" not in body


def test_create_request_draft_files(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    ollama: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gguf_file(tmp_path / "model.gguf", {"general.architecture": "llama"})
    draft = gguf_file(tmp_path / "draft.gguf", {"general.architecture": "llama", "general.name": "draft"})
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text("FROM ./model.gguf\nDRAFT ./draft.gguf\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # DRAFT is relative to the Modelfile (CreateRequest's relativeDir)
    code, err = register(capsys, "m", "--modelfile", str(modelfile))
    assert code == 0, err
    (body,) = ollama
    assert body["draft_files"] == {"draft.gguf": digest(draft)}


@pytest.mark.parametrize("spelling", ["./model.gguf", "../models/model.gguf", "./link.gguf"])
def test_create_request_draft_rejects_same_file(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    httpserver,
    monkeypatch: pytest.MonkeyPatch,
    spelling: str,
) -> None:  # type: ignore[no-untyped-def]
    models = tmp_path / "models"
    models.mkdir()
    model = gguf_file(models / "model.gguf", {"general.architecture": "llama"})
    (models / "link.gguf").symlink_to(model)  # canonicalLocalPath resolves symlinks
    modelfile = models / "Modelfile"
    modelfile.write_text(f"FROM ./model.gguf\nDRAFT {spelling}\n")
    monkeypatch.setenv("OLLAMA_HOST", httpserver.url_for("/").rstrip("/"))
    code, err = register(capsys, "m", "--modelfile", str(modelfile))
    assert code != 0 and "Traceback" not in err
    assert "DRAFT must not reference the same local path as FROM" in err and str(model) in err
    assert not httpserver.log  # refused before Ollama is asked anything
