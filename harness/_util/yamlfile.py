"""Reading a user's YAML file (suite, recipe, gates) with one-line errors that name the file
and, for syntax errors, the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError


def read_yaml(path: str | Path, what: str, error: type[HarnessError]) -> tuple[Any, str]:
    """``(data, text)`` of the YAML file at ``path``; raises ``error`` naming the file
    (``what`` says what it should be: "suite", "recipe", "the gates file")."""
    p = Path(path)
    try:
        text = decode_text(p.read_bytes(), p, what, error)
        return yaml.safe_load(text), text
    except OSError as e:
        raise error(f"{p}: cannot read {what} ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise error(f"{p}:{where} invalid YAML ({getattr(e, 'problem', None) or e})") from None


def decode_text(raw: bytes, p: str | Path, what: str, error: type[HarnessError]) -> str:
    """``raw`` as UTF-8, or ``error`` naming the file, line and byte that is not."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise error(
            f"{p}: line {line}: {what} is not UTF-8 text (byte {raw[e.start]:#04x}); save it as UTF-8"
        ) from None
