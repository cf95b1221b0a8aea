"""The local model store: a GGUF plus a Modelfile per name, served in-process by llama.cpp.

The store is a folder under the user's data dir (``$HARNESS_HOME`` if set, else e.g.
``~/.local/share/react-harness``)::

    models/blobs/sha256-<hex>.gguf     the GGUF, hard-linked from the source (copied across devices)
    models/manifests/<name>.json       one manifest per name (``version``, sha256, Modelfile text)

Several names may share one blob; ``remove`` deletes a blob once no manifest points at it.
Registering the same bytes again under a name is a no-op, a different GGUF replaces it.

Registering into Ollama *or* the store (``auto``) is :mod:`harness.backends.catalog`'s job.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import sys
import time
import urllib.parse
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from harness._util.atomic import atomic_write_text, sha256_file
from harness._util.jsonfile import read_json
from harness._util.paths import inside
from harness.errors import HarnessError, UsageError
from harness.serving import LOCAL_ALIASES
from harness.serving.gguf_info import FLOAT_FILE_TYPES, GGUFError, GGUFInfo, read_gguf_info
from harness.serving.modelfile import Modelfile

log = logging.getLogger(__name__)

__all__ = [
    "MANIFEST_VERSION",
    "GGUFError",
    "GGUFInfo",
    "LocalModel",
    "get_local",
    "harness_home",
    "list_local",
    "normalize_backend",
    "read_gguf_info",
    "register_local",
    "remove_local",
]

MANIFEST_VERSION = 1
Where = Literal["auto", "ollama", "local"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?(:[A-Za-z0-9_][A-Za-z0-9._-]*)?")


class RegistryError(HarnessError):
    """The local model store is damaged or cannot be written."""


def harness_home() -> Path:
    """``$HARNESS_HOME``, else the platform data dir (``$XDG_DATA_HOME/react-harness`` …)."""
    if env := os.environ.get("HARNESS_HOME"):
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "react-harness"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "react-harness"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "react-harness"


def normalize_backend(backend: str) -> Where:
    """``auto`` / ``ollama`` / ``local`` (``llamacpp`` and ``embedded`` mean ``local``)."""
    b = backend.lower()
    if b in LOCAL_ALIASES:
        return "local"
    if b in ("auto", "ollama"):
        return b  # type: ignore[return-value]
    raise UsageError(f"unknown backend {backend!r}: use auto, ollama or local")


MAX_NAME = 200
"""Longest model name: its manifest's file name must fit the file system's 255 bytes."""


def canonical_name(name: str) -> str:
    """Check a model name (``name``, ``ns/name``, ``name:tag``); ``x:latest`` is ``x``."""
    if len(name) > MAX_NAME:
        raise UsageError(f"model name of {len(name)} characters is too long (at most {MAX_NAME})")
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"invalid model name {name!r}: use letters, digits, '.', '_', '-', optionally ns/ and :tag"
        )
    return name.removesuffix(":latest")


# ------------------------------------------------------------------------------ local store
@dataclass
class LocalModel:
    """A manifest of the local store (JSON, one per name)."""

    name: str
    sha256: str
    """sha256 of the stored GGUF."""
    size: int
    modelfile: str
    """Modelfile text, FROM pointing at the stored GGUF."""
    gguf: str
    """Stored GGUF path."""
    quantization: str | None = None
    architecture: str | None = None
    source: str | None = None
    """The path the GGUF was registered from."""
    source_sha256: str | None = None
    """sha256 of the source GGUF (differs from ``sha256`` after ``--quantize``)."""
    quantize: str | None = None
    created_at: float = field(default_factory=time.time)
    mtime_ns: int = 0
    """The stored file's mtime when registered: a cheap check that nobody rewrote it in place."""
    version: int = MANIFEST_VERSION

    @property
    def path(self) -> Path:
        return Path(self.gguf)

    def parsed_modelfile(self) -> Modelfile:
        from harness.serving.modelfile import parse

        return parse(self.modelfile, source=f"Modelfile of {self.name}")

    def check(self) -> Path:
        """The stored GGUF, after checking that it is still there and unchanged (size, mtime)."""
        try:
            st = self.path.stat()
        except OSError:
            raise RegistryError(
                f"the GGUF of {self.name!r} is missing from the store ({self.gguf}); register it again"
            ) from None
        if st.st_size != self.size or (self.mtime_ns and st.st_mtime_ns != self.mtime_ns):
            raise RegistryError(
                f"the stored GGUF of {self.name!r} changed since it was registered; "
                f"register it again with 'harness register {self.name} --gguf FILE'"
            )
        return self.path


def _store() -> Path:
    return harness_home() / "models"


def _manifest_path(name: str) -> Path:
    return _store() / "manifests" / (urllib.parse.quote(name, safe="") + ".json")


def get_local(name: str) -> LocalModel | None:
    """The manifest of ``name`` in the local store, or None."""
    path = _manifest_path(canonical_name(name))
    if not path.exists():
        return None
    return _load_manifest(path)


