"""Rewrite one string of a GGUF's metadata (``tokenizer.chat_template``) without touching its tensors.

GGUF layout: header, metadata key/values, tensor infos (offsets relative to the data section),
padding to ``general.alignment`` (32 when unset), tensor data. Replacing a value moves the tensor
infos, so the data section is re-aligned and copied byte for byte; the tensor offsets stay valid.
The header is read and checked once, by :func:`~harness.serving.gguf_info.read_gguf_info`, which
gives each key/value's byte span, the tensor table's span and the alignment; this splices bytes.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path
from typing import BinaryIO

from harness.serving.gguf_info import GGUFError, read_gguf_info

__all__ = ["set_metadata_string"]


def set_metadata_string(src: str | Path, dst: str | Path, key: str, value: str) -> None:
    """Write ``src`` to ``dst`` with the string ``key`` set to ``value`` (added when absent)."""
    src, dst = Path(src), Path(dst)
    info = read_gguf_info(src)  # checks the header and that every tensor lies inside the file
    if info.version != 3:
        raise GGUFError(f"{src}: GGUF version {info.version}; only version 3 files can be rewritten")
    entry = _pack_string(key) + struct.pack("<I", 8) + _pack_string(value)
    with open(src, "rb") as fh:
        head = fh.read(16)  # magic, version, tensor count
        kvs = [entry if name == key else _read(fh, span) for name, span in info.kv_spans.items()]
        if key not in info.kv_spans:
            kvs.append(entry)
        infos = _read(fh, info.tensor_infos)
        header = head + struct.pack("<Q", len(kvs)) + b"".join(kvs) + infos
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as out:
                out.write(header + b"\0" * (_align(len(header), info.alignment) - len(header)))
                fh.seek(_align(info.tensor_infos[1], info.alignment))
                shutil.copyfileobj(fh, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dst)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _read(fh: BinaryIO, span: tuple[int, int]) -> bytes:
    fh.seek(span[0])
    return fh.read(span[1] - span[0])


def _pack_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw
