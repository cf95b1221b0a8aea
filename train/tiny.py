"""Tiny random-init checkpoints that stand in for real ones through train → merge → convert →
quantize → serve (no model hub needed).

    python -m train.tiny --arch qwen2 --tokenizer qwen2.5 --out models/tiny-qwen2
    python -m train.tiny --arch llama --tokenizer bpe:4096 --data data/react --out models/tiny-llama

The folder is a plain Hugging Face checkpoint: ``model.safetensors``, ``config.json``,
``generation_config.json`` and the tokenizer files with a ChatML ``chat_template``. Shapes follow
the real families: Qwen2 has q/k/v biases and rope_theta 1e6; hidden and intermediate sizes are
multiples of 256 (llama.cpp k-quants need rows divisible by 256); the embedding has the tokenizer
size rounded up to a multiple of 64 rows (Qwen pads its vocabulary the same way). The weights are
a pure function of the arguments (same seed → same bytes). Written atomically: a temp folder,
renamed when complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from harness._util.cli import run_command
from harness.errors import HarnessError, UsageError

ARCHS = ("qwen2", "llama")
VOCAB_MULTIPLE = 64
ROW_MULTIPLE = 256


class TinyModelError(HarnessError, ValueError):
    """A tiny-model shape or tokenizer spec is invalid."""


def round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def conversation_texts(dataset_dir: str | Path | None = None, limit: int | None = None) -> list[str]:
    """Texts to train a BPE on: every message (role + content) of the ShareGPT train split in
    ``dataset_dir``; without one, the expert conversations of the ``synthetic-smoke`` suite."""
    texts: list[str] = []
    if dataset_dir is not None:
        path = Path(dataset_dir) / "react_train_sharegpt.json"
        if not path.is_file():
            raise TinyModelError(
                f"{path} not found; export data first: python -m train.data --out {dataset_dir}"
            )
        records = json.loads(path.read_text())[:limit]
        for rec in records:
            texts.append(f"system\n{rec.get('system', '')}")
            for turn in rec["conversations"]:
                role = "user" if turn["from"] == "human" else "assistant"
                texts.append(f"{role}\n{turn['value']}")
        return texts
    from harness.bench.suites import load_suite
    from train.data import expert_episode

    suite = load_suite("synthetic-smoke")
    for entry in suite.games():
        texts.extend(f"{m['role']}\n{m['content']}" for m in expert_episode(suite, entry).messages)
    return texts


def resolve_tokenizer(spec: Any = "qwen2.5", texts: Iterable[str] | None = None) -> Any:
    """A tokenizer from a spec: ``qwen2.5``; ``bpe`` or ``bpe:<vocab>`` (trained on ``texts``,
    default the synthetic-smoke conversations); a tokenizer folder; or a tokenizer object."""
    if not isinstance(spec, str | os.PathLike):
        return spec
    s = str(spec)
    if s in ("qwen2.5", "qwen2", "qwen"):
        from train.tokenizer import qwen25_tokenizer

        return qwen25_tokenizer()
    if s == "bpe" or s.startswith("bpe:"):
        size = s.partition(":")[2] or "4096"
        if not size.isdigit() or int(size) < 300:
            raise TinyModelError(f"tokenizer {s!r}: use bpe:<vocab size ≥ 300>, e.g. bpe:4096")
        from train.tokenizer import train_bpe_tokenizer

        return train_bpe_tokenizer(texts if texts is not None else conversation_texts(), int(size))
    if Path(s).is_dir():
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(s)
    raise TinyModelError(f"unknown tokenizer {s!r}: use qwen2.5, bpe:<vocab size> or a tokenizer folder")


def tiny_config(
    arch: str,
    vocab_size: int,
    *,
    hidden_size: int = 256,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate: int = 512,
    tie_word_embeddings: bool = False,
    bos_token_id: int | None = None,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    max_positions: int = 32768,
) -> Any:
    """The ``Qwen2Config`` / ``LlamaConfig`` for a tiny model; raises TinyModelError on bad shapes."""
    if arch not in ARCHS:
        raise TinyModelError(f"unknown arch {arch!r}: use one of {', '.join(ARCHS)}")
    for name, value in (("hidden_size", hidden_size), ("intermediate", intermediate)):
        if value <= 0 or value % ROW_MULTIPLE:
            raise TinyModelError(
                f"{name}={value}: must be a positive multiple of {ROW_MULTIPLE} (llama.cpp k-quants)"
            )
    if heads <= 0 or hidden_size % heads:
        raise TinyModelError(f"heads={heads} must divide hidden_size={hidden_size}")
    if kv_heads <= 0 or heads % kv_heads:
        raise TinyModelError(f"kv_heads={kv_heads} must divide heads={heads}")
    if layers <= 0:
        raise TinyModelError(f"layers={layers}: must be ≥ 1")
    common: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": hidden_size,
        "intermediate_size": intermediate,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "max_position_embeddings": max_positions,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": tie_word_embeddings,
        "bos_token_id": bos_token_id,
        "eos_token_id": eos_token_id,
        "pad_token_id": pad_token_id,
    }
    if arch == "qwen2":
        from transformers import Qwen2Config

        return Qwen2Config(
            **common,
            rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
            use_sliding_window=False,
            sliding_window=None,
            max_window_layers=layers,
        )
    from transformers import LlamaConfig

    return LlamaConfig(
        **common,
        rope_parameters={"rope_type": "default", "rope_theta": 100_000.0},
        attention_bias=False,
        mlp_bias=False,
        head_dim=hidden_size // heads,
    )


def make_tiny_model(
    out_dir: str | Path,
    arch: str = "qwen2",
    tokenizer: Any = "qwen2.5",
    hidden_size: int = 256,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate: int = 512,
    seed: int = 0,
    tie_word_embeddings: bool = False,
    *,
    texts: Iterable[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a random-init checkpoint to ``out_dir`` and return it.

    ``tokenizer``: a spec for ``resolve_tokenizer`` (``qwen2.5``, ``bpe:4096``, a folder) or a
    tokenizer object; ``texts`` train a ``bpe`` one. Untied embeddings by default, like
    Qwen2.5-7B-Instruct (the recipes' target); ``tie_word_embeddings=True`` is the small Qwen2.5 /
    SmolLM2 layout.
    """
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise TinyModelError(f"{out} already exists; remove it or pass overwrite=True (--force)")
    tok = resolve_tokenizer(tokenizer, texts)
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>")}
    if any(v is None or v == tok.unk_token_id for v in ids.values()):
        raise TinyModelError(
            "the tokenizer lacks the ChatML special tokens <|endoftext|>, <|im_start|>, <|im_end|>"
        )
    if not getattr(tok, "chat_template", None):
        raise TinyModelError("the tokenizer has no chat_template")
    config = tiny_config(
        arch,
        round_up(len(tok), VOCAB_MULTIPLE),
        hidden_size=hidden_size,
        layers=layers,
        heads=heads,
        kv_heads=kv_heads,
        intermediate=intermediate,
        tie_word_embeddings=tie_word_embeddings,
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.eval()
    gen = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
        do_sample=False,
    )
    model.generation_config = gen
    from harness._util.atomic import atomic_dir

    def fill(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True)
        gen.save_pretrained(tmp)
        tok.save_pretrained(tmp)

    return atomic_dir(out, fill)


