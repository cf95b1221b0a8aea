"""What ``harness register`` sends to Ollama's ``/api/create`` and how it checks the result.

Followed from ollama/ollama at :data:`~harness.serving.emulation.OLLAMA_COMMIT`:

* :func:`create_request` is the body ``ollama create`` sends for a Modelfile
  (parser/parser.go ``Modelfile.CreateRequest``): files and draft_files by digest, template,
  system, parameters, messages, license (a list), renderer, parser, requires, quantize.
* :func:`reject_matching_local_path`: a DRAFT may not be the FROM file (parser.go).
* :func:`check_quantize`: the types create accepts (fs/ggml/type.go ``ParseFileType``, after
  server/create.go ``createModel`` upper-cases the name), only from an F16/BF16/F32 GGUF.
* :func:`parse_show_parameters` reads the ``parameters`` text of ``/api/show`` (server/routes.go
  ``GetModelInfo``: one ``fmt.Sprintf("%-*s %#v", 30, key, value)`` line per value, a list one
  line per item, so strings are Go-quoted and numbers are float64 in ``%g`` form).
* :func:`verify_show` compares that answer with what was sent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.backends.base import BackendError
from harness.errors import UsageError
from harness.serving.gguf_info import FLOAT_FILE_TYPES
from harness.serving.modelfile import Modelfile

__all__ = [
    "OLLAMA_QUANTIZE",
    "check_quantize",
    "create_request",
    "go_unquote",
    "parse_show_parameters",
    "reject_matching_local_path",
    "verify_show",
]

OLLAMA_QUANTIZE = {"F32": "F32", "F16": "F16", "Q8_0": "Q8_0", "Q4_K_S": "Q4_K_S", "Q4_K_M": "Q4_K_M",
                   "Q4_K": "Q4_K_M", "BF16": "BF16"}  # fmt: skip
"""fs/ggml/type.go ``ParseFileType``: the names create accepts (upper-cased) → the file type."""


def check_quantize(quantize: str, file_type: int | None, quantization: str | None, source: str) -> str:
    """The ``quantize`` value for Ollama, or a one-line :class:`UsageError` naming what it accepts."""
    want = OLLAMA_QUANTIZE.get(quantize.strip().upper())
    if want is None:
        raise UsageError(
            f"Ollama cannot quantize to {quantize!r}: its create accepts q4_K_M, q4_K_S, q8_0 "
            "(and f16, bf16, f32); for other levels quantize first with 'harness build' or register "
            "into the local store (--backend local)"
        )
    if file_type is not None and file_type not in FLOAT_FILE_TYPES:
        raise UsageError(
            f"{source} is already quantized ({quantization}); Ollama quantizes only F16, BF16 and F32 "
            "models: drop --quantize or give the float GGUF"
        )
    return quantize


def create_request(
    name: str,
    mf: Modelfile,
    files: Mapping[str, str],
    *,
    draft_files: Mapping[str, str] | None = None,
    quantize: str | None = None,
) -> dict[str, Any]:
    """The ``/api/create`` body for ``mf`` (``api.CreateRequest``; empty fields left out, as
    ``omitempty`` does). FROM and DRAFT are already uploaded: ``files`` / ``draft_files``; with
    no ``files`` FROM names a model, sent as ``from`` (parser.go ``CreateRequest``, where a FROM
    that is no local path becomes ``req.From``)."""
    body: dict[str, Any] = {"model": name, "stream": True}
    if files:
        body["files"] = dict(files)
    else:
        body["from"] = mf.from_
    if draft_files:
        body["draft_files"] = dict(draft_files)
    optional = {
        "template": mf.template, "system": mf.system, "parameters": dict(mf.parameters) or None,
        "messages": [{"role": r, "content": c} for r, c in mf.messages] or None,
        "license": list(mf.licenses) or None, "renderer": mf.renderer, "parser": mf.parser,
        "requires": mf.requires, "quantize": quantize,
    }  # fmt: skip
    body.update({k: v for k, v in optional.items() if v})
    return body


def reject_matching_local_path(name: str, path: str | Path, existing: Sequence[str | Path]) -> None:
    """parser.go ``rejectMatchingLocalPath``: ``ollama create`` refuses a DRAFT that is the FROM
    file itself, compared as absolute paths with symlinks resolved (``canonicalLocalPath``)."""
    target = Path(path).resolve()
    for other in existing:
        if Path(other).resolve() == target:
            raise UsageError(f"{name} must not reference the same local path as FROM: {target}")


# ---------------------------------------------------------------- /api/show
_GO_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
               "\\": "\\", '"': '"', "'": "'"}  # fmt: skip
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.DOTALL)


def go_unquote(text: str) -> str:
    """Go's ``strconv.Unquote`` of a double-quoted string (what ``%#v`` writes for a string)."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"not a Go-quoted string: {text!r}")
    raw: list[bytes] = []

    def sub(m: re.Match[str]) -> str:
        e = m[1]
        if e[0] in "xuU" and len(e) > 1:
            if e[0] == "x":  # a byte: UTF-8 sequences come as several \x escapes
                raw.append(bytes([int(e[1:], 16)]))
                return f"\0{len(raw) - 1}\0"
            return chr(int(e[1:], 16))
        if len(e) == 3 and e.isdigit():
            raw.append(bytes([int(e, 8)]))
            return f"\0{len(raw) - 1}\0"
        if e in _GO_ESCAPES:
            return _GO_ESCAPES[e]
        raise ValueError(f"unknown escape \\{e} in {text!r}")

    out = _ESCAPE.sub(sub, text[1:-1])
    if not raw:
        return out
    parts = re.split(r"\0(\d+)\0", out)
    data = b"".join(raw[int(p)] if i % 2 else p.encode() for i, p in enumerate(parts))
    return data.decode("utf-8", "replace")


