"""Registered models, in Ollama or in the local store.

``register`` / ``list_models`` / ``show_model`` / ``remove_model`` pick Ollama or the store
(``backend`` = ``auto``: Ollama when it answers, else the store,
:mod:`harness.serving.store`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness._util.atomic import sha256_file
from harness._util.progress import ByteProgress
from harness.backends.base import ModelNotFound
from harness.errors import HarnessError
from harness.serving.gguf_info import read_gguf_info
from harness.serving.modelfile import Modelfile
from harness.serving.store import (
    canonical_name,
    get_local,
    harness_home,
    list_local,
    normalize_backend,
    register_local,
    remove_local,
)
from harness.serving.template_fit import plan_template, server_version

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
    template: str = ""
    """Which template the model's prompts are rendered with, in one line (serving.template_fit)."""


def register(
    name: str,
    gguf: str | Path,
    modelfile: Modelfile | None = None,
    *,
    quantize: str | None = None,
    backend: str = "auto",
    host: str | None = None,
    progress: ByteProgress | None = None,
) -> RegisterResult:
    """Register ``gguf`` as ``name`` in Ollama (when it answers, or when asked) or the local store.

    A GGUF the project converted whose chat template would beat the Modelfile TEMPLATE is
    registered with the TEMPLATE written as its chat template (:mod:`harness.serving.template_fit`).
    """
    where = normalize_backend(backend)
    name = canonical_name(name)
    read_gguf_info(gguf)
    mf = modelfile or Modelfile(from_=str(gguf))
    ol = None
    if where != "local":
        from harness.backends import ollama

        if where == "ollama" or ollama.is_reachable(host):
            ol = ollama
    version = server_version(ol.OllamaServer(host).version()) if ol is not None else None
    plan = plan_template(mf, gguf, version=version)
    with _fitted(gguf, plan.rewrite) as src:
        if ol is not None:
            sha = sha256_file(src)
            ol.register_gguf(name, src, mf, sha256=sha, quantize=quantize, host=host, progress=progress)
            return RegisterResult(name, "ollama", "created", sha, plan.note)
        manifest, status = register_local(name, src, modelfile, quantize=quantize, source=gguf)
    return RegisterResult(name, "local", status, manifest.sha256, plan.note)


@contextlib.contextmanager
def _fitted(gguf: str | Path, chat_template: str | None) -> Iterator[Path]:
    """``gguf``, or a temporary copy with ``chat_template`` as its tokenizer.chat_template."""
    if chat_template is None:
        yield Path(gguf)
        return
    from harness.serving.gguf_edit import set_metadata_string

    tmp_dir = harness_home() / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    out = tmp_dir / Path(gguf).name
    try:
        set_metadata_string(gguf, out, "tokenizer.chat_template", chat_template)
        yield out
    finally:
        out.unlink(missing_ok=True)


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
