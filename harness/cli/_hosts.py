"""Options shared by the commands that play episodes on servers: ``--host`` (repeatable),
``--hosts FILE``, ``--openai-mode``, ``--retries``; and the pool they make."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

HOST_HELP = (
    "A server to play on, URL[,N][,openai|ollama]: N episodes at a time (default --workers), its kind "
    "(default --backend; auto: Ollama if it answers /api/version, else OpenAI-compatible). Repeat for a pool; "
    "an OpenAI URL may end in /v1 or not."
)


def host_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--retries", default=3, show_default=True, type=click.IntRange(0, 20),
        help="Transient errors retried per reply; in a pool, also a host's failures (with backoff) before "
        "it is taken out and its games replayed on the others.",
    )(f)  # fmt: skip
    f = click.option(
        "--openai-mode", type=click.Choice(["chat", "completions"]), default="chat", show_default=True,
        help="openai backend: chat (the server's chat template) or completions (the prompt 'harness prompt' "
        "renders, from the registered model of the same name: Ollama-equivalent bytes).",
    )(f)  # fmt: skip
    f = click.option(
        "--hosts", "hosts_file", type=click.Path(dir_okay=False), default=None,
        help="A file of hosts, one URL[,N][,openai|ollama] a line (# comments).",
    )(f)  # fmt: skip
    return click.option("--host", "hosts", multiple=True, help=HOST_HELP)(f)


def host_specs(hosts: tuple[str, ...], hosts_file: str | None) -> list[Any]:
    from harness.bench.pool import parse_host, read_hosts_file

    specs = [parse_host(h) for h in hosts]
    if hosts_file:
        specs += read_hosts_file(hosts_file)
    return specs
