"""How Ollama treats a chat request, shared by the backends that run a model in-process
(llama.cpp, transformers) so that they answer as Ollama would:

* ``OLLAMA_DEFAULTS`` < Modelfile PARAMETERs < request options (``layer_options``);
* a conversation too long for the context drops its oldest non-system messages, then keeps the
  first ``num_keep`` tokens and the tail (``fit_prompt``);
* stop strings end the reply and are cut from it; text that may be the start of one is held
  back until it is resolved (``find_stop``, ``partial_stop``);
* ``chat`` is ``stream_chat`` run to the end (``StreamingChat``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from harness.backends.base import ChatOptions, ChatResult
from harness.errors import UsageError

Messages = list[dict[str, str]]

# Ollama's api.DefaultOptions (the ones the in-process backends use).
OLLAMA_DEFAULTS: dict[str, Any] = {
    "num_ctx": 4096, "num_keep": 4, "num_predict": -1, "temperature": 0.8, "top_k": 40, "top_p": 0.9,
    "min_p": 0.0, "typical_p": 1.0, "repeat_last_n": 64, "repeat_penalty": 1.1,
    "presence_penalty": 0.0, "frequency_penalty": 0.0, "seed": -1, "stop": [], "num_batch": 512,
}  # fmt: skip


def layer_options(parameters: Mapping[str, Any], options: ChatOptions) -> dict[str, Any]:
    """Ollama's defaults < Modelfile ``parameters`` < request ``options``."""
    merged = {**OLLAMA_DEFAULTS, **parameters}
    merged.update(temperature=options.temperature, seed=options.seed, num_predict=options.num_predict)
    for key in ("top_k", "top_p", "num_ctx"):
        if getattr(options, key) is not None:
            merged[key] = getattr(options, key)
    if options.stop:
        merged["stop"] = list(options.stop)
    return merged


def fit_prompt(
    messages: Messages,
    render: Callable[[Messages], str],
    tokenize: Callable[[str], list[int]],
    n_ctx: int,
    num_keep: int,
) -> tuple[list[int], bool]:
    """Tokens of the rendered prompt, cut to fit ``n_ctx``; returns (tokens, truncated)."""
    tokens = tokenize(render(messages))
    if not tokens:
        raise UsageError("the prompt is empty: send at least one message")
    if len(tokens) < n_ctx:
        return tokens, False
    msgs = list(messages)
    while len(tokens) >= n_ctx:
        drop = next((i for i, m in enumerate(msgs[:-1]) if m.get("role") != "system"), None)
        if drop is None:
            break
        del msgs[drop]
        tokens = tokenize(render(msgs))
    if len(tokens) >= n_ctx:
        keep = min(num_keep, n_ctx // 2)
        tokens = tokens[:keep] + tokens[len(tokens) - (n_ctx - 1 - keep) :]
    return tokens, True


def find_stop(text: str, stops: list[str]) -> int | None:
    """Index of the earliest stop string in ``text``, or None."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None


def partial_stop(text: str, stops: list[str]) -> int:
    """Length of the longest end of ``text`` that starts some stop string (held back)."""
    best = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), best, -1):
            if text.endswith(s[:n]):
                best = n
                break
    return best


class StreamingChat:
    """``chat`` for a backend whose ``stream_chat`` leaves its ChatResult in ``last_result``."""

    last_result: ChatResult | None = None

    def stream_chat(self, messages: Messages, options: ChatOptions) -> Iterator[str]:
        raise NotImplementedError

    def chat(self, messages: Messages, options: ChatOptions) -> ChatResult:
        for _ in self.stream_chat(messages, options):
            pass
        assert self.last_result is not None
        return self.last_result
