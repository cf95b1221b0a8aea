"""``transformers``: a Hugging Face checkpoint served in-process, behaving like Ollama.

    harness bench builds/tiny/merged --backend transformers --suite synthetic-smoke --limit 4

* The model is a merged checkpoint folder, or a LoRA adapter folder (``adapter_config.json``)
  loaded on its base through peft, unmerged; a ``train.sft`` full fine-tune folder works too; or
  the name of a ``harness build`` (its merged checkpoint, from ``builds/NAME/build.json``).
* The prompt is the Modelfile TEMPLATE rendered by :mod:`harness.serving.gotemplate` (``Modelfile.prompt``,
  byte-identical to what Ollama and the embedded backend build): the ``modelfile`` given, else a
  ``Modelfile`` inside the checkpoint folder, else ``modelfiles/qwen2.5-react.Modelfile`` (what
  ``harness build`` registers). ``template="tokenizer"`` renders with the checkpoint's own chat
  template instead (the training format: what a notebook sends). The text is tokenized with the
  checkpoint's tokenizer, special tokens added as the tokenizer adds them (llama.cpp's rule).
* Options are layered as Ollama does (defaults < Modelfile PARAMETERs < request); temperature 0
  is greedy; repeat/frequency/presence penalties apply to the last ``repeat_last_n`` tokens of
  prompt and reply, as llama-server's sampler sees them. The reply ends on an end-of-generation id of the checkpoint
  (``generation_config.eos_token_id`` and the tokenizer's eos, what ``generate()`` stops on), on a
  stop string (cut from the text, partial matches held back), at ``num_predict`` or a full
  context (``length``), or after ``options.timeout_s`` (``timeout``).
* KV cache reuse: only the keys/values of evaluated prompt tokens are kept between replies (those
  of generated tokens are dropped), so the greedy text never depends on the cache.
* CPU (float32) for small models, CUDA when present (the checkpoint's half dtype).

The backend is also a ``LogitSource`` (``tokenize``, ``logits``) for
:mod:`harness.analysis.divergence`. One instance per thread.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from harness.backends.base import ChatOptions, ChatResult, EpisodeContext
from harness.backends.hf_checkpoint import _torch, default_modelfile, load_checkpoint, resolve_checkpoint
from harness.backends.ollama_semantics import (
    StreamingChat,
    ThinkingStream,
    fit_prompt,
    generate_text,
    layer_options,
    reusable_prefix,
    stream_content,
    thinking_stream,
)
from harness.backends.registry import register_backend
from harness.errors import UsageError
from harness.serving.emulation import ollama_defaults
from harness.serving.modelfile import Modelfile

__all__ = ["HFBackend", "default_modelfile", "load_checkpoint", "resolve_checkpoint"]

Messages = list[dict[str, str]]
Template = Literal["auto", "modelfile", "tokenizer"]


class HFBackend(StreamingChat):
    """A checkpoint served by transformers. One instance per thread."""

    name = "transformers"

    def __init__(
        self,
        model: str = "",
        path: str | Path | None = None,
        modelfile: Modelfile | str | Path | None = None,
        *,
        template: Template = "auto",
        device: str = "auto",
        dtype: str = "auto",
        reuse_kv: bool = True,
        digest: str | None = None,
    ) -> None:
        if path is None and not model:
            raise UsageError("the transformers backend needs a checkpoint folder as the model")
        self.path = Path(path) if path is not None else resolve_checkpoint(model)
        self.model = model or self.path.name
        if isinstance(modelfile, str | Path):
            from harness.serving.modelfile import load

            modelfile = load(modelfile)
        if modelfile is None and template != "tokenizer":
            found = self.path / "Modelfile"
            modelfile = _load_mf(found if found.is_file() else default_modelfile())
        self.modelfile: Modelfile | None = modelfile
        self.template = "tokenizer" if template == "tokenizer" or modelfile is None else "modelfile"
        self.reuse_kv = reuse_kv
        self.last_result: ChatResult | None = None
        self._digest = digest
        if self.modelfile is not None:
            from harness.serving import gotemplate

            gotemplate.parse(self.modelfile.template or "{{ .Prompt }}")  # fail early on a bad TEMPLATE
        self.hf, self.tokenizer, self.device = load_checkpoint(self.path, device, dtype)
        if self.template == "tokenizer" and not getattr(self.tokenizer, "chat_template", None):
            raise UsageError(f"{self.path}: the tokenizer has no chat_template; give a Modelfile")
        self.eog_ids = eog_ids(self.hf, self.tokenizer)
        inner = self.hf.get_base_model() if hasattr(self.hf, "get_base_model") else self.hf
        params = inspect.signature(inner.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"  # transformers ≥ 5 / 4.x
        self._keep_kw = "logits_to_keep" if "logits_to_keep" in params else None
        self.n_ctx = int(self.parameters.get("num_ctx", ollama_defaults()["num_ctx"]))
        self._cache: Any = None
        self._cached: list[int] = []

    # ------------------------------------------------------------------ info
    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.modelfile.parameters) if self.modelfile is not None else {}

    def begin_episode(self, ctx: EpisodeContext) -> None:
        """Nothing to reset: the next prompt reuses whatever prefix it shares with the cache."""

    def digest(self) -> str | None:
        """sha256 over the weight files (adapter files for an adapter folder)."""
        if self._digest is None:
            import hashlib

            from harness._util.atomic import sha256_file

            h = hashlib.sha256()
            for f in sorted(self.path.glob("*.safetensors")) or sorted(self.path.glob("*.bin")):
                h.update(f"{f.name}:{sha256_file(f)}\n".encode())
            self._digest = h.hexdigest()
        return self._digest

    def close(self) -> None:
        self._cache, self._cached = None, []

    def options(self, options: ChatOptions) -> dict[str, Any]:
        """Ollama's defaults < Modelfile PARAMETERs < request options."""
        params = self._builder().parameters() if self.template == "modelfile" else self.parameters
        return layer_options(params, options)

    def _builder(self) -> Any:
        """Ollama's template choice for this checkpoint as a GGUF (its chat template goes into the GGUF)."""
        if getattr(self, "_prompt_builder", None) is None:
            from harness.serving.prompt import PromptBuilder

            tok = self.tokenizer
            self._prompt_builder = PromptBuilder(self.modelfile or Modelfile(from_=str(self.path)),
                                                 getattr(tok, "chat_template", None) or None,
                                                 tok.bos_token or "", tok.eos_token or "")  # fmt: skip
        return self._prompt_builder

    def _modelfile_prompt(self) -> bool:
        """The prompt is the Modelfile's, as Ollama builds it (else the tokenizer's chat template)."""
        return self.modelfile is not None and self.template == "modelfile"

    def render_prompt(self, messages: Messages) -> str:
        """The Modelfile prompt (as Ollama builds it), or the chat template's (``template="tokenizer"``)."""
        if self._modelfile_prompt():
            return self._builder().prompt(messages)
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=True))

    def detokenize(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def logits(self, tokens: list[int], positions: list[int] | None = None) -> np.ndarray:
        """``[len(tokens), vocab]`` float32 next-token logits (a ``LogitSource``); only the rows of
        ``positions`` when given (the output head runs on those rows alone)."""
        torch = _torch()
        kw: dict[str, Any] = {}
        if positions is not None and self._keep_kw:
            kw[self._keep_kw] = torch.tensor(positions, device=self.device)
        with torch.inference_mode():
            out = self.hf(input_ids=torch.tensor([tokens], device=self.device), use_cache=False, **kw)
        rows = out.logits[0].float().cpu().numpy()
        return rows if positions is None or kw else rows[positions]

    # ------------------------------------------------------------------ chat
    def stream_chat(self, messages: Messages, options: ChatOptions) -> Iterator[str]:
        """Yield the reply's text as it is generated; ``self.last_result`` holds the ChatResult."""
        torch = _torch()
        t0 = time.perf_counter()
        opts = self.options(options)
        self.n_ctx = int(opts["num_ctx"])
        tokens, truncated = self._prompt_tokens(messages, int(opts["num_keep"]))
        out: list[str] = []
        # content streams and thinking is kept apart, where the Modelfile's template makes the prompt
        split = (
            thinking_stream(self._builder(), messages)
            if self._modelfile_prompt()
            else ThinkingStream("", None)
        )
        with torch.inference_mode():
            logits, evaluated = self._eval_prompt(tokens)
            t_prompt = time.perf_counter()
            gen = self._generate(logits, tokens, opts, t0 + options.timeout_s)
            try:
                reason, n_gen = yield from stream_content(gen, split, out)
            finally:
                if self._cache is not None:  # keep only the batched prompt KV
                    _crop(self._cache, len(self._cached))
        t_end = time.perf_counter()
        self.last_result = ChatResult(
            text="".join(out), thinking=split.thinking, done_reason=reason, prompt_tokens=len(tokens),
            prompt_eval_count=evaluated, eval_count=n_gen, prompt_eval_duration_s=t_prompt - t0, eval_duration_s=t_end - t_prompt,
            total_duration_s=t_end - t0, truncated=truncated,
        )  # fmt: skip

    def _prompt_tokens(self, messages: Messages, num_keep: int) -> tuple[list[int], bool]:
        """Tokens of the prompt, cut to fit the context like Ollama; (tokens, truncated)."""
        if self._modelfile_prompt():
            b = self._builder()
            return fit_prompt(b.messages(messages), b.render, self.tokenize, self.n_ctx, num_keep,
                              count=lambda t: len(self.tokenizer.encode(t, add_special_tokens=False)))  # fmt: skip
        return fit_prompt(messages, self.render_prompt, self.tokenize, self.n_ctx, num_keep)

    def _eval_prompt(self, tokens: list[int]) -> tuple[Any, int]:
        """Evaluate what the cache lacks; (last-position logits, tokens evaluated)."""
        torch = _torch()
        from transformers import DynamicCache

        reuse = self.reuse_kv and self._cache is not None
        start = reusable_prefix(self._cached, tokens, 1) if reuse else 0
        if start == 0:
            self._cache = DynamicCache()
        else:
            _crop(self._cache, start)
        ids = torch.tensor([tokens[start:]], device=self.device)
        out = self._forward(ids, **({self._keep_kw: 1} if self._keep_kw else {}))
        self._cached = list(tokens)
        return out.logits[0, -1].float(), len(tokens) - start

    def _forward(self, ids: Any, **kw: Any) -> Any:
        """One forward pass that appends to ``self._cache`` (a DynamicCache, updated in place)."""
        return self.hf(input_ids=ids, use_cache=True, **{self._cache_kw: self._cache}, **kw)

    def _generate(self, logits: Any, prompt: list[int], opts: dict[str, Any], deadline: float) -> Any:
        """Generator of text pieces; returns (done_reason, generated token count)."""
        source = _Tokens(self, logits, prompt, opts)
        stops = [s for s in opts["stop"] if s]
        return (yield from generate_text(source, stops, int(opts["num_predict"]), deadline))


class _Tokens:
    """:class:`HFBackend`'s :class:`~harness.backends.ollama_semantics.TokenSource`: ``sample``
    over the last logits, text by detokenizing all generated ids (held back while it ends in an
    incomplete UTF-8 sequence, U+FFFD at its end), one forward pass a token."""

    def __init__(self, be: HFBackend, logits: Any, prompt: list[int], opts: dict[str, Any]) -> None:
        torch = _torch()
        self.be, self.logits, self.prompt, self.opts = be, logits, prompt, opts
        self.gen = torch.Generator(device="cpu")
        seed = int(opts["seed"])
        self.gen.manual_seed(seed if seed >= 0 else int(time.time_ns()) & 0xFFFFFFFF)
        self.ids: list[int] = []  # generated, the end-of-generation token included
        self.decoded = ""  # the text of ``ids`` given out so far

    def full(self) -> bool:
        return len(self.prompt) + len(self.ids) >= self.be.n_ctx

    def sample(self) -> int:
        self.ids.append(sample(self.logits, self.prompt + self.ids, self.opts, self.gen))
        return self.ids[-1]

    def is_eog(self, token: int) -> bool:
        return token in self.be.eog_ids

    def piece(self, token: int) -> str:
        text = self.be.detokenize(self.ids)
        if text.endswith("\ufffd"):  # hold back an incomplete UTF-8 sequence
            return ""
        new, self.decoded = text[len(self.decoded) :], text
        return new

    def flush(self) -> str:
        body = self.ids[:-1] if self.ids and self.is_eog(self.ids[-1]) else self.ids
        return self.be.detokenize(body)[len(self.decoded) :]

    def advance(self, token: int) -> None:
        ids = _torch().tensor([[token]], device=self.be.device)
        self.logits = self.be._forward(ids).logits[0, -1].float()


def sample(logits: Any, history: list[int], opts: dict[str, Any], gen: Any) -> int:
    """llama.cpp's sampler chain: penalties over the last ``repeat_last_n`` tokens of ``history``
    (prompt and reply, as llama-server feeds them; -1: all), then greedy (temperature ≤ 0) or
    top-k → top-p → min-p → temperature → a seeded draw."""
    torch = _torch()
    x = logits.detach().to("cpu", torch.float64).clone()
    last_n = int(opts["repeat_last_n"])
    window = history if last_n < 0 else history[-last_n:] if last_n > 0 else []
    if window:
        ids, counts = np.unique(np.asarray(window), return_counts=True)
        idx = torch.as_tensor(ids)
        vals = x[idx]
        rp = float(opts["repeat_penalty"])
        vals = torch.where(vals > 0, vals / rp, vals * rp)
        vals -= torch.as_tensor(counts, dtype=torch.float64) * float(opts["frequency_penalty"])
        vals -= float(opts["presence_penalty"])
        x[idx] = vals
    temp = float(opts["temperature"])
    if temp <= 0:
        return int(torch.argmax(x))
    top_k = int(opts["top_k"])
    if 0 < top_k < x.numel():
        kth = torch.topk(x, top_k).values[-1]
        x[x < kth] = -float("inf")
    probs = torch.softmax(x, dim=-1)
    order = torch.argsort(probs, descending=True)
    cum = torch.cumsum(probs[order], dim=-1)
    top_p = float(opts["top_p"])
    if top_p < 1.0:
        drop = order[1:][cum[:-1] >= top_p]
        x[drop] = -float("inf")
    min_p = float(opts["min_p"])
    if min_p > 0:
        x[probs < min_p * probs.max()] = -float("inf")
    probs = torch.softmax(x / temp, dim=-1)
    return int(torch.multinomial(probs.float(), 1, generator=gen))


def eog_ids(model: Any, tokenizer: Any) -> set[int]:
    """The ids ``generate()`` stops on: ``generation_config.eos_token_id`` and the tokenizer's eos."""
    out: set[int] = set()
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for v in eos if isinstance(eos, list | tuple) else [eos]:
        if v is not None:
            out.add(int(v))
    if tokenizer.eos_token_id is not None:
        out.add(int(tokenizer.eos_token_id))
    return out


def _crop(cache: Any, length: int) -> None:
    """Keep the first ``length`` positions of a DynamicCache (a negative ``crop`` removes that many
    positions in transformers 4.x and 5)."""
    extra = cache.get_seq_length() - length
    if extra > 0:
        cache.crop(-extra)


def _load_mf(path: Path) -> Modelfile | None:
    from harness.serving.modelfile import load

    return load(path) if path.is_file() else None


@register_backend("transformers")
def _factory(model: str = "", **kwargs: Any) -> HFBackend:
    return HFBackend(model=model, **kwargs)
