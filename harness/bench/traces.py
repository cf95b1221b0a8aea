"""Typed, versioned episode traces: one JSON object per finished episode in ``traces.jsonl``.

Appending is crash-safe: each record is one ``write`` of a full line followed by ``fsync``; a
reader ignores (and the writer truncates) a torn last line left by a killed process, so a
resumed run neither loses nor duplicates an episode.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

TRACE_VERSION = 1


class StepTrace(BaseModel):
    """One turn of an episode."""

    index: int
    """0-based turn number (thoughts count as steps, as in ReAct)."""
    assistant: str
    """The model's raw reply."""
    kind: Literal["think", "command", "invalid"]
    """How the reply was read: a thought, a command, or unparseable."""
    command: str | None = None
    """The normalized command sent to the environment (None for thoughts and invalid replies)."""
    parse_error: str | None = None
    """Why the reply could not be read, for ``invalid``."""
    observation: str
    """What the environment (or the protocol: ``OK.`` after a thought) answered."""
    admissible: bool = False
    """The environment accepted the command."""
    won: bool = False
    """The goal held after this step."""
    prompt_tokens: int | None = None
    """Tokens in the whole prompt of this turn."""
    prompt_eval_count: int | None = None
    """Prompt tokens the backend actually evaluated (cache misses)."""
    eval_count: int | None = None
    """Tokens generated."""
    latency_s: float = 0.0
    """Wall-clock seconds of the backend call (including retries)."""
    eval_duration_s: float | None = None
    """Backend-reported generation time."""
    done_reason: str | None = None
    """Why generation stopped: ``stop``, ``length``, ``timeout``."""
    retries: int = 0
    """Transient errors retried for this turn."""


class EpisodeTrace(BaseModel):
    """One episode: what was played, by what, and how it went."""

    version: int = TRACE_VERSION
    """Trace format version."""
    game_id: str
    """Suite-relative game id (ALFWorld path or ``synthetic/<task>/<seed>``)."""
    task_type: str
    """One of ALFWorld's six task types."""
    task: str
    """The task sentence."""
    suite: str
    """The scenario suite."""
    model: str
    """Model name as given to the backend."""
    backend: str
    """Backend name (``ollama``, ``llamacpp``, ``expert`` …)."""
    model_digest: str | None = None
    """Content hash of the model, when the backend knows it."""
    mode: str = "finetuned"
    """Prompt mode: ``finetuned`` or ``fewshot``."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Generation options (temperature, seed, num_predict, stop …)."""
    max_steps: int = 50
    """Step limit of the episode."""
    won: bool = False
    """The goal was reached."""
    ended: Literal["won", "max_steps", "model_stopped", "error"] = "max_steps"
    """Why the episode ended."""
    error: str | None = None
    """The error that ended the episode early, if any."""
    steps: list[StepTrace] = Field(default_factory=list)
    """Every turn in order."""
    subgoals: list[str] = Field(default_factory=list)
    """The goal's subgoals (object seen, picked, transformed, placed, lamp used …)."""
    subgoals_reached: list[str] = Field(default_factory=list)
    """Subgoals reached at any point of the episode."""
    expert_steps: int | None = None
    """Steps the expert needs on this game (for efficiency)."""
    wall_s: float = 0.0
    """Wall-clock seconds for the whole episode."""
    harness_s: float = 0.0
    """Seconds spent outside the backend (environment, parsing, bookkeeping)."""

    @property
    def progress(self) -> float:
        if self.won:
            return 1.0
        return len(self.subgoals_reached) / len(self.subgoals) if self.subgoals else 0.0


def read_traces(path: str | Path) -> list[EpisodeTrace]:
    """Every complete record of a traces file (a torn last line is ignored)."""
    p = Path(path)
    if not p.exists():
        return []
    out = []
    with open(p, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # torn write from a killed run
            try:
                out.append(EpisodeTrace.model_validate_json(line))
            except ValueError:
                continue
    return out


class TraceWriter:
    """Appends episodes to ``traces.jsonl``; repairs a torn tail first."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()

    def _repair(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data[: data.rfind(b"\n") + 1]
            with open(self.path, "r+b") as fh:
                fh.truncate(len(keep))
                fh.flush()
                os.fsync(fh.fileno())

    def append(self, ep: EpisodeTrace) -> None:
        line = (json.dumps(ep.model_dump(mode="json"), ensure_ascii=False) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
