"""Ollama Modelfiles: parse and write them by Ollama's own rules (``parser/parser.go``).

* Commands (``FROM PARAMETER TEMPLATE SYSTEM ADAPTER LICENSE MESSAGE REQUIRES``, plus
  Ollama's ``DRAFT RENDERER PARSER``) are case-insensitive; ``#`` starts a comment only at
  the start of a line; values are trimmed; ``"..."`` and ``\"\"\"...\"\"\"`` may span lines
  and have no escapes.
* ``PARAMETER`` names are checked against Ollama's options (``api/types.go``) and values
  typed; repeated ``stop`` collects into a list; deprecated names are dropped with a warning.
* Errors are :class:`ModelfileError` with the line number:
  ``Modelfile line 3: unknown parameter "foo"``.

``parse(text)`` and ``load(path)`` give a :class:`Modelfile`; ``Modelfile.to_text()`` (or
``write(mf)``) writes one that parses back to the same value.
"""

from __future__ import annotations

import codecs
import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

__all__ = [
    "DEPRECATED_PARAMETERS",
    "PARAMETER_TYPES",
    "Command",
    "Modelfile",
    "ModelfileError",
    "load",
    "parse",
    "parse_commands",
    "write",
]

# Options and Runner fields of Ollama's api/types.go, by JSON name (what FormatParams accepts).
PARAMETER_TYPES: dict[str, type] = {
    "num_keep": int, "seed": int, "num_predict": int, "top_k": int, "top_p": float,
    "min_p": float, "typical_p": float, "repeat_last_n": int, "temperature": float,
    "repeat_penalty": float, "presence_penalty": float, "frequency_penalty": float,
    "stop": list, "num_ctx": int, "num_batch": int, "num_gpu": int, "main_gpu": int,
    "use_mmap": bool, "num_thread": int, "draft_num_predict": int,
}  # fmt: skip
# Ollama accepts these, prints a warning and ignores them.
DEPRECATED_PARAMETERS = frozenset({
    "penalize_newline", "low_vram", "f16_kv", "logits_all", "vocab_only", "use_mlock",
    "mirostat", "mirostat_tau", "mirostat_eta",
})  # fmt: skip
# Values the runner cannot use (a negative context, a negative batch …) are refused at parse time.
_INT_MIN = {"num_ctx": 1, "num_batch": 1, "num_keep": -1, "num_predict": -2, "repeat_last_n": -1,
            "top_k": 0, "num_thread": 0, "num_gpu": -1, "main_gpu": 0}  # fmt: skip
_FLOAT_RANGE: dict[str, tuple[float | None, float | None]] = {
    "temperature": (0.0, None), "top_p": (0.0, 1.0), "min_p": (0.0, 1.0), "typical_p": (0.0, 1.0),
    "repeat_penalty": (0.0, None),
}  # fmt: skip
_FLOAT32_MAX = 3.4028234663852886e38
MESSAGE_ROLES = ("system", "user", "assistant")
_COMMANDS = ("from", "license", "template", "system", "adapter", "draft", "renderer", "parser",
             "parameter", "message", "requires")  # fmt: skip
_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
          "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}  # fmt: skip
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)
# golang.org/x/mod/semver ``IsValid``, which parser/parser.go applies to REQUIRES after adding
# a "v": vMAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]] (a prerelease or build only after all three
# numbers), numbers without leading zeros, dot-separated identifiers of [0-9A-Za-z-], none
# empty, and no numeric prerelease identifier with a leading zero.
_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = r"(?:[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*|0|[1-9][0-9]*)"
_SEMVER = re.compile(
    rf"v{_NUM}(?:\.{_NUM}(?:\.{_NUM}(?:-{_PRE_ID}(?:\.{_PRE_ID})*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?)?"
)


class ModelfileError(HarnessError, ValueError):
    """A Modelfile that Ollama would refuse; ``line`` is 1-based, or None for the whole file."""

    def __init__(self, reason: str, line: int | None = None, source: str | None = None):
        self.reason, self.line, self.source = reason, line, source
        where = source or "Modelfile"
        super().__init__(f"{where} line {line}: {reason}" if line else f"{where}: {reason}")


