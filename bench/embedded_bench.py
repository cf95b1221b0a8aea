"""Measure the embedded (llama.cpp) backend inside the episode runner.

    python bench/embedded_bench.py [--model smollm2] [--suite synthetic-smoke] [--limit 6]
                                   [--max-steps 20] [--mode fewshot]

Prints, over the episodes played:
* prompt tokens actually evaluated ÷ unique tokens of the episode (the whole final
  conversation), per episode and overall: 1.0 means every token was evaluated once
  (perfect KV-prefix reuse); recomputing every prompt from scratch gives ~steps/2;
* harness overhead: share of wall time spent outside the backend call (environment, protocol,
  parsing, bookkeeping);
* episodes per minute, steps per second, generation tokens per second.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from harness.agent.fewshot import examples_for
from harness.agent.protocol import REPLY_STOPS
from harness.backends.base import ChatOptions
from harness.backends.resolve import DEFAULT_MODEL, ensure_default_model, open_model
from harness.bench.runner import RunConfig, run_suite
from harness.bench.suites import load_suite


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--suite", default="synthetic-smoke")
    ap.add_argument("--limit", type=int, default=6)
    ap.add_argument("--max-steps", type=int, default=20)
    ap.add_argument("--mode", default="fewshot", choices=["fewshot", "finetuned"])
    args = ap.parse_args()
    if args.model == DEFAULT_MODEL:
        ensure_default_model()
    suite = load_suite(args.suite)
    cfg = RunConfig(
        suite=suite.name,
        model=args.model,
        backend="llamacpp",
        mode=args.mode,
        max_steps=args.max_steps,
        limit=args.limit,
        options=ChatOptions(num_predict=64, stop=list(REPLY_STOPS)),
    )
    examples = (lambda t: list(examples_for(t, suite.text_format))) if args.mode == "fewshot" else None
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        traces = run_suite(suite, lambda: open_model(args.model, "llamacpp"), cfg, out, examples_for=examples)
        wall = time.perf_counter() - t0
    ratios = []
    evaluated = unique = 0
    for t in traces:
        steps = [s for s in t.steps if s.prompt_tokens is not None]
        if not steps:
            continue
        ev = sum(s.prompt_eval_count or 0 for s in steps)
        un = (steps[-1].prompt_tokens or 0) + (steps[-1].eval_count or 0)
        ratios.append(ev / un)
        evaluated += ev
        unique += un
    harness_s = sum(t.harness_s for t in traces)
    n_steps = sum(len(t.steps) for t in traces)
    gen = sum(s.eval_count or 0 for t in traces for s in t.steps)
    gen_s = sum(s.eval_duration_s or 0 for t in traces for s in t.steps)
    print(
        f"{len(traces)} episodes, {n_steps} steps, {wall:.1f} s wall ({args.model}, {args.mode}, {suite.name})"
    )
    print(
        f"prompt tokens evaluated / unique tokens: {evaluated / unique:.3f} overall, "
        f"per episode median {statistics.median(ratios):.3f}, max {max(ratios):.3f}"
    )
    print(f"harness overhead: {100 * harness_s / sum(t.wall_s for t in traces):.2f} % of episode wall time")
    print(f"episodes per minute: {60 * len(traces) / wall:.2f}; steps per second: {n_steps / wall:.2f}")
    if gen_s:
        print(f"generation: {gen / gen_s:.1f} tokens/s")


if __name__ == "__main__":
    main()
