"""What every command line of the project shares (``harness`` and each ``python -m train.<stage>``):
:func:`run_command` turns what reaches the top into one line on stderr and an exit code, and
:func:`console_logging` shows what library code logs. Library code never prints; it logs under the
``harness`` and ``train`` loggers, and the command that runs it owns the console."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import NoReturn

import click

from harness.errors import HarnessError, Terminated

__all__ = ["byte_bar", "console_logging", "exit_interrupted", "run_command"]


class _StderrHandler(logging.StreamHandler):
    """A StreamHandler on whatever ``sys.stderr`` is when it emits (click's test runner and
    rich swap it), not on the one it was created with."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


class _LineFormatter(logging.Formatter):
    """``message`` for INFO, ``warning: message`` above it (the CLI's one-line style)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno <= logging.INFO else f"{record.levelname.lower()}: {text}"


def console_logging(debug: bool = False, quiet: bool = False) -> None:
    """The CLI owns the console: library code under ``harness`` and ``train`` logs, and this
    shows INFO and up on stderr (DEBUG with ``--debug``, WARNING only when ``quiet``)."""
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    for name in ("harness", "train"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
            handler = _StderrHandler()
            handler.setFormatter(_LineFormatter("%(message)s"))
            logger.addHandler(handler)


@contextlib.contextmanager
def byte_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A transient bar on stderr for a ``ByteProgress`` (:mod:`harness._util.progress`): what a
    command hands to library code that converts, uploads or writes a large file."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def exit_interrupted(e: KeyboardInterrupt, resume: str) -> NoReturn:
    """End a command that Ctrl-C (exit 130) or SIGTERM (:class:`Terminated`, exit 143) stopped
    mid-run: ``Interrupted. RESUME`` (or ``Terminated. …``) on stderr, ``resume`` saying what is
    kept and how to go on."""
    terminated = isinstance(e, Terminated)
    click.echo(f"{'Terminated' if terminated else 'Interrupted'}. {resume}", err=True)
    sys.exit(143 if terminated else 130)


def _os_error_line(e: OSError) -> str:
    """One line for an OSError that reached the top: what failed, on which path."""
    import errno

    path = e.filename if e.filename is not None else ""
    fix = {
        errno.EACCES: "check its permissions, or choose another place (--out, HARNESS_HOME)",
        errno.EPERM: "check its permissions, or choose another place (--out, HARNESS_HOME)",
        errno.EROFS: "the file system is read-only; choose another place (--out, HARNESS_HOME)",
        errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
        errno.EISDIR: "it is a folder; give a file",
        errno.ENAMETOOLONG: "the name is too long for the file system; use a shorter one",
        errno.ENOSPC: "the disk is full; free some space and rerun (finished work is kept)",
        errno.ENOENT: "no such file or folder",
    }.get(e.errno or 0, "")
    where = f"{path}: " if path else ""
    return f"{where}{e.strerror or e}" + (f"; {fix}" if fix else "")


def _fail(line: str, code: int, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    click.echo(f"error: {line}", err=True)
    sys.exit(code)


def run_command(
    command: click.Command, argv: list[str] | None, prog: str, *, interrupted: str = "Interrupted."
) -> None:
    """Run a click command the project's way, with library logging on stderr (:func:`console_logging`),
    and end it: a HarnessError → ``error: …`` on one line and its exit code; Ctrl-C → ``interrupted``
    and exit 130, SIGTERM → exit 143; an OSError or undecodable text that no command caught → one
    line naming the path. ``--debug`` in the arguments (or HARNESS_DEBUG) adds the traceback."""
    from harness._util.signals import install_sigterm

    args = list(sys.argv[1:] if argv is None else argv)
    console_logging("--debug" in args)
    previous = install_sigterm()
    try:
        # Outside standalone mode click catches a command's Exit(n) itself and returns n.
        code = command.main(args=args, prog_name=prog, standalone_mode=False)
        if type(code) is int and code != 0:
            sys.exit(code)
    except click.exceptions.Abort as e:  # click turns a KeyboardInterrupt (and so SIGTERM) into Abort
        terminated = isinstance(e.__cause__, Terminated)
        click.echo("Terminated." if terminated else interrupted, err=True)
        sys.exit(143 if terminated else 130)
    except Terminated:
        click.echo("Terminated.", err=True)
        sys.exit(143)
    except KeyboardInterrupt:
        click.echo(interrupted, err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except (HarnessError, OSError, UnicodeDecodeError) as e:
        debug = "--debug" in args or bool(os.environ.get("HARNESS_DEBUG"))
        if isinstance(e, HarnessError):
            _fail(str(e), e.exit_code, debug)
        elif isinstance(e, OSError):
            _fail(_os_error_line(e), 1, debug)
        else:
            _fail(f"a file is not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start})", 1, debug)
    finally:
        if previous is not None:  # called in-process (tests, scripts): leave SIGTERM as it was
            import signal

            signal.signal(signal.SIGTERM, previous)