@dataclass(frozen=True)
class Command:
    """One raw command: ``name`` is the lower-case keyword (``from``, ``parameter`` ...),
    ``key`` the parameter name of a PARAMETER or the role of a MESSAGE, ``args`` the value."""

    name: str
    args: str
    line: int
    key: str = ""


@dataclass
class Modelfile:
    """A parsed Modelfile. ``parameters`` keeps the file's order; ``stop`` is a list."""

    from_: str
    parameters: dict[str, Any] = field(default_factory=dict)
    template: str | None = None
    system: str | None = None
    adapters: list[str] = field(default_factory=list)
    licenses: list[str] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)
    requires: str | None = None
    draft: str | None = None
    renderer: str | None = None
    parser: str | None = None
    warnings: list[str] = field(default_factory=list, compare=False)

    @property
    def adapter(self) -> str | None:
        """The adapter Ollama uses (the last ADAPTER), or None."""
        return self.adapters[-1] if self.adapters else None

    @property
    def license(self) -> str | None:
        """All LICENSE texts joined by a blank line, or None."""
        return "\n\n".join(self.licenses) if self.licenses else None

    def to_text(self) -> str:
        """The Modelfile text; ``parse(mf.to_text()) == mf``."""
        out = [f"FROM {_encode(self.from_, 'FROM')}"]
        out += [f"ADAPTER {_encode(a, 'ADAPTER')}" for a in self.adapters]
        for name, value in (("DRAFT", self.draft), ("TEMPLATE", self.template), ("SYSTEM", self.system)):
            if value is not None:
                out.append(f"{name} {_encode(value, name)}")
        for key, value in self.parameters.items():
            for item in value if isinstance(value, list) else [value]:
                out.append(f"PARAMETER {key} {_encode(_format_param(item), f'PARAMETER {key}')}")
        for role, content in self.messages:
            out.append(f"MESSAGE {role} {_encode(content, 'MESSAGE')}")
        out += [f"LICENSE {_encode(text, 'LICENSE')}" for text in self.licenses]
        for name, value in (
            ("REQUIRES", self.requires),
            ("RENDERER", self.renderer),
            ("PARSER", self.parser),
        ):
            if value is not None:
                out.append(f"{name} {_encode(value, name)}")
        return "\n".join(out) + "\n"

    def chat_messages(self, messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """routes.go ChatHandler: MESSAGE history, then the request; SYSTEM in front unless the
        request starts with a system message (the one home of this rule)."""
        msgs = [{"role": r, "content": c} for r, c in self.messages] + [dict(m) for m in messages]
        if self.system and (not messages or messages[0].get("role") != "system"):
            msgs.insert(0, {"role": "system", "content": self.system})
        return msgs

    def prompt(self, messages: Sequence[Mapping[str, Any]]) -> str:
        """The prompt of the Modelfile TEMPLATE alone (Ollama's default ``{{ .Prompt }}`` when there
        is none) for ``messages`` (:meth:`chat_messages`). Which template a current Ollama really
        uses also depends on the GGUF: see :func:`harness.serving.prompt.builder_for`."""
        from harness.serving import gotemplate

        return gotemplate.render(self.template or "{{ .Prompt }}", self.chat_messages(messages))


def write(mf: Modelfile) -> str:
    """Same as ``mf.to_text()``."""
    return mf.to_text()


def load(path: str | Path) -> Modelfile:
    """Read and parse a Modelfile (UTF-8, or UTF-16 with a BOM, as Ollama reads it)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ModelfileError(f"cannot read it ({e.strerror}); check the path", source=str(path)) from None
    try:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = raw.decode("utf-16")
        else:
            text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ModelfileError(f"not UTF-8 text ({e.reason} at byte {e.start})", source=str(path)) from None
    return parse(text, source=str(path))


def parse(text: str, *, source: str | None = None) -> Modelfile:
    """Parse Modelfile text; ``source`` (a path) prefixes error messages."""
    commands = parse_commands(text, source=source)
    # parser.go ParseFile refuses a file without FROM before CreateRequest looks at any value
    if not any(c.name == "from" for c in commands):
        raise ModelfileError("no FROM line; add one such as `FROM ./model.gguf`", source=source)
    mf = Modelfile(from_="")
    for cmd in commands:
        name, args = cmd.name, cmd.args
        if name == "from":
            if not args:
                raise ModelfileError("FROM needs a model name or a path to weights", cmd.line, source)
            mf.from_ = args
        elif name == "parameter":
            _add_parameter(mf, cmd, source)
        elif name == "message":
            mf.messages.append((cmd.key, args))
        elif name == "adapter":
            mf.adapters.append(args)
        elif name == "license":
            mf.licenses.append(args)
        elif name == "requires":
            if not _SEMVER.fullmatch(args if args.startswith("v") else "v" + args):
                raise ModelfileError(
                    f'REQUIRES must be a version such as 0.14.0, got "{args}"', cmd.line, source
                )
            mf.requires = args.removeprefix("v")
        elif name in ("template", "system", "draft", "renderer", "parser"):  # the last one wins
            setattr(mf, name, args)
    if mf.template is not None:
        _check_template(mf.template, next(c.line for c in reversed(commands) if c.name == "template"), source)
    return mf


def _check_template(template: str, line: int, source: str | None) -> None:
    """Ollama's create parses the TEMPLATE (template.Parse) and refuses the model when it fails."""
    from harness.serving import gotemplate

    try:
        gotemplate.parse(template)
    except gotemplate.TemplateError as e:
        raise ModelfileError(f"TEMPLATE does not parse as a Go template: {e}", line, source) from None


def _add_parameter(mf: Modelfile, cmd: Command, source: str | None) -> None:
    name, raw = cmd.key, cmd.args
    kind = PARAMETER_TYPES.get(name)
    if kind is None:
        if name in DEPRECATED_PARAMETERS:
            mf.warnings.append(f"line {cmd.line}: parameter {name} is deprecated and ignored")
            return
        close = difflib.get_close_matches(name.lower(), PARAMETER_TYPES, n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else f"; known: {', '.join(PARAMETER_TYPES)}"
        raise ModelfileError(f'unknown parameter "{name}"{hint}', cmd.line, source)
    value: Any = raw
    if kind is int and _INT.fullmatch(raw) and -(2**63) <= int(raw) < 2**63:
        value = int(raw)
        low = _INT_MIN.get(name)
        if low is not None and value < low:
            raise ModelfileError(f'parameter "{name}" must be at least {low}, got {value}', cmd.line, source)
    elif kind is float and _FLOAT.fullmatch(raw):
        value = float(raw)
        # api/types.go FormatParams reads float32 (ParseFloat(v, 32)): 1e999 is out of range there;
        # nan and inf parse in Go but make no sense as a sampling option.
        if not math.isfinite(value) or abs(value) > _FLOAT32_MAX:
            raise ModelfileError(
                f'parameter "{name}" must be a finite number (float32), got "{raw}"', cmd.line, source
            )
        low, high = _FLOAT_RANGE.get(name, (None, None))
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ModelfileError(f'parameter "{name}" must be {span}, got {raw}', cmd.line, source)
    elif kind is bool and raw in _BOOLS:
        value = _BOOLS[raw]
    elif kind is list:
        mf.parameters.setdefault(name, []).append(raw)
        return
    elif kind is not str:
        want = {int: "an integer", float: "a number", bool: "true or false"}[kind]
        raise ModelfileError(f'parameter "{name}" must be {want}, got "{raw}"', cmd.line, source)
    mf.parameters[name] = value


def _format_param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _unquote(s: str) -> tuple[str, bool]:
    """Ollama's unquote: strip ``\"\"\"`` or ``"`` pairs; (value, complete)."""
    if s.startswith('"""'):
        return (s[3:-3], True) if len(s) >= 6 and s.endswith('"""') else ("", False)
    if s.startswith('"'):
        return (s[1:-1], True) if len(s) >= 2 and s.endswith('"') else ("", False)
    return s, True


def parse_commands(text: str, *, source: str | None = None) -> list[Command]:
    """Ollama's ``ParseFile`` state machine: the raw commands, no typing or FROM check."""

    def fail(reason: str, at: int) -> ModelfileError:
        return ModelfileError(reason, at, source)

    text = text.removeprefix("\ufeff")
    commands: list[Command] = []
    state, buf, line = "nil", "", 1
    name, cmd_line, key = "", 0, ""
    for i, ch in enumerate(text):
        newline = ch in "\r\n"
        if state == "nil":
            if ch == "#":
                state = "comment"
            elif not (newline or ch in " \t"):
                state, buf, cmd_line = "name", ch if ch.isprintable() else "", line
        elif state == "comment":
            state = "nil" if newline else "comment"
        elif state == "name":
            if ch.isascii() and ch.isalpha():
                buf += ch
            elif buf.lower() not in _COMMANDS or not (newline or ch in " \t"):
                raise fail(_unknown_command(buf if newline or ch in " \t" else buf + ch), cmd_line)
            elif newline:
                raise fail(f"unexpected end of line: {buf.upper()} has no value", cmd_line)
            else:
                name, buf = buf.lower(), ""
                state = {"parameter": "param", "message": "role"}.get(name, "value")
        elif state in ("param", "role"):
            what = "PARAMETER" if state == "param" else "MESSAGE"
            if ch.isascii() and (ch.isalpha() or (state == "param" and (ch.isdigit() or ch == "_"))):
                buf += ch
            elif ch in " \t" and not buf:
                raise fail(
                    f"{what} takes a single space before its name (Ollama reads an empty name)", cmd_line
                )
            elif ch in " \t" and state == "role" and buf not in MESSAGE_ROLES:
                raise fail(f'invalid MESSAGE role "{buf}"; use one of system, user, assistant', cmd_line)
            elif ch in " \t":
                state, buf, key = "value", "", buf
            elif newline:
                raise fail(f'unexpected end of line: {what} {buf} has no value; add "<value>"', cmd_line)
            else:
                raise fail(f"invalid character {ch!r} in {what} name {buf!r}", cmd_line)
        elif state == "value":
            value, complete = _unquote(buf.strip()) if newline else ("", False)
            if complete:
                commands.append(Command(name, value, cmd_line, key))
                state, buf, key = "nil", "", ""
            elif newline or ch in " \t" or ch.isprintable():
                buf += ch
        if ch == "\n" or (ch == "\r" and text[i + 1 : i + 2] != "\n"):
            line += 1
    if state == "value":
        value, complete = _unquote(buf.strip())
        if not complete:
            raise fail(f"unexpected end of file: the quoted {name.upper()} value is never closed", cmd_line)
        commands.append(Command(name, value, cmd_line, key))
    elif state == "name":
        known = buf.lower() in _COMMANDS
        raise fail(
            f"unexpected end of file: {buf.upper()} has no value" if known else _unknown_command(buf),
            cmd_line,
        )
    elif state in ("param", "role"):
        what = "PARAMETER" if state == "param" else "MESSAGE"
        raise fail(f"unexpected end of file: {what} {buf} has no value", cmd_line)
    return commands


def _unknown_command(word: str) -> str:
    return f'unknown command "{word}"; use one of ' + ", ".join(c.upper() for c in _COMMANDS)


def _encode(value: str, what: str) -> str:
    """The shortest spelling (bare, ``"…"``, ``\"\"\"…\"\"\"``) that Ollama reads back as ``value``."""
    quoted = [f'"{value}"', f'"""{value}"""']
    candidates = ([value] if value else []) + (quoted[::-1] if "\n" in value else quoted)
    for cand in candidates:
        try:
            cmds = parse_commands(f"SYSTEM {cand}\n")
        except ModelfileError:
            continue
        if len(cmds) == 1 and cmds[0].args == value:
            return cand
    raise ModelfileError(f"{what} value {value!r} cannot be written so that Ollama reads it back unchanged")
