"""Go values in Python (truth, kinds, ``fmt`` ``%v``) and the template builtins (``_FUNCS``)."""

from __future__ import annotations

import html
import json
import math
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from harness.serving.gotemplate.nodes import Struct


class _FuncError(Exception):
    pass


_MISSING: Any = object()


# ----------------------------------------------------------- Go value helpers
def _truth(v: Any) -> bool:
    if v is None or v is _MISSING:
        return False
    if isinstance(v, Struct):
        return True
    if isinstance(v, (bool, int, float, str, list, tuple, dict)):
        return bool(v)
    return True


def _kind(v: Any) -> str:
    if v is None or v is _MISSING:
        return "invalid"
    for kind, types in (("bool", bool), ("int", int), ("float", float), ("string", str)):
        if isinstance(v, types):
            return kind
    return "other"


def _go_type(v: Any) -> str:
    if isinstance(v, Struct) or getattr(v, "type_name", None):
        return str(v.type_name)
    names = {"bool": "bool", "int": "int", "float": "float64", "string": "string", "invalid": "<nil>"}
    if _kind(v) in names:
        return names[_kind(v)]
    return "map[string]interface {}" if isinstance(v, dict) else "[]interface {}"


def _sorted_items(d: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    try:
        return sorted(d.items())
    except TypeError:
        return sorted(d.items(), key=lambda kv: str(kv[0]))


def _fmt_float(f: float) -> str:
    """Go ``%v`` for float64: shortest digits, ``%e`` form when exp < -4 or exp >= 6."""
    if math.isinf(f) or math.isnan(f):
        return "NaN" if math.isnan(f) else ("+Inf" if f > 0 else "-Inf")
    mant, _, exp_s = repr(abs(f)).partition("e")
    int_part, _, frac = mant.partition(".")
    full = int_part + frac
    zeros = len(full) - len(full.lstrip("0"))
    digits = full[zeros:].rstrip("0")
    sign = "-" if math.copysign(1, f) < 0 else ""
    if not digits:
        return sign + "0"
    dp = len(int_part) + int(exp_s or 0) - zeros
    exp = dp - 1
    if exp < -4 or exp >= 6:
        frac_part = "." + digits[1:] if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{frac_part}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def _fmt(v: Any, top: bool = False) -> str:
    """Go ``fmt`` ``%v``; an interface nil at the top of an action prints ``<no value>``."""
    if v is None or v is _MISSING:
        return "<no value>" if top else "<nil>"
    if hasattr(v, "go_string"):  # a type with a String() method: fmt calls it, at any depth
        return str(v.go_string())
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _fmt_float(v)
    if isinstance(v, str):
        return v
    if isinstance(v, Struct):
        return "{" + " ".join(_fmt(x) for x in v.values()) + "}"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{_fmt(k)}:{_fmt(x)}" for k, x in _sorted_items(v)) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_fmt(x) for x in v) + "]"
    return str(v)


# ------------------------------------------------------------------- builtins
def _eq(a: Any, *others: Any) -> bool:
    ka = _kind(a)
    for b in others:
        kb = _kind(b)
        if ka != kb:
            if "invalid" not in (ka, kb):
                raise _FuncError("incompatible types for comparison")
            continue
        if isinstance(a, (dict, list, tuple)) or isinstance(b, (dict, list, tuple)):
            raise _FuncError(f"non-comparable type {_fmt(a)}: {_go_type(a)}")
        if ka == "invalid" or a == b:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka not in ("int", "float", "string") or kb not in ("int", "float", "string"):
        raise _FuncError("invalid type for comparison")
    if ka != kb:
        raise _FuncError("incompatible types for comparison")
    return bool(a < b)


def _len(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode("utf-8"))
    if isinstance(v, (list, tuple, dict)) and not isinstance(v, Struct):
        return len(v)
    raise _FuncError(f"len of type {_go_type(v)}")


def _int_arg(i: Any) -> int:
    if _kind(i) != "int":
        raise _FuncError(f"cannot index slice/array with type {_go_type(i)}")
    return int(i)


