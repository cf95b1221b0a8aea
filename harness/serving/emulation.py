"""Which Ollama release the in-process backends behave like, and that release's option defaults.

The oracle is Ollama's Go source at :data:`OLLAMA_COMMIT` (about v0.33-rc). Behaviour that changed
between releases is keyed on a version, picked with ``HARNESS_OLLAMA_VERSION`` (or the
``--ollama-version`` option of ``harness prompt``):

* before 0.30: the Modelfile TEMPLATE (Go template) always renders the prompt; from 0.30 the GGUF's
  own chat template wins when it has capabilities the TEMPLATE lacks (server/images.go
  ``shouldPreferChatTemplate``);
* before 0.32.10: ``repeat_penalty`` defaults to 1.1, from 0.32.10 to 1.0 (api/types.go
  ``DefaultOptions``).
"""

from __future__ import annotations

import os
import re
from typing import Any

from harness.errors import UsageError

OLLAMA_COMMIT = "fb30760996871fa9460115c753afd2c60d4ab0f7"
"""The ollama/ollama commit (2026-08-21) whose source this emulation follows."""
EMULATED_VERSION = "0.33.0"
"""The release the backends follow unless ``HARNESS_OLLAMA_VERSION`` says otherwise."""
GGUF_TEMPLATE_SINCE = (0, 30, 0)
REPEAT_PENALTY_1_SINCE = (0, 32, 10)
DEFAULT_NUM_CTX = 4096
"""routes.go: the default context of a machine with under 23 GiB of VRAM (every CPU machine)."""

_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?")


def parse_version(text: str) -> tuple[int, int, int]:
    """``"0.32.10"``, ``"v0.30"``, ``"0.33.0-rc1"`` → ``(0, 32, 10)`` …"""
    m = _VERSION.fullmatch(text.strip())
    if not m:
        raise UsageError(f"not an Ollama version: {text!r}; give one such as 0.33.0 or 0.29.1")
    return int(m[1]), int(m[2]), int(m[3] or 0)


def emulated_version(version: str | None = None) -> str:
    """``version``, else ``HARNESS_OLLAMA_VERSION``, else :data:`EMULATED_VERSION` (checked)."""
    chosen = version or os.environ.get("HARNESS_OLLAMA_VERSION") or EMULATED_VERSION
    parse_version(chosen)
    return chosen.strip().removeprefix("v")


def prefers_gguf_templates(version: str | None = None) -> bool:
    """True when that release may render with the GGUF's chat template (0.30 and later)."""
    return parse_version(emulated_version(version)) >= GGUF_TEMPLATE_SINCE


def default_num_ctx() -> int:
    """``OLLAMA_CONTEXT_LENGTH`` when set (envconfig.ContextLength), else routes.go's 4096."""
    raw = os.environ.get("OLLAMA_CONTEXT_LENGTH", "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise UsageError(
                f"OLLAMA_CONTEXT_LENGTH={raw!r} is not a whole number; unset it or fix it"
            ) from None
        if value > 0:
            return value
    return DEFAULT_NUM_CTX


def ollama_defaults(version: str | None = None) -> dict[str, Any]:
    """api/types.go ``DefaultOptions`` of that release (the options the in-process backends use)."""
    old = parse_version(emulated_version(version)) < REPEAT_PENALTY_1_SINCE
    return {
        "num_ctx": default_num_ctx(), "num_keep": 4, "num_predict": -1, "temperature": 0.8,
        "top_k": 40, "top_p": 0.9, "min_p": 0.0, "typical_p": 1.0, "repeat_last_n": 64,
        "repeat_penalty": 1.1 if old else 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0,
        "seed": -1, "stop": [], "num_batch": 512,
    }  # fmt: skip


def clamp_num_ctx(num_ctx: int, train_ctx: int | None) -> int:
    """llm/server.go ``NewLlamaServer``: a context beyond the model's training length is cut to it."""
    if train_ctx and num_ctx > train_ctx:
        return int(train_ctx)
    return num_ctx
