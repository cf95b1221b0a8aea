from __future__ import annotations

import itertools

import pytest

from harness.agent.protocol import (
    INSTRUCTION,
    SYSTEM_PROMPT,
    build_messages,
    observation_text,
    parse_reply,
    task_text,
)

INTRO = (
    "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly around you, "
    "you see a cabinet 1, and a toilet 1.\n\nYour task is to: put some spraybottle on toilet."
)


@pytest.mark.parametrize(
    ("reply", "kind", "text"),
    [
        ("go to cabinet 1", "command", "go to cabinet 1"),
        ("> go to cabinet 1", "command", "go to cabinet 1"),
        ("Action: take spraybottle 2 from cabinet 2", "command", "take spraybottle 2 from cabinet 2"),
        ("Act: open cabinet 2.", "command", "open cabinet 2"),
        ('"put spraybottle 2 in/on toilet 1"', "command", "put spraybottle 2 in/on toilet 1"),
        ("Go to Cabinet 1\nOn the cabinet 1, you see...", "command", "go to cabinet 1"),
        ("  use   desklamp 1 ", "command", "use desklamp 1"),
        ("think: I need a spraybottle.", "think", "I need a spraybottle."),
        ("Thought: first the cabinet", "think", "first the cabinet"),
        ("Thought: go to the cabinet\nAction: go to cabinet 1", "command", "go to cabinet 1"),
        ("inventory", "command", "inventory"),
    ],
)
def test_parse_reply(reply: str, kind: str, text: str) -> None:
    p = parse_reply(reply)
    assert (p.kind, p.text) == (kind, text)


@pytest.mark.parametrize(
    "reply", ["", "   \n ", "I think I should look around the room first", "think:", "42"]
)
def test_unparseable_replies_are_recorded_not_guessed(reply: str) -> None:
    p = parse_reply(reply)
    assert p.kind == "invalid" and p.error and p.text == reply


def test_assistant_text_is_canonical() -> None:
    assert parse_reply("Thought:  look first").assistant_text == "think: look first"
    assert parse_reply("> Go to cabinet 1.").assistant_text == "go to cabinet 1"


def test_messages_and_observations() -> None:
    assert task_text(INTRO).endswith("and a toilet 1.\nYour task is to: put some spraybottle on toilet.")
    assert observation_text("You arrive at loc 12. On the cabinet 1, you see nothing.") == (
        "On the cabinet 1, you see nothing."
    )
    msgs = build_messages(INTRO, [("think: find it", "OK."), ("go to cabinet 1", "You arrive at loc 3. X.")])
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert msgs[0]["content"] == SYSTEM_PROMPT
    assert msgs[1]["content"].startswith(
        "Interact with a household to solve a task. Here is the task.\nYou are"
    )
    assert msgs[1]["content"].endswith(INSTRUCTION)
    assert msgs[-1]["content"] == "X."
    assert build_messages(INTRO, [], system=None)[0]["role"] == "user"


def test_fewshot_examples_are_earlier_turns() -> None:
    demo = (
        INTRO,
        [
            ("think: find it", "OK."),
            ("go to toilet 1", "You arrive at loc 1. On the toilet 1, you see nothing."),
        ],
    )
    msgs = build_messages(INTRO, [("look", "You are facing the toilet 1.")], examples=[demo, demo])
    roles = [m["role"] for m in msgs]
    assert roles[0] == "system" and all(a != b for a, b in itertools.pairwise(roles[1:]))
    assert msgs[1]["content"].startswith(
        "Here are two solved examples of the same kind of task, then your task.\nExample 1."
    )
    assert msgs[2]["content"] == "think: find it" and msgs[5]["content"].startswith("On the toilet 1")
    assert "Example 2. Interact with a household" in msgs[5]["content"]
    task_turn = msgs[-3]["content"]
    assert task_turn.startswith("On the toilet 1, you see nothing.\n\nInteract with a household")
    assert msgs[-2] == {"role": "assistant", "content": "look"}
