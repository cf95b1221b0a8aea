"""bench/sft_speed.py runs end to end on a tiny model and prints each loop's tokens/s and ratio."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_sft_speed_prints_every_loop(smoke_data: Path, tiny_base: Path) -> None:
    cmd = [sys.executable, str(REPO / "bench" / "sft_speed.py"), "--base", str(tiny_base)]
    cmd += ["--data", str(smoke_data), "--steps", "1", "--accum", "3", "--plain-batch", "2", "--each-lever"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout
    assert "plain HF loop" in out and "embedding gradient once per step" in out
    assert "shared prefix of" in out and "shared prefix of 0 tokens" not in out
    assert out.count("ratio") == 3, out