@click.command(help=__doc__.split("\n\n")[0], context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--arch", type=click.Choice(ARCHS), default="qwen2")
@click.option("--tokenizer", default="qwen2.5", help="qwen2.5 | bpe[:<vocab>] | a tokenizer folder")
@click.option(
    "--data", default=None, help="dataset folder (react_train_sharegpt.json) to train a bpe tokenizer on"
)
@click.option("--out", required=True, help="checkpoint folder to write")
@click.option("--hidden-size", type=int, default=256)
@click.option("--layers", type=int, default=2)
@click.option("--heads", type=int, default=4)
@click.option("--kv-heads", type=int, default=2)
@click.option("--intermediate", type=int, default=512)
@click.option("--seed", type=int, default=0)
@click.option("--tie-word-embeddings", is_flag=True)
@click.option("--force", is_flag=True, help="replace --out if it exists")
@click.option("--debug", is_flag=True, help="show tracebacks")
def command(
    arch: str,
    tokenizer: str,
    data: str | None,
    out: str,
    hidden_size: int,
    layers: int,
    heads: int,
    kv_heads: int,
    intermediate: int,
    seed: int,
    tie_word_embeddings: bool,
    force: bool,
    debug: bool,
) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    texts = conversation_texts(data) if data else None
    if data and not tokenizer.startswith("bpe"):
        raise UsageError("--data only applies to --tokenizer bpe[:<vocab>]")
    path = make_tiny_model(out, arch, tokenizer, hidden_size, layers, heads, kv_heads, intermediate, seed,
                           tie_word_embeddings, texts=texts, overwrite=force)  # fmt: skip
    click.echo(f"wrote {path}")


def main(argv: list[str] | None = None) -> None:
    run_command(command, argv, "python -m train.tiny")


if __name__ == "__main__":
    main()
