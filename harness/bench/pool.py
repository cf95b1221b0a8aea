"""Pools of hosts: a suite's episodes spread over several servers, each with its own concurrency.

A host is written ``URL[,N][,openai|ollama]`` (``--host``, repeatable, or one per line of a
``--hosts`` file, where ``#`` starts a comment): ``N`` episodes at a time on that host (default
``--workers``), and its kind (default ``--backend``, else ``openai`` for a URL ending in ``/v1`` or a
server that does not answer Ollama's ``/api/version``).

:func:`play_pool` runs the episodes: every slot of every host takes the next unplayed game from one
shared queue. An episode that ends in a host failure (unreachable, a transient error after the
runner's retries, the model gone) is put back in the queue, not recorded, and the host cools down
for ``backoff_s · 2^(k-1)`` seconds after its k-th failure in a row (failures of its slots during one
cool-down count once); after ``retries`` such cool-downs it is taken out and the other hosts play
what it left. A game is recorded once, when an episode of it finishes; only when every host is out
does the run stop (:class:`PoolExhausted`, one line naming each host's last error; finished episodes
stay on disk and a rerun resumes).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.backends.base import (
    Backend,
    BackendUnavailable,
    ModelNotFound,
    TransientBackendError,
)
from harness.bench.suites import SuiteGame
from harness.bench.traces import EpisodeTrace
from harness.errors import UsageError

log = logging.getLogger(__name__)

KINDS = ("openai", "ollama")
HOST_ERRORS: tuple[type[BaseException], ...] = (BackendUnavailable, TransientBackendError, ModelNotFound)
"""Failures that are the host's, not the episode's: the game is played again elsewhere."""
MAX_COOLDOWN_S = 30.0


class PoolExhausted(BackendUnavailable):
    """Every host of the pool was taken out before the suite was played."""


@dataclass(frozen=True)
class HostSpec:
    """One host as given on the command line: URL, episodes at a time, kind (None: decide later)."""

    url: str
    concurrency: int | None = None
    kind: str | None = None


def parse_host(text: str, where: str = "--host") -> HostSpec:
    """``URL[,N][,openai|ollama]`` → HostSpec; a bad field is one clear error naming ``where``."""
    parts = [p.strip() for p in text.split(",")]
    url, rest = parts[0], parts[1:]
    if not url:
        raise UsageError(f"{where}: no URL in {text!r}; write URL[,N][,openai|ollama]")
    concurrency: int | None = None
    kind: str | None = None
    for p in rest:
        if p.isdigit() and int(p) >= 1 and concurrency is None:
            concurrency = int(p)
        elif p.lower() in KINDS and kind is None:
            kind = p.lower()
        else:
            raise UsageError(
                f"{where}: {p!r} in {text!r} is neither a concurrency (a number ≥ 1) nor a kind "
                f"({' or '.join(KINDS)}); write URL[,N][,openai|ollama]"
            )
    return HostSpec(url, concurrency, kind)


def read_hosts_file(path: str | Path) -> list[HostSpec]:
    """One host a line (``URL[,N][,kind]``); blank lines and ``#`` comments are skipped."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{p}: cannot read the hosts file ({e})") from None
    specs = []
    for n, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if line:
            specs.append(parse_host(line, where=f"{p}:{n}"))
    if not specs:
        raise UsageError(f"{p}: no hosts in the file; write one URL[,N][,openai|ollama] a line")
    return specs


@dataclass
class PoolHost:
    """A host ready to play: its label (recorded in each trace), a backend factory, its slots."""

    label: str
    make_backend: Callable[[], Backend]
    concurrency: int = 1
    failures: int = 0
    """Cool-downs in a row (reset by a finished episode)."""
    cooldown_until: float = 0.0
    alive: bool = True
    last_error: str = ""
    played: int = 0
    first: list[Backend] = field(default_factory=list)
    """A backend already opened (by the startup check), used by the host's first slot."""


