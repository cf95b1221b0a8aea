"""Training data from expert trajectories, in the formats LLaMA-Factory reads unchanged.

    python -m train.data --suite alfworld-train --out data/react
    harness data --suite synthetic-train --out data/react

Writes ``react_{train,test}_{alpaca,sharegpt}.json``, ``dataset_info.json`` and
``manifest.json`` (sha256 of every file, counts, suite, seed). Each episode is the expert's
full ReAct conversation built by ``harness.agent.protocol`` (the messages the harness sends at
evaluation time); the train/test split is by game, never by step, and deterministic for a seed.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from harness.agent.protocol import SYSTEM_PROMPT, build_messages
from harness.bench.suites import Suite
from harness.world.expert import ExpertFailed, solve
from train.data_edit import add_recoveries, add_slips, add_unnoted, append_train

FORMAT_VERSION = 1


@dataclass
class Episode:
    game_id: str
    task_type: str
    messages: list[dict[str, str]]


def expert_episode(suite: Suite, entry, system: str | None = SYSTEM_PROMPT) -> Episode:
    """The expert's conversation on one suite game, through the ReAct protocol."""
    world = entry.world()
    game = suite.game(entry)
    intro = game.reset()
    steps = solve(world, text_format=suite.text_format)
    history = [(s.text, s.observation) for s in steps]
    return Episode(entry.id, entry.task_type, build_messages(intro, history, system=system))


def to_sharegpt(ep: Episode) -> dict:
    system = next((m["content"] for m in ep.messages if m["role"] == "system"), "")
    conv = [
        {"from": "human" if m["role"] == "user" else "gpt", "value": m["content"]}
        for m in ep.messages
        if m["role"] != "system"
    ]
    if conv and conv[-1]["from"] == "human":
        conv.pop()  # the final observation teaches nothing; LLaMA-Factory wants gpt last
    return {"conversations": conv, "system": system, "game_id": ep.game_id, "task_type": ep.task_type}


def to_alpaca(ep: Episode) -> dict:
    system = next((m["content"] for m in ep.messages if m["role"] == "system"), "")
    turns = [m["content"] for m in ep.messages if m["role"] != "system"]
    pairs = [[turns[i], turns[i + 1]] for i in range(0, len(turns) - 1, 2)]
    (last_q, last_a), history = pairs[-1], pairs[:-1]
    return {
        "instruction": last_q,
        "input": "",
        "output": last_a,
        "system": system,
        "history": history,
        "game_id": ep.game_id,
        "task_type": ep.task_type,
    }


def dataset_info(prefix: str = "react") -> dict:
    info = {}
    for split in ("train", "test"):
        info[f"{prefix}_{split}_alpaca"] = {
            "file_name": f"{prefix}_{split}_alpaca.json",
            "columns": {
                "prompt": "instruction",
                "query": "input",
                "response": "output",
                "system": "system",
                "history": "history",
            },
        }
        info[f"{prefix}_{split}_sharegpt"] = {
            "file_name": f"{prefix}_{split}_sharegpt.json",
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
        }
    return info


def split_games(ids: list[str], test_fraction: float, seed: int) -> tuple[set[str], set[str]]:
    """Deterministic split by game id."""
    order = sorted(ids)
    random.Random(seed).shuffle(order)
    n_test = round(len(order) * test_fraction)
    if test_fraction > 0 and n_test == 0 and len(order) > 1:
        n_test = 1
    return set(order[n_test:]), set(order[:n_test])


