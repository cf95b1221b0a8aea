"""Episode runner: determinism, resume after SIGKILL, error handling, scoring."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.backends import (
    BackendUnavailable,
    ChatOptions,
    ChatResult,
    TransientBackendError,
    create_backend,
)
from harness.backends.scripted import ScriptedBackend
from harness.bench.runner import RunConfig, RunMismatch, play_episode, run_suite
from harness.bench.scoring import has_loop, score, wilson
from harness.bench.suites import load_suite
from harness.bench.traces import read_traces

TIMING = {"latency_s", "eval_duration_s", "wall_s", "harness_s"}


def _strip(trace) -> dict:
    d = trace.model_dump(mode="json")
    for k in TIMING:
        d.pop(k, None)
    for s in d["steps"]:
        for k in TIMING:
            s.pop(k, None)
    return d


def _cfg(model: str, backend: str, **kw) -> RunConfig:
    return RunConfig(suite="synthetic-smoke", model=model, backend=backend, **kw)


def test_expert_wins_everything_and_random_is_the_floor(tmp_path: Path) -> None:
    suite = load_suite("synthetic-smoke")
    exp = run_suite(suite, lambda: create_backend("expert"), _cfg("expert", "expert"), tmp_path / "e")
    assert len(exp) == 12 and all(t.won for t in exp)
    s = score(exp)["overall"]
    assert s.success_rate == 1.0 and s.progress_rate == 1.0 and s.efficiency == 1.0
    # the expert's only commands that do nothing: a go to a receptacle where it stands
    nothing = [st for t in exp for st in t.steps if st.kind == "command" and not st.admissible]
    assert s.invalid_rate < 0.1 and all(st.command.startswith("go to ") for st in nothing)
    rnd = run_suite(
        suite, lambda: create_backend("random"), _cfg("random", "random", max_steps=30), tmp_path / "r"
    )
    assert sum(t.won for t in rnd) <= 2
    assert all(len(t.steps) == 30 for t in rnd if not t.won)


def test_two_runs_give_identical_traces(tmp_path: Path) -> None:
    suite = load_suite("synthetic-smoke")
    a = run_suite(
        suite, lambda: create_backend("random"), _cfg("random", "random", max_steps=20), tmp_path / "a"
    )
    b = run_suite(
        suite,
        lambda: create_backend("random"),
        _cfg("random", "random", max_steps=20),
        tmp_path / "b",
        workers=3,
    )
    assert [_strip(t) for t in a] == [_strip(t) for t in b]


def test_rerun_into_same_folder_resumes_and_refuses_a_different_run(tmp_path: Path) -> None:
    suite = load_suite("synthetic-smoke")
    cfg = _cfg("random", "random", max_steps=10, limit=4)
    first = run_suite(suite, lambda: create_backend("random"), cfg, tmp_path)
    calls = []
    again = run_suite(suite, lambda: calls.append(1) or create_backend("random"), cfg, tmp_path)
    assert [t.game_id for t in again] == [t.game_id for t in first] and not calls
    with pytest.raises(RunMismatch, match="max_steps"):
        run_suite(suite, lambda: create_backend("random"), _cfg("random", "random", max_steps=11), tmp_path)


SLOW_RUN = """
import sys, time
from harness.backends.policies import RandomPolicy
from harness.bench.runner import RunConfig, run_suite
from harness.bench.suites import load_suite

class Slow(RandomPolicy):
    def chat(self, messages, options):
        time.sleep(0.01)
        return super().chat(messages, options)

