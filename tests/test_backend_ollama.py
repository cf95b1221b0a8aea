"""The ``ollama`` backend against a local HTTP server that answers as Ollama's API documents
(docs/api.md), plus live tests that run whenever an Ollama server answers at OLLAMA_HOST."""

from __future__ import annotations

import json
import re
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import closed_port
from ollama_api import create_stream, gguf_file, show_response

pytest.importorskip("ollama")
pytest.importorskip("pytest_httpserver")

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from harness.backends import (
    BackendError,
    BackendUnavailable,
    ChatOptions,
    ModelNotFound,
    TransientBackendError,
)
from harness.backends.ollama import (
    OllamaBackend,
    OllamaServer,
    is_reachable,
    register_gguf,
    resolve_host,
)
from harness.errors import UsageError
from harness.serving.modelfile import parse

DONE = {
    "model": "m", "created_at": "2024-01-01T00:00:00Z", "message": {"role": "assistant", "content": ""},
    "done": True, "done_reason": "stop", "total_duration": 2_500_000_000, "load_duration": 1_000_000,
    "prompt_eval_count": 26, "prompt_eval_duration": 130_000_000, "eval_count": 10,
    "eval_duration": 500_000_000,
}  # fmt: skip


def ndjson(*parts: dict) -> str:
    return "".join(json.dumps(p) + "\n" for p in parts)


def chunk(text: str) -> dict:
    return {"model": "m", "created_at": "2024-01-01T00:00:00Z", "message": {"role": "assistant", "content": text},
            "done": False}  # fmt: skip


def tiny_gguf(path: Path) -> Path:
    """A GGUF v3 header with no tensors and one metadata key."""
    key, val = b"general.architecture", b"llama"
    path.write_bytes(
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key
        + struct.pack("<IQ", 8, len(val)) + val
    )  # fmt: skip
    return path


@pytest.fixture
def host(httpserver: HTTPServer) -> str:
    return httpserver.url_for("/").rstrip("/")


@pytest.fixture
def server(host: str) -> OllamaServer:
    return OllamaServer(host, timeout=5)


def test_resolve_host_follows_ollama_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert resolve_host() == "http://127.0.0.1:11434"
    assert resolve_host("0.0.0.0") == "http://0.0.0.0:11434"
    assert resolve_host(":5000") == "http://127.0.0.1:5000"
    assert resolve_host("https://example.com") == "https://example.com:443"
    assert resolve_host("http://h:1234/") == "http://h:1234"
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.1:9999")
    assert resolve_host() == "http://10.0.0.1:9999"


def test_is_reachable(httpserver: HTTPServer, host: str) -> None:
    httpserver.expect_request("/api/version", method="GET").respond_with_json({"version": "0.5.7"})
    assert is_reachable(host)
    assert not is_reachable(f"http://127.0.0.1:{closed_port()}")


def _expect_create(httpserver: HTTPServer, seen: list[dict], chat_template: str | None = None,
                   tamper: Callable[[dict], dict] | None = None) -> None:  # fmt: skip
    """/api/create then /api/show, answered as Ollama does for the body that was sent (``tamper``
    changes the show answer, to play a server that stored something else)."""

    def create(request: Request) -> Response:
        seen.append(request.get_json())
        return Response(create_stream(seen[-1]), content_type="application/x-ndjson")

    def show(request: Request) -> Response:
        assert request.get_json()["model"] == seen[-1]["model"]
        answer = show_response(seen[-1], chat_template=chat_template)
        return Response(json.dumps(tamper(answer) if tamper else answer), content_type="application/json")

    httpserver.expect_request("/api/create", method="POST").respond_with_handler(create)
    httpserver.expect_request("/api/show", method="POST").respond_with_handler(show)


MODELFILE = parse('FROM ./x.gguf\nTEMPLATE "{{ .Prompt }}"\nSYSTEM be brief\nPARAMETER stop <|im_end|>\n'
                  "PARAMETER stop <|endoftext|>\nPARAMETER temperature 0\n")  # fmt: skip


