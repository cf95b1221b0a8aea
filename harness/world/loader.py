"""Find and load ALFWorld games the way ALFWorld does."""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.errors import DataDirError
from harness.world.game import Game
from harness.world.pddl import read_game_file
from harness.world.world import World

ALFWORLD_SPLITS = ("train", "valid_seen", "valid_unseen")


def load_world(path: str | Path) -> World:
    parsed, _ = read_game_file(path)
    return World.from_parsed(parsed)


def load_game(path: str | Path, *, text_format: str = "2.1.1", max_steps: int | None = None) -> Game:
    """Load a ``game.tw-pddl`` file. Raises ``GameFileError`` with a one-line reason."""
    return Game(load_world(path), text_format=text_format, max_steps=max_steps)


def alfworld_data_dir(env: dict[str, str] | None = None) -> Path:
    """``$ALFWORLD_DATA``, checked to exist."""
    value = (env if env is not None else os.environ).get("ALFWORLD_DATA")
    if not value:
        raise DataDirError(
            "ALFWORLD_DATA is not set: point it at the folder holding json_2.1.1/ "
            "(e.g. export ALFWORLD_DATA=~/.cache/alfworld, as alfworld-download lays it out)"
        )
    p = Path(value).expanduser()
    if not (p / "json_2.1.1").is_dir():
        raise DataDirError(
            f"ALFWORLD_DATA={value} has no json_2.1.1/ folder: run alfworld-download or fix the path"
        )
    return p


def discover_games(split: str, data_dir: str | Path | None = None) -> list[Path]:
    """Solvable games of a split, sorted: ``$ALFWORLD_DATA/json_2.1.1/<split>/**/game.tw-pddl``,
    skipping paths with ``movable`` or ``Sliced`` and games marked unsolvable."""
    root = Path(data_dir) if data_dir is not None else alfworld_data_dir()
    split_dir = root / "json_2.1.1" / split
    if not split_dir.is_dir():
        raise DataDirError(f"{split_dir} does not exist (splits: {', '.join(ALFWORLD_SPLITS)})")
    games = []
    for p in sorted(split_dir.rglob("game.tw-pddl")):
        rel = str(p.relative_to(root))
        if "movable" in rel or "Sliced" in rel:
            continue
        try:
            with open(p, "rb") as fh:
                head = fh.read()
            if not json.loads(head).get("solvable", False):
                continue
        except (OSError, ValueError):
            continue
        games.append(p)
    return games
