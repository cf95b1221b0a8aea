"""Reports of a bench run: ``results.json``, ``report.md`` and a self-contained
``report.html`` (plots inlined), plus side-by-side comparisons of several runs.

    write_reports(out_dir, traces, run_info)   # after a run, or to rebuild one
    compare_runs([dir_a, dir_b])               # markdown table with deltas per task type
    compare_runs(["a-h1+a-h2", "b-h1+b-h2"])    # runs played in parts; paired McNemar test
"""

from __future__ import annotations

import json
from pathlib import Path

from harness._util.atomic import atomic_write_text
from harness.bench.paired import paired_comparison
from harness.bench.scoring import score
from harness.bench.traces import EpisodeTrace, load_traces
from harness.errors import HarnessError
from harness.report.html import render_html
from harness.report.markdown import metrics_table, render_markdown
from harness.report.table import Table

RESULTS_VERSION = 1


def results_dict(traces: list[EpisodeTrace], run_info: dict, unreadable: int = 0) -> dict:
    s = score(traces)
    return {
        "version": RESULTS_VERSION,
        "run": {k: v for k, v in run_info.items() if k not in ("provenance", "machine", "resumes", "drawn")},
        "provenance": run_info.get("provenance"),
        "machine": run_info.get("machine"),
        "resumes": run_info.get("resumes", []),
        "drawn": run_info.get("drawn"),
        "unreadable_trace_lines": unreadable,
        "overall": s["overall"].to_dict(),
        "by_task_type": {k: m.to_dict() for k, m in s["by_task_type"].items()},
        "episodes": [
            {
                "game_id": t.game_id,
                "task_type": t.task_type,
                "won": t.won,
                "progress": t.progress,
                "steps": len(t.steps),
                "expert_steps": t.expert_steps,
                "ended": t.ended,
                "error": t.error,
            }
            for t in traces
        ],
    }


def write_reports(
    out_dir: str | Path, traces: list[EpisodeTrace], run_info: dict, *, unreadable: int = 0
) -> dict:
    """Write results.json, report.md and report.html into ``out_dir``; returns the results.
    ``unreadable``: lines of traces.jsonl that could not be read (the reports say so)."""
    out = Path(out_dir)
    results = results_dict(traces, run_info, unreadable)
    atomic_write_text(out / "results.json", json.dumps(results, indent=2))
    atomic_write_text(out / "report.md", render_markdown(results))
    atomic_write_text(out / "report.html", render_html(results, traces))
    return results


def load_run(run_dir: str | Path) -> tuple[list[EpisodeTrace], dict]:
    """(readable traces, run.json) of a run folder; see :func:`load_run_checked` for the count
    of unreadable trace lines."""
    traces, info, _ = load_run_checked(run_dir)
    return traces, info


def load_run_checked(run_dir: str | Path) -> tuple[list[EpisodeTrace], dict, int]:
    """(readable traces, run.json, number of unreadable lines in traces.jsonl)."""
    from harness._util.jsonfile import read_json

    d = Path(run_dir)
    traces_file = d / "traces.jsonl"
    if not traces_file.exists():
        raise HarnessError(f"{d} holds no traces.jsonl: give a folder written by 'harness bench --out'")
    run_file = d / "run.json"
    info = (
        read_json(run_file, "run record", HarnessError, "rerun the bench into a new --out")
        if run_file.exists()
        else {}
    )
    found = load_traces(traces_file)
    return found.traces, info, len(found.bad)


