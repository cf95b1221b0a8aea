"""Loading games and suites, and the CLI's handling of bad input (one line, non-zero exit)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.bench.suites import load_suite, load_suite_file
from harness.errors import DataDirError, GameFileError, SuiteError
from harness.world import discover_games, load_game


def harness(*args: str, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    import os

    e = dict(os.environ)
    e.pop("ALFWORLD_DATA", None)
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        env=e,
        input=stdin,
        timeout=120,
    )


def test_missing_and_malformed_game_files(tmp_path: Path) -> None:
    with pytest.raises(GameFileError, match="no such game file"):
        load_game(tmp_path / "nope.tw-pddl")
    bad = tmp_path / "bad.tw-pddl"
    bad.write_text("{not json")
    with pytest.raises(GameFileError, match="not valid JSON"):
        load_game(bad)
    bad.write_text(
        json.dumps({"pddl_problem": "(define (problem x) (:init ) (:goal (and ))", "grammar": "{}"})
    )
    with pytest.raises(GameFileError, match="malformed game file"):
        load_game(bad)
    bad.write_text(json.dumps([1, 2]))
    with pytest.raises(GameFileError, match=r"not a game\.tw-pddl"):
        load_game(bad)


def test_cli_bad_game_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tw-pddl"
    bad.write_text("{oops")
    r = harness("play", "--game", str(bad), "--script", "-", stdin="look\n")
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "not valid JSON" in r.stderr
    assert "Traceback" not in r.stderr


def test_alfworld_data_unset_or_wrong(tmp_path: Path) -> None:
    r = harness("suites", "alfworld-valid-seen")
    assert r.returncode == 1 and "ALFWORLD_DATA is not set" in r.stderr
    r = harness("suites", "alfworld-valid-seen", env={"ALFWORLD_DATA": str(tmp_path)})
    assert r.returncode == 1 and "has no json_2.1.1/" in r.stderr
    with pytest.raises(DataDirError):
        discover_games("valid_seen", tmp_path)


def test_unknown_suite_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="unknown suite 'nope'"):
        load_suite("nope")
    y = tmp_path / "s.yaml"
    for text, match in (
        ("source: [unclosed", "invalid YAML"),
        ("source: alfworld", "needs 'split'"),
        ("source: alfworld\nsplit: train\ngoals: alfred", "'goals' is for synthetic suites"),
        ("source: synthetic\ngoals: made-up", "goals"),
        ("source: synthetic\nmax_step: 3", "max_step"),
    ):
        y.write_text(f"name: x\n{text}\n")
        with pytest.raises(SuiteError, match=match):
            load_suite_file(y)
    r = harness("suites", str(y))
    assert r.returncode == 1 and r.stderr.startswith("error:") and "Traceback" not in r.stderr


def test_discovery_follows_alfworld(alfworld_root: Path) -> None:
    games = discover_games("valid_seen", alfworld_root)
    assert len(games) == 140
    assert all("movable" not in str(g) and "Sliced" not in str(g) for g in games)
    suite = load_suite("alfworld-valid-seen")
    assert [g.path for g in suite.games(alfworld_root)] == games


def test_discovery_skips_unsolvable_movable_and_sliced(tmp_path: Path) -> None:
    base = tmp_path / "json_2.1.1" / "train"
    for rel, solvable in [
        ("a-Apple-None-Fridge-1/t1", True),
        ("b-Apple-None-Fridge-1/t1", False),
        ("pick_and_place_with_movable_recep-X/t1", True),
        ("c-AppleSliced-None-Fridge-1/t1", True),
    ]:
        d = base / rel
        d.mkdir(parents=True)
        (d / "game.tw-pddl").write_text(json.dumps({"solvable": solvable}))
    assert [g.parent.parent.name for g in discover_games("train", tmp_path)] == ["a-Apple-None-Fridge-1"]


def test_play_script_jsonl(valid_seen_games: list[Path]) -> None:
    game = valid_seen_games[0]
    r = harness("play", "--game", str(game), "--script", "-", "--jsonl", stdin="look\ninventory\nfly away\n")
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert recs[0]["step"] == 0 and recs[0]["observation"].startswith("-= Welcome to TextWorld, ALFRED! =-")
    assert [x["command"] for x in recs[1:]] == ["look", "inventory", "fly away"]
    assert recs[2]["observation"] == "You are not carrying anything."
    assert recs[3]["observation"] == "Nothing happens."
    assert set(recs[1]) == {"step", "command", "observation", "won", "done"}


def test_help_is_fast_and_lists_commands() -> None:
    r = harness("--help")
    assert r.returncode == 0 and "play" in r.stdout and "data" in r.stdout
    code = "import sys, harness.cli; print(sorted(m for m in sys.modules if m.startswith(('rich', 'pydantic', 'yaml'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.strip() == "[]"  # heavy imports stay lazy


def test_play_interactive_session() -> None:
    r = harness("play", "--suite", "synthetic-smoke", "--index", "1", stdin="?\nlook\ninventory\nquit\n")
    assert r.returncode == 0, r.stderr
    assert "Your task is to:" in r.stdout and "go to " in r.stdout
    assert "You are not carrying anything." in r.stdout


def test_play_expert_and_bad_index() -> None:
    r = harness("play", "--suite", "synthetic-smoke", "--index", "4", "--expert")
    assert r.returncode == 0 and "Won in" in r.stdout
    r = harness("play", "--suite", "synthetic-smoke", "--index", "99")
    assert r.returncode == 1 and "out of range" in r.stderr
