"""Files the project ships beside its code: suites (``scenarios/``), Modelfiles (``modelfiles/``)
and the sample regression gates (``regress/``).

In a checkout (or an editable install) they are the top-level folders of the repository; a
wheel carries copies under ``harness/_shipped/<folder>/`` (setup.py's build step), read through
``importlib.resources``. User files still win wherever the CLI takes a path.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from harness.errors import HarnessError

__all__ = ["shipped_dir", "shipped_file"]

FOLDERS = ("scenarios", "modelfiles", "regress")


def shipped_dir(folder: str) -> Path | None:
    """The installed copy of a shipped folder, else the checkout's; None when neither exists."""
    if folder not in FOLDERS:
        raise ValueError(f"not a shipped folder: {folder}")
    installed = importlib.resources.files("harness") / "_shipped" / folder
    if installed.is_dir():
        return Path(str(installed))
    checkout = Path(__file__).resolve().parents[2] / folder
    return checkout if checkout.is_dir() else None


def shipped_file(folder: str, name: str) -> Path:
    """One shipped file, or a HarnessError saying that the install is incomplete."""
    base = shipped_dir(folder)
    path = base / name if base else None
    if path is None or not path.is_file():
        raise HarnessError(f"{folder}/{name} is not installed with the harness; reinstall it (pip install .)")
    return path
