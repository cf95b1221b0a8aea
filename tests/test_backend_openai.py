"""The openai backend: option mapping, URLs, the completions mode's exact prompt bytes, and its
errors against a real llama_cpp.server (a model it does not have, a server that is not there) and
against a fake that answers 500s or garbage (what a real server cannot be made to do)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli as run

from harness.backends.base import (
    BackendError,
    BackendUnavailable,
    ChatOptions,
    ModelNotFound,
    TransientBackendError,
)

pytest.importorskip("openai", reason="the openai extra is not installed: scripts/setup all")

from harness.backends.openai import OpenAIBackend, base_url, request_params

MSGS = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi"}]


def last_line(code: int, err: str) -> str:
    """A failed command: exit ≠ 0, no traceback; its error is the last line on stderr."""
    assert code != 0, err
    assert "Traceback" not in err, err
    return [ln for ln in err.strip().splitlines() if ln.strip()][-1]


def test_urls_with_or_without_v1() -> None:
    assert base_url("http://10.0.0.5:8000") == "http://10.0.0.5:8000/v1"
    assert base_url("http://10.0.0.5:8000/v1/") == "http://10.0.0.5:8000/v1"
    assert base_url("127.0.0.1:9") == "http://127.0.0.1:9/v1"


def test_options_map_onto_fields_and_extra_body() -> None:
    opts = ChatOptions(temperature=0.0, seed=3, top_k=5, top_p=0.9, num_ctx=4096, num_predict=16, stop=["\n"],
                       extra={"repeat_penalty": 1.0, "min_p": 0.05, "num_thread": 2})  # fmt: skip
    fields, extra = request_params(opts.ollama_options())
    assert fields == {"temperature": 0.0, "seed": 3, "top_p": 0.9, "max_tokens": 16, "stop": ["\n"]}
    assert extra == {"top_k": 5, "repeat_penalty": 1.0, "min_p": 0.05}  # num_ctx/num_thread: the server's
    assert request_params({"num_predict": -1, "seed": -1, "stop": []}) == ({}, {})


# ------------------------------------------------------------------------------ fake servers
def _models(httpserver, names=("m",)) -> None:  # type: ignore[no-untyped-def]
    httpserver.expect_request("/v1/models").respond_with_json(
        {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "x"} for n in names]}
    )


def _sse(*chunks: dict) -> str:
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


def _chunk(text: str | None, finish: str | None = None, kind: str = "chat") -> dict:
    if kind == "chat":
        choice = {"index": 0, "delta": {"content": text} if text else {}, "finish_reason": finish}
        return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": [choice]}
    choice = {"index": 0, "text": text or "", "finish_reason": finish}
    return {"id": "c", "object": "text_completion", "created": 0, "model": "m", "choices": [choice]}


def test_streamed_reply_usage_and_sampling_fields(httpserver) -> None:  # type: ignore[no-untyped-def]
    _models(httpserver)
    body = _sse(_chunk("go to "), _chunk("desk 1", "stop"),
                {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": [],
                 "usage": {"prompt_tokens": 21, "completion_tokens": 4, "total_tokens": 25}})  # fmt: skip
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_data(
        body, content_type="text/event-stream"
    )
    be = OpenAIBackend("m", host=httpserver.url_for("/"))
    be.check()
    res = be.chat(MSGS, ChatOptions(temperature=0.0, seed=0, top_k=1, num_predict=8, stop=["\n"]))
    assert (res.text, res.done_reason, res.prompt_tokens, res.eval_count) == ("go to desk 1", "stop", 21, 4)
    sent = json.loads(httpserver.log[-1][0].get_data())
    assert sent["messages"] == MSGS and sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}  # asked for: usage comes from the response
    assert (sent["max_tokens"], sent["seed"], sent["top_k"], sent["stop"]) == (8, 0, 1, ["\n"])
    assert be.template == "server's chat template"


def test_completions_mode_sends_the_prompt_harness_prompt_renders(httpserver) -> None:  # type: ignore[no-untyped-def]
    from harness.backends.resolve import ensure_default_model
    from harness.serving.store import get_local

    ensure_default_model()
    _models(httpserver, ("smollm2",))
    httpserver.expect_request("/v1/completions", method="POST").respond_with_data(
        _sse(_chunk("look", kind="text"), _chunk("", "length", kind="text")), content_type="text/event-stream"
    )
    be = OpenAIBackend("smollm2", host=httpserver.url_for("/v1"), mode="completions")
    be.check()
    res = be.chat(MSGS, ChatOptions(temperature=0.0, num_predict=4, stop=["\n"]))
    assert (res.text, res.done_reason, res.eval_count) == ("look", "length", 1)
    sent = json.loads(httpserver.log[-1][0].get_data())
    assert sent["stream_options"] == {"include_usage": True}
    from harness.serving.prompt import explain

    entry = get_local("smollm2")
    assert entry is not None
    want = explain(entry.parsed_modelfile(), str(entry.check()), MSGS)
    assert sent["prompt"] == want["prompt"]  # the bytes `harness prompt smollm2` prints
    assert sent["prompt"].endswith("<|im_start|>assistant\n")
    # Ollama's layering: its defaults (repeat_penalty 1.0, top_k 40 …) < PARAMETERs < the request
    assert sent["temperature"] == 0.0 and sent["max_tokens"] == 4 and sent["stop"] == ["\n"]
    assert sent["repeat_penalty"] == want["parameters"]["repeat_penalty"]
    assert sent["top_k"] == want["parameters"]["top_k"]
    assert be.template.startswith("harness (modelfile")


def test_500s_are_transient_and_garbage_is_not_an_api(httpserver) -> None:  # type: ignore[no-untyped-def]
    _models(httpserver)
    httpserver.expect_request("/v1/chat/completions").respond_with_json(
        {"error": {"message": "boom"}}, status=500
    )
    be = OpenAIBackend("m", host=httpserver.url_for("/"))
    with pytest.raises(TransientBackendError, match=r"\(500\): boom"):
        be.chat(MSGS, ChatOptions())
    httpserver.clear()
    _models(httpserver)
    httpserver.expect_request("/v1/chat/completions").respond_with_data(
        "<html>hello</html>", content_type="text/html"
    )
    with pytest.raises(TransientBackendError, match="before its finish_reason"):
        be.chat(MSGS, ChatOptions())
    httpserver.clear()
    httpserver.expect_request("/v1/models").respond_with_data("not json", content_type="application/json")
    with pytest.raises(BackendError, match="is it an OpenAI-compatible server"):
        be.check()


def test_a_stalled_server_ends_the_reply_at_its_timeout(
    httpserver, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A server that stalls far past --timeout: the reply ends as a timeout at --timeout (not after the
    client's 300 s), whether it sends nothing or keeps the connection alive with SSE pings."""
    import threading
    import time

    from werkzeug import Response

    release = threading.Event()  # the stall ends when the test is done (or after 30 s)

    def silent(request):  # type: ignore[no-untyped-def]
        release.wait(30)
        return Response(_sse(_chunk("late", "stop")), content_type="text/event-stream")

    def pinging(request):  # type: ignore[no-untyped-def]
        def body():  # type: ignore[no-untyped-def]
            yield f"data: {json.dumps(_chunk('go '))}\n\n"
            while not release.wait(0.1):
                yield ": ping\n\n"  # what llama_cpp.server sends while busy: resets any read timeout

        return Response(body(), content_type="text/event-stream")

    _models(httpserver)
    be = OpenAIBackend("m", host=httpserver.url_for("/"))
    try:
        for handler, text in ((silent, ""), (pinging, "go ")):
            httpserver.expect_request("/v1/chat/completions").respond_with_handler(handler)
            t0 = time.monotonic()
            res = be.chat(MSGS, ChatOptions(timeout_s=0.5))
            took = time.monotonic() - t0
            assert (res.done_reason, res.text) == ("timeout", text)
            assert 0.4 < took < 5, took
            release.set()
            time.sleep(0.3)  # the fake finishes its stalled handler
            release.clear()
            httpserver.clear()
            _models(httpserver)
        # bench --timeout: the episode ends as a timeout (recorded, not retried for 300 s)
        httpserver.expect_request("/v1/chat/completions").respond_with_handler(silent)
        out = tmp_path / "o"
        t0 = time.monotonic()
        code, _, err = run(capsys, "bench", "m", "--backend", "openai", "--host", httpserver.url_for("/"),
                           "--suite", "synthetic-smoke", "--limit", "1", "--max-steps", "2", "--timeout", "0.5",
                           "--out", str(out))  # fmt: skip
        assert code == 0 and time.monotonic() - t0 < 30, err
        (trace,) = [json.loads(line) for line in (out / "traces.jsonl").read_text().splitlines()]
        assert trace["ended"] == "timeout" and "within 0.5 s (--timeout)" in trace["error"], trace
    finally:
        release.set()
    from conftest import free_port

    be = OpenAIBackend("m", host=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendUnavailable, match="cannot reach"):
        be.check()


