"""Merge a LoRA adapter into its base model: one plain checkpoint for convert → quantize.

    python -m train.merge --adapter runs/qwen2.5-7b-react/adapter --out models/qwen2.5-7b-react
    python -m train.merge --adapter runs/tiny-cpu/model --out models/tiny-react   # full fine-tune

Writes safetensors, ``config.json``, ``generation_config.json``, the tokenizer (with its chat
template) and ``lineage.json``: base model id/path and the sha256 of its weights (and, for a base
imported from a GGUF, ``import.json``: which file and quantization it was dequantized from), the adapter's
sha256, the sha256 of the training data files, the resolved recipe, library versions and the
time. The merge runs in float32 and the result is saved in the base's dtype (bf16 for Qwen2.5).
The folder is written under a temp name and renamed when complete.
Next stage: ``python -m train.convert <out> --out <out>.f16.gguf --outtype f16``.
"""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import yaml

from harness._util.atomic import atomic_write_text, sha256_file
from harness._util.cli import run_command
from harness.errors import HarnessError

LINEAGE_VERSION = 1


class MergeError(HarnessError):
    """The adapter folder is incomplete, or its base model cannot be found."""


def weight_hashes(path: str | Path) -> dict[str, str]:
    """sha256 of every weight file (``*.safetensors`` / ``*.bin``) in a checkpoint folder or a
    locally cached hub model; empty when the files cannot be found."""
    p = Path(path).expanduser()
    if not p.is_dir():
        try:
            from huggingface_hub import snapshot_download

            p = Path(snapshot_download(str(path), local_files_only=True))
        except Exception:
            return {}
    files = sorted(p.glob("*.safetensors")) or sorted(p.glob("*.bin"))
    return {f.name: sha256_file(f) for f in files}


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _data_hashes(recipe: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    if meta.get("data"):
        return meta["data"]
    from train.sft_data import DatasetError, dataset_file

    out: dict[str, Any] = {}
    for key, name in (("train", recipe.get("dataset")), ("eval", recipe.get("eval_dataset"))):
        if not name or not recipe.get("dataset_dir"):
            continue
        try:
            f = dataset_file(recipe["dataset_dir"], name)
        except DatasetError:
            out[key] = {"name": name, "sha256": None, "missing": True}
            continue
        out[key] = {"path": str(f), "sha256": sha256_file(f)}
    return out


def _dtype(config: Any) -> Any:
    import torch

    d = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None) or torch.float32
    return getattr(torch, d) if isinstance(d, str) else d


def merge(adapter_dir: str | Path, out_dir: str | Path, *, dtype: str | None = None) -> Path:
    """Merge ``adapter_dir`` (a ``train.sft`` output: LoRA adapter or full model) into a plain
    checkpoint at ``out_dir``; returns ``out_dir``. ``dtype`` (e.g. ``float32``) overrides the
    saved dtype."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from harness._util.atomic import atomic_dir
    from train.import_gguf import import_record
    from train.sft import versions

    a, out = Path(adapter_dir).expanduser().resolve(), Path(out_dir).expanduser().resolve()
    is_lora = (a / "adapter_config.json").is_file()
    if not is_lora and not (a / "config.json").is_file():
        raise MergeError(
            f"{a} holds no adapter_config.json or config.json; point --adapter at a train.sft output"
        )
    meta = _read_json(a / "train_meta.json")
    recipe = yaml.safe_load((a / "recipe.yaml").read_text()) if (a / "recipe.yaml").is_file() else {}
    if is_lora:
        base_path = _read_json(a / "adapter_config.json").get("base_model_name_or_path") or meta.get(
            "base_path"
        )
        if not base_path or (base_path.startswith(("/", ".")) and not Path(base_path).is_dir()):
            raise MergeError(f"base model {base_path!r} of {a} not found; restore it or rerun train.sft")
        from peft import PeftModel

        try:
            base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
        except OSError as e:
            raise MergeError(f"cannot load base model {base_path!r}: {e}".splitlines()[0]) from None
        saved_dtype = _dtype(base.config)
        with warnings.catch_warnings():  # peft calls a transformers API deprecated in v5
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            model = PeftModel.from_pretrained(base, str(a)).merge_and_unload()
        adapter_files = sorted(a.glob("adapter_model.*"))
    else:
        base_path = meta.get("base_path") or str(a)
        model = AutoModelForCausalLM.from_pretrained(str(a), dtype=torch.float32)
        saved_dtype = _dtype(model.config)
        adapter_files = sorted(a.glob("*.safetensors"))
    if dtype:
        saved_dtype = getattr(torch, dtype)
    model = model.to(saved_dtype)
    model.config.use_cache = True
    tok = AutoTokenizer.from_pretrained(str(a) if (a / "tokenizer_config.json").is_file() else base_path)
    if not getattr(tok, "chat_template", None):
        raise MergeError(f"the tokenizer of {a} has no chat_template; the merged model could not be served")
    try:
        gen = GenerationConfig.from_pretrained(base_path)
    except OSError:
        gen = model.generation_config
    lineage = {
        "version": LINEAGE_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "method": "lora-merge" if is_lora else "full-finetune",
        "base": {
            "model": meta.get("base_model") or recipe.get("base_model") or base_path,
            "path": base_path,
            "weights_sha256": weight_hashes(base_path),
            # a base made by train.import_gguf says what it really is (e.g. a Q4_1 dequantization)
            "imported_from_gguf": import_record(base_path) if Path(base_path).is_dir() else None,
        },
        "adapter": {"path": str(a), "sha256": {f.name: sha256_file(f) for f in adapter_files}},
        "data": _data_hashes(recipe, meta),
        "recipe": recipe,
        "train": {k: meta.get(k) for k in ("step", "total_steps", "metrics", "wall_s", "created")},
        "versions": versions(),
        "dtype": str(saved_dtype).removeprefix("torch."),
    }

    def fill(tmp: Path) -> None:
        model.save_pretrained(str(tmp), safe_serialization=True)
        gen.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        lineage["weights_sha256"] = weight_hashes(tmp)
        atomic_write_text(tmp / "lineage.json", json.dumps(lineage, indent=2, default=str))

    return atomic_dir(out, fill)


@click.command(help=__doc__.split("\n\n")[0], context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--adapter", required=True, help="train.sft output: <output_dir>/adapter or /model")
@click.option("--out", required=True, help="merged checkpoint folder to write")
@click.option(
    "--dtype",
    type=click.Choice(["float32", "bfloat16", "float16"]),
    default=None,
    help="saved dtype (default: the base's)",
)
@click.option("--debug", is_flag=True, help="show tracebacks")
def command(adapter: str, out: str, dtype: str | None, debug: bool) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    merged = merge(adapter, out, dtype=dtype)
    click.echo(
        f"wrote {merged} | next: python -m train.convert {merged} --out {merged}.f16.gguf --outtype f16"
    )


def main(argv: list[str] | None = None) -> None:
    run_command(command, argv, "python -m train.merge")


if __name__ == "__main__":
    main()
