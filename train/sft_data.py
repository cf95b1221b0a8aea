"""SFT examples from the exported ReAct data: chat-template formatting, the label mask, packing
and batching. Used by ``train.sft``.

Each conversation is rendered with the tokenizer's own ``chat_template`` (system + alternating
user/assistant: exactly the messages ``harness.agent.protocol`` sends at evaluation). Labels are -100
everywhere except the content of assistant turns and the end-of-turn token that closes them
(``<|im_end|>`` for ChatML): the model learns thoughts and commands, never observations, the
system prompt or the task text.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

IGNORE = -100
ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


class DatasetError(HarnessError, ValueError):
    """A training dataset is missing, unknown or malformed."""


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    group: str = ""
    """The conversation's task type (its record's ``task_type``), for the recipe's ``type_weights``."""

    def __len__(self) -> int:
        return len(self.input_ids)


def dataset_file(dataset_dir: str | Path, name: str) -> Path:
    """The JSON file for dataset ``name`` (a key of ``dataset_info.json``, or a file name)."""
    d = Path(dataset_dir)
    info_path = d / "dataset_info.json"
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        if name in info:
            return d / info[name]["file_name"]
    for cand in (d / name, d / f"{name}.json"):
        if cand.is_file():
            return cand
    raise DatasetError(
        f"dataset {name!r} not found in {d}; export it first: python -m train.data --suite synthetic-train --out {d}"
    )


def record_messages(rec: dict[str, Any]) -> list[dict[str, str]]:
    """Chat messages from a ShareGPT (``conversations``) or Alpaca (``instruction``) record."""
    msgs: list[dict[str, str]] = []
    if rec.get("system"):
        msgs.append({"role": "system", "content": rec["system"]})
    if "conversations" in rec:
        for turn in rec["conversations"]:
            role = ROLES.get(turn.get("from", ""))
            if role is None:
                raise DatasetError(f"unknown ShareGPT role {turn.get('from')!r} (want human/gpt)")
            msgs.append({"role": role, "content": turn["value"]})
    elif "instruction" in rec:
        for q, a in rec.get("history") or []:
            msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        query = rec["instruction"] + (f"\n{rec['input']}" if rec.get("input") else "")
        msgs += [{"role": "user", "content": query}, {"role": "assistant", "content": rec["output"]}]
    else:
        raise DatasetError("a record needs 'conversations' (ShareGPT) or 'instruction' (Alpaca)")
    skip = rec.get("supervise_from", 0)
    if not isinstance(skip, int) or skip < 0:
        raise DatasetError(f"supervise_from={skip!r}: want the index of the first supervised assistant turn")
    off = rec.get("unsupervised", [])
    if not isinstance(off, list) or not all(isinstance(i, int) and i >= 0 for i in off):
        raise DatasetError(f"unsupervised={off!r}: want a list of assistant turn indices")
    # DAgger records (train.dagger): the first assistant turns are the model's own history,
    # context only; training starts at the expert's turns. Slipped records: the slip's turns.
    k = 0
    for m in msgs:
        if m["role"] == "assistant":
            if k < skip or k in off:
                m["train"] = False  # type: ignore[assignment]
            k += 1
    return msgs


def load_records(path: str | Path) -> list[dict[str, Any]]:
    """The records of a dataset file (a JSON list of ShareGPT or Alpaca records)."""
    try:
        records = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path}: cannot read dataset ({e})") from None
    if not isinstance(records, list):
        raise DatasetError(f"{path}: expected a JSON list of records")
    return records


def load_conversations(path: str | Path) -> list[list[dict[str, str]]]:
    return [record_messages(r) for r in load_records(path)]


def _render(tokenizer: Any, messages: list[dict[str, str]], gen: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)


