"""Signals: SIGTERM handled like Ctrl-C, and Ctrl-C held back while native code runs.

A KeyboardInterrupt raised inside a ctypes callback (llama.cpp's log and progress callbacks run
Python code while a model loads) is printed and *ignored* by ctypes, so a Ctrl-C during a load
used to be swallowed. :func:`deferred_signals` records SIGINT/SIGTERM while its block runs and
raises them once it ends (or at once, when the block raises first)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harness.errors import Terminated

__all__ = ["deferred_signals", "install_sigterm"]


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


def install_sigterm() -> Any:
    """From now on SIGTERM raises :class:`~harness.errors.Terminated` (a KeyboardInterrupt) in the
    main thread: commands stop as on Ctrl-C, print how to resume, and the CLI exits 143.
    Returns the handler it replaced (None outside the main thread)."""
    if threading.current_thread() is threading.main_thread():
        return signal.signal(signal.SIGTERM, _raise_terminated)
    return None


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then act on the first one that came."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def hold(signum: int, frame: Any) -> None:
        got.append(signum)

    for s in old:
        signal.signal(s, hold)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if got:
            if got[0] == signal.SIGTERM:
                raise Terminated
            raise KeyboardInterrupt