def test_register_uploads_missing_blob_then_creates(
    httpserver: HTTPServer, host: str, tmp_path: Path
) -> None:
    gguf = tiny_gguf(tmp_path / "m.gguf")
    sha = "ab" * 32
    httpserver.expect_ordered_request(f"/api/blobs/sha256:{sha}", method="HEAD").respond_with_data(
        "", status=404
    )
    httpserver.expect_ordered_request(
        f"/api/blobs/sha256:{sha}", method="POST", data=gguf.read_bytes()
    ).respond_with_data("", status=201)
    seen: list[dict] = []
    _expect_create(httpserver, seen)
    info = register_gguf("mymodel", gguf, MODELFILE, sha256=sha, quantize="q4_K_M", host=host)
    httpserver.check_assertions()
    assert info["details"]["format"] == "gguf"
    (req,) = seen
    assert req["model"] == "mymodel"
    assert req["files"] == {"m.gguf": f"sha256:{sha}"}
    assert req["template"] == "{{ .Prompt }}" and req["system"] == "be brief"
    assert req["parameters"] == {"stop": ["<|im_end|>", "<|endoftext|>"], "temperature": 0.0}
    assert req["quantize"] == "q4_K_M" and req["stream"] is True


def test_register_skips_upload_when_blob_exists(httpserver: HTTPServer, host: str, tmp_path: Path) -> None:
    gguf = tiny_gguf(tmp_path / "m.gguf")
    httpserver.expect_request(f"/api/blobs/sha256:{'cd' * 32}", method="HEAD").respond_with_data(
        "", status=200
    )
    seen: list[dict] = []
    _expect_create(httpserver, seen)
    register_gguf("mymodel", gguf, MODELFILE, sha256="cd" * 32, host=host)
    methods = [req.method for req, _ in httpserver.log]
    assert "POST" in methods and methods.count("HEAD") == 1
    assert not any(req.method == "POST" and req.path.startswith("/api/blobs") for req, _ in httpserver.log)
    assert "quantize" not in seen[0]


def test_create_stream_error_line_is_a_clear_error(httpserver: HTTPServer, server: OllamaServer) -> None:
    body = ndjson({"status": "parsing GGUF"}, {"status": "creating template layer"},
                  {"error": "invalid template: template: :1: unexpected \"}\" in operand"})  # fmt: skip
    httpserver.expect_request("/api/create", method="POST").respond_with_data(
        body, content_type="application/x-ndjson"
    )
    with pytest.raises(BackendError, match=r"refused the create of 'bad'.*invalid template") as err:
        server.create({"model": "bad", "files": {"m.gguf": "sha256:00"}, "stream": True})
    assert not isinstance(err.value, ModelNotFound)
    assert "\n" not in str(err.value)


def test_create_without_success_status_fails(httpserver: HTTPServer, server: OllamaServer) -> None:
    httpserver.expect_request("/api/create").respond_with_data(ndjson({"status": "parsing GGUF"}))
    with pytest.raises(BackendError, match="did not finish creating"):
        server.create({"model": "m", "files": {"m.gguf": "sha256:00"}, "stream": True})


def test_chat_sends_options_and_messages_and_converts_timings(httpserver: HTTPServer, host: str) -> None:
    seen: list[dict] = []

    def handler(request: Request) -> Response:
        seen.append(request.get_json())
        return Response(ndjson(chunk("Hel"), chunk("lo"), DONE), content_type="application/x-ndjson")

    httpserver.expect_request("/api/chat", method="POST").respond_with_handler(handler)
    backend = OllamaBackend("m", host=host)
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]
    opts = ChatOptions(
        temperature=0.2, seed=7, top_k=20, top_p=0.9, num_ctx=2048, num_predict=64, stop=["\n"]
    )
    result = backend.chat(messages, opts)
    (req,) = seen
    assert req["model"] == "m" and req["messages"] == messages
    assert req["options"] == {"temperature": 0.2, "seed": 7, "num_predict": 64, "top_k": 20, "top_p": 0.9,
                              "num_ctx": 2048, "stop": ["\n"]}  # fmt: skip
    assert result.text == "Hello" and result.done_reason == "stop"
    assert result.prompt_tokens == 26 and result.prompt_eval_count == 26 and result.eval_count == 10
    assert result.total_duration_s == pytest.approx(2.5)
    assert result.prompt_eval_duration_s == pytest.approx(0.13)
    assert result.eval_duration_s == pytest.approx(0.5)
    assert result.gen_tokens_per_s == pytest.approx(20.0)
    assert not result.truncated


