"""``llamacpp``: the embedded backend, llama-cpp-python on a GGUF, behaving like Ollama.

* The prompt is built as current Ollama builds it (:class:`harness.serving.prompt.PromptBuilder`):
  the Modelfile TEMPLATE (Go template), or the GGUF's Jinja chat template where Ollama would prefer
  it or has no TEMPLATE; it is tokenized with special tokens parsed and BOS added when the
  vocabulary asks for it (not twice when the template writes it), as Ollama does.
* Options: Ollama's defaults (of the emulated release, :mod:`harness.serving.emulation`), then the
  Modelfile PARAMETERs, then only what the request sets. ``num_ctx`` is cut to the GGUF's training
  context (llm/server.go). Temperature 0 is greedy. The penalties (``repeat_penalty`` …) see the
  last ``repeat_last_n`` tokens of prompt and reply together, as llama-server feeds the prompt to its
  sampler.
* Stop strings end the reply and are cut from it; text that may be the start of a stop string is
  held back until it is resolved. An end-of-generation token ends the reply (``stop``);
  ``num_predict`` tokens or a full context end it with ``length``; ``options.timeout_s`` of wall
  clock (checked between prompt batches and between tokens) ends it with ``timeout``.
* KV cache reuse: the new prompt's tokens are compared with the prompt tokens already in the
  context; only the differing suffix is evaluated. ``prompt_tokens`` is the prompt length,
  ``prompt_eval_count`` the tokens actually evaluated. The previous reply's tokens are evaluated
  again as part of the next prompt (its one-token decodes leave KV values that differ slightly
  from a batched evaluation), so the greedy text never depends on what the cache held: reuse and
  recompute give the same reply. A turn costs its new messages plus the previous reply.
* A prompt longer than the context loses its oldest non-system messages first (Ollama's
  chatPrompt), then, if still too long, the tokens after ``num_keep`` (Ollama's runner);
  ``truncated`` is set.

Thread-safety: each backend owns one ``Llama`` and its KV cache. Never call one instance from two
threads; the runner must build one backend per worker (or run one worker).
"""

from __future__ import annotations

import codecs
import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.backends.base import BackendError, BackendUnavailable, ChatOptions, ChatResult, EpisodeContext
from harness.backends.ollama_semantics import (
    OLLAMA_DEFAULTS,
    StreamingChat,
    fit_prompt,
    generate_text,
    layer_options,
    reusable_prefix,
    stream_content,
    thinking_stream,
)
from harness.backends.registry import register_backend
from harness.serving.emulation import clamp_num_ctx, ollama_defaults
from harness.serving.modelfile import Modelfile

__all__ = ["OLLAMA_DEFAULTS", "LlamaCppBackend"]

Messages = list[dict[str, str]]


def _llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise BackendUnavailable(
            "the embedded backend needs llama-cpp-python: pip install 'react-harness[embedded]' "
            "(or run Ollama and use --backend ollama)"
        ) from None
    return llama_cpp


