"""Registered models, in Ollama or in the local store.

``register`` / ``list_models`` / ``show_model`` / ``remove_model`` pick Ollama or the store
(``backend`` = ``auto``: Ollama when it answers, else the store,
:mod:`harness.serving.store`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness._util.atomic import sha256_file
from harness.backends.base import ModelNotFound
from harness.errors import HarnessError
from harness.serving.gguf_info import read_gguf_info
from harness.serving.modelfile import Modelfile
from harness.serving.store import (
    canonical_name,
    get_local,
    list_local,
    normalize_backend,
    register_local,
    remove_local,
)

__all__ = [
    "ModelEntry",
    "RegisterResult",
    "list_models",
    "register",
    "remove_model",
    "show_model",
    "unknown_model",
]


@dataclass
class ModelEntry:
    """One row of ``harness models``."""

    name: str
    where: str
    """``ollama`` or ``local``."""
    size: int | None
    quantization: str | None
    digest: str | None


@dataclass
class RegisterResult:
    name: str
    where: str
    status: str
    """``created``, ``unchanged``, ``replaced`` (local) or ``created`` (Ollama)."""
    sha256: str


def register(
    name: str,
    gguf: str | Path,
    modelfile: Modelfile | None = None,
    *,
    quantize: str | None = None,
    backend: str = "auto",
    host: str | None = None,
    progress: bool = True,
) -> RegisterResult:
    """Register ``gguf`` as ``name`` in Ollama (when it answers, or when asked) or the local store."""
    where = normalize_backend(backend)
    name = canonical_name(name)
    read_gguf_info(gguf)
    if where != "local":
        from harness.backends import ollama

        if where == "ollama" or ollama.is_reachable(host):
            sha = sha256_file(gguf)
            ollama.register_gguf(
                name, gguf, modelfile or Modelfile(from_=str(gguf)), sha256=sha, quantize=quantize,
                host=host, progress=progress,
            )  # fmt: skip
            return RegisterResult(name, "ollama", "created", sha)
    manifest, status = register_local(name, gguf, modelfile, quantize=quantize)
    return RegisterResult(name, "local", status, manifest.sha256)


def _ollama_if(backend: str, host: str | None) -> Any:
    """The Ollama module when ``backend`` asks for it (``auto``: only if it answers), else None."""
    where = normalize_backend(backend)
    if where == "local":
        return None
    from harness.backends import ollama

    if where == "ollama" or ollama.is_reachable(host):
        return ollama
    return None


def list_models(backend: str = "auto", host: str | None = None) -> list[ModelEntry]:
    """Models of the local store and (when reachable / asked) of Ollama."""
    out: list[ModelEntry] = []
    if normalize_backend(backend) != "ollama":
        out += [ModelEntry(m.name, "local", m.size, m.quantization, m.sha256) for m in list_local()]
    if (ol := _ollama_if(backend, host)) is not None:
        for m in ol.OllamaServer(host).list():
            details = m.get("details") or {}
            out.append(
                ModelEntry(
                    m["name"], "ollama", m.get("size"), details.get("quantization_level"), m.get("digest")
                )
            )
    return out


def show_model(name: str, backend: str = "auto", host: str | None = None) -> dict[str, Any]:
    """Details of ``name``: ``where`` plus the manifest (local) or ``/api/show`` (Ollama)."""
    if normalize_backend(backend) != "ollama" and (m := get_local(name)) is not None:
        return {"where": "local", **asdict(m)}
    if (ol := _ollama_if(backend, host)) is not None:
        return {"where": "ollama", "name": name, **ol.OllamaServer(host).show(name)}
    raise unknown_model(name)


def remove_model(name: str, backend: str = "auto", host: str | None = None) -> list[str]:
    """Remove ``name`` wherever ``backend`` allows; returns where it was removed from."""
    removed: list[str] = []
    if normalize_backend(backend) != "ollama" and remove_local(name):
        removed.append("local")
    if (ol := _ollama_if(backend, host)) is not None:
        server = ol.OllamaServer(host)
        if not removed or any(_same_name(m["name"], name) for m in server.list()):
            try:
                server.delete(name)
                removed.append("ollama")
            except ModelNotFound:
                if not removed:
                    raise unknown_model(name) from None
    if not removed:
        raise unknown_model(name)
    return removed


def _same_name(a: str, b: str) -> bool:
    return a.removesuffix(":latest") == b.removesuffix(":latest")


def unknown_model(name: str, host: str | None = None) -> ModelNotFound:
    """The error for a name nobody knows, listing what is registered."""
    try:
        names = sorted({e.name.removesuffix(":latest") for e in list_models("auto", host)})
    except HarnessError:
        names = [m.name for m in list_local()]
    have = f"registered: {', '.join(names)}" if names else "no models are registered"
    return ModelNotFound(
        f"unknown model {name!r} ({have}); add it with 'harness register {name} --gguf FILE'"
    )