def export(
    suite: Suite,
    out_dir: str | Path,
    *,
    test_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
    system: str | None = SYSTEM_PROMPT,
    progress=None,
) -> dict:
    """Write the dataset files; returns the manifest. Raises HarnessError on bad input."""
    from harness._util.atomic import atomic_write_text

    entries = suite.games()[:limit] if limit else suite.games()
    episodes: list[Episode] = []
    skipped: list[str] = []
    for entry in entries:
        try:
            episodes.append(expert_episode(suite, entry, system))
        except ExpertFailed:
            skipped.append(entry.id)
        if progress:
            progress(entry.id)
    train_ids, test_ids = split_games([e.game_id for e in episodes], test_fraction, seed)
    out = Path(out_dir)
    files: dict[str, dict] = {}
    for split, ids in (("train", train_ids), ("test", test_ids)):
        eps = [e for e in episodes if e.game_id in ids]
        for fmt, conv in (("alpaca", to_alpaca), ("sharegpt", to_sharegpt)):
            name = f"react_{split}_{fmt}.json"
            sha = atomic_write_text(
                out / name, json.dumps([conv(e) for e in eps], ensure_ascii=False, indent=1)
            )
            files[name] = {"sha256": sha, "episodes": len(eps)}
    sha = atomic_write_text(out / "dataset_info.json", json.dumps(dataset_info(), indent=2))
    files["dataset_info.json"] = {"sha256": sha}
    manifest = {
        "version": FORMAT_VERSION,
        "suite": suite.name,
        "text_format": suite.text_format,
        "seed": seed,
        "test_fraction": test_fraction,
        "episodes": len(episodes),
        "train_games": sorted(train_ids),
        "test_games": sorted(test_ids),
        "skipped_unsolvable": skipped,
        "files": files,
    }
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2))
    return manifest


def whole_split(suite: Suite) -> Suite:
    """An ALFWorld suite with every game of its split (no ``limit``, no ``game_ids``); a
    synthetic suite as it is."""
    if suite.source != "alfworld":
        return suite
    return suite.model_copy(update={"limit": None, "game_ids": None})


def add_dagger(
    suite: Suite,
    out: Path,
    manifest: dict,
    model: str | Sequence[str],
    per_episode: int = 2,
    claims: bool = False,
    fill: str | None = None,
) -> dict:
    """Play ``model`` (or read a bench run) on the train games and append DAgger records to
    ``react_train_sharegpt.json``; returns the updated manifest (also written).

    Several models or runs (e.g. one per DAgger round) are aggregated, as DAgger aggregates its
    rounds' data: every one's states are labelled and added.

    A bench run may have played games outside this export (``harness bench --games``: the games
    an earlier round held out, which the model never trained on, so it leaves the expert's path
    there as it does on unseen games). Every traced game of the suite's ALFWorld split is used,
    except this export's test games, which stay out of training.

    A bench run on the ``fill`` suite (its run.json names it; the suite ``add_fill`` draws from,
    whose games are generated for training) is labelled in that suite: the model played on games
    whose goal object types the split lacks. Runs on any other suite (synthetic-eval, say) count
    as another split's and are left out."""
    from harness.bench.suites import load_suite
    from train.dagger import dagger_records, play_model, played_suite

    test_games = set(manifest["test_games"])
    sources = [model] if isinstance(model, str) else list(model)
    if not sources:
        raise ValueError("add_dagger: no model or run to play")
    fill_suite = load_suite(fill) if fill else None
    played: list = []
    on_fill: list = []
    for i, m in enumerate(sources):
        traces = play_model(suite, m, out / ("dagger-run" if len(sources) == 1 else f"dagger-run-{i}"))
        ran_on = played_suite(m)  # a run.json keeps the suite's name, also for a suite file
        to_fill = fill_suite is not None and ran_on == fill_suite.name != suite.name
        (on_fill if to_fill else played).extend(traces)
    split = whole_split(suite)  # the labeller knows every game of the split, not only the drawn ones
    known = {e.id for e in split.games()}
    traces = [t for t in played if t.game_id in known and t.game_id not in test_games]
    train_games = set(manifest["train_games"])
    records = dagger_records(split, traces, per_episode=per_episode, claims=claims)
    fill_info = {}
    if fill_suite is not None and on_fill:
        found = dagger_records(fill_suite, on_fill, per_episode=per_episode, claims=claims)
        fill_info = {
            "suite": fill_suite.name,
            "episodes_played": len(on_fill),
            "won": sum(t.won for t in on_fill),
            "records": len(found),
        }
        records += found
    info = {  # episodes of the split, then those of the fill suite; records of both
        "model": model,
        "episodes_played": len(traces),
        "won": sum(t.won for t in traces),
        "records": len(records),
        "per_episode": per_episode,
        **({"claims": True} if claims else {}),
        **({"fill": fill_info} if fill_info else {}),
        "outside_export": sum(t.game_id not in train_games for t in traces),  # e.g. held out before
        "left_out": {
            "test_games": sum(t.game_id in test_games for t in played),
            "other_split": sum(t.game_id not in known for t in played),  # never train on valid games
        },
    }
    return append_train(out, manifest, records, "dagger", info)


