"""``train.tiny`` checkpoints and ``train.merge``: merged logits equal base + adapter, lineage,
atomic output."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from train.recipe import recipe_from_dict
from train.tiny import TinyModelError, make_tiny_model, round_up


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, smoke_data: Path, bpe: Any) -> dict[str, Path]:
    """A tiny base, a LoRA adapter (+ trained lm_head) and a full fine-tune, a few steps each."""
    from train.sft import train_sft

    root = tmp_path_factory.mktemp("merge")
    base = make_tiny_model(root / "base", "qwen2", bpe, seed=1)
    common = {
        "base_model": str(base),
        "dataset_dir": str(smoke_data),
        "cutoff_len": 320,
        "gradient_accumulation_steps": 1,
        "max_steps": 2,
        "eval_dataset": None,
        "learning_rate": 1e-2,
        "warmup_ratio": 0.0,
    }
    lora = recipe_from_dict({**common, "output_dir": str(root / "lora"), "modules_to_save": ["lm_head"]})
    full = recipe_from_dict(
        {**common, "output_dir": str(root / "full"), "lora": False, "learning_rate": 3e-3}
    )
    return {
        "base": base,
        "lora": train_sft(lora, log=lambda s: None),
        "full": train_sft(full, log=lambda s: None),
    }


def logits(model: Any, ids: list[int]) -> Any:
    import torch

    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0]


# ------------------------------------------------------------------------------ tiny models
def test_tiny_model_is_faithful_and_deterministic(tmp_path: Path, bpe: Any) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    a = make_tiny_model(tmp_path / "a", "qwen2", bpe, seed=3)
    b = make_tiny_model(tmp_path / "b", "qwen2", bpe, seed=3)
    c = make_tiny_model(tmp_path / "c", "qwen2", bpe, seed=4)
    assert sha(a / "model.safetensors") == sha(b / "model.safetensors") != sha(c / "model.safetensors")
    cfg = json.loads((a / "config.json").read_text())
    assert cfg["architectures"] == ["Qwen2ForCausalLM"]
    assert cfg["rope_parameters"]["rope_theta"] == 1e6
    assert cfg["vocab_size"] == round_up(len(bpe), 64) and cfg["vocab_size"] % 64 == 0
    assert cfg["hidden_size"] % 256 == 0 and cfg["intermediate_size"] % 256 == 0
    model = AutoModelForCausalLM.from_pretrained(a)
    names = {n for n, _ in model.named_parameters()}
    assert {"model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.k_proj.bias"} <= names
    assert "lm_head.weight" in names and not cfg["tie_word_embeddings"]
    tok = AutoTokenizer.from_pretrained(a)
    assert tok.chat_template and tok.eos_token == "<|im_end|>"
    gen = GenerationConfig.from_pretrained(a)
    assert tok.convert_tokens_to_ids("<|im_end|>") in gen.eos_token_id

    llama = make_tiny_model(tmp_path / "l", "llama", bpe, tie_word_embeddings=True)
    lcfg = json.loads((llama / "config.json").read_text())
    assert lcfg["architectures"] == ["LlamaForCausalLM"] and lcfg["tie_word_embeddings"]
    with pytest.raises(TinyModelError, match="multiple of 256"):
        make_tiny_model(tmp_path / "x", "qwen2", bpe, hidden_size=320)
    with pytest.raises(TinyModelError, match="already exists"):
        make_tiny_model(a, "qwen2", bpe)
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".*"))


def test_tiny_cli(tmp_path: Path, smoke_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from train.tiny import main

    main(
        ["--arch", "llama", "--tokenizer", "bpe:600", "--data", str(smoke_data), "--out", str(tmp_path / "m")]
    )
    assert (tmp_path / "m" / "model.safetensors").is_file()
    with pytest.raises(SystemExit) as e:
        main(["--tokenizer", "gpt9", "--out", str(tmp_path / "n")])
    assert e.value.code == 1 and "unknown tokenizer 'gpt9'" in capsys.readouterr().err


# ------------------------------------------------------------------------------ merge
def test_merged_logits_equal_base_plus_adapter(trained: dict[str, Path], tmp_path: Path, bpe: Any) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.merge import merge

    out = merge(trained["lora"], tmp_path / "merged")
    ids = bpe("go to countertop 1\nYou pick up the mug 2 from the countertop 1.")["input_ids"]
    base = AutoModelForCausalLM.from_pretrained(trained["base"]).eval()
    plain = logits(base, ids)
    peft = PeftModel.from_pretrained(base, str(trained["lora"])).eval()
    with_adapter = logits(peft, ids)
    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    assert not any("lora" in n for n, _ in merged.named_parameters())
    torch.testing.assert_close(logits(merged, ids), with_adapter, atol=1e-5, rtol=1e-5)
    assert (with_adapter - plain).abs().max() > 1e-3  # the adapter did change something
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.chat_template and (out / "generation_config.json").is_file()
    assert json.loads((out / "config.json").read_text())["use_cache"] is True


def test_lineage(trained: dict[str, Path], tmp_path: Path, smoke_data: Path) -> None:
    from train.merge import merge

    out = merge(trained["lora"], tmp_path / "merged")
    lin = json.loads((out / "lineage.json").read_text())
    assert lin["version"] == 1 and lin["method"] == "lora-merge"
    datetime.fromisoformat(lin["created"])
    assert lin["base"]["path"] == str(trained["base"])
    assert lin["base"]["weights_sha256"] == {"model.safetensors": sha(trained["base"] / "model.safetensors")}
    assert lin["adapter"]["sha256"] == {
        "adapter_model.safetensors": sha(trained["lora"] / "adapter_model.safetensors")
    }
    assert lin["data"]["train"]["sha256"] == sha(smoke_data / "react_train_sharegpt.json")
    assert lin["recipe"]["base_model"] == str(trained["base"]) and lin["recipe"]["lora_r"] == 16
    assert lin["train"]["step"] == 2
    assert {"torch", "transformers", "peft"} <= set(lin["versions"])
    assert lin["weights_sha256"] == {"model.safetensors": sha(out / "model.safetensors")}


def test_merge_full_finetune(trained: dict[str, Path], tmp_path: Path, bpe: Any) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from train.merge import merge

    out = merge(trained["full"], tmp_path / "merged")
    ids = bpe("think: the mug is in the fridge")["input_ids"]
    a = logits(AutoModelForCausalLM.from_pretrained(trained["full"]), ids)
    torch.testing.assert_close(logits(AutoModelForCausalLM.from_pretrained(out), ids), a, atol=1e-6, rtol=0)
    lin = json.loads((out / "lineage.json").read_text())
    assert lin["method"] == "full-finetune" and lin["base"]["path"] == str(trained["base"])


def test_merge_is_atomic(trained: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import train.merge
    from train.merge import MergeError, merge

    real = train.merge.weight_hashes

    def boom(path: Any) -> dict[str, str]:  # Ctrl-C while the merged folder is being filled
        if ".tmp" in str(path):
            raise KeyboardInterrupt
        return real(path)

    monkeypatch.setattr(train.merge, "weight_hashes", boom)
    with pytest.raises(KeyboardInterrupt):
        merge(trained["full"], tmp_path / "merged")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    with pytest.raises(MergeError, match=r"no adapter_config\.json"):
        merge(tmp_path, tmp_path / "x")


@pytest.mark.slow
def test_llama_tied_lora_merge(tmp_path: Path, smoke_data: Path, bpe: Any) -> None:
    """llama architecture with tied embeddings (SmolLM2's layout) through LoRA → merge."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from train.merge import merge
    from train.sft import train_sft

    base = make_tiny_model(tmp_path / "base", "llama", bpe, layers=3, tie_word_embeddings=True, seed=2)
    r = recipe_from_dict(
        {
            "base_model": str(base),
            "dataset_dir": str(smoke_data),
            "output_dir": str(tmp_path / "run"),
            "max_steps": 4,
            "learning_rate": 1e-2,
            "gradient_accumulation_steps": 1,
            "packing": True,
            "cutoff_len": 1024,
        }
    )
    out = merge(train_sft(r, log=lambda s: None), tmp_path / "merged")
    ids = bpe("open drawer 1\nYou open the drawer 1. The drawer 1 is open.")["input_ids"]
    peft = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base), str(tmp_path / "run/adapter")
    )
    torch.testing.assert_close(
        logits(AutoModelForCausalLM.from_pretrained(out), ids), logits(peft.eval(), ids), atol=1e-5, rtol=1e-5
    )
    assert json.loads((out / "config.json").read_text())["tie_word_embeddings"] is True
