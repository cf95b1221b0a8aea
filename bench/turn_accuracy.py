"""Teacher-forced turn accuracy: on held-out expert conversations, how many of the model's
greedy next tokens reproduce each assistant turn exactly, by kind of turn. Where a model's
decisions go wrong before any episode is played (``think: No X so far`` read as ``go``, a note
for later left out, a find claimed), without the noise of whole episodes.

    python bench/turn_accuracy.py runs/smollm2-135m-react/model data/smollm2-react --limit 60

On games the model never trained on, with the notes for later left out (the recall from the
observation that a model writing no notes needs), look and pick-two only:

    harness data --suite alfworld-valid-seen --out data/valid-seen-unnoted --test-fraction 0 --unnoted 1
    python bench/turn_accuracy.py runs/smollm2-135m-react/model data/valid-seen-unnoted \
        --dataset react_train_sharegpt --task-type look_at_obj_in_light --task-type pick_two_obj_and_place

Each conversation runs once through the HF checkpoint (fp32, 2 threads by default); a turn counts
as right when the argmax at every one of its label positions (its text and end-of-turn token) is
the label. Kinds: the first words of the expert's turn (``find`` = "think: Now I find", ``no so
far`` = "think: No …", ``note`` = "think: I also see", ``recall`` = "think: I saw", ``list`` =
"think: First I need to find", other thoughts; commands by verb; a find whose "here:" slot
names an object needed later, or none, is ``find, here: X`` or ``find, here: none``). Prints a
table and the first wrong turns: what the expert wrote, what the model's argmax wrote, and the
observation before.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from train.sft_data import assistant_spans, dataset_file, load_records, record_messages

KINDS = (
    ("think: Now I find", "find"),
    ("think: No ", "no so far"),
    ("think: I also see", "note"),
    ("think: I saw", "recall"),
    ("think: First I need to find", "list"),
    ("think:", "other thought"),
)


def kind(text: str) -> str:
    if text.startswith("think: Now I find") and " here: " in text:  # a find with the later slot
        return "find, here: none" if " here: none." in text else "find, here: X"
    return next((k for prefix, k in KINDS if text.startswith(prefix)), text.split(" ", 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="an HF checkpoint folder (e.g. runs/smollm2-135m-react/model)")
    ap.add_argument("data", help="an exported data folder (e.g. data/smollm2-react)")
    ap.add_argument(
        "--dataset", default="react_test_sharegpt", help="which file of it (default: the test split)"
    )
    ap.add_argument("--limit", type=int, default=60, help="conversations (default 60)")
    ap.add_argument(
        "--task-type", action="append", default=[], help="only conversations of this task type (repeatable)"
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--show", type=int, default=20, help="wrong turns to print")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32).eval()
    records = load_records(dataset_file(a.data, a.dataset))
    if a.task_type:
        records = [r for r in records if r.get("task_type") in a.task_type]
    convs = [record_messages(r) for r in records[: a.limit]]
    right: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong = []
    for msgs in convs:
        text, spans = assistant_spans(tok, msgs)
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        with torch.no_grad():
            pred = model(torch.tensor([ids])).logits[0].argmax(-1).tolist()
        # the turns assistant_spans returns spans for: supervised ones (not a record's slips)
        turns = [
            (i, m) for i, m in enumerate(msgs) if m["role"] == "assistant" and m.get("train") is not False
        ]
        for (a_, b_), (i, m) in zip(spans, turns, strict=True):
            pos = [t for t, (x, y) in enumerate(offsets) if a_ <= x < b_ and y > x]
            if not pos:
                continue
            ok = all(pred[t - 1] == ids[t] for t in pos)
            k = kind(m["content"])
            right[k][0] += ok
            right[k][1] += 1
            if not ok:
                got = tok.decode([pred[t - 1] for t in pos])
                wrong.append((k, m["content"], got, msgs[i - 1]["content"]))
    total = [sum(v[0] for v in right.values()), sum(v[1] for v in right.values())]
    print(
        f"{len(convs)} conversations, {total[1]} assistant turns, {total[0]} exact ({100 * total[0] / max(1, total[1]):.1f} %)"
    )
    print(f"{'kind':16s} {'exact':>7s} {'turns':>6s}")
    for k, (ok, n) in sorted(right.items(), key=lambda kv: -kv[1][1]):
        print(f"{k:16s} {ok:7d} {n:6d}")
    for k, want, got, obs in wrong[: a.show]:
        print(f"\n[{k}] after: {obs[:100]!r}\n  expert: {want[:100]!r}\n  model:  {got[:100]!r}")


if __name__ == "__main__":
    main()
