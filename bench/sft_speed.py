"""Training throughput: the plain Hugging Face loop vs train.sft's loop, side by side, on the same
conversations, model and machine. Prints tokens/s for each and the ratio.

    python bench/sft_speed.py --base runs/smollm2-135m-react/base --data data/smollm2-react --steps 3

- plain: what a straightforward HF script does: micro-batches of ``--plain-batch`` conversations
  in data order, padded to the longest, ``model(input_ids, attention_mask, labels)`` (logits and
  loss at every position).
- train.sft: one conversation per micro-batch (no padding), the output head and the loss only at
  supervised (assistant) positions (``causal_lm_loss``), and the tokens all 8 conversations of a
  step start with (system prompt, start of the first user turn) run once per step
  (``accumulate``, ``shared_prefix: true``), and a trained input embedding's gradient taken once
  per step. ``--each-lever`` also times the loop with the levers added one at a time.
Both do forward + backward + AdamW steps of 8 conversations, fp32, on the threads torch uses by
default. Counted tokens are the real (unpadded) tokens, so the figures compare like for like.
``--compile`` adds a third loop: train.sft's on ``torch.compile(model, dynamic=True)``.
``--bf16`` adds train.sft's loop under bf16 autocast (fp32 weights, bf16 matrix products: what
``bf16: if_faster`` picks on a CPU where ``train.sft_model.cpu_bf16_pays`` says it pays; the
verdict of that timing is printed too). The plain loop stays fp32, as a plain script's would.
The base is any HF checkpoint, e.g. the one ``train.import_gguf`` makes from SmolLM2's GGUF.
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from train.sft_data import build_examples, collate, dataset_file, load_conversations
from train.sft_step import accumulate, causal_lm_loss, shared_prefix_len


def run(model, groups, step_fn, steps: int) -> float:
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    tokens, seconds = 0, 0.0
    for i in range(steps + 1):  # the first step warms up and is not counted
        t0 = time.perf_counter()
        n = step_fn(groups[i % len(groups)])
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i:
            tokens += n
            seconds += time.perf_counter() - t0
    return tokens / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="HF checkpoint folder")
    ap.add_argument("--data", required=True, help="folder written by 'harness data'")
    ap.add_argument("--steps", type=int, default=3, help="optimizer steps measured per loop")
    ap.add_argument("--accum", type=int, default=8, help="conversations per optimizer step")
    ap.add_argument("--plain-batch", type=int, default=4, help="conversations per padded micro-batch")
    ap.add_argument(
        "--compile",
        action="store_true",
        help="also time train.sft's loop on torch.compile(model, dynamic=True); "
        "its first (compiling) step is not counted, as in every loop",
    )
    ap.add_argument(
        "--each-lever",
        action="store_true",
        help="also time train.sft's loop lever by lever: one conversation per micro-batch with the "
        "head at supervised positions, then the embedding gradient once per step",
    )
    ap.add_argument(
        "--bf16",
        action="store_true",
        help="also time train.sft's loop under bf16 autocast (what bf16: if_faster picks where it pays)",
    )
    a = ap.parse_args()

    tok = AutoTokenizer.from_pretrained(a.base)
    convs = load_conversations(dataset_file(a.data, "react_train_sharegpt"))[: a.accum * (a.steps + 1)]
    examples = build_examples(tok, convs, 2048)
    groups = [examples[i : i + a.accum] for i in range(0, len(examples), a.accum)]
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    model = AutoModelForCausalLM.from_pretrained(a.base, dtype=torch.float32)
    model.config.use_cache = False
    model.train()

    def plain(group) -> int:
        n_tok = 0
        for j in range(0, len(group), a.plain_batch):
            b = collate([[e] for e in group[j : j + a.plain_batch]], pad, packed=False)
            n_tok += b.pop("num_tokens")
            b.pop("position_ids")
            model(**b, use_cache=False).loss.backward()
        return n_tok

    def ours_on(module, share_prefix: bool = True, bf16: bool = False):
        def ours(group) -> int:
            n_sup = sum(sum(x != -100 for x in e.labels[1:]) for e in group)
            batches = [collate([[e]], pad, packed=False) for e in group]
            n_tok = sum(b.pop("num_tokens") for b in batches)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                accumulate(module, batches, n_sup, share_prefix=share_prefix)
            return n_tok

        return ours

    def per_conversation(group) -> int:  # no padding, the head at supervised positions, nothing more
        n_sup = sum(sum(x != -100 for x in e.labels[1:]) for e in group)
        n_tok = 0
        for e in group:
            b = collate([[e]], pad, packed=False)
            n_tok += b.pop("num_tokens")
            causal_lm_loss(model, b, n_sup, supervised_head=True).backward()
        return n_tok

    n_tokens = sum(len(e) for e in examples)
    n_sup = sum(sum(x != -100 for x in e.labels) for e in examples)
    print(
        f"{len(examples)} conversations, {n_tokens / len(examples):.0f} tokens each, "
        f"{100 * n_sup / n_tokens:.1f} % supervised; torch threads {torch.get_num_threads()}"
    )
    plain_tps = run(model, groups, plain, a.steps)
    print(f"plain HF loop (batch {a.plain_batch}, padded, full logits): {plain_tps:7.1f} tokens/s")
    if a.each_lever:
        for label, loop in (
            ("one conversation per micro-batch, head at supervised positions", per_conversation),
            ("+ the input embedding's gradient once per step", ours_on(model, share_prefix=False)),
        ):
            tps = run(model, groups, loop, a.steps)
            print(f"{label}: {tps:7.1f} tokens/s (ratio {tps / plain_tps:.2f}x)")
    prefix = shared_prefix_len([collate([[e]], pad, packed=False) for e in groups[0]])
    ours_tps = run(model, groups, ours_on(model), a.steps)
    print(
        "train.sft loop (no padding, head at supervised positions, embedding gradient once per "
        f"step, shared prefix of {prefix} tokens in the first step): {ours_tps:7.1f} tokens/s"
    )
    print(f"ratio: {ours_tps / plain_tps:.2f}x")
    if a.bf16:
        from train.sft_model import cpu_bf16_pays

        pays, timing = cpu_bf16_pays()
        bf16_tps = run(model, groups, ours_on(model, bf16=True), a.steps)
        print(f"train.sft loop under bf16 autocast: {bf16_tps:7.1f} tokens/s")
        print(
            f"ratio: {bf16_tps / plain_tps:.2f}x ({bf16_tps / ours_tps:.2f}x fp32); bf16: if_faster "
            f"would {'take' if pays else 'not take'} it here ({timing})"
        )
    if a.compile:
        compiled_tps = run(model, groups, ours_on(torch.compile(model, dynamic=True)), a.steps)
        print(f"train.sft loop on torch.compile (dynamic shapes): {compiled_tps:7.1f} tokens/s")
        print(f"ratio: {compiled_tps / plain_tps:.2f}x ({compiled_tps / ours_tps:.2f}x eager)")


if __name__ == "__main__":
    main()
