"""Few-shot examples: two games of the same task type solved by the expert (thoughts
included, as in the ReAct paper's prompts), played out as earlier chat turns by
``harness.agent.protocol.build_messages``. They come from synthetic seeds reserved for examples, so
they never overlap an evaluation suite and need no download."""

from __future__ import annotations

import functools

from harness.agent.protocol import Demo

EXAMPLE_SEED_BASE = 900_000_000


@functools.lru_cache(maxsize=32)
def examples_for(task_type: str, text_format: str = "2.1.1", k: int = 2) -> tuple[Demo, ...]:
    """``k`` solved examples of ``task_type`` (deterministic)."""
    from harness.world.expert import ExpertFailed, solve
    from harness.world.game import Game
    from harness.world.generator import generate_world

    out: list[Demo] = []
    seed = EXAMPLE_SEED_BASE
    while len(out) < k:
        world = generate_world(task_type, seed)
        seed += 1
        intro = Game(world, text_format=text_format).reset()
        try:
            steps = solve(world, text_format=text_format)
        except ExpertFailed:
            continue
        if len(steps) > 20:  # keep prompts short: prefer compact demonstrations
            continue
        out.append((intro, [(s.text, s.observation) for s in steps]))
    return tuple(out)
