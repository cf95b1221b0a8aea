"""DAgger labels: the expert plans from any mid-episode state (``solve_from``).

Random walks (admissible commands, seeded; they open, take, move and drop things) lead to
arbitrary states; the expert's steps from there, played after the walk in a fresh game, must
win it. Checked on synthetic games of every task type and on real ALFWorld games."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from harness.bench.suites import load_suite
from harness.errors import HarnessError
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


def expert_step(game: Game, text: str) -> bool:
    """Play one of the expert's commands; True when it did something or was a ``go to`` a
    receptacle where the agent stands (the one command of the expert that does nothing: the
    text cannot show it which receptacles share its spot)."""
    here = {game.world.names[r] for r in game.receptacles_here()}
    result = game.step(text)
    return result.admissible or (text.startswith("go to ") and text[6:] in here)


def _check(world, rng: random.Random, n: int) -> None:
    game = Game(world)
    walk = _walk(game, rng, n)
    labels = solve_from(world, walk)
    replay = Game(world)
    replay.reset()
    shown = [replay.step(c).observation for c in walk]  # what the walk's text showed
    if replay.won:
        assert labels == []
        return
    assert labels, "no label from an unfinished state"
    for step in labels:
        m = re.fullmatch(r"think: I saw an? (\S+) \((\d+)\) in/on (.+) earlier\. .*", step.text)
        if m:  # a recall names only what some observation showed, in/on that receptacle
            what, where = f"{m.group(1)} {m.group(2)}", m.group(3)
            assert any(what in o and where in o for o in shown), (step.text, walk)
        shown.append(step.observation)
        if step.is_thought:
            continue
        assert expert_step(replay, step.text), f"label {step.text!r} is not admissible after {walk}"
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


# Every thought the expert says from the start, as a pattern; the labels from a mid-episode state
# may say only these (and that they put down something useless), so that a model trained on both
# kinds of conversation learns one way to say each step.
THOUGHTS = [
    r"To solve the task, I need to .+\.",
    r"First I need to find an? .+\. (An? .+ is more likely to appear in|I can check) .+\.",
    r"No .+ so far\. Next, I can check .+\.",
    r"Now I find an? .+ \(\d+\)\. (A \S+ here: (\S+ \(\d+\)|none)\. |All \S+ here: an? \S+ \d+(, an? \S+ \d+)*\. )?"
    r"Next, I need to (take|use) it\.",
    r"I also see an? .+ \(\d+\) in/on .+, for later\.",
    r"I saw an? .+ \(\d+\) in/on .+ earlier\. Next, I need to go to .+\.",
    r"Now I (take|clean|heat|cool) an? .+ \(\d+\)\. Next, I need to "
    r"(find an? .+|go to .+ and (clean|heat|cool) it|put it in/on .+)\.",
]
PUT_DOWN = r"I do not need the .+\. I put it down first\."


def _says_as_from_the_start(steps, allowed) -> None:
    last_thought = ""
    for step in steps:
        if step.is_thought:
            text = step.text.removeprefix("think: ")
            assert any(re.fullmatch(p, text) for p in allowed), text
            if not text.endswith(", for later."):  # a note may sit between a find and its take
                last_thought = text
        elif step.text.startswith(("take ", "use ")):  # a take or a use follows its "Now I find"
            assert last_thought.startswith("Now I find"), (step.text, last_thought)


def test_labels_say_each_step_as_the_expert_does_from_the_start(valid_seen_games) -> None:
    from harness.world.loader import load_world

    rng = random.Random(11)
    for path in valid_seen_games[::3]:
        world = load_world(path)
        _says_as_from_the_start(solve(world), THOUGHTS)
        for n in (3, 12):
            labels = solve_from(world, _walk(Game(world), rng, n))
            _says_as_from_the_start(labels, [*THOUGHTS, PUT_DOWN])


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
                assert expert_step(game, text)
        assert game.won
        msgs = record_messages(rec)
        trained = [m for m in msgs if m["role"] == "assistant" and m.get("train") is not False]
        assert len(trained) == len(gpt) - k


def _trace_of(suite, entry, texts: list[str]):
    """An EpisodeTrace of a 'model' that said ``texts``, played in the real game."""
    from harness.bench.traces import EpisodeTrace, StepTrace

    game = suite.game(entry)
    game.reset()
    steps = []
    for i, text in enumerate(texts):
        if text.startswith("think:"):
            steps.append(StepTrace(index=i, assistant=text, kind="think", observation="OK."))
        else:
            r = game.step(text)
            steps.append(StepTrace(index=i, assistant=text, kind="command", command=text,
                                   observation=r.observation, admissible=r.admissible))  # fmt: skip
    return EpisodeTrace(game_id=entry.id, task_type=entry.task_type, task="", suite=suite.name,
                        model="m", backend="scripted", won=game.won, steps=steps)  # fmt: skip


def test_a_model_walking_its_own_search_list_is_not_labelled(valid_seen_games) -> None:
    """A model that visits the receptacles of its search thought in another order than the
    expert would (its own list, walked in order) makes no mistake there: no DAgger record.
    Its first real slip (a 'go to' off its list) is labelled."""
    from train.dagger import dagger_records

    suite = load_suite("alfworld-valid-seen")
    tried = 0
    for entry in suite.games()[::5]:
        texts = [s.text for s in solve(entry.world())]
        i = next(i for i, t in enumerate(texts) if "more likely to appear in" in t)
        head, names = texts[i].split(" appear in ")
        names = names.rstrip(".").split(", ")
        gos = [j for j, t in enumerate(texts) if t.startswith("go to ")][:3]
        if (
            len(names) < 3
            or [texts[j][6:] for j in gos] != names[:3]
            or gos != list(range(gos[0], gos[0] + 3))
        ):
            continue  # needs a search that walks past its first two receptacles by go tos alone
        swapped = [names[1], names[0], *names[2:]]
        own = list(texts)
        own[i] = f"{head} appear in {', '.join(swapped)}."
        own[gos[0]], own[gos[1]] = f"go to {names[1]}", f"go to {names[0]}"
        trace = _trace_of(suite, entry, own)
        if not trace.won:
            continue  # the swap changed what the walk showed (e.g. a closed receptacle)
        tried += 1
        assert dagger_records(suite, [trace]) == [], entry.id
        slip = [*own[: gos[1]], "go to " + names[-1], *own[gos[1] :]]
        (rec,) = dagger_records(suite, [_trace_of(suite, entry, slip)], per_episode=1)
        assert rec["supervise_from"] == gos[1]
    assert tried >= 3


def test_walking_on_past_what_it_searches_for_is_labelled(valid_seen_games) -> None:
    """Going on down its own list when the receptacle it reached shows the object it searches
    for is a mistake (the expert would say "Now I find"): labelled, though on the list."""
    from train.dagger import dagger_records

    suite = load_suite("alfworld-valid-seen")
    tried = 0
    for entry in suite.games()[::4]:
        texts = [s.text for s in solve(entry.world())]
        i = next(i for i, t in enumerate(texts) if "more likely to appear in" in t)
        names = texts[i].split(" appear in ")[1].rstrip(".").split(", ")
        f = next(j for j, t in enumerate(texts) if t.startswith("think: Now I find"))
        here = texts[f - 1][6:] if texts[f - 1].startswith("go to ") else None
        if here not in names[:-1]:
            continue  # needs a find at a receptacle of the first list, not its last
        walked = [*texts[:f], "go to " + names[names.index(here) + 1]]
        (rec,) = dagger_records(suite, [_trace_of(suite, entry, walked)], per_episode=1)
        assert rec["supervise_from"] == f
        sup = [t["value"] for t in rec["conversations"] if t["from"] == "gpt"][f]
        assert sup.startswith("think: Now I find"), sup
        tried += 1
    assert tried >= 3


def test_a_find_the_observation_does_not_show_is_labelled_at_the_thought(valid_seen_games) -> None:
    """With ``claims``, a model that says "Now I find a X (n)" where the receptacle shows no X
    (SmolLM2's most common slip in lost games) is off the expert's path at that thought, not
    only at the take that fails after it: the record's supervised turns start where the thought
    was said."""
    from train.dagger import dagger_records

    suite = load_suite("alfworld-valid-seen")
    tried = 0
    for entry in suite.games()[::4]:
        texts = [s.text for s in solve(entry.world())]
        f = next(j for j, t in enumerate(texts) if t.startswith("think: Now I find"))
        first_go = next(j for j, t in enumerate(texts) if t.startswith("go to "))
        if first_go >= f - 1:
            continue  # needs a receptacle searched before the one that shows the object
        m = re.fullmatch(r"think: Now I find an? (\S+) \((\d+)\)\. .*", texts[f])
        claim = texts[f]
        take = f"take {m.group(1)} {m.group(2)} from {texts[first_go][6:]}"
        hallucinated = [*texts[: first_go + 1], claim, take]
        trace = _trace_of(suite, entry, hallucinated)
        assert trace.steps[-1].observation == "Nothing happens.", take
        (rec,) = dagger_records(suite, [trace], per_episode=1, claims=True)
        assert rec["supervise_from"] == first_go + 1
        (plain,) = dagger_records(suite, [trace], per_episode=1)  # by default: at the failing take
        assert plain["supervise_from"] == first_go + 2
        sup = [t["value"] for t in rec["conversations"] if t["from"] == "gpt"][first_go + 1]
        assert sup != claim
        tried += 1
    assert tried >= 3


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


def test_dagger_from_a_run_on_games_outside_the_export(alfworld_root, tmp_path) -> None:
    """A bench run over games the export does not hold (held out by an earlier round) gives
    records; the export's test games and games of another split give none."""
    import json

    from train.dagger import play_model
    from train.data import add_dagger, export

    split = load_suite("alfworld-valid-seen")
    every = [g.id for g in split.games(alfworld_root)]
    suite = split.model_copy(update={"game_ids": every[:6]})
    out = tmp_path / "d"
    manifest = export(suite, out, test_fraction=0.2)
    (test_game,) = manifest["test_games"]
    outside = every[10:13]
    run = tmp_path / "run"
    play_model(split.model_copy(update={"game_ids": [*outside, test_game]}), "random", run, backend="random")
    with (run / "traces.jsonl").open("a") as f:  # a game of another split is never trained on
        other = json.loads((run / "traces.jsonl").read_text().splitlines()[0])
        f.write(json.dumps({**other, "game_id": "valid_unseen/" + other["game_id"].split("/", 1)[1]}) + "\n")
    manifest = add_dagger(suite, out, manifest, str(run), per_episode=1)
    info = manifest["dagger"]
    assert info["episodes_played"] == info["outside_export"] == 3
    assert info["left_out"] == {"test_games": 1, "other_split": 1}
    data = json.loads((out / "react_train_sharegpt.json").read_text())
    games = {r["game_id"] for r in data if "supervise_from" in r}
    assert games and games <= set(outside) and len(data) == len(manifest["train_games"]) + info["records"]


def test_dagger_aggregates_the_runs_of_several_rounds(alfworld_root, tmp_path) -> None:
    """Two runs (two DAgger rounds' plays, repeated ``--dagger``) are both labelled: the records
    come from the games of each, and the counts add up."""
    import json

    from click.testing import CliRunner

    from train.dagger import play_model
    from train.data import command

    split = load_suite("alfworld-valid-seen")
    every = [g.id for g in split.games(alfworld_root)]
    runs = []
    for i, games in enumerate((every[10:12], every[12:14])):
        run = tmp_path / f"round{i}"
        play_model(split.model_copy(update={"game_ids": games}), "random", run, backend="random")
        runs.append(run)
    out = tmp_path / "d"
    args = ["--suite", "alfworld-valid-seen", "--out", str(out), "--limit", "5", "--test-fraction", "0.2"]
    res = CliRunner().invoke(command, [*args, "--dagger", str(runs[0]), "--dagger", str(runs[1])])
    assert res.exit_code == 0, res.output
    info = json.loads((out / "manifest.json").read_text())["dagger"]
    assert info["model"] == [str(r) for r in runs] and info["episodes_played"] == 4
    data = json.loads((out / "react_train_sharegpt.json").read_text())
    games = {r["game_id"] for r in data if "supervise_from" in r}
    assert games & set(every[10:12]) and games & set(every[12:14]) and len(games) <= 4
    assert sum("supervise_from" in r for r in data) == info["records"]


def test_dagger_from_a_run_on_the_fill_suite_is_labelled_in_that_suite(alfworld_root, tmp_path) -> None:
    """A bench run on the fill suite (the synthetic games data fill draws) beside an ALFWorld
    run: its games are labelled in the suite its run.json names, and the records replay there
    to a win. Without ``fill`` the same run is another split's and is left out."""
    import json

    from harness.world.game import Game
    from train.dagger import play_model, played_suite
    from train.data import add_dagger, export

    split = load_suite("alfworld-valid-seen")
    every = [g.id for g in split.games(alfworld_root)]
    suite = split.model_copy(update={"game_ids": every[:5]})
    alf_run, syn_run = tmp_path / "alf", tmp_path / "syn"
    play_model(split.model_copy(update={"game_ids": every[10:12]}), "random", alf_run, backend="random")
    smoke = load_suite("synthetic-smoke")
    play_model(smoke, "random", syn_run, backend="random")
    assert played_suite(str(syn_run)) == played_suite(str(syn_run / "traces.jsonl")) == "synthetic-smoke"
    assert played_suite("smollm2-react:q8_0") is None
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "run.json").write_text("{")
    with pytest.raises(HarnessError, match=r"run.json: damaged run record"):
        played_suite(str(damaged))

    out = tmp_path / "without"
    info = add_dagger(suite, out, export(suite, out, test_fraction=0.2), [str(alf_run), str(syn_run)], 1)[
        "dagger"
    ]
    assert "fill" not in info and info["left_out"]["other_split"] == len(smoke.games())

    out = tmp_path / "d"
    manifest = export(suite, out, test_fraction=0.2)
    manifest = add_dagger(suite, out, manifest, [str(alf_run), str(syn_run)], 1, fill="synthetic-smoke")
    info = manifest["dagger"]
    lost = sum(not json.loads(line)["won"] for line in (syn_run / "traces.jsonl").read_text().splitlines())
    assert info["fill"]["suite"] == "synthetic-smoke" and info["fill"]["episodes_played"] == len(
        smoke.games()
    )
    assert 0 < info["fill"]["records"] <= lost
    assert info["episodes_played"] == 2 and info["left_out"]["other_split"] == 0
    data = [r for r in json.loads((out / "react_train_sharegpt.json").read_text()) if "supervise_from" in r]
    assert len(data) == info["records"]
    assert {r["game_id"] for r in data} & set(every[10:12])
    entries = {e.id: e for e in smoke.games()}
    synthetic = [r for r in data if r["game_id"] in entries]
    assert len(synthetic) == info["fill"]["records"]
    for rec in synthetic:  # the expert's turns, played from the model's state, win the game
        history, supervised = _replay_record(smoke, rec)
        game = Game(entries[rec["game_id"]].world(), text_format=smoke.text_format)
        game.reset()
        for cmd in history + [t for t in supervised if not t.startswith("think:")]:
            obs = game.step(cmd)
        assert game.won, (rec["game_id"], obs)