def add_fill(suite: Suite, out: Path, manifest: dict, fill: str, system: str | None = SYSTEM_PROMPT) -> dict:
    """Append the expert's conversations on the games of suite ``fill`` whose goal object type
    no game of ``suite``'s split asks for to ``react_train_sharegpt.json``; returns the updated
    manifest (also written).

    A training split can lack object types that other games ask for (the shared ALFWorld train
    split has 25 goal object types, valid_seen 42: no tomato, plate, spraybottle, toiletpaper …);
    a model that never wrote a word as a goal spells it its own way ("toilet paper 1") and its
    commands fail. Synthetic games (``harness.world.generator``) fill those types in."""
    from collections import Counter

    from harness.bench.suites import load_suite

    known = {e.world().spec.object_type for e in whole_split(suite).games()}
    other = load_suite(fill)
    records: list[dict] = []
    types: Counter[str] = Counter()
    for entry in other.games():
        wanted = entry.world().spec.object_type
        if wanted in known:
            continue
        try:
            ep = expert_episode(other, entry, system)
        except ExpertFailed:
            continue
        records.append({**to_sharegpt(ep), "source": f"fill:{other.name}"})
        types[_type_name(wanted)] += 1
    info = {
        "suite": other.name,
        "records": len(records),
        "known_types": len(known),
        "types": dict(sorted(types.items())),
        # the games, for a DAgger play on them: jq -r '.fill.games[]' manifest.json > fill.txt
        "games": [r["game_id"] for r in records],
    }
    return append_train(out, manifest, records, "fill", info)


def _type_name(object_type: str | None) -> str:
    return (object_type or "none").removesuffix("type")


def _fraction_option(flag: str, help: str):
    """A ``--flag F`` option: the share (0 to 1, default 0: off) of the train conversations it changes."""
    return click.option(flag, default=0.0, show_default=True, type=click.FloatRange(0, 1), help=help)


def _type_fractions(values: tuple[str, ...]) -> dict[str, float]:
    """``TYPE=F`` pairs as a dict, each type one of the world's task types and F in [0, 1]."""
    from harness.world import TASK_TYPES

    out: dict[str, float] = {}
    for v in values:
        t, sep, f = v.partition("=")
        if not sep or t not in TASK_TYPES:
            raise click.BadParameter(f"{v!r}: give TYPE=F with TYPE one of {', '.join(TASK_TYPES)}")
        try:
            out[t] = float(f)
        except ValueError:
            raise click.BadParameter(f"{v!r}: {f!r} is not a number") from None
        if not 0 <= out[t] <= 1:
            raise click.BadParameter(f"{v!r}: the fraction must be between 0 and 1")
    return out


