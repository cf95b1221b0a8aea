"""Fitting a conversation into a context window the way Ollama does (shared by the in-process
backends): drop the oldest non-system messages until the prompt fits, then, if it still does
not, keep the first ``num_keep`` tokens and the tail."""

from __future__ import annotations

from collections.abc import Callable

from harness.errors import UsageError

Messages = list[dict[str, str]]


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
