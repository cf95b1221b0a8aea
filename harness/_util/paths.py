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


def recorded_path(path: str | Path, root: str | Path, what: str) -> Path:
    """A path a record (build.json) holds, resolved with :func:`inside`: relative to ``root`` as
    records are written now, or, for records written before, relative to the working directory
    the build ran in, when that is where the file is (still checked to lie inside ``root``)."""
    p = inside(path, root, what)
    if not p.exists() and not Path(path).is_absolute():
        legacy = Path(path).resolve()
        if legacy.exists():
            return inside(legacy, root, what)
    return p


def relative_to_root(path: str | Path, root: str | Path) -> str:
    """How a record stores ``path``: relative to ``root`` when inside it (the record stays valid
    when the folder moves or the command runs from elsewhere), else absolute."""
    p, base = Path(path).resolve(), Path(root).resolve()
    return str(p.relative_to(base)) if p.is_relative_to(base) else str(p)


def slug(name: str) -> str:
    """A name as one safe path component: anything but letters, digits and ``-_.`` becomes ``-``
    (``smollm2-react:q8_0`` → ``smollm2-react-q8_0``)."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
