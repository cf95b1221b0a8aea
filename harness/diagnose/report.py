"""``harness diagnose``: measurements compared stage by stage, the rules that turn them into
findings, the verdict, and the markdown / console views of the report.

The rules, per stage against its parent, in this order (the first finding names the cause):

============ ============================================================ ================
check        fails when                                                   likely cause
============ ============================================================ ================
prompt       the rendered text differs (same ids impossible)              ``template``
prompt       same text, different ids (or the parent's tokenizer splits   ``tokenizer``
             this stage's text differently)
stop         a runtime of the stage does not stop on the end-of-turn      ``stop``
             token (not end-of-generation there, no stop string)
divergence   mean KLD vs parent > ``kld_float`` (lossless steps) or       ``merge``,
             ``kld_quant`` (a quantization level)                         ``conversion``,
                                                                          ``quantization``
agreement    no logits (Ollama) and teacher-forced replies agree with     ``serving``
             the parent's on fewer than ``min_agreement`` of the turns
episodes     success drops by more than ``max_success_drop`` (opt-in)     ``episodes``
============ ============================================================ ================

Everything here is a pure function of JSON-like dicts, so each rule is tested on its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.report.table import Table
from harness.serving.quant import FLOAT_LEVELS

__all__ = ["CAUSES", "REPORT_VERSION", "findings", "stage_record", "to_markdown", "verdict"]

REPORT_VERSION = 1
DEFAULT_THRESHOLDS: dict[str, float | None] = {
    "kld_float": 0.01,
    "kld_quant": 0.1,
    "min_agreement": 0.5,
    "max_success_drop": None,
}
CAUSES = {
    "template": "chat template: the Modelfile TEMPLATE does not render the prompt the model was trained on",
    "tokenizer": "tokenizer: the same text becomes different token ids (pre-tokenizer or vocabulary)",
    "stop": "stop token: generation does not end at the end-of-turn token (a missing stop / EOS)",
    "merge": "merge: the merged weights do not reproduce base + adapter (merge or dtype cast)",
    "conversion": "conversion: the GGUF does not reproduce the checkpoint (rope base, biases, "
    "q/k permutation, norm epsilon, tensor data)",
    "quantization": "quantization: this level loses too much of the float model",
    "serving": "serving: Ollama answers differently from the GGUF it was registered from",
    "episodes": "episodes: success drops here although the token-level checks pass",
}
META_KEYS = {
    "rope.freq_base": ("rope_theta", "rope_parameters.rope_theta", "rope_scaling.rope_theta"),
    "attention.layer_norm_rms_epsilon": ("rms_norm_eps",),
    "attention.head_count": ("num_attention_heads",),
    "attention.head_count_kv": ("num_key_value_heads",),
    "block_count": ("num_hidden_layers",),
    "embedding_length": ("hidden_size",),
    "feed_forward_length": ("intermediate_size",),
}


# ------------------------------------------------------------------------------ comparisons
def first_diff(a: list[int], b: list[int]) -> int | None:
    """Index of the first position where ``a`` and ``b`` differ (or where one ends), else None."""
    for k, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return k
    return None if len(a) == len(b) else min(len(a), len(b))


def context(pieces: list[str], k: int, width: int = 8) -> str:
    """The token pieces around index ``k``, the token at ``k`` in ⟦…⟧ (⟦⟧ past the end)."""
    here = pieces[k] if k < len(pieces) else ""
    return repr("".join(pieces[max(0, k - width) : k]) + f"⟦{here}⟧" + "".join(pieces[k + 1 : k + 1 + width]))


def prompt_identity(cur: dict[str, Any], par: dict[str, Any] | None) -> dict[str, Any]:
    """Compare the prompts a stage receives with its parent's (texts, ids, token pieces)."""
    out: dict[str, Any] = {"tokens": [len(i) if i is not None else None for i in cur["ids"]]}
    if par is None:
        return out
    out["text_equal"] = cur["texts"] == par["texts"]
    pairs = [(i, a, b) for i, (a, b) in enumerate(zip(cur["ids"], par["ids"], strict=True)) if a and b]
    out["ids_equal"] = all(a == b for _, a, b in pairs) if pairs else None
    for i, a, b in pairs:
        k = first_diff(a, b)
        if k is None:
            continue
        ta, tb = cur["texts"][i], par["texts"][i]
        diff: dict[str, Any] = {"prompt": i, "index": k, "stage": context(cur["pieces"][i], k),
                                "parent": context(par["pieces"][i], k)}  # fmt: skip
        if tb.startswith(ta) and len(tb) > len(ta):
            diff["missing_at_end"] = tb[len(ta) :]
        elif ta.startswith(tb) and len(ta) > len(tb):
            diff["extra_at_end"] = ta[len(tb) :]
        out["first_diff"] = diff
        break
    tok = par.get("tokenize")
    if tok is not None and cur["ids"] and all(i is not None for i in cur["ids"]):
        for i, text in enumerate(cur["texts"]):
            theirs = tok(text)
            k = first_diff(cur["ids"][i], theirs)
            if k is not None:
                out["tokenizer_equal"] = False
                out["tokenizer_diff"] = {"prompt": i, "index": k, "stage": context(cur["pieces"][i], k),
                                         "parent": context(par["pieces_of"](theirs), k)}  # fmt: skip
                break
        else:
            out["tokenizer_equal"] = True
    return out


