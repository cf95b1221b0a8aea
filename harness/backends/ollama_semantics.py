"""How Ollama treats a chat request, shared by the backends that run a model in-process
(llama.cpp, transformers) so that they answer as Ollama would:

* Ollama's defaults (of the emulated release) < Modelfile PARAMETERs < what the request sets
  (``layer_options``);
* a conversation too long for the context drops its oldest messages (system ones kept), then keeps
  the first ``num_keep`` tokens and the tail (``fit_prompt``, server/prompt.go ``chatPrompt``);
* stop strings end the reply and are cut from it; text that may be the start of one is held
  back until it is resolved (``find_stop``, ``partial_stop``), in the one token loop both
  backends run (``generate_text`` over a backend's ``TokenSource``);
* a new prompt reuses the KV of the leading tokens it shares with the cache (``reusable_prefix``);
* ``chat`` is ``stream_chat`` run to the end (``StreamingChat``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any, Protocol

from harness.backends.base import ChatOptions, ChatResult
from harness.errors import UsageError
from harness.serving.emulation import ollama_defaults

Messages = list[dict[str, str]]

# Ollama's api.DefaultOptions of the emulated release (harness.serving.emulation).
OLLAMA_DEFAULTS: dict[str, Any] = ollama_defaults()


def layer_options(
    parameters: Mapping[str, Any], options: ChatOptions, *, version: str | None = None
) -> dict[str, Any]:
    """Ollama's defaults < Modelfile ``parameters`` < what the request sets (routes.go
    ``modelOptions``: DefaultOptions, then ``FromMap(model.Options)``, then the request's map)."""
    merged = {**ollama_defaults(version), **parameters}
    merged.update(options.ollama_options())
    return merged