def _replay_record(suite, rec) -> tuple[list[str], list[str]]:
    """(history commands, supervised turns) of a record, with the history played in a game."""
    gpt = [t["value"] for t in rec["conversations"] if t["from"] == "gpt"]
    k = rec["supervise_from"]
    return [t for t in gpt[:k] if not t.startswith("think:")], gpt[k:]


@pytest.mark.parametrize("suite_name", ["synthetic-smoke", "alfworld-valid-seen"])
def test_recovery_records_slip_once_then_the_expert_wins(suite_name: str, request) -> None:
    """Each recovery is the expert's own history up to one slip of its kind: ``skip`` leaves one
    expert command out, ``detour`` plays another admissible command instead; the supervised
    turns after it win the game from there, and are the only supervised ones."""
    from train.dagger import recovery_records
    from train.sft_data import record_messages

    if suite_name.startswith("alfworld"):
        request.getfixturevalue("alfworld_root")
    suite = load_suite(suite_name)
    entries = {e.id: e for e in suite.games()[:12]}
    records = recovery_records(suite, seed=3, games=set(entries))
    assert len(records) >= len(entries) - 2  # a slip that wins or dead-ends is dropped
    assert {r["source"] for r in records} == {"recovery:skip", "recovery:detour"}
    for rec in records:
        entry = entries[rec["game_id"]]
        expert = [s.text for s in solve(entry.world(), text_format=suite.text_format) if not s.is_thought]
        history, supervised = _replay_record(suite, rec)
        *before, slip = history
        assert before == expert[: len(before)]  # on the expert's path up to the slip
        if rec["source"] == "recovery:skip":
            assert slip == expert[len(before) + 1]
        else:
            assert slip != expert[len(before)]
        game = suite.game(entry)
        game.reset()
        for c in history:
            game.step(c)
        assert not game.won
        for text in supervised:
            if not text.startswith("think:"):
                assert expert_step(game, text), (rec["game_id"], text)
        assert game.won
        msgs = record_messages(rec)
        trained = [m for m in msgs if m["role"] == "assistant" and m.get("train") is not False]
        assert len(trained) == len(supervised)
    again = recovery_records(suite, seed=3, games=set(entries))
    assert again == records  # deterministic for a seed
    assert recovery_records(suite, seed=4, games=set(entries)) != records


