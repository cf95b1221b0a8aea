"""An exclusive lock on a folder that one command owns while it writes there (a bench run).

``fcntl.flock`` on ``<folder>/.lock``: the kernel drops it when the holder exits, however it
dies (kill -9 included), so a stale lock never blocks a resume. The file says who holds it
(pid, host, since when) for the message the second command prints.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from harness.errors import HarnessError

__all__ = ["FolderLock", "FolderLocked"]


class FolderLocked(HarnessError):
    """Another process holds the folder."""


class FolderLock:
    """``with FolderLock(folder, "bench run"):`` — raises :class:`FolderLocked` naming the holder."""

    def __init__(self, folder: str | Path, what: str = "folder") -> None:
        self.folder = Path(folder)
        self.path = self.folder / ".lock"
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise FolderLocked(
                f"{self.folder} is in use by another {self.what} ({holder}); "
                "wait for it to finish, or use another --out"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file stays (unlinking it would race)
            self._fd = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
        return f"pid {info['pid']} on {info['host']}, since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"
