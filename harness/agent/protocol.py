"""The ReAct protocol: how an episode becomes chat messages, and how model text becomes one
command. Training-data export (``harness data`` / ``train``) and the episode runner both use
this module, so what a model is trained on is byte-for-byte what it is evaluated on.

Conversation (``finetuned`` mode)::

    system     SYSTEM_PROMPT
    user       "Interact with a household to solve a task. Here is the task.\\n<room>\\n<task>\\n<instruction>"
    assistant  "think: …"            |  "go to countertop 1"
    user       "OK."                 |  "On the countertop 1, you see …"
    …

``fewshot`` mode plays two solved examples of the same task type (from the expert) as earlier
turns of the chat before the task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SYSTEM_PROMPT = (
    "You are an agent in a household text world. Each turn, reply with exactly one line: either "
    "'think: <your reasoning>' or one admissible command, such as 'go to cabinet 1', 'open drawer 2', "
    "'take apple 1 from countertop 1', 'put apple 1 in/on fridge 1', 'heat egg 1 with microwave 1', "
    "'cool mug 1 with fridge 1', 'clean cup 1 with sinkbasin 1', 'use desklamp 1', 'examine book 1', "
    "'inventory' or 'look'."
)
INSTRUCTION = "Please solve this task using ReAct (Reasoning + Acting) approach."
TASK_HEADER = "Interact with a household to solve a task. Here is the task."
FEWSHOT_HEADER = "Here are two solved examples of the same kind of task, then your task."
THINK_REPLY = "OK."
INVALID_REPLY = "Nothing happens."

# A reply is one line: generation stops at the first newline. The end-of-turn markers of the
# common chat formats are listed too, because a request's stop list replaces the Modelfile's.
REPLY_STOPS = ("\n", "<|im_end|>", "<|im_start|>", "<|endoftext|>", "<|eot_id|>")

Mode = Literal["finetuned", "fewshot"]
MODES: tuple[str, ...] = ("finetuned", "fewshot")

COMMAND_VERBS = (
    "go to",
    "open",
    "close",
    "take",
    "put",
    "move",
    "heat",
    "cool",
    "clean",
    "slice",
    "use",
    "examine",
    "look",
    "inventory",
    "help",
)
_VERB_RE = re.compile(r"^(?:" + "|".join(re.escape(v) for v in COMMAND_VERBS) + r")\b")
_PREFIX_RE = re.compile(r"^(?:>\s*|(?:action|act)\s*\d*\s*[:：]\s*)", re.IGNORECASE)
_THINK_RE = re.compile(r"^(?:think|thought)\s*\d*\s*[:：]\s*", re.IGNORECASE)
_QUOTES = "\"'`“”‘’"


_ARRIVE_RE = re.compile(r"^You arrive at loc \d+\. ")


def observation_text(observation: str) -> str:
    """What the agent is shown: the environment's text without the ``You arrive at loc N. ``
    prefix of old-format ``go to`` feedback (as the ReAct harness strips it)."""
    return _ARRIVE_RE.sub("", observation, count=1)


def task_text(intro: str) -> str:
    """The intro without TextWorld's banner: ``<room>\\n<task>`` (as ReAct feeds it)."""
    parts = intro.split("\n\n")
    if parts and parts[0].startswith("-= Welcome"):
        parts = parts[1:]
    return "\n".join(parts)


Demo = tuple[str, list[tuple[str, str]]]
"""A solved example: its intro and its (assistant text, observation) turns."""


def first_user_message(intro: str, instruction: str = INSTRUCTION) -> str:
    """The opening user turn of an episode."""
    return f"{TASK_HEADER}\n{task_text(intro)}\n{instruction}"


def _push_user(msgs: list[dict[str, str]], text: str) -> None:
    """Append a user turn, merged into a trailing user turn (chat roles must alternate)."""
    if msgs and msgs[-1]["role"] == "user":
        msgs[-1] = {"role": "user", "content": f"{msgs[-1]['content']}\n\n{text}"}
    else:
        msgs.append({"role": "user", "content": text})


def build_messages(
    intro: str,
    history: list[tuple[str, str]],
    *,
    system: str | None = SYSTEM_PROMPT,
    instruction: str = INSTRUCTION,
    examples: list[Demo] | None = None,
) -> list[dict[str, str]]:
    """Chat messages for an episode so far. ``history`` holds (assistant text, observation).

    ``examples`` (``fewshot`` mode) are played out as earlier turns of the same chat — each
    solved game's task, then its assistant/observation turns — before the task itself: small
    chat models follow demonstrated turns far better than a transcript pasted in one message.
    """
    msgs: list[dict[str, str]] = []
    if system:
        msgs.append({"role": "system", "content": system})
    for k, (ex_intro, turns) in enumerate(examples or []):
        head = f"{FEWSHOT_HEADER}\n" if k == 0 else ""
        _push_user(msgs, f"{head}Example {k + 1}. {first_user_message(ex_intro, instruction)}")
        for assistant, observation in turns:
            msgs.append({"role": "assistant", "content": assistant})
            msgs.append({"role": "user", "content": observation_text(observation)})
    _push_user(msgs, first_user_message(intro, instruction))
    for assistant, observation in history:
        msgs.append({"role": "assistant", "content": assistant})
        msgs.append({"role": "user", "content": observation_text(observation)})
    return msgs


@dataclass(frozen=True)
class Parsed:
    """What one model reply means."""

    kind: Literal["think", "command", "invalid"]
    text: str
    """The thought (without ``think:``), the normalized command, or the raw reply."""
    error: str | None = None
    """Why an ``invalid`` reply could not be read as a thought or a command."""

    @property
    def assistant_text(self) -> str:
        """The canonical form to keep in the conversation history."""
        if self.kind == "think":
            return f"think: {self.text}"
        return self.text


def _clean(line: str) -> str:
    line = line.strip()
    line = _PREFIX_RE.sub("", line).strip()
    if len(line) >= 2 and line[0] in _QUOTES and line[-1] in _QUOTES:
        line = line[1:-1].strip()
    line = line.strip(_QUOTES).strip()
    line = line.rstrip(".!").strip()
    return re.sub(r"\s+", " ", line)


def parse_reply(text: str) -> Parsed:
    """Read one model reply as a thought or one command.

    Tolerates ``> ``, ``Action:``/``Act:`` prefixes, quotes, a trailing period, capitals, and
    extra lines (an ``Action:`` line wins over a preceding ``Thought:`` line; otherwise the
    first non-empty line counts). Anything else is ``invalid`` with the reason, never guessed.
    """
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    if not lines:
        return Parsed("invalid", text or "", "empty reply")
    action_lines = [ln for ln in lines if _PREFIX_RE.match(ln) and not _THINK_RE.match(ln)]
    line = action_lines[0] if action_lines and _THINK_RE.match(lines[0]) else lines[0]
    m = _THINK_RE.match(line)
    if m:
        thought = line[m.end() :].strip()
        if not thought:
            return Parsed("invalid", text, "empty thought")
        return Parsed("think", thought)
    command = _clean(line)
    low = command.lower()
    if not _VERB_RE.match(low):
        return Parsed("invalid", text, f"not a command: {line[:80]!r}")
    return Parsed("command", low)
