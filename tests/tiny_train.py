"""Helpers of the train-stage tests: a recipe for the tiny model on exported conversations,
and the losses read back from ``train.sft``'s step lines. (The tiny model and data are
fixtures in conftest.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from train.recipe import Recipe, recipe_from_dict


def tiny_recipe(data: Path, base: Path, out: Path, **kw: Any) -> Recipe:
    fields: dict[str, Any] = {
        "base_model": str(base),
        "dataset_dir": str(data),
        "output_dir": str(out),
        "lora": False,
        "learning_rate": 3e-3,
        "warmup_ratio": 0.0,
        "lr_scheduler": "constant",
        "cutoff_len": 320,
        "per_device_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "max_steps": 6,
        "save_steps": 100,
        "eval_steps": 100,
        "max_eval_samples": 2,
        "eval_before": False,
    }
    return recipe_from_dict({**fields, **kw})


def step_losses(lines: list[str]) -> list[float]:
    return [float(ln.split("| loss ")[1].split()[0]) for ln in lines if ln.startswith("step ")]
