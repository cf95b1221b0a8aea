"""Atomic file writes: a temp file in the same directory, fsync, then rename, so a reader
never sees a half-written file under its final name."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write_bytes(path: str | Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically; returns its sha256 (hex)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()


def atomic_write_text(path: str | Path, text: str) -> str:
    return atomic_write_bytes(path, text.encode("utf-8"))


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_dir(final: Path, fill: Callable[[Path], None]) -> Path:
    """Build a folder in a temp sibling and rename it to ``final`` once ``fill`` returns."""
    tmp = final.with_name(f".{final.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        fill(tmp)
        umask = os.umask(0)
        os.umask(umask)
        for f in tmp.rglob("*"):  # some writers create 0600 files; make them as readable as the folder
            f.chmod((0o777 if f.is_dir() else 0o666) & ~umask)
        old = final.with_name(f".{final.name}.old{os.getpid()}")
        if final.exists():
            final.replace(old)
        tmp.replace(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def temp_beside(out: Path) -> Path:
    """An empty temp file in ``out``'s directory (same filesystem, so a rename is atomic), with
    the permissions a plain ``open`` would give."""
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    os.close(fd)
    return Path(name)
