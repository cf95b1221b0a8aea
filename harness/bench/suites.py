"""Scenario suites: which games a run plays, declared in ``scenarios/*.yaml``.

A suite names its games either as an ALFWorld split under ``$ALFWORLD_DATA`` or as seeded
synthetic scenes, and sets the episode limits::

    name: alfworld-valid-seen
    source: alfworld          # or: synthetic
    split: valid_seen         # alfworld only
    # seed: 0                 # synthetic only
    # per_task_type: 25       # synthetic only
    max_steps: 50
    text_format: "2.1.1"      # or "0.4" (move X to Y / You arrive at Y.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.errors import SuiteError
from harness.world.game import Game
from harness.world.world import TASK_TYPES, World


class Suite(BaseModel):
    """One suite file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    source: Literal["alfworld", "synthetic"]
    split: Literal["train", "valid_seen", "valid_unseen"] | None = None
    seed: int = 0
    per_task_type: int = Field(default=2, ge=1)
    goals: Literal["observed", "alfred"] = "observed"
    """Synthetic only: where the goals come from (``harness.world.generator.GOAL_SOURCES``)."""
    task_types: list[str] = Field(default_factory=lambda: list(TASK_TYPES))
    limit: int | None = Field(default=None, ge=1)
    game_ids: list[str] | None = None
    """Only these game ids (kept in suite order); ``harness bench --games FILE`` sets it."""
    max_steps: int = Field(default=50, ge=1)
    text_format: Literal["2.1.1", "0.4"] = "2.1.1"

    @model_validator(mode="after")
    def _check(self) -> Suite:
        if self.source == "alfworld" and self.split is None:
            raise ValueError("an alfworld suite needs 'split' (train, valid_seen or valid_unseen)")
        if self.source == "alfworld" and self.goals != "observed":
            raise ValueError("'goals' is for synthetic suites: an alfworld game's goal is its own")
        unknown = [t for t in self.task_types if t not in TASK_TYPES]
        if unknown:
            raise ValueError(f"unknown task type(s) {', '.join(unknown)} (known: {', '.join(TASK_TYPES)})")
        return self

    def games(self, data_dir: str | Path | None = None) -> list[SuiteGame]:
        """The suite's games in a stable order (raises DataDirError for a missing ALFWORLD_DATA)."""
        out: list[SuiteGame] = []
        if self.source == "alfworld":
            from harness.world.loader import alfworld_data_dir, discover_games

            root = Path(data_dir) if data_dir is not None else alfworld_data_dir()
            for p in discover_games(self.split or "", root):
                task_type = p.parent.parent.name.split("-", 1)[0]
                if task_type in self.task_types:
                    out.append(SuiteGame(str(p.relative_to(root / "json_2.1.1").parent), task_type, path=p))
        else:
            # round-robin over task types, so that --limit K still covers every type
            for i in range(self.per_task_type):
                for t in self.task_types:
                    seed = self.seed * 1_000_003 + i
                    name = f"synthetic/{t}/{seed}" + ("" if self.goals == "observed" else f"/{self.goals}")
                    out.append(SuiteGame(name, t, seed=seed, goals=self.goals))
        if self.game_ids is not None:
            wanted = set(self.game_ids)
            missing = sorted(wanted - {e.id for e in out})
            if missing:
                more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
                raise SuiteError(f"suite {self.name} has no game {missing[0]}{more}")
            out = [e for e in out if e.id in wanted]
        return draw(out, self.limit)

    def game(self, entry: SuiteGame) -> Game:
        return Game(entry.world(), text_format=self.text_format, max_steps=self.max_steps)


@dataclass(frozen=True)
class SuiteGame:
    """One game of a suite: an ALFWorld file or a synthetic (task type, seed)."""

    id: str
    task_type: str
    path: Path | None = None
    seed: int | None = None
    goals: str = "observed"

    def world(self) -> World:
        if self.path is not None:
            from harness.world.loader import load_world

            return load_world(self.path)
        from harness.world.generator import generate_world

        return generate_world(self.task_type, self.seed or 0, self.goals)


def draw(entries: list[SuiteGame], limit: int | None) -> list[SuiteGame]:
    """``limit`` games taken round-robin over task types (each type's games in suite order), so
    that a quick run is a fair sample; all of them, in suite order, without a limit. Synthetic
    suites are already interleaved, so for them this is the first ``limit`` games."""
    if not limit or limit >= len(entries):
        return list(entries)
    by_type: dict[str, list[SuiteGame]] = {}
    for e in entries:
        by_type.setdefault(e.task_type, []).append(e)
    picked: list[SuiteGame] = []
    for i in range(max(len(v) for v in by_type.values())):
        for games in by_type.values():
            if i < len(games):
                picked.append(games[i])
    return picked[:limit]


DRAW_RULE = "round-robin over task types, suite order within a type"


def scenario_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("HARNESS_SCENARIOS"):
        dirs.append(Path(os.environ["HARNESS_SCENARIOS"]))
    from harness._util.resources import shipped_dir

    if (shipped := shipped_dir("scenarios")) is not None:
        dirs.append(shipped)
    dirs.append(Path.cwd() / "scenarios")
    return [d for i, d in enumerate(dirs) if d.is_dir() and d not in dirs[:i]]


def available_suites() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in scenario_dirs():
        for p in sorted(d.glob("*.yaml")):
            found.setdefault(p.stem, p)
    return found


def load_suite_file(path: str | Path) -> Suite:
    from harness._util.yamlfile import load_model

    return load_model(path, Suite, "suite", SuiteError, defaults={"name": Path(path).stem})


def read_game_ids(path: str | Path) -> list[str]:
    """Game ids from a text file, one per line (blank lines and ``#`` comments skipped), e.g. the
    lost games of a run: ``jq -r 'select(.won|not).game_id' runs/X/traces.jsonl > lost.txt``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SuiteError(f"{path}: cannot read the game list ({e.__class__.__name__}: {e})") from e
    ids = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    ids = [i for i in ids if i]
    if not ids:
        raise SuiteError(f"{path}: no game ids (one per line)")
    return list(dict.fromkeys(ids))


def load_suite(name_or_path: str) -> Suite:
    """A suite by name (``synthetic-smoke``) or by path to a YAML file."""
    if name_or_path.endswith((".yaml", ".yml")) or os.sep in name_or_path:
        return load_suite_file(name_or_path)
    suites = available_suites()
    if name_or_path not in suites:
        known = ", ".join(sorted(suites)) or "none found"
        raise SuiteError(f"unknown suite {name_or_path!r} (known: {known}); see 'harness suites'")
    return load_suite_file(suites[name_or_path])


def iter_games(suite: Suite) -> Iterator[tuple[SuiteGame, Game]]:
    for entry in suite.games():
        yield entry, suite.game(entry)
