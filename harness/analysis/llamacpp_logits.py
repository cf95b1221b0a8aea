"""Full-vocabulary next-token logits from a GGUF with llama.cpp (llama-cpp-python), for
:mod:`harness.analysis.divergence`, plus the token positions of the agent's decisions in a
rendered ReAct conversation.

    src = LlamaCppLogits("model.q4_k_m.gguf")
    tokens, positions = decision_tokens(messages, render=modelfile.prompt, tokenize=src.tokenize)
    rows = src.logits_at(tokens, positions)        # [len(positions), n_vocab] float32

    ref = BaselineLogits(GGUFModel("f16", f16_gguf, mf.prompt), conversations, cache_dir)
    div = ref.compare(GGUFModel("q4_k_m", q4_gguf, mf.prompt), conversations)   # a Divergence

Unlike ``Llama(logits_all=True)``, which keeps an ``n_ctx × n_vocab`` array (5 GB for Qwen2.5 at
8k context), only the requested positions get an output row: the batch flags just those tokens,
and ``llama_get_logits_ith`` reads them back. The context grows to fit the longest sequence.
The baseline's rows are computed once and kept on disk, so each candidate is one pass.

GGUF helper: ``zero_tensors`` (a copy with some tensors zeroed: a deliberately broken level, to
check that gates bite; bits per weight are ``harness.serving.quant.tensor_types(path).bpw``)::

    python -c "from harness.analysis.llamacpp_logits import zero_tensors as z; z('m.f16.gguf', 'broken.gguf')"
    harness register tiny:broken --gguf broken.gguf --modelfile modelfiles/qwen2.5-react.Modelfile
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.analysis.divergence import Divergence, _new_acc, accumulate, summarize
from harness.backends.base import BackendError, BackendUnavailable

__all__ = ["BaselineLogits", "GGUFModel", "LlamaCppLogits", "decision_tokens", "zero_tensors"]

Messages = list[dict[str, str]]


class TokenizerMismatch(ValueError):
    """A candidate's tokenizer gives other tokens than the baseline's on the same text."""


class LlamaCppLogits:
    """A :class:`~harness.analysis.divergence.LogitSource` over one GGUF (one thread at a time)."""

    def __init__(
        self,
        gguf: str | Path,
        name: str | None = None,
        *,
        n_ctx: int = 2048,
        n_batch: int = 512,
        n_threads: int | None = None,
    ) -> None:
        try:
            import llama_cpp
        except ImportError:
            raise BackendUnavailable(
                "token-level divergence needs llama-cpp-python: pip install 'react-harness[embedded]'"
            ) from None
        self._lib = llama_cpp
        self.gguf = Path(gguf)
        self.name = name or self.gguf.stem
        self._n_batch = n_batch
        self._threads = n_threads or max(1, min(8, (os.cpu_count() or 2) // 2))
        self._llm: Any = None
        self._load(n_ctx)

    def _load(self, n_ctx: int) -> None:
        self.close()
        from harness._util.signals import deferred_signals

        try:
            with deferred_signals():  # a Ctrl-C during the load is not lost in llama.cpp's callbacks
                self._llm = self._lib.Llama(
                    model_path=str(self.gguf), n_ctx=n_ctx, n_batch=self._n_batch, n_ubatch=self._n_batch,
                    n_threads=self._threads, n_threads_batch=self._threads, logits_all=False, verbose=False,
                )  # fmt: skip
        except (ValueError, RuntimeError) as e:
            raise BackendError(
                f"llama.cpp cannot load {self.gguf}: {e}; check that the GGUF is complete"
            ) from None
        self.n_ctx = self._llm.n_ctx()
        self.n_vocab = self._llm.n_vocab()

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def __enter__(self) -> LlamaCppLogits:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tokenize(self, text: str) -> list[int]:
        """Token ids as the embedded backend and Ollama make them: BOS when the vocabulary asks
        for it, special tokens (``<|im_start|>``) parsed."""
        return self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    def logits(self, tokens: list[int]) -> np.ndarray:
        """``[len(tokens), n_vocab]``: row i holds the logits for the token after tokens[i]."""
        return self.logits_at(tokens, range(len(tokens)))

    def logits_at(self, tokens: Sequence[int], positions: Sequence[int] | range) -> np.ndarray:
        """``[len(positions), n_vocab]`` float32: the logits after ``tokens[p]`` for each p."""
        n = len(tokens)
        pos = [int(p) for p in positions]
        if any(not 0 <= p < n for p in pos):
            raise ValueError(f"positions must lie in [0, {n})")
        if n > self.n_ctx:
            self._load(1 << (n - 1).bit_length())  # a power of two that fits the sequence
        rows: dict[int, np.ndarray] = {}
        want = set(pos)
        llm, lib = self._llm, self._lib
        ctx = llm._ctx.ctx
        lib.llama_memory_clear(lib.llama_get_memory(ctx), True)
        batch = lib.llama_batch_init(self._n_batch, 0, 1)
        try:
            for lo in range(0, n, self._n_batch):
                hi = min(n, lo + self._n_batch)
                batch.n_tokens = hi - lo
                for j, i in enumerate(range(lo, hi)):
                    batch.token[j] = tokens[i]
                    batch.pos[j] = i
                    batch.n_seq_id[j] = 1
                    batch.seq_id[j][0] = 0
                    batch.logits[j] = i in want
                rc = lib.llama_decode(ctx, batch)
                if rc != 0:
                    raise BackendError(f"llama.cpp could not evaluate {self.gguf.name} (llama_decode {rc})")
                for j, i in enumerate(range(lo, hi)):
                    if i in want:
                        ptr = ctypes.cast(lib.llama_get_logits_ith(ctx, j), ctypes.POINTER(ctypes.c_float))
                        rows[i] = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()
        finally:
            lib.llama_batch_free(batch)
        if not pos:
            return np.empty((0, self.n_vocab), dtype=np.float32)
        return np.stack([rows[p] for p in pos]).astype(np.float32, copy=False)


def decision_tokens(
    messages: Messages,
    render: Callable[[Messages], str],
    tokenize: Callable[[str], list[int]],
) -> tuple[list[int], list[int]]:
    """The tokens of a conversation (rendered up to and including its last assistant turn) and
    the positions whose next token is an assistant token: each reply's text and the token that
    ends it (the decision to stop), never the system prompt or the observations.

    ``render`` is the Modelfile TEMPLATE (``Modelfile.prompt``): with an assistant message last
    it renders the reply without its end marker, so ``render(messages[:k])`` and
    ``render(messages[:k + 1])`` bracket reply k. A reply whose tokens do not extend the prefix
    (a BPE merge across the boundary) is left out rather than misaligned.
    """
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None:
        return [], []
    full_msgs = messages[: last + 2] if last + 1 < len(messages) else messages[: last + 1]
    tokens = tokenize(render(full_msgs))
    positions: list[int] = []
    for k, m in enumerate(messages[: last + 1]):
        if m["role"] != "assistant":
            continue
        start = tokenize(render(messages[:k]))
        upto = tokenize(render(messages[: k + 1]))
        n0, n1 = len(start), len(upto)
        if n0 == 0 or n1 <= n0 or upto[:n0] != start or tokens[:n1] != upto:
            continue
        # logits at p predict tokens[p + 1]: the reply's first token … the one after its last
        positions.extend(range(n0 - 1, min(n1, len(tokens) - 1)))
    if positions:
        tokens = tokens[: positions[-1] + 2]
    return tokens, positions


@dataclass
class GGUFModel:
    """A GGUF and the prompt renderer (``Modelfile.prompt``) it is served with."""

    name: str
    gguf: Path
    render: Callable[[Messages], str]


class BaselineLogits:
    """The baseline's logits at the decision positions of a set of conversations, computed
    once and kept as ``.npy`` files in ``folder`` (reused while ``key`` matches), so that every
    candidate is compared without the baseline in memory."""

    def __init__(
        self,
        base: GGUFModel,
        conversations: Sequence[Messages],
        folder: Path,
        *,
        n_threads: int | None = None,
    ) -> None:
        from harness._util.atomic import atomic_write_text, sha256_file

        self.base, self.folder = base, folder
        with LlamaCppLogits(base.gguf, base.name, n_threads=n_threads) as src:
            seqs = [decision_tokens(c, base.render, src.tokenize) for c in conversations]
            self.sequences = [(i, tok, pos) for i, (tok, pos) in enumerate(seqs) if pos]
            ident = [sha256_file(base.gguf), [(t, p) for _, t, p in self.sequences]]
            self.key = hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:24]
            stamp = folder / "baseline.key"
            if not (stamp.exists() and stamp.read_text() == self.key):
                folder.mkdir(parents=True, exist_ok=True)
                stamp.unlink(missing_ok=True)  # the stamp comes back only once every file is written
                for i, tok, pos in self.sequences:
                    np.save(folder / f"baseline-{i}.npy", src.logits_at(tok, pos))
                atomic_write_text(stamp, self.key)

    def compare(
        self, cand: GGUFModel, conversations: Sequence[Messages], *, n_threads: int | None = None
    ) -> Divergence:
        """Candidate vs baseline over the decision positions. Raises ValueError when the
        candidate tokenizes a conversation differently (a different vocabulary)."""
        acc = _new_acc()
        with LlamaCppLogits(cand.gguf, cand.name, n_threads=n_threads) as src:
            for i, tok, pos in self.sequences:
                mine = src.tokenize(cand.render(conversations[i]))
                if mine[: len(tok)] != tok:
                    at = next((k for k, (a, b) in enumerate(zip(mine, tok, strict=False)) if a != b), None)
                    at = min(len(mine), len(tok)) if at is None else at
                    got = mine[at] if at < len(mine) else "end of text"
                    raise TokenizerMismatch(
                        f"{cand.name} tokenizes the conversations differently from {self.base.name}: "
                        f"conversation {i}, token {at} is {got} where the baseline has {tok[at]}"
                    )
                rows = src.logits_at(tok, pos)
                base = np.load(self.folder / f"baseline-{i}.npy")
                accumulate(acc, base, rows, np.asarray(tok, dtype=np.int64)[np.asarray(pos) + 1])
        return summarize(acc)


# ---------------------------------------------------------------------------------- GGUF files
def zero_tensors(src: str | Path, dst: str | Path, prefix: str = "blk.0.") -> list[str]:
    """Copy a GGUF with every tensor whose name starts with ``prefix`` zeroed (a deliberately
    broken level, to check that gates bite); returns the zeroed tensor names."""
    import shutil

    from gguf import GGUFReader

    from harness.errors import UsageError

    reader = GGUFReader(str(src))
    hits = [(t.name, int(t.data_offset), int(t.n_bytes)) for t in reader.tensors if t.name.startswith(prefix)]
    if not hits:
        raise UsageError(f"{src} has no tensor named {prefix}*")
    tmp = Path(dst).with_name(f".{Path(dst).name}.tmp")
    shutil.copyfile(src, tmp)
    with open(tmp, "r+b") as fh:
        for _, offset, n in hits:
            fh.seek(offset)
            fh.write(bytes(n))
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(dst)
    return [name for name, _, _ in hits]
