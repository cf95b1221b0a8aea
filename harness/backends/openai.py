"""``openai``: models behind an OpenAI-compatible server (vLLM, SGLang, llama.cpp's llama-server,
``python -m llama_cpp.server``, LM Studio, TGI, Ollama's own ``/v1``), through the official
``openai`` client, streaming.

* The URL may be given with or without its ``/v1`` (``http://host:8000`` and ``http://host:8000/v1``
  are the same server); without one, ``OPENAI_BASE_URL``, else ``http://127.0.0.1:8000/v1``.
  The key comes from ``OPENAI_API_KEY`` (local servers take any).
* **Options**: temperature, top_p, seed, stop and ``num_predict`` (as ``max_tokens``) map onto the
  request's own fields; the other sampling options by their Ollama names (``top_k``, ``min_p``,
  ``repeat_penalty`` …) go in ``extra_body``, which llama.cpp's servers and vLLM read; options
  that are not about sampling (``num_ctx``, ``num_thread`` …) belong to the server and are not sent.
* **Prompt**: ``mode="chat"`` (default) sends the messages to ``/v1/chat/completions`` and the
  server's chat template renders them; the trace records the template where the server says
  (llama-server's ``/props``), else ``server's chat template``. ``mode="completions"`` renders the
  prompt here exactly as Ollama would (:class:`harness.serving.prompt.PromptBuilder`, what
  ``harness prompt`` prints) from the registered model of the same name (or ``prompt_model``) and
  sends it to ``/v1/completions``, with Ollama's option layering (defaults < Modelfile PARAMETERs <
  request): Ollama-equivalent bytes on any server.
* **Usage and timing** come from the response: ``usage`` when the server streams it
  (``stream_options.include_usage``), llama-server's ``timings`` when present; otherwise generated
  tokens are the streamed chunks (one token each on llama.cpp servers) and durations are measured
  here (time to the first chunk = prompt evaluation).
* **Timeout**: a reply is bounded by its ``timeout_s`` (``--timeout``), not by the client's 300 s: the
  request's read timeout is ``timeout_s`` (a server silent that long), and once the stream is open a
  watchdog shuts its socket at the deadline (a server that stalls while it keeps the connection alive,
  as llama_cpp.server's SSE pings every 15 s do). Either way the reply ends with ``done_reason="timeout"``
  and what it streamed so far, as when the deadline passes between chunks.
* **Errors**, one line each, as the Ollama backend's: connection refused → :class:`BackendUnavailable`;
  a model the server does not list in ``/v1/models`` → :class:`ModelNotFound`; connect timeouts, 5xx,
  408/429, a dropped connection or a stream that ends before its ``finish_reason`` →
  :class:`TransientBackendError` (the runner retries those); other 4xx and answers that are not the
  OpenAI API → :class:`BackendError`.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from harness.backends.base import (
    BackendError,
    BackendUnavailable,
    ChatOptions,
    ChatResult,
    EpisodeContext,
    ModelNotFound,
    TransientBackendError,
)
from harness.backends.ollama_semantics import StreamingChat, layer_options
from harness.backends.registry import register_backend

__all__ = ["DEFAULT_BASE_URL", "MODES", "OpenAIBackend", "base_url"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
MODES = ("chat", "completions")
SERVER_TEMPLATE = "server's chat template"
SAMPLING_EXTRA = ("top_k", "min_p", "typical_p", "repeat_penalty", "repeat_last_n", "tfs_z", "mirostat",
                  "mirostat_tau", "mirostat_eta")  # fmt: skip
"""Ollama options that are sampling parameters outside the OpenAI schema (sent in ``extra_body``)."""
Messages = list[dict[str, str]]


def base_url(url: str | None = None) -> str:
    """``url`` (or ``OPENAI_BASE_URL``, or the loopback default) with a scheme and ending in ``/v1``."""
    raw = (url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
    if "://" not in raw:
        raw = f"http://{raw}"
    return raw if raw.endswith("/v1") else f"{raw}/v1"


def request_params(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ollama-named options → (OpenAI request fields, ``extra_body``)."""
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for k, v in options.items():
        if k in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
            fields[k] = v
        elif k == "seed":
            if v is not None and v >= 0:  # Ollama's -1: a random seed, the server's default
                fields[k] = v
        elif k == "num_predict":
            if v is not None and v > 0:  # Ollama's -1/-2 (until the context is full): the server's default
                fields["max_tokens"] = v
        elif k == "stop":
            if v:
                fields["stop"] = list(v)
        elif k in SAMPLING_EXTRA:
            extra[k] = v
    return fields, extra


