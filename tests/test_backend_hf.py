"""The ``transformers`` backend: Modelfile prompts byte-identical to the embedded backend's, the
same token ids, greedy replies equal to llama.cpp's on an F32 GGUF, Ollama-style stops, usage
figures, KV reuse, truncation, sampling, and a LoRA adapter served unmerged through peft."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("llama_cpp")

from harness.agent.protocol import SYSTEM_PROMPT, build_messages
from harness.backends.base import ChatOptions, ModelNotFound
from harness.backends.hf import HFBackend, sample
from harness.backends.registry import create_backend

INTRO = "You are in the middle of a room. Looking quickly around you, you see a cabinet 1 and a desk 1.\n\nYour task is to: put a mug in desk."


def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2 (bpe:512 tokenizer, ChatML) with weights scaled up so its next-token
    distributions are sharp; built once per session under the shared base temp folder."""
    out = tmp_path_factory.getbasetemp() / "tiny-sharp"
    if (out / "model.safetensors").exists():
        return out
    import torch
    from transformers import AutoModelForCausalLM

    from train.tiny import make_tiny_model

    make_tiny_model(out, arch="qwen2", tokenizer="bpe:512", overwrite=True)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 2:
                p.mul_(5.0)
            else:
                p.add_(torch.randn_like(p) * 0.2)
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory)


@pytest.fixture(scope="module")
def hf(tiny: Path) -> HFBackend:
    be = create_backend("transformers", model=str(tiny))
    assert isinstance(be, HFBackend)
    return be


@pytest.fixture(scope="module")
def cpp(tiny: Path, hf: HFBackend, tmp_path_factory: pytest.TempPathFactory):
    from harness.backends.llamacpp import LlamaCppBackend
    from train.convert import convert

    gguf = convert(tiny, tmp_path_factory.mktemp("gguf") / "tiny.f32.gguf", "f32").path
    be = LlamaCppBackend(gguf=gguf, modelfile=hf.modelfile)
    yield be
    be.close()


def _msgs(turns: int = 0) -> list[dict[str, str]]:
    history = [("go to desk 1", "On the desk 1, you see a mug 1.")] * turns
    return build_messages(INTRO, history, system=SYSTEM_PROMPT)


