"""harness build: convert → quantize → register from a merged checkpoint, re-entrant; the full
tiny recipe (data → sft → merge → …) is a slow test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("transformers")


def _harness(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          env=dict(os.environ), cwd=cwd, timeout=timeout)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_merged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from harness.bench.suites import load_suite
    from train.data import export
    from train.tiny import conversation_texts, make_tiny_model

    base = tmp_path_factory.mktemp("tiny")
    export(load_suite("synthetic-smoke"), base / "data")
    out = base / "model"
    make_tiny_model(out, arch="qwen2", tokenizer="bpe:1024", texts=conversation_texts(base / "data"))
    return out


def test_build_from_merged_is_reentrant(tiny_merged: Path, tmp_path: Path) -> None:
    bdir = tmp_path / "b"
    r = _harness("build", "tiny", "--from-merged", str(tiny_merged), "--levels", "f16,q8_0,q4_k_m",
                 "--build-dir", str(bdir), "--backend", "local")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert [line.split("\t")[0] for line in r.stdout.splitlines()] == ["tiny:f16", "tiny:q8_0", "tiny:q4_k_m"]
    state = json.loads((bdir / "build.json").read_text())
    assert set(state["steps"]) == {"merge", "convert", "quantize", "register"}
    assert state["steps"]["merge"]["outputs"][0]["path"] == str(tiny_merged.resolve())
    models = _harness("models").stdout
    assert "tiny:q4_k_m" in models and "Q4_K_M" in models
    again = _harness("build", "tiny", "--from-merged", str(tiny_merged), "--levels", "f16,q8_0,q4_k_m",
                     "--build-dir", str(bdir), "--backend", "local")  # fmt: skip
    assert again.returncode == 0
    assert "convert   skipped" in again.stderr and "quantize  skipped" in again.stderr
    assert all(line.split("\t")[2] == "unchanged" for line in again.stdout.splitlines())
    forced = _harness("build", "tiny", "--from-merged", str(tiny_merged), "--levels", "f16,q8_0,q4_k_m",
                      "--build-dir", str(bdir), "--backend", "local", "--force", "convert")  # fmt: skip
    assert "convert   done" in forced.stderr and "quantize  done" in forced.stderr
    # a damaged artifact is rebuilt
    (bdir / "gguf" / "tiny.q8_0.gguf").write_bytes(b"GGUF broken")
    healed = _harness("build", "tiny", "--from-merged", str(tiny_merged), "--levels", "q8_0",
                      "--build-dir", str(bdir), "--backend", "local")  # fmt: skip
    assert healed.returncode == 0 and "quantize  done" in healed.stderr


def test_relative_build_dir_is_recorded_so_reruns_skip_and_diagnose_finds_the_ggufs(
    tiny_merged: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build dir given relative to the working directory (the default, builds/NAME): build.json
    stores the GGUFs relative to the build's folder, so a rerun skips them and diagnose finds
    them; a record written the old way (relative to the working directory) still reads."""
    from harness.diagnose.stages import stages_from_build

    args = ("build", "tiny", "--from-merged", str(tiny_merged), "--levels", "f16,q8_0", "--build-dir", "b",
            "--backend", "local")  # fmt: skip
    assert _harness(*args, cwd=tmp_path).returncode == 0
    state = json.loads((tmp_path / "b" / "build.json").read_text())
    assert [o["path"] for o in state["steps"]["quantize"]["outputs"]] == ["gguf/tiny.q8_0.gguf"]
    assert state["steps"]["register"]["seconds"] >= 0
    again = _harness(*args, cwd=tmp_path)
    assert "convert   skipped" in again.stderr and "quantize  skipped" in again.stderr, again.stderr
    levels = [st.level for st in stages_from_build(tmp_path / "b") if st.kind == "gguf"]
    assert levels == ["f16", "q8_0"]
    for step in ("convert", "quantize"):  # the old way: relative to the working directory
        for o in state["steps"][step]["outputs"]:
            o["path"] = "b/" + o["path"]
    (tmp_path / "b" / "build.json").write_text(json.dumps(state))
    old = _harness(*args, cwd=tmp_path)
    assert "convert   skipped" in old.stderr and "quantize  skipped" in old.stderr, old.stderr
    monkeypatch.chdir(tmp_path)  # diagnose runs where the build ran
    assert [st.level for st in stages_from_build(Path("b")) if st.kind == "gguf"] == ["f16", "q8_0"]


def test_build_bench_runs_on_a_level(tiny_merged: Path, tmp_path: Path) -> None:
    r = _harness("build", "tb", "--from-merged", str(tiny_merged), "--levels", "q4_k_m",
                 "--build-dir", str(tmp_path / "b"), "--backend", "local")  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = _harness("bench", "tb:q4_k_m", "--suite", "synthetic-smoke", "--limit", "2", "--max-steps", "3",
                 "--out", str(tmp_path / "run"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["run"]["backend"] == "llamacpp" and len(res["episodes"]) == 2


def test_build_bad_input(tmp_path: Path) -> None:
    r = _harness(
        "build", "x", "--from-merged", str(tmp_path), "--levels", "q4_k_m", "--build-dir", str(tmp_path / "b")
    )
    assert r.returncode == 1 and "no config.json" in r.stderr and "Traceback" not in r.stderr
    r = _harness("build", "x", "--from-merged", str(tmp_path), "--levels", "q9_z")
    assert r.returncode != 0 and "q9_z" in r.stderr
    r = _harness("build", "x", "--levels", "q8_0", "--build-dir", str(tmp_path / "c"))
    assert r.returncode == 1 and "--recipe" in r.stderr
