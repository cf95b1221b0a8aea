"""Typed, versioned episode traces: one JSON object per finished episode in ``traces.jsonl``.

Appending is crash-safe: each record is one ``write`` of a full line followed by ``fsync``; a
reader ignores (and the writer truncates) a torn last line left by a killed process, so a
resumed run neither loses nor duplicates an episode.

Any other line that cannot be read (not UTF-8, not JSON, not a valid record, a second record of
a game already read) is counted by :func:`load_traces`; a resume moves such lines aside to
``traces.unreadable.jsonl`` (:func:`set_aside`) and the reports say how many there were. A record
of a trace version this harness does not know stops the run (:class:`TraceVersionError`).

Version 2 added ``timeout`` to ``StepTrace.kind`` and ``EpisodeTrace.ended``: a reply cut off
by ``--timeout`` is an infrastructure failure, kept apart from the model's parse failures.
``host`` and ``template`` are optional fields added within version 2 (older records lack them).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from harness.errors import HarnessError

TRACE_VERSION = 2
KNOWN_VERSIONS = (1, 2)
UNREADABLE = "traces.unreadable.jsonl"
"""Where a resume moves the lines of traces.jsonl it could not read."""


class TraceVersionError(HarnessError):
    """traces.jsonl holds records of a version this harness does not read."""


class StepTrace(BaseModel):
    """One turn of an episode."""

    index: int
    """0-based turn number (thoughts count as steps, as in ReAct)."""
    assistant: str
    """The model's raw reply."""
    kind: Literal["think", "command", "invalid", "timeout"]
    """How the reply was read: a thought, a command, unparseable, or cut off by the reply timeout."""
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
    host: str | None = None
    """The server that played the episode, in a pool of hosts (``--host``); None otherwise."""
    template: str | None = None
    """Which chat template rendered the prompt, where the backend says (the openai backend)."""
    mode: str = "finetuned"
    """Prompt mode: ``finetuned`` or ``fewshot``."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Generation options (temperature, seed, num_predict, stop …)."""
    max_steps: int = 50
    """Step limit of the episode."""
    won: bool = False
    """The goal was reached."""
    ended: Literal["won", "max_steps", "model_stopped", "error", "timeout"] = "max_steps"
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


@dataclass
class TraceFile:
    """What :func:`load_traces` found in a traces file."""

    traces: list[EpisodeTrace] = field(default_factory=list)
    """Every readable record, first occurrence of each game, in file order."""
    good: list[bytes] = field(default_factory=list)
    """The raw lines of ``traces``."""
    bad: list[tuple[int, str, bytes]] = field(default_factory=list)
    """(line number, why, raw line) of each complete line that could not be used."""
    torn: bool = False
    """The file ends in a partial line (a killed writer); it is ignored."""

    def summary(self) -> str:
        whys: dict[str, int] = {}
        for _, why, _ in self.bad:
            whys[why] = whys.get(why, 0) + 1
        return ", ".join(f"{n} {why}" for why, n in whys.items())


def load_traces(path: str | Path) -> TraceFile:
    """Read a traces file, counting the lines it cannot use; raises :class:`TraceVersionError`
    for a record of an unknown version (a newer harness wrote it)."""
    p = Path(path)
    out = TraceFile()
    if not p.exists():
        return out
    try:
        data = p.read_bytes()
    except OSError as e:
        raise HarnessError(f"{p}: cannot read the traces ({e.strerror})") from None
    lines = data.split(b"\n")
    if lines and lines[-1]:
        out.torn = True  # torn write from a killed run
    seen: set[str] = set()
    for n, raw in enumerate(lines[:-1], 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            out.bad.append((n, "not UTF-8", raw))
            continue
        except ValueError:
            out.bad.append((n, "not JSON", raw))
            continue
        version = obj.get("version") if isinstance(obj, dict) else None
        if isinstance(version, int) and version not in KNOWN_VERSIONS:
            raise TraceVersionError(
                f"{p}:{n}: trace version {version}, this harness reads versions "
                f"{', '.join(map(str, KNOWN_VERSIONS))}; use the harness that wrote it, or another --out"
            )
        try:
            trace = EpisodeTrace.model_validate(obj)
        except ValidationError:
            out.bad.append((n, "invalid record", raw))
            continue
        if trace.game_id in seen:
            out.bad.append((n, "duplicate game", raw))
            continue
        seen.add(trace.game_id)
        out.traces.append(trace)
        out.good.append(raw)
    return out


def read_traces(path: str | Path) -> list[EpisodeTrace]:
    """Every readable record of a traces file (a torn last line and unreadable lines are left
    out; :func:`load_traces` counts them)."""
    return load_traces(path).traces


def set_aside(path: str | Path, found: TraceFile) -> int:
    """Move the unreadable lines of ``path`` (as found by :func:`load_traces`) to
    ``traces.unreadable.jsonl`` beside it, keeping the readable ones; returns how many moved."""
    from harness._util.atomic import atomic_write_bytes

    if not found.bad:
        return 0
    p = Path(path)
    aside = p.with_name(UNREADABLE)
    fd = os.open(aside, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"".join(raw + b"\n" for _, _, raw in found.bad))
        os.fsync(fd)
    finally:
        os.close(fd)
    atomic_write_bytes(p, b"".join(raw + b"\n" for raw in found.good))
    return len(found.bad)


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
