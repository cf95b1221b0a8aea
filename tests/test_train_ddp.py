"""Multi-process training: ``torchrun --nproc_per_node 2 -m train.sft`` (DDP over gloo on CPU)
trains the same weights as one process on the same global batch, and only rank 0 logs and
writes checkpoints and the model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_train import step_losses, tiny_recipe

REPO = Path(__file__).resolve().parent.parent


def _recipe(path: Path, data: Path, base: Path, out: Path, accumulation: int) -> Path:
    # 4 rows, global batch 2: two steps an epoch, and step 3 starts the reshuffled second epoch.
    # (Rows that cannot be split evenly over the processes are left out of a multi-process
    # epoch, as DistributedSampler(drop_last=True) does; a round number keeps the comparison exact.)
    r = tiny_recipe(data, base, out, per_device_batch_size=1, gradient_accumulation_steps=accumulation,
                    max_train_samples=4, max_steps=3, save_steps=2, save_total_limit=1, eval_steps=3,
                    max_eval_samples=4, bf16=False, fp16=False)  # fmt: skip
    path.write_text(r.to_yaml())
    return path


def _train(recipe: Path, nproc: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    if nproc == 1:
        cmd = [sys.executable, "-m", "train.sft", "--recipe", str(recipe)]
    else:  # torchrun as installed beside this interpreter
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "train.sft", "--recipe", str(recipe)]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)


def test_two_processes_train_like_one_on_the_same_global_batch(
    smoke_data: Path, tiny_base: Path, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    one = _train(_recipe(tmp_path / "one.yaml", smoke_data, tiny_base, tmp_path / "one", 2), 1)
    assert one.returncode == 0, one.stderr[-3000:]
    two = _train(_recipe(tmp_path / "two.yaml", smoke_data, tiny_base, tmp_path / "two", 1), 2)
    assert two.returncode == 0, two.stderr[-3000:]

    def steps(out: str) -> list[str]:
        return [ln for ln in out.splitlines() if ln.startswith("step ")]

    # rank 0 alone logs (on stderr, where the console log goes): one line per step, with the
    # global batch of 1 x 1 x 2 = 2
    assert [ln[:10] for ln in steps(two.stderr)] == ["step 00001", "step 00002", "step 00003"]
    assert "batch 1x1x2" in two.stderr and "batch 1x2x1" in one.stderr
    assert two.stderr.count("eval  00003") == 1 and two.stderr.count("wrote ") == 1

    assert step_losses(two.stderr.splitlines()) == pytest.approx(
        step_losses(one.stderr.splitlines()), rel=1e-3, abs=1e-4
    )
    wa = load_file(tmp_path / "one" / "model" / "model.safetensors")
    wb = load_file(tmp_path / "two" / "model" / "model.safetensors")
    assert wa.keys() == wb.keys()
    moved = 0
    base = load_file(tiny_base / "model.safetensors")
    for k in wa:
        # the same arithmetic summed in other orders (the all-reduce; one process runs its step
        # through accumulate(): shared prefix, embedding gradient once per step). Adam scales each
        # element's step by its own gradient's size, so a near-zero element whose rounding
        # differs moves by a visible fraction of the learning rate: 1e-4, not 2e-5
        torch.testing.assert_close(wa[k], wb[k], atol=1e-4, rtol=1e-4)
        moved += k in base and not torch.equal(base[k], wa[k])
    assert moved > 0  # the weights trained: equal results are not two untouched copies
    # one checkpoint folder (save_total_limit 1), written once; no temp folders left by rank 1
    assert [p.name for p in (tmp_path / "two").glob("checkpoint-*")] == ["checkpoint-3"]
    assert not [p for p in (tmp_path / "two").iterdir() if p.name.startswith(".")]