class LlamaCppBackend(StreamingChat):
    """A GGUF served in-process. One instance per thread (see the module docstring)."""

    name = "llamacpp"

    def __init__(
        self,
        model: str = "",
        gguf: str | Path | None = None,
        modelfile: Modelfile | str | Path | None = None,
        *,
        digest: str | None = None,
        n_threads: int | None = None,
        reuse_kv: bool = True,
        verbose: bool = False,
        **llama_kwargs: Any,
    ) -> None:
        if gguf is None:
            from harness.backends.catalog import unknown_model
            from harness.serving.store import get_local

            entry = get_local(model) if model else None
            if entry is None:
                raise unknown_model(model or "(none)")
            gguf, modelfile, digest = entry.check(), entry.parsed_modelfile(), entry.sha256
        if isinstance(modelfile, str | Path):
            from harness.serving.modelfile import load

            modelfile = load(modelfile)
        self.gguf = Path(gguf)
        self.model = model or self.gguf.stem
        self.modelfile = modelfile or Modelfile(from_=str(self.gguf))
        self.reuse_kv = reuse_kv
        self.last_result: ChatResult | None = None
        self._digest = digest
        self._threads = n_threads
        self._verbose = verbose
        self._llama_kwargs = llama_kwargs
        self._llm: Any = None
        self._exact = 0  # leading cached tokens whose KV came from batched prompt evaluation
        from harness.serving import gotemplate

        gotemplate.parse(self.modelfile.template or "{{ .Prompt }}")  # fail early on a bad TEMPLATE
        self._load(int(self.modelfile.parameters.get("num_ctx", ollama_defaults()["num_ctx"])))
        self.prompt_builder = self._builder()

    # ------------------------------------------------------------------ setup
    def _load(self, n_ctx: int) -> None:
        llama_cpp = _llama_cpp()
        if self._llm is not None:
            self._llm.close()
            self._llm = None
        params = self.modelfile.parameters
        n_ctx = clamp_num_ctx(n_ctx, self._train_ctx())
        # Like Ollama: about one thread per physical core (oversubscribed llama.cpp threads spin badly).
        threads = int(self._threads or params.get("num_thread") or max(1, min(8, (os.cpu_count() or 2) // 2)))
        from harness._util.signals import deferred_signals

        try:
            with deferred_signals():  # a Ctrl-C during the load is not lost in llama.cpp's callbacks
                self._llm = llama_cpp.Llama(
                    model_path=str(self.gguf), n_ctx=n_ctx, n_batch=int(params.get("num_batch", 512)),
                    n_threads=threads, n_threads_batch=threads, verbose=self._verbose, **self._llama_kwargs,
                )  # fmt: skip
        except (ValueError, RuntimeError) as e:
            raise BackendError(
                f"llama.cpp cannot load {self.gguf}: {e}; check that the GGUF is complete"
            ) from None
        self._ctx_requested, self._exact = n_ctx, 0
        self.n_ctx = min(n_ctx, self._llm.n_ctx())  # llama.cpp may pad its context; input_ids has n_ctx
        self._vocab = self._llm._model.vocab
        self._is_eog = llama_cpp.llama_vocab_is_eog

    def close(self) -> None:
        """Free the model (also done when the backend is garbage-collected)."""
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def begin_episode(self, ctx: EpisodeContext) -> None:
        """Nothing to reset: the next prompt reuses whatever prefix it shares with the cache."""

    def digest(self) -> str | None:
        if self._digest is None:
            from harness._util.atomic import sha256_file

            self._digest = sha256_file(self.gguf)
        return self._digest

    def _builder(self) -> Any:
        from harness.serving.gguf_info import read_gguf_info
        from harness.serving.prompt import PromptBuilder

        llm = self._llm

        def text(token: int) -> str:
            return llm.detokenize([token], special=True).decode("utf-8", "replace") if token >= 0 else ""

        chat_template = read_gguf_info(self.gguf).chat_template
        return PromptBuilder(self.modelfile, chat_template, text(llm.token_bos()), text(llm.token_eos()))

    def options(self, options: ChatOptions) -> dict[str, Any]:
        """Ollama's defaults < Modelfile PARAMETERs (and a detected template's stops) < request options."""
        return layer_options(self.prompt_builder.parameters(), options)

    def render_prompt(self, messages: Messages) -> str:
        """The prompt Ollama would build for this request (SYSTEM and MESSAGE history included)."""
        return self.prompt_builder.prompt(messages)

    def tokenize(self, text: str) -> list[int]:
        bos = self.prompt_builder.bos_token
        add_bos = not (bos and text.startswith(bos))
        return self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def count_tokens(self, text: str) -> int:
        """Ollama's fit test counts the prompt without BOS (server/prompt.go, its Tokenize call)."""
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    # ------------------------------------------------------------------ chat
    def stream_chat(self, messages: Messages, options: ChatOptions) -> Iterator[str]:
        """Yield the reply's text as it is generated; ``self.last_result`` holds the ChatResult."""
        t0 = time.perf_counter()
        opts = self.options(options)
        if clamp_num_ctx(int(opts["num_ctx"]), self._train_ctx()) != self._ctx_requested:
            self._load(int(opts["num_ctx"]))
        tokens, truncated = self._prompt_tokens(messages, int(opts["num_keep"]))
        deadline = t0 + options.timeout_s
        evaluated, done = self._eval_prompt(tokens, deadline)
        t_prompt = time.perf_counter()
        out: list[str] = []
        split = thinking_stream(self.prompt_builder, messages)  # content streams; thinking is kept
        reason, n_gen = "timeout", 0
        if done:
            reason, n_gen = yield from stream_content(self._generate(opts, deadline, tokens), split, out)
        t_end = time.perf_counter()
        self.last_result = ChatResult(
            text="".join(out), thinking=split.thinking, done_reason=reason, prompt_tokens=len(tokens), prompt_eval_count=evaluated,
            eval_count=n_gen, prompt_eval_duration_s=t_prompt - t0, eval_duration_s=t_end - t_prompt,
            total_duration_s=t_end - t0, truncated=truncated,
        )  # fmt: skip

    def _prompt_tokens(self, messages: Messages, num_keep: int) -> tuple[list[int], bool]:
        """Tokens of the prompt, cut to fit the context like Ollama; (tokens, truncated)."""
        b = self.prompt_builder
        return fit_prompt(
            b.messages(messages), b.render, self.tokenize, self.n_ctx, num_keep, count=self.count_tokens
        )

    def _eval_prompt(self, tokens: list[int], deadline: float) -> tuple[int, bool]:
        """Evaluate what the cache lacks; (tokens evaluated, finished before the deadline).

        Only KV entries made by prompt batches of 2+ tokens are reused: llama.cpp's one-token
        decode writes slightly different KV values, so reusing generated tokens would make the
        greedy text depend on the cache. Batches are split so that none holds a single token.
        """
        llm = self._llm
        start = 0
        if self.reuse_kv:  # evaluate 2+ tokens: fresh logits, batched KV
            start = reusable_prefix(llm.input_ids[: min(llm.n_tokens, self._exact)].tolist(), tokens, 2)
        llm.n_tokens = start  # Llama.eval drops the cache beyond n_tokens
        self._exact = start
        for lo, hi in _chunks(start, len(tokens), max(2, llm.n_batch)):
            if time.perf_counter() > deadline:
                return lo - start, False
            llm.eval(tokens[lo:hi])
            self._exact = hi if hi - lo > 1 else lo
        return len(tokens) - start, True

    def _train_ctx(self) -> int | None:
        """The GGUF's ``<arch>.context_length`` (Ollama's n_ctx_train), once the model is loaded."""
        if getattr(self, "_n_ctx_train", None) is None:
            from harness.serving.gguf_info import read_gguf_info

            try:
                self._n_ctx_train = read_gguf_info(self.gguf).context_length
            except Exception:  # an unreadable header: llama.cpp reports the problem when loading
                self._n_ctx_train = None
        return self._n_ctx_train

    def _sampler(self, opts: dict[str, Any], prompt: list[int]) -> Any:
        from llama_cpp._internals import LlamaSampler

        last_n = int(opts["repeat_last_n"])
        last_n = self.n_ctx if last_n < 0 else last_n  # -1: the whole context, as llama.cpp's common
        s = LlamaSampler()
        s.add_penalties(
            n_vocab=self._llm.n_vocab(), penalty_last_n=last_n,
            penalty_repeat=float(opts["repeat_penalty"]), penalty_freq=float(opts["frequency_penalty"]),
            penalty_present=float(opts["presence_penalty"]),
        )  # fmt: skip
        for token in prompt[-last_n:] if last_n > 0 else ():  # the prompt enters the penalty window
            s.accept(token)
        temp = float(opts["temperature"])
        if temp <= 0:
            s.add_greedy()
            return s
        s.add_top_k(int(opts["top_k"]))
        s.add_typical(float(opts["typical_p"]), 1)
        s.add_top_p(float(opts["top_p"]), 1)
        s.add_min_p(float(opts["min_p"]), 1)
        s.add_temp(temp)
        seed = int(opts["seed"])
        s.add_dist(seed & 0xFFFFFFFF if seed >= 0 else 0xFFFFFFFF)
        return s

    def _generate(self, opts: dict[str, Any], deadline: float, prompt: list[int]) -> Any:
        """Generator of text pieces; returns (done_reason, generated token count)."""
        source = _Tokens(self, self._sampler(opts, prompt))
        stops = [s for s in opts["stop"] if s]
        try:
            return (yield from generate_text(source, stops, int(opts["num_predict"]), deadline))
        finally:
            source.sampler.close()


class _Tokens:
    """:class:`LlamaCppBackend`'s :class:`~harness.backends.ollama_semantics.TokenSource`: the
    ``LlamaSampler`` on llama.cpp's context, text through an incremental UTF-8 decoder."""

    def __init__(self, be: LlamaCppBackend, sampler: Any) -> None:
        self.be, self.llm, self.sampler = be, be._llm, sampler
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def full(self) -> bool:
        return self.llm.n_tokens >= self.be.n_ctx

    def sample(self) -> int:
        return self.sampler.sample(self.llm._ctx, -1)

    def is_eog(self, token: int) -> bool:
        return self.be._is_eog(self.be._vocab, token)

    def piece(self, token: int) -> str:
        return self.decoder.decode(self.llm.detokenize([token], special=True))

    def flush(self) -> str:
        return self.decoder.decode(b"", final=True)

    def advance(self, token: int) -> None:
        self.llm.eval([token])


def _chunks(lo: int, hi: int, size: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` in pieces of at most ``size``, none of one token unless the whole is one."""
    bounds = [*range(lo, hi, size), hi]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        bounds[-2] -= 1
    return list(itertools.pairwise(bounds))


@register_backend("llamacpp")
def _factory(model: str = "", **kwargs: Any) -> LlamaCppBackend:
    return LlamaCppBackend(model=model, **kwargs)
