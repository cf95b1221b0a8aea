"""The one table type of every report (bench, regress, diagnose, comparisons) and its two
renderings: Markdown for ``report.md`` / ``diagnose.md`` and HTML for ``report.html``.

    t = Table(["level", "success"], [["q8_0", "91.7%"]], align="lr")
    t.to_markdown()   # | level | success |\\n|---|---:|\\n| q8_0 | 91.7% |
    t.to_html()       # <table><tr><th>level</th>…</table>

Cells are strings; a :class:`Cell` adds a CSS class or a link that only the HTML shows.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["Cell", "Table"]

_RULE = {"l": "---", "r": "---:", "c": ":---:"}


class Cell(str):
    """A cell's text with HTML extras: a CSS class (``css``) and a link (``href``). Markdown,
    the console and every other reader of the string see only the text."""

    css: str | None
    href: str | None

    def __new__(cls, text: str, *, css: str | None = None, href: str | None = None) -> Cell:
        self = super().__new__(cls, text)
        self.css, self.href = css, href
        return self


@dataclass
class Table:
    """Column headings, rows of cells, and optionally the alignment and a caption.

    ``align``: one letter a column, ``l`` (the default for a missing letter), ``r`` or ``c``;
    Markdown writes it in the rule under the heading (``l`` as the plain ``---``), HTML leaves
    alignment to the page's stylesheet. ``caption``: a line above the table (Markdown) or its
    ``<caption>`` (HTML)."""

    columns: list[str]
    rows: list[list[str]]
    align: str = ""
    caption: str | None = None

    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown table (no trailing newline); ``|`` in cells is not escaped."""

        def line(cells: list[str]) -> str:
            return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"

        align = self.align.ljust(len(self.columns), "l")[: len(self.columns)]
        lines = [line(self.columns), "|" + "".join(_RULE[a] + "|" for a in align), *map(line, self.rows)]
        if self.caption:
            lines[:0] = [self.caption, ""]
        return "\n".join(lines)

    def to_html(self) -> str:
        """An HTML ``<table>`` with the text escaped; a :class:`Cell`'s class and link included."""
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        head = "".join(_html_cell(c, "th") for c in self.columns)
        body = "".join("<tr>" + "".join(_html_cell(c, "td") for c in row) + "</tr>" for row in self.rows)
        return f"<table>{caption}<tr>{head}</tr>{body}</table>"


def _html_cell(c: str, tag: str) -> str:
    css = getattr(c, "css", None)
    text = html.escape(c)
    if href := getattr(c, "href", None):
        text = f'<a href="{html.escape(href)}">{text}</a>'
    attr = f' class="{css}"' if css else ""
    return f"<{tag}{attr}>{text}</{tag}>"
