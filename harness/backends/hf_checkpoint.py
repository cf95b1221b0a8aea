"""Finding and loading a Hugging Face checkpoint for the ``transformers`` backend
(:mod:`harness.backends.hf`): a folder, an adapter on its base, or what ``harness build NAME``
recorded; the device and dtype it runs with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.backends.base import BackendUnavailable, ModelNotFound
from harness.errors import UsageError

__all__ = ["default_modelfile", "load_checkpoint", "resolve_checkpoint", "resolve_device"]


def default_modelfile() -> Path:
    """``modelfiles/qwen2.5-react.Modelfile`` as shipped (what ``harness build`` registers)."""
    from harness._util.resources import shipped_file

    return shipped_file("modelfiles", "qwen2.5-react.Modelfile")


def _torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError:
        raise BackendUnavailable(
            "the transformers backend needs torch and transformers: pip install 'react-harness[train]'"
        ) from None
    return torch


def resolve_device(device: str = "auto") -> str:
    torch = _torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device {device!r}: no CUDA device here; use --device cpu")
    return device


def resolve_checkpoint(name: str) -> Path:
    """A checkpoint folder, or the merged checkpoint (else the training output) that
    ``harness build NAME`` recorded in ``builds/NAME/build.json``."""
    p = Path(name).expanduser()
    state = Path("builds") / name / "build.json"
    if p.is_dir() or not state.is_file():
        return p
    steps = json.loads(state.read_text()).get("steps", {})
    for step in ("merge", "sft"):
        for out in steps.get(step, {}).get("outputs", []):
            if Path(out["path"]).is_dir():
                return Path(out["path"])
    return p


def load_checkpoint(path: str | Path, device: str = "auto", dtype: str = "auto") -> tuple[Any, Any, str]:
    """``(model, tokenizer, device)`` for a checkpoint or LoRA adapter folder, in eval mode.

    ``dtype`` ``auto``: float32 on CPU; on CUDA the checkpoint's dtype when it is a half type."""
    torch = _torch()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    p = Path(path).expanduser()
    if not p.is_dir():
        raise ModelNotFound(f"{p}: no such checkpoint folder; give a merged checkpoint or an adapter folder")
    adapter = (p / "adapter_config.json").is_file()
    if not adapter and not (p / "config.json").is_file():
        raise ModelNotFound(f"{p} holds no config.json or adapter_config.json; is it a checkpoint folder?")
    dev = resolve_device(device)
    base = (
        json.loads((p / "adapter_config.json").read_text()).get("base_model_name_or_path") if adapter else p
    )
    if not base:
        raise ModelNotFound(f"{p}/adapter_config.json names no base model (base_model_name_or_path)")
    if dtype == "auto":
        cfg = (
            json.loads((Path(base) / "config.json").read_text())
            if Path(base, "config.json").is_file()
            else {}
        )
        saved = cfg.get("dtype") or cfg.get("torch_dtype")
        dt = getattr(torch, saved) if dev != "cpu" and saved in ("bfloat16", "float16") else torch.float32
    else:
        dt = getattr(torch, dtype)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dt)
        if adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(p))
        tok_dir = p if (p / "tokenizer_config.json").is_file() else Path(base)
        tok = AutoTokenizer.from_pretrained(str(tok_dir))
    except (OSError, ValueError) as e:
        raise ModelNotFound(f"cannot load {p}: {str(e).splitlines()[0]}") from None
    return model.to(dev).eval(), tok, dev
