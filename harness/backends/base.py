"""The Backend interface: chat messages + options in, text + usage out."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

from harness.errors import HarnessError


class BackendError(HarnessError):
    """A backend failed in a way that retrying will not fix."""


class BackendUnavailable(BackendError):
    """The server/library behind a backend cannot be reached or loaded."""


class ModelNotFound(BackendError):
    """The backend does not know the model."""


class TransientBackendError(HarnessError):
    """A failure worth retrying (timeouts, 5xx, a loading model)."""


@dataclass
class ChatOptions:
    """Generation options, named as Ollama names them. ``None`` (or an empty ``stop``) means
    "not set": the request carries only what was set, so the Modelfile's PARAMETERs and Ollama's
    defaults apply to the rest, as in Ollama (server/routes.go ``modelOptions``)."""

    temperature: float | None = None
    seed: int | None = None
    top_k: int | None = None
    top_p: float | None = None
    num_ctx: int | None = None
    num_predict: int | None = None
    """Max new tokens for one reply (Ollama's default -1: until the context is full)."""
    stop: list[str] = field(default_factory=list)
    timeout_s: float = 120.0
    """Wall-clock limit for one reply."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Other Ollama options by name (``repeat_penalty``, ``min_p`` …), sent as given."""

    def record(self) -> dict[str, Any]:
        """The fields that identify a run (traces, resume): all but ``timeout_s``, ``extra`` only if set."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("timeout_s", "extra")}
        return {**out, **({"extra": dict(self.extra)} if self.extra else {})}

    def ollama_options(self) -> dict[str, Any]:
        """The options this request sets, as Ollama's ``options`` object (nothing unset)."""
        out: dict[str, Any] = {}
        for k in ("temperature", "seed", "num_predict", "top_k", "top_p", "num_ctx"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        if self.stop:
            out["stop"] = list(self.stop)
        out.update(self.extra)
        return out


@dataclass
class ChatResult:
    """One reply with Ollama-style usage and timing (durations in seconds)."""

    text: str
    done_reason: str = "stop"
    """``stop`` (stop sequence or end of turn), ``length`` (hit num_predict), ``timeout``."""
    prompt_tokens: int | None = None
    """Tokens in the whole prompt."""
    prompt_eval_count: int | None = None
    """Prompt tokens actually evaluated (the rest came from a cache)."""
    eval_count: int | None = None
    """Generated tokens."""
    prompt_eval_duration_s: float | None = None
    eval_duration_s: float | None = None
    total_duration_s: float | None = None
    truncated: bool = False
    """The server cut the prompt to fit its context (detected from token counts)."""
    thinking: str = ""
    """The reply's thinking, apart from ``text`` (Ollama's ``message.thinking``)."""

    @property
    def gen_tokens_per_s(self) -> float | None:
        if self.eval_count and self.eval_duration_s:
            return self.eval_count / self.eval_duration_s
        return None


@dataclass
class EpisodeContext:
    """What a backend may know about the episode it plays (policies use it; models ignore it)."""

    game: Any
    """The ``harness.world.Game`` being played."""
    game_id: str
    text_format: str = "2.1.1"


@runtime_checkable
class Backend(Protocol):
    name: str
    model: str

    def chat(self, messages: list[dict[str, str]], options: ChatOptions) -> ChatResult: ...

    def begin_episode(self, ctx: EpisodeContext) -> None:
        """Called before each episode (policies read the game; models may reset caches)."""
        ...

    def digest(self) -> str | None:
        """A content hash of the model (GGUF sha256, Ollama digest), when known."""
        ...
