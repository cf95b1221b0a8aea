"""What a GGUF file's header says about the model: architecture, name, file type, context length.

:func:`read_gguf_info` reads and checks the header (magic, version, metadata key/values) and
the tensor table (names, shapes, types, offsets), and checks that every tensor's data lies inside
the file, without reading the data: a GGUF cut short is refused when it enters the store, not
when a model first loads it. Every problem is a :class:`GGUFError` with a one-line fix.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from gguf import LlamaFileType

from harness.errors import HarnessError

__all__ = [
    "CONVERTER_KEY",
    "FILE_TYPES",
    "FLOAT_FILE_TYPES",
    "FLOAT_TYPES",
    "GGUFError",
    "GGUFInfo",
    "read_gguf_info",
    "tensor_table",
]

FILE_TYPES = {
    int(t): t.name.removeprefix("ALL_").removeprefix("MOSTLY_") for t in LlamaFileType if t.name != "GUESSED"
}
"""llama.cpp's LLAMA_FTYPE values (``general.file_type``) by name (``15`` → ``Q4_K_M``), from
gguf-py's LlamaFileType."""
FLOAT_TYPES = frozenset({"F32", "F16", "BF16"})
"""The unquantized ggml types (file types and tensor types alike)."""
FLOAT_FILE_TYPES = frozenset(k for k, v in FILE_TYPES.items() if v in FLOAT_TYPES)
"""The unquantized file types (what llama.cpp's quantizer and Ollama's create start from)."""

CONVERTER_KEY = "react_harness.converter"
"""Metadata key train/convert.py writes: a GGUF with it was made by this project (so ``harness
register`` may rewrite its chat template to match the Modelfile)."""


class GGUFError(HarnessError, ValueError):
    """A file that is missing, unreadable or not a GGUF model."""


@dataclass
class GGUFInfo:
    """What the GGUF header says about a model."""

    version: int
    tensor_count: int
    data_end: int = 0
    """Where the last tensor's data ends (bytes from the start of the file)."""
    alignment: int = 32
    """``general.alignment``: the data section starts at a multiple of it."""
    kv_spans: dict[str, tuple[int, int]] = field(default_factory=dict)
    """(start, end) file offsets of each metadata key/value entry (key, type and value), by key."""
    tensor_infos: tuple[int, int] = (0, 0)
    """(start, end) file offsets of the tensor table; the data section starts at ``end`` aligned."""
    architecture: str | None = None
    name: str | None = None
    file_type: int | None = None
    context_length: int | None = None
    chat_template: str | None = None
    """``tokenizer.chat_template`` (Jinja), when the GGUF has one."""
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    converter: str | None = None
    """:data:`CONVERTER_KEY`: which of the project's converters wrote the GGUF, if one did."""
    tensors: list[tuple[str, tuple[int, ...], str]] = field(default_factory=list)
    """(name, shape in ggml order, ggml type name) of each tensor, in file order."""

    @property
    def quantization(self) -> str | None:
        """``Q4_K_M`` style name of ``general.file_type``, when known."""
        return None if self.file_type is None else FILE_TYPES.get(self.file_type, f"type{self.file_type}")


_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}  # fmt: skip


def read_gguf_info(path: str | Path) -> GGUFInfo:
    """Read and check a GGUF header (magic ``GGUF``, version, metadata); raises :class:`GGUFError`."""
    p = Path(path)
    if not p.exists():
        raise GGUFError(f"{p}: no such file; give the path of a .gguf model")
    if not p.is_file():
        raise GGUFError(f"{p}: not a file; give the path of a .gguf model")
    try:
        with open(p, "rb") as fh:
            if fh.read(4) != b"GGUF":
                raise GGUFError(
                    f"{p}: not a GGUF file (no GGUF magic bytes); convert the model to GGUF first"
                )
            return _read_header(fh, p, p.stat().st_size)
    except OSError as e:
        raise GGUFError(f"{p}: cannot read it ({e.strerror})") from None
    except (struct.error, UnicodeDecodeError, EOFError):
        raise GGUFError(f"{p}: truncated or corrupt GGUF header; re-create the file") from None


