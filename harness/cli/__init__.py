"""The ``harness`` command line. Each subcommand lives in its own module and is imported only
when it runs, so ``harness --help`` stays instant."""

from __future__ import annotations

import importlib
import os

import click

from harness._util.cli import console_logging as console_logging
from harness._util.cli import run_command

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


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one line on stderr for an error, exit 130 on Ctrl-C, 143 on SIGTERM
    (see :func:`harness._util.cli.run_command`)."""
    run_command(cli, argv, "harness")
