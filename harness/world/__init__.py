"""ALFWorld's text world without TextWorld: load real ``game.tw-pddl`` files (or synthetic
scenes) and play them with ALFWorld's own commands and feedback.

    from harness.world import load_game
    game = load_game(path)              # a game.tw-pddl file
    first = game.reset()                # the intro TextWorld prints
    r = game.step("go to countertop 1") # r.observation, r.won, r.done
    game.admissible_commands()          # list[str]
"""

from harness.world.game import NOTHING, TEXT_FORMATS, Game, StepResult
from harness.world.loader import discover_games, load_game, load_world
from harness.world.world import SHORT_NAMES, TASK_TYPES, GoalSpec, World

__all__ = [
    "NOTHING",
    "SHORT_NAMES",
    "TASK_TYPES",
    "TEXT_FORMATS",
    "Game",
    "GoalSpec",
    "StepResult",
    "World",
    "discover_games",
    "load_game",
    "load_world",
]