def assistant_spans(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans to train on: each assistant turn's
    content through its end-of-turn token (found by rendering prefixes with the template)."""
    text = _render(tokenizer, messages)
    eos = tokenizer.eos_token
    spans: list[tuple[int, int]] = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant" or m.get("train") is False:
            continue
        head = _render(tokenizer, messages[:i], gen=True)
        upto = _render(tokenizer, messages[: i + 1])
        if not text.startswith(head) or not text.startswith(upto) or not upto.startswith(head):
            raise DatasetError("the chat template does not render conversations prefix by prefix")
        end = upto.rfind(eos) + len(eos) if eos and upto.rfind(eos) >= len(head) else len(upto.rstrip())
        spans.append((len(head), end))
    return text, spans


def encode(tokenizer: Any, messages: list[dict[str, str]], cutoff_len: int) -> Example:
    """Token ids and labels for one conversation, truncated to ``cutoff_len`` tokens."""
    text, spans = assistant_spans(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = enc["input_ids"]
    labels = [IGNORE] * len(ids)
    k = 0
    for t, (a, b) in enumerate(enc["offset_mapping"]):
        while k < len(spans) and spans[k][1] <= a:
            k += 1
        if k < len(spans) and spans[k][0] <= a < spans[k][1] and b > a:
            labels[t] = ids[t]
    return Example(ids[:cutoff_len], labels[:cutoff_len])


def build_examples(
    tokenizer: Any,
    conversations: Sequence[list[dict[str, str]]],
    cutoff_len: int,
    groups: Sequence[str] | None = None,
) -> list[Example]:
    """Encode every conversation (``groups``: each one's task type); drop those left with no
    supervised token after truncation."""
    out = [encode(tokenizer, c, cutoff_len) for c in conversations]
    for e, g in zip(out, groups or (), strict=False):
        e.group = g
    return [e for e in out if any(x != IGNORE for x in e.labels)]


def pack(examples: Sequence[Example], max_len: int) -> list[list[Example]]:
    """Group examples (in order, first fit) into sequences of at most ``max_len`` tokens."""
    bins: list[list[Example]] = []
    room: list[int] = []
    for ex in examples:
        for i, r in enumerate(room):
            if len(ex) <= r:
                bins[i].append(ex)
                room[i] -= len(ex)
                break
        else:
            bins.append([ex])
            room.append(max_len - len(ex))
    return bins


def collate(rows: Sequence[Sequence[Example]], pad_id: int, packed: bool) -> dict[str, Any]:
    """A batch: ``input_ids``, ``labels``, ``position_ids`` and, unpacked, ``attention_mask``.

    Packed rows carry no attention mask: position ids restart at 0 for every conversation, and
    transformers turns that into a block-diagonal causal mask (each conversation sees only
    itself), exactly as if each had been run alone. Padding is a separate trailing block.
    The model must run with ``use_cache=False`` (with a cache, transformers ignores packing).
    """
    import torch

    width = max(sum(len(e) for e in row) for row in rows)
    ids, labels, pos, mask = [], [], [], []
    for row in rows:
        r_ids = [t for e in row for t in e.input_ids]
        r_lab = [t for e in row for t in e.labels]
        r_pos = [p for e in row for p in range(len(e))]
        n_pad = width - len(r_ids)
        ids.append(r_ids + [pad_id] * n_pad)
        labels.append(r_lab + [IGNORE] * n_pad)
        pos.append(r_pos + list(range(n_pad)))
        mask.append([1] * len(r_ids) + [0] * n_pad)
    batch: dict[str, Any] = {
        "input_ids": torch.tensor(ids),
        "labels": torch.tensor(labels),
        "position_ids": torch.tensor(pos),
    }
    if not packed:
        batch["attention_mask"] = torch.tensor(mask)
    batch["num_tokens"] = int(sum(mask_row.count(1) for mask_row in mask))
    return batch


def make_rows(examples: Sequence[Example], *, seed: int, packing: bool, max_len: int) -> list[list[Example]]:
    """Training rows: one conversation each, or (packing) several packed in a seeded order.
    Built once, so every epoch has the same number of rows."""
    if not packing:
        return [[e] for e in examples]
    order = list(examples)
    random.Random(seed).shuffle(order)
    return pack(order, max_len)


def epoch_order(
    rows: Sequence[list[Example]],
    *,
    seed: int,
    epoch: int,
    weights: dict[str, float] | None = None,
    take: int | None = None,
) -> list[list[Example]]:
    """The rows of one epoch in a seeded order (a pure function of its arguments).

    With ``weights`` (task type → weight, 1 when not named) and ``take`` below the row count (the
    rows the step budget leaves this epoch), the first ``take`` rows are drawn without
    replacement with those weights (Efraimidis-Spirakis keys: ``u ** (1 / w)``, the largest
    kept), in the shuffled order; the rows not drawn follow. A row's weight is its
    conversations' mean. A whole epoch still sees every row once, whatever the weights."""
    order = list(rows)
    rng = random.Random(seed * 1_000_003 + epoch + 1)
    rng.shuffle(order)
    if not weights or take is None or take >= len(order):
        return order
    keys = [rng.random() ** (len(row) / sum(weights.get(e.group, 1.0) for e in row)) for row in order]
    drawn = set(sorted(range(len(order)), key=lambda i: -keys[i])[:take])
    return [order[i] for i in range(len(order)) if i in drawn] + [
        order[i] for i in range(len(order)) if i not in drawn
    ]


def batches(rows: Sequence[list[Example]], batch_size: int) -> Iterator[Sequence[list[Example]]]:
    for i in range(0, len(rows), batch_size):
        yield rows[i : i + batch_size]
