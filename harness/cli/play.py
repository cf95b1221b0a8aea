"""``harness play``: play a game by hand, or replay commands from a script."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from harness.cli._common import open_game
from harness.errors import UsageError

HELP_LINES = "Type a command, '?' for the admissible commands, 'quit' to stop."


@click.command()
@click.option("--game", "game_path", type=click.Path(dir_okay=False), help="A game.tw-pddl file.")
@click.option("--suite", help="A scenario suite name (see 'harness suites') or YAML path.")
@click.option("--index", type=int, default=None, help="Which game of the suite (0-based).")
@click.option(
    "--script", type=click.File("rb"), help="Replay commands from FILE (one per line; '-' = stdin)."
)
@click.option("--jsonl", is_flag=True, help="Print one JSON record per step instead of text.")
@click.option(
    "--text-format", type=click.Choice(["2.1.1", "0.4"]), default=None, help="ALFWorld text variant."
)
@click.option("--max-steps", type=int, default=None, help="End the episode after this many steps.")
@click.option(
    "--expert", is_flag=True, help="Let the built-in expert play (thoughts included) and print its turns."
)
def play(
    game_path: str | None,
    suite: str | None,
    index: int | None,
    script,
    jsonl: bool,
    text_format: str | None,
    max_steps: int | None,
    expert: bool,
) -> None:
    """Play a game interactively, or replay a script of commands.

    \b
    harness play --game $ALFWORLD_DATA/json_2.1.1/valid_seen/.../game.tw-pddl
    harness play --suite synthetic-smoke --index 3
    harness play --suite synthetic-smoke --index 0 --script cmds.txt --jsonl
    harness play --suite synthetic-smoke --index 0 --expert
    """
    gid, game = open_game(game_path, suite, index, text_format, max_steps)
    intro = game.reset()
    if jsonl:
        _emit(
            {
                "step": 0,
                "game": gid,
                "observation": intro,
                "won": game.won,
                "done": False,
                "admissible_commands": game.admissible_commands(),
            }
        )
    else:
        click.echo(intro)
    if expert:
        if script is not None:
            raise UsageError("--expert and --script exclude each other")
        _play_expert(game, jsonl)
    elif script is not None:
        from harness._util.yamlfile import decode_text

        text = decode_text(script.read(), script.name, "the script", UsageError)
        lines = text.replace("\r\n", "\n").split("\n")
        commands = iter(lines[:-1] if lines[-1] == "" else lines)
        _run(game, commands, jsonl, interactive=False)
    else:
        if jsonl:
            raise UsageError("--jsonl needs --script FILE (or '--script -' to read stdin)")
        click.echo(f"\n{HELP_LINES}")
        _run(game, _prompt(), jsonl, interactive=True)


def _play_expert(game, jsonl: bool) -> None:
    from harness.world.expert import solve

    steps = solve(game.world, text_format=game.text_format)
    for k, st in enumerate(steps, 1):
        if jsonl:
            _emit(
                {"step": k, "command": st.text, "observation": st.observation, "won": st.won, "done": st.won}
            )
        else:
            click.echo(f"> {st.text}\n{st.observation}")
    if not jsonl:
        click.echo(
            f"Won in {len(steps)} steps ({sum(s.is_thought for s in steps)} thoughts)."
            if steps and steps[-1].won
            else "The expert did not win."
        )


def _prompt():
    while True:
        try:
            line = input("> ")
        except EOFError:
            return
        yield line


def _run(game, commands, jsonl: bool, interactive: bool) -> None:
    step = 0
    for raw in commands:
        cmd = raw.strip()
        if not cmd or cmd.startswith("#"):
            continue
        if interactive and cmd in ("quit", "exit"):
            return
        if interactive and cmd in ("?", "admissible"):
            click.echo("\n".join(game.admissible_commands()))
            continue
        r = game.step(cmd)
        step += 1
        if jsonl:
            _emit({"step": step, "command": cmd, "observation": r.observation, "won": r.won, "done": r.done})
        else:
            if not interactive:
                click.echo(f"> {cmd}")
            click.echo(r.observation)
        if r.done:
            if not jsonl:
                click.echo("You won!" if r.won else "The episode is over (step limit).")
            return


def _emit(record: dict) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


__all__ = ["Path", "play"]
