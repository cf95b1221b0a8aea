"""Gates and reports of ``harness regress``: thresholds per level (YAML), a JUnit file with one
test case per level × gate, and ``results.json`` + ``report.md`` + a self-contained
``report.html`` (plots inlined).

A gates file (see ``regress/gates.yaml``)::

    version: 1
    levels:
      default:                  # every level not named below (never the baseline)
        max_success_drop_pt: 10
      q8_0:
        max_success_drop_pt: 1  # success may drop by at most 1 point vs the baseline
        max_mean_kld: 0.005
      q4_k_m:
        max_success_drop_pt: 5
        min_agreement: 0.90     # rates are fractions: 0.90, not 90

    optional: [max_mean_kld]    # gates whose metric may be missing (skipped, not failed)

A level's gates are looked up by its label (``q4_k_m``), then its model name
(``tiny:q4_k_m``), then ``default``. A gate whose metric was not measured *fails* (regress fails
closed), unless the gates file lists it under ``optional`` or its phase was left out with
``--skip``; then it is skipped. A level that tokenizes the trajectories differently from the
baseline fails the ``same_tokenizer`` check, whatever the gates say. Without ``--gates``,
``--junit`` applies the shipped ``regress/gates.yaml``.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness._util.atomic import atomic_write_text
from harness.regress.gates import FRACTIONS as FRACTIONS
from harness.regress.gates import GATES as GATES
from harness.regress.gates import PHASE_METRICS as PHASE_METRICS
from harness.regress.gates import Gates as Gates
from harness.regress.gates import GatesError as GatesError
from harness.regress.gates import GatesFailed as GatesFailed
from harness.regress.gates import GatesFile as GatesFile
from harness.regress.gates import gates_for as gates_for
from harness.regress.gates import load_gates as load_gates
from harness.regress.gates import parse_gates as parse_gates
from harness.report.plots import images, png, pyplot
from harness.report.table import Cell, Table

RESULTS_VERSION = 1


@dataclass
class GateResult:
    level: str
    model: str
    gate: str
    threshold: float
    value: float | None
    status: str
    """``pass``, ``fail`` or ``skip``."""
    message: str


def metrics(row: dict, base: dict) -> dict[str, float | None]:
    """The flat metrics gates and tables read, for one level row of :func:`run_regress`."""
    ep = (row.get("episodes") or {}).get("overall") or {}
    bep = (base.get("episodes") or {}).get("overall") or {}
    paired = row.get("paired") or {}
    agree = row.get("agreement") or {}
    div = row.get("divergence") or {}

    def drop(key: str) -> float | None:
        return 100 * (bep[key] - ep[key]) if key in ep and key in bep else None

    return {
        "success_rate": ep.get("success_rate"),
        "success_drop_pt": drop("success_rate"),
        "progress_rate": ep.get("progress_rate"),
        "progress_drop_pt": drop("progress_rate"),
        "p_value": paired.get("p_value"),
        "invalid_rate": ep.get("invalid_rate"),
        "parse_failure_rate": ep.get("parse_failure_rate"),
        "mean_steps": ep.get("mean_steps"),
        "gen_tokens_per_s": ep.get("gen_tokens_per_s"),
        "agreement_baseline": (agree.get("baseline") or {}).get("action_agreement"),
        "agreement_expert": (agree.get("expert") or {}).get("action_agreement"),
        "exact_agreement": (agree.get("baseline") or {}).get("exact_agreement"),
        "mean_kld": div.get("mean_kld"),
        "p99_kld": div.get("p99_kld"),
        "same_top1": div.get("same_top1"),
        "ppl_ratio": div.get("ppl_ratio"),
    }


def check_gates(
    levels: dict[str, dict], baseline: str, gates: Gates | dict, skipped_phases: tuple[str, ...] | list = ()
) -> list[GateResult]:
    """One result per (non-baseline) level × gate that applies to it, plus a failed
    ``same_tokenizer`` check for a level that tokenizes differently from the baseline."""
    optional = getattr(gates, "optional", frozenset())
    not_run = set().union(*(PHASE_METRICS.get(p, set()) for p in skipped_phases))
    out = []
    for label, row in levels.items():
        if label == baseline:
            continue
        if mismatch := row.get("tokenizer_mismatch"):
            out.append(GateResult(label, row["model"], "same_tokenizer", 0.0, None, "fail", mismatch))
        for key, threshold in gates_for(gates, label, row["model"]).items():
            metric, sense, what, fmt = GATES[key]
            value = row["metrics"].get(metric)
            if value is None and (key in optional or metric in not_run):
                why = "phase skipped" if metric in not_run else "optional in the gates file"
                status, msg = "skip", f"{what}: not measured for {label} ({why})"
            elif value is None:
                status = "fail"
                msg = (
                    f"{what}: not measured for {label}; a missing metric fails the gate "
                    "(list it under 'optional:' in the gates file if it may be absent)"
                )
            else:
                ok = value <= threshold if sense == "max" else value >= threshold
                rel = ("≤" if ok else ">") if sense == "max" else ("≥" if ok else "<")
                status = "pass" if ok else "fail"
                msg = f"{what}: {fmt.format(value)} {rel} {fmt.format(threshold)}"
            out.append(GateResult(label, row["model"], key, threshold, value, status, msg))
    return out


def junit_xml(results: list[GateResult], suite_name: str) -> str:
    """JUnit XML: one test case per level × gate (classname ``regress.<level>``)."""
    fails = sum(r.status == "fail" for r in results)
    skips = sum(r.status == "skip" for r in results)
    root = ET.Element("testsuites", name="harness regress", tests=str(len(results)), failures=str(fails))
    suite = ET.SubElement(
        root, "testsuite", name=suite_name, tests=str(len(results)), failures=str(fails), skipped=str(skips)
    )
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"regress.{r.level}", name=r.gate, time="0")
        if r.status == "fail":
            ET.SubElement(case, "failure", message=r.message, type="gate").text = r.message
        elif r.status == "skip":
            ET.SubElement(case, "skipped", message=r.message)
        ET.SubElement(case, "system-out").text = r.message
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def finish(raw: dict, run: dict, gates: Gates | None, out: Path, junit: Path | None = None) -> dict:
    """Add metrics and gate results to ``raw`` (from :func:`run_regress`), write
    ``results.json``, ``report.md``, ``report.html`` (and the JUnit file); return the results."""
    base = raw["levels"][run["baseline"]]
    for row in raw["levels"].values():
        row["metrics"] = metrics(row, base)
    checked = check_gates(raw["levels"], run["baseline"], gates or {}, run.get("skipped_phases") or ())
    results = {
        "version": RESULTS_VERSION,
        "run": run,
        **raw,
        "gates": {"file": run.get("gates_file"), "results": [asdict(r) for r in checked]},
    }
    atomic_write_text(out / "results.json", json.dumps(results, indent=2))
    atomic_write_text(out / "report.md", render_markdown(results))
    atomic_write_text(out / "report.html", render_html(results))
    if junit is not None:
        atomic_write_text(junit, junit_xml(checked, f"regress {run.get('name') or run['baseline']}"))
    return results


def failed(results: dict) -> list[dict]:
    return [g for g in results["gates"]["results"] if g["status"] == "fail"]


# ---------------------------------------------------------------------------------- tables
ANCHOR = ("llama.cpp README, Llama-3 8B on wikitext, mean KLD vs F16: Q8_0 0.0014 · Q6_K 0.0055 · "
          "Q5_K_M 0.011 · Q4_K_M 0.031 · Q4_0 0.072 · Q3_K_M 0.10 · Q2_K 0.45")  # fmt: skip


def _f(v: Any, spec: str) -> str:
    return "–" if v is None else spec.format(v)


def _fallback(fb: dict | None) -> str:
    """``60/211 → Q5_0/Q8_0``: matrices llama.cpp stored outside the level's types (rows that do
    not divide by 256); ``none``; ``–`` for a float level or a level with no file here."""
    if not fb:
        return "–"
    return f"{fb['matrices']}/{fb['of']} → {'/'.join(fb['types'])}" if fb["matrices"] else "none"


def _status(results: dict, label: str) -> str:
    mine = [g for g in results["gates"]["results"] if g["level"] == label]
    if label == results["run"]["baseline"]:
        return "baseline"
    if not mine:
        return "–"
    bad = [g["gate"] for g in mine if g["status"] == "fail"]
    return (
        Cell("FAIL: " + ", ".join(bad), css="FAIL")
        if bad
        else f"pass ({sum(g['status'] == 'pass' for g in mine)})"
    )


def level_table(results: dict) -> Table:
    head = ["level", "quant", "size MB", "bpw", "k-quant fallback", "tok/s", "success (95% CI)", "Δ success [95% CI]", "McNemar p",
            "progress", "invalid", "parse fail", "steps", "agree base", "same reply", "agree expert", "mean KLD",
            "p99 KLD", "same top-1", "ppl ratio", "gates"]  # fmt: skip
    rows = []
    for label, row in results["levels"].items():
        m, p = row["metrics"], row.get("paired") or {}
        ci = ((row.get("episodes") or {}).get("overall") or {}).get("success_ci")
        succ = _f(m["success_rate"], "{:.1%}") + (f" ({ci[0]:.0%}–{ci[1]:.0%})" if ci else "")
        dci = p.get("delta_ci")
        delta = _f(p.get("delta"), "{:+.1%}") + (f" [{dci[0]:+.0%}, {dci[1]:+.0%}]" if dci else "")
        pval = _f(m["p_value"], "{:.3g}")
        if label == results["run"]["baseline"]:
            delta = pval = "–"
        rows.append([label, str(row.get("quantization") or "–"), _f(row.get("size") and row["size"] / 1e6, "{:.1f}"),
                     _f(row.get("bpw"), "{:.2f}"), _fallback(row.get("fallback")), _f(m["gen_tokens_per_s"], "{:.0f}"), succ, delta,
                     pval, _f(m["progress_rate"], "{:.1%}"), _f(m["invalid_rate"], "{:.1%}"),
                     _f(m["parse_failure_rate"], "{:.1%}"), _f(m["mean_steps"], "{:.1f}"),
                     _f(m["agreement_baseline"], "{:.1%}"), _f(m["exact_agreement"], "{:.1%}"),
                     _f(m["agreement_expert"], "{:.1%}"), _f(m["mean_kld"], "{:.5f}"), _f(m["p99_kld"], "{:.5f}"),
                     _f(m["same_top1"], "{:.1%}"), _f(m["ppl_ratio"], "{:.4f}"), _status(results, label)])  # fmt: skip
    return Table(head, rows)


def _task_types(results: dict, pick: Any) -> list[str]:
    seen: list[str] = []
    for row in results["levels"].values():
        seen += [t for t in pick(row) if t not in seen]
    return seen


def agreement_table(results: dict, which: str) -> Table:
    """Action agreement per task type with the ``expert`` or ``baseline`` trajectories."""

    def by(row: dict) -> dict:
        return ((row.get("agreement") or {}).get(which) or {}).get("by_task_type") or {}

    types = _task_types(results, by)
    head = ["task type", *results["levels"]]
    rows = [[t] + [_f(by(r).get(t, {}).get("action_agreement"), "{:.0%}") for r in results["levels"].values()]
            for t in types]  # fmt: skip
    return Table(head, rows)


def delta_table(results: dict) -> Table:
    """Success delta vs the baseline per task type, with the McNemar p-value."""

    def by(row: dict) -> dict:
        return (row.get("paired") or {}).get("by_task_type") or {}

    types = _task_types(results, by)
    head = ["task type", *results["levels"]]
    rows = [[t] + [(f"{by(r)[t]['delta']:+.0%} (p {by(r)[t]['p_value']:.2g})" if t in by(r) else "–")
                   for r in results["levels"].values()] for t in types]  # fmt: skip
    return Table(head, rows)


def gates_table(results: dict) -> Table:
    head = ["level", "gate", "threshold", "value", "result"]
    rows = [[g["level"], g["gate"], f"{g['threshold']:g}", _f(g["value"], "{:.4g}"),
             Cell("FAIL", css="FAIL") if g["status"] == "fail" else g["status"].upper()]
            for g in results["gates"]["results"]]  # fmt: skip
    return Table(head, rows)


def _summary(results: dict) -> str:
    gs = results["gates"]["results"]
    if not gs:
        return "no gates"
    n = {s: sum(g["status"] == s for g in gs) for s in ("fail", "pass", "skip")}
    return f"gates: {n['fail']} failed, {n['pass']} passed, {n['skip']} skipped"


def _header(results: dict) -> tuple[str, str]:
    run, s = results["run"], results["suite"]
    title = f"Regression: {run.get('name') or ''} levels vs {run['baseline']} on {s['name']}".replace(
        "  ", " "
    )
    sub = (f"{s['games']} games · max steps {run.get('max_steps')} · mode {run.get('mode')} · seed {run.get('seed')}"
           f" · backend {run.get('backend')} · gold set {len(results['gold'])} expert trajectories")  # fmt: skip
    return title, sub


def render_markdown(results: dict) -> str:
    title, sub = _header(results)
    parts = [f"# {title}", "", sub, "", f"**{_summary(results)}**", "", "## Levels", "", level_table(results).to_markdown(),
             "", "Δ success: paired vs the baseline (bootstrap 95 % interval), exact McNemar p; agree base / "
             "agree expert: teacher-forced action agreement (same command) on the baseline's / the expert's "
             "trajectories; same reply: teacher-forced replies identical to the baseline's; mean / p99 KLD, "
             "same top-1 and ppl ratio on the assistant tokens of the expert trajectories.", "", f"Reference ({ANCHOR}).", "",
             "## Action agreement with the expert, per task type", "", agreement_table(results, "expert").to_markdown(), "",
             "## Action agreement with the baseline, per task type", "", agreement_table(results, "baseline").to_markdown(),
             "", "## Success delta per task type", "", delta_table(results).to_markdown(), ""]  # fmt: skip
    if results["gates"]["results"]:
        parts += ["## Gates", "", gates_table(results).to_markdown(), ""]
    if notes := results["run"].get("notes"):
        parts += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(parts)


# ---------------------------------------------------------------------------------- html
CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
td:first-child,th:first-child{text-align:left}.FAIL{color:#a00;font-weight:bold}img{max-width:32%;margin:4px}"""