def play_pool(
    todo: list[SuiteGame],
    hosts: list[PoolHost],
    play: Callable[[SuiteGame, Backend], EpisodeTrace],
    record: Callable[[EpisodeTrace], None],
    *,
    retries: int = 3,
    backoff_s: float = 1.0,
    warn: Callable[[str], None] | None = None,
) -> None:
    """Play every game of ``todo`` once on the pool; ``record`` gets each finished trace (its
    ``host`` set), under the pool's lock. ``play`` raises :data:`HOST_ERRORS` for host failures."""
    if not todo:
        return
    pending = collections.deque(todo)
    cond = threading.Condition()
    state = {"in_flight": 0, "stop": False}
    errors: list[BaseException] = []
    say = warn or log.warning

    def take(host: PoolHost) -> SuiteGame | None:
        with cond:
            while not state["stop"] and host.alive:
                wait = host.cooldown_until - time.monotonic()
                if pending and wait <= 0:
                    state["in_flight"] += 1
                    return pending.popleft()
                if not pending and state["in_flight"] == 0:
                    return None
                cond.wait(timeout=wait if wait > 0 else None)
            return None

    def failed(host: PoolHost, entry: SuiteGame, e: BaseException) -> None:
        with cond:
            state["in_flight"] -= 1
            pending.appendleft(entry)
            host.last_error = str(e)
            now = time.monotonic()
            if host.alive and now >= host.cooldown_until:
                host.failures += 1
                if host.failures > retries:
                    host.alive = False
                    left = sum(h.alive for h in hosts)
                    say(f"{host.label} taken out after {host.failures} failures ({e}); "
                        f"{left} host(s) play its unfinished games")  # fmt: skip
                else:
                    host.cooldown_until = now + min(MAX_COOLDOWN_S, backoff_s * 2 ** (host.failures - 1))
                    log.info("%s failed (%s); retrying in %.1f s", host.label, e, host.cooldown_until - now)
            cond.notify_all()

    def slot(host: PoolHost) -> None:
        backend: Backend | None = None
        while (entry := take(host)) is not None:
            try:
                if backend is None:
                    backend = host.first.pop() if host.first else host.make_backend()
                trace = play(entry, backend)
            except HOST_ERRORS as e:
                failed(host, entry, e)
                continue
            except BaseException as e:  # a bug or Ctrl-C: stop the whole pool
                with cond:
                    state["in_flight"] -= 1
                    state["stop"] = True
                    errors.append(e)
                    cond.notify_all()
                return
            with cond:
                state["in_flight"] -= 1
                host.failures, host.cooldown_until = 0, 0.0
                host.played += 1
                trace.host = host.label
                record(trace)
                cond.notify_all()

    threads = [
        threading.Thread(target=slot, args=(h,), name=f"pool-{h.label}-{i}", daemon=True)
        for h in hosts
        for i in range(max(1, h.concurrency))
    ]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(timeout=0.2)
    except BaseException:  # Ctrl-C in the main thread: slots stop after their current episode
        with cond:
            state["stop"] = True
            cond.notify_all()
        raise
    if errors:
        raise errors[0]
    if pending:
        detail = "; ".join(f"{h.label}: {h.last_error or 'no error'}" for h in hosts)
        raise PoolExhausted(
            f"every host of the pool was taken out with {len(pending)} game(s) unplayed ({detail}); "
            "fix or replace the hosts and rerun the same command to resume"
        )


# ------------------------------------------------------------------------------ making a pool
def open_openai(model: str, url: str | None, mode: str = "chat") -> Backend:
    """An openai backend checked now: the server answers and lists ``model``."""
    from harness.backends.openai import OpenAIBackend

    be = OpenAIBackend(model=model, host=url, mode=mode)
    be.check()
    return be


def _open_ollama(model: str, url: str) -> Backend:
    from harness.backends.base import ModelNotFound
    from harness.backends.catalog import unknown_model
    from harness.backends.ollama import OllamaBackend

    be = OllamaBackend(model=model, host=url)
    try:
        be.server.show(model)
    except ModelNotFound:
        raise unknown_model(model, url) from None
    return be


def _kind(spec: HostSpec, backend: str) -> str:
    from harness.backends import ollama

    if spec.kind:
        return spec.kind
    if backend in ("openai", "ollama"):
        return backend
    if backend != "auto":
        raise UsageError(f"--host plays on servers: use --backend auto, openai or ollama (not {backend!r})")
    if spec.url.rstrip("/").endswith("/v1"):
        return "openai"
    return "ollama" if ollama.is_reachable(spec.url) else "openai"


def make_pool(
    model: str, backend: str, specs: list[HostSpec], workers: int, mode: str = "chat"
) -> tuple[str, list[PoolHost]]:
    """(backend name for the run record, PoolHost per spec); every host is checked now, so a server
    that does not answer or lacks the model fails before the run starts."""
    from harness.backends.ollama import resolve_host
    from harness.backends.openai import base_url

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
