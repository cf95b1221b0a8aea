"""The Go ``text/template`` lexer: template text to tokens, with trimming, comments and literals."""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Any, NamedTuple

from harness.serving.gotemplate.nodes import TemplateError


class _Tok(NamedTuple):
    kind: str  # text right space field var ident kw const lparen rparen pipe declare assign comma eof
    val: Any
    line: int


_SPACE = " \t\r\n"
_KEYWORDS = {"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"}
_WORD = re.compile(r"\w*")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_CHAR = re.compile(r"'(?:[^'\\\n]|\\[^\n]+?)'")
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]+)?|0[oObB][0-7_]*"
    r"|[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]+)?)"
)
_ESCAPE = re.compile(
    r"\\(?:([abfnrtv\\'\"])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3})|(.))"
)
_SIMPLE_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _lex(src: str) -> list[_Tok]:
    """Split ``src`` into tokens, applying ``{{-``/``-}}`` trimming and dropping comments."""
    newlines = [i for i, c in enumerate(src) if c == "\n"]
    toks: list[_Tok] = []

    def line(pos: int) -> int:
        return bisect_left(newlines, pos) + 1

    def err(pos: int, msg: str) -> TemplateError:
        return TemplateError(f"template line {line(pos)}: {msg}")

    def right_delim(pos: int) -> tuple[int, bool] | None:
        if src.startswith("}}", pos):
            return 2, False
        if pos < len(src) and src[pos] in _SPACE and src.startswith("-}}", pos + 1):
            return 4, True
        return None

    def terminated(pos: int) -> bool:
        return pos >= len(src) or src[pos] in _SPACE + ".,|:)(" or src.startswith("}}", pos)

    pos, trim_next = 0, False
    while True:
        start = src.find("{{", pos)
        text = src[pos:] if start < 0 else src[pos:start]
        marker = src[start + 2 : start + 4] if start >= 0 else ""
        left_trim = len(marker) == 2 and marker[0] == "-" and marker[1] in _SPACE
        if trim_next:
            text = text.lstrip(_SPACE)
        if left_trim:
            text = text.rstrip(_SPACE)
        if text:
            toks.append(_Tok("text", text, line(pos)))
        if start < 0:
            toks.append(_Tok("eof", None, line(len(src))))
            return toks
        pos = start + (4 if left_trim else 2)
        if src.startswith("/*", pos):
            close = src.find("*/", pos + 2)
            if close < 0:
                raise err(start, "unclosed comment")
            rd = right_delim(close + 2)
            if rd is None:
                raise err(close, "comment ends before closing delimiter")
            pos, trim_next = close + 2 + rd[0], rd[1]
            continue
        toks.append(_Tok("left", None, line(start)))
        depth = 0
        while True:
            rd = right_delim(pos)
            if rd is not None:
                if depth:
                    raise err(pos, "unclosed left paren")
                toks.append(_Tok("right", None, line(pos)))
                pos, trim_next = pos + rd[0], rd[1]
                break
            if pos >= len(src):
                raise err(start, "unclosed action")
            c, nxt, ln = src[pos], src[pos + 1 : pos + 2], line(pos)
            if c in _SPACE:
                end = pos
                while end < len(src) and src[end] in _SPACE:
                    end += 1
                if src.startswith("-}}", end):  # the last space belongs to " -}}"
                    end -= 1
                if end > pos:
                    toks.append(_Tok("space", None, ln))
                pos = end
            elif c == '"':
                m = _STRING.match(src, pos)
                if m is None:
                    raise err(pos, "unterminated quoted string")
                toks.append(_Tok("const", _unquote(m.group()[1:-1], ln), ln))
                pos = m.end()
            elif c == "`":
                end = src.find("`", pos + 1)
                if end < 0:
                    raise err(pos, "unterminated raw quoted string")
                toks.append(_Tok("const", src[pos + 1 : end].replace("\r", ""), ln))
                pos = end + 1
            elif c == "'":
                m = _CHAR.match(src, pos)
                value = _unquote(m.group()[1:-1], ln) if m else ""
                if m is None or len(value) != 1:
                    raise err(pos, "malformed character constant")
                toks.append(_Tok("const", ord(value), ln))
                pos = m.end()
            elif c in "$." and not (c == "." and nxt.isdigit()):
                m = _WORD.match(src, pos + 1)
                if not terminated(m.end()):
                    raise err(m.end(), f"bad character {src[m.end()]!r}")
                word = m.group()
                if c == "$":
                    toks.append(_Tok("var", "$" + word, ln))
                else:
                    toks.append(_Tok("field", word, ln) if word else _Tok("dot", None, ln))
                pos = m.end()
            elif c.isdigit() or c in "+-.":
                m = _NUMBER.match(src, pos)
                end = m.end() if m else pos
                if end == pos or (end < len(src) and (src[end].isalnum() or src[end] == "_")):
                    raise err(pos, f"bad number syntax: {src[pos : end + 1]!r}")
                toks.append(_Tok("const", _number(src[pos:end], ln), ln))
                pos = end
            elif c.isalpha() or c == "_":
                m = _WORD.match(src, pos)
                word = m.group()
                if not terminated(m.end()):
                    raise err(m.end(), f"bad character {src[m.end()]!r}")
                if word in _KEYWORDS:
                    toks.append(_Tok("kw", word, ln))
                elif word in ("true", "false"):
                    toks.append(_Tok("const", word == "true", ln))
                elif word == "nil":
                    toks.append(_Tok("nil", None, ln))
                else:
                    toks.append(_Tok("ident", word, ln))
                pos = m.end()
            elif c == ":" and nxt == "=":
                toks.append(_Tok("declare", None, ln))
                pos += 2
            elif c in "()|,=":
                depth += {"(": 1, ")": -1}.get(c, 0)
                if depth < 0:
                    raise err(pos, "unexpected right paren")
                kind = {"(": "lparen", ")": "rparen", "|": "pipe", ",": "comma", "=": "assign"}[c]
                toks.append(_Tok(kind, c, ln))
                pos += 1
            else:
                raise err(pos, f"unrecognized character in action: {c!r}")


def _unquote(body: str, line: int) -> str:
    """Go ``strconv.Unquote`` for the inside of a double-quoted or character literal."""

    def one(m: re.Match[str]) -> str:
        simple, x, u, big_u, octal, bad = m.groups()
        if bad is not None:
            raise TemplateError(f"template line {line}: unknown escape sequence \\{bad}")
        if simple is not None:
            return _SIMPLE_ESC.get(simple, simple)
        return chr(int(x or u or big_u, 16) if octal is None else int(octal, 8))

    return _ESCAPE.sub(one, body)


def _number(text: str, line: int) -> int | float:
    """A Go number constant: integer unless written with ``.``, an exponent or ``p``."""
    try:
        body = text.lstrip("+-").lower()
        if body.startswith("0x") and "p" in body:
            return float.fromhex(text.replace("_", ""))
        if body.startswith(("0x", "0o", "0b")):
            return int(text, 0)
        if "." in body or "e" in body:
            return float(text)
        if re.fullmatch(r"0[0-7_]+", body):
            return int(text, 8)
        return int(text, 10)
    except ValueError:
        raise TemplateError(f"template line {line}: bad number syntax: {text!r}") from None
