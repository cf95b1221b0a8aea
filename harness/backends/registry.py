"""Backends by name, registered one way for built-ins and plugins alike.

A backend (or policy) is a factory ``(model=..., **options) -> Backend`` registered with
``@register_backend("name")``. Built-in modules are imported only when their backend is used
(``BUILTIN``), so ``harness --help`` stays instant. Third-party packages add backends through
the ``react_harness.backends`` entry-point group (as llm's plugins or inspect_ai's
``@modelapi`` do)::

    # the plugin's pyproject.toml
    [project.entry-points."react_harness.backends"]
    mybackend = "my_pkg.backend:make"      # a factory, or a module that uses @register_backend

``harness bench MODEL --backend mybackend`` then works like a built-in.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from types import ModuleType

from harness.backends.base import Backend
from harness.errors import UsageError

Factory = Callable[..., Backend]
ENTRY_POINT_GROUP = "react_harness.backends"

# name -> module that registers it (imported lazily)
BUILTIN = {
    "ollama": "harness.backends.ollama",
    "openai": "harness.backends.openai",
    "llamacpp": "harness.backends.llamacpp",
    "scripted": "harness.backends.scripted",
    "transformers": "harness.backends.hf",
    "expert": "harness.backends.policies",
    "random": "harness.backends.policies",
}
POLICIES = ("expert", "random", "scripted")
"""Built-ins that play without a model (``harness bench expert``): the model name is the backend."""
_FACTORIES: dict[str, Factory] = {}


def register_backend(name: str) -> Callable[[Factory], Factory]:
    def deco(factory: Factory) -> Factory:
        _FACTORIES[name] = factory
        return factory

    return deco


def _plugins() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def available_backends() -> list[str]:
    return sorted(set(BUILTIN) | set(_FACTORIES) | set(_plugins()))


def backend_help(policies: bool = True) -> str:
    """``auto | ollama | …``: the built-in names a ``--backend`` option takes (the policies too,
    unless ``policies`` is false), for its help; plugins' names work as well."""
    return " | ".join(["auto", *(n for n in BUILTIN if policies or n not in POLICIES)])


def _load(name: str) -> None:
    if name in BUILTIN:
        importlib.import_module(BUILTIN[name])
        return
    ep = _plugins().get(name)
    if ep is None:
        return
    try:
        obj = ep.load()
    except Exception as e:  # a broken plugin must not take the harness down with a traceback
        raise UsageError(f"backend plugin {name!r} ({ep.value}) failed to load: {e}") from None
    if name not in _FACTORIES and callable(obj) and not isinstance(obj, ModuleType):
        _FACTORIES[name] = obj


def create_backend(name: str, model: str = "", **kwargs) -> Backend:
    if name not in _FACTORIES:
        _load(name)
    if name not in _FACTORIES:
        raise UsageError(f"unknown backend {name!r} (available: {', '.join(available_backends())})")
    return _FACTORIES[name](model=model, **kwargs)
