"""Smoke check of the embedded engine (llama-cpp-python), always run in a child process.

A llama.cpp built for the wrong CPU does not raise: it dies (SIGSEGV in ``llama_decode`` on
any batch of 2+ tokens with the native build on AMX Xeons, SIGILL with instructions the CPU
lacks). So the check loads the SmolLM2 GGUF in a subprocess, evaluates one 64-token batch and
generates a few tokens, and the parent turns a crash into one line that says what to run.

    python -m harness.backends.engine_check            # one line, exit 0 when the engine works
    python -m harness.backends.engine_check --json     # the facts, for doctor / bug reports

``scripts/setup`` runs it right after installing; ``harness doctor`` reports it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["EngineReport", "check_engine", "compiled_features", "interpret"]

REBUILD = "rerun scripts/setup (it rebuilds llama-cpp-python with portable CPU flags)"
BATCH = 64
GENERATE = 8


@dataclass
class EngineReport:
    """What the smoke check found. ``ok`` is False with ``error`` saying what to do."""

    ok: bool
    error: str = ""
    version: str = ""
    system_info: str = ""
    features: list[str] = field(default_factory=list)
    gguf: str = ""
    batch_tokens: int = 0
    prompt_tokens_per_s: float = 0.0
    generated_tokens: int = 0
    gen_tokens_per_s: float = 0.0

    def line(self) -> str:
        if not self.ok:
            return self.error
        return (
            f"llama-cpp-python {self.version} ({' '.join(self.features) or 'no SIMD flags'}): "
            f"{self.batch_tokens}-token batch at {self.prompt_tokens_per_s:.0f} tok/s, "
            f"generation {self.gen_tokens_per_s:.1f} tok/s"
        )


def compiled_features(system_info: str) -> list[str]:
    """The instruction sets a llama.cpp build reports as compiled in (``AVX2 = 1`` …)."""
    found = []
    for part in system_info.replace("|", "\n").splitlines():
        name, _, value = part.partition("=")
        name = name.split(":")[-1].strip()
        if value.strip() == "1" and name:
            found.append(name)
    return found


def _child(gguf: str) -> dict:
    """Runs inside the subprocess: load, one batch, a few greedy tokens."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info()
    info = info.decode(errors="replace") if isinstance(info, bytes) else str(info)
    llm = llama_cpp.Llama(model_path=gguf, n_ctx=256, n_batch=BATCH, n_threads=min(2, os.cpu_count() or 1),
                          verbose=False)  # fmt: skip
    text = "You are in the middle of a room. Looking quickly around you, you see a cabinet 1. " * 8
    tokens = llm.tokenize(text.encode())[:BATCH]
    t0 = time.perf_counter()
    llm.eval(tokens)
    t_prompt = time.perf_counter() - t0
    out = []
    t0 = time.perf_counter()
    for _ in range(GENERATE):
        tok = llm.sample(temp=0.0)
        out.append(tok)
        llm.eval([tok])
    t_gen = time.perf_counter() - t0
    return {
        "version": getattr(llama_cpp, "__version__", "?"),
        "system_info": info.strip(),
        "batch_tokens": len(tokens),
        "prompt_tokens_per_s": len(tokens) / max(t_prompt, 1e-9),
        "generated_tokens": len(out),
        "gen_tokens_per_s": len(out) / max(t_gen, 1e-9),
    }


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def check_engine(gguf: str | Path | None = None, timeout: float = 180.0) -> EngineReport:
    """Run the smoke check in a fresh interpreter and report; never raises for engine faults."""
    if gguf is None:
        from harness.backends.resolve import default_gguf
        from harness.errors import HarnessError

        try:
            gguf = default_gguf()
        except HarnessError as e:
            return EngineReport(ok=False, error=str(e))
    cmd = [sys.executable, "-m", "harness.backends.engine_check", "--child", str(gguf)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return EngineReport(
            ok=False,
            gguf=str(gguf),
            error=f"the embedded engine's smoke check took over {timeout:.0f} s; {REBUILD}",
        )
    return interpret(proc, str(gguf))


def interpret(proc: subprocess.CompletedProcess, gguf: str) -> EngineReport:
    """The report for a finished child: its JSON facts, or one line for a crash or an error."""
    if proc.returncode < 0:
        name = _signal_name(proc.returncode)
        return EngineReport(
            ok=False, gguf=gguf,
            error=f"the embedded engine crashed ({name}) on a {BATCH}-token batch: it was built for another CPU; {REBUILD}",
        )  # fmt: skip
    if proc.returncode != 0:
        if "No module named 'llama_cpp'" in proc.stderr:
            return EngineReport(ok=False, gguf=gguf, error=f"llama-cpp-python is not installed; {REBUILD}")
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return EngineReport(
            ok=False, gguf=gguf, error=f"the embedded engine failed its smoke check ({last}); {REBUILD}"
        )
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    return EngineReport(ok=True, gguf=gguf, features=compiled_features(facts["system_info"]), **facts)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--child"]:
        print(json.dumps(_child(args[1])))
        return 0
    report = check_engine()
    if "--json" in args:
        print(json.dumps(asdict(report), indent=2))
    else:
        print(("embedded engine ok: " if report.ok else "embedded engine broken: ") + report.line())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
