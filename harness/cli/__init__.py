"""The ``harness`` command line. Each subcommand lives in its own module and is imported only
when it runs, so ``harness --help`` stays instant."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback

import click

# name -> (module, attribute, one-line help shown by ``harness --help``)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "play": ("harness.cli.play", "play", "Play a game by hand, or replay a script of commands."),
    "data": ("harness.cli.data", "data", "Export expert ReAct trajectories as training data."),
    "suites": ("harness.cli.suites", "suites", "List scenario suites and the games they hold."),
    "register": (
        "harness.cli.register",
        "register",
        "Register a GGUF as a model (Ollama, or the local store).",
    ),
    "models": ("harness.cli.models", "models", "List, show or remove registered models."),
    "chat": ("harness.cli.chat", "chat", "Chat with a registered model (local testing)."),
    "prompt": (
        "harness.cli.prompt",
        "prompt",
        "Show the exact prompt a model receives, as Ollama builds it.",
    ),
    "bench": ("harness.cli.bench", "bench", "Run ReAct episodes on a suite and score the traces."),
    "report": ("harness.cli.report", "report", "Rebuild or compare bench reports."),
    "regress": ("harness.cli.regress", "regress", "Regression tests per quantization level."),
    "diagnose": ("harness.cli.diagnose", "diagnose", "Find the pipeline stage where a model loses quality."),
    "doctor": (
        "harness.cli.doctor",
        "doctor",
        "Check the engine, Ollama, ALFWorld data, the factory and disk.",
    ),
    "build": (
        "harness.cli.build",
        "build",
        "Model factory: data → sft → merge → GGUF → quantize → register.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="react-harness", prog_name="harness")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Train, serve and evaluate small ReAct agents on ALFWorld-style household tasks."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if debug:
        os.environ["HARNESS_DEBUG"] = "1"
    console_logging(debug)


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


def main(argv: list[str] | None = None) -> None:
    """Console entry point: HarnessError → one line on stderr; Ctrl-C → exit 130, SIGTERM → 143;
    an OSError or undecodable text that no command caught → one line naming the path."""
    from harness._util.signals import install_sigterm
    from harness.errors import HarnessError, Terminated

    previous = install_sigterm()
    try:
        cli.main(args=argv, prog_name="harness", standalone_mode=False)
    except click.exceptions.Abort as e:  # click turns a KeyboardInterrupt (and so SIGTERM) into Abort
        if isinstance(e.__cause__, Terminated):
            click.echo("Terminated.", err=True)
            sys.exit(143)
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Terminated:
        click.echo("Terminated.", err=True)
        sys.exit(143)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except HarnessError as e:
        if os.environ.get("HARNESS_DEBUG"):
            traceback.print_exc()
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except OSError as e:
        if os.environ.get("HARNESS_DEBUG"):
            traceback.print_exc()
        click.echo(f"error: {_os_error_line(e)}", err=True)
        sys.exit(1)
    except UnicodeDecodeError as e:
        if os.environ.get("HARNESS_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"error: a file is not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start})", err=True
        )
        sys.exit(1)
    finally:
        if previous is not None:  # main() called in-process (tests, scripts): leave SIGTERM as it was
            import signal

            signal.signal(signal.SIGTERM, previous)