def stop_identity(stop: dict[str, Any], eot: str | None) -> dict[str, Any]:
    """How each runtime of a stage ends a turn at ``eot`` (end-of-generation token, a stop
    string, or not at all: ``runs_past``)."""
    strings = [s for s in stop.get("stop_strings", []) if s]
    out: dict[str, Any] = {"end_of_turn": eot, **stop, "stops": {}, "runs_past": []}
    if not eot:
        return out
    for runtime, eog in stop.get("runtimes", {}).items():
        hit = next((s for s in strings if s in eot), None)
        via = "end-of-generation token" if eot in eog else f"stop string {hit!r}" if hit else None
        out["stops"][runtime] = via
        if via is None:
            out["runs_past"].append(runtime)
    return out


def _config_value(cfg: dict[str, Any], dotted: str) -> Any:
    v: Any = cfg
    for part in dotted.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    return v


def meta_mismatch(gguf_meta: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """Hyperparameters whose GGUF value differs from the checkpoint's ``config.json``."""
    arch = gguf_meta.get("general.architecture")
    out = []
    for key, names in META_KEYS.items():
        got = gguf_meta.get(f"{arch}.{key}")
        want = next((v for n in names if (v := _config_value(config, n)) is not None), None)
        if got is None or want is None:
            continue
        if not np.isclose(float(got), float(want), rtol=1e-4, atol=0):
            cfg_name = next(n for n in names if _config_value(config, n) is not None)
            out.append(f"{arch}.{key} is {got:g} in the GGUF but {cfg_name} is {want:g} in config.json")
    return out


def divergence(
    rows: list[np.ndarray], base: list[np.ndarray], seqs: list[tuple[list[int], list[int]]]
) -> dict:
    from harness.analysis.divergence import _new_acc, accumulate, summarize

    acc = _new_acc()
    for r, b, (tok, pos) in zip(rows, base, seqs, strict=True):
        accumulate(acc, b, r, np.asarray(tok, dtype=np.int64)[np.asarray(pos) + 1])
    return summarize(acc).to_dict()


def eot_top1(
    rows: list[np.ndarray], seqs: list[tuple[list[int], list[int]]], eot_id: int | None
) -> float | None:
    """Share of the gold turn ends where the stage's most likely next token is the end-of-turn token."""
    hits = [
        int(np.argmax(r[j]) == eot_id)
        for r, (tok, pos) in zip(rows, seqs, strict=True)
        for j, p in enumerate(pos)
        if tok[p + 1] == eot_id
    ]
    return sum(hits) / len(hits) if hits else None


def agreement_vs(steps: list[Any], parent_steps: list[Any] | None) -> float | None:
    """Share of teacher-forced turns where two stages' replies parse to the same action."""
    if not steps or not parent_steps:
        return None
    from harness.agent.protocol import parse_reply

    same = [
        (a.kind, parse_reply(a.reply).text) == (b.kind, parse_reply(b.reply).text)
        for a, b in zip(steps, parent_steps, strict=False)
    ]
    return sum(same) / len(same)


def stage_record(stage: dict, cur: dict, par: dict | None, ref: dict | None, ctx: dict) -> dict[str, Any]:
    """Everything measured for one stage, compared with its parent and the reference stage.
    ``ctx``: ``seqs`` (token sequences, decision positions), ``eot`` (text), ``eot_id``."""
    rec: dict[str, Any] = {
        **stage,
        "prompt": prompt_identity(cur, par),
        "stop": stop_identity(cur["stop"], ctx["eot"]),
    }
    rows = cur.get("rows")
    if rows is not None:
        div: dict[str, Any] = {"eot_top1": eot_top1(rows, ctx["seqs"], ctx["eot_id"])}
        if par is not None and par.get("rows") is not None:
            div["vs_parent"] = divergence(rows, par["rows"], ctx["seqs"])
        if ref is not None and ref is not par and ref.get("rows") is not None:
            div["vs_reference"] = divergence(rows, ref["rows"], ctx["seqs"])
        rec["divergence"] = div
    config = (ref or {}).get("meta", {}).get("config") or (par or {}).get("meta", {}).get("config")
    gmeta = cur.get("meta", {}).get("gguf")
    if gmeta:
        rec["tokenizer_pre"] = gmeta.get("tokenizer.ggml.pre")
        if config:
            rec["meta_mismatch"] = meta_mismatch(gmeta, config)
    if cur.get("steps"):
        from harness.analysis.agreement import summarize

        s = summarize(cur["steps"]).to_dict()
        s.pop("by_task_type", None)
        rec["agreement"] = {**s, "vs_parent": agreement_vs(cur["steps"], (par or {}).get("steps"))}
    if cur.get("episodes") is not None:
        rec["episodes"] = cur["episodes"]
    return rec


# ------------------------------------------------------------------------------ rules
def _finding(check: str, cause: str, message: str, evidence: list[str]) -> dict[str, Any]:
    return {"check": check, "cause": cause, "message": message, "evidence": evidence}


def findings(rec: dict[str, Any], parent: dict[str, Any] | None, th: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings of one stage record against its parent's (see the module docstring)."""
    out: list[dict[str, Any]] = []
    if parent is None:
        return out
    p = rec.get("prompt", {})
    d = p.get("first_diff")
    pre = [f"the GGUF's pre-tokenizer is {rec['tokenizer_pre']!r}"] if rec.get("tokenizer_pre") else []

    def where(x: dict[str, Any], theirs: str) -> str:
        return (
            f"prompt {x['prompt']}, token {x['index']}: {rec['label']} {x['stage']} vs {theirs} {x['parent']}"
        )

    if p.get("ids_equal") is False and not p.get("text_equal") and d:
        msg = f"the prompt text differs from {parent['label']}'s"
        if d.get("missing_at_end"):
            msg = f"the prompt ends without {d['missing_at_end']!r} (the TEMPLATE lacks the assistant header)"
        out.append(_finding("prompt", "template", msg, [where(d, parent["label"])]))
    elif p.get("ids_equal") is False and d:
        msg = "the same prompt text becomes different token ids"
        out.append(_finding("prompt", "tokenizer", msg, [where(d, parent["label"]), *pre]))
    if p.get("tokenizer_equal") is False and not any(f["cause"] == "tokenizer" for f in out):
        ev = [where(p["tokenizer_diff"], f"{parent['label']}'s tokenizer"), *pre]
        out.append(
            _finding("prompt", "tokenizer", f"{rec['label']} tokenizes its text unlike {parent['label']}", ev)
        )
    s = rec.get("stop", {})
    if s.get("runs_past"):
        eot = s["end_of_turn"]
        ev = [f"{rt} ends generation only on {', '.join(map(repr, s['runtimes'][rt])) or 'nothing'}"
              + (" (tokenizer.ggml.eos_token_id(s))" if rt == "ollama" else "") for rt in s["runs_past"]]  # fmt: skip
        ev += [f"{rt} stops at {eot!r} by its {via}" for rt, via in s["stops"].items() if via]
        ev.append(f"Modelfile stop strings: {', '.join(map(repr, s.get('stop_strings', []))) or 'none'}")
        emits = (rec.get("divergence") or {}).get("eot_top1")
        if emits:
            ev.append(f"the model predicts {eot!r} at {emits:.0%} of the gold turn ends: it does emit it")
        msg = f"{' and '.join(s['runs_past'])} would run past {eot!r}; add PARAMETER stop {eot} to the Modelfile"
        out.append(_finding("stop", "stop", msg, ev))
    vp = rec.get("divergence", {}).get("vs_parent")
    if vp is not None:
        quant = rec["kind"] == "gguf" and rec.get("level") not in FLOAT_LEVELS and parent["kind"] == "gguf"
        limit = th["kld_quant"] if quant else th["kld_float"]
        if vp["mean_kld"] > limit:
            cause = (
                "quantization" if quant else "merge" if rec["kind"] in ("adapter", "merged") else "conversion"
            )
            ev = [f"mean KLD {vp['mean_kld']:.4g} vs {parent['label']} (limit {limit:g}), top-1 agreement {vp['same_top1']:.1%}, "
                  f"ppl ratio {vp['ppl_ratio']:.3f} over {vp['positions']} decision tokens"]  # fmt: skip
            ev += rec.get("meta_mismatch") or []
            if cause == "conversion" and p.get("ids_equal") is not False:
                ev.append("prompt ids are identical, so the weights or hyperparameters differ")
            out.append(
                _finding("divergence", cause, f"the next-token distribution jumps at {rec['label']}", ev)
            )
    a = rec.get("agreement") or {}
    if vp is None and a.get("vs_parent") is not None and a["vs_parent"] < th["min_agreement"]:
        ev = [
            f"teacher-forced replies agree with {parent['label']} on {a['vs_parent']:.0%} of {a['steps']} turns"
        ]
        out.append(_finding("agreement", "serving", f"{rec['label']} replies unlike {parent['label']}", ev))
    e, pe = rec.get("episodes"), parent.get("episodes")
    drop = th.get("max_success_drop")
    if drop is not None and e and pe and pe["success_rate"] - e["success_rate"] > drop:
        ev = [
            f"success {e['success_rate']:.0%} vs {pe['success_rate']:.0%} at {parent['label']} ({e['episodes']} games)"
        ]
        out.append(_finding("episodes", "episodes", f"episodes get worse at {rec['label']}", ev))
    return out


def verdict(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first stage (pipeline order) with findings, its likely cause and the evidence."""
    for rec in records:
        if rec.get("findings"):
            f = rec["findings"][0]
            others = [r["label"] for r in records if r.get("findings") and r is not rec]
            return {"stage": rec["label"], "cause": f["cause"], "likely_cause": CAUSES[f["cause"]],
                    "message": f["message"], "evidence": f["evidence"], "also_flagged": others}  # fmt: skip
    return None


# ------------------------------------------------------------------------------ views
def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def summary_rows(report: dict[str, Any]) -> list[list[str]]:
    """One row per stage: stage, parent, prompt, stop, KLD, top-1, agreement, episodes, finding."""
    rows = []
    for r in report["stages"]:
        p, s = r.get("prompt", {}), r.get("stop", {})
        ids = {True: "same", False: "DIFFERENT", None: "–"}[p.get("ids_equal")]
        stop = "runs past" if s.get("runs_past") else "ok" if s.get("stops") else "–"
        vp = (r.get("divergence") or {}).get("vs_parent")
        a, e = r.get("agreement") or {}, r.get("episodes") or {}
        rows.append([
            r["label"], r.get("parent") or "(reference)", ids, stop,
            "–" if vp is None else f"{vp['mean_kld']:.4g}", "–" if vp is None else _pct(vp["same_top1"]),
            _pct(a.get("action_agreement")), _pct(e.get("success_rate")) if e else "–",
            ", ".join(sorted({f["cause"] for f in r.get("findings", [])})) or "ok",
        ])  # fmt: skip
    return rows


HEADERS = ["stage", "parent", "prompt ids", "stop", "KLD", "top-1", "actions", "success", "finding"]


def to_markdown(report: dict[str, Any]) -> str:
    v = report.get("verdict")
    lines = [f"# Diagnosis: {report['name']}", ""]
    if v:
        lines += [f"**First failing stage: `{v['stage']}`** — {v['message']}.", "",
                  f"Likely cause: {v['likely_cause']}.", ""]  # fmt: skip
        lines += [f"- {e}" for e in v["evidence"]] + [""]
    else:
        lines += ["No stage passes a threshold: every stage reproduces its parent.", ""]
    lines.append(Table(HEADERS, summary_rows(report)).to_markdown())
    th = report["thresholds"]
    lines += ["", f"Thresholds: KLD {th['kld_float']:g} (lossless steps), {th['kld_quant']:g} (quantization); "
              f"suite {report['suite']}, {report['conversations']} gold trajectories.", ""]  # fmt: skip
    for r in report["stages"]:
        for f in r.get("findings", []):
            lines.append(f"## `{r['label']}`: {f['cause']} — {f['message']}")
            lines += [f"- {e}" for e in f["evidence"]] + [""]
    return "\n".join(lines)
