"""What produced a result: the harness version, the git revision of a checkout, and the engine
versions (llama.cpp via llama-cpp-python, transformers, the Ollama server), as run.json and
results.json record them. Cheap: package metadata, one ``git`` call, one loopback request."""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["engine_version", "package_version", "provenance"]


def package_version(name: str) -> str | None:
    """The installed version of a distribution, None when it is not installed."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _git_revision() -> str | None:
    """``<sha>`` (``+dirty`` with local changes) when the harness runs from a git checkout."""
    root = Path(__file__).resolve().parents[2]  # the checkout holding harness/
    if not (root / ".git").exists():
        return None
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        )  # fmt: skip
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _ollama_version(host: str | None = None) -> str | None:
    try:
        import httpx

        from harness.backends.ollama import resolve_host

        r = httpx.get(f"{resolve_host(host)}/api/version", timeout=0.5)
        return r.json().get("version") if r.status_code == 200 else None
    except Exception:  # unreachable, or not Ollama: nothing to record
        return None


# the backends that run a model in-process and follow Ollama's semantics (harness.serving.emulation)
EMULATING = ("llamacpp", "transformers")


def provenance(host: str | None = None, backend: str | None = None) -> dict[str, Any]:
    """Versions of everything a run's numbers depend on (None: not installed / not reachable).
    For an in-process ``backend``, also ``ollama_emulated``: the Ollama release whose behaviour it
    follows (``HARNESS_OLLAMA_VERSION`` or the default) and the ollama/ollama commit read as oracle."""
    facts: dict[str, Any] = {
        "harness": package_version("react-harness"),
        "git": _git_revision(),
        "llama_cpp_python": package_version("llama_cpp_python"),
        "transformers": package_version("transformers"),
        "ollama": _ollama_version(host),
    }
    if backend in EMULATING:
        from harness.serving.emulation import OLLAMA_COMMIT, emulated_version

        facts["ollama_emulated"] = {"version": emulated_version(), "commit": OLLAMA_COMMIT}
    return facts


# backend name -> the provenance key of the engine that computes its replies
ENGINES = {
    "llamacpp": "llama_cpp_python",
    "ollama": "ollama",
    "transformers": "transformers",
}


def engine_version(backend: str, facts: dict[str, Any]) -> str | None:
    """``<engine> <version>`` of the backend's engine (None for the policies)."""
    key = ENGINES.get(backend)
    return f"{key} {facts.get(key)}" if key else None