def test_stream_chat_yields_chunks_and_reads_done_reason(httpserver: HTTPServer, host: str) -> None:
    body = ndjson(chunk("a"), chunk("b"), {**DONE, "done_reason": "length"})
    httpserver.expect_request("/api/chat").respond_with_data(body, content_type="application/x-ndjson")
    backend = OllamaBackend("m", host=host)
    assert list(backend.stream_chat([{"role": "user", "content": "x"}], ChatOptions())) == ["a", "b"]
    assert backend.last_result is not None and backend.last_result.done_reason == "length"


def test_chat_wall_clock_timeout(httpserver: HTTPServer, host: str) -> None:
    def handler(request: Request) -> Response:
        def slow():
            for _ in range(20):
                yield json.dumps(chunk("x")) + "\n"
                time.sleep(0.05)
            yield json.dumps(DONE) + "\n"

        return Response(slow(), content_type="application/x-ndjson")

    httpserver.expect_request("/api/chat").respond_with_handler(handler)
    result = OllamaBackend("m", host=host).chat(
        [{"role": "user", "content": "x"}], ChatOptions(timeout_s=0.2)
    )
    assert result.done_reason == "timeout"
    assert 0 < len(result.text) < 20


def test_chat_unknown_model_names_harness_models(httpserver: HTTPServer, host: str) -> None:
    httpserver.expect_request("/api/chat").respond_with_json({"error": "model 'nope' not found"}, status=404)
    with pytest.raises(ModelNotFound, match="harness models") as err:
        OllamaBackend("nope", host=host).chat([{"role": "user", "content": "x"}], ChatOptions())
    assert "model 'nope' not found" in str(err.value)


def test_connection_refused_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    backend = OllamaBackend("m", host=url)
    with pytest.raises(
        BackendUnavailable, match=f"cannot reach Ollama at {url}: start it with 'ollama serve'"
    ):
        backend.chat([{"role": "user", "content": "x"}], ChatOptions())
    with pytest.raises(BackendUnavailable, match="set OLLAMA_HOST"):
        OllamaServer(url).list()


def test_server_errors_are_transient(httpserver: HTTPServer, host: str) -> None:
    httpserver.expect_request("/api/chat").respond_with_json(
        {"error": "llama runner process has terminated"}, status=500
    )
    with pytest.raises(TransientBackendError, match="llama runner process has terminated"):
        OllamaBackend("m", host=host).chat([{"role": "user", "content": "x"}], ChatOptions())


def test_read_timeout_is_transient(httpserver: HTTPServer, host: str) -> None:
    def handler(request: Request) -> Response:
        time.sleep(0.6)
        return Response(ndjson(DONE))

    httpserver.expect_request("/api/tags").respond_with_handler(handler)
    with pytest.raises(TransientBackendError, match="timed out"):
        OllamaServer(host, timeout=0.2).list()


def test_truncation_detected_when_prompt_shrinks_while_history_grows(
    httpserver: HTTPServer, host: str
) -> None:
    counts = iter([100, 60, 140])

    def handler(request: Request) -> Response:
        return Response(ndjson(chunk("ok"), {**DONE, "prompt_eval_count": next(counts)}))

    httpserver.expect_request("/api/chat").respond_with_handler(handler)
    backend = OllamaBackend("m", host=host)
    msgs = [{"role": "user", "content": "a"}]
    assert not backend.chat(msgs, ChatOptions()).truncated
    msgs += [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "b"}]
    assert backend.chat(msgs, ChatOptions()).truncated  # 60 < 100 although messages were only appended
    msgs += [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "c"}]
    assert not backend.chat(msgs, ChatOptions()).truncated


def test_truncation_detected_with_a_token_counter(httpserver: HTTPServer, host: str) -> None:
    httpserver.expect_request("/api/chat").respond_with_data(ndjson(chunk("ok"), DONE))
    backend = OllamaBackend("m", host=host, count_tokens=lambda msgs: 50)
    assert backend.chat([{"role": "user", "content": "a"}], ChatOptions()).truncated  # 26 < 50 - 2


