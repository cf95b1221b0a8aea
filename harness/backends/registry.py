"""Backends by name, registered one way for built-ins and plugins alike.

A backend (or policy) is a factory ``(model=..., **options) -> Backend`` registered with
``@register_backend("name")``. Built-in modules are imported only when their backend is used
(``BUILTIN``), so ``harness --help`` stays instant. Third-party packages add backends through
the ``react_harness.backends`` entry-point group (as llm's plugins or inspect_ai's
``@modelapi`` do)::

    # the plugin's pyproject.toml
    [project.entry-points."react_harness.backends"]
    mybackend = "my_pkg.backend:make"      # a factory, or a module that uses @register_backend

``harness bench MODEL --backend mybackend`` then works like a built-in. A policy (plays without a
model) registers with ``@register_backend("name", policy=True)``, and ``harness bench name`` plays it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from types import ModuleType
from typing import NamedTuple

from harness.backends.base import Backend
from harness.errors import UsageError

Factory = Callable[..., Backend]
ENTRY_POINT_GROUP = "react_harness.backends"


class Builtin(NamedTuple):
    module: str
    """The module whose ``@register_backend`` registers it (imported only when it is used)."""
    policy: bool = False
    """What its ``register_backend(policy=...)`` says, known without importing it (a test checks)."""


BUILTIN = {
    "ollama": Builtin("harness.backends.ollama"),
    "openai": Builtin("harness.backends.openai"),
    "llamacpp": Builtin("harness.backends.llamacpp"),
    "scripted": Builtin("harness.backends.scripted", policy=True),
    "transformers": Builtin("harness.backends.hf"),
    "expert": Builtin("harness.backends.policies", policy=True),
    "random": Builtin("harness.backends.policies", policy=True),
}
_FACTORIES: dict[str, Factory] = {}
_POLICIES: set[str] = set()


def register_backend(name: str, *, policy: bool = False) -> Callable[[Factory], Factory]:
    """Register ``factory`` as backend ``name``; ``policy=True``: it plays without a model, so
    ``harness bench name`` plays it (the model name is the backend)."""

    def deco(factory: Factory) -> Factory:
        _FACTORIES[name] = factory
        if policy:
            _POLICIES.add(name)
        else:
            _POLICIES.discard(name)
        return factory

    return deco


def _plugins() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def available_backends() -> list[str]:
    return sorted(set(BUILTIN) | set(_FACTORIES) | set(_plugins()))


def is_policy(name: str) -> bool:
    """Whether backend ``name`` is a policy (built-in, registered, or a plugin's, loaded to see)."""
    if name in _FACTORIES:
        return name in _POLICIES
    if name in BUILTIN:
        return BUILTIN[name].policy
    if name in _plugins():
        _load(name)
    return name in _POLICIES


def backend_help(policies: bool = True) -> str:
    """``auto | ollama | …``: the built-in names a ``--backend`` option takes (the policies too,
    unless ``policies`` is false), for its help; plugins' names work as well."""
    return " | ".join(["auto", *(n for n, b in BUILTIN.items() if policies or not b.policy)])


def _load(name: str) -> None:
    if name in BUILTIN:
        importlib.import_module(BUILTIN[name].module)
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
