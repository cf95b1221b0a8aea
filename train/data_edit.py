"""Edits of an exported ``react_train_sharegpt.json`` (``harness data`` and the build's data
step): the writers every addition goes through, and what is done to the expert's own
conversations besides exporting them: recoveries appended, slips and left-out notes in place
(``train.dagger`` makes each record)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from harness.bench.suites import Suite

__all__ = ["add_recoveries", "add_slips", "add_unnoted", "append_train", "read_train", "write_train"]

TRAIN_FILE = "react_train_sharegpt.json"


def add_recoveries(suite: Suite, out: Path, manifest: dict, per_game: int = 1, seed: int = 0) -> dict:
    """Append ``per_game`` recovery records per train game (``train.dagger.recovery_records``:
    the expert knocked off course once, its way back supervised) to ``react_train_sharegpt.json``;
    returns the updated manifest (also written)."""
    from collections import Counter

    from train.dagger import recovery_records

    train_games = set(manifest["train_games"])
    records = recovery_records(suite, per_game=per_game, seed=seed, games=train_games)
    kinds = Counter(r["source"].split(":", 1)[1] for r in records)
    info = {"per_game": per_game, "seed": seed, "records": len(records), "kinds": dict(sorted(kinds.items()))}
    return append_train(out, manifest, records, "recoveries", info)


def add_slips(suite: Suite, out: Path, manifest: dict, fraction: float, seed: int = 0) -> dict:
    """Give a seeded ``fraction`` of the train conversations in ``react_train_sharegpt.json`` one
    no-op slip each (``train.dagger.slipped_record``: masked from the loss, the rest of the
    conversation unchanged); returns the updated manifest (also written). Only ``train.sft``
    leaves the slip out of the loss: LLaMA-Factory ignores ``unsupervised`` (as it ignores
    DAgger's ``supervise_from``) and would train on it. The Alpaca files keep the plain
    conversations: that format cannot leave a turn out of the loss."""
    from collections import Counter

    from train.dagger import slipped_record

    data = read_train(out)
    entries = {e.id: e for e in suite.games()}
    rng = random.Random(seed)
    kinds: Counter[str] = Counter()
    for i, rec in enumerate(data):
        entry = entries.get(rec.get("game_id", ""))
        if entry is None or "source" in rec or rng.random() >= fraction:
            continue  # only the expert's own conversations
        slipped = slipped_record(suite, entry, rng, system=rec.get("system") or None)
        if slipped is not None:
            data[i] = slipped
            kinds[slipped["source"].split(":", 1)[1]] += 1
    info = {
        "fraction": fraction,
        "seed": seed,
        "records": sum(kinds.values()),
        "kinds": dict(sorted(kinds.items())),
    }
    return write_train(out, manifest, data, "slips", info)


def add_unnoted(
    out: Path, manifest: dict, fraction: float, seed: int = 0, per_type: dict[str, float] | None = None
) -> dict:
    """Leave the notes for later out of a seeded ``fraction`` of the expert's train conversations
    (slipped, filled or plain) that have one (``train.dagger.unnoted_record``: the state a model
    is in when it skips a note, the expert's recall from the observation after it); ``per_type``
    gives a task type its own fraction. Returns the updated manifest (also written). The Alpaca
    files keep the plain conversations."""
    from collections import Counter

    from train.dagger import unnoted_record

    per_type = per_type or {}
    data = read_train(out)
    rng = random.Random(f"unnoted:{seed}")  # its own stream: the slips' draws stay as they were
    noted = changed = 0
    by_type: Counter[str] = Counter()
    for i, rec in enumerate(data):
        if rec.get("supervise_from", 0):
            continue  # a DAgger or recovery record: its history is not the expert's
        unnoted = unnoted_record(rec)
        if unnoted is None:
            continue
        noted += 1
        # one draw per noted record whatever its type, so that a per-type fraction changes only
        # that type's records: the others are left out exactly as without it
        task_type = rec.get("task_type", "")
        if rng.random() < per_type.get(task_type, fraction):
            data[i] = unnoted
            changed += 1
            by_type[task_type] += 1
    info = {"fraction": fraction, "seed": seed, "with_notes": noted, "records": changed}
    if per_type:
        info["per_type"] = dict(sorted(per_type.items()))
        info["records_by_type"] = dict(sorted(by_type.items()))
    return write_train(out, manifest, data, "unnoted", info)


def append_train(out: Path, manifest: dict, records: list[dict], key: str, info: dict) -> dict:
    """Append ``records`` to ``react_train_sharegpt.json`` (see :func:`write_train`)."""
    data = read_train(out) + records
    return write_train(out, manifest, data, key, info)


def read_train(out: Path) -> list[dict]:
    """The conversations of ``out``'s ``react_train_sharegpt.json``."""
    return json.loads((out / TRAIN_FILE).read_text())


def write_train(out: Path, manifest: dict, data: list[dict], key: str, info: dict) -> dict:
    """Write ``data`` as ``react_train_sharegpt.json`` and the manifest with ``info`` under ``key``."""
    from harness._util.atomic import atomic_write_text

    path = out / TRAIN_FILE
    sha = atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=1))
    manifest["files"][path.name] = {"sha256": sha, "episodes": len(data)}
    manifest[key] = info
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2))
    return manifest
