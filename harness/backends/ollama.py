"""``ollama``: models served by an Ollama server (``OLLAMA_HOST``, default ``http://127.0.0.1:11434``),
through the official ``ollama`` client.

* :class:`OllamaServer` wraps the endpoints the harness uses (version, blobs, create, list, show,
  delete, chat) and turns failures into one-line errors: connection refused →
  :class:`BackendUnavailable`, 404 ``model 'x' not found`` → :class:`ModelNotFound`, 5xx and
  timeouts → :class:`TransientBackendError`.
* :func:`register_gguf` uploads a GGUF (and a DRAFT GGUF) only when ``HEAD /api/blobs/<digest>``
  says it is missing, then ``POST /api/create`` with the body ``ollama create`` sends for the
  Modelfile (:mod:`harness.backends.ollama_create`), showing the streamed status, and checks
  ``/api/show`` against what was sent.
* :class:`OllamaBackend` chats with options and reports usage with durations in seconds.

Prompt truncation rule (Ollama cuts a prompt that does not fit ``num_ctx`` without saying so):
a reply is flagged ``truncated`` when (1) the request only appended messages to the previous
request of this backend, yet ``prompt_eval_count`` is smaller than the previous prompt's token
count (a prompt that grew cannot have fewer tokens), or (2) a ``count_tokens`` function was given
and ``prompt_eval_count`` is below its count for the rendered prompt minus 2 (BOS / boundary slack).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from harness._util.progress import ByteProgress, silent
from harness.backends.base import (
    BackendError,
    BackendUnavailable,
    ChatOptions,
    ChatResult,
    EpisodeContext,
    ModelNotFound,
    TransientBackendError,
)
from harness.backends.ollama_semantics import StreamingChat
from harness.backends.registry import register_backend
from harness.serving.modelfile import Modelfile

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_HOST", "OllamaBackend", "OllamaServer", "is_reachable", "register_gguf", "resolve_host"]

DEFAULT_HOST = "http://127.0.0.1:11434"
Messages = list[dict[str, str]]


def resolve_host(host: str | None = None) -> str:
    """The server URL from ``host`` or ``OLLAMA_HOST`` (``host:port``, ``:port``, or a URL)."""
    raw = (host or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST).strip()
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "http", raw
    split = urllib.parse.urlsplit(f"{scheme}://{rest}")
    default_port = {"http": 80, "https": 443}.get(scheme, 11434) if sep else 11434
    name = split.hostname or "127.0.0.1"
    if ":" in name:
        name = f"[{name}]"
    path = split.path.strip("/")
    return f"{scheme}://{name}:{split.port or default_port}" + (f"/{path}" if path else "")


def is_reachable(host: str | None = None, timeout: float = 0.5) -> bool:
    """True when ``GET /api/version`` answers within ``timeout`` seconds."""
    try:
        return httpx.get(f"{resolve_host(host)}/api/version", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _unreachable(host: str) -> BackendUnavailable:
    return BackendUnavailable(
        f"cannot reach Ollama at {host}: start it with 'ollama serve' or set OLLAMA_HOST"
    )


class OllamaServer:
    """The Ollama endpoints the harness uses, with errors mapped to harness errors."""

    def __init__(self, host: str | None = None, timeout: float = 300.0) -> None:
        import ollama

        self.host = resolve_host(host)
        self._timeout = httpx.Timeout(timeout, connect=5.0)
        self.client = ollama.Client(host=self.host, timeout=self._timeout)
        self._http = httpx.Client(base_url=self.host, timeout=self._timeout)

    @contextlib.contextmanager
    def errors(self, model: str | None = None, action: str = "request") -> Iterator[None]:
        """Map client and HTTP failures of one call to harness errors."""
        import ollama

        try:
            yield
        except (ConnectionError, httpx.ConnectError):
            raise _unreachable(self.host) from None
        except httpx.TimeoutException:
            raise TransientBackendError(
                f"Ollama at {self.host} timed out during {action}; retry, or raise the timeout"
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
            raise TransientBackendError(
                f"Ollama at {self.host} dropped the connection during {action}: {e}"
            ) from None
        except ollama.ResponseError as e:
            raise self._map_response_error(e, model, action) from None
        except (ValueError, KeyError) as e:  # malformed JSON or a reply the client cannot validate
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise BackendError(
                f"unexpected answer from {self.host} during {action} ({first}); is it an Ollama server?"
            ) from None

    def _map_response_error(self, e: Any, model: str | None, action: str) -> Exception:
        msg = str(e.error).strip() or "no details"
        if model and (e.status_code == 404 or (e.status_code == -1 and "not found" in msg and model in msg)):
            return ModelNotFound(
                f"Ollama at {self.host} has no model {model!r} ({msg}); "
                "see 'harness models', or add it with 'harness register'"
            )
        if e.status_code >= 500 or e.status_code in (408, 429):
            return TransientBackendError(
                f"Ollama at {self.host} failed during {action} ({e.status_code}): {msg}"
            )
        return BackendError(f"Ollama at {self.host} refused the {action}: {msg}")

    def version(self) -> str:
        with self.errors(action="version check"):
            r = self._http.get("/api/version")
            r.raise_for_status()
        return str(r.json().get("version", ""))

    def has_blob(self, digest: str) -> bool:
        """``HEAD /api/blobs/<digest>``: 200 → True, 404 → False."""
        with self.errors(action="blob check"):
            r = self._http.head(f"/api/blobs/{digest}")
        if r.status_code in (200, 404):
            return r.status_code == 200
        raise self._status_error(r, "blob check")

    def push_blob(self, path: Path, digest: str, on_bytes: Callable[[int], None] | None = None) -> None:
        """``POST /api/blobs/<digest>`` with the file's bytes (expects 201 Created)."""

        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as fh:
                while block := fh.read(1 << 20):
                    if on_bytes:
                        on_bytes(len(block))
                    yield block

        with self.errors(action="blob upload"):
            r = self._http.post(f"/api/blobs/{digest}", content=chunks())
        if r.status_code not in (200, 201):
            raise self._status_error(r, "blob upload")

    def _status_error(self, r: httpx.Response, action: str) -> Exception:
        import ollama

        return self._map_response_error(ollama.ResponseError(r.text, r.status_code), None, action)

    def create(self, body: dict[str, Any], on_status: Callable[[dict[str, Any]], None] | None = None) -> None:
        """``POST /api/create`` with ``body`` (:func:`~harness.backends.ollama_create.create_request`),
        streamed; every line is checked for ``error``. (The ``ollama`` client's ``create`` has no
        draft_files, renderer, parser or requires, so the body goes out as Ollama's CLI sends it.)"""
        import json

        import ollama

        name, last = body["model"], ""
        with (
            self.errors(name, action=f"create of {name!r}"),
            self._http.stream("POST", "/api/create", json=body) as r,
        ):
            if r.status_code >= 400:
                raise ollama.ResponseError(r.read().decode("utf-8", "replace"), r.status_code)
            for line in r.iter_lines():
                if not line.strip():
                    continue
                part = json.loads(line)
                if err := part.get("error"):
                    raise ollama.ResponseError(err)
                last = part.get("status") or last
                if on_status:
                    on_status(part)
        if last != "success":
            raise BackendError(
                f"Ollama did not finish creating {name!r} (last status: {last or 'none'}); retry"
            )

    def list(self) -> list[dict[str, Any]]:
        """``GET /api/tags`` as dicts: name, size, digest, details."""
        with self.errors(action="model list"):
            resp = self.client.list()
        return [
            {"name": m.model, "size": m.size, "digest": m.digest,
             "details": m.details.model_dump() if m.details else {}}
            for m in resp.models
        ]  # fmt: skip

    def show(self, name: str) -> dict[str, Any]:
        """``POST /api/show`` as the server answers it (``api.ShowResponse``: modelfile, parameters,
        template, system, messages, license, requires, details, model_info …; the ``ollama``
        client's model keeps only some of these)."""
        with self.errors(name, action=f"show of {name!r}"):
            r = self._http.post("/api/show", json={"model": name})
            if r.status_code != 200:
                import ollama

                raise ollama.ResponseError(r.text, r.status_code)
            data = r.json()
        if not isinstance(data, dict):
            raise BackendError(f"unexpected answer from {self.host} during show of {name!r}; is it Ollama?")
        return data

    def delete(self, name: str) -> None:
        """``DELETE /api/delete``."""
        with self.errors(name, action=f"delete of {name!r}"):
            self.client.delete(name)

    def close(self) -> None:
        self._http.close()
        self.client.close()