def test_list_show_delete_requests(httpserver: HTTPServer, server: OllamaServer) -> None:
    httpserver.expect_request("/api/tags", method="GET").respond_with_json({"models": [{
        "name": "codellama:13b", "model": "codellama:13b", "modified_at": "2023-11-04T14:56:49.277302595-07:00",
        "size": 7365960935, "digest": "9f438cb9cd581fc025612d27f7c1a6669ff83a8bb0ed86c94fcf4c5440555697",
        "details": {"format": "gguf", "family": "llama", "families": None, "parameter_size": "13B",
                    "quantization_level": "Q4_0"},
    }]})  # fmt: skip
    httpserver.expect_request("/api/show", method="POST", json={"model": "codellama:13b"}).respond_with_json(
        {"modelfile": "FROM /blobs/sha256-1", "parameters": 'stop "<|eot_id|>"', "template": "{{ .Prompt }}",
         "details": {"format": "gguf", "quantization_level": "Q4_0"}, "model_info": {"general.architecture": "llama"}}
    )  # fmt: skip
    httpserver.expect_request(
        "/api/delete", method="DELETE", json={"model": "codellama:13b"}
    ).respond_with_data("")
    (m,) = server.list()
    assert m["name"] == "codellama:13b" and m["size"] == 7365960935
    assert m["details"]["quantization_level"] == "Q4_0"
    shown = server.show("codellama:13b")
    assert shown["template"] == "{{ .Prompt }}" and shown["model_info"]["general.architecture"] == "llama"
    server.delete("codellama:13b")
    httpserver.check_assertions()


def test_delete_unknown_model(httpserver: HTTPServer, server: OllamaServer) -> None:
    httpserver.expect_request("/api/delete").respond_with_json({"error": "model 'x' not found"}, status=404)
    with pytest.raises(ModelNotFound, match="harness models"):
        server.delete("x")


def test_digest_comes_from_the_model_list(httpserver: HTTPServer, host: str) -> None:
    httpserver.expect_request("/api/tags").respond_with_json(
        {"models": [{"name": "m:latest", "model": "m:latest", "digest": "abc", "size": 1}]}
    )
    assert OllamaBackend("m", host=host).digest() == "abc"


def test_a_server_that_is_not_ollama(httpserver: HTTPServer, server: OllamaServer) -> None:
    httpserver.expect_request("/api/tags").respond_with_data("<html>hello</html>", content_type="text/html")
    with pytest.raises(BackendError, match=r"unexpected answer from .* is it an Ollama server") as err:
        server.list()
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------------ live Ollama
@pytest.fixture
def live_host() -> str:
    url = resolve_host()
    if not is_reachable(url, timeout=1.0):
        pytest.skip(f"no Ollama server answers at {url} (set OLLAMA_HOST to run the live tests)")
    return url


@pytest.mark.ollama
def test_live_version_and_list(live_host: str) -> None:
    server = OllamaServer(live_host)
    assert server.version()
    assert isinstance(server.list(), list)


@pytest.mark.ollama
def test_live_register_chat_delete(live_host: str) -> None:
    from harness._util.atomic import sha256_file
    from harness.backends.resolve import default_gguf, default_modelfile
    from harness.serving.modelfile import load

    gguf = default_gguf()
    name = "harness-test-smollm2"
    register_gguf(name, gguf, load(default_modelfile()), sha256=sha256_file(gguf), host=live_host)
    try:
        result = OllamaBackend(name, host=live_host).chat(
            [{"role": "user", "content": "Say hello"}], ChatOptions(num_predict=16)
        )
        assert result.text and result.eval_count and result.prompt_tokens
    finally:
        OllamaServer(live_host).delete(name)


# ------------------------------------------------------------------------------ registration (issue 13, point 8)
FULL = parse(
    'FROM ./x.gguf\nDRAFT ./draft.gguf\nTEMPLATE """{{ range .Messages }}<|im_start|>{{ .Role }}\n'
    '{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"""\nSYSTEM be brief\n'
    'PARAMETER stop <|im_end|>\nPARAMETER stop "a \\\\ b"\nPARAMETER temperature 0.7\nPARAMETER num_ctx 8192\n'
    "PARAMETER seed 1000000\nPARAMETER use_mmap false\nMESSAGE user hi\nMESSAGE assistant hello there\n"
    "LICENSE MIT\nRENDERER qwen3-coder\nPARSER qwen3-coder\nREQUIRES 0.14.0\n"
)


def _drafted(mf, tmp_path: Path):  # type: ignore[no-untyped-def]
    import dataclasses

    draft = gguf_file(tmp_path / "draft.gguf", {"general.architecture": "llama"})
    return dataclasses.replace(mf, draft=str(draft))


