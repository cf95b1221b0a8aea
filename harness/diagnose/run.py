"""``harness diagnose``: the pipeline stage where a model loses quality, with the evidence.

    harness diagnose tiny                      # stages from builds/tiny/build.json (+ lineage)
    harness diagnose my-qwen --stage merged=./merged --stage gguf=./my.q4_k_m.gguf --gate

Stages, in pipeline order: ``adapter`` (the training output: LoRA on its base through peft, or a
full fine-tune), ``merged``, the float GGUF, each quantization level, and the Ollama models
(when a server answers). Each stage is compared with its parent (a level with the float GGUF, a
GGUF with the last checkpoint, an Ollama model with the GGUF it was registered from), on the
expert's gold ReAct trajectories:

1. prompt identity: the ids each stage receives for the same conversation (checkpoint stages
   render the training chat template, GGUF stages their Modelfile TEMPLATE, Ollama its own
   render via ``_debug_render_only``), with the first differing token in context;
2. stop identity: the end-of-turn token, and whether each runtime stops on it (transformers on
   ``generation_config``; llama.cpp on its end-of-generation set; Ollama's engine only on
   ``tokenizer.ggml.eos_token_id(s)``; all on the Modelfile's ``stop`` strings);
3. token KLD / top-1 agreement on the same ids (full-vocabulary logits at the agent's decision
   tokens) and teacher-forced action agreement (:mod:`harness.analysis.agreement`);
4. episodes on a suite (:func:`harness.bench.runner.run_suite`).

:mod:`harness.diagnose.report` turns the measurements into findings and names the first stage
that fails, with its likely cause.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness._util.paths import slug
from harness.diagnose.handles import _Handle, _HFHandle, end_of_turn, gguf_metadata, open_stage
from harness.diagnose.stages import (
    DiagnoseConfig,
    DiagnoseError,
    Stage,
    order_stages,
    parse_stage,
    stages_from_build,
)
from harness.errors import HarnessError

__all__ = [
    "DiagnoseConfig", "DiagnoseError", "Stage", "diagnose", "gguf_metadata", "order_stages", "parse_stage",
    "stages_from_build",
]  # fmt: skip


def _measure(
    h: _Handle, st: Stage, ctx: dict[str, Any], cfg: DiagnoseConfig, step: Callable[[str], None]
) -> dict:
    from harness.agent.protocol import REPLY_STOPS
    from harness.analysis.agreement import teacher_forced
    from harness.backends.base import ChatOptions

    step("prompt")
    m: dict[str, Any] = {"texts": [h.render(p) for p in ctx["prompts"]]}
    m["ids"] = [h.tokenize(t) for t in m["texts"]]
    m["pieces"] = [h.pieces(i) if i is not None else [] for i in m["ids"]]
    if isinstance(h, _HFHandle):  # keep the tokenizer (not the model) for cross-tokenization
        tok = h.be.tokenizer
        m["tokenize"] = lambda text: list(tok.encode(text, add_special_tokens=True))
        m["pieces_of"] = lambda ids: [tok.decode([i], skip_special_tokens=False) for i in ids]
    if "seqs" not in ctx and h.has_logits:
        from harness.analysis.llamacpp_logits import decision_tokens

        seqs = [decision_tokens(c, h.render, h.tokenize) for c in ctx["conversations"]]
        ctx["seqs"] = [(t, p) for t, p in seqs if p]
        ctx["eot_id"], ctx["eot"] = end_of_turn(h)
    step("stop")
    m["stop"], m["meta"] = h.stops(), h.meta()
    if h.has_logits and ctx.get("seqs"):
        step("logits")
        m["rows"] = [h.logits_at(t, p) for t, p in ctx["seqs"]]
    options = ChatOptions(num_predict=cfg.num_predict, stop=list(REPLY_STOPS))
    if cfg.agreement_turns:
        step("agreement")
        m["steps"] = teacher_forced(ctx["trajectories"], h.backend(), options, max_turns=cfg.agreement_turns)
    if cfg.episodes:
        step("episodes")
        from harness.bench.runner import RunConfig, run_suite
        from harness.bench.scoring import compute

        run = RunConfig(suite=ctx["suite"].name, model=st.label, backend=st.kind, max_steps=cfg.max_steps,
                        limit=cfg.episodes, options=options, retries=cfg.retries)  # fmt: skip
        folder = ctx["out"] / "episodes" / slug(st.label)
        shutil.rmtree(folder, ignore_errors=True)  # a fresh run: the stage's weights may have changed
        pool = None
        if st.kind == "ollama" and cfg.hosts:  # a served stage: its games spread over the pool
            from harness.bench.pool import make_pool

            run.backend, pool = make_pool(st.path, "ollama", cfg.hosts, 1, cfg.openai_mode)
        be = h.backend()
        m["episodes"] = compute(run_suite(ctx["suite"], lambda: be, run, folder, pool=pool)).to_dict()
    return m


def diagnose(
    name: str,
    stages: list[Stage],
    cfg: DiagnoseConfig,
    thresholds: dict[str, Any] | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Measure every stage, compare each with its parent, apply the rules; returns the report
    (also written as ``diagnose.json`` and ``diagnose.md`` in ``cfg.out_dir`` when set)."""
    import tempfile
    import time

    from harness.analysis.agreement import expert_trajectories
    from harness.bench.suites import load_suite
    from harness.diagnose import report as R

    if not stages:
        raise DiagnoseError(
            "no stages to diagnose: build the model with 'harness build' or give --stage KIND=PATH"
        )
    th = {**R.DEFAULT_THRESHOLDS, **(thresholds or {})}
    ordered = order_stages(stages)
    served = next((s.modelfile for s in ordered if s.kind == "gguf" and s.modelfile), None)
    for st in ordered:  # checkpoints get the served PARAMETERs (their prompt is the chat template)
        if st.kind in ("adapter", "merged") and st.modelfile is None and served is not None:
            st.modelfile, st.modelfile_source = served, "the GGUF stages' Modelfile"
    suite = load_suite(cfg.suite)
    trajs = expert_trajectories(suite, suite.games()[: cfg.conversations])
    if not trajs:
        raise DiagnoseError(f"suite {suite.name} gave no gold trajectories; use another --suite")
    tmp = None if cfg.out_dir else tempfile.TemporaryDirectory(prefix="diagnose-")
    ctx: dict[str, Any] = {
        "suite": suite, "trajectories": trajs, "out": Path(cfg.out_dir or tmp.name),  # type: ignore[union-attr]
        "conversations": [t.conversation() for t in trajs],
        "prompts": [t.messages(len(t.turns) - 1) for t in trajs],
    }  # fmt: skip
    by_label = {s.label: s for s in ordered}
    measured: dict[str, dict[str, Any]] = {}
    records: list[dict[str, Any]] = []
    try:
        for i, st in enumerate(ordered):
            step = (
                (lambda check, label=st.label: progress(label, check)) if progress else (lambda check: None)
            )
            step("load")
            try:
                h = open_stage(st, by_label, cfg, n_ctx=2048)
            except HarnessError as e:
                raise DiagnoseError(f"stage {st.label} ({st.path}): {e}") from None
            try:
                measured[st.label] = _measure(h, st, ctx, cfg, step)
            finally:
                h.close()
            par = measured.get(st.parent or "")
            ref = measured[ordered[0].label] if i else None
            rec = R.stage_record(st.to_dict(), measured[st.label], par, ref, ctx)
            parent_rec = next((r for r in records if r["label"] == st.parent), None)
            rec["findings"] = R.findings(rec, parent_rec, th)
            records.append(rec)
            later = {s.parent for s in ordered[i + 1 :]} | {ordered[0].label}
            for label, m in measured.items():  # free logits no later stage compares against
                if label not in later:
                    m.pop("rows", None)
    finally:
        if tmp is not None:
            tmp.cleanup()
    report = {
        "version": R.REPORT_VERSION, "name": name, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "suite": suite.name, "conversations": len(trajs), "end_of_turn": ctx.get("eot"),
        "thresholds": th, "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "stages": records, "verdict": R.verdict(records),
    }  # fmt: skip
    if cfg.out_dir:
        from harness._util.atomic import atomic_write_text

        atomic_write_text(Path(cfg.out_dir) / "diagnose.json", json.dumps(report, indent=2, default=str))
        atomic_write_text(Path(cfg.out_dir) / "diagnose.md", R.to_markdown(report))
    return report
