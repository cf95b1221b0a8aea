"""Model side of ``train.sft``: precision, the base checkpoint (or a tiny one built on the
spot), LoRA / QLoRA / full fine-tuning setup."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from train.recipe import Recipe, RecipeError

TINY_KEYS = ("hidden_size", "layers", "heads", "kv_heads", "intermediate", "seed", "tie_word_embeddings")


class SFTError(HarnessError):
    """Training cannot start or continue (hardware, checkpoints, model)."""


def cpu_bf16_pays(hidden: int = 576, inner: int = 1536, rows: int = 256, reps: int = 3) -> tuple[bool, str]:
    """Whether bf16 autocast runs a transformer's matrix products faster than fp32 on this CPU,
    and the timing that says so: the best of ``reps`` forward+backward passes of one MLP block
    (SmolLM2's widths by default) each way, bf16 chosen when it takes under 0.8 of fp32's time.
    On a 2-core AMD EPYC with AVX512-BF16 bf16 ran a training step ~1.4x faster; on a 2-core Xeon
    with AMX it was 3-6x slower (issue notes), hence a measurement and not a CPU flag. Runs in
    well under a second and leaves the global random state alone."""
    import time

    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    w1 = (torch.randn(inner, hidden, generator=g) * 0.02).requires_grad_()
    w2 = (torch.randn(hidden, inner, generator=g) * 0.02).requires_grad_()
    x = torch.randn(rows, hidden, generator=g).requires_grad_()

    def best(bf16: bool) -> float:
        times = []
        for _ in range(reps + 1):  # the first warms up
            t = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                y = F.linear(F.silu(F.linear(x, w1)), w2)
            y.float().square().mean().backward()
            times.append(time.perf_counter() - t)
        return min(times[1:])

    fp32 = best(False)
    try:
        bf16 = best(True)
    except RuntimeError as e:  # a torch build without CPU bf16 kernels: fp32, and say why
        return False, f"bf16 failed on this CPU ({str(e).splitlines()[0][:80]})"
    return bf16 < 0.8 * fp32, f"one MLP block, fp32 {fp32 * 1e3:.1f} ms, bf16 {bf16 * 1e3:.1f} ms"


def mixed_precision(r: Recipe, cuda: bool) -> tuple[str, str]:
    """``bf16`` / ``fp16`` / ``no`` from the recipe's bf16 and fp16 (``auto``: bf16 on GPUs that
    have it, else fp16 on CUDA, fp32 on CPU; ``bf16: if_faster``: on a CPU too, where
    :func:`cpu_bf16_pays`), and why (for the log)."""
    import torch

    if r.bf16 is True and r.fp16 is True:
        raise RecipeError("bf16 and fp16 are both true; choose one")
    if r.fp16 is True and not cuda:
        raise SFTError("fp16: true needs a CUDA GPU; use bf16: auto (fp32 on CPU)")
    if r.bf16 is True:
        return "bf16", "bf16: true"
    if r.bf16 in ("auto", "if_faster") and r.fp16 is not True:
        if cuda and torch.cuda.is_bf16_supported():
            return "bf16", "the GPU has bf16"
        if not cuda and r.bf16 == "if_faster":
            if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # torchrun / accelerate launch
                # each process would time its own share of the CPU and could choose apart
                return "no", "bf16: if_faster, fp32 with several processes"
            pays, timing = cpu_bf16_pays()
            return ("bf16" if pays else "no"), f"bf16: if_faster, {timing}"
    if r.fp16 is True or (r.fp16 == "auto" and cuda):
        return "fp16", "fp16 on CUDA"
    return "no", "fp32"


def prepare_base(r: Recipe, out: Path, train_convs: list[list[dict[str, str]]]) -> str:
    """The base checkpoint to load: the recipe's path/hub id, or a tiny model built once."""
    if r.base_model.startswith("gguf:"):
        from train.import_gguf import import_gguf

        return str(import_gguf(r.base_model.split(":", 1)[1], out / "base"))
    if not r.is_tiny:
        p = Path(r.base_model).expanduser()
        return str(p.resolve()) if p.exists() else r.base_model
    from train.tiny import make_tiny_model

    base = out / "base"
    if (base / "config.json").is_file():
        return str(base)
    unknown = sorted(set(r.tiny) - set(TINY_KEYS))
    if unknown:
        raise RecipeError(f"tiny: unknown key {unknown[0]!r} (known: {', '.join(TINY_KEYS)})")
    texts = [f"{m['role']}\n{m['content']}" for conv in train_convs for m in conv]
    make_tiny_model(base, r.base_model.split(":", 1)[1], r.tokenizer or "qwen2.5", texts=texts, **r.tiny)
    return str(base)


def freeze_bottom(model: Any, n: int) -> None:
    """Fix the input embeddings and the first ``n`` decoder layers (no gradients, no optimizer
    state): backward ends at layer ``n``. An output head tied to the embeddings stays fixed too."""
    if n <= 0:
        return
    layers = getattr(getattr(model, "model", None), "layers", None)
    if layers is None:
        raise RecipeError(f"freeze_layers: {type(model).__name__} has no model.layers to freeze")
    if n >= len(layers):
        raise RecipeError(f"freeze_layers: {n} would freeze all {len(layers)} layers")
    for module in (model.get_input_embeddings(), *layers[:n]):
        for p in module.parameters():
            p.requires_grad_(False)


def load_model(r: Recipe, base: str, mp: str, cuda: bool, device_index: int) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {}
    if r.attn_implementation:
        kwargs["attn_implementation"] = r.attn_implementation
    half = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mp)
    dtype = half if (r.lora and cuda and half is not None) else torch.float32
    if r.quantization == "4bit":
        if not cuda:
            raise SFTError(
                "quantization: 4bit (QLoRA) needs a CUDA GPU; set quantization: null for plain LoRA"
            )
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise SFTError("quantization: 4bit needs bitsandbytes: pip install bitsandbytes") from None
        from transformers import BitsAndBytesConfig

        dtype = half or torch.bfloat16
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        kwargs["device_map"] = {"": device_index}
    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype, **kwargs)
    except OSError as e:
        raise SFTError(f"cannot load base model {base!r}: {e}".splitlines()[0]) from None
    model.config.use_cache = False
    if r.quantization == "4bit":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=r.gradient_checkpointing)
    elif r.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if r.lora:
            model.enable_input_require_grads()
    if not r.lora:
        freeze_bottom(model, r.freeze_layers)
        return model
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(
        r=r.lora_r,
        lora_alpha=r.lora_alpha,
        lora_dropout=r.lora_dropout,
        target_modules=r.lora_target,
        modules_to_save=r.modules_to_save,
        task_type="CAUSAL_LM",
    )
    try:
        with warnings.catch_warnings():  # peft calls a transformers API deprecated in v5
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return get_peft_model(model, cfg)
    except ValueError as e:
        raise RecipeError(f"lora_target/modules_to_save: {e}".splitlines()[0]) from None