def test_register_sends_what_the_modelfile_says(httpserver: HTTPServer, host: str, tmp_path: Path) -> None:
    httpserver.expect_request(re.compile("/api/blobs/.*"), method="HEAD").respond_with_data("", status=200)
    seen: list[dict] = []
    _expect_create(httpserver, seen)
    gguf = gguf_file(tmp_path / "m.gguf", {"general.architecture": "llama", "general.file_type": 1})
    show = register_gguf("full", gguf, _drafted(FULL, tmp_path), sha256="ab" * 32, quantize="q4_k_m",
                         host=host)  # fmt: skip
    (req,) = seen
    assert req["files"] == {"m.gguf": f"sha256:{'ab' * 32}"}
    assert list(req["draft_files"]) == ["draft.gguf"] and req["draft_files"]["draft.gguf"].startswith(
        "sha256:"
    )
    assert req["renderer"] == "qwen3-coder" and req["parser"] == "qwen3-coder" and req["requires"] == "0.14.0"
    assert req["parameters"] == {"stop": ["<|im_end|>", "a \\\\ b"], "temperature": 0.7, "num_ctx": 8192,
                                 "seed": 1000000, "use_mmap": False}  # fmt: skip
    assert req["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello there"},
    ]
    assert req["license"] == ["MIT"] and req["system"] == "be brief" and req["quantize"] == "q4_k_m"
    assert "seed                           1e+06" in show["parameters"]  # what Ollama's %#v writes


@pytest.mark.parametrize(
    ("tamper", "words"),
    [
        (
            lambda a: {**a, "parameters": a["parameters"].replace("0.7", "0.8")},
            "parameter temperature is 0.8",
        ),
        (
            lambda a: {**a, "parameters": a["parameters"].replace('"<|im_end|>"', '"<|im_start|>"')},
            "parameter stop",
        ),
        (lambda a: {k: v for k, v in a.items() if k != "system"}, "system is None"),
        (lambda a: {**a, "template": "{{ .Prompt }}"}, "template is not the TEMPLATE"),
        (
            lambda a: {**a, "modelfile": a["modelfile"].replace("RENDERER qwen3-coder\n", "")},
            "RENDERER is None",
        ),
        (lambda a: {**a, "modelfile": a["modelfile"].replace("DRAFT ", "# DRAFT ")}, "DRAFT is missing"),
        (lambda a: {k: v for k, v in a.items() if k != "messages"}, "messages are []"),
    ],
)
def test_register_fails_when_show_differs_from_what_was_sent(
    httpserver: HTTPServer, host: str, tmp_path: Path, tamper: Callable[[dict], dict], words: str
) -> None:
    httpserver.expect_request(re.compile("/api/blobs/.*"), method="HEAD").respond_with_data("", status=200)
    _expect_create(httpserver, [], tamper=tamper)
    gguf = gguf_file(tmp_path / "m.gguf", {"general.architecture": "llama"})
    with pytest.raises(BackendError, match="differs from the Modelfile") as err:
        register_gguf("full", gguf, _drafted(FULL, tmp_path), sha256="ab" * 32, host=host)
    assert words in str(err.value) and "full:" in str(err.value) and "\n" not in str(err.value)


def test_show_may_report_the_ggufs_template_when_ollama_prefers_it(
    httpserver: HTTPServer, host: str, tmp_path: Path
) -> None:
    jinja = "{% for m in messages %}{{ m.content }}{% endfor %}{% if tools %}{{ tools }}{% endif %}"
    httpserver.expect_request(re.compile("/api/blobs/.*"), method="HEAD").respond_with_data("", status=200)
    _expect_create(httpserver, [], chat_template=jinja)
    gguf = gguf_file(tmp_path / "m.gguf", {"general.architecture": "llama", "tokenizer.chat_template": jinja})
    show = register_gguf("m", gguf, MODELFILE, sha256="ab" * 32, host=host)
    assert show["template"] == jinja


@pytest.mark.parametrize("level", ["q5_K_M", "q6_K", "q4_0", "iq4_xs"])
def test_quantize_takes_only_what_ollamas_create_accepts(
    httpserver: HTTPServer, host: str, tmp_path: Path, level: str
) -> None:
    gguf = gguf_file(tmp_path / "m.gguf", {"general.architecture": "llama", "general.file_type": 1})
    with pytest.raises(UsageError, match=rf"cannot quantize to '{level}'.*q4_K_M, q4_K_S, q8_0"):
        register_gguf("m", gguf, MODELFILE, sha256="ab" * 32, quantize=level, host=host)
    assert not httpserver.log  # refused before anything was uploaded
    quantized = gguf_file(tmp_path / "q.gguf", {"general.architecture": "llama", "general.file_type": 15})
    with pytest.raises(UsageError, match=r"already quantized \(Q4_K_M\)"):
        register_gguf("m", quantized, MODELFILE, sha256="ab" * 32, quantize="q8_0", host=host)


