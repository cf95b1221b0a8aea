"""Built-in policies that speak through the full ReAct protocol: ``expert`` (the planner: the
ceiling, must win every solvable game) and ``random`` (a uniformly random admissible command:
the floor). They register exactly like model backends."""

from __future__ import annotations

import random

from harness.backends.base import BackendError, ChatOptions, ChatResult, EpisodeContext
from harness.backends.registry import register_backend


def _result(text: str) -> ChatResult:
    return ChatResult(text=text, done_reason="stop")


class ExpertPolicy:
    """Replays the planner's turns (thoughts and commands) one reply at a time."""

    name = "expert"

    def __init__(self, model: str = "expert") -> None:
        self.model = model or "expert"
        self._turns: list[str] = []

    def digest(self) -> str | None:
        return None

    def begin_episode(self, ctx: EpisodeContext) -> None:
        from harness.world.expert import ExpertFailed, solve

        try:
            self._turns = [s.text for s in solve(ctx.game.world, text_format=ctx.text_format)]
        except ExpertFailed as e:
            raise BackendError(f"expert cannot solve {ctx.game_id}: {e}") from None

    def chat(self, messages: list[dict[str, str]], options: ChatOptions) -> ChatResult:
        if not self._turns:
            return _result("look")
        return _result(self._turns.pop(0))


class RandomPolicy:
    """A uniformly random admissible command, seeded per episode."""

    name = "random"

    def __init__(self, model: str = "random", seed: int = 0) -> None:
        self.model = model or "random"
        self.seed = seed
        self._game = None
        self._rng = random.Random(seed)

    def digest(self) -> str | None:
        return None

    def begin_episode(self, ctx: EpisodeContext) -> None:
        self._game = ctx.game
        self._rng = random.Random(f"{self.seed}:{ctx.game_id}")

    def chat(self, messages: list[dict[str, str]], options: ChatOptions) -> ChatResult:
        if self._game is None:
            raise BackendError("the random policy needs an episode (begin_episode)")
        return _result(self._rng.choice(self._game.admissible_commands()))


@register_backend("expert", policy=True)
def _expert(model: str = "", **kwargs) -> ExpertPolicy:
    return ExpertPolicy(model=model)


@register_backend("random", policy=True)
def _random(model: str = "", seed: int = 0, **kwargs) -> RandomPolicy:
    return RandomPolicy(model=model, seed=seed)
