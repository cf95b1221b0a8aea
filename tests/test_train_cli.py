"""Every ``python -m train.<stage>`` runs through the one wrapper (``harness._util.cli.run_command``):
a bad input is one ``error: …`` line on stderr and a non-zero exit, Ctrl-C exits 130 (train.sft
says how to resume), and library logging reaches the console."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import pytest


def _bad_args(stage: str, tmp_path: Path) -> list[str]:
    missing = str(tmp_path / "missing")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("base_model: tiny:qwen2\nepochs: 3\n")
    return {
        "sft": ["--recipe", str(recipe)],
        "merge": ["--adapter", str(tmp_path), "--out", str(tmp_path / "merged")],
        "tiny": ["--tokenizer", "gpt9", "--out", str(tmp_path / "t")],
        "convert": [missing, "--out", str(tmp_path / "x.gguf")],
        "quantize": [missing + ".f16.gguf", "--levels", "q8_0", "--out-dir", str(tmp_path / "q")],
        "data": ["--suite", "no-such-suite", "--out", str(tmp_path / "d")],
        "import_gguf": ["--gguf", missing + ".gguf", "--out", str(tmp_path / "i")],
    }[stage]


STAGES = ["sft", "merge", "tiny", "convert", "quantize", "data", "import_gguf"]


@pytest.mark.parametrize("stage", STAGES)
def test_a_bad_input_is_one_error_line(
    stage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main = importlib.import_module(f"train.{stage}").main
    with pytest.raises(SystemExit) as e:
        main(_bad_args(stage, tmp_path))
    err = capsys.readouterr().err.strip()
    assert e.value.code not in (0, None), err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err


def test_debug_adds_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from train.tiny import main

    with pytest.raises(SystemExit) as e:
        main([*_bad_args("tiny", tmp_path), "--debug"])
    err = capsys.readouterr().err
    assert e.value.code == 1 and "Traceback" in err and err.strip().splitlines()[-1].startswith("error: ")


def test_ctrl_c_in_sft_says_how_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import train.sft

    def interrupted(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(train.sft, "train_sft", interrupted)
    with pytest.raises(SystemExit) as e:
        train.sft.main(["--recipe", str(tmp_path / "r.yaml")])
    assert e.value.code == 130
    assert capsys.readouterr().err.strip() == (
        "interrupted; rerun the same command to resume from the last checkpoint"
    )


def test_sft_options_reach_train_sft(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import train.sft

    calls: list[tuple[object, dict]] = []

    def fake(recipe: object, **kw: object) -> Path:
        calls.append((recipe, kw))
        logging.getLogger("train.sft").info("step 00001/00001 | loss 1.0")
        return tmp_path

    monkeypatch.setattr(train.sft, "train_sft", fake)
    train.sft.main(["--recipe", "r.yaml", "--set", "max_steps=5", "--set", "bf16=false"])
    train.sft.main(["--recipe", "r.yaml", "--resume"])
    train.sft.main(["--recipe", "r.yaml", "--no-resume"])
    assert calls == [
        ("r.yaml", {"resume": None, "overrides": {"max_steps": 5, "bf16": False}}),
        ("r.yaml", {"resume": "auto", "overrides": {}}),
        ("r.yaml", {"resume": False, "overrides": {}}),
    ]
    assert capsys.readouterr().err.count("step 00001/00001 | loss 1.0") == 3  # the console shows the log


@pytest.mark.parametrize("code", [0, 1, 3])
def test_a_commands_exit_code_reaches_the_shell(code: int) -> None:
    """A command that ends with ``click.exceptions.Exit(n)`` (``harness diagnose --gate``) exits n:
    click, outside standalone mode, returns the code rather than raising it."""
    import click

    from harness._util.cli import run_command

    @click.command()
    def gate() -> None:
        raise click.exceptions.Exit(code)

    try:
        run_command(gate, [], "gate")
    except SystemExit as e:
        assert code != 0 and e.code == code
    else:
        assert code == 0