class OpenAIBackend(StreamingChat):
    """Chat with a model on an OpenAI-compatible server. One instance per thread."""

    name = "openai"

    def __init__(
        self,
        model: str = "",
        host: str | None = None,
        mode: str = "chat",
        api_key: str | None = None,
        prompt_model: str | None = None,
        timeout: float = 300.0,
    ) -> None:
        import openai

        if not model:
            raise BackendError("the openai backend needs a model name: the id the server lists in /v1/models")
        if mode not in MODES:
            raise BackendError(f"unknown openai mode {mode!r}: use {' or '.join(MODES)}")
        self.model = model
        self.mode = mode
        self.host = base_url(host)
        self.client = openai.OpenAI(
            base_url=self.host, api_key=api_key or os.environ.get("OPENAI_API_KEY") or "none",
            max_retries=0, timeout=openai.Timeout(timeout, connect=5.0),
        )  # fmt: skip
        self.last_result: ChatResult | None = None
        self.prompt_builder = _prompt_builder(prompt_model or model) if mode == "completions" else None
        self.template: str | None = None
        """Which template renders the prompt (recorded in each trace)."""

    # ------------------------------------------------------------------ errors
    @contextlib.contextmanager
    def errors(self, action: str = "request") -> Iterator[None]:
        """Map the client's failures of one call to harness errors (one line each)."""
        import openai

        where = f"the OpenAI-compatible server at {self.host}"
        try:
            yield
        except openai.APITimeoutError:
            raise TransientBackendError(
                f"{where} timed out during {action}; retry, or raise the timeout"
            ) from None
        except openai.APIConnectionError as e:
            if _refused(e):
                raise BackendUnavailable(
                    f"cannot reach {where}: start it (e.g. python -m llama_cpp.server --model F --port P), "
                    "or fix --host"
                ) from None
            raise TransientBackendError(
                f"{where} dropped the connection during {action}: {_first(e.__cause__ or e)}"
            ) from None
        except openai.APIStatusError as e:
            msg = _first(_status_message(e))
            if e.status_code >= 500 or e.status_code in (408, 429):
                raise TransientBackendError(
                    f"{where} failed during {action} ({e.status_code}): {msg}"
                ) from None
            if e.status_code == 404 and self.model in msg:
                raise self._not_found(msg) from None
            raise BackendError(f"{where} refused the {action} ({e.status_code}): {msg}") from None
        except (openai.APIResponseValidationError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise BackendError(
                f"unexpected answer from {self.host} during {action} ({_first(e)}); "
                "is it an OpenAI-compatible server?"
            ) from None
        except Exception as e:  # the HTTP transport (httpx, or the client's own fork of it) mid-stream
            if type(e).__module__.split(".")[0].rstrip("2") not in ("httpx", "httpcore"):
                raise
            raise TransientBackendError(
                f"{where} dropped the connection during {action}: {_first(e)}"
            ) from None

    def _not_found(self, detail: str) -> ModelNotFound:
        return ModelNotFound(
            f"the server at {self.host} has no model {self.model!r} ({detail}); "
            "use an id its /v1/models lists (llama_cpp.server: --model_alias NAME)"
        )

    # ------------------------------------------------------------------ checks
    def served_models(self) -> list[str]:
        """The model ids ``GET /v1/models`` lists."""
        with self.errors("model list"):
            return [m.id for m in self.client.models.list()]

    def check(self) -> None:
        """Fail now (one line) when the server does not answer or does not serve ``model``; servers
        such as llama_cpp.server answer any model name with their default model, so the list decides."""
        ids = self.served_models()
        if self.model not in ids:
            raise self._not_found(f"it serves: {', '.join(ids) or 'nothing'}")
        self.template = self._template()

    def _template(self) -> str:
        if self.prompt_builder is not None:
            c = self.prompt_builder.choice
            return f"harness ({c.source}, {c.kind}; /v1/completions)"
        import httpx

        root = self.host.removesuffix("/v1")
        with contextlib.suppress(httpx.HTTPError, ValueError, AttributeError):  # only llama-server says
            r = httpx.get(f"{root}/props", timeout=2.0)
            if r.status_code == 200 and (tmpl := r.json().get("chat_template")):
                return f"server's chat template (llama-server /props: {_first(str(tmpl))[:60]})"
        return SERVER_TEMPLATE

    def begin_episode(self, ctx: EpisodeContext) -> None:
        if self.template is None:
            self.template = self._template()

    def digest(self) -> str | None:
        return None  # the OpenAI API names models, it does not hash them

    # ------------------------------------------------------------------ chat
    def stream_chat(self, messages: Messages, options: ChatOptions) -> Iterator[str]:
        """Yield the reply as it arrives; ``self.last_result`` holds the ChatResult afterwards."""
        msgs = [{"role": m["role"], "content": m["content"]} for m in messages]
        if self.prompt_builder is not None:
            sent = layer_options(self.prompt_builder.parameters(), options)
            sent["stop"] = list(options.stop)  # a request's stop replaces the Modelfile's, as in Ollama
        else:
            sent = options.ollama_options()
        fields, extra = request_params(sent)
        t0 = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        final: Any = None
        usage: Any = None
        chunks = 0
        reason = ""
        limit = options.timeout_s if 0 < options.timeout_s < math.inf else None
        with self.errors(f"chat with {self.model!r}"):
            try:
                stream = self._open(msgs, fields, extra, limit)
            except Exception as e:  # no answer within the reply's timeout: a reply that timed out
                if not _read_timeout(e):
                    raise
                stream, reason = None, "timeout"
            watchdog = None
            if stream is not None and limit:
                watchdog = _Deadline(stream, limit - (time.perf_counter() - t0))
            try:
                for chunk in stream or ():
                    usage = getattr(chunk, "usage", None) or usage
                    final = chunk
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    text = (choice.delta.content if self.prompt_builder is None else choice.text) or ""
                    if text:
                        first = first or time.perf_counter()
                        chunks += 1
                        parts.append(text)
                        yield text
                    if choice.finish_reason:
                        reason = choice.finish_reason
                    if time.perf_counter() - t0 > options.timeout_s:
                        reason = "timeout"
                        break
            except Exception as e:  # the watchdog shut the stream, or the server went silent too long
                if not ((watchdog and watchdog.fired) or _read_timeout(e)):
                    raise
                reason = "timeout"
            finally:
                if watchdog:
                    watchdog.cancel()
                if stream is not None:
                    stream.close()
            if not reason and watchdog and watchdog.fired:  # a body read to its close ends without an error
                reason = "timeout"
        if not reason:  # the server died mid-reply, or answered something that is not a stream of chunks
            raise TransientBackendError(
                f"the server at {self.host} ended the reply of {self.model!r} before its finish_reason"
            )
        wall = time.perf_counter() - t0
        self.last_result = self._result("".join(parts), reason, usage, final, chunks, t0, first, wall)

    def _open(self, msgs: Messages, fields: dict[str, Any], extra: dict[str, Any],
              limit: float | None = None) -> Any:  # fmt: skip
        import openai

        kw: dict[str, Any] = {"model": self.model, "stream": True, "stream_options": {"include_usage": True},
                              **fields}  # fmt: skip
        if limit:  # the reply's own timeout, not the client's 300 s (connecting stays 5 s)
            kw["timeout"] = openai.Timeout(limit, connect=5.0)
        if extra:
            kw["extra_body"] = extra
        if self.prompt_builder is not None:
            return self.client.completions.create(prompt=self.prompt_builder.prompt(msgs), **kw)
        return self.client.chat.completions.create(messages=msgs, **kw)  # type: ignore[arg-type]

    def _result(self, text: str, reason: str, usage: Any, final: Any, chunks: int, t0: float,
                first: float | None, wall: float) -> ChatResult:  # fmt: skip
        done = {"stop": "stop", "length": "length", "timeout": "timeout"}.get(reason, "stop")
        prompt = getattr(usage, "prompt_tokens", None)
        gen = getattr(usage, "completion_tokens", None)
        ttft = (first - t0) if first else wall
        timings = (getattr(final, "model_extra", None) or {}).get("timings") or {}
        if timings.get("prompt_ms") is not None and timings.get("predicted_ms") is not None:
            prompt_s, eval_s = timings["prompt_ms"] / 1000, timings["predicted_ms"] / 1000
            gen = gen if gen is not None else timings.get("predicted_n")
        else:
            prompt_s, eval_s = ttft, max(0.0, wall - ttft)
        return ChatResult(
            text=text, done_reason=done, prompt_tokens=prompt, prompt_eval_count=prompt,
            eval_count=gen if gen is not None else chunks, prompt_eval_duration_s=prompt_s,
            eval_duration_s=eval_s or None, total_duration_s=wall,
        )  # fmt: skip


def _prompt_builder(name: str) -> Any:
    """The PromptBuilder of a registered model (or a GGUF path): what ``harness prompt`` renders."""
    from pathlib import Path

    from harness.serving.modelfile import Modelfile
    from harness.serving.prompt import builder_for
    from harness.serving.store import get_local

    if name.lower().endswith(".gguf") and Path(name).is_file():
        return builder_for(Modelfile(from_=name), name)
    entry = get_local(name)
    if entry is None:
        from harness.backends.catalog import unknown_model

        raise unknown_model(name)
    return builder_for(entry.parsed_modelfile(), str(entry.check()))


def _status_message(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body))
        if isinstance(err, dict):
            err = err.get("message", err)
        return str(err)
    return str(getattr(e, "message", "") or e)


