"""Token-level divergence between two models on the same token sequence, as llama.cpp's
perplexity tool reports it for quantized models (``--kl-divergence``): mean / 99th-percentile
KL divergence of the candidate's next-token distribution from the baseline's, top-1 agreement
("same top p"), mean Δp (change of the probability given to the actual next token) and the
perplexity ratio — computed here from full-vocabulary logits at chosen positions.

A ``LogitSource`` is anything that turns token ids into next-token logits (llama.cpp with
``logits_all``, transformers, …). Positions are usually the tokens of the assistant turns of
gold ReAct conversations (the agent's decisions), not the observations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np


class LogitSource(Protocol):
    name: str

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` (special tokens such as <|im_start|> parsed as such)."""
        ...

    def logits(self, tokens: list[int]) -> np.ndarray:
        """``[len(tokens), vocab]`` float32: row i holds the logits for the token after tokens[i]."""
        ...


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64, copy=False)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


@dataclass
class Divergence:
    """Statistics over the compared positions (candidate vs baseline)."""

    positions: int
    mean_kld: float
    p99_kld: float
    max_kld: float
    same_top1: float
    """Share of positions where both models' most likely next token is the same."""
    mean_delta_p: float
    """Mean of p_candidate(actual next token) − p_baseline(actual next token)."""
    ppl_base: float
    ppl_candidate: float

    @property
    def ppl_ratio(self) -> float:
        return self.ppl_candidate / self.ppl_base if self.ppl_base else float("nan")

    def to_dict(self) -> dict:
        return {**asdict(self), "ppl_ratio": self.ppl_ratio}


@dataclass
class _Acc:
    kld: list[np.ndarray]
    top1: list[np.ndarray]
    dp: list[np.ndarray]
    nll_base: list[np.ndarray]
    nll_cand: list[np.ndarray]


def _new_acc() -> _Acc:
    return _Acc([], [], [], [], [])


def accumulate(acc: _Acc, base_logits: np.ndarray, cand_logits: np.ndarray, next_tokens: np.ndarray) -> None:
    """Add positions: row i of each logits array predicts ``next_tokens[i]``."""
    if base_logits.shape != cand_logits.shape:
        n = min(base_logits.shape[-1], cand_logits.shape[-1])  # padded vocabularies
        base_logits, cand_logits = base_logits[..., :n], cand_logits[..., :n]
    lb, lc = log_softmax(base_logits), log_softmax(cand_logits)
    pb = np.exp(lb)
    acc.kld.append(np.maximum((pb * (lb - lc)).sum(axis=-1), 0.0))
    acc.top1.append(lb.argmax(axis=-1) == lc.argmax(axis=-1))
    idx = np.arange(len(next_tokens))
    acc.dp.append(np.exp(lc[idx, next_tokens]) - np.exp(lb[idx, next_tokens]))
    acc.nll_base.append(-lb[idx, next_tokens])
    acc.nll_cand.append(-lc[idx, next_tokens])


def summarize(acc: _Acc) -> Divergence:
    if not acc.kld:
        raise ValueError("no positions compared")
    kld = np.concatenate(acc.kld)
    return Divergence(
        positions=int(kld.size),
        mean_kld=float(kld.mean()),
        p99_kld=float(np.percentile(kld, 99)),
        max_kld=float(kld.max()),
        same_top1=float(np.concatenate(acc.top1).mean()),
        mean_delta_p=float(np.concatenate(acc.dp).mean()),
        ppl_base=float(np.exp(np.concatenate(acc.nll_base).mean())),
        ppl_candidate=float(np.exp(np.concatenate(acc.nll_cand).mean())),
    )


def compare_sources(
    base: LogitSource,
    candidate: LogitSource,
    sequences: list[tuple[list[int], list[int]]],
) -> Divergence:
    """Compare two sources on token sequences. Each item is ``(tokens, positions)``: the
    logits at position i (predicting tokens[i + 1]) are compared for every i in positions."""
    acc = _new_acc()
    for tokens, positions in sequences:
        pos = np.array([p for p in positions if p + 1 < len(tokens)], dtype=np.int64)
        if pos.size == 0:
            continue
        lb = base.logits(tokens)[pos]
        lc = candidate.logits(tokens)[pos]
        accumulate(acc, lb, lc, np.asarray(tokens, dtype=np.int64)[pos + 1])
    return summarize(acc)