# ------------------------------------------------------------------------------ a real server
def test_a_port_taken_before_the_server_binds_it(llama_servers, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """free_port() releases its port before llama_cpp.server binds it: when another process took it
    meanwhile, the fixture starts the server again on a new port."""
    import socket

    import conftest

    real = conftest.free_port
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = [busy.getsockname()[1]]
        monkeypatch.setattr(conftest, "free_port", lambda: taken.pop() if taken else real())
        (srv,) = llama_servers(1)
        port = busy.getsockname()[1]
        assert srv.port != port
        assert "address already in use" in (srv.log_dir / f"llama-server-{port}.log").read_text()
        OpenAIBackend("smollm2", host=srv.url).check()


def test_real_server_chat_completions_and_an_unknown_model(
    llama_servers, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (srv,) = llama_servers(1)
    for mode in ("chat", "completions"):
        if mode == "completions":
            from harness.backends.resolve import ensure_default_model

            ensure_default_model()
        be = OpenAIBackend("smollm2", host=srv.url, mode=mode)
        be.check()
        res = be.chat(MSGS, ChatOptions(temperature=0.0, seed=0, num_predict=4, stop=["\n"]))
        assert res.text and res.done_reason in ("stop", "length") and 1 <= res.eval_count <= 4
        assert res.total_duration_s and res.total_duration_s > 0
    with pytest.raises(ModelNotFound, match=r"no model 'qwen-nope' \(it serves: smollm2\)"):
        OpenAIBackend("qwen-nope", host=srv.url).check()
    code, _, err = run(capsys, "bench", "qwen-nope", "--backend", "openai", "--host", srv.url,
                       "--suite", "synthetic-smoke", "--limit", "1", "--out", str(tmp_path / "o"))  # fmt: skip
    line = last_line(code, err)
    assert len(err.strip().splitlines()) == 1 and "no model 'qwen-nope'" in line
    assert not (tmp_path / "o").exists()  # it failed before the run started
