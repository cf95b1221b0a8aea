"""Render an Ollama TEMPLATE (Go ``text/template``) exactly as Ollama builds a prompt.

Two layers live in this package:

* a Go ``text/template`` engine: text, ``{{ pipeline }}`` actions, ``if / else if / else``,
  ``range`` (``$i, $m :=``, ``break``, ``continue``, ``else``), ``with``, ``$`` variables
  (``:=`` and ``=``), parenthesised pipelines, ``|`` chaining, ``{{-``/``-}}`` trimming,
  ``{{/* comments */}}``, literals, and the builtins ``and or not len index slice eq ne lt
  le gt ge print printf println html urlquery`` plus Ollama's ``json``. ``define``,
  ``template`` and ``block`` are rejected when parsing;
* Ollama's prompt semantics (``template/template.go``, see :meth:`Template.render`).

Use :func:`render` for a prompt and :func:`parse` to validate a template; both raise
:class:`TemplateError` with the template line of the problem.
"""

# This package's modules: ``nodes`` (syntax tree, TemplateError), ``lexer``, ``parser``, ``execute``,
# ``funcs`` (Go values and builtins) and ``prompt`` (Ollama's layer). Everything the single module
# ``harness.serving.gotemplate`` held stays importable from here, private helpers included.
# ruff: noqa: F401

from __future__ import annotations

from harness.serving.gotemplate.execute import _Break, _Continue, _Exec, _execute
from harness.serving.gotemplate.funcs import (
    _ARITY,
    _FUNCS,
    _MISSING,
    _VERB,
    _eq,
    _fmt,
    _fmt_float,
    _FuncError,
    _go_type,
    _index,
    _int_arg,
    _json,
    _kind,
    _len,
    _lt,
    _slice,
    _sorted_items,
    _sprint,
    _sprintf,
    _to_json,
    _truth,
)
from harness.serving.gotemplate.lexer import (
    _CHAR,
    _ESCAPE,
    _KEYWORDS,
    _NUMBER,
    _SIMPLE_ESC,
    _SPACE,
    _STRING,
    _WORD,
    _lex,
    _number,
    _Tok,
    _unquote,
)
from harness.serving.gotemplate.nodes import (
    Action,
    Branch,
    Command,
    Field,
    Ident,
    Jump,
    Lit,
    Node,
    Pipe,
    Struct,
    SubPipe,
    TemplateError,
    Text,
    Var,
)
from harness.serving.gotemplate.parser import _parse_nodes, _Parser, _show
from harness.serving.gotemplate.prompt import (
    Template,
    _collate,
    _cut_after_response,
    _identifiers,
    _message,
    _parse_cached,
    _struct,
    parse,
    render,
)

__all__ = ["Template", "TemplateError", "parse", "render"]
