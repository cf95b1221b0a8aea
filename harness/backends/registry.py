"""Backends by name. A backend module registers a factory with ``@register_backend``;
``create_backend`` imports the module only when that backend is used."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from harness.backends.base import Backend
from harness.errors import UsageError

Factory = Callable[..., Backend]

# name -> module that registers it (imported lazily)
BUILTIN = {
    "ollama": "harness.backends.ollama",
    "llamacpp": "harness.backends.llamacpp",
    "scripted": "harness.backends.scripted",
    "transformers": "harness.backends.hf",
    "expert": "harness.backends.policies",
    "random": "harness.backends.policies",
}
_FACTORIES: dict[str, Factory] = {}


def register_backend(name: str) -> Callable[[Factory], Factory]:
    def deco(factory: Factory) -> Factory:
        _FACTORIES[name] = factory
        return factory

    return deco


def available_backends() -> list[str]:
    return sorted(set(BUILTIN) | set(_FACTORIES))


def create_backend(name: str, model: str = "", **kwargs) -> Backend:
    if name not in _FACTORIES and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    if name not in _FACTORIES:
        raise UsageError(f"unknown backend {name!r} (available: {', '.join(available_backends())})")
    return _FACTORIES[name](model=model, **kwargs)