def register_gguf(
    name: str,
    gguf: str | Path,
    mf: Modelfile,
    *,
    sha256: str,
    quantize: str | None = None,
    host: str | None = None,
    progress: ByteProgress | None = None,
) -> dict[str, Any]:
    """Create ``name`` in Ollama from ``gguf`` + ``mf`` (its DRAFT a GGUF path too) as ``ollama
    create`` does; uploads a blob only when missing, then checks ``/api/show`` against what was
    sent (:func:`~harness.backends.ollama_create.verify_show`).

    Returns ``/api/show`` of the new model.
    """
    from harness._util.atomic import sha256_file
    from harness.backends.ollama_create import check_quantize, create_request, fail_if_different, verify_show
    from harness.serving.gguf_info import read_gguf_info

    if mf.adapters:
        raise BackendError(
            "ADAPTER is not supported by 'harness register'; merge the adapter into the GGUF first"
        )
    path = Path(gguf)
    info = read_gguf_info(path)
    if quantize:
        quantize = check_quantize(quantize, info.file_type, info.quantization, str(path))
    draft = Path(mf.draft).expanduser() if mf.draft else None
    if draft is not None:
        read_gguf_info(draft)  # a missing or broken DRAFT is refused before anything is uploaded
    server = OllamaServer(host)
    files = _upload(server, path, sha256, progress)
    draft_files = _upload(server, draft, sha256_file(draft), progress) if draft is not None else None
    body = create_request(name, mf, files, draft_files=draft_files, quantize=quantize)
    server.create(body, on_status=lambda part: log.info("  %s", part.get("status", "")))
    show = server.show(name)
    fail_if_different(verify_show(name, body, show, templates=tuple(filter(None, [info.chat_template]))))
    return show


