"""``scripted``: a test double that answers from a queue or a policy function, with usage
figures shaped like a real backend's."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from harness.backends.base import BackendError, ChatOptions, ChatResult, EpisodeContext
from harness.backends.registry import register_backend

Policy = Callable[[list[dict[str, str]]], str]


class ScriptedBackend:
    name = "scripted"

    def __init__(
        self, model: str = "scripted", replies: Iterable[str] | None = None, policy: Policy | None = None
    ):
        self.model = model or "scripted"
        self._queue = list(replies or [])
        self._policy = policy
        self.calls: list[list[dict[str, str]]] = []

    def begin_episode(self, ctx: EpisodeContext) -> None:
        pass

    def digest(self) -> str | None:
        return None

    def chat(self, messages: list[dict[str, str]], options: ChatOptions) -> ChatResult:
        self.calls.append([dict(m) for m in messages])
        if self._policy is not None:
            text = self._policy(messages)
        elif self._queue:
            text = self._queue.pop(0)
        else:
            raise BackendError("scripted backend ran out of replies")
        prompt = sum(len(m["content"].split()) for m in messages)
        out = len(text.split())
        return ChatResult(
            text=text,
            done_reason="stop",
            prompt_tokens=prompt,
            prompt_eval_count=prompt,
            eval_count=out,
            prompt_eval_duration_s=0.0,
            eval_duration_s=0.0,
            total_duration_s=0.0,
        )


@register_backend("scripted", policy=True)
def _factory(model: str = "", **kwargs) -> ScriptedBackend:
    return ScriptedBackend(model=model, **kwargs)
