"""``harness doctor``: check what a run depends on, one line each, ok or what to do next.

    harness doctor            # exit 1 when something the current setup needs is broken
    harness doctor --json     # the same facts, for bug reports

Checks (harness.bench.system): the embedded engine (version, compiled instruction sets, a smoke
eval of a 64-token batch in a subprocess, tokens/s), Ollama at OLLAMA_HOST (reachable, server
version), the ALFWorld games (ALFWORLD_DATA, games per split), the model-factory extras (torch,
transformers, peft, gguf; CUDA), and free disk where builds and the model store go.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click

from harness.bench.system import collect


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON (for bug reports).")
@click.option(
    "--no-smoke",
    is_flag=True,
    help="Skip the checks that start subprocesses: the engine smoke eval and the factory import (faster).",
)
def doctor(as_json: bool, no_smoke: bool) -> None:
    """Check the engine, Ollama, the ALFWorld games, the model factory and disk space.

    \b
    harness doctor
    harness doctor --json > doctor.json
    """
    checks = collect(smoke=not no_smoke)
    if as_json:
        click.echo(json.dumps({"checks": [asdict(c) for c in checks]}, indent=2))
    else:
        for c in checks:
            click.echo(f"{c.status:4}  {c.name:9} {c.detail}")
    if any(c.status == "FAIL" for c in checks):
        sys.exit(1)
