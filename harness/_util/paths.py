"""Path containment: a path read from a file the harness wrote (a store manifest, build.json,
lineage.json) must lie inside the folder it belongs to, so that an edited file can never make
the harness read, register or delete something elsewhere."""

from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError

__all__ = ["PathEscape", "inside", "slug"]


class PathEscape(HarnessError, ValueError):
    """A recorded path points outside the folder it belongs to."""


def inside(path: str | Path, root: str | Path, what: str) -> Path:
    """``path`` resolved (relative paths against ``root``), after checking that it lies inside
    ``root``; raises :class:`PathEscape` naming ``what`` (the file that recorded it)."""
    base = Path(root).resolve()
    p = Path(path)
    resolved = (p if p.is_absolute() else base / p).resolve()
    if resolved != base and not resolved.is_relative_to(base):
        raise PathEscape(
            f"{what} names {str(path)!r}, outside {base}; the file was edited or is damaged — "
            "delete it and create it again"
        )
    return resolved


def slug(name: str) -> str:
    """A name as one safe path component: anything but letters, digits and ``-_.`` becomes ``-``
    (``smollm2-react:q8_0`` → ``smollm2-react-q8_0``)."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
