"""Reading a user's YAML file (suite, recipe, gates) with one-line errors that name the file
and the line: :func:`read_yaml` for the text, :func:`load_model` to validate it against a pydantic
model (suites, gates), :func:`key_line` to find where a key sits."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import HarnessError

M = TypeVar("M", bound=BaseModel)


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


def key_line(text: str, loc: tuple[Any, ...] | list[Any]) -> int | None:
    """1-based line of the deepest node of ``loc`` (mapping keys, list indexes) found in the YAML
    ``text``: the key's own line for a mapping entry; None when not even the first step is there."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            hit = next(
                ((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(step)),
                None,
            )
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            break
    return line


def validation_line(e: ValidationError, source: str, text: str | None = None) -> str:
    """The first error of a pydantic ValidationError as one line: ``source line N: loc: message``."""
    err = e.errors()[0]
    loc = [x for x in err["loc"] if x != "[key]"]
    line = key_line(text, loc) if text is not None else None
    where = f"{source} line {line}" if line else source
    msg = str(err["msg"]).removeprefix("Value error, ")
    field = ".".join(str(x) for x in loc)
    return f"{where}: {field}: {msg}" if field else f"{where}: {msg}"


def load_model(
    path: str | Path,
    model: type[M],
    what: str,
    error: type[HarnessError],
    defaults: dict[str, Any] | None = None,
) -> M:
    """The YAML file at ``path`` validated as ``model`` (``defaults`` fill keys the file lacks);
    any problem is one ``error`` naming the file and, where it can, the line."""
    p = Path(path)
    data, text = read_yaml(p, what, error)
    if not isinstance(data, dict):
        raise error(f"{p}: {what} must be a YAML mapping")
    for k, v in (defaults or {}).items():
        data.setdefault(k, v)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise error(validation_line(e, str(p), text)) from None
