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


def open_openai(model: str, url: str | None, mode: str) -> Any:
    """An openai backend checked now: the server answers and lists ``model``."""
    from harness.backends.openai import OpenAIBackend

    be = OpenAIBackend(model=model, host=url, mode=mode)
    be.check()
    return be


def _open_ollama(model: str, url: str) -> Any:
    from harness.backends.base import ModelNotFound
    from harness.backends.catalog import unknown_model
    from harness.backends.ollama import OllamaBackend

    be = OllamaBackend(model=model, host=url)
    try:
        be.server.show(model)
    except ModelNotFound:
        raise unknown_model(model, url) from None
    return be


def _kind(spec: Any, backend: str) -> str:
    from harness.backends import ollama
    from harness.errors import UsageError

    if spec.kind:
        return spec.kind
    if backend in ("openai", "ollama"):
        return backend
    if backend != "auto":
        raise UsageError(f"--host plays on servers: use --backend auto, openai or ollama (not {backend!r})")
    if spec.url.rstrip("/").endswith("/v1"):
        return "openai"
    return "ollama" if ollama.is_reachable(spec.url) else "openai"


def make_pool(model: str, backend: str, specs: list[Any], workers: int, mode: str) -> tuple[str, list[Any]]:
    """(backend name for the run record, PoolHost per spec); every host is checked now, so a server
    that does not answer or lacks the model fails before the run starts."""
    from harness.backends.ollama import resolve_host
    from harness.backends.openai import base_url
    from harness.bench.pool import PoolHost
    from harness.errors import UsageError

    hosts: list[PoolHost] = []
    kinds: set[str] = set()
    for spec in specs:
        kind = _kind(spec, backend)
        kinds.add(kind)
        if kind == "openai":
            label = base_url(spec.url)
            make: Callable[[], Any] = lambda u=label: open_openai(model, u, mode)  # noqa: E731
        else:
            label = resolve_host(spec.url)
            make = lambda u=label: _open_ollama(model, u)  # noqa: E731
        if any(h.label == label for h in hosts):
            raise UsageError(
                f"host {label} is listed twice; give each server once (URL,N sets its concurrency)"
            )
        hosts.append(PoolHost(label=label, make_backend=make, concurrency=spec.concurrency or workers))
        hosts[-1].first.append(make())
    return "+".join(sorted(kinds)), hosts
