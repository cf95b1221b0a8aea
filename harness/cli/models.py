"""``harness models``: list, show or remove registered models (Ollama and the local store)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from harness.serving import STORE_BACKENDS


def _where_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--host", default=None, help="Ollama URL (default $OLLAMA_HOST or http://127.0.0.1:11434)."
    )(f)
    f = click.option(
        "--backend", type=click.Choice(STORE_BACKENDS), default="auto", show_default=True,
        help="auto: the local store plus Ollama when it answers.",
    )(f)  # fmt: skip
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(f)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


@click.group(invoke_without_command=True)
@_where_options
@click.pass_context
def models(ctx: click.Context, backend: str, host: str | None, as_json: bool) -> None:
    """List registered models; 'models show NAME' and 'models rm NAME' for one.

    \b
    harness models
    harness models show smollm2
    harness models rm smollm2
    """
    if ctx.invoked_subcommand is not None:
        return
    from dataclasses import asdict

    from harness.backends.catalog import list_models

    entries = list_models(backend, host)
    if as_json:
        click.echo(json.dumps([asdict(e) for e in entries], indent=2))
        return
    if not entries:
        click.echo("No models registered; add one with 'harness register NAME --gguf FILE'.")
        return
    rows = [("NAME", "WHERE", "SIZE", "QUANT", "SHA256")]
    for e in entries:
        digest = (e.digest or "").removeprefix("sha256:")[:12] or "-"
        rows.append((e.name, e.where, _size(e.size), e.quantization or "-", digest))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


@models.command("show")
@click.argument("name")
@_where_options
def show(name: str, backend: str, host: str | None, as_json: bool) -> None:
    """Show where NAME lives, its details and its Modelfile."""
    from harness.backends.catalog import show_model

    info = show_model(name, backend, host)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    modelfile = info.pop("modelfile", None)
    for key, value in info.items():
        if key in ("template", "parameters", "license", "model_info", "modelinfo"):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items() if v not in (None, "", []))
        click.echo(f"{key:14} {value}")
    if info.get("parameters"):
        click.echo("parameters\n" + "\n".join(f"  {line}" for line in str(info["parameters"]).splitlines()))
    if modelfile:
        click.echo("\n" + str(modelfile).rstrip())


@models.command("rm")
@click.argument("name")
@_where_options
def rm(name: str, backend: str, host: str | None, as_json: bool) -> None:
    """Remove NAME (from the local store and/or Ollama, as --backend allows)."""
    from harness.backends.catalog import remove_model

    removed = remove_model(name, backend, host)
    if as_json:
        click.echo(json.dumps({"name": name, "removed_from": removed}))
    else:
        click.echo(f"removed {name} from {' and '.join(removed)}")
