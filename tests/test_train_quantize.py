"""``train.quantize``: every no-imatrix llama.cpp level on tiny converted models.

Each level's file loads in llama.cpp and generates; sizes shrink as the levels go down; a model
whose rows do not divide by 256 (hidden 320) gets the fallback note, one that does (256) never
does; bad levels and bad sources are one clear line. Needs llama-cpp-python (skips without it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("llama_cpp")

import itertools

from harness._util.atomic import sha256_file
from train.convert import convert
from train.quantize import (
    DEFAULT_LEVELS,
    LEVELS,
    QuantizeError,
    main,
    parse_levels,
    quantize,
    quantize_all,
    tensor_table,
)


def tiny_f16(root: Path, hidden: int, tied: bool) -> Path:
    """A seeded random qwen2 model at ``hidden``, converted to F16."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from train.tokenizer import train_bpe_tokenizer

    tok = train_bpe_tokenizer(["go to the countertop 1, take mug 2 from it, open the fridge"] * 20, 300)
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=hidden // 64,
        num_key_value_heads=1,
        tie_word_embeddings=tied,
        max_position_embeddings=512,
    )
    Qwen2ForCausalLM(config).save_pretrained(root / "hf")
    tok.save_pretrained(root / "hf")
    return convert(root / "hf", root / f"tiny{hidden}.f16.gguf", "f16").path


@pytest.fixture(scope="module")
def f16_256(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_f16(tmp_path_factory.mktemp("q256"), 256, tied=False)


@pytest.fixture(scope="module")
def f16_320(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_f16(tmp_path_factory.mktemp("q320"), 320, tied=True)


@pytest.fixture(scope="module")
def all_levels(f16_256: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("levels")
    return {r.level: r for r in quantize_all(f16_256, list(LEVELS), out, nthread=2)}


def test_every_level_loads_generates_and_needs_no_fallback(all_levels: dict[str, Any]) -> None:
    from llama_cpp import Llama

    assert set(all_levels) == set(LEVELS)
    for level, r in all_levels.items():
        assert r.path.name == f"tiny256.{level}.gguf"
        assert r.fallback == [] and r.note is None, (level, r.types)
        assert set(r.types) <= LEVELS[level]
        assert r.sha256 == sha256_file(r.path) and r.size == r.path.stat().st_size
        llm = Llama(str(r.path), n_ctx=64, n_threads=2, verbose=False)
        out = llm.create_completion("go to the", max_tokens=4, temperature=0)
        assert out["usage"]["completion_tokens"] >= 1, level
        llm.close()


def test_sizes_and_bits_shrink_with_the_level(all_levels: dict[str, Any]) -> None:
    order = DEFAULT_LEVELS.split(",")
    sizes = [all_levels[lv].size for lv in order]
    assert sizes == sorted(sizes, reverse=True), dict(zip(order, sizes, strict=True))
    main_steps = ["q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k"]
    bits = [all_levels[lv].bpw for lv in main_steps]
    assert all(a > b for a, b in itertools.pairwise(bits)), dict(zip(main_steps, bits, strict=True))
    assert 8.4 < all_levels["q8_0"].bpw < 8.6  # 34 bytes per 32 weights, norms aside
    assert all_levels["q4_0"].bpw < 5.5 and all_levels["q2_k"].bpw < 4


def test_k_quant_fallback_is_reported(f16_320: Path, tmp_path: Path) -> None:
    r = quantize(f16_320, "q4_k_m", tmp_path / "m.q4_k_m.gguf", nthread=2)
    assert r.fallback and {t for _, t, _ in r.fallback} <= {"Q5_0", "Q5_1", "Q8_0"}
    assert "not a multiple of 256" in (r.note or "") and "320" in (r.note or "")
    assert "note:" in r.line()
    # the file says so too: no k-quant type where the rows are 320 wide
    types = {name: t for name, _, t in tensor_table(r.path)}
    assert types["blk.0.ffn_up.weight"] not in {"Q4_K", "Q5_K", "Q6_K"}
    q8 = quantize(f16_320, "q8_0", tmp_path / "m.q8_0.gguf", nthread=2)
    assert q8.fallback == [] and q8.note is None  # 320 divides by Q8_0's 32


def test_header_reader_matches_gguf_py(f16_256: Path, all_levels: dict[str, Any]) -> None:
    """The project's one GGUF header reader (harness.serving.gguf_info) lists the same tensors,
    shapes and types as gguf-py's GGUFReader, for the float file and every quantized level."""
    from gguf import GGUFReader

    for path in [f16_256, *(r.path for r in all_levels.values())]:
        want = [
            (t.name, tuple(int(d) for d in t.shape), t.tensor_type.name)
            for t in GGUFReader(str(path)).tensors
        ]
        assert tensor_table(path) == want and want, path.name


def test_unknown_level_lists_the_valid_ones(f16_256: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(QuantizeError, match="q4_k_m"):
        parse_levels("q4_k_x")
    with pytest.raises(QuantizeError, match="unknown quantization level iq2_xxs"):
        quantize(f16_256, "iq2_xxs", tmp_path / "x.gguf")  # needs an importance matrix
    assert parse_levels("all") == list(LEVELS) and parse_levels("Q4_K_M, q8_0") == ["q4_k_m", "q8_0"]
    with pytest.raises(SystemExit) as exit_info:
        main([str(f16_256), "--levels", "q4_0,q9", "--out-dir", str(tmp_path)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown quantization level q9; valid: q8_0") and "\n" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("source", ["missing", "not-gguf", "quantized", "truncated"])
def test_bad_source_is_one_clear_line(f16_256: Path, all_levels, tmp_path: Path, source: str) -> None:
    src = {"missing": tmp_path / "nope.gguf", "quantized": all_levels["q8_0"].path}.get(source)
    if src is None:
        src = tmp_path / "fake.gguf"
        data = f16_256.read_bytes()
        src.write_bytes(data[: len(data) // 2] if source == "truncated" else b"not a gguf, just text")
    message = {
        "missing": "does not exist",
        "not-gguf": "not a readable GGUF",
        "quantized": "already quantized",
        "truncated": "fake.gguf is not a readable GGUF file: truncated GGUF",
    }
    with pytest.raises(QuantizeError, match=message[source]):
        quantize(src, "q4_0", tmp_path / "out" / "x.gguf")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_cli_prints_a_line_per_level(f16_256: Path, tmp_path: Path, capsys) -> None:
    main([str(f16_256), "--levels", "q8_0,q4_k_m", "--out-dir", str(tmp_path), "--threads", "2"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ["q8_0", "q4_k_m"]
    assert all("bpw" in ln and "MB" in ln and "sha256" in ln for ln in lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny256.q4_k_m.gguf", "tiny256.q8_0.gguf"]
