"""One optimizer step's arithmetic for ``train.sft``: the causal-LM loss at supervised
positions (optionally turn-weighted) and ``accumulate``, which runs a step's micro-batches with
the work they share done once (a common prefix, the input embedding's gradient)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from train.recipe import Recipe
from train.sft_data import IGNORE


def turn_weights(shifted: Any, head_tokens: int, head_weight: float) -> Any:
    """Per-position loss weights for next-token labels ``shifted`` (rows × positions, IGNORE where
    unsupervised): ``head_weight`` on the first ``head_tokens`` labels of every run of supervised
    labels (an assistant turn: user and system tokens between turns are unsupervised), 1 on the
    others, 0 where unsupervised."""
    import torch

    sup = shifted != IGNORE
    idx = torch.arange(sup.shape[1], device=sup.device).expand_as(sup)
    prev = torch.zeros_like(sup)
    prev[:, 1:] = sup[:, :-1]
    starts = torch.where(sup & ~prev, idx, torch.zeros_like(idx))
    run_start = torch.cummax(starts, dim=1).values
    head = sup & (idx - run_start < head_tokens)
    return sup.float() + head.float() * (head_weight - 1.0)


def causal_lm_loss(
    model: Any,
    batch: dict[str, Any],
    denom: float,
    supervised_head: bool = True,
    head: tuple[int, float] | None = None,
) -> Any:
    """Summed next-token cross-entropy over the supervised labels, divided by ``denom``.

    ``head``: (tokens, weight), weigh each token by :func:`turn_weights` (``denom`` is then the
    sum of the weights); needs ``supervised_head``.

    ``supervised_head``: the model's output head runs only at the positions whose next token is
    supervised in some row of the batch (``logits_to_keep`` with their indices), instead of at
    every token. With a 49k-token vocabulary the head and its softmax are a large share of the
    work, and the assistant tokens are a small share of a ReAct conversation. The loss and the
    gradients are the same as the full-logits loss (tests/test_train_sft.py checks it).
    """
    import torch.nn.functional as F

    if not supervised_head:
        if head is not None:
            raise ValueError("a weighted loss needs supervised_head")
        return model(**batch, num_items_in_batch=denom, use_cache=False).loss
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    shifted = batch["labels"][:, 1:]
    keep = (shifted != IGNORE).any(dim=0).nonzero().squeeze(1)
    logits = model(**inputs, logits_to_keep=keep, use_cache=False).logits
    target = shifted[:, keep]
    per_token = F.cross_entropy(
        logits.float().flatten(0, 1), target.flatten(), ignore_index=IGNORE, reduction="none"
    )
    if head is not None:
        per_token = per_token * turn_weights(shifted, *head)[:, keep].flatten()
    return per_token.sum() / denom


def shared_prefix_len(batches: list[dict[str, Any]], min_tokens: int = 8) -> int:
    """How many leading tokens every batch (one unpadded conversation each) has in common and
    supervises none of (no label among the first ``n + 1`` tokens: the last prefix position
    predicts the suffix's first token, and the suffix forward does not compute it); 0 when there
    is nothing to share (fewer than 2 batches, a batch of several rows, fewer than ``min_tokens``)."""
    if len(batches) < 2 or any(b["input_ids"].shape[0] != 1 for b in batches):
        return 0
    first = batches[0]["input_ids"][0]
    n = min(b["input_ids"].shape[1] for b in batches) - 1  # leave every suffix a token
    for b in batches[1:]:
        differ = (b["input_ids"][0, :n] != first[:n]).nonzero()
        n = min(n, int(differ[0]) if len(differ) else n)
    for b in batches:
        supervised = (b["labels"][0, : n + 1] != IGNORE).nonzero()
        if len(supervised):
            n = min(n, int(supervised[0]) - 1)
    return n if n >= min_tokens else 0


def prefix_unshareable(r: Recipe, precision: str, model: Any) -> str | None:
    """Why ``accumulate(share_prefix=True)`` would not give this run's loss and gradients (None:
    it does). It needs one unpadded conversation per micro-batch, a KV cache (no gradient
    checkpointing), full attention (a sliding window drops prefix keys), no dropout (the plain
    loop draws a mask per conversation, the prefix one per step) and fp32 or bf16 autocast
    (the cached keys and values are fp32 leaves, so under bf16 the gradients the suffixes
    send back are summed in fp32, as the plain loop's are in the weights; fp16 is not checked)."""
    import torch

    config = getattr(model, "config", None)
    if r.per_device_batch_size != 1 or r.packing:
        return "needs per_device_batch_size: 1 and no packing"
    if r.gradient_checkpointing:
        return "gradient checkpointing runs without a KV cache"
    if precision not in ("no", "bf16"):
        return f"{precision} autocast (fp32 or bf16 only)"
    if getattr(config, "use_sliding_window", False) or "sliding_attention" in (
        getattr(config, "layer_types", None) or []
    ):
        return "sliding-window attention"
    dropout = any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in model.modules()) or any(
        float(getattr(config, k, 0) or 0) > 0 for k in ("attention_dropout", "hidden_dropout", "dropout")
    )
    if dropout:
        return "dropout is on (lora_dropout or the model's)"
    return None


