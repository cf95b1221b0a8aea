"""Quantization levels and the llama.cpp quantizer: the one home of what the levels are called,
which llama.cpp file type each is, and which tensor types its mixture uses.

``FILE_TYPES`` is llama.cpp's ``LLAMA_FTYPE`` (``general.file_type``), the same numbers and
names as the ``gguf`` package's ``LlamaFileType`` (a test checks it); it is written out here
because the harness reads GGUF headers without the ``gguf`` package, which only the model
factory installs.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, UsageError

__all__ = [
    "FILE_TYPES", "FLOAT_LEVELS", "FLOAT_TYPES", "LEVELS", "LEVEL_ORDER", "QUANT_TYPES", "QuantizeError",
    "quantize_gguf", "tensor_table",
]  # fmt: skip


class QuantizeError(HarnessError, ValueError):
    """A quantization level, source file or llama.cpp run that failed."""


# llama.cpp's LLAMA_FTYPE values (general.file_type) by name.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M",
    30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4",
    40: "Q1_0",
}  # fmt: skip

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
FLOAT_TYPES = {"F32", "F16", "BF16"}
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


_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def tensor_table(path: Path) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, shape in ggml order, type name) of each tensor in a GGUF, read from its header.
    (gguf.GGUFReader parses every metadata value first: ~10 s for a 152k-token vocabulary.)"""
    from gguf import GGMLQuantizationType

    def fail(why: str) -> QuantizeError:
        return QuantizeError(f"{path} is not a readable GGUF file: {why}")

    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            if buf[:4] != b"GGUF":
                raise fail("bad magic")
            n_tensors, n_kv = struct.unpack_from("<QQ", buf, 8)
            pos = 24

            def string() -> str:
                nonlocal pos
                (n,) = struct.unpack_from("<Q", buf, pos)
                pos += 8 + n
                return bytes(buf[pos - n : pos]).decode("utf-8", "replace")

            def skip(vtype: int) -> None:
                nonlocal pos
                if vtype == 8:
                    string()
                elif vtype == 9:
                    sub, count = struct.unpack_from("<IQ", buf, pos)
                    pos += 12
                    if sub in _SCALAR_SIZES:
                        pos += count * _SCALAR_SIZES[sub]
                    else:
                        for _ in range(count):
                            skip(sub)
                else:
                    pos += _SCALAR_SIZES[vtype]

            for _ in range(n_kv):
                string()
                (vtype,) = struct.unpack_from("<I", buf, pos)
                pos += 4
                skip(vtype)
            table = []
            for _ in range(n_tensors):
                name = string()
                (n_dims,) = struct.unpack_from("<I", buf, pos)
                dims = struct.unpack_from(f"<{n_dims}Q", buf, pos + 4)
                (ttype,) = struct.unpack_from("<I", buf, pos + 4 + 8 * n_dims)
                pos += 4 + 8 * n_dims + 4 + 8
                table.append((name, tuple(int(d) for d in dims), GGMLQuantizationType(ttype).name))
            return table
    except (OSError, ValueError, KeyError, struct.error) as e:
        raise fail(str(e) or type(e).__name__) from e


def quantize_gguf(src: str | Path, dst: str | Path, qtype: str, info: Any = None) -> None:
    """Quantize an F32/F16/BF16 GGUF to ``qtype`` (``q4_K_M`` …) with llama.cpp."""
    import ctypes

    from rich.console import Console

    llama_cpp = _llama_cpp()
    ftype = QUANT_TYPES.get(qtype.lower())
    if ftype is None:
        raise UsageError(f"unknown quantization {qtype!r}; use one of {', '.join(QUANT_TYPES)}")
    if info is not None and info.file_type not in (0, 1, 32):
        raise UsageError(
            f"{src} is already quantized ({info.quantization}); --quantize needs an F16, BF16 or F32 GGUF"
        )
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = os.cpu_count() or 1
    log = logging.getLogger("llama-cpp-python")  # llama.cpp's own log lines go through it
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with Console(stderr=True).status(f"quantizing to {qtype} …"):
            rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    finally:
        log.setLevel(level)
    if rc != 0:
        Path(dst).unlink(missing_ok=True)
        raise QuantizeError(f"llama.cpp could not quantize {src} to {qtype} (code {rc})")
