"""Reading a JSON file the harness wrote (run.json, build.json, a manifest) with a one-line
error naming the file when it is unreadable, empty, not UTF-8 or not a JSON object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import HarnessError


def read_json(path: str | Path, what: str, error: type[HarnessError], fix: str) -> dict[str, Any]:
    """The JSON object in ``path``; raises ``error`` ("<path>: damaged <what> (why); <fix>")."""
    p = Path(path)
    try:
        data = json.loads(p.read_bytes().decode("utf-8"))
    except OSError as e:
        raise error(f"{p}: cannot read {what} ({e.strerror}); {fix}") from None
    except UnicodeDecodeError as e:
        raise error(f"{p}: damaged {what} (not UTF-8 at byte {e.start}); {fix}") from None
    except ValueError as e:
        why = "empty file" if not p.stat().st_size else f"invalid JSON: {e}"
        raise error(f"{p}: damaged {what} ({why}); {fix}") from None
    if not isinstance(data, dict):
        raise error(f"{p}: damaged {what} (not a JSON object); {fix}")
    return data