def _read_header(fh: IO[bytes], p: Path, file_size: int) -> GGUFInfo:
    def num(fmt: str) -> Any:
        size = struct.calcsize(fmt)
        raw = fh.read(size)
        if len(raw) != size:
            raise EOFError
        return struct.unpack(fmt, raw)[0]

    (version,) = struct.unpack("<I", fh.read(4).ljust(4, b"\0"))
    if version not in (1, 2, 3):
        raise GGUFError(f"{p}: unsupported GGUF version {version} (this reads versions 1-3)")
    count_fmt = "<I" if version == 1 else "<Q"
    tensor_count, kv_count = num(count_fmt), num(count_fmt)
    if kv_count > 1_000_000 or tensor_count > 10_000_000:
        raise GGUFError(f"{p}: corrupt GGUF header (implausible counts); re-create the file")

    def string() -> str:
        n = num(count_fmt)
        if n > 1 << 26:
            raise EOFError
        raw = fh.read(n)
        if len(raw) != n:
            raise EOFError
        return raw.decode("utf-8")

    def value(kind: int) -> Any:
        if kind in _SCALARS:
            return num(_SCALARS[kind])
        if kind == 8:
            return string()
        if kind == 9:
            item, n = num("<I"), num(count_fmt)
            if item in _SCALARS:
                fh.seek(struct.calcsize(_SCALARS[item]) * n, os.SEEK_CUR)
            else:
                for _ in range(n):
                    value(item)
            return None
        raise GGUFError(f"{p}: corrupt GGUF header (unknown value type {kind}); re-create the file")

    meta: dict[str, Any] = {}
    spans: dict[str, tuple[int, int]] = {}
    for _ in range(kv_count):
        start = fh.tell()
        key = string()
        meta[key] = value(num("<I"))
        spans[key] = (start, fh.tell())
    align = meta.get("general.alignment") or 32
    if not isinstance(align, int) or align <= 0 or align & (align - 1):
        raise GGUFError(f"{p}: corrupt GGUF header (general.alignment {align!r}); re-create the file")
    infos_start = fh.tell()
    data_end, tensors = _check_tensors(fh, p, file_size, tensor_count, num, string, align)
    arch = meta.get("general.architecture")
    ctx = meta.get(f"{arch}.context_length") if arch else None
    return GGUFInfo(
        version=version,
        tensor_count=tensor_count,
        data_end=data_end,
        alignment=align,
        kv_spans=spans,
        tensor_infos=(infos_start, fh.tell()),
        architecture=arch,
        name=meta.get("general.name"),
        file_type=meta.get("general.file_type"),
        context_length=ctx,
        chat_template=meta.get("tokenizer.chat_template"),
        bos_token_id=meta.get("tokenizer.ggml.bos_token_id"),
        eos_token_id=meta.get("tokenizer.ggml.eos_token_id"),
        converter=meta.get(CONVERTER_KEY),
        tensors=tensors,
    )


def tensor_table(path: str | Path) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, shape in ggml order, type name) of each tensor of the GGUF at ``path``, from its
    checked header (:class:`GGUFError` if it is unreadable or cut short)."""
    return read_gguf_info(path).tensors


def _type_sizes() -> dict[int, tuple[str, int, int]]:
    """ggml tensor type -> (name, elements per block, bytes per block), from gguf-py's table."""
    from gguf import GGML_QUANT_SIZES

    return {int(t): (t.name, *sizes) for t, sizes in GGML_QUANT_SIZES.items()}


def _check_tensors(
    fh: IO[bytes], p: Path, file_size: int, count: int, num: Any, string: Any, align: int
) -> tuple[int, list[tuple[str, tuple[int, ...], str]]]:
    """Read the tensor table after the metadata (leaving ``fh`` at its end); check every tensor's
    data extent against the file size. Returns where the data of the last tensor ends, and the table."""
    if count == 0:
        return fh.tell(), []
    sizes = _type_sizes()
    tensors = []
    for _ in range(count):
        name = string()
        n_dims = num("<I")
        if not 1 <= n_dims <= 4:
            raise GGUFError(
                f"{p}: corrupt GGUF tensor table ({name}: {n_dims} dimensions); re-create the file"
            )
        dims = [num("<Q") for _ in range(n_dims)]
        kind, offset = num("<I"), num("<Q")
        if kind not in sizes:
            raise GGUFError(
                f"{p}: tensor {name} has unknown type {kind}; re-create the file or update the harness"
            )
        tensors.append((name, dims, kind, offset))
    start = -(-fh.tell() // align) * align
    end = start
    table = []
    for name, dims, kind, offset in tensors:
        type_name, block, nbytes = sizes[kind]
        table.append((name, tuple(dims), type_name))
        n = 1
        for d in dims:
            n *= d
        if n % block:
            raise GGUFError(
                f"{p}: tensor {name} has {n} elements, not a multiple of its block; re-create the file"
            )
        end = max(end, start + offset + n // block * nbytes)
    if end > file_size:
        raise GGUFError(
            f"{p}: truncated GGUF ({file_size} bytes, its tensors need {end}); "
            "copy or download the file again"
        )
    return end, table
