"""What a run depends on, one fact sheet: the embedded engine, Ollama at OLLAMA_HOST, the ALFWorld
games, the model-factory extras and free disk. ``harness doctor`` prints it (one line per check,
ok or what to do next); ``harness bench`` (and so each level of ``harness regress``) records the
quick form (:func:`facts`, no subprocesses) in run.json under ``machine``.

What counts as broken: the engine (it serves every model when no Ollama answers), a set
ALFWORLD_DATA that holds no games, an installed factory extra that fails to import, less than
1 GB free. Ollama not answering, ALFWORLD_DATA unset and the factory not installed are notes:
the synthetic suites and the embedded engine run without them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.bench.provenance import package_version as _pkg_version  # tests patch this name

Status = Literal["ok", "note", "FAIL"]
FACTORY = ("torch", "transformers", "peft", "accelerate", "gguf", "safetensors")
MIN_FREE_GB = 1.0


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)


def check_engine(smoke: bool = True) -> Check:
    installed = _pkg_version("llama_cpp_python")
    if installed is None:
        return Check(
            "engine",
            "FAIL",
            "llama-cpp-python is not installed: run scripts/setup (or pip install 'react-harness[embedded]')",
        )
    if not smoke:
        facts: dict[str, Any] = {"version": installed}
        try:  # the compiled instruction sets, from the library itself (loading it is cheap)
            import llama_cpp

            from harness.backends.engine_check import compiled_features

            facts["features"] = compiled_features(
                llama_cpp.llama_print_system_info().decode(errors="replace")
            )
        except Exception:  # a broken engine is the smoke check's business
            facts["features"] = None
        return Check("engine", "ok", f"llama-cpp-python {installed} (smoke check skipped)", facts)
    from harness.backends.engine_check import check_engine as smoke_check

    report = smoke_check()
    return Check("engine", "ok" if report.ok else "FAIL", report.line(), asdict(report))


def check_ollama() -> Check:
    import httpx

    from harness.backends.ollama import resolve_host

    host = resolve_host()
    try:
        r = httpx.get(f"{host}/api/version", timeout=1.0)
        ver = r.json().get("version", "?") if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        ver = None
    if ver is None:
        return Check(
            "ollama",
            "note",
            f"no Ollama at {host} (optional: models run on the embedded engine; set OLLAMA_HOST to use one)",
            {"host": host, "reachable": False},
        )
    return Check("ollama", "ok", f"Ollama {ver} at {host}", {"host": host, "reachable": True, "version": ver})


def check_alfworld() -> Check:
    from harness.errors import HarnessError
    from harness.world.loader import ALFWORLD_SPLITS, discover_games

    value = os.environ.get("ALFWORLD_DATA")
    if not value:
        return Check(
            "alfworld",
            "note",
            "ALFWORLD_DATA is unset: the alfworld-* suites need it (synthetic suites work without)",
            {"set": False},
        )
    counts: dict[str, int] = {}
    try:
        for split in ALFWORLD_SPLITS:
            try:
                counts[split] = len(discover_games(split, Path(value).expanduser()))
            except HarnessError:
                counts[split] = 0
    except OSError as e:
        return Check("alfworld", "FAIL", f"ALFWORLD_DATA={value}: {e}", {"set": True})
    facts = {"set": True, "path": value, "games": counts}
    if not any(counts.values()):
        return Check(
            "alfworld",
            "FAIL",
            f"ALFWORLD_DATA={value} holds no games under json_2.1.1/: run alfworld-download or fix the path",
            facts,
        )
    shown = ", ".join(f"{k} {v}" for k, v in counts.items())
    return Check("alfworld", "ok", f"{value}: {shown} games", facts)


def check_factory(import_check: bool = True) -> Check:
    found = {name: _pkg_version(name) for name in FACTORY}
    if not any(found.values()):
        return Check(
            "factory", "note", "the model factory is not installed (scripts/setup all)", {"versions": found}
        )
    if not import_check:
        shown = " ".join(f"{n} {v}" for n, v in found.items() if v)
        return Check("factory", "ok", f"{shown} (import check skipped)", {"versions": found})
    missing = [n for n, v in found.items() if v is None]
    code = "import torch, transformers, peft, gguf; print(int(torch.cuda.is_available()))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    facts: dict[str, Any] = {"versions": found}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return Check(
            "factory", "FAIL", f"the model factory does not import ({last}): rerun scripts/setup all", facts
        )
    facts["cuda"] = proc.stdout.strip() == "1"
    shown = " ".join(f"{n} {v}" for n, v in found.items() if v)
    if missing:
        return Check(
            "factory", "FAIL", f"{shown}; missing {', '.join(missing)}: rerun scripts/setup all", facts
        )
    return Check("factory", "ok", f"{shown}; CUDA {'yes' if facts['cuda'] else 'no'}", facts)


def check_disk() -> Check:
    from harness.serving.store import harness_home

    places = {"builds": Path.cwd(), "store": harness_home()}
    facts: dict[str, Any] = {}
    worst = None
    for what, place in places.items():
        probe = place
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free / 1e9
        facts[what] = {"path": str(place), "free_gb": round(free, 1)}
        worst = free if worst is None else min(worst, free)
    shown = ", ".join(f"{k} {v['free_gb']} GB free ({v['path']})" for k, v in facts.items())
    if worst is not None and worst < MIN_FREE_GB:
        return Check("disk", "FAIL", f"{shown}: a build needs a few GB; free some space", facts)
    return Check("disk", "ok", shown, facts)


def collect(smoke: bool = True) -> list[Check]:
    """Every check; ``smoke=False`` runs no subprocess (no engine smoke eval, no factory import)."""
    return [check_engine(smoke), check_ollama(), check_alfworld(), check_factory(smoke), check_disk()]


def facts() -> dict[str, Any]:
    """The quick facts as a dict (what bench and regress record in run.json): versions, the
    engine's compiled instruction sets, Ollama, the games per split, free disk."""
    return {c.name: {"status": c.status, **c.facts} for c in collect(smoke=False)}
