"""The one table type of the reports (harness.report.table) and the shared plot helpers."""

from __future__ import annotations

import base64

import pytest

from harness.report.plots import images, png, pyplot
from harness.report.table import Cell, Table


def test_markdown_alignment_empty_cells_and_caption() -> None:
    t = Table(["", "n", "mid"], [["a", "1", "x"], ["**overall**", "2", ""]], align="lrc")
    assert t.to_markdown() == "| | n | mid |\n|---|---:|:---:|\n| a | 1 | x |\n| **overall** | 2 | |"
    plain = Table(["task type", "run"], [["pick", "50.0%"]], caption="Progress rate:")
    assert plain.to_markdown() == "Progress rate:\n\n| task type | run |\n|---|---|\n| pick | 50.0% |"


def test_html_escapes_and_carries_cell_class_and_link() -> None:
    t = Table(
        ["game", "won"],
        [[Cell("g<1>", href="#ep0"), Cell("yes", css="won")], ["a&b", Cell("FAIL: x", css="FAIL")]],
        caption="Episodes",
    )
    assert t.to_html() == (
        "<table><caption>Episodes</caption><tr><th>game</th><th>won</th></tr>"
        '<tr><td><a href="#ep0">g&lt;1&gt;</a></td><td class="won">yes</td></tr>'
        '<tr><td>a&amp;b</td><td class="FAIL">FAIL: x</td></tr></table>'
    )
    # the Markdown (and the console) see only the text
    assert t.to_markdown().splitlines()[4] == "| g<1> | yes |"


def test_cell_is_its_text() -> None:
    c = Cell("FAIL: q4", css="FAIL")
    assert c == "FAIL: q4" and c.startswith("FAIL") and isinstance(c, str)
    assert (c.css, c.href, Cell("x").css) == ("FAIL", None, None)
    t = Table(["a"], [[c]])
    assert t.columns == ["a"] and t.rows == [["FAIL: q4"]]


def test_png_and_images() -> None:
    plt = pyplot()
    if plt is None:
        pytest.skip("matplotlib is not installed")
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    b = png(fig)
    assert base64.b64decode(b).startswith(b"\x89PNG") and fig.number not in plt.get_fignums()
    assert (
        images([b, "QQ=="]) == f'<img src="data:image/png;base64,{b}"><img src="data:image/png;base64,QQ==">'
    )