s = load_suite("synthetic-smoke")
run_suite(s, lambda: Slow(), RunConfig(suite=s.name, model="random", backend="random", max_steps=15), sys.argv[1])
"""


def test_sigkill_then_rerun_gives_the_uninterrupted_result(tmp_path: Path) -> None:
    script = tmp_path / "slow.py"
    script.write_text(SLOW_RUN)
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run([sys.executable, str(script), str(full)], check=True, timeout=300)
    proc = subprocess.Popen([sys.executable, str(script), str(killed)])
    traces = killed / "traces.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if traces.exists() and traces.read_text().count("\n") >= 3:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # simulate a torn write from the kill
    with open(traces, "a") as fh:
        fh.write('{"version": 1, "game_id": "synthetic/pick')
    n_before = len(read_traces(traces))
    assert 3 <= n_before < 12
    subprocess.run([sys.executable, str(script), str(killed)], check=True, timeout=300)
    a = sorted((_strip(t) for t in read_traces(full / "traces.jsonl")), key=lambda d: d["game_id"])
    b = sorted((_strip(t) for t in read_traces(traces)), key=lambda d: d["game_id"])
    assert len(b) == 12 and a == b
    assert traces.read_text().count("\n") == 12  # no duplicates, torn line gone


class Flaky(ScriptedBackend):
    def __init__(self, fail_times: int, exc: type[Exception]) -> None:
        super().__init__(replies=["look"] * 100)
        self.fail_times, self.exc = fail_times, exc

    def chat(self, messages, options):
        if self.fail_times > 0:
            self.fail_times -= 1
            raise self.exc("server said 503")
        return super().chat(messages, options)


def test_transient_errors_are_retried_then_recorded() -> None:
    suite = load_suite("synthetic-smoke")
    entry = suite.games()[0]
    cfg = _cfg("m", "scripted", max_steps=3, backoff_s=0.0, retries=2)
    ok = play_episode(entry, suite, Flaky(2, TransientBackendError), cfg)
    assert ok.ended == "max_steps" and ok.steps[0].retries == 2
    bad = play_episode(entry, suite, Flaky(5, TransientBackendError), cfg)
    assert bad.ended == "error" and "503" in (bad.error or "") and bad.steps == []


def test_unreachable_backend_stops_the_run_keeping_finished_episodes(tmp_path: Path) -> None:
    suite = load_suite("synthetic-smoke")
    state = {"n": 0}

    class DiesLater(ScriptedBackend):
        def chat(self, messages, options):
            state["n"] += 1
            if state["n"] > 6:
                raise BackendUnavailable(
                    "cannot reach Ollama at http://127.0.0.1:9: start it with 'ollama serve'"
                )
            return super().chat(messages, options)

    with pytest.raises(BackendUnavailable):
        run_suite(
            suite, lambda: DiesLater(replies=["look"] * 100), _cfg("m", "scripted", max_steps=3), tmp_path
        )
    assert len(read_traces(tmp_path / "traces.jsonl")) == 2


def test_empty_endless_and_unparseable_replies() -> None:
    suite = load_suite("synthetic-smoke")
    entry = suite.games()[0]
    empty = play_episode(
        entry, suite, ScriptedBackend(replies=["", " ", "\n"] + ["look"] * 9), _cfg("m", "s")
    )
    assert empty.ended == "model_stopped" and len(empty.steps) == 3
    assert all(s.kind == "invalid" and s.parse_error == "empty reply" for s in empty.steps)

    class Endless(ScriptedBackend):
        def chat(self, messages, options):
            return ChatResult(
                text="go to " + "very " * 500, done_reason="length", eval_count=options.num_predict
            )

    ep = play_episode(
        entry, suite, Endless(), _cfg("m", "s", max_steps=2, options=ChatOptions(num_predict=64))
    )
    assert [s.done_reason for s in ep.steps] == ["length", "length"]
    assert all(s.observation == "Nothing happens." for s in ep.steps)
    prose = play_episode(
        entry, suite, ScriptedBackend(replies=["I will look around."] * 2), _cfg("m", "s", max_steps=2)
    )
    assert [s.kind for s in prose.steps] == ["invalid", "invalid"]
    assert score([prose])["overall"].parse_failure_rate == 1.0


def test_messages_follow_the_protocol() -> None:
    suite = load_suite("synthetic-smoke")
    b = ScriptedBackend(replies=["think: where is it?", "Action: Look.", "go to nowhere 9"])
    ep = play_episode(suite.games()[0], suite, b, _cfg("m", "s", max_steps=3))
    last = b.calls[-1]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert last[2]["content"] == "think: where is it?" and last[3]["content"] == "OK."
    assert last[4]["content"] == "look"  # canonical command in history
    assert [s.kind for s in ep.steps] == ["think", "command", "command"]
    assert ep.steps[2].observation == "Nothing happens." and not ep.steps[2].admissible


def test_scoring_helpers() -> None:
    lo, hi = wilson(0, 10)
    assert lo == 0 and 0.25 < hi < 0.35
    lo, hi = wilson(10, 10)
    assert hi == 1 and 0.65 < lo < 0.75
    suite = load_suite("synthetic-smoke")
    ep = play_episode(
        suite.games()[0],
        suite,
        ScriptedBackend(replies=["look", "think: hm", "look", "look"]),
        _cfg("m", "s", max_steps=4),
    )
    assert has_loop(ep)
    m = score([ep])["overall"]
    assert m.think_ratio == 0.25 and m.loop_rate == 1.0 and m.success_ci == wilson(0, 1)


def test_bench_cli_writes_reports_and_compare(tmp_path: Path) -> None:
    env = {**os.environ}
    env.pop("ALFWORLD_DATA", None)
    for model, steps in (("expert", "50"), ("random", "10")):
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness",
                "bench",
                model,
                "--suite",
                "synthetic-smoke",
                "--max-steps",
                steps,
                "--out",
                str(tmp_path / model),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "expert" / "results.json").read_text())
    assert res["version"] == 1 and res["overall"]["success_rate"] == 1.0 and len(res["episodes"]) == 12
    html = (tmp_path / "expert" / "report.html").read_text()
    assert html.count("<details id=") == 12 and "data:image/png;base64," in html
    assert "| **overall** |" in (tmp_path / "expert" / "report.md").read_text()
    r = subprocess.run(
        [sys.executable, "-m", "harness", "report", str(tmp_path / "expert"), str(tmp_path / "random")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "| overall | 100.0% (12/12) |" in r.stdout and "-100.0" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "harness", "bench", "expert", "--suite", "nope"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 1 and "unknown suite" in r.stderr and "Traceback" not in r.stderr


def test_bench_bad_model_backend_and_unreachable_server(tmp_path: Path) -> None:
    env = {**os.environ, "OLLAMA_HOST": "http://127.0.0.1:9"}
    env.pop("ALFWORLD_DATA", None)

    def bench(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "harness",
                "bench",
                *args,
                "--suite",
                "synthetic-smoke",
                "--out",
                str(tmp_path / "o"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    r = bench("nosuchmodel")
    assert r.returncode == 1 and "unknown model 'nosuchmodel'" in r.stderr and "harness register" in r.stderr
    r = bench("expert", "--backend", "warp")
    assert r.returncode == 1 and "unknown backend 'warp'" in r.stderr
    r = bench("qwen2.5-react", "--backend", "ollama")
    assert r.returncode == 1 and "cannot reach Ollama at http://127.0.0.1:9" in r.stderr
    assert "Traceback" not in r.stderr and r.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("task_type", ["pick_two_obj_and_place", "pick_heat_then_place_in_recep"])
def test_lost_episodes_are_counted_at_the_stage_where_they_stopped(task_type: str) -> None:
    """The expert's plan cut short stops at a known stage; a win counts nowhere."""
    from harness.bench.scoring import lost_at
    from harness.report.markdown import render_markdown
    from harness.world.expert import solve

    suite = load_suite("synthetic-smoke")
    entry = next(g for g in suite.games() if g.task_type == task_type)
    plan = [s.text for s in solve(entry.world()) if not s.is_thought]

    def play(commands: list[str]):  # type: ignore[no-untyped-def]
        replies = commands + ["look"] * 3
        cfg = _cfg("m", "s", max_steps=len(replies))
        return play_episode(entry, suite, ScriptedBackend(replies=replies), cfg)

    assert lost_at(play([])) == "search"
    assert lost_at(play(plan)) is None
    last = "second object" if task_type.startswith("pick_two") else "place"
    assert lost_at(play(plan[:-1])) == last
    picked = next(i for i, c in enumerate(plan) if c.startswith("take "))
    after_take = "place" if task_type.startswith("pick_two") else "heat"
    assert lost_at(play(plan[: picked + 1])) == after_take
    eps = [play([]), play(plan[:-1]), play(plan)]
    m = score(eps)["overall"]
    assert m.lost_at == {"search": 1, last: 1}
    from harness.report import results_dict

    md = render_markdown(results_dict(eps, {"model": "m", "suite": "synthetic-smoke"}))
    assert f"Lost episodes stopped at: search 1, {last} 1" in md
