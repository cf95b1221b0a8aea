"""Fault battery (issue 14): bad bytes, bad sizes, bad paths, unwritable places, concurrent runs,
kills at random points, servers that die or answer garbage. Every failing case checks the rule:
one line on stderr, exit ≠ 0, no traceback, no half-written file under a final name, nothing
outside the command's folders touched."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli as run

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable


pytestmark = pytest.mark.usefixtures("no_ollama")


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def one_line(code: int, err: str) -> str:
    """The rule for a failing command: exit ≠ 0, one line on stderr, no traceback."""
    assert code != 0, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every file under ``root`` (to check that nothing else was touched)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file()}  # fmt: skip


def no_temp_files(*roots: Path) -> None:
    """No half-written file: the atomic writers' temp files never outlive a command."""
    for root in roots:
        left = [p for p in root.rglob("*") if p.name.endswith(".tmp") or ".tmp" in p.name]
        assert not left, left


def small_gguf(path: Path, n: int = 4096) -> Path:
    """A valid GGUF with two F32 tensors (a few KB of data)."""
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny")
    w.add_context_length(128)
    w.add_tensor("a.weight", np.ones(n, dtype=np.float32))
    w.add_tensor("b.weight", np.zeros((4, n // 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


SUITE = "name: tiny\nsource: synthetic\nper_task_type: 1\nmax_steps: 20\n"


# ------------------------------------------------------------------------------------ escapes
def test_a_build_name_that_escapes_is_refused_before_any_folder(
    cwd: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gguf = small_gguf(tmp_path / "m.f16.gguf")
    before = tree(tmp_path)
    for name in ("../../X", "../X", "a" * 300, "x:tag"):
        code, _, err = run(capsys, "build", name, "--from-gguf", str(gguf), "--levels", "f16")
        assert "build" in one_line(code, err)
    assert not (tmp_path / "X").exists() and not (cwd.parent.parent / "X").exists()
    assert not (cwd / "builds").exists() or not any((cwd / "builds").iterdir())
    assert tree(tmp_path) == before


def test_a_failed_build_leaves_no_empty_folder(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "build", "nothing", "--levels", "f16")  # no --recipe / --from-*
    one_line(code, err)
    assert not (cwd / "builds" / "nothing").exists()


def test_models_rm_never_deletes_outside_the_blob_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.serving.store import harness_home

    code, _, err = run(
        capsys, "register", "m", "--gguf", str(small_gguf(tmp_path / "m.gguf")), "--backend", "local"
    )
    assert code == 0, err
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    manifest = next((harness_home() / "models" / "manifests").glob("*.json"))
    data = json.loads(manifest.read_text())
    data["gguf"] = str(victim)
    manifest.write_text(json.dumps(data))
    code, _, err = run(capsys, "models", "rm", "m", "--backend", "local")
    assert "outside" in one_line(code, err)
    assert victim.read_text() == "keep me"


def test_a_build_record_pointing_outside_its_folder_is_refused(tmp_path: Path) -> None:
    from harness.errors import HarnessError
    from train.build import Builder, BuildPlan

    outside = small_gguf(tmp_path / "elsewhere.gguf")
    build = tmp_path / "builds" / "b"
    build.mkdir(parents=True)
    rec = {"inputs": None, "outputs": [{"path": str(outside), "sha256": "x"}]}
    (build / "build.json").write_text(json.dumps({"version": 1, "name": "b", "steps": {"convert": rec}}))
    b = Builder(BuildPlan(name="b", build_dir=build))
    rec["inputs"] = "k"
    b.state["steps"]["convert"] = rec
    with pytest.raises(HarnessError, match="outside"):
        b._fresh("convert", "k")


# ------------------------------------------------------------------------------------- GGUF
def test_a_truncated_gguf_is_refused_at_register(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.serving.store import harness_home

    good = small_gguf(tmp_path / "good.gguf")
    half = tmp_path / "half.gguf"
    half.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    code, _, err = run(capsys, "register", "h", "--gguf", str(half), "--backend", "local")
    assert "truncated" in one_line(code, err)
    store = harness_home() / "models"
    assert not list(store.glob("manifests/*.json")) and not list(store.glob("blobs/*"))
    tail = tmp_path / "tail.gguf"  # cut inside the tensor table
    tail.write_bytes(good.read_bytes()[:100])
    code, _, err = run(capsys, "register", "t", "--gguf", str(tail), "--backend", "local")
    one_line(code, err)
    code, _, err = run(capsys, "register", "g", "--gguf", str(good), "--backend", "local")
    assert code == 0, err


# ------------------------------------------------------------------------ unwritable places
@pytest.fixture
def readonly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A folder nobody may write: chmod 555, and for root (who ignores modes) the write calls
    fail with EACCES there as a read-only mount would make them."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:
        real_mkdir, real_open, real_mkstemp = Path.mkdir, os.open, tempfile.mkstemp

        def under(p: object) -> bool:
            return str(Path(str(p)).absolute()).startswith(str(ro) + os.sep)

        def mkdir(self: Path, *a: object, **k: object) -> None:
            if under(self) and not self.is_dir():
                raise PermissionError(errno.EACCES, "Permission denied", str(self))
            real_mkdir(self, *a, **k)  # type: ignore[arg-type]

        def open_(path: object, flags: int, *a: object, **k: object) -> int:
            if under(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real_open(path, flags, *a, **k)  # type: ignore[arg-type]

        def mkstemp(*a: object, dir: object = None, **k: object):  # type: ignore[no-untyped-def]
            if dir is not None and (under(dir) or Path(str(dir)) == ro):
                raise PermissionError(errno.EACCES, "Permission denied", str(dir))
            return real_mkstemp(*a, dir=dir, **k)  # type: ignore[call-overload]

        monkeypatch.setattr(Path, "mkdir", mkdir)
        monkeypatch.setattr(os, "open", open_)
        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    yield ro
    ro.chmod(0o755)


def test_unwritable_out_and_home_give_one_line(
    readonly: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "bench", "expert", "--suite", "synthetic-smoke", "--limit", "1",
                       "--out", str(readonly / "run"))  # fmt: skip
    assert "Permission denied" in one_line(code, err) and str(readonly) in err
    gguf = small_gguf(tmp_path / "m.gguf")
    monkeypatch.setenv("HARNESS_HOME", str(readonly / "home"))
    code, _, err = run(capsys, "register", "m", "--gguf", str(gguf), "--backend", "local")
    assert "Permission denied" in one_line(code, err)
    assert not any(readonly.iterdir())


def test_out_under_a_file_and_long_names_give_one_line(
    tmp_path: Path, cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    code, _, err = run(capsys, "bench", "expert", "--suite", "synthetic-smoke", "--limit", "1",
                       "--out", str(f / "sub"))  # fmt: skip
    assert "not a folder" in one_line(code, err) or "Not a directory" in err
    gguf = small_gguf(tmp_path / "m.gguf")
    code, _, err = run(capsys, "register", "n" * 300, "--gguf", str(gguf), "--backend", "local")
    assert "too long" in one_line(code, err)
    code, _, err = run(capsys, "bench", "e" * 300, "--backend", "expert", "--suite", "synthetic-smoke",
                       "--limit", "1")  # fmt: skip
    assert "too long" in one_line(code, err)


# -------------------------------------------------------------------------------------- bytes
BAD = b"name: x\nsource: synthetic\ndescription: caf\xe9 \xff\n"


def test_non_utf8_yaml_files_give_one_line(
    tmp_path: Path, cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "bad.yaml"
    suite.write_bytes(BAD)
    code, _, err = run(capsys, "bench", "expert", "--suite", str(suite))
    assert "not UTF-8" in one_line(code, err) and "bad.yaml" in err
    gates = tmp_path / "gates.yaml"
    gates.write_bytes(b"version: 1\nlevels:\n  q8_0: {max_success_drop_pt: 1}  # \xff\n")
    code, _, err = run(capsys, "regress", "--backend", "expert", "--levels", "a,b", "--baseline", "a",
                       "--suite", "synthetic-smoke", "--gates", str(gates))  # fmt: skip
    assert "not UTF-8" in one_line(code, err) and "gates.yaml" in err
    recipe = tmp_path / "recipe.yaml"
    recipe.write_bytes(b"base_model: x\n# \xfe\n")
    code, _, err = run(capsys, "build", "r", "--recipe", str(recipe), "--levels", "f16")
    assert "not UTF-8" in one_line(code, err) and "recipe.yaml" in err
    script = tmp_path / "cmds.txt"
    script.write_bytes(b"look\ngo to \xff\n")
    code, _, err = run(capsys, "play", "--suite", "synthetic-smoke", "--index", "0", "--script", str(script))
    assert "line 2" in one_line(code, err) and "cmds.txt" in err


def _bench(out: Path, *extra: str) -> list[str]:
    return ["bench", "expert", "--suite", "synthetic-smoke", "--limit", "4", "--out", str(out), *extra]


def test_garbage_trace_lines_are_counted_and_moved_aside_on_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run(capsys, *_bench(out))[0] == 0
    traces = out / "traces.jsonl"
    lines = traces.read_bytes().splitlines(keepends=True)
    traces.write_bytes(lines[0] + b"\xff\xfe garbage\n" + b"{not json\n" + b"".join(lines[2:]))
    code, _, err = run(capsys, "report", str(out))
    assert code == 0 and "2 unreadable line(s)" in err and "Traceback" not in err
    assert json.loads((out / "results.json").read_text())["unreadable_trace_lines"] == 2
    code, _, err = run(capsys, *_bench(out))
    assert code == 0 and "2 unreadable line(s)" in err
    assert (out / "traces.unreadable.jsonl").read_bytes() == b"\xff\xfe garbage\n{not json\n"
    ids = [json.loads(ln)["game_id"] for ln in traces.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 4  # the lost game was played again, none twice
    assert json.loads((out / "results.json").read_text())["unreadable_trace_lines"] == 0


def test_an_unknown_trace_version_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert run(capsys, *_bench(out))[0] == 0
    traces = out / "traces.jsonl"
    first = json.loads(traces.read_text().splitlines()[0])
    before = traces.read_bytes()
    traces.write_bytes(before + (json.dumps({**first, "version": 99, "game_id": "x"}) + "\n").encode())
    for args in (_bench(out), ["report", str(out)]):
        code, _, err = run(capsys, *args)
        assert "trace version 99" in one_line(code, err)


@pytest.mark.parametrize("content", [b"", b'{"suite": ', b"\xff\xfe", b"[1, 2]"])
def test_a_damaged_run_json_gives_one_line(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run(capsys, *_bench(out))[0] == 0
    (out / "run.json").write_bytes(content)
    for args in (_bench(out), ["report", str(out)]):
        code, _, err = run(capsys, *args)
        assert "run.json" in one_line(code, err) and "damaged" in err


def test_a_safetensors_header_length_is_checked_against_the_file(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text(
        json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
    )
    (model / "model.safetensors").write_bytes((2**62).to_bytes(8, "little") + b"{}")
    proc = subprocess.run([PY, "-m", "train.convert", str(model), "--out", str(tmp_path / "x.gguf")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)  # fmt: skip
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    from train.gguf_tensors import ConvertError, _read_header

    with pytest.raises(ConvertError, match="claims"):
        _read_header(model / "model.safetensors")
    assert not (tmp_path / "x.gguf").exists()


# ---------------------------------------------------------------------- concurrency and kills
def test_a_second_run_into_a_locked_folder_names_the_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [PY, "-c", "import sys, time; from harness._util.lock import FolderLock; "
         "l = FolderLock(sys.argv[1]); l.acquire(); print('held', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        code, _, err = run(capsys, *_bench(out))
        line = one_line(code, err)
        assert f"pid {holder.pid}" in line and socket.gethostname() in line
        assert not (out / "traces.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()
    assert run(capsys, *_bench(out))[0] == 0  # a dead holder's lock is gone with it


def _subprocess_bench(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [PY, "-m", "harness", "bench", "expert", "--suite", "synthetic-eval", "--limit", "100",
         "--out", str(out), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip


def test_kill_9_at_random_points_then_resume_gives_the_same_episodes(tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    p = _subprocess_bench(ref)
    assert p.wait(timeout=300) == 0, p.stderr.read() if p.stderr else ""
    want = {
        json.loads(ln)["game_id"]: json.loads(ln) for ln in (ref / "traces.jsonl").read_text().splitlines()
    }
    out = tmp_path / "run"
    rng = random.Random(14)
    for _ in range(3):
        p = _subprocess_bench(out)
        time.sleep(rng.uniform(0.8, 2.5))
        p.kill()
        p.wait()
    p = _subprocess_bench(out)
    assert p.wait(timeout=300) == 0, p.stderr.read() if p.stderr else ""
    lines = (out / "traces.jsonl").read_text().splitlines()
    got = [json.loads(ln) for ln in lines]
    assert len(got) == len({t["game_id"] for t in got}) == 100  # none lost, none duplicated

    def same(t: dict) -> dict:
        return {k: v for k, v in t.items() if k not in ("wall_s", "harness_s")} | {
            "steps": [{k: v for k, v in s.items() if k != "latency_s"} for s in t["steps"]]
        }

    assert {t["game_id"]: same(t) for t in got} == {k: same(v) for k, v in want.items()}
    no_temp_files(out)


def test_sigterm_stops_a_bench_like_ctrl_c_with_exit_143(tmp_path: Path) -> None:
    out = tmp_path / "run"
    p = _subprocess_bench(out, "--limit", "150")
    traces = out / "traces.jsonl"
    deadline = time.monotonic() + 60
    while not (traces.exists() and traces.read_bytes().count(b"\n") >= 3) and time.monotonic() < deadline:
        time.sleep(0.01)  # mid-run: some episodes written, most to go
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == 143
    err = p.stderr.read() if p.stderr else ""
    assert "Traceback" not in err and "rerun to resume" in err.strip().splitlines()[-1], err
    no_temp_files(out)


def test_signals_are_held_during_native_work_and_raised_after() -> None:
    from harness._util.signals import deferred_signals
    from harness.errors import Terminated

    reached = False
    with pytest.raises(KeyboardInterrupt) as exc, deferred_signals():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        reached = True
    assert reached and not isinstance(exc.value, Terminated)
    with pytest.raises(Terminated), deferred_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)


# ----------------------------------------------------------------------- provenance, engines
def test_provenance_is_recorded_and_a_changed_engine_is_refused(tmp_path: Path) -> None:
    from harness.backends import create_backend
    from harness.bench.runner import EngineChanged, RunConfig, run_suite
    from harness.bench.suites import Suite

    suite = Suite(name="t", source="synthetic", per_task_type=1, task_types=["pick_and_place_simple"])
    cfg = RunConfig(suite="t", model="expert", backend="llamacpp")  # recorded as the llama.cpp engine

    def make():  # type: ignore[no-untyped-def]
        return create_backend("expert", model="expert")

    run_suite(suite, make, cfg, tmp_path)
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["provenance"]["engine"].startswith("llama_cpp_python ")
    assert {"harness", "git", "llama_cpp_python", "transformers", "ollama"} <= set(run["provenance"])
    # the in-process backends say which Ollama release they emulate, and the oracle commit
    from harness.serving.emulation import OLLAMA_COMMIT, emulated_version

    assert run["provenance"]["ollama_emulated"] == {"version": emulated_version(), "commit": OLLAMA_COMMIT}
    # the doctor's quick facts (issue 10): the engine's compiled instruction sets, games, disk
    machine = run["machine"]
    assert set(machine) == {"engine", "ollama", "alfworld", "factory", "disk"}
    assert "AVX2" in machine["engine"]["features"] and machine["disk"]["builds"]["free_gb"] > 0
    run["provenance"]["engine"] = "llama_cpp_python 0.0.1"
    (tmp_path / "run.json").write_text(json.dumps(run))
    with pytest.raises(EngineChanged, match="--allow-engine-change"):
        run_suite(suite, make, cfg, tmp_path)
    cfg.allow_engine_change = True
    assert len(run_suite(suite, make, cfg, tmp_path)) == 1


# -------------------------------------------------------------------------------- timeouts
def test_a_timed_out_reply_is_not_a_parse_failure(tmp_path: Path) -> None:
    from harness.backends.base import ChatResult
    from harness.bench.runner import RunConfig, run_suite
    from harness.bench.scoring import compute
    from harness.bench.suites import Suite

    class Slow:
        name = "slow"

        def digest(self) -> None:
            return None

        def begin_episode(self, ctx: object) -> None:
            pass

        def chat(self, messages: object, options: object) -> ChatResult:
            return ChatResult(text="go to", done_reason="timeout")

    suite = Suite(name="t", source="synthetic", per_task_type=1, task_types=["pick_and_place_simple"])
    (t,) = run_suite(suite, Slow, RunConfig(suite="t", model="slow", backend="slow"), tmp_path)  # type: ignore[arg-type]
    assert t.ended == "timeout" and t.steps[-1].kind == "timeout" and "--timeout" in (t.error or "")
    m = compute([t])
    assert m.timeouts == 1 and m.parse_failure_rate == 0.0 and m.errors == 0


# -------------------------------------------------------------------------- --limit sampling
def test_limit_on_an_alfworld_split_draws_round_robin(alfworld_root: Path, tmp_path: Path) -> None:
    from harness.bench.suites import draw, load_suite

    games = load_suite("alfworld-valid-seen").games(alfworld_root)
    assert len({g.task_type for g in games[:40]}) < 6  # path order: a few task types only
    picked = draw(games, 12)
    assert len({g.task_type for g in picked}) == 6
    counts = [[g.task_type for g in draw(games, 40)].count(t) for t in {g.task_type for g in games}]
    assert max(counts) - min(counts) <= 1


def test_bench_games_plays_only_the_listed_games(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.bench.suites import load_suite

    every = [g.id for g in load_suite("synthetic-smoke").games()]
    wanted = [every[3], every[1]]
    listing = tmp_path / "games.txt"
    listing.write_text(f"# two of them\n{wanted[0]}\n\n{wanted[1]}  # a comment\n{wanted[0]}\n")
    out = tmp_path / "run"
    code, _, err = run(capsys, "bench", "expert", "--suite", "synthetic-smoke", "--games", str(listing),
                       "--out", str(out))  # fmt: skip
    assert code == 0, err
    played = [json.loads(line)["game_id"] for line in (out / "traces.jsonl").read_text().splitlines()]
    assert played == [every[1], every[3]]  # suite order, each once
    listing.write_text("synthetic/nope/1\n")
    code, _, err = run(capsys, "bench", "expert", "--suite", "synthetic-smoke", "--games", str(listing),
                       "--out", str(tmp_path / "run2"))  # fmt: skip
    assert "no game synthetic/nope/1" in one_line(code, err)
    listing.write_text("# nothing\n\n")
    code, _, err = run(capsys, "bench", "expert", "--suite", "synthetic-smoke", "--games", str(listing),
                       "--out", str(tmp_path / "run3"))  # fmt: skip
    assert "no game ids" in one_line(code, err)
    assert not (tmp_path / "run2").exists() and not (tmp_path / "run3").exists()


# ------------------------------------------------------------------------------ regress
def test_regress_junit_without_gates_applies_the_shipped_gates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import xml.etree.ElementTree as ET

    junit = tmp_path / "j.xml"
    code, _, err = run(capsys, "regress", "--backend", "expert", "--levels", "a,b", "--baseline", "a",
                       "--suite", "synthetic-smoke", "--limit", "2", "--skip", "divergence",
                       "--out", str(tmp_path / "o"), "--junit", str(junit))  # fmt: skip
    assert code == 0, err
    assert "shipped default gates" in err
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert cases and all(c.get("classname") == "regress.b" for c in cases)


# ------------------------------------------------------------------------------ servers
def test_a_server_that_answers_garbage_or_dies_mid_stream(
    httpserver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OLLAMA_HOST", httpserver.url_for("/").rstrip("/"))
    httpserver.expect_request("/api/show").respond_with_data(
        "<html>not ollama</html>", content_type="text/html"
    )
    code, _, err = run(capsys, "chat", "m", "--backend", "ollama", "--prompt", "hi")
    assert "Ollama" in one_line(code, err)
    httpserver.clear()
    httpserver.expect_request("/api/show").respond_with_json(
        {"modelfile": "FROM x", "template": "{{ .Prompt }}", "details": {"format": "gguf"}, "model_info": {}}
    )
    part = json.dumps({"model": "m", "created_at": "2024-01-01T00:00:00Z",
                       "message": {"role": "assistant", "content": "hel"}, "done": False})  # fmt: skip
    httpserver.expect_request("/api/chat").respond_with_data(part + "\n", content_type="application/x-ndjson")
    code, _, err = run(capsys, "chat", "m", "--backend", "ollama", "--prompt", "hi")
    assert "before it was done" in one_line(code, err)


def test_the_ollama_backend_records_its_servers_version(tmp_path: Path) -> None:
    """Issue 13, point 7: run.json has the release of the server the Ollama backend talks to
    (its /api/version), not of whatever answers at the default host."""
    from harness.backends import create_backend
    from harness.bench.runner import RunConfig, run_suite
    from harness.bench.suites import Suite

    suite = Suite(name="t", source="synthetic", per_task_type=1, task_types=["pick_and_place_simple"])
    cfg = RunConfig(suite="t", model="expert", backend="ollama")
    asked: list[str] = []

    class Expert:  # the expert policy, standing in for an OllamaBackend whose server says 0.33.1
        def __init__(self) -> None:
            self.inner = create_backend("expert", model="expert")

        def server_version(self) -> str:
            asked.append("version")
            return "0.33.1"

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self.inner, name)

    run_suite(suite, Expert, cfg, tmp_path)
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["provenance"]["ollama"] == "0.33.1" and run["provenance"]["engine"] == "ollama 0.33.1"
    assert "ollama_emulated" not in run["provenance"]  # a real server emulates nothing
    assert asked == ["version"]
