"""Error handling shared by the ``python -m train.<stage>`` scripts: a HarnessError becomes one
line on stderr and its exit code (``--debug`` re-raises it with the traceback)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from harness.errors import HarnessError


@contextmanager
def one_line_errors(debug: bool) -> Iterator[None]:
    try:
        yield
    except HarnessError as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