def test_ollama_quantize_names_follow_parse_file_type() -> None:
    from harness.backends.ollama_create import OLLAMA_QUANTIZE
    from harness.serving.quant import QUANT_TYPES

    assert set(OLLAMA_QUANTIZE) == {"F32", "F16", "BF16", "Q8_0", "Q4_K_S", "Q4_K_M", "Q4_K"}
    for name in ("q8_0", "q4_k_s", "q4_k_m"):  # every quantizing one is a level llama.cpp makes
        assert name in QUANT_TYPES


def test_show_parameters_are_read_as_go_writes_them() -> None:
    from harness.backends.ollama_create import go_unquote, parse_show_parameters

    # server/routes_test.go "Show Model Handler" expects these lines (fields joined by one space)
    text = ('seed                           42\nstop                           "foo"\n'
            'stop                           "bar"\ntop_p                          0.9\n'
            'a_very_long_parameter_name_over_30 true\nnum_ctx                        1e+06')  # fmt: skip
    assert parse_show_parameters(text) == {"seed": 42.0, "stop": ["foo", "bar"], "top_p": 0.9,
                                           "a_very_long_parameter_name_over_30": True, "num_ctx": 1e6}  # fmt: skip
    assert go_unquote(r'"<|im_end|>\n\t\"x\"\\"') == '<|im_end|>\n\t"x"\\'
    assert go_unquote(r'"caf\u00e9 \U0001f600 \xe2\x82\xac \101"') == "café 😀 € A"
    with pytest.raises(ValueError):
        go_unquote("no quotes")


@pytest.mark.parametrize(("version", "words"), [
    ("0.29.1", "Ollama 0.29.1 renders its prompts with the Modelfile TEMPLATE"),
    ("0.33.2", "Ollama 0.33.2 renders with the GGUF's own chat template, NOT the Modelfile TEMPLATE"),
])  # fmt: skip
def test_register_says_which_template_the_servers_release_uses(
    httpserver: HTTPServer, host: str, tmp_path: Path, version: str, words: str
) -> None:
    from harness.backends import catalog

    jinja = "{% for m in messages %}{{ m.content }}{% endfor %}{% if tools %}{{ tools }}{% endif %}"
    httpserver.expect_request("/api/version").respond_with_json({"version": version})
    httpserver.expect_request(re.compile("/api/blobs/.*"), method="HEAD").respond_with_data("", status=200)
    _expect_create(httpserver, [], chat_template=jinja if version.startswith("0.33") else None)
    mf = parse('FROM ./m.gguf\nTEMPLATE "{{ range .Messages }}{{ .Content }}{{ end }}"\n')
    gguf = gguf_file(tmp_path / "m.gguf", {"general.architecture": "llama", "tokenizer.chat_template": jinja})
    result = catalog.register("m", gguf, mf, backend="ollama", host=host)
    assert result.where == "ollama" and words in result.template


def test_backend_reads_its_servers_version_once(httpserver: HTTPServer, host: str) -> None:
    httpserver.expect_request("/api/version", method="GET").respond_with_json({"version": "0.33.1"})
    be = OllamaBackend(model="m", host=host)
    assert be.server_version() == "0.33.1" and be.server_version() == "0.33.1"
    assert [r.path for r, _ in httpserver.log] == ["/api/version"]


def test_chat_returns_thinking_apart_from_content(httpserver: HTTPServer, host: str) -> None:
    def think(text: str) -> dict:
        return {**chunk(""), "message": {"role": "assistant", "content": "", "thinking": text}}

    httpserver.expect_request("/api/chat").respond_with_data(
        ndjson(think("Let me see. "), think("North."), chunk("go north"), DONE),
        content_type="application/x-ndjson",
    )
    r = OllamaBackend(model="m", host=host).chat([{"role": "user", "content": "hi"}], ChatOptions())
    assert r.text == "go north" and r.thinking == "Let me see. North."