class _Deadline:
    """Shuts an open stream's socket at the reply's deadline: the blocked read ends at once, also when
    the server keeps the connection alive without sending chunks (SSE pings reset a read timeout)."""

    def __init__(self, stream: Any, seconds: float) -> None:
        self.fired = False
        self.sock: socket.socket | None = None
        with contextlib.suppress(AttributeError, KeyError, TypeError):
            self.sock = stream.response.extensions["network_stream"].get_extra_info("socket")
        self.timer = threading.Timer(max(0.0, seconds), self._fire)
        self.timer.daemon = True
        if self.sock is not None:  # without a socket to shut, the read timeout alone bounds the reply
            self.timer.start()

    def _fire(self) -> None:
        self.fired = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]

    def cancel(self) -> None:
        self.timer.cancel()


def _read_timeout(e: BaseException) -> bool:
    """A read timed out (the server took too long to answer), somewhere in the cause chain; a connect
    timeout is not one (the host is unreachable, a host error)."""
    seen: BaseException | None = e
    while seen is not None:
        if any(c.__name__ == "ReadTimeout" for c in type(seen).__mro__):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _refused(e: BaseException) -> bool:
    """The connection was refused (nothing listens), not dropped: somewhere in the cause chain."""
    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or type(seen).__name__ == "ConnectError":
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _first(e: object) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


@register_backend("openai")
def _factory(model: str = "", **kwargs: Any) -> OpenAIBackend:
    return OpenAIBackend(model=model, **kwargs)