def _plots(results: dict) -> list[str]:
    if (plt := pyplot()) is None:
        return []
    out: list[str] = []

    rows = [(lb, r) for lb, r in results["levels"].items() if r.get("bpw")]
    if rows:
        fig, ax = plt.subplots(figsize=(5, 3.4))
        for lb, r in rows:
            m = r["metrics"]
            ci = ((r.get("episodes") or {}).get("overall") or {}).get("success_ci")
            if m["success_rate"] is None:
                continue
            err = [[m["success_rate"] - ci[0]], [ci[1] - m["success_rate"]]] if ci else None
            ax.errorbar([r["bpw"]], [m["success_rate"]], yerr=err, fmt="o", capsize=3)
            ax.annotate(
                lb, (r["bpw"], m["success_rate"]), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
        ax.set(
            xlabel="bits per weight", ylabel="success", ylim=(-0.05, 1.05), title="Success vs bits per weight"
        )
        out.append(png(fig))
        kld = sorted(((lb, r) for lb, r in rows if r["metrics"]["mean_kld"]), key=lambda x: x[1]["bpw"])
        if kld:
            fig, ax = plt.subplots(figsize=(5, 3.4))
            xs = [r["bpw"] for _, r in kld]
            ax.plot(xs, [r["metrics"]["mean_kld"] for _, r in kld], "o", label="mean")
            ax.plot(xs, [r["metrics"]["p99_kld"] for _, r in kld], "s", mfc="none", label="p99")
            for lb, r in kld:
                xy = (r["bpw"], r["metrics"]["mean_kld"])
                ax.annotate(lb, xy, fontsize=7, xytext=(3, 3), textcoords="offset points")
            ax.set(xlabel="bits per weight", ylabel="KLD vs baseline", yscale="log")
            ax.set_title("KL divergence vs bits per weight")
            ax.legend(fontsize=8)
            out.append(png(fig))
    for which in ("baseline", "expert"):  # the baseline's trajectories isolate quantization damage
        agree = agreement_table(results, which)
        head, trows = agree.columns, agree.rows
        if any(c != "–" for r in trows for c in r[1:]):
            break
    else:
        return out
    from harness.world.world import SHORT_NAMES

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    width = 0.8 / max(1, len(head) - 1)
    for j, lb in enumerate(head[1:]):
        vals = [float(r[j + 1].rstrip("%")) / 100 if r[j + 1] != "–" else 0.0 for r in trows]
        ax.bar([i + j * width for i in range(len(trows))], vals, width, label=lb)
    names = [SHORT_NAMES.get(r[0], r[0]) for r in trows]
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(trows))], names, rotation=20, fontsize=7)
    ax.set(
        ylim=(0, 1.3),
        yticks=[0, 0.25, 0.5, 0.75, 1],
        title=f"Action agreement with the {which} per task type",
    )
    ax.legend(fontsize=6, ncol=4, loc="upper center")
    out.append(png(fig))
    return out


def render_html(results: dict) -> str:
    title, sub = _header(results)
    imgs = images(_plots(results))
    gates = f"<h2>Gates</h2>{gates_table(results).to_html()}" if results["gates"]["results"] else ""
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in results["run"].get("notes") or [])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(sub)}</p>
<p><b>{_summary(results)}</b></p><h2>Levels</h2>{level_table(results).to_html()}
<p>Reference: {html.escape(ANCHOR)}.</p><div>{imgs}</div>
<h2>Action agreement with the expert, per task type</h2>{agreement_table(results, "expert").to_html()}
<h2>Action agreement with the baseline, per task type</h2>{agreement_table(results, "baseline").to_html()}
<h2>Success delta per task type</h2>{delta_table(results).to_html()}{gates}
{"<h2>Notes</h2><ul>" + notes + "</ul>" if notes else ""}</body></html>
"""
