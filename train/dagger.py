"""DAgger: on-policy training data. The trained model plays the training games; wherever it
leaves the expert's path, the expert plans from the state the model reached and its
continuation becomes a training conversation.

    harness data --suite alfworld-train --out data/dagger --dagger smollm2-react:q8_0
    harness data --suite alfworld-train --out data/dagger --dagger runs/smollm2-react-train   # traces of a bench run

Behaviour cloning only ever sees the expert's own states; once a model steps off that path
(a wrong receptacle, a useless object in hand) it has never seen how to recover. Here each
conversation is the model's own history up to a point where its next step differs from the
expert's (unsupervised: ``supervise_from`` marks where the supervised turns start), followed
by the expert's steps from that state through the win (``harness.world.expert.solve_from``,
observations replayed in the real rules). ``train.sft`` trains only on those expert turns;
LLaMA-Factory ignores ``supervise_from`` and would train on every turn.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from harness.agent.protocol import SYSTEM_PROMPT, build_messages, parse_reply
from harness.bench.suites import Suite
from harness.bench.traces import EpisodeTrace
from harness.world.expert import ExpertFailed, solve_from

log = logging.getLogger(__name__)

__all__ = ["dagger_records", "play_model"]


def _first_command(steps: list) -> str | None:
    return next((s.text for s in steps if not s.is_thought), None)


def dagger_records(
    suite: Suite,
    traces: list[EpisodeTrace],
    *,
    per_episode: int = 2,
    system: str | None = SYSTEM_PROMPT,
    games: set[str] | None = None,
) -> list[dict[str, Any]]:
    """ShareGPT records (with ``supervise_from``) for the first ``per_episode`` states of each
    traced episode where the model's command differs from the expert's next command."""
    entries = {e.id: e for e in suite.games()}
    out: list[dict[str, Any]] = []
    for trace in traces:
        entry = entries.get(trace.game_id)
        if entry is None or (games is not None and trace.game_id not in games):
            continue
        world = entry.world()
        intro = suite.game(entry).reset()
        commands: list[str] = []
        history: list[tuple[str, str]] = []
        found = 0
        for step in trace.steps:
            if step.kind != "think":
                try:
                    labels = solve_from(world, commands, text_format=suite.text_format)
                except ExpertFailed as e:
                    log.info("%s: no expert plan after %d commands (%s)", trace.game_id, len(commands), e)
                    break
                if not labels:
                    break
                if step.command != _first_command(labels):
                    continuation = [(s.text, s.observation) for s in labels]
                    msgs = build_messages(intro, history + continuation, system=system)
                    out.append(_record(msgs, trace, supervise_from=len(history)))
                    found += 1
                    if found >= per_episode:
                        break
            # as the runner keeps it: the canonical reply (raw text when unparseable); only
            # commands reach the game
            shown = (
                parse_reply(step.assistant).assistant_text
                if step.kind != "invalid"
                else step.assistant.strip()
            )
            history.append((shown, step.observation))
            if step.kind == "command" and step.command:
                commands.append(step.command)
    return out


def _record(msgs: list[dict[str, str]], trace: EpisodeTrace, supervise_from: int) -> dict[str, Any]:
    system = next((m["content"] for m in msgs if m["role"] == "system"), "")
    conv = [
        {"from": "human" if m["role"] == "user" else "gpt", "value": m["content"]}
        for m in msgs[1 if system else 0 :]
    ]
    if conv and conv[-1]["from"] == "human":
        conv.pop()
    return {
        "conversations": conv,
        "system": system,
        "game_id": trace.game_id,
        "task_type": trace.task_type,
        "supervise_from": supervise_from,
        "source": f"dagger:{trace.model}",
    }


def play_model(suite: Suite, model: str, out_dir: Path, backend: str = "auto") -> list[EpisodeTrace]:
    """Play ``model`` greedily on the suite (resumable, like ``harness bench``); returns traces.
    ``model`` may also be a bench run folder (or its traces.jsonl) to reuse its episodes."""
    from harness.bench.traces import read_traces

    path = Path(model)
    if path.is_dir() and (path / "traces.jsonl").is_file():
        return read_traces(path / "traces.jsonl")
    if path.suffix == ".jsonl" and path.is_file():
        return read_traces(path)
    from harness.backends.registry import available_backends
    from harness.backends.resolve import open_model, resolve_backend_name
    from harness.bench.runner import RunConfig, run_suite

    if backend == "auto" and model in available_backends() and model not in ("ollama", "llamacpp"):
        backend = model  # a policy (random, expert) named as the model, as `harness bench random`
    name = resolve_backend_name(model, backend)
    cfg = RunConfig(suite=suite.name, model=model, backend=name, max_steps=suite.max_steps)
    return run_suite(suite, lambda: open_model(model, name), cfg, out_dir)
