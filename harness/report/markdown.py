"""Markdown report of one run."""

from __future__ import annotations

from harness.report.table import Table

COLUMNS = [
    ("episodes", "n", "{}"),
    ("success_rate", "success", "{:.1%}"),
    ("success_ci", "95% CI", None),
    ("progress_rate", "progress", "{:.1%}"),
    ("mean_steps", "steps", "{:.1f}"),
    ("invalid_rate", "invalid", "{:.1%}"),
    ("parse_failure_rate", "parse fail", "{:.1%}"),
    ("think_ratio", "think", "{:.1%}"),
    ("loop_rate", "loops", "{:.1%}"),
    ("efficiency", "efficiency", "{:.2f}"),
]

EPISODE_COLUMNS = ["game", "task type", "won", "progress", "steps", "expert", "ended"]


def _cell(m: dict, key: str, fmt: str | None) -> str:
    v = m.get(key)
    if key == "success_ci":
        lo, hi = v
        return f"{lo:.1%}–{hi:.1%}"
    if v is None:
        return "–"
    return fmt.format(v) if fmt else str(v)


def metrics_table(rows: list[tuple[str, dict]]) -> Table:
    """The metrics of each (name, metrics dict) row, one column per entry of ``COLUMNS``."""
    return Table(
        ["", *(c[1] for c in COLUMNS)],
        [[name, *(_cell(m, k, f) for k, _, f in COLUMNS)] for name, m in rows],
        align="l" + "r" * len(COLUMNS),
    )


def render_markdown(results: dict) -> str:
    run = results.get("run", {})
    o = results["overall"]
    lines = [
        f"# Bench: {run.get('model', '?')} on {run.get('suite', '?')}",
        "",
        f"backend `{run.get('backend', '?')}` · mode `{run.get('mode', '?')}` · max steps {run.get('max_steps', '?')}"
        f" · seed {run.get('seed', '?')}",
        "",
        f"**Success {o['success_rate']:.1%}** ({o['successes']}/{o['episodes']}, 95% CI "
        f"{o['success_ci'][0]:.1%}–{o['success_ci'][1]:.1%}) · progress {o['progress_rate']:.1%}"
        f" · errors {o['errors']} · timeouts {o.get('timeouts', 0)}",
        "",
        metrics_table([*results["by_task_type"].items(), ("**overall**", o)]).to_markdown(),
        "",
    ]
    lost = o.get("lost_at") or {}
    if lost:
        by_type = [
            f"{t} " + ", ".join(f"{k} {v}" for k, v in m["lost_at"].items())
            for t, m in results["by_task_type"].items()
            if m.get("lost_at")
        ]
        lines += [
            "Lost episodes stopped at: "
            + ", ".join(f"{k} {v}" for k, v in lost.items())
            + f" ({'; '.join(by_type)}).",
            "",
        ]
    if results.get("unreadable_trace_lines"):
        lines[4:4] = [
            f"**{results['unreadable_trace_lines']} unreadable line(s) of traces.jsonl are not counted.**",
            "",
        ]
    if (drawn := results.get("drawn")) and drawn.get("limit"):
        lines += [f"{len(drawn['games'])} games drawn ({drawn['rule']}, --limit {drawn['limit']}).", ""]
    prov = results.get("provenance") or {}
    if prov:
        lines += [
            "provenance: "
            + " · ".join(f"{k} {v}" for k, v in prov.items() if v is not None and k != "engine"),
            "",
        ]
    perf = [
        ("prompt tokens / step", o.get("prompt_tokens_per_step"), "{:.0f}"),
        ("prompt tokens evaluated / step", o.get("prompt_eval_per_step"), "{:.0f}"),
        ("generated tokens / step", o.get("gen_tokens_per_step"), "{:.1f}"),
        ("latency / step (s)", o.get("latency_per_step_s"), "{:.3f}"),
        ("generation tokens / s", o.get("gen_tokens_per_s"), "{:.1f}"),
    ]
    perf_rows = [[k, f.format(v) if v is not None else "–"] for k, v, f in perf]
    lines += [Table(["performance", ""], perf_rows, align="lr").to_markdown(), "", "## Episodes", ""]
    episodes = [
        [e["game_id"], e["task_type"], "yes" if e["won"] else "no", f"{e['progress']:.0%}", str(e["steps"]),
         str(e["expert_steps"]) if e["expert_steps"] is not None else "–", str(e["ended"])]
        for e in results["episodes"]
    ]  # fmt: skip
    lines.append(Table(EPISODE_COLUMNS, episodes, align="lllrrrl").to_markdown())
    return "\n".join(lines) + "\n"
