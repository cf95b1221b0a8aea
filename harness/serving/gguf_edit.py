"""Rewrite one string of a GGUF's metadata (``tokenizer.chat_template``) without touching its tensors.

GGUF layout: header, metadata key/values, tensor infos (offsets relative to the data section),
padding to ``general.alignment`` (32 when unset), tensor data. Replacing a value moves the tensor
infos, so the data section is re-aligned and copied byte for byte; the tensor offsets stay valid.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

from harness.serving.gguf_info import GGUFError, read_gguf_info

__all__ = ["set_metadata_string"]

_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def set_metadata_string(src: str | Path, dst: str | Path, key: str, value: str) -> None:
    """Write ``src`` to ``dst`` with the string ``key`` set to ``value`` (added when absent)."""
    src, dst = Path(src), Path(dst)
    info = read_gguf_info(src)  # checks the header and that every tensor lies inside the file
    if info.version != 3:
        raise GGUFError(f"{src}: GGUF version {info.version}; only version 3 files can be rewritten")
    with open(src, "rb") as fh:
        head = fh.read(24)
        n_tensors, n_kv = struct.unpack_from("<QQ", head, 8)
        kvs: list[bytes] = []
        found, alignment = False, 32
        for _ in range(n_kv):
            start = fh.tell()
            name = _string(fh)
            (kind,) = struct.unpack("<I", fh.read(4))
            if name == "general.alignment" and kind == 4:
                (alignment,) = struct.unpack("<I", fh.read(4))
            else:
                _skip(fh, kind)
            end = fh.tell()
            if name == key:
                found = True
                kvs.append(_pack_string(name) + struct.pack("<I", 8) + _pack_string(value))
            else:
                fh.seek(start)
                kvs.append(fh.read(end - start))
        if not found:
            kvs.append(_pack_string(key) + struct.pack("<I", 8) + _pack_string(value))
        infos_start = fh.tell()
        for _ in range(n_tensors):
            _string(fh)
            (n_dims,) = struct.unpack("<I", fh.read(4))
            fh.seek(8 * n_dims + 4 + 8, os.SEEK_CUR)
        infos = _read_at(fh, infos_start, fh.tell() - infos_start)
        data_start = _align(fh.tell(), alignment)
        header = head[:16] + struct.pack("<Q", len(kvs)) + b"".join(kvs) + infos
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as out:
                out.write(header + b"\0" * (_align(len(header), alignment) - len(header)))
                fh.seek(data_start)
                shutil.copyfileobj(fh, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dst)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _read_at(fh, pos: int, n: int) -> bytes:  # type: ignore[no-untyped-def]
    here = fh.tell()
    fh.seek(pos)
    data = fh.read(n)
    fh.seek(here)
    return data


def _string(fh) -> str:  # type: ignore[no-untyped-def]
    (n,) = struct.unpack("<Q", fh.read(8))
    return fh.read(n).decode("utf-8")


def _pack_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _skip(fh, kind: int) -> None:  # type: ignore[no-untyped-def]
    if kind in _SIZES:
        fh.seek(_SIZES[kind], os.SEEK_CUR)
    elif kind == 8:
        _string(fh)
    elif kind == 9:
        item, count = struct.unpack("<IQ", fh.read(12))
        if item in _SIZES:
            fh.seek(_SIZES[item] * count, os.SEEK_CUR)
        else:
            for _ in range(count):
                _skip(fh, item)
    else:
        raise GGUFError(f"unknown GGUF value type {kind}")
