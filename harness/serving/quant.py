"""Quantization levels and the llama.cpp quantizer: the one home of what the levels are called,
which llama.cpp file type each is, and which tensor types its mixture uses.

``FILE_TYPES`` (llama.cpp's ``LLAMA_FTYPE``, ``general.file_type``) and ``FLOAT_TYPES`` live with
the header reader in :mod:`harness.serving.gguf_info` and are re-exported here.

:func:`quantize` is the one quantizer: ``python -m train.quantize``, ``harness build`` and
``harness register --quantize`` all run it, and each gets its report of k-quant fallbacks.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness._util.atomic import sha256_file, temp_beside
from harness.errors import HarnessError
from harness.serving.gguf_info import FILE_TYPES, FLOAT_TYPES, GGUFError, read_gguf_info

__all__ = [
    "FILE_TYPES", "FLOAT_LEVELS", "FLOAT_TYPES", "LEVELS", "LEVEL_ORDER", "QUANT_TYPES", "QuantResult",
    "QuantizeError", "TensorTypes", "fallback_note", "parse_levels", "quantize", "tensor_table", "tensor_types",
]  # fmt: skip


class QuantizeError(HarnessError, ValueError):
    """A quantization level, source file or llama.cpp run that failed."""


# level -> tensor types llama.cpp's mixture for it uses when every row length divides.
LEVELS: dict[str, frozenset[str]] = {
    "q8_0": frozenset({"Q8_0"}),
    "q6_k": frozenset({"Q6_K"}),
    "q5_k_m": frozenset({"Q5_K", "Q6_K"}),
    "q5_k_s": frozenset({"Q5_K", "Q6_K"}),
    "q5_1": frozenset({"Q5_1", "Q6_K"}),
    "q5_0": frozenset({"Q5_0", "Q6_K"}),
    "q4_k_m": frozenset({"Q4_K", "Q5_K", "Q6_K"}),
    "q4_k_s": frozenset({"Q4_K", "Q5_K", "Q6_K"}),
    "q4_1": frozenset({"Q4_1", "Q6_K"}),
    "q4_0": frozenset({"Q4_0", "Q6_K"}),
    "iq4_nl": frozenset({"IQ4_NL", "Q5_K", "Q6_K"}),
    "iq4_xs": frozenset({"IQ4_XS", "Q5_K", "Q6_K"}),
    "q3_k_l": frozenset({"Q3_K", "Q4_K", "Q5_K", "Q6_K"}),
    "q3_k_m": frozenset({"Q3_K", "Q4_K", "Q5_K", "Q6_K"}),
    "q3_k_s": frozenset({"Q3_K", "Q4_K", "Q5_K", "Q6_K"}),
    "q2_k": frozenset({"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"}),
}
FLOAT_LEVELS = ("f32", "bf16", "f16")
"""The unquantized levels, widest first."""
LEVEL_ORDER = FLOAT_LEVELS + tuple(LEVELS)
"""Every level, from the most bits to the fewest."""
QUANT_TYPES = {name.lower(): ftype for ftype, name in FILE_TYPES.items() if name.lower() in LEVELS}
"""level -> llama.cpp file type, for the levels :data:`LEVELS` describes."""


def _llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise HarnessError(
            "quantizing needs llama-cpp-python: pip install 'react-harness[embedded]'"
        ) from None
    return llama_cpp


def tensor_table(path: str | Path) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, shape in ggml order, type name) of each tensor in a GGUF, from the one header reader
    (:func:`harness.serving.gguf_info.read_gguf_info`); QuantizeError if it is unreadable."""
    try:
        return read_gguf_info(path).tensors
    except GGUFError as e:
        raise QuantizeError(
            f"{path} is not a readable GGUF file: {str(e).removeprefix(f'{path}: ')}"
        ) from None


@dataclass
class TensorTypes:
    """What a GGUF's tensors are stored as: counts per type over the matrices (2-D and up), each
    matrix's (name, type, row length), and the parameter and byte totals over all tensors."""

    counts: dict[str, int]
    matrices: list[tuple[str, str, int]]
    n_params: int
    n_bytes: int

    @property
    def bpw(self) -> float:
        """Bits per weight over all tensors, from their types."""
        return 8 * self.n_bytes / max(self.n_params, 1)

    def fallback(self, level: str) -> list[tuple[str, str, int]]:
        """The matrices stored in a type outside ``level``'s mixture (k-quants need rows that
        divide by 256: llama.cpp stores other rows as Q5_0, Q8_0 …)."""
        allowed = LEVELS.get(level)
        return [] if allowed is None else [m for m in self.matrices if m[1] not in allowed]


def tensor_types(path: str | Path) -> TensorTypes:
    """:class:`TensorTypes` of the GGUF at ``path``, from its header (QuantizeError if unreadable)."""
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    counts: collections.Counter[str] = collections.Counter()
    matrices: list[tuple[str, str, int]] = []
    n_params = n_bytes = 0
    for name, shape, ttype in tensor_table(Path(path)):
        n = math.prod(shape)
        block, size = GGML_QUANT_SIZES[GGMLQuantizationType[ttype]]
        n_params += n
        n_bytes += n // block * size
        if len(shape) >= 2:
            counts[ttype] += 1
            matrices.append((name, ttype, shape[0]))
    return TensorTypes(dict(counts), matrices, n_params, n_bytes)


def fallback_note(level: str, fallback: list[tuple[str, str, int]], n_matrices: int) -> str | None:
    """One line on the matrices of ``level`` that llama.cpp stored in another type (None if none)."""
    if not fallback:
        return None
    got = "/".join(sorted({t for _, t, _ in fallback}))
    wanted = "/".join(sorted(LEVELS[level]))
    rows = ", ".join(str(r) for r in sorted({r for _, _, r in fallback}))
    return (
        f"{len(fallback)}/{n_matrices} matrices stored as {got}, not {wanted}: "
        f"rows of {rows} are not a multiple of 256, which k-quants need"
    )


@dataclass
class QuantResult:
    level: str
    path: Path
    sha256: str
    size: int
    n_params: int
    bpw: float  # bits per weight over all tensors, from their types
    types: dict[str, int]  # tensor type -> count
    fallback: list[tuple[str, str, int]] = field(default_factory=list)  # (tensor, type, row length)
    seconds: float = 0.0

    @property
    def note(self) -> str | None:
        return fallback_note(self.level, self.fallback, sum(self.types.values()))

    def line(self) -> str:
        text = (
            f"{self.level:<7} {self.path.name}  {self.size / 1e6:9.1f} MB  {self.bpw:5.2f} bpw  "
            f"sha256 {self.sha256[:16]}  ({self.seconds:.1f}s)"
        )
        return f"{text}\n        note: {self.note}" if self.note else text


def parse_levels(text: str) -> list[str]:
    """``"q8_0,q4_k_m"`` (or ``all``) → levels; QuantizeError naming the valid ones."""
    if text.strip().lower() == "all":
        return list(LEVELS)
    levels = [x.strip().lower() for x in text.split(",") if x.strip()]
    bad = [x for x in levels if x not in LEVELS]
    if bad or not levels:
        raise QuantizeError(
            f"unknown quantization level {', '.join(bad) or '(none given)'}; valid: {', '.join(LEVELS)}"
        )
    return levels


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send what llama.cpp prints (file descriptor 2, and llama-cpp-python's log callback, which
    writes to ``sys.stderr``) to ``path`` for the duration."""
    from llama_cpp._logger import logger

    sys.stderr.flush()
    saved_fd, saved_obj, saved_level = os.dup(2), sys.stderr, logger.level
    # llama-cpp-python maps ggml's ERROR level to DEBUG, so after any Llama(verbose=False) it
    # drops errors: let everything through while it all goes to the log.
    logger.setLevel(logging.DEBUG)
    with open(path, "ab") as fh, open(path, "a", buffering=1, encoding="utf-8", errors="replace") as text:
        os.dup2(fh.fileno(), 2)
        sys.stderr = text
        try:
            yield
        finally:
            sys.stderr = saved_obj
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            logger.setLevel(saved_level)


def quantize(
    src: str | Path, level: str, out: str | Path, *, nthread: int | None = None, verbose: bool = False
) -> QuantResult:
    """Quantize the F16/BF16/F32 GGUF ``src`` to ``level`` at ``out`` (atomically) with llama.cpp's
    own ``llama_model_quantize``: the project's one quantizer (``train.quantize``, ``harness build``
    and ``harness register --quantize`` all come here). The result says which matrices fell back
    to another type."""
    t0 = time.perf_counter()
    levels = parse_levels(level)
    if len(levels) != 1:
        raise QuantizeError(f"quantize() takes one level, got {level!r}; use quantize_all for several")
    level = levels[0]
    src, out = Path(src), Path(out)
    if not src.is_file():
        raise QuantizeError(f"{src} does not exist: convert a model first (python -m train.convert)")
    quantized = sorted(set(tensor_types(src).counts) - FLOAT_TYPES)
    if quantized:
        raise QuantizeError(
            f"{src} is already quantized ({', '.join(quantized)}); quantize from the F16/BF16/F32 GGUF"
        )
    llama_cpp = _llama_cpp()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[level]
    params.nthread = nthread or os.cpu_count() or 1
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(out)
    log = tmp.with_name(tmp.name + ".log")
    try:
        if verbose:
            rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
        else:
            with _stderr_to(log):
                rc = llama_cpp.llama_model_quantize(
                    str(src).encode(), str(tmp).encode(), ctypes.byref(params)
                )
        if rc != 0:
            said = (
                [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
                if log.exists()
                else []
            )
            raise QuantizeError(
                f"llama.cpp failed to quantize {src.name} to {level}: {said[-1] if said else rc}"
            )
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
        log.unlink(missing_ok=True)
    types = tensor_types(out)
    return QuantResult(
        level=level,
        path=out,
        sha256=sha256_file(out),
        size=out.stat().st_size,
        n_params=types.n_params,
        bpw=types.bpw,
        types=types.counts,
        fallback=types.fallback(level),
        seconds=time.perf_counter() - t0,
    )