def test_prompt_text_and_ids_match_the_embedded_backend(hf: HFBackend, cpp) -> None:
    assert hf.template == "modelfile" and hf.device == "cpu" and hf.name == "transformers"
    for msgs in (_msgs(0), _msgs(3)):
        text = hf.render_prompt(msgs)
        assert text == cpp.render_prompt(msgs) and text.endswith("<|im_start|>assistant\n")
        assert hf.tokenize(text) == cpp.tokenize(text)
    assert hf.eog_ids == {hf.tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")}
    assert len(hf.digest() or "") == 64


def test_greedy_replies_equal_llamacpp_on_f32(hf: HFBackend, cpp) -> None:
    for msgs in (_msgs(0), _msgs(2)):
        a = hf.chat(msgs, ChatOptions(num_predict=12))
        b = cpp.chat(msgs, ChatOptions(num_predict=12))
        assert (a.text, a.eval_count, a.done_reason) == (b.text, b.eval_count, b.done_reason)
        assert a.prompt_tokens == b.prompt_tokens


def test_usage_kv_reuse_and_lengths(hf: HFBackend, tiny: Path) -> None:
    fresh = HFBackend(path=tiny, reuse_kv=False)
    first = hf.chat(_msgs(1), ChatOptions(num_predict=6))
    again = hf.chat(_msgs(2), ChatOptions(num_predict=6))
    assert first.done_reason in ("length", "stop") and first.eval_count <= 6
    assert again.prompt_eval_count is not None and again.prompt_eval_count < again.prompt_tokens
    ref = fresh.chat(_msgs(2), ChatOptions(num_predict=6))
    assert ref.text == again.text and ref.prompt_eval_count == ref.prompt_tokens
    short = hf.chat(_msgs(0), ChatOptions(num_predict=2, stop=["\x00"]))
    assert short.done_reason == "length" and short.eval_count == 2
    cut = hf.chat(_msgs(4), ChatOptions(num_predict=4, num_ctx=96))
    assert cut.truncated and cut.prompt_tokens < 96


def test_stop_strings_and_end_of_generation(hf: HFBackend) -> None:
    full = hf.chat(_msgs(0), ChatOptions(num_predict=24, stop=["\x00"]))
    assert len(full.text) >= 8, full.text
    stop = full.text[5:8]
    k = full.text.find(stop)
    res = hf.chat(_msgs(0), ChatOptions(num_predict=24, stop=[stop]))
    assert res.text == full.text[:k] and res.done_reason == "stop"
    pieces = list(hf.stream_chat(_msgs(0), ChatOptions(num_predict=24, stop=[stop])))
    assert "".join(pieces) == res.text and not any(stop in p for p in pieces)
    first = hf.tokenize(hf.render_prompt(_msgs(0)))
    eog, hf.eog_ids = hf.eog_ids, {int(np.argmax(hf.logits(first)[-1]))}
    try:
        ended = hf.chat(_msgs(0), ChatOptions(num_predict=24))
    finally:
        hf.eog_ids = eog
    assert ended.text == "" and ended.done_reason == "stop" and ended.eval_count == 1


def test_sampler_penalties_and_seeds() -> None:
    import torch

    opts = {"repeat_last_n": 64, "repeat_penalty": 1.0, "frequency_penalty": 0.0, "presence_penalty": 0.0,
            "temperature": 0.0, "top_k": 40, "top_p": 0.9, "min_p": 0.0}  # fmt: skip
    x = torch.tensor([2.0, 1.9, -1.0, 0.5])
    gen = torch.Generator().manual_seed(0)
    assert sample(x, [], opts, gen) == 0
    assert sample(x, [0], {**opts, "repeat_penalty": 2.0}, gen) == 1  # 2.0 / 2 < 1.9
    assert sample(x, [0, 0], {**opts, "frequency_penalty": 0.1}, gen) == 1
    hot = {**opts, "temperature": 1.0, "top_k": 0, "top_p": 1.0}
    draws = [sample(x, [], hot, torch.Generator().manual_seed(s)) for s in range(40)]
    assert draws == [sample(x, [], hot, torch.Generator().manual_seed(s)) for s in range(40)]
    assert len(set(draws)) > 1
    assert {sample(x, [], {**hot, "top_k": 1}, torch.Generator().manual_seed(s)) for s in range(10)} == {0}


def test_lora_adapter_is_served_unmerged(tiny: Path, tmp_path: Path, hf: HFBackend) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
    torch.manual_seed(1)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft_model = get_peft_model(base, cfg)
    peft_model.save_pretrained(tmp_path / "adapter")
    merged = peft_model.merge_and_unload().eval()
    be = HFBackend(path=tmp_path / "adapter")
    assert type(be.hf).__name__.startswith("Peft")
    ids = hf.tokenize(hf.render_prompt(_msgs(1)))
    with torch.no_grad():
        want = merged(torch.tensor([ids])).logits[0].numpy()
    got = be.logits(ids)
    assert np.abs(got - want).max() < 1e-3
    assert np.abs(got - hf.logits(ids)).max() > 1e-2  # the adapter changes the model
    r = be.chat(_msgs(0), ChatOptions(num_predict=4))  # generates: 4 tokens, or fewer and a stop
    assert r.text and (r.eval_count == 4 or (r.eval_count < 4 and r.done_reason == "stop"))


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="no such checkpoint folder"):
        HFBackend(path=tmp_path / "nope")
    with pytest.raises(ModelNotFound, match=r"no config\.json"):
        HFBackend(path=tmp_path)


def test_bench_runs_on_the_transformers_backend(tiny: Path, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from harness.cli import cli

    out = tmp_path / "run"
    args = ["bench", str(tiny), "--backend", "transformers", "--suite", "synthetic-smoke", "--limit", "1",
            "--max-steps", "2", "--num-predict", "8", "--out", str(out)]  # fmt: skip
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    assert res["run"]["backend"] == "transformers" and len(res["episodes"]) == 1


def test_a_build_name_resolves_to_its_merged_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from harness.backends.hf import resolve_checkpoint

    merged = tmp_path / "elsewhere" / "merged"
    merged.mkdir(parents=True)
    (tmp_path / "builds" / "tb").mkdir(parents=True)
    steps = {"merge": {"outputs": [{"path": str(merged), "sha256": "x"}]}}
    (tmp_path / "builds" / "tb" / "build.json").write_text(json.dumps({"version": 1, "steps": steps}))
    monkeypatch.chdir(tmp_path)
    assert resolve_checkpoint("tb") == merged
    assert resolve_checkpoint("other") == Path("other")
