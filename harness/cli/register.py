"""``harness register``: put a GGUF + Modelfile into Ollama, or into the local store."""

from __future__ import annotations

from pathlib import Path

import click

from harness._util.cli import byte_bar
from harness.serving import STORE_BACKENDS


@click.command()
@click.argument("name")
@click.option("--gguf", "gguf", type=click.Path(dir_okay=False), help="The GGUF weights.")
@click.option(
    "--modelfile",
    "modelfile_path",
    type=click.Path(dir_okay=False),
    help="Modelfile with TEMPLATE / SYSTEM / PARAMETERs (its FROM is replaced by --gguf).",
)
@click.option(
    "--quantize",
    default=None,
    metavar="TYPE",
    help="Quantize while registering; needs an F16/BF16/F32 GGUF. Ollama accepts q4_K_M, q4_K_S, "
    "q8_0 (f16, bf16, f32); the local store every llama.cpp level (q5_K_M, q6_K …).",
)
@click.option(
    "--backend",
    type=click.Choice(STORE_BACKENDS),
    default="auto",
    show_default=True,
    help="auto: Ollama if it answers, else the local store.",
)
@click.option("--host", default=None, help="Ollama URL (default $OLLAMA_HOST or http://127.0.0.1:11434).")
@click.option("--quiet", is_flag=True, help="No progress output.")
def register(
    name: str,
    gguf: str | None,
    modelfile_path: str | None,
    quantize: str | None,
    backend: str,
    host: str | None,
    quiet: bool,
) -> None:
    """Register a GGUF as model NAME (idempotent: the same bytes again are a no-op).

    \b
    harness register smollm2 --gguf SmolLM2.gguf --modelfile modelfiles/smollm2.Modelfile
    harness register qwen-react --gguf out/model-f16.gguf --quantize q4_K_M --backend ollama
    """
    import dataclasses

    from harness.backends import catalog
    from harness.backends.ollama_create import reject_matching_local_path
    from harness.errors import UsageError
    from harness.serving.modelfile import ModelfileError, load

    try:  # parse-time checks are Ollama's create checks: TEMPLATE parses, PARAMETER values usable
        mf = load(modelfile_path) if modelfile_path else None
    except ModelfileError as e:
        raise UsageError(f"cannot register {name!r}: {e}") from None
    if gguf is None:
        if mf is None or not mf.from_.lower().endswith(".gguf"):
            raise UsageError(
                "give the weights with --gguf FILE (or a --modelfile whose FROM is a .gguf path)"
            )
        assert modelfile_path is not None
        gguf = str((Path(modelfile_path).parent / Path(mf.from_).expanduser()).resolve())
    if mf is not None and mf.draft and modelfile_path:  # a DRAFT path is relative to the Modelfile
        draft = (Path(modelfile_path).parent / Path(mf.draft).expanduser()).resolve()
        if not draft.is_file():
            raise UsageError(f"cannot register {name!r}: DRAFT {mf.draft} of {modelfile_path} is not a file")
        try:
            reject_matching_local_path("DRAFT", draft, [gguf])
        except UsageError as e:
            raise UsageError(f"cannot register {name!r}: {e}") from None
        mf = dataclasses.replace(mf, draft=str(draft))
    if quiet:
        from harness.cli import console_logging

        console_logging(quiet=True)
    result = catalog.register(
        name, gguf, mf, quantize=quantize, backend=backend, host=host, progress=None if quiet else byte_bar
    )
    where = "Ollama" if result.where == "ollama" else "the local store"
    verb = {"unchanged": "already registered in", "replaced": "replaced in"}.get(
        result.status, "registered in"
    )
    click.echo(f"{result.name}: {verb} {where} (sha256 {result.sha256[:12]})")
    if result.template:
        click.echo(f"{result.name}: {result.template}")