def load_joined(spec: str | Path) -> tuple[str, list[EpisodeTrace], dict]:
    """(name, traces, run.json) of a run given as one folder, or as the folders of one run
    played in parts joined by ``+`` (``harness bench --games`` on two processes:
    ``runs/a-h1+runs/a-h2``). Parts must share the model, suite and mode, and no game may be in
    two of them; a folder whose own name holds ``+`` is read as one folder."""
    if Path(spec).is_dir() or "+" not in str(spec):
        parts = [Path(spec)]
    else:
        parts = [Path(x) for x in str(spec).split("+")]
    traces: list[EpisodeTrace] = []
    info: dict = {}
    where: dict[str, Path] = {}
    for i, part in enumerate(parts):
        found, part_info = load_run(part)
        for key in ("model", "suite", "mode") if i else ():
            if part_info.get(key) != info.get(key):
                raise HarnessError(
                    f"{spec}: the parts of one run must share the {key}: {parts[0]} has "
                    f"{info.get(key)!r}, {part} {part_info.get(key)!r}"
                )
        info = info if i else part_info
        for t in found:
            if t.game_id in where:
                raise HarnessError(
                    f"{spec}: game {t.game_id} is in both {where[t.game_id]} and {part}: "
                    "the parts of one run must play different games"
                )
            where[t.game_id] = part
        traces += found
    return "+".join(p.name for p in parts), traces, info


def compare_runs(run_dirs: list[str | Path]) -> str:
    """A markdown comparison: success per task type for each run, with deltas vs the first, then
    each run paired with the first over the games both played (games only one of them won,
    the exact McNemar p, the success delta with a paired bootstrap 95 % interval). A run may
    be given in parts (:func:`load_joined`)."""
    runs = []
    for d in run_dirs:
        name, traces, info = load_joined(d)
        runs.append((name, score(traces), info, traces))
    task_types: list[str] = []
    for _, s, _, _ in runs:
        task_types += [t for t in s["by_task_type"] if t not in task_types]

    def table(rate: str, counts: bool, caption: str | None = None) -> Table:
        def cell(m, base) -> str:
            if m is None:
                return "–"
            txt = f"{100 * getattr(m, rate):.1f}%" + (f" ({m.successes}/{m.episodes})" if counts else "")
            if base is not None and m is not base:
                txt += f" {100 * (getattr(m, rate) - getattr(base, rate)):+.1f}"
            return txt

        rows = []
        for t in [*task_types, "overall"]:
            ms = [s["overall"] if t == "overall" else s["by_task_type"].get(t) for _, s, _, _ in runs]
            rows.append([t, *(cell(m, ms[0]) for m in ms)])
        return Table(["task type", *(name for name, _, _, _ in runs)], rows, caption=caption)

    parts = ["# Comparison", "", table("success_rate", True).to_markdown(), ""]
    parts.append(table("progress_rate", False, caption="Progress rate:").to_markdown())
    parts += ["", _paired_table(runs).to_markdown()]
    return "\n".join(parts) + "\n"


def _paired_table(runs: list[tuple[str, dict, dict, list[EpisodeTrace]]]) -> Table:
    first, _, _, base = runs[0]
    rows = []
    for name, s, _, traces in runs:
        o = s["overall"]
        lo, hi = o.success_ci
        row = [name, f"{100 * o.success_rate:.1f}% ({100 * lo:.0f}–{100 * hi:.0f}%)"]
        if traces is base:
            rows.append([*row, "–", "–", "–", "–", "–"])
            continue
        p = paired_comparison(base, traces)
        d_lo, d_hi = p["delta_ci"]
        rows.append(
            [
                *row,
                str(p["pairs"]),
                str(p["candidate_only"]),
                str(p["baseline_only"]),
                f"{100 * p['delta']:+.1f} pt [{100 * d_lo:+.0f}, {100 * d_hi:+.0f}]" if p["pairs"] else "–",
                f"{p['p_value']:.3g}" if p["pairs"] else "–",
            ]
        )
    return Table(
        [
            "run",
            "success (95 % CI)",
            "games paired",
            "won here only",
            "won by the first only",
            "delta",
            "McNemar p",
        ],
        rows,
        align="lrrrrrr",
        caption=f"Paired with {first}, over the games both played:",
    )


__all__ = ["compare_runs", "load_joined", "load_run", "metrics_table", "results_dict", "write_reports"]