def _upload(server: OllamaServer, path: Path, sha256: str, progress: ByteProgress | None) -> dict[str, str]:
    """Upload ``path`` unless ``HEAD /api/blobs`` has it; the ``files`` entry for create. What it
    did is logged; ``progress`` (a caller's ``ByteProgress``) is told of the bytes sent."""
    digest = f"sha256:{sha256}"
    if server.has_blob(digest):
        log.info("blob %s… already in Ollama, not uploading", digest[:19])
    else:
        with (progress or silent)(f"upload {path.name}", path.stat().st_size) as advance:
            server.push_blob(path, digest, advance)
        log.info("uploaded %s (%s…)", path.name, digest[:19])
    return {path.name if path.name.endswith(".gguf") else f"{path.name}.gguf": digest}


class OllamaBackend(StreamingChat):
    """Chat with a model in Ollama. One instance may be used from one thread at a time."""

    name = "ollama"

    def __init__(
        self,
        model: str = "",
        host: str | None = None,
        keep_alive: str | float | None = None,
        count_tokens: Callable[[Messages], int] | None = None,
        server: OllamaServer | None = None,
    ) -> None:
        if not model:
            raise BackendError("the ollama backend needs a model name; see 'harness models'")
        self.model = model
        self.server = server or OllamaServer(host)
        self.keep_alive = keep_alive
        self.count_tokens = count_tokens
        self.last_result: ChatResult | None = None
        self._digest: str | None = None
        self._version: str | None = None
        self._last: tuple[Messages, int] | None = None

    def begin_episode(self, ctx: EpisodeContext) -> None:
        self._last = None

    def server_version(self) -> str:
        """``GET /api/version`` of the server this backend talks to (bench records it in run.json)."""
        if self._version is None:
            self._version = self.server.version()
        return self._version

    def digest(self) -> str | None:
        if self._digest is None:
            for m in self.server.list():
                if m["name"].removesuffix(":latest") == self.model.removesuffix(":latest"):
                    self._digest = m["digest"]
        return self._digest

    def stream_chat(self, messages: Messages, options: ChatOptions) -> Iterator[str]:
        """Yield the reply as it arrives; ``self.last_result`` holds the ChatResult afterwards.

        Stops with ``done_reason="timeout"`` once ``options.timeout_s`` has passed.
        """
        msgs = [{"role": m["role"], "content": m["content"]} for m in messages]
        t0 = time.perf_counter()
        parts: list[str] = []
        thinking: list[str] = []
        final: Any = None
        done_reason = "stop"
        with self.server.errors(self.model, action=f"chat with {self.model!r}"):
            stream = self.server.client.chat(
                model=self.model, messages=msgs, options=options.ollama_options(), stream=True,
                keep_alive=self.keep_alive,
            )  # fmt: skip
            try:
                for part in stream:
                    thinking.append(part.message.thinking or "")  # message.thinking, apart from content
                    text = part.message.content or ""
                    if text:
                        parts.append(text)
                        yield text
                    if part.done:
                        final = part
                        break
                    if time.perf_counter() - t0 > options.timeout_s:
                        done_reason = "timeout"
                        break
            finally:
                stream.close()
        if final is None and done_reason != "timeout":  # the server died mid-reply: not a reply
            raise TransientBackendError(
                f"Ollama at {self.server.host} ended the reply of {self.model!r} before it was done"
            )
        self.last_result = self._result("".join(parts), final, done_reason, msgs, time.perf_counter() - t0)
        self.last_result.thinking = "".join(thinking)

    def _result(self, text: str, final: Any, reason: str, msgs: Messages, wall: float) -> ChatResult:
        def secs(ns: int | None) -> float | None:
            return None if ns is None else ns / 1e9

        if final is None:
            return ChatResult(text=text, done_reason=reason, total_duration_s=wall)
        prompt = final.prompt_eval_count
        result = ChatResult(
            text=text, done_reason=final.done_reason or "stop", prompt_tokens=prompt,
            prompt_eval_count=prompt, eval_count=final.eval_count,
            prompt_eval_duration_s=secs(final.prompt_eval_duration), eval_duration_s=secs(final.eval_duration),
            total_duration_s=secs(final.total_duration) or wall,
        )  # fmt: skip
        result.truncated = self._truncated(msgs, prompt)
        if prompt is not None:
            self._last = (msgs, prompt)
        return result

    def _truncated(self, msgs: Messages, prompt: int | None) -> bool:
        if prompt is None:
            return False
        if self._last is not None:
            prev_msgs, prev_prompt = self._last
            if len(msgs) > len(prev_msgs) and msgs[: len(prev_msgs)] == prev_msgs and prompt < prev_prompt:
                return True
        return self.count_tokens is not None and prompt < self.count_tokens(msgs) - 2


@register_backend("ollama")
def _factory(model: str = "", **kwargs: Any) -> OllamaBackend:
    return OllamaBackend(model=model, **kwargs)
