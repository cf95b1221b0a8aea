"""Pools of hosts (issue 15): a suite over two real ``llama_cpp.server`` processes, one of them
killed mid-run, and hosts that answer 500s. Every case checks that traces.jsonl has each drawn game
exactly once and says which host played it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli as run

from harness.bench.pool import HostSpec, parse_host, read_hosts_file
from harness.errors import UsageError

REPO = Path(__file__).resolve().parent.parent
SMALL = ("--suite", "synthetic-smoke", "--max-steps", "1", "--num-predict", "4")


def games_of(out: Path) -> tuple[list[str], list[dict]]:
    """(drawn game ids, trace records) of a run folder."""
    drawn = json.loads((out / "run.json").read_text())["drawn"]["games"]
    traces = [json.loads(line) for line in (out / "traces.jsonl").read_text().splitlines()]
    return drawn, traces


def exactly_once(out: Path) -> list[dict]:
    drawn, traces = games_of(out)
    ids = [t["game_id"] for t in traces]
    assert sorted(ids) == sorted(drawn) and len(set(ids)) == len(ids), ids
    return traces


# ------------------------------------------------------------------------------ host syntax
def test_host_syntax(tmp_path: Path) -> None:
    assert parse_host("http://a:8000") == HostSpec("http://a:8000")
    assert parse_host("http://a:8000/v1,4") == HostSpec("http://a:8000/v1", 4)
    assert parse_host("http://a:11434, ollama ,2") == HostSpec("http://a:11434", 2, "ollama")
    for bad in ("http://a,0", "http://a,fast", ",2", "http://a,2,3"):
        with pytest.raises(UsageError, match="URL"):
            parse_host(bad)
    f = tmp_path / "hosts"
    f.write_text("# the pool\nhttp://a:8000,2\n\n  http://b:8000/v1  # second box\n", encoding="utf-8")
    assert read_hosts_file(f) == [HostSpec("http://a:8000", 2), HostSpec("http://b:8000/v1")]
    f.write_text("http://a:8000\nhttp://b:8000,many\n", encoding="utf-8")
    with pytest.raises(UsageError, match=rf"{f}:2: 'many'"):
        read_hosts_file(f)


def test_a_bad_host_option_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "bench", "m", "--backend", "openai", "--host", "http://a:1,zero", *SMALL)
    assert code != 0 and len(err.strip().splitlines()) == 1 and "neither a concurrency" in err
    code, _, err = run(capsys, "bench", "m", "--backend", "openai", "--hosts", str(tmp_path / "none"), *SMALL)
    assert code != 0 and len(err.strip().splitlines()) == 1 and "cannot read the hosts file" in err


# ------------------------------------------------------------------------------ real servers
def test_bench_over_two_servers(llama_servers, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = llama_servers(2)
    out = tmp_path / "run"
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(f"{b.url}/v1,1\n", encoding="utf-8")
    code, _, err = run(capsys, "bench", "smollm2", "--backend", "openai", "--host", a.url, "--hosts", str(hosts),
                       *SMALL, "--limit", "4", "--out", str(out))  # fmt: skip
    assert code == 0, err
    traces = exactly_once(out)
    played = {t["host"] for t in traces}
    assert played == {f"{a.url}/v1", f"{b.url}/v1"}  # both hosts start an episode at once
    assert all(t["backend"] == "openai" and t["template"] == "server's chat template" for t in traces)
    assert all(t["steps"] and t["steps"][0]["eval_count"] for t in traces)
    # regress takes the same options: its episodes phase runs on the pool
    reg = tmp_path / "regress"
    code, _, err = run(capsys, "regress", "--levels", "smollm2", "--baseline", "smollm2", "--backend", "openai",
                       "--host", a.url, "--host", f"{b.url},1", *SMALL, "--limit", "2", "--skip", "agreement",
                       "--skip", "divergence", "--out", str(reg))  # fmt: skip
    assert code == 0, err
    (episodes,) = (reg / "episodes").iterdir()
    assert {t["host"] for t in exactly_once(episodes)} == {f"{a.url}/v1", f"{b.url}/v1"}


def test_a_server_killed_mid_run(llama_servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The done-when of issue 15: `harness bench … --host P1 --host P2` finishes with one host killed."""
    a, b = llama_servers(2)
    out = tmp_path / "run"
    limit = 10
    cmd = [sys.executable, "-m", "harness", "bench", "smollm2", "--backend", "openai", "--host", a.url,
           "--host", b.url, "--suite", "synthetic-smoke", "--max-steps", "2", "--num-predict", "4",
           "--limit", str(limit), "--retries", "1", "--out", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = tmp_path / "stderr.txt"  # a file, not a pipe: nothing blocks the run however much it says
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=fh)
    try:
        traces_file = out / "traces.jsonl"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if traces_file.exists() and traces_file.read_text().strip():
                break
            time.sleep(0.1)
        b.kill()  # one episode finished; b is in the middle of one (or about to take the next)
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    err = log.read_text(errors="replace")
    assert proc.returncode == 0, err
    # --retries 1: b is taken out at its second failure, after a 1 s cool-down; with 10 games a still
    # has several episodes (seconds each) to play then, so b fails again and is taken out
    assert f"{b.url}/v1 taken out" in err
    traces = exactly_once(out)
    assert all(t["ended"] != "error" for t in traces), [t["error"] for t in traces]
    on_b = [t for t in traces if t["host"] == f"{b.url}/v1"]
    assert len(on_b) <= 1 and len(traces) - len(on_b) >= limit - 1  # what b left was replayed on a


def _failing_host(httpserver, status: int = 500):  # type: ignore[no-untyped-def]
    """A host that lists the model, then answers every chat with ``status``; returns its chat count."""
    httpserver.expect_request("/v1/models").respond_with_json(
        {"object": "list", "data": [{"id": "smollm2", "object": "model", "owned_by": "x"}]}
    )
    httpserver.expect_request("/v1/chat/completions").respond_with_json({"error": {"message": "overloaded"}},
                                                                        status=status)  # fmt: skip
    return lambda: sum(req.path == "/v1/chat/completions" for req, _ in httpserver.log)


def test_a_pool_of_failing_hosts_gives_up_after_bounded_retries(
    httpserver, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    chats = _failing_host(httpserver)
    code, _, err = run(capsys, "bench", "smollm2", "--backend", "openai", "--host", httpserver.url_for("/"),
                       *SMALL, "--limit", "2", "--retries", "1", "--out", str(tmp_path / "o"))  # fmt: skip
    assert code == 1 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: every host of the pool was taken out with 2 game(s) unplayed")
    assert "(500): overloaded" in last and "rerun the same command to resume" in last
    # --retries 1: each reply tried twice, the host cooled down once then taken out: 2 × 2 requests
    assert chats() == 4
    traces = tmp_path / "o" / "traces.jsonl"
    assert not traces.exists() or not traces.read_text().strip()


def test_a_failing_host_next_to_a_real_one(
    llama_servers, httpserver, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (a,) = llama_servers(1)
    _failing_host(httpserver, status=503)
    bad = httpserver.url_for("/v1").rstrip("/")
    out = tmp_path / "run"
    code, _, err = run(capsys, "bench", "smollm2", "--host", f"{a.url},1,openai", "--host", f"{bad},1",
                       *SMALL, "--limit", "3", "--retries", "0", "--out", str(out))  # fmt: skip
    assert code == 0, err
    # --retries 0: taken out at its first failure (its slot takes a game at the start), whatever a's pace
    assert f"{bad} taken out after 1 failures" in err
    traces = exactly_once(out)
    assert {t["host"] for t in traces} == {f"{a.url}/v1"}