def _show_value(text: str) -> Any:
    if text.startswith('"'):
        return go_unquote(text)
    if text in ("true", "false"):
        return text == "true"
    try:
        return float(text)
    except ValueError:
        return text


def parse_show_parameters(text: str) -> dict[str, Any]:
    """The ``parameters`` text of ``/api/show`` as a dict; a key on several lines (``stop``) is a list."""
    out: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, _, rest = line.strip().partition(" ")
        value = _show_value(rest.strip())
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 1:
            out[key] = value
        elif seen[key] == 2:
            out[key] = [out[key], value]
        else:
            out[key].append(value)
    return out


def _same(sent: Any, got: Any) -> bool:
    if isinstance(sent, list):
        got = got if isinstance(got, list) else [got]
        return len(sent) == len(got) and all(_same(a, b) for a, b in zip(sent, got, strict=True))
    if isinstance(sent, bool) or isinstance(got, bool):
        return sent is got
    if isinstance(sent, int | float) and isinstance(got, int | float):
        return math.isclose(sent, got, rel_tol=1e-6, abs_tol=1e-12)
    return bool(sent == got)


def verify_show(
    name: str, body: Mapping[str, Any], show: Mapping[str, Any], *, templates: tuple[str, ...] = ()
) -> list[str]:
    """What ``/api/show`` of the created model reports differently from the create ``body``, one
    line per difference (empty: it is what was sent). ``templates`` are the templates a show may
    report when a template was sent (the sent one, or the GGUF's when Ollama prefers it)."""
    problems: list[str] = []
    got_params = parse_show_parameters(str(show.get("parameters") or ""))
    for key, value in (body.get("parameters") or {}).items():
        if key not in got_params:
            problems.append(f"parameter {key} is missing (sent {value!r})")
        elif not _same(value, got_params[key]):
            problems.append(f"parameter {key} is {got_params[key]!r}, sent {value!r}")
    if body.get("system") is not None and show.get("system") != body["system"]:
        problems.append(f"system is {show.get('system')!r}, sent {body['system']!r}")
    if body.get("template") is not None and show.get("template") not in (body["template"], *templates):
        problems.append("template is not the TEMPLATE that was sent")
    sent_msgs = [(m["role"], m["content"]) for m in body.get("messages") or []]
    got_msgs = [(m.get("role"), m.get("content")) for m in show.get("messages") or []]
    if sent_msgs != got_msgs:
        problems.append(f"messages are {got_msgs!r}, sent {sent_msgs!r}")
    if body.get("license") and show.get("license") != "\n".join(body["license"]):
        problems.append("license is not the LICENSE text that was sent")
    if body.get("requires") and show.get("requires") != body["requires"]:
        problems.append(f"requires is {show.get('requires')!r}, sent {body['requires']!r}")
    problems += _modelfile_fields(body, str(show.get("modelfile") or ""))
    return [f"{name}: {p}" for p in problems]


def _modelfile_fields(body: Mapping[str, Any], text: str) -> list[str]:
    """RENDERER / PARSER / DRAFT as the ``modelfile`` text of show has them (images.go ``Model.String``)."""
    wanted: dict[str, Any] = {k: body[k] for k in ("renderer", "parser") if body.get(k)}
    if body.get("draft_files"):
        wanted["draft"] = True
    if not wanted:
        return []
    from harness.serving.modelfile import ModelfileError, parse

    try:
        mf = parse(text, source="the modelfile of /api/show")
    except ModelfileError as e:
        return [f"its modelfile does not parse ({e}), so RENDERER/PARSER/DRAFT cannot be checked"]
    out = []
    for key, value in wanted.items():
        got = getattr(mf, key)
        if key == "draft" and not got:
            out.append("DRAFT is missing from the created model")
        elif key != "draft" and got != value:
            out.append(f"{key.upper()} is {got!r}, sent {value!r}")
    return out


def fail_if_different(problems: list[str]) -> None:
    """One clear error when the created model is not what was sent."""
    if problems:
        raise BackendError(
            "Ollama created a model that differs from the Modelfile: "
            + "; ".join(problems)
            + " (an older Ollama may not know these fields; upgrade it, or check 'harness models show')"
        )