def _cache_api(model: Any) -> str:
    """The keyword transformers' forward takes the KV cache by (``cache`` from transformers 5,
    ``past_key_values`` before)."""
    import inspect

    base = getattr(model, "_orig_mod", model)  # torch.compile's wrapper
    base = base.get_base_model() if hasattr(base, "get_base_model") else base  # peft's
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def _kv_cache(pairs: list[tuple[Any, Any]]) -> Any:
    from transformers import DynamicCache

    try:
        return DynamicCache(ddp_cache_data=pairs)  # transformers 5
    except TypeError:  # transformers 4
        return DynamicCache.from_legacy_cache(tuple(pairs))


def accumulate(
    model: Any,
    batches: list[dict[str, Any]],
    denom: float,
    *,
    supervised_head: bool = True,
    head: tuple[int, float] | None = None,
    backward: Callable[[Any], None] | None = None,
    share_prefix: bool = False,
) -> Any:
    """Forward and backward every micro-batch of one optimizer step (gradients accumulate in the
    parameters); returns the summed loss (detached). The loss and gradients are those of one
    plain forward and backward per micro-batch (float rounding aside: tests/test_train_sft.py
    checks it); two things are done once per step instead of once per micro-batch:

    - ``share_prefix``: the tokens all batches start with (:func:`shared_prefix_len`: the system
      prompt and the start of the first user turn, a quarter of a ReAct conversation here) run
      once, with their keys and values cached; each batch runs only its own tokens on a copy of
      that cache, whose leaves collect the gradient every batch sends back; one backward through
      the prefix then takes their sum.
    - a trainable input embedding's gradient: its backward writes a dense table-sized gradient
      (49,152 × 576 for SmolLM2) for the few hundred rows a conversation uses. The batches look
      their tokens up in a detached table; one backward of the real lookup over all of them, at
      the end, takes their gradients."""
    import torch

    backward = backward or (lambda loss: loss.backward())
    emb = model.get_input_embeddings()
    own = dict(emb.named_parameters(recurse=False)) if emb is not None else {}  # not peft's wrapper
    once = len(batches) > 1 and "weight" in own and own["weight"].requires_grad
    looked_up: list[tuple[Any, Any]] = []  # (token ids, their embeddings: leaves)

    def embedded(ids: Any) -> dict[str, Any]:
        if not once:
            return {"input_ids": ids}
        x = torch.func.functional_call(emb, {"weight": emb.weight.detach()}, (ids,)).requires_grad_()
        looked_up.append((ids, x))
        return {"inputs_embeds": x}

    n = shared_prefix_len(batches) if share_prefix else 0
    device = batches[0]["labels"].device
    loss_sum = torch.zeros((), device=device)
    if n:
        key = _cache_api(model)
        out = model(**embedded(batches[0]["input_ids"][:, :n]), use_cache=True, logits_to_keep=1)
        states = [t for kv in getattr(out, key) for t in kv[:2]]  # keys, values of layer 0, 1, …
        # fp32 leaves: under bf16 autocast the states are partly bf16, and the gradients every
        # suffix sends back are summed here; kept in fp32 they are rounded once, at the end
        leaves = [t.detach().float().requires_grad_(t.requires_grad) for t in states]
    for batch in batches:
        ids = batch["input_ids"][:, n:]
        batch = {k: v for k, v in batch.items() if k != "input_ids"}
        if n:
            length = batch["labels"].shape[1]
            batch = {
                "labels": batch["labels"][:, n:],
                "position_ids": torch.arange(n, length, device=device).unsqueeze(0),
                key: _kv_cache(list(zip(leaves[::2], leaves[1::2], strict=True))),
            }
        loss = causal_lm_loss(model, {**batch, **embedded(ids)}, denom, supervised_head, head)
        backward(loss)
        loss_sum += loss.detach().float()
    if n:  # the prefix's own backward, once, with what every suffix sent back
        sent = [(t, leaf.grad) for t, leaf in zip(states, leaves, strict=True) if leaf.grad is not None]
        if sent:  # none when every layer is frozen
            torch.autograd.backward([t for t, _ in sent], [g.to(t.dtype) for t, g in sent])
    got = [(ids, x.grad) for ids, x in looked_up if x.grad is not None]
    if got:
        ids = torch.cat([i.flatten() for i, _ in got])
        torch.autograd.backward(emb(ids), torch.cat([g.flatten(0, 1) for _, g in got]))
    return loss_sum
