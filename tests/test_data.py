"""Training-data export: LLaMA-Factory formats, split by game, deterministic."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

from harness.agent.protocol import SYSTEM_PROMPT, build_messages
from harness.bench.suites import load_suite
from train.data import export, split_games


def test_export_formats_and_split(tmp_path: Path) -> None:
    suite = load_suite("synthetic-smoke")
    m = export(suite, tmp_path, test_fraction=0.25, seed=3)
    assert m["episodes"] == 12 and len(m["test_games"]) == 3
    assert not set(m["train_games"]) & set(m["test_games"])
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert set(info) == {
        "react_train_alpaca",
        "react_test_alpaca",
        "react_train_sharegpt",
        "react_test_sharegpt",
    }
    for name, spec in info.items():
        assert (tmp_path / spec["file_name"]).exists(), name
    share = json.loads((tmp_path / "react_train_sharegpt.json").read_text())
    alp = json.loads((tmp_path / "react_train_alpaca.json").read_text())
    assert len(share) == len(alp) == 9
    assert {e["game_id"] for e in share} == set(m["train_games"])
    ep = share[0]
    assert ep["system"] == SYSTEM_PROMPT
    roles = [t["from"] for t in ep["conversations"]]
    assert roles[0] == "human" and roles[-1] == "gpt"
    assert all(a != b for a, b in itertools.pairwise(roles))  # strictly alternating
    gpt = [t["value"] for t in ep["conversations"] if t["from"] == "gpt"]
    assert gpt[0].startswith("think: To solve the task")
    assert not any(t["value"].startswith("You arrive at loc") for t in ep["conversations"])
    a = alp[0]
    assert a["game_id"] == ep["game_id"]
    flat = [x for pair in a["history"] for x in pair] + [a["instruction"], a["output"]]
    assert flat == [t["value"] for t in ep["conversations"]]


def test_conversation_is_what_the_runner_sends(tmp_path: Path) -> None:
    """The exported conversation equals build_messages on the same episode (one protocol)."""
    from harness.world.expert import solve

    suite = load_suite("synthetic-smoke")
    export(suite, tmp_path, test_fraction=0.0, limit=1)
    ep = json.loads((tmp_path / "react_train_sharegpt.json").read_text())[0]
    entry = suite.games()[0]
    intro = suite.game(entry).reset()
    steps = solve(entry.world())
    msgs = build_messages(intro, [(s.text, s.observation) for s in steps])
    assert [m["content"] for m in msgs[1:-1]] == [t["value"] for t in ep["conversations"]]


def test_export_is_deterministic_and_split_is_by_game(tmp_path: Path) -> None:
    suite = load_suite("synthetic-smoke")
    export(suite, tmp_path / "a", seed=1)
    export(suite, tmp_path / "b", seed=1)
    for f in ("react_train_sharegpt.json", "react_test_alpaca.json", "manifest.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    tr, te = split_games([f"g{i}" for i in range(100)], 0.1, seed=5)
    assert (
        len(te) == 10 and not tr & te and split_games([f"g{i}" for i in range(100)], 0.1, seed=5) == (tr, te)
    )


def test_python_module_entry_point(tmp_path: Path) -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "train.data",
            "--suite",
            "synthetic-smoke",
            "--limit",
            "2",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "2 episodes from synthetic-smoke" in r.stdout


def test_fill_adds_only_goal_object_types_the_split_lacks(tmp_path: Path) -> None:
    """``harness data --fill``: the other suite's expert conversations on goal object types no
    game of the exported suite asks for, and only those, join the train file."""
    from click.testing import CliRunner

    from train.data import command

    main, pool = load_suite("synthetic-smoke"), load_suite("synthetic-eval")
    known = {e.world().spec.object_type for e in main.games()}
    res = CliRunner().invoke(command, ["--suite", main.name, "--out", str(tmp_path), "--fill", pool.name])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    data = json.loads((tmp_path / "react_train_sharegpt.json").read_text())
    filled = [r for r in data if r.get("source") == f"fill:{pool.name}"]
    types = {e.id: e.world().spec.object_type for e in pool.games()}
    assert filled and len(filled) == manifest["fill"]["records"] == sum(manifest["fill"]["types"].values())
    assert manifest["fill"]["games"] == [r["game_id"] for r in filled]
    assert all(types[r["game_id"]] not in known for r in filled)
    lacking = sum(t not in known for t in types.values())
    assert len(filled) == lacking  # the expert solves every synthetic game
    assert len(data) == len(manifest["train_games"]) + len(filled)
