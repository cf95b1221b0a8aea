"""How library code reports progress without touching the console: a function that takes a
work unit's total is given by the caller, and the command line draws it (``_util.cli.byte_bar``).

    def upload(path, progress: ByteProgress | None = None):
        with (progress or silent)(f"upload {path.name}", path.stat().st_size) as advance:
            for chunk in ...:
                advance(len(chunk))
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

ByteProgress = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]
"""``progress(label, total_bytes)``: a context whose value takes each chunk's byte count."""


@contextlib.contextmanager
def silent(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """The ``ByteProgress`` that shows nothing."""
    yield lambda n: None
