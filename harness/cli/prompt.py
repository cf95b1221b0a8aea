"""``harness prompt MODEL --messages FILE.json``: the exact prompt a model receives, as Ollama builds it."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("model")
@click.option("--messages", "messages_path", required=True, type=click.Path(dir_okay=False, exists=True),
              help='JSON: a list of {"role", "content"} messages, or {"messages": [...], "tools": [...], "think": …}.')  # fmt: skip
@click.option("--modelfile", "modelfile_path", type=click.Path(dir_okay=False, exists=True),
              help="A Modelfile (MODEL is then a GGUF path, or the model whose Modelfile it replaces).")  # fmt: skip
@click.option(
    "--ollama-version", default=None, help="Emulate this Ollama release (e.g. 0.29.0: Go templates only)."
)
@click.option(
    "--compare", is_flag=True, help="Also ask a live Ollama (_debug_render_only) and show whether it agrees."
)
@click.option("--host", default=None, help="Ollama URL for --compare (default $OLLAMA_HOST).")
@click.option("--json", "as_json", is_flag=True, help="Print everything as one JSON object.")
def prompt(
    model: str, messages_path: str, modelfile_path: str | None, ollama_version: str | None, compare: bool,
    host: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Print the prompt text MODEL receives for a conversation, which template made it
    (Modelfile or GGUF) and why, and the effective parameters and stops.

    \b
    harness prompt smollm2 --messages chat.json
    harness prompt ./model.gguf --modelfile modelfiles/qwen2.5-react.Modelfile --messages chat.json
    """
    from harness.errors import UsageError
    from harness.serving.modelfile import Modelfile, load
    from harness.serving.prompt import explain

    try:
        data = json.loads(Path(messages_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"{messages_path}: not a JSON file ({e}); give a list of messages") from None
    if isinstance(data, list):
        data = {"messages": data}
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise UsageError(f'{messages_path}: expected a list of messages or {{"messages": [...]}}')
    gguf, mf = _model(model)
    if modelfile_path:
        mf = load(modelfile_path)
    mf = mf or Modelfile(from_=gguf or model)
    info = explain(mf, gguf, data["messages"], tools=data.get("tools"), think=data.get("think"),
                   version=ollama_version)  # fmt: skip
    if compare:
        info["ollama"] = _compare(model, data, info["prompt"], host)
    if as_json:
        click.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    t = info["template"]
    click.echo(f"# template: {t['source']} ({t['kind']}) — {t['reason']}", err=True)
    click.echo(f"# emulating Ollama {info['ollama_version']} (source {info['ollama_commit'][:7]})", err=True)
    shown = {k: v for k, v in info["parameters"].items() if k != "stop"}
    click.echo("# parameters: " + ", ".join(f"{k}={v}" for k, v in shown.items()), err=True)
    click.echo("# stop: " + json.dumps(info["stop"], ensure_ascii=False), err=True)
    if "ollama" in info:
        click.echo(f"# live Ollama: {info['ollama']['verdict']}", err=True)
    click.echo(info["prompt"], nl=False)


def _model(model: str):
    """(GGUF path or None, Modelfile or None) for a local-store name or a .gguf path."""
    from harness.serving.store import get_local

    if model.lower().endswith(".gguf") and Path(model).is_file():
        return model, None
    entry = get_local(model)
    if entry is None:
        from harness.backends.catalog import unknown_model

        raise unknown_model(model)
    return str(entry.check()), entry.parsed_modelfile()


def _compare(model: str, data: dict, ours: str, host: str | None) -> dict:
    """POST /api/chat with ``_debug_render_only`` (server/routes.go): Ollama's own rendered prompt."""
    from harness.backends.ollama import OllamaServer

    server = OllamaServer(host)
    body = {"model": model, "messages": data["messages"], "stream": False, "_debug_render_only": True}
    if data.get("tools"):
        body["tools"] = data["tools"]
    with server.errors(model, action="debug render"):
        r = server._http.post("/api/chat", json=body)
        r.raise_for_status()
    theirs = (r.json().get("_debug_info") or {}).get("rendered_template", "")
    server.close()
    return {"rendered": theirs, "verdict": "same prompt" if theirs == ours else "DIFFERENT prompt"}
