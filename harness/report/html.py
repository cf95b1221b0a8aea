"""Self-contained HTML report: summary tables, matplotlib plots inlined as PNG, and every
episode's trace rendered as a readable transcript (linked from the episode table)."""

from __future__ import annotations

import html

from harness.bench.traces import EpisodeTrace
from harness.report.markdown import EPISODE_COLUMNS, metrics_table
from harness.report.plots import images, png, pyplot
from harness.report.table import Cell, Table
from harness.world.world import SHORT_NAMES

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.won{color:#070}.lost{color:#a00}
.trace{font-family:monospace;white-space:pre-wrap;background:#f7f7f7;padding:.6em;border-radius:4px}
.a{color:#035}.think{color:#666}.bad{color:#a00}.obs{color:#333}img{max-width:48%;margin:4px}
"""


def _plots(results: dict, traces: list[EpisodeTrace]) -> list[str]:
    """PNG plots as base64 strings (empty when matplotlib is missing)."""
    if (plt := pyplot()) is None:
        return []
    out = []
    by = results["by_task_type"]
    names = [SHORT_NAMES.get(k, k) for k in by]

    fig, ax = plt.subplots(figsize=(6, 3.2))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [m["success_rate"] for m in by.values()], 0.4, label="success")
    ax.bar([x + 0.2 for x in xs], [m["progress_rate"] for m in by.values()], 0.4, label="progress")
    ax.set_xticks(list(xs), names, rotation=20, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_title("Success and progress by task type")
    ax.legend(fontsize=8)
    out.append(png(fig))

    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist([len(t.steps) for t in traces], bins=range(0, max((len(t.steps) for t in traces), default=1) + 2))
    ax.set_title("Steps per episode")
    ax.set_xlabel("steps")
    out.append(png(fig))

    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar(names, [m["invalid_rate"] for m in by.values()], color="#c55")
    ax.set_ylim(0, 1)
    ax.set_title("Invalid-command rate by task type")
    ax.tick_params(axis="x", rotation=20, labelsize=8)
    out.append(png(fig))
    return out


def _trace_html(i: int, t: EpisodeTrace) -> str:
    rows = []
    for s in t.steps:
        cls = "think" if s.kind == "think" else ("bad" if s.kind == "invalid" else "a")
        said = html.escape(s.assistant.strip() or "(empty reply)")
        note = f"  [parse failure: {html.escape(s.parse_error)}]" if s.parse_error else ""
        rows.append(
            f'<span class="{cls}">&gt; {said}</span>{note}\n<span class="obs">{html.escape(s.observation)}</span>'
        )
    status = "won" if t.won else f"not won ({t.ended}{': ' + html.escape(t.error) if t.error else ''})"
    return (
        f'<details id="ep{i}"><summary>{html.escape(t.game_id)} — {html.escape(t.task)} — {status}, '
        f'{len(t.steps)} steps</summary><div class="trace">{chr(10).join(rows)}</div></details>'
    )


def render_html(results: dict, traces: list[EpisodeTrace]) -> str:
    run = results.get("run", {})
    o = results["overall"]
    table = metrics_table([*results["by_task_type"].items(), ("overall", o)]).to_html()
    imgs = images(_plots(results, traces))
    eps = [
        [Cell(t.game_id, href=f"#ep{i}"), t.task_type, Cell("yes" if t.won else "no", css="won" if t.won else "lost"),
         f"{t.progress:.0%}", str(len(t.steps)), str(t.expert_steps) if t.expert_steps is not None else "–", str(t.ended)]
        for i, t in enumerate(traces)
    ]  # fmt: skip
    details = "\n".join(_trace_html(i, t) for i, t in enumerate(traces))
    title = f"Bench: {html.escape(str(run.get('model', '?')))} on {html.escape(str(run.get('suite', '?')))}"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title><style>{CSS}</style></head>
<body><h1>{title}</h1>
<p>backend <code>{html.escape(str(run.get("backend", "?")))}</code> · mode <code>{html.escape(str(run.get("mode", "?")))}</code>
· max steps {run.get("max_steps", "?")} · seed {run.get("seed", "?")}</p>
<p><b>Success {o["success_rate"]:.1%}</b> ({o["successes"]}/{o["episodes"]}, 95% CI {o["success_ci"][0]:.1%}–{o["success_ci"][1]:.1%})
· progress {o["progress_rate"]:.1%}</p>
{table}
<div>{imgs}</div>
<h2>Episodes</h2>{Table(EPISODE_COLUMNS, eps).to_html()}
<h2>Traces</h2>{details}
</body></html>
"""
