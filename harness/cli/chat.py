"""``harness chat``: talk to a registered model, interactively or with ``--prompt``."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import click

from harness.serving import STORE_BACKENDS

HELP = """Commands:
  /system TEXT       set the system message (empty: none) and start over
  /reset             forget the conversation (keeps the system message)
  /set KEY VALUE     set an option: temperature seed top_k top_p num_ctx num_predict stop timeout_s
  /show              print the options
  /bye               quit (also Ctrl-D)"""
_SETTABLE = {"temperature": float, "seed": int, "top_k": int, "top_p": float, "num_ctx": int,
             "num_predict": int, "timeout_s": float, "timeout": float, "stop": str}  # fmt: skip


@click.command()
@click.argument("name")
@click.option(
    "--backend",
    type=click.Choice(STORE_BACKENDS),
    default="auto",
    show_default=True,
    help="auto: Ollama if it has NAME, else the embedded llama.cpp on the local store.",
)
@click.option("--host", default=None, help="Ollama URL (default $OLLAMA_HOST or http://127.0.0.1:11434).")
@click.option("--prompt", "prompt_text", default=None, help="Send one message, print the reply, exit.")
@click.option("--system", default=None, help="A system message (replaces the Modelfile's SYSTEM).")
@click.option(
    "--temperature",
    type=float,
    default=None,
    help="Sampling temperature (default: the Modelfile's PARAMETER, else Ollama's 0.8).",
)
@click.option("--seed", type=int, default=None, help="Sampling seed.")
@click.option(
    "--num-predict",
    type=int,
    default=None,
    help="Max tokens per reply (default: the Modelfile's, else Ollama's -1, until the context is full).",
)
@click.option("--num-ctx", type=int, default=None, help="Context size (default: the Modelfile's).")
@click.option("--verbose", "-v", is_flag=True, help="Print token counts and speed after each reply.")
def chat(
    name: str,
    backend: str,
    host: str | None,
    prompt_text: str | None,
    system: str | None,
    temperature: float | None,
    seed: int | None,
    num_predict: int | None,
    num_ctx: int | None,
    verbose: bool,
) -> None:
    """Chat with model NAME (see 'harness models').

    Options not given here come from the Modelfile's PARAMETERs, then Ollama's defaults.

    \b
    harness chat smollm2
    harness chat smollm2 --prompt "Say hello"
    """
    from harness.backends.base import ChatOptions
    from harness.backends.resolve import open_model

    model = open_model(name, backend, host=host)
    given = {"temperature": temperature, "seed": seed, "num_predict": num_predict, "num_ctx": num_ctx}
    options = ChatOptions(**{k: v for k, v in given.items() if v is not None})
    history: list[dict[str, str]] = []
    if prompt_text is not None:
        _reply(model, _with_system(system, [{"role": "user", "content": prompt_text}]), options, verbose)
        return
    click.echo(f"Chatting with {name} ({model.name}). /? for help, /bye to quit.", err=True)
    while True:
        try:
            line = input(">>> ")
        except EOFError:
            click.echo("", err=True)
            return
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            cmd, _, arg = text.partition(" ")
            if cmd in ("/bye", "/exit", "/quit"):
                return
            if cmd == "/system":
                system, history = arg.strip() or None, []
            elif cmd in ("/reset", "/clear"):
                history = []
            elif cmd == "/set":
                options = _set(options, arg)
            elif cmd == "/show":
                click.echo(", ".join(f"{k}={v}" for k, v in dataclasses.asdict(options).items()))
            else:
                click.echo(HELP)
            continue
        history.append({"role": "user", "content": line})
        try:
            reply = _reply(model, _with_system(system, history), options, verbose)
        except KeyboardInterrupt as e:  # Ctrl-C cancels this reply, not the chat (SIGTERM still quits)
            from harness.errors import Terminated

            if isinstance(e, Terminated):
                raise
            history.pop()
            click.echo("\n[reply cancelled]", err=True)
            continue
        except Exception as e:
            from harness.errors import HarnessError

            if not isinstance(e, HarnessError):
                raise
            history.pop()
            click.echo(f"error: {e}", err=True)
            continue
        history.append({"role": "assistant", "content": reply})


def _with_system(system: str | None, messages: list[dict[str, str]]) -> list[dict[str, str]]:
    return ([{"role": "system", "content": system}] if system else []) + messages


def _set(options: Any, arg: str) -> Any:
    key, _, value = arg.strip().partition(" ")
    key, value = key.strip(), value.strip()
    kind = _SETTABLE.get(key)
    if kind is None:
        click.echo(f"unknown option {key!r}; settable: {', '.join(_SETTABLE)}")
        return options
    if key == "stop":
        return dataclasses.replace(options, stop=[value] if value else [])
    try:
        parsed = kind(value)
    except ValueError:
        click.echo(f"/set {key} needs a {kind.__name__}, got {value!r}")
        return options
    field = "timeout_s" if key == "timeout" else key
    click.echo(f"set {field} = {parsed}")
    return dataclasses.replace(options, **{field: parsed})


def _reply(model: Any, messages: list[dict[str, str]], options: Any, verbose: bool) -> str:
    """Send ``messages``; print the reply as it streams; return its text."""
    stream = getattr(model, "stream_chat", None)
    if stream is not None:
        for chunk in stream(messages, options):
            click.echo(chunk, nl=False)
            sys.stdout.flush()
        result = model.last_result
    else:
        result = model.chat(messages, options)
        click.echo(result.text, nl=False)
    click.echo()
    if result.done_reason not in ("stop",):
        click.echo(f"[reply ended: {result.done_reason}]", err=True)
    if verbose:
        speed = f"{result.gen_tokens_per_s:.1f} tok/s" if result.gen_tokens_per_s else "-"
        click.echo(
            f"[prompt {result.prompt_tokens} tok, {result.prompt_eval_count} evaluated; "
            f"reply {result.eval_count} tok, {speed}; {result.total_duration_s or 0:.2f}s]",
            err=True,
        )
    return result.text