@click.command("data")
@click.option(
    "--suite",
    default=None,
    help="Suite to export (default: alfworld-train when ALFWORLD_DATA is set, else synthetic-train).",
)
@click.option("--out", "out_dir", default="data/react", show_default=True, type=click.Path(file_okay=False))
@click.option("--test-fraction", default=0.1, show_default=True, type=click.FloatRange(0, 0.9))
@click.option(
    "--seed",
    default=0,
    show_default=True,
    help="Seed of the train/test split (and of the --recoveries, --slips and --unnoted draws).",
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Only the first K games of the suite."
)
@click.option(
    "--no-system", is_flag=True, help="Leave the system prompt out (use the Modelfile's SYSTEM instead)."
)
@click.option(
    "--dagger",
    metavar="MODEL|RUN",
    multiple=True,
    help="Also play MODEL on the suite's train games (or reuse a bench run folder) and add the "
    "expert's recoveries from the states it reached (train.dagger). Repeat it to aggregate "
    "several rounds' runs. A run on the --fill suite is labelled in that suite.",
)
@click.option("--dagger-per-episode", default=2, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--dagger-claims",
    is_flag=True,
    help="Also label a model's thought that claims a find or a recall the expert would not say "
    "from the same state (train.dagger).",
)
@click.option(
    "--fill",
    metavar="SUITE",
    help="Also add the expert's conversations on SUITE's games (e.g. synthetic-fill) whose goal "
    "object type no game of --suite's split asks for.",
)
@click.option(
    "--recoveries",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Also add K recovery conversations per train game: the expert knocked off course once "
    "(a skipped or a wrong command), its way back supervised (train.dagger).",
)
@_fraction_option(
    "--slips",
    "Give this fraction of the train conversations one command that does nothing (a repeated "
    "'go to', a phantom 'take'), left out of train.sft's loss; the expert goes on as planned "
    "(train.dagger).",
)
@_fraction_option(
    "--unnoted",
    "Leave the expert's notes for later ('I also see a desklamp (1) in/on desk 1, for later.', "
    "a thought of its own) out of this fraction of the train conversations that have one: its "
    "recall from the observation after is what a model that skipped the note needs (train.dagger).",
)
@click.option(
    "--unnoted-for",
    "unnoted_for",
    metavar="TYPE=F",
    multiple=True,
    callback=lambda ctx, param, v: _type_fractions(v),
    help="A task type's own --unnoted fraction (e.g. look_at_obj_in_light=1); repeat it for more types.",
)
def command(
    suite: str | None,
    out_dir: str,
    test_fraction: float,
    seed: int,
    limit: int | None,
    no_system: bool,
    dagger: tuple[str, ...],
    dagger_per_episode: int,
    dagger_claims: bool,
    fill: str | None,
    recoveries: int,
    slips: float,
    unnoted: float,
    unnoted_for: dict[str, float],
) -> None:
    """Write react_{train,test}_{alpaca,sharegpt}.json + dataset_info.json into --out.

    \b
    LLaMA-Factory reads the folder as its dataset_dir, e.g.:
      llamafactory-cli train ... --dataset_dir data/react --dataset react_train_sharegpt
    """
    from rich.progress import Progress

    from harness.bench.suites import load_suite

    name = suite or ("alfworld-train" if os.environ.get("ALFWORLD_DATA") else "synthetic-train")
    s = load_suite(name)
    total = len(s.games()[:limit] if limit else s.games())
    with Progress(transient=True) as bar:
        task = bar.add_task(f"expert on {s.name}", total=total)
        manifest = export(
            s,
            out_dir,
            test_fraction=test_fraction,
            seed=seed,
            limit=limit,
            system=None if no_system else SYSTEM_PROMPT,
            progress=lambda _id: bar.advance(task),
        )
    if fill:
        manifest = add_fill(s, Path(out_dir), manifest, fill, None if no_system else SYSTEM_PROMPT)
        d = manifest["fill"]
        click.echo(f"fill: {d['records']} {d['suite']} conversations on {len(d['types'])} object types added")
    if dagger:
        manifest = add_dagger(
            s,
            Path(out_dir),
            manifest,
            dagger[0] if len(dagger) == 1 else list(dagger),
            dagger_per_episode,
            dagger_claims,
            fill,
        )
        d = manifest["dagger"]
        f = d.get("fill")
        also = f", {f['episodes_played']} of {f['suite']} (won {f['won']})" if f else ""
        click.echo(
            f"dagger: {', '.join(dagger)} played {d['episodes_played']} games (won {d['won']}){also}; "
            f"{d['records']} recovery conversations added to react_train_sharegpt.json"
        )
    if slips:
        manifest = add_slips(s, Path(out_dir), manifest, slips, seed)
        d = manifest["slips"]
        kinds = ", ".join(f"{v} {k}" for k, v in d["kinds"].items())
        click.echo(f"slips: {d['records']} train conversations given one ({kinds})")
    if unnoted or unnoted_for:
        manifest = add_unnoted(Path(out_dir), manifest, unnoted, seed, unnoted_for)
        d = manifest["unnoted"]
        click.echo(
            f"unnoted: notes left out of {d['records']} of the {d['with_notes']} train conversations with one"
        )
    if recoveries:
        manifest = add_recoveries(s, Path(out_dir), manifest, recoveries, seed)
        d = manifest["recoveries"]
        kinds = ", ".join(f"{v} {k}" for k, v in d["kinds"].items())
        click.echo(f"recoveries: {d['records']} conversations ({kinds}) added to react_train_sharegpt.json")
    click.echo(
        f"{manifest['episodes']} episodes from {s.name} → {out_dir}: "
        f"{len(manifest['train_games'])} train / {len(manifest['test_games'])} test games"
        + (
            f"; {len(manifest['skipped_unsolvable'])} unsolvable skipped"
            if manifest["skipped_unsolvable"]
            else ""
        )
    )


def main(argv: list[str] | None = None) -> None:
    from harness._util.cli import run_command

    run_command(command, argv, "python -m train.data")


if __name__ == "__main__":
    main()
