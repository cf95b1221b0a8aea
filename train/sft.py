"""Supervised fine-tuning (LoRA, QLoRA or full) on the exported ReAct conversations.

    python -m train.data --suite synthetic-train --out data/react
    python -m train.sft --recipe train/configs/tiny-cpu.yaml            # ~4 min on 2 idle CPU cores
    accelerate launch -m train.sft --recipe train/configs/qwen2.5-7b-react.yaml   # GPUs
    torchrun --nproc_per_node 2 -m train.sft --recipe …                         # CPU processes (gloo)
    python -m train.sft --recipe R.yaml --set max_steps=20 --set output_dir=runs/try

One log line per optimizer step (``step 00042/00300 | loss … | lr … | gnorm … | dt … | tok/s …``)
and TensorBoard scalars under ``<output_dir>/tb``. A checkpoint (trainable weights, optimizer,
scheduler, step) every ``save_steps`` under ``<output_dir>/checkpoint-N``; rerunning the same
command resumes from the last one (``resume: auto``; ``--no-resume`` refuses to touch old ones).
The result is ``<output_dir>/adapter`` (LoRA) or ``<output_dir>/model`` (``lora: false``), written
into a temp folder and renamed when complete, with the resolved ``recipe.yaml``, ``env.json``
(library versions) and ``train_meta.json`` (data sha256s, losses) next to the weights.
Next stage: ``python -m train.merge --adapter <output_dir>/adapter --out models/<name>``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import platform
import shutil
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from harness._util.atomic import atomic_dir, atomic_write_text, sha256_file
from harness._util.cli import run_command
from train.recipe import Recipe, load_recipe, parse_overrides, recipe_from_dict
from train.sft_data import (
    IGNORE,
    batches,
    build_examples,
    collate,
    dataset_file,
    epoch_order,
    load_conversations,
    load_records,
    make_rows,
    record_messages,
)
from train.sft_model import SFTError, load_model, mixed_precision, prepare_base
from train.sft_step import accumulate, causal_lm_loss, prefix_unshareable, turn_weights

logger = logging.getLogger("train.sft")  # not __name__: that is "__main__" under python -m train.sft
META_VERSION = 1
VOLATILE = {
    "resume",
    "max_steps",
    "save_steps",
    "save_total_limit",
    "eval_steps",
    "logging_steps",
    "eval_before",
    "shared_prefix",  # the same loss and gradients either way: a speed setting
}


def versions() -> dict[str, Any]:
    """Library versions and the device, for ``env.json`` and lineage."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("torch", "transformers", "peft", "accelerate", "tokenizers", "safetensors", "bitsandbytes"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    import torch

    out["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return out


def _checkpoints(out: Path) -> list[tuple[int, Path]]:
    found = []
    for p in out.glob("checkpoint-*"):
        tail = p.name.rsplit("-", 1)[1]
        if tail.isdigit() and (p / "state.json").is_file():
            found.append((int(tail), p))
    return sorted(found)


def _resumed_precision(r: Recipe, ckpts: list[tuple[int, Path]]) -> tuple[str, str] | None:
    """The precision a resumed ``bf16: if_faster`` run started in, from its last checkpoint (None:
    not resuming, another bf16 setting, or a checkpoint that does not say). Timing the CPU again
    on resume could pick the other precision on a busier machine, and one run would then train in
    two; the recipe's explicit settings are still obeyed as they are."""
    if not (ckpts and r.resume and r.bf16 == "if_faster"):
        return None
    step, ck = ckpts[-1]
    try:
        mp = json.loads((ck / "state.json").read_text()).get("precision")
    except (OSError, ValueError):
        return None
    if mp not in ("bf16", "no"):
        return None
    return mp, f"bf16: if_faster, as the run began (checkpoint-{step})"


def _trainable(model: Any) -> dict[str, Any]:
    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def _evaluate(model: Any, examples: list, r: Recipe, acc: Any, pad_id: int) -> float:
    import torch

    mine = examples[acc.process_index :: acc.num_processes]
    total = torch.zeros(2, device=acc.device, dtype=torch.float64)
    model.eval()
    with torch.no_grad(), acc.autocast():
        for rows in batches([[e] for e in mine], r.per_device_batch_size):
            b = collate(rows, pad_id, packed=False)
            labels = b["labels"].to(acc.device)
            batch = {k: b[k].to(acc.device) for k in ("input_ids", "attention_mask", "labels")}
            total[0] += causal_lm_loss(model, batch, 1.0, r.supervised_head).double()
            total[1] += (labels[:, 1:] != IGNORE).sum()
    model.train()
    total = acc.reduce(total, reduction="sum")
    return float(total[0] / total[1].clamp(min=1))


def _data_record(paths: dict[str, Path]) -> dict[str, Any]:
    return {k: {"path": str(p), "sha256": sha256_file(p)} for k, p in paths.items()}


def train_sft(
    recipe: Recipe | str | Path,
    *,
    resume: bool | str | None = None,
    overrides: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Train per ``recipe`` (a Recipe or a YAML path); returns the adapter (or model) folder."""
    if isinstance(recipe, Recipe):
        r = recipe_from_dict({**recipe.to_dict(), **(overrides or {})})
    else:
        r = load_recipe(recipe, overrides)
    if resume is not None:
        r.resume = resume  # type: ignore[assignment]
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import AutoTokenizer, get_scheduler

    t_start = time.perf_counter()
    cuda = torch.cuda.is_available()
    out = Path(r.output_dir).expanduser().resolve()
    r.dataset_dir = str(Path(r.dataset_dir).expanduser().resolve())
    r.output_dir = str(out)
    final = out / ("adapter" if r.lora else "model")
    ckpts = _checkpoints(out)
    if ckpts and r.resume is False:
        raise SFTError(
            f"{out} already has {ckpts[-1][1].name}; resume (resume: auto) or pick a new output_dir"
        )
    mp, mp_why = _resumed_precision(r, ckpts) or mixed_precision(r, cuda)
    acc = Accelerator(mixed_precision=mp, cpu=not cuda)  # cpu=True also enables multi-process CPU (gloo)
    main = acc.is_main_process
    say = (log or logger.info) if main else (lambda s: None)

    files = {"train": dataset_file(r.dataset_dir, r.dataset)}
    if r.eval_dataset:
        files["eval"] = dataset_file(r.dataset_dir, r.eval_dataset)
    train_recs = load_records(files["train"])[: r.max_train_samples]
    train_convs = [record_messages(rec) for rec in train_recs]
    eval_convs = load_conversations(files["eval"])[: r.max_eval_samples] if "eval" in files else []
    if main:
        out.mkdir(parents=True, exist_ok=True)
        base = prepare_base(r, out, train_convs)
    acc.wait_for_everyone()
    if not main:
        base = prepare_base(r, out, train_convs)
    tok = AutoTokenizer.from_pretrained(base)
    if not getattr(tok, "chat_template", None):
        raise SFTError(f"{base}: the tokenizer has no chat_template; use an instruct model's tokenizer")
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    train_ex = build_examples(
        tok, train_convs, r.cutoff_len, [rec.get("task_type", "") for rec in train_recs]
    )
    eval_ex = build_examples(tok, eval_convs, r.cutoff_len)
    if not train_ex:
        raise SFTError(
            f"{files['train']}: no conversation with an assistant turn within cutoff_len={r.cutoff_len}"
        )

    set_seed(r.seed)
    model = load_model(r, base, mp, cuda, acc.local_process_index)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2 and "norm" not in n]
    decay_ids = {id(p) for p in decay}
    no_decay = [p for p in params if id(p) not in decay_ids]
    groups = [{"params": decay, "weight_decay": r.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=r.learning_rate)
    world, ga = acc.num_processes, r.gradient_accumulation_steps
    rows = make_rows(train_ex, seed=r.seed, packing=r.packing, max_len=r.cutoff_len)
    n_micro = math.ceil(len(rows) / r.per_device_batch_size)
    if n_micro < world:
        raise SFTError(
            f"{len(rows)} training rows cannot feed {world} processes; use more data or fewer processes"
        )
    # with several processes, the micro-batches that do not split evenly over them are left out
    # of each epoch (DistributedSampler(drop_last=True)): every rank must run the same backwards
    steps_per_epoch = math.ceil((n_micro // world * world) / (ga * world))
    total = math.ceil(r.num_epochs * steps_per_epoch)
    if r.max_steps:
        total = min(total, r.max_steps)
    scheduler = get_scheduler(
        r.lr_scheduler,
        optimizer,
        num_warmup_steps=math.ceil(r.warmup_ratio * total),
        num_training_steps=total,
    )
    model, optimizer = acc.prepare(model, optimizer)
    inner = acc.unwrap_model(model)
    n_train = sum(p.numel() for p in params)
    n_all = sum(p.numel() for p in inner.parameters())

    say(
        f"sft | base {r.base_model} | {'lora r=' + str(r.lora_r) if r.lora else 'full'} | "
        f"trainable {n_train / 1e6:.2f}M / {n_all / 1e6:.2f}M | train {len(train_ex)} conv | eval {len(eval_ex)} | "
        f"steps {total} ({steps_per_epoch}/epoch) | batch {r.per_device_batch_size}x{ga}x{world} | "
        f"precision {mp} ({mp_why}) | device {acc.device}"
    )
    step, metrics = 0, {"eval_loss_before": None, "eval_loss": None, "train_loss": None}
    if ckpts and r.resume:
        step, ck = ckpts[-1]
        from safetensors.torch import load_file

        state = load_file(ck / "trainable.safetensors")
        want = set(_trainable(inner))
        if set(state) != want:
            odd = sorted(set(state) ^ want)[0]
            raise SFTError(f"{ck}: weights do not match this recipe's model ({odd} …); use a new output_dir")
        inner.load_state_dict(state, strict=False)
        optimizer.load_state_dict(torch.load(ck / "optimizer.pt", map_location="cpu", weights_only=True))
        scheduler.load_state_dict(torch.load(ck / "scheduler.pt", weights_only=True))
        saved = json.loads((ck / "state.json").read_text())
        metrics.update(saved.get("metrics", {}))
        changed = [
            k for k, v in saved.get("recipe", {}).items() if k not in VOLATILE and getattr(r, k, v) != v
        ]
        say(
            f"resuming from {ck} (step {step}/{total})"
            + (f"; recipe changed: {', '.join(changed)}" if changed else "")
        )
        meta_path = final / "train_meta.json"
        if step >= total and meta_path.is_file() and json.loads(meta_path.read_text()).get("step") == step:
            say(f"already trained: {final}")
            return final
    writer = None
    if main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
    if step == 0 and r.eval_before and eval_ex:
        metrics["eval_loss_before"] = _evaluate(inner, eval_ex, r, acc, pad_id)
        say(f"eval  {step:05d} | eval_loss {metrics['eval_loss_before']:.4f}")
        if writer:
            writer.add_scalar("eval/loss", metrics["eval_loss_before"], step)

    def save_checkpoint() -> None:
        if main:
            from safetensors.torch import save_file

            def fill(tmp: Path) -> None:
                save_file(_trainable(inner), str(tmp / "trainable.safetensors"))
                torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
                torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
                state = {
                    "step": step,
                    "total_steps": total,
                    "metrics": metrics,
                    "recipe": r.to_dict(),
                    "precision": mp,
                }
                atomic_write_text(tmp / "state.json", json.dumps(state, indent=2))

            atomic_dir(out / f"checkpoint-{step}", fill)
            for _, old in _checkpoints(out)[: -max(1, r.save_total_limit)]:
                shutil.rmtree(old, ignore_errors=True)
        acc.wait_for_everyone()

    # The loss's denominator is the step's sum of weights. With turn_head_weight 1 that is its
    # supervised token count, and the loss is the plain mean (computed without weights).
    head = (r.turn_head_tokens, r.turn_head_weight)
    loss_head = head if r.turn_head_weight != 1.0 else None
    # one process: accumulate() (several: DDP syncs gradients in the last micro-batch's backward,
    # so every backward is the micro-batch's own)
    share = False
    if r.shared_prefix:
        why_not = prefix_unshareable(r, mp, inner) if world == 1 else "several processes"
        if why_not:
            say(f"shared_prefix off: {why_not}")
        share = why_not is None
    rows_per_step = ga * world * r.per_device_batch_size

    def epoch_rows(epoch: int) -> list:
        # the rows the remaining steps see of this epoch: with type_weights, drawn by them
        take = (total - epoch * steps_per_epoch) * rows_per_step
        return epoch_order(rows, seed=r.seed, epoch=epoch, weights=r.type_weights, take=take)

    if r.type_weights and total * rows_per_step < len(rows):
        seen = Counter(e.group for row in epoch_rows(0)[: total * rows_per_step] for e in row)
        pool = Counter(e.group for row in rows for e in row)
        say("type_weights: the steps see " + ", ".join(f"{t} {seen[t]}/{n}" for t, n in sorted(pool.items())))
    model.train()
    order_cache: dict[int, list] = {}
    while step < total:
        t0 = time.perf_counter()
        epoch, s = divmod(step, steps_per_epoch)
        if epoch not in order_cache:
            order_cache.clear()
            order_cache[epoch] = list(batches(epoch_rows(epoch), r.per_device_batch_size))
        chunk = order_cache[epoch][s * ga * world : (s + 1) * ga * world]
        k = len(chunk) // world
        cols = [collate(b, pad_id, r.packing) for b in chunk[acc.process_index :: world][:k]]
        counts = torch.tensor(
            [
                float(sum(float(turn_weights(c["labels"][:, 1:], *head).sum()) for c in cols)),
                float(sum(c["num_tokens"] for c in cols)),
            ],
            device=acc.device,
        )
        n_sup, n_tok = acc.reduce(counts, reduction="sum").tolist()
        lr = scheduler.get_last_lr()[0]
        on_device = [{key: v.to(acc.device) for key, v in c.items() if key != "num_tokens"} for c in cols]
        if world == 1:
            loss_sum = accumulate(
                model, on_device, n_sup, supervised_head=r.supervised_head, head=loss_head,
                backward=acc.backward, share_prefix=share,
            )  # fmt: skip
        else:
            loss_sum = torch.zeros((), device=acc.device)
            for i, batch in enumerate(on_device):
                sync = contextlib.nullcontext() if i == len(on_device) - 1 else acc.no_sync(model)
                with sync:
                    loss = causal_lm_loss(model, batch, n_sup / world, r.supervised_head, loss_head)
                    acc.backward(loss)
                loss_sum += loss.detach().float()
        gnorm = float(acc.clip_grad_norm_(model.parameters(), r.max_grad_norm))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        train_loss = float(acc.reduce(loss_sum, reduction="sum")) / world
        metrics["train_loss"] = train_loss
        dt = time.perf_counter() - t0
        if step % r.logging_steps == 0 or step in (1, total):
            say(
                f"step {step:05d}/{total:05d} | loss {train_loss:.4f} | lr {lr:.2e} | gnorm {gnorm:.3f} | "
                f"dt {dt * 1000:.0f}ms | tok/s {n_tok / dt:.0f}"
            )
        if writer:
            for name, value in (
                ("loss", train_loss),
                ("lr", lr),
                ("grad_norm", gnorm),
                ("tok_per_s", n_tok / dt),
            ):
                writer.add_scalar(f"train/{name}", value, step)
        if eval_ex and (step % r.eval_steps == 0 or step == total):
            metrics["eval_loss"] = _evaluate(inner, eval_ex, r, acc, pad_id)
            say(f"eval  {step:05d} | eval_loss {metrics['eval_loss']:.4f}")
            if writer:
                writer.add_scalar("eval/loss", metrics["eval_loss"], step)
        if step % r.save_steps == 0 or step == total:
            save_checkpoint()
    if writer:
        writer.close()

    if main:
        meta = {
            "version": META_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "base_model": r.base_model,
            "base_path": base,
            "step": step,
            "total_steps": total,
            "metrics": metrics,
            "data": _data_record(files),
            "wall_s": round(time.perf_counter() - t_start, 1),
        }

        def fill(tmp: Path) -> None:
            (inner.get_base_model() if r.lora else inner).config.use_cache = True
            inner.save_pretrained(str(tmp))
            tok.save_pretrained(str(tmp))
            atomic_write_text(tmp / "recipe.yaml", r.to_yaml())
            atomic_write_text(tmp / "env.json", json.dumps(versions(), indent=2))
            atomic_write_text(tmp / "train_meta.json", json.dumps(meta, indent=2))

        atomic_dir(final, fill)
        say(f"wrote {final} | next: python -m train.merge --adapter {final} --out models/<name>")
    acc.wait_for_everyone()
    return final


@click.command(help=__doc__.split("\n\n")[0], context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--recipe", required=True, help="YAML recipe, e.g. train/configs/tiny-cpu.yaml")
@click.option(
    "--resume/--no-resume",
    default=None,
    help="resume from the last checkpoint (the default), or refuse old checkpoints",
)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="override a recipe key (repeatable)")
@click.option("--debug", is_flag=True, help="show tracebacks")
def command(recipe: str, resume: bool | None, sets: tuple[str, ...], debug: bool) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    train_sft(recipe, resume=None if resume is None else "auto" if resume else False,
              overrides=parse_overrides(list(sets)))  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    run_command(
        command, argv, "python -m train.sft",
        interrupted="interrupted; rerun the same command to resume from the last checkpoint",
    )  # fmt: skip


if __name__ == "__main__":
    main()
