from __future__ import annotations

import numpy as np
import pytest

from harness.analysis.divergence import _new_acc, accumulate, compare_sources, log_softmax, summarize


class Fixed:
    def __init__(self, name: str, table: np.ndarray) -> None:
        self.name, self.table = name, table

    def tokenize(self, text: str) -> list[int]:
        return [int(c) for c in text]

    def logits(self, tokens: list[int]) -> np.ndarray:
        return self.table[np.asarray(tokens)]


def test_identical_models_have_zero_divergence() -> None:
    rng = np.random.default_rng(0)
    t = rng.normal(size=(10, 10)).astype(np.float32)
    d = compare_sources(Fixed("a", t), Fixed("b", t.copy()), [([1, 2, 3, 4, 5], [0, 1, 2, 3])])
    assert d.positions == 4 and d.mean_kld == pytest.approx(0, abs=1e-9) and d.same_top1 == 1.0
    assert d.ppl_ratio == pytest.approx(1.0) and d.mean_delta_p == pytest.approx(0, abs=1e-12)


def test_kld_matches_a_hand_computed_value_and_grows_with_noise() -> None:
    base = np.log(np.array([[0.5, 0.25, 0.25]]))
    cand = np.log(np.array([[0.25, 0.5, 0.25]]))
    acc = _new_acc()
    accumulate(acc, base, cand, np.array([0]))
    d = summarize(acc)
    want = 0.5 * np.log(2) + 0.25 * np.log(0.5)
    assert d.mean_kld == pytest.approx(want) and d.same_top1 == 0.0
    assert d.mean_delta_p == pytest.approx(-0.25) and d.ppl_ratio == pytest.approx(2.0)
    rng = np.random.default_rng(1)
    t = rng.normal(size=(50, 50))
    seqs = [(list(rng.integers(0, 50, 40)), list(range(39)))]
    small = compare_sources(Fixed("a", t), Fixed("b", t + rng.normal(scale=0.05, size=t.shape)), seqs)
    big = compare_sources(Fixed("a", t), Fixed("b", t + rng.normal(scale=0.5, size=t.shape)), seqs)
    assert 0 < small.mean_kld < big.mean_kld and small.same_top1 >= big.same_top1


def test_log_softmax_is_stable() -> None:
    x = np.array([[1000.0, 1000.0]])
    assert np.allclose(np.exp(log_softmax(x)), 0.5)