def fit_prompt(
    messages: Messages,
    render: Callable[[Messages], str],
    tokenize: Callable[[str], list[int]],
    n_ctx: int,
    num_keep: int,
    *,
    count: Callable[[str], int] | None = None,
    adds_bos: bool | None = None,
) -> tuple[list[int], bool]:
    """Tokens of the prompt for ``messages`` (SYSTEM and MESSAGE history already in them), fitted
    to ``n_ctx`` as Ollama does; returns (tokens, truncated).

    server/prompt.go ``chatPrompt``: drop messages from the front, keeping the system messages of
    the dropped part and always the last message, until the rendered prompt's token count (``count``,
    Ollama's tokenizer call, which adds no BOS) is ≤ ``n_ctx``. If it still overflows, the runner
    shifts it as llm/llama_server.go ``completionPromptForRequest`` and ``contextShiftPromptLimit``
    do: ``tokenize`` gives the prompt with BOS; ``adds_bos`` (default: ``tokenize("")`` is not
    empty) is the tokenizer's add-BOS flag.
    """
    count = count or (lambda text: len(tokenize(text)))
    start, system = 0, []
    for i in range(len(messages)):
        system = [m for m in messages[:i] if m.get("role") == "system"]
        if count(render(system + list(messages[i:]))) <= n_ctx or i == len(messages) - 1:
            start = i
            break
    text = render(system + list(messages[start:]))
    tokens = tokenize(text)
    if not tokens:
        raise UsageError("the prompt is empty: send at least one message")
    truncated = start > 0
    # llm/llama_server.go completionPromptForRequest (ollama fb30760): untouched when NumCtx <= 1,
    # when the prompt text is shorter (in bytes) than NumCtx, or when its tokens (with BOS) are
    # <= NumCtx-1. Else nKeep = num_keep (all tokens when < 0), +1 when the tokenizer adds BOS,
    # capped at NumCtx-1; limit = contextShiftPromptLimit = NumCtx - max((NumCtx-nKeep)/2, 1);
    # the first nKeep tokens and the last limit-nKeep remain.
    limit_full = n_ctx - 1
    if n_ctx > 1 and len(text.encode("utf-8")) >= n_ctx and len(tokens) > limit_full:
        keep = num_keep if num_keep >= 0 else len(tokens)
        if adds_bos if adds_bos is not None else bool(tokenize("")):
            keep += 1
        keep = min(keep, limit_full)
        limit = n_ctx - max((n_ctx - max(0, keep)) // 2, 1)
        discard = len(tokens) - limit
        tokens = tokens[:keep] + tokens[keep + discard :]
        truncated = True
    return tokens, truncated


class ThinkingParser:
    """thinking/parser.go ``Parser``, as Ollama's chat handler (server/routes.go ``ChatHandler``)
    runs it over the streamed reply: :meth:`add` takes the next piece of raw text and returns
    the (thinking, content) that are already unambiguous. A reply that starts (after whitespace)
    with the opening tag thinks until the closing tag; whitespace after either tag is dropped;
    a possible partial tag is held back until the next piece settles it."""

    def __init__(self, opening: str, closing: str) -> None:
        self.opening, self.closing = opening, closing
        self.state = "looking"  # looking → (started) → thinking → (done_eating) → done
        self.acc = ""

    def add(self, content: str) -> tuple[str, str]:
        self.acc += content
        thinking, text, more = [], [], True
        while more:  # several states can pass in one piece (parser.go AddContent)
            t, c, more = self._eat()
            thinking.append(t)
            text.append(c)
        return "".join(thinking), "".join(text)

    def _eat(self) -> tuple[str, str, bool]:
        acc, opening, closing = self.acc, self.opening, self.closing
        if self.state == "looking":
            trimmed = acc.lstrip()
            if trimmed.startswith(opening):
                self.acc = trimmed.split(opening, 1)[1].lstrip()
                self.state = "thinking" if self.acc else "started"
                return "", "", True
            if opening.startswith(trimmed):  # a partial opening tag, or whitespace only
                return "", "", False
            self.state, self.acc = "done", ""  # no thinking: the content keeps its whitespace
            return "", acc, False
        if self.state == "started":
            self.acc = acc.lstrip()
            if not self.acc:
                return "", "", False
            self.state = "thinking"
            return "", "", True
        if self.state == "thinking":
            if closing in acc:
                thinking, rest = acc.split(closing, 1)
                rest = rest.lstrip()
                self.state, self.acc = ("done" if rest else "done_eating"), ""
                return thinking, rest, False
            n = next((i for i in range(min(len(closing), len(acc)), 0, -1) if acc.endswith(closing[:i])), 0)
            self.acc = acc[len(acc) - n :]
            return acc[: len(acc) - n], "", False
        self.acc = ""
        if self.state == "done_eating":
            acc = acc.lstrip()
            if acc:
                self.state = "done"
        return "", acc, False


class ThinkingStream:
    """A reply split as Ollama's chat handler splits its chunks: :meth:`add` takes the next
    generated piece and returns the content to show now (``message.content`` of the chunk);
    ``thinking`` gathers ``message.thinking``. Without tags everything is content. A prompt that
    ends with the opening tag counts it as already seen (routes.go ChatHandler)."""

    def __init__(self, prompt: str, tags: tuple[str, str] | None) -> None:
        self.parser = ThinkingParser(*tags) if tags is not None else None
        if self.parser is not None and prompt.strip().endswith(self.parser.opening):
            self.parser.add(self.parser.opening)
        self.thinking = ""

    def add(self, piece: str) -> str:
        if self.parser is None:
            return piece
        thinking, content = self.parser.add(piece)
        self.thinking += thinking
        return content


def stream_content(pieces: Iterator[str], split: ThinkingStream, out: list[str]) -> Generator[str, None, Any]:
    """Yield the content of each generated piece as ``split`` lets it through, gathering it in
    ``out``; returns what ``pieces`` returns (a backend's done reason and token count)."""
    while True:
        try:
            piece = next(pieces)
        except StopIteration as stop:
            return stop.value
        text = split.add(piece)
        if text:
            out.append(text)
            yield text


def thinking_stream(builder: Any, messages: Messages) -> ThinkingStream:
    """The :class:`ThinkingStream` for a reply to ``messages`` (``builder``: the
    :class:`~harness.serving.prompt.PromptBuilder` that made the prompt); the prompt is only
    rendered again when the model thinks."""
    tags = builder.thinking_tags()
    return ThinkingStream(builder.prompt(messages) if tags else "", tags)


def find_stop(text: str, stops: list[str]) -> int | None:
    """Index of the earliest stop string in ``text``, or None (where runner/common/stop.go
    ``FindStop`` finds a stop and ``TruncateStop`` cuts the reply at it)."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None


def partial_stop(text: str, stops: list[str]) -> int:
    """Length of the longest end of ``text`` that starts some stop string (held back; where
    runner/common/stop.go ``ContainsStopSuffix`` holds the pending text back)."""
    best = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), best, -1):
            if text.endswith(s[:n]):
                best = n
                break
    return best


class TokenSource(Protocol):
    """A backend's side of :func:`generate_text`: its model, sampler and detokenizer."""

    def full(self) -> bool:
        """The context holds no room for another token."""

    def sample(self) -> int:
        """The next token, drawn from the logits after everything evaluated so far."""

    def is_eog(self, token: int) -> bool:
        """``token`` ends the generation."""

    def piece(self, token: int) -> str:
        """The text ``token`` completes ("" while a UTF-8 character is incomplete)."""

    def flush(self) -> str:
        """Text held back by an incomplete character at the end."""

    def advance(self, token: int) -> None:
        """Evaluate ``token`` so that the next :meth:`sample` sees it."""


def generate_text(
    source: TokenSource, stops: list[str], limit: int, deadline: float
) -> Generator[str, None, tuple[str, int]]:
    """Generate a reply from ``source`` as Ollama's runner does (runner/llamarunner/runner.go
    ``processBatch``): yield its text as it becomes certain; return (done_reason, tokens
    generated, the end-of-generation token counted).

    An end-of-generation token ends it with ``stop``; so does a stop string (``find_stop``, cut
    from the text: nothing of it is yielded); text that may start one is held back
    (``partial_stop``); ``limit`` tokens (``num_predict``, when > 0) or a full context end it
    with ``length``, the ``deadline`` (``time.perf_counter()``) with ``timeout``."""
    pending, n_gen, cut, reason = "", 0, None, "length"
    while True:
        if time.perf_counter() > deadline:
            reason = "timeout"
            break
        if source.full():
            break
        token = source.sample()
        n_gen += 1
        if source.is_eog(token):
            reason = "stop"
            break
        pending += source.piece(token)
        cut = find_stop(pending, stops)
        if cut is not None:
            pending = pending[:cut]
            reason = "stop"
            break
        hold = partial_stop(pending, stops)
        if len(pending) > hold:
            yield pending[: len(pending) - hold]
            pending = pending[len(pending) - hold :]
        if 0 < limit <= n_gen:
            break
        source.advance(token)
    if cut is None:  # what was held back: an incomplete character, a partial stop
        pending += source.flush()
    if pending:
        yield pending
    return reason, n_gen


def reusable_prefix(cached: list[int], tokens: list[int], fresh: int) -> int:
    """How many leading ``tokens`` the cache already holds (``cached``: the tokens whose KV it
    keeps), leaving at least ``fresh`` of them to evaluate."""
    limit = min(len(cached), len(tokens) - fresh)
    n = 0
    while n < limit and cached[n] == tokens[n]:
        n += 1
    return n


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
