"""Moved to :mod:`harness.world`; this name stays so that ``from harness.env import load_game``
keeps working. New code imports from ``harness.world``."""

from harness import world as _world
from harness.world import *  # noqa: F403

__all__ = _world.__all__