def _index(item: Any, *indexes: Any) -> Any:
    for i in indexes:
        if item is None or item is _MISSING:
            raise _FuncError("index of untyped nil")
        if isinstance(item, dict) and not isinstance(item, Struct):
            item = item.get(i)
        elif isinstance(item, (list, tuple, str)):
            seq = item.encode("utf-8") if isinstance(item, str) else item
            if not 0 <= _int_arg(i) < len(seq):
                raise _FuncError(f"index out of range: {i}")
            item = seq[i]
        else:
            raise _FuncError(f"can't index item of type {_go_type(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if isinstance(item, str):
        seq: Any = item.encode("utf-8")
        if len(indexes) > 2:
            raise _FuncError("cannot 3-index slice a string")
    elif isinstance(item, (list, tuple)):
        seq = item
        if len(indexes) > 3:
            raise _FuncError(f"too many slice indexes: {len(indexes)}")
    else:
        raise _FuncError(f"can't slice item of type {_go_type(item)}")
    idx = [_int_arg(i) for i in indexes]
    for i in idx:
        if not 0 <= i <= len(seq):
            raise _FuncError(f"index out of range: {i}")
    lo = idx[0] if idx else 0
    hi = idx[1] if len(idx) > 1 else len(seq)
    if lo > hi or (len(idx) == 3 and hi > idx[2]):
        raise _FuncError(f"invalid slice index: {lo} > {hi}")
    out = seq[lo:hi]
    return out.decode("utf-8", "replace") if isinstance(out, bytes) else list(out)


def _sprint(*args: Any) -> str:
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += _fmt(a)
    return out


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def _sprintf(fmt: str, *args: Any) -> str:
    """Go ``fmt.Sprintf`` for the common verbs (v s d q t f e g x X c)."""
    rest = list(args)

    def one(m: re.Match[str]) -> str:
        flags, width, prec, verb = m.groups()
        if verb == "%":
            return "%"
        if not rest:
            return f"%!{verb}(MISSING)"
        a = rest.pop(0)
        kind = _kind(a)
        if verb in "vs" or (verb == "d" and kind == "int") or (verb == "t" and kind == "bool"):
            s = _fmt(a) if verb != "s" or prec is None else _fmt(a)[: int(prec)]
        elif verb == "q" and kind == "string":
            s = json.dumps(a, ensure_ascii=False)
        elif verb in "feEgG" and kind in ("int", "float"):
            if verb in "gG" and prec is None:
                s = _fmt_float(float(a))
            else:
                s = format(float(a), f".{prec or 6}{verb}")
        elif verb in "xX" and kind in ("int", "string"):
            s = format(a, verb) if kind == "int" else a.encode().hex()
            s = s.upper() if verb == "X" else s
        elif verb == "c" and kind == "int":
            s = chr(a)
        else:
            return f"%!{verb}({_go_type(a)}={_fmt(a)})"
        if width:
            fill = "0" if "0" in flags and "-" not in flags else " "
            s = s.ljust(int(width)) if "-" in flags else s.rjust(int(width), fill)
        return s

    out = _VERB.sub(one, fmt)
    if rest:
        out += "%!(EXTRA " + ", ".join(f"{_go_type(a)}={_fmt(a)}" for a in rest) + ")"
    return out


def _to_json(v: Any) -> Any:
    if getattr(v, "nil", False):
        return None
    if hasattr(v, "go_json"):  # a type with its own MarshalJSON
        return v.go_json()
    if isinstance(v, Struct):
        out = {}
        for key, x in v.items():
            name, _, omit = v.json_names.get(key, key).partition(",")
            if not (omit and x in ("", [], None, False, 0)):
                out[name] = _to_json(x)
        return out
    if isinstance(v, Ordered):  # api.ToolCallFunctionArguments / ToolPropertiesMap keep their order
        return {str(k): _to_json(x) for k, x in v.items()}
    if isinstance(v, dict):  # a Go map: encoding/json sorts its keys
        return {str(k): _to_json(v[k]) for k in sorted(v, key=str)}
    if isinstance(v, (list, tuple)):
        return [_to_json(x) for x in v]
    return None if v is _MISSING else v


def _json(v: Any) -> str:
    """Ollama's ``json`` func: Go ``json.Marshal`` (compact, HTML characters escaped)."""
    text = json.dumps(_to_json(v), ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text


class Ordered(dict):
    """A mapping that Go marshals in insertion order (Ollama's orderedmap types); plain dicts are
    Go maps, marshalled with sorted keys."""


class GoMap(dict):
    """A Go map of the named type ``type_name`` whose ``String()`` is its JSON: template/template.go
    ``templateArgs`` and ``templateProperties``. Ranged and marshalled in key order like any Go map;
    ``nil`` is the nil map, which marshals as ``null`` and prints ``{}``."""

    def __init__(self, items: Mapping[str, Any], type_name: str, *, nil: bool = False):
        super().__init__(items)
        self.type_name, self.nil = type_name, nil

    def go_string(self) -> str:
        return "{}" if self.nil else _json(self)


class GoSlice(list):
    """A Go slice of type ``type_name``; ``nil`` is the nil slice: it prints ``[]`` but marshals as
    ``null``."""

    def __init__(self, items: Any, type_name: str, *, nil: bool = False):
        super().__init__(items)
        self.type_name, self.nil = type_name, nil


class JSONSlice(GoSlice):
    """A slice whose ``String()`` is its JSON (template/template.go ``templateTools``): the nil one
    prints ``null``."""

    def go_string(self) -> str:
        return _json(self)


class JSONStruct(Struct):
    """A struct whose ``String()`` is its JSON (template/template.go ``templateTool``)."""

    def go_string(self) -> str:
        return _json(self)


class PropertyType(list):
    """api/types.go ``PropertyType``: one type prints and marshals as that string, several as a list."""

    type_name = "api.PropertyType"

    def go_string(self) -> str:
        if len(self) == 1:
            return str(self[0])
        return "[" + " ".join(map(str, self)) + "]" if self else ""

    def go_json(self) -> Any:
        return self[0] if len(self) == 1 else (list(self) or None)


def _today(days: int = 0) -> str:
    """template/template.go ``currentDate`` / ``yesterdayDate``: local date, YYYY-MM-DD (format ignored)."""
    import datetime

    return (datetime.date.today() + datetime.timedelta(days=days)).isoformat()


_TS_TYPES = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean",
             "array": "any[]", "object": "Record<string, any>", "null": "null"}  # fmt: skip


def _ts_type(v: Any) -> str:
    """api/types.go ``ToolProperty.ToTypeScriptType`` (``anyOf`` joined, then ``type``); else ``any``."""
    if isinstance(v, Struct):
        v = {k[:1].lower() + k[1:]: x for k, x in v.items()}
    if not isinstance(v, dict):
        return "any"
    any_of = v.get("anyOf") or v.get("AnyOf")
    if any_of:
        return " | ".join(_ts_type(x) for x in any_of)
    kind = v.get("type", v.get("Type"))
    kinds = [kind] if isinstance(kind, str) else list(kind or [])
    return " | ".join(_TS_TYPES.get(k, "any") for k in kinds) if kinds else "any"


_FUNCS: dict[str, Callable[..., Any]] = {
    "currentDate": lambda *a: _today(),
    "yesterdayDate": lambda *a: _today(-1),
    "toTypeScriptType": _ts_type,
    "and": lambda *a: a[-1],
    "or": lambda *a: a[-1],
    "not": lambda a: not _truth(a),
    "len": _len,
    "index": _index,
    "slice": _slice,
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _lt,
    "le": lambda a, b: _lt(a, b) or _eq(a, b),
    "gt": lambda a, b: not (_lt(a, b) or _eq(a, b)),
    "ge": lambda a, b: not _lt(a, b),
    "print": _sprint,
    "printf": _sprintf,
    "println": lambda *a: " ".join(_fmt(x) for x in a) + "\n",
    "html": lambda *a: html.escape(_sprint(*a)).replace("&#x27;", "&#39;").replace("&quot;", "&#34;"),
    "urlquery": lambda *a: urllib.parse.quote_plus(_sprint(*a)),
    "json": _json,
}
_ARITY: dict[str, tuple[int, int | None]] = {
    "and": (1, None), "or": (1, None), "not": (1, 1), "len": (1, 1), "index": (1, None),
    "slice": (1, None), "eq": (2, None), "ne": (2, 2), "lt": (2, 2), "le": (2, 2), "gt": (2, 2),
    "ge": (2, 2), "printf": (1, None), "json": (1, 1), "toTypeScriptType": (1, 1),
}  # fmt: skip