def _load_manifest(path: Path) -> LocalModel:
    fix = "delete it and register the model again"
    data = read_json(path, "manifest", RegistryError, fix)
    if data.get("version") != MANIFEST_VERSION:
        raise RegistryError(
            f"{path}: manifest version {data.get('version')} is not {MANIFEST_VERSION}; {fix}"
        )
    try:
        model = LocalModel(**data)
    except TypeError as e:
        raise RegistryError(f"{path}: unreadable manifest ({e}); {fix}") from None
    if not isinstance(model.gguf, str):
        raise RegistryError(f"{path}: unreadable manifest (gguf is not a path); {fix}")
    # the blob it names must be in the store: `models rm` deletes it
    inside(model.gguf, _store() / "blobs", f"manifest {path}")
    return model


def list_local() -> list[LocalModel]:
    """Every model of the local store, by name."""
    folder = _store() / "manifests"
    return sorted((_load_manifest(p) for p in folder.glob("*.json")), key=lambda m: m.name)


def _place_blob(src: Path, sha: str) -> Path:
    """Hard-link (or copy: temp + fsync + rename) ``src`` to its blob path; returns it."""
    blob = _store() / "blobs" / f"sha256-{sha}.gguf"
    if blob.exists() and blob.stat().st_size == src.stat().st_size:
        return blob
    blob.parent.mkdir(parents=True, exist_ok=True)
    tmp = blob.parent / f".{blob.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        try:
            os.link(src, tmp)
        except OSError:
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
                fout.flush()
                os.fsync(fout.fileno())
        os.replace(tmp, blob)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return blob


def register_local(
    name: str,
    gguf: str | Path,
    modelfile: Modelfile | None = None,
    *,
    quantize: str | None = None,
    source: str | Path | None = None,
) -> tuple[LocalModel, str]:
    """Put ``gguf`` + ``modelfile`` into the local store as ``name``. ``source``: the file the
    user named, recorded as the manifest's source when ``gguf`` is a temporary rewritten copy of
    it (a chat template written in; ``source_sha256`` stays the sha256 of the bytes stored).

    Returns (manifest, status) with status ``created``, ``unchanged`` or ``replaced``.
    """
    name = canonical_name(name)
    src = Path(gguf).resolve()
    info = read_gguf_info(src)
    mf = modelfile or Modelfile(from_=str(src))
    if mf.adapters:
        raise UsageError("ADAPTER is not supported by the local store; merge the adapter into the GGUF first")
    source_sha = sha256_file(src)
    old = get_local(name)
    if old and old.source_sha256 == source_sha and old.quantize == quantize and _same_text(old, mf):
        try:
            old.check()
            return old, "unchanged"
        except RegistryError:
            pass
    if quantize:
        out = _quantized_copy(src, source_sha, quantize, info)
        sha, blob = sha256_file(out), None
        try:
            blob = _place_blob(out, sha)
        finally:
            out.unlink(missing_ok=True)
        info = read_gguf_info(blob)
    else:
        sha, blob = source_sha, _place_blob(src, source_sha)
    stored = dataclasses.replace(mf, from_=str(blob))
    st = blob.stat()
    manifest = LocalModel(
        name=name, sha256=sha, size=st.st_size, modelfile=stored.to_text(), gguf=str(blob),
        quantization=info.quantization, architecture=info.architecture,
        source=str(Path(source).resolve() if source is not None else src),
        source_sha256=source_sha, quantize=quantize, mtime_ns=st.st_mtime_ns,
    )  # fmt: skip
    atomic_write_text(_manifest_path(name), json.dumps(asdict(manifest), indent=2) + "\n")
    if old and old.sha256 != sha:
        _drop_unused_blob(old.path)
    return manifest, "replaced" if old else "created"


def _quantized_copy(src: Path, source_sha: str, qtype: str, info: GGUFInfo) -> Path:
    """``src`` quantized to ``qtype`` (``q4_K_M`` …) in the store's tmp folder, by the one
    quantizer; its k-quant fallback note (rows that do not divide by 256) is logged."""
    from harness.serving.quant import QUANT_TYPES, quantize

    level = qtype.lower()
    if level not in QUANT_TYPES:
        raise UsageError(f"unknown quantization {qtype!r}; use one of {', '.join(QUANT_TYPES)}")
    if info.file_type not in FLOAT_FILE_TYPES:
        raise UsageError(
            f"{src} is already quantized ({info.quantization}); --quantize needs an F16, BF16 or F32 GGUF"
        )
    tmp_dir = _store() / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    log.info("quantizing %s to %s …", src.name, level)
    result = quantize(src, level, tmp_dir / f"{source_sha}-{level}.gguf")
    if result.note:
        log.warning("%s: %s", level, result.note)
    return result.path


def _same_text(old: LocalModel, mf: Modelfile) -> bool:
    return old.parsed_modelfile().to_text() == dataclasses.replace(mf, from_=old.gguf).to_text()


def remove_local(name: str) -> bool:
    """Remove ``name`` from the local store (and its blob when unused); False if absent."""
    model = get_local(name)
    if model is None:
        return False
    _manifest_path(model.name).unlink()
    _drop_unused_blob(model.path)
    return True


def _drop_unused_blob(blob: Path) -> None:
    if all(m.gguf != str(blob) for m in list_local()):
        blob.unlink(missing_ok=True)