def test_cli_adds_recoveries_to_the_train_file(tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from train.data import command

    out = tmp_path / "d"
    res = CliRunner().invoke(command, ["--suite", "synthetic-smoke", "--out", str(out), "--recoveries", "2"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    data = json.loads((out / "react_train_sharegpt.json").read_text())
    rec = manifest["recoveries"]
    assert rec["per_game"] == 2 and rec["records"] == sum(rec["kinds"].values()) > 0
    assert rec["records"] <= 2 * len(manifest["train_games"])
    recovered = [r for r in data if r.get("source", "").startswith("recovery:")]
    assert len(recovered) == rec["records"] and {r["game_id"] for r in recovered} <= set(
        manifest["train_games"]
    )
    assert f"recoveries: {rec['records']} conversations" in res.output


def _build_data_step(tmp_path, monkeypatch, data_keys: str) -> tuple[dict, str]:
    """Run ``harness build``'s pipeline on a tiny recipe with ``data_keys`` (YAML lines) up to the
    SFT step (stopped there); returns the data manifest and the data step's recorded inputs."""
    import json

    import train.sft
    from train.build import Builder, BuildPlan

    class Stop(Exception):
        pass

    def stop(*_a, **_k):
        raise Stop

    monkeypatch.setattr(train.sft, "train_sft", stop)
    (tmp_path / "r.yaml").write_text(
        f"base_model: tiny:qwen2\ndata_suite: synthetic-smoke\n{data_keys}"
        f"dataset_dir: {tmp_path / 'data'}\noutput_dir: {tmp_path / 'run'}\n"
    )
    with pytest.raises(Stop):
        Builder(BuildPlan("t", tmp_path / "b", recipe=tmp_path / "r.yaml"), log=lambda s: None).run()
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    return manifest, json.loads((tmp_path / "b" / "build.json").read_text())["steps"]["data"]["inputs"]


def test_build_data_step_adds_the_recipes_recoveries(tmp_path, monkeypatch) -> None:
    """``data_recoveries`` in a recipe reaches the build's data step (and its inputs, so a
    changed value redoes the data)."""
    manifest, first = _build_data_step(tmp_path, monkeypatch, "data_recoveries: 1\n")
    assert manifest["recoveries"]["records"] > 0
    manifest, second = _build_data_step(tmp_path, monkeypatch, "data_recoveries: 2\n")
    assert second != first
    assert manifest["recoveries"]["per_game"] == 2


def test_build_data_step_adds_the_recipes_dagger_records(tmp_path, monkeypatch) -> None:
    """``data_dagger`` in a recipe makes the build's data step add DAgger records (here the random
    policy's states on the train games, labelled by the expert) after the expert's conversations."""
    import json

    keys = "data_dagger: random\ndata_dagger_per_episode: {}\n"
    manifest, first = _build_data_step(tmp_path, monkeypatch, keys.format(1))
    data = json.loads((tmp_path / "data" / "react_train_sharegpt.json").read_text())
    assert manifest["dagger"]["model"] == "random" and manifest["dagger"]["per_episode"] == 1
    assert 0 < manifest["dagger"]["records"] <= manifest["dagger"]["episodes_played"]
    assert sum("supervise_from" in r for r in data) == manifest["dagger"]["records"]
    assert len(data) - manifest["dagger"]["records"] == len(manifest["train_games"])
    manifest, second = _build_data_step(tmp_path, monkeypatch, keys.format(2))
    assert second != first
    assert manifest["dagger"]["per_episode"] == 2


@pytest.mark.parametrize("suite_name", ["synthetic-eval", "alfworld-valid-seen"])
def test_slipped_records_do_nothing_and_are_left_out_of_the_loss(suite_name: str, request) -> None:
    """A slipped record is the expert's conversation with one slip inserted after a visit: its
    commands do nothing in the game (``Nothing happens.``), its turns are the only ones left out
    of the loss, and without them the record is the expert's conversation, which wins."""
    from train.dagger import slipped_record
    from train.data import expert_episode, to_sharegpt
    from train.sft_data import record_messages

    if suite_name.startswith("alfworld"):
        request.getfixturevalue("alfworld_root")
    suite = load_suite(suite_name)
    rng = random.Random(5)
    kinds = set()
    for entry in suite.games()[:60]:
        rec = slipped_record(suite, entry, rng)
        if rec is None:
            continue
        kinds.add(rec["source"])
        off = rec["unsupervised"]
        gpt = [i for i, t in enumerate(rec["conversations"]) if t["from"] == "gpt"]
        slip = [rec["conversations"][gpt[j]]["value"] for j in off]
        assert off == list(range(off[0], off[0] + len(off))) and 1 <= len(off) <= 2
        if rec["source"] == "slip:phantom":
            assert slip[0].startswith("think: Now I find a ") and slip[1].startswith(("take ", "use "))
        else:
            assert slip[0].startswith("go to ") and slip[0] == rec["conversations"][gpt[off[0] - 1]]["value"]
        game = suite.game(entry)
        game.reset()
        for j, i in enumerate(gpt):
            text = rec["conversations"][i]["value"]
            if not text.startswith("think:"):
                if j in off:
                    assert not game.step(text).admissible, text
                else:
                    assert expert_step(game, text), text
        assert game.won
        msgs = record_messages(rec)
        assistant = [m for m in msgs if m["role"] == "assistant"]
        assert [j for j, m in enumerate(assistant) if m.get("train") is False] == off
        plain = to_sharegpt(expert_episode(suite, entry))["conversations"]
        kept = [
            t for i, t in enumerate(rec["conversations"]) if not any(i in (gpt[j], gpt[j] + 1) for j in off)
        ]
        assert kept == plain
    assert kinds == {"slip:repeat", "slip:phantom"}


@pytest.mark.parametrize("suite_name", ["synthetic-eval", "alfworld-valid-seen"])
def test_unnoted_records_recall_from_the_observation(suite_name: str, request) -> None:
    """An unnoted record is the expert's conversation without its notes for later (nor the
    "OK." after each), every other turn as it was, and its commands still win. The turns after
    a left-out note are the expert's own from that state: where it next names the noted object
    (a recall, or a find where it stands), the expert planning afresh from the commands played
    so far (``solve_from``, which never saw the note) says the same thought first."""
    from harness.world.expert import is_note
    from train.dagger import unnoted_record
    from train.data import expert_episode, to_sharegpt

    if suite_name.startswith("alfworld"):
        request.getfixturevalue("alfworld_root")
    suite = load_suite(suite_name)
    checked = 0
    for entry in suite.games()[:80]:
        plain = to_sharegpt(expert_episode(suite, entry))
        conv = plain["conversations"]
        notes = [i for i, t in enumerate(conv) if t["from"] == "gpt" and is_note(t["value"])]
        rec = unnoted_record(plain)
        if not notes:
            assert rec is None
            continue
        assert rec["source"] == "unnoted" and not any(is_note(t["value"]) for t in rec["conversations"])
        assert rec["conversations"] == [
            t for i, t in enumerate(conv) if i not in notes and i - 1 not in notes
        ]
        game = suite.game(entry)
        game.reset()
        turns = rec["conversations"]
        commands = [t["value"] for t in turns if t["from"] == "gpt" and not t["value"].startswith("think:")]
        for c in commands:
            assert expert_step(game, c), c
        assert game.won
        word, num = re.match(r"think: I also see an? (\S+) \((\d+)\)", conv[notes[0]]["value"]).groups()
        at = notes[0]  # the note's place in the unnoted record: the turn that followed it
        named = next(
            (
                i
                for i in range(at, len(turns))
                if f"a {word} ({num})" in turns[i]["value"] and turns[i]["from"] == "gpt"
            ),
            None,
        )
        if named is None:
            continue  # another object of that kind served (a second lamp, say)
        played = [
            t["value"] for t in turns[:named] if t["from"] == "gpt" and not t["value"].startswith("think:")
        ]
        first = next(s for s in solve_from(entry.world(), played) if s.is_thought and "(" in s.text)
        assert first.text == turns[named]["value"]
        checked += 1
    assert checked >= 2


def test_unnoted_record_moves_the_slips_turns_down() -> None:
    """A left-out note before a slip moves the slip's ``unsupervised`` assistant indices down
    by one; those before it stay."""
    from train.dagger import unnoted_record

    def gpt(v):
        return {"from": "gpt", "value": v}

    ok = {"from": "human", "value": "OK."}
    note = "think: I also see a knife (2) in/on diningtable 1, for later."
    conv = [{"from": "human", "value": "task"}, gpt("go to shelf 1"), ok, gpt(note), ok]
    conv += [
        gpt("go to shelf 1"),
        {"from": "human", "value": "Nothing happens."},
        gpt("take knife 1 from shelf 1"),
    ]
    rec = {"conversations": conv, "unsupervised": [0, 2], "source": "slip:repeat"}
    out = unnoted_record(rec)
    assert out["unsupervised"] == [0, 1] and out["source"] == "slip:repeat+unnoted"
    assert [t["value"] for t in out["conversations"] if t["from"] == "gpt"] == [
        "go to shelf 1",
        "go to shelf 1",
        "take knife 1 from shelf 1",
    ]
    assert rec["unsupervised"] == [0, 2] and len(rec["conversations"]) == 8  # the input is not changed


def test_build_data_step_adds_the_recipes_slips(tmp_path, monkeypatch) -> None:
    """``data_slips`` in a recipe makes the build's data step give that share of the train
    conversations one slip (and is in its inputs, so a changed value redoes the data)."""
    import json

    manifest, first = _build_data_step(tmp_path, monkeypatch, "data_slips: 0.5\n")
    data = json.loads((tmp_path / "data" / "react_train_sharegpt.json").read_text())
    slipped = [r for r in data if r.get("source", "").startswith("slip:")]
    assert 0 < manifest["slips"]["records"] == len(slipped) < len(data) == len(manifest["train_games"])
    assert all(r["unsupervised"] for r in slipped)
    manifest, second = _build_data_step(tmp_path, monkeypatch, "data_slips: 1.0\n")
    assert second != first
    assert manifest["slips"]["records"] > len(slipped)


def test_build_data_step_leaves_the_recipes_notes_out(tmp_path, monkeypatch) -> None:
    """``data_unnoted`` in a recipe makes the build's data step leave the notes for later out of
    that share of the train conversations with one (slipped ones too), and is in its inputs."""
    import json

    from harness.world.expert import is_note

    manifest, first = _build_data_step(tmp_path, monkeypatch, "data_slips: 1.0\ndata_unnoted: 1.0\n")
    data = json.loads((tmp_path / "data" / "react_train_sharegpt.json").read_text())
    info = manifest["unnoted"]
    assert 0 < info["records"] == info["with_notes"] == sum("unnoted" in r.get("source", "") for r in data)
    assert any(r["source"].startswith("slip:") and r["source"].endswith("+unnoted") for r in data)
    assert not any(is_note(t["value"]) for r in data for t in r["conversations"])
    manifest, second = _build_data_step(tmp_path, monkeypatch, "data_slips: 1.0\ndata_unnoted: 0.5\n")
    assert second != first and manifest["unnoted"]["fraction"] == 0.5
    assert manifest["unnoted"]["records"] <= manifest["unnoted"]["with_notes"] == info["with_notes"]


def test_unnoted_for_gives_a_task_type_its_own_fraction(tmp_path, monkeypatch) -> None:
    """A per-type fraction (``data_unnoted_for``) overrides ``data_unnoted`` for its task type
    only: at 1 every look record with a note loses it, at 0 no pick-two record does, and the other
    type's records are left out exactly as under ``data_unnoted`` alone (one draw per noted
    record, whatever its type). The build's data step passes it on and counts it in its inputs."""
    import json

    from harness.world.expert import is_note
    from train.data import export
    from train.data_edit import add_unnoted

    def unnoted(out: Path, **kw) -> tuple[dict, dict[str, set[int]], list[dict]]:
        manifest = add_unnoted(out, export(load_suite("synthetic-eval"), out), 0.5, **kw)
        data = json.loads((out / "react_train_sharegpt.json").read_text())
        by_type: dict[str, set[int]] = {}
        for i, r in enumerate(data):
            if "unnoted" in r.get("source", ""):
                by_type.setdefault(r["task_type"], set()).add(i)
        return manifest["unnoted"], by_type, data

    look, two = "look_at_obj_in_light", "pick_two_obj_and_place"  # the types whose expert notes
    _, plain, _ = unnoted(tmp_path / "plain")
    info, per, data = unnoted(tmp_path / "look", per_type={look: 1.0})
    assert info["per_type"] == {look: 1.0}
    assert info["records_by_type"] == {t: len(v) for t, v in sorted(per.items())}
    looks = [r for r in data if r["task_type"] == look]
    assert looks and not any(is_note(t["value"]) for r in looks for t in r["conversations"])
    assert len(per[look]) > len(plain[look])
    # another type's fraction leaves look's records out exactly as before (pick two's notes are
    # all inside "Now I find" thoughts in these games, so it has none to leave out)
    for frac in (0, 1.0):
        info, per, _ = unnoted(tmp_path / f"two{frac}", per_type={two: frac})
        assert two not in per and per[look] == plain[look]
        assert info["records_by_type"] == {look: len(plain[look])}

    _, first = _build_data_step(tmp_path, monkeypatch, "data_unnoted: 0.5\n")
    manifest, second = _build_data_step(
        tmp_path, monkeypatch, "data_unnoted: 0.5\ndata_unnoted_for: {look_at_obj_in_light: 1.0}\n"
    )
    assert second != first and manifest["unnoted"]["per_type"] == {"look_at_obj_in_light": 1.0}


def test_unnoted_for_refuses_an_unknown_task_type(tmp_path) -> None:
    from click.testing import CliRunner

    from train.data import command
    from train.recipe import RecipeError, load_recipe

    f = tmp_path / "r.yaml"
    f.write_text("base_model: tiny:llama\ndata_unnoted_for: {look_at_obj: 1.0}\n")
    with pytest.raises(RecipeError, match="unknown task type 'look_at_obj'"):
        load_recipe(f)
    for bad in ("look_at_obj=1", "look_at_obj_in_light", "look_at_obj_in_light=x", "look_at_obj_in_light=2"):
        res = CliRunner().invoke(
            command, ["--suite", "synthetic-smoke", "--out", str(tmp_path / "d"), "--unnoted-for", bad]
        )
        assert res.exit_code == 2 and bad in res.output


def test_cli_gives_train_conversations_slips(tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from train.data import command

    out = tmp_path / "d"
    res = CliRunner().invoke(command, ["--suite", "synthetic-smoke", "--out", str(out), "--slips", "1"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    data = json.loads((out / "react_train_sharegpt.json").read_text())
    assert manifest["slips"]["records"] == sum("unsupervised" in r for r in data) > len(data) // 2
    assert f"slips: {manifest['slips']['records']} train conversations given one" in res.output
    bad = CliRunner().invoke(command, ["--suite", "synthetic-smoke", "--out", str(out), "--slips", "1.5"])
    assert bad.exit_code == 2 and "1.5" in bad.output
    res = CliRunner().invoke(command, ["--suite", "synthetic-smoke", "--out", str(out), "--unnoted", "1"])
    assert res.exit_code == 0, res.output
    d = json.loads((out / "manifest.json").read_text())["unnoted"]
    assert (
        f"unnoted: notes left out of {d['records']} of the {d['with_notes']} train conversations"
        in res.output
    )
    assert d["records"] == d["with_notes"] > 0


def test_build_data_step_is_redone_when_the_expert_changes(tmp_path, monkeypatch) -> None:
    """The data step's inputs cover the expert's code: a build after an expert change does not
    reuse the old expert's trajectories."""
    import train.build

    _, first = _build_data_step(tmp_path, monkeypatch, "")
    _, again = _build_data_step(tmp_path, monkeypatch, "")
    monkeypatch.setattr(train.build, "_data_code_hash", lambda: "another expert")
    _, changed = _build_data_step(tmp_path, monkeypatch, "")
    assert again == first and changed != first
