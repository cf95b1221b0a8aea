"""The embedded engine's smoke check (``harness.backends.engine_check``) and ``harness doctor``.

The check runs the real llama.cpp on the real SmolLM2 GGUF in a child process; crashes are
simulated with children that die of a signal, which is what a wrongly built llama.cpp does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.backends.engine_check import BATCH, check_engine, interpret
from harness.cli import main as harness_main


def test_the_installed_engine_passes_its_smoke_check() -> None:
    report = check_engine()
    assert report.ok, report.error
    assert report.batch_tokens == BATCH and report.generated_tokens > 0
    assert report.prompt_tokens_per_s > 0 and report.gen_tokens_per_s > 0
    assert "AVX2" in report.features  # the portable build (scripts/setup) always has AVX2
    assert "AMX_INT8" not in report.features  # and never the native AMX paths


@pytest.mark.parametrize("sig", ["SIGSEGV", "SIGILL"])
def test_a_crashing_engine_is_one_line_saying_what_to_run(sig: str) -> None:
    code = f"import os, signal; os.kill(os.getpid(), signal.{sig})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    report = interpret(proc, "model.gguf")
    assert not report.ok
    assert sig in report.error and "scripts/setup" in report.error and "\n" not in report.error


def test_a_missing_engine_or_an_error_is_one_line() -> None:
    proc = subprocess.run([sys.executable, "-c", "import llama_cpp_not_here"], capture_output=True, text=True)
    report = interpret(proc, "model.gguf")
    assert not report.ok and "failed its smoke check" in report.error and "\n" not in report.error
    missing = subprocess.CompletedProcess([], 1, "", "ModuleNotFoundError: No module named 'llama_cpp'\n")
    assert "not installed" in interpret(missing, "m.gguf").error


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        harness_main(args)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_doctor_on_a_healthy_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")  # nothing listens there: a note, not a failure
    code, out, _ = run_cli(["doctor"], capsys)
    lines = {ln.split()[1]: ln for ln in out.splitlines()}
    assert code == 0, out
    assert set(lines) == {"engine", "ollama", "alfworld", "factory", "disk"}
    assert lines["engine"].startswith("ok") and "tok/s" in lines["engine"]
    assert lines["ollama"].startswith("note")


def test_doctor_json_and_a_broken_engine(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.bench.system as doctor

    monkeypatch.setenv("ALFWORLD_DATA", "/nonexistent/alfworld")
    real = doctor._pkg_version
    monkeypatch.setattr(
        doctor, "_pkg_version", lambda name: None if name == "llama_cpp_python" else real(name)
    )
    code, out, _ = run_cli(["doctor", "--json"], capsys)
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert code == 1
    assert checks["engine"]["status"] == "FAIL" and "scripts/setup" in checks["engine"]["detail"]
    assert checks["alfworld"]["status"] == "FAIL"
    assert checks["factory"]["facts"]["versions"]["torch"]
