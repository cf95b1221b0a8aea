"""DAgger labels: the expert plans from any mid-episode state (``solve_from``).

Random walks (admissible commands, seeded; they open, take, move and drop things) lead to
arbitrary states; the expert's steps from there, played after the walk in a fresh game, must
win it. Checked on synthetic games of every task type and on real ALFWorld games."""

from __future__ import annotations

import random

import pytest

from harness.bench.suites import load_suite
from harness.world.expert import solve, solve_from
from harness.world.game import Game


def _walk(game: Game, rng: random.Random, n: int) -> list[str]:
    game.reset()
    cmds = []
    for _ in range(n):
        options = [c for c in game.admissible_commands() if c not in ("look", "inventory", "help")]
        cmd = rng.choice(options)
        cmds.append(cmd)
        if game.step(cmd).won:
            break
    return cmds


def _check(world, rng: random.Random, n: int) -> None:
    game = Game(world)
    walk = _walk(game, rng, n)
    labels = solve_from(world, walk)
    replay = Game(world)
    replay.reset()
    for c in walk:
        replay.step(c)
    if replay.won:
        assert labels == []
        return
    assert labels, "no label from an unfinished state"
    for step in labels:
        if step.is_thought:
            continue
        r = replay.step(step.text)
        assert r.admissible, f"label {step.text!r} is not admissible after {walk}"
    assert replay.won, f"the expert's continuation after {len(walk)} random steps did not win"


@pytest.mark.parametrize("n", [0, 3, 8, 20])
def test_labels_from_synthetic_mid_episode_states_win(n: int) -> None:
    suite = load_suite("synthetic-eval")
    rng = random.Random(n)
    for entry in suite.games()[::5]:
        _check(entry.world(), rng, n)


def test_labels_from_real_alfworld_states_win(valid_seen_games) -> None:
    from harness.world.loader import load_world

    rng = random.Random(7)
    for path in valid_seen_games[::4]:
        world = load_world(path)
        for n in (2, 10, 25):
            _check(world, rng, n)


def test_from_the_start_the_plan_wins_like_solve() -> None:
    world = load_suite("synthetic-smoke").games()[0].world()
    fresh = [s.text for s in solve(world) if not s.is_thought]
    resumed = [s.text for s in solve_from(world, []) if not s.is_thought]
    assert resumed == fresh


def test_dagger_records_recover_from_the_models_states(tmp_path) -> None:
    """The random policy plays; each record's expert turns, after the policy's own history,
    win the game, and only those turns are supervised."""
    from harness.agent.protocol import parse_reply
    from train.dagger import dagger_records, play_model
    from train.sft_data import record_messages

    suite = load_suite("synthetic-smoke")
    traces = play_model(suite, "random", tmp_path / "run", backend="random")
    assert len(traces) == len(suite.games())
    records = dagger_records(suite, traces, per_episode=2)
    assert records and all(r["source"] == "dagger:random" for r in records)
    entries = {e.id: e for e in suite.games()}
    for rec in records:
        game = suite.game(entries[rec["game_id"]])
        game.reset()
        gpt = [t["value"] for t in rec["conversations"] if t["from"] == "gpt"]
        k = rec["supervise_from"]
        for text in gpt[:k]:  # the model's history, replayed as the runner played it
            p = parse_reply(text)
            if p.kind == "command":
                game.step(p.text)
        assert not game.won
        for text in gpt[k:]:
            if not text.startswith("think:"):
                assert game.step(text).admissible
        assert game.won
        msgs = record_messages(rec)
        trained = [m for m in msgs if m["role"] == "assistant" and m.get("train") is not False]
        assert len(trained) == len(gpt) - k


def test_cli_adds_dagger_records_to_the_train_file(tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from train.data import command

    out = tmp_path / "d"
    res = CliRunner().invoke(command, ["--suite", "synthetic-smoke", "--out", str(out), "--dagger", "random"])
    # "random" is a policy name, resolved as a backend
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    data = json.loads((out / "react_train_sharegpt.json").read_text())
    assert manifest["dagger"]["records"] > 0
    assert sum("supervise_from" in r for r in data) == manifest["dagger"]["records"]
    assert manifest["files"]["react_train_sharegpt.json"]["episodes"] == len(data)
