"""Small helpers shared by CLI commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UsageError
from harness.world.game import Game

if TYPE_CHECKING:
    from rich.console import Console


def log_console() -> Console:
    """The console a long command (bench, regress, diagnose) logs and draws its progress on:
    stderr, with soft wrap, so a log line stays whole where stderr is a file (rich would cut it
    at 80 columns there, splitting a long run path from the rest of its warning)."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def open_game(
    game: str | None, suite: str | None, index: int | None, text_format: str | None, max_steps: int | None
) -> tuple[str, Game]:
    """A game from ``--game PATH`` or ``--suite NAME --index K``; returns (id, game)."""
    from harness.bench.suites import load_suite
    from harness.world.loader import load_world

    if bool(game) == bool(suite):
        raise UsageError("give either --game PATH or --suite NAME (with --index K)")
    if game:
        world = load_world(Path(game))
        return game, Game(world, text_format=text_format or "2.1.1", max_steps=max_steps)
    assert suite is not None
    s = load_suite(suite)
    entries = s.games()
    k = index or 0
    if not 0 <= k < len(entries):
        raise UsageError(
            f"--index {k} is out of range: suite {s.name} has {len(entries)} games (0..{len(entries) - 1})"
        )
    entry = entries[k]
    return entry.id, Game(
        entry.world(), text_format=text_format or s.text_format, max_steps=max_steps or s.max_steps
    )
