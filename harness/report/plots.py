"""Plots of the HTML reports: matplotlib on its file backend, each figure inlined as a PNG.
:func:`pyplot` gives ``matplotlib.pyplot`` (None without matplotlib: the report goes without
plots), :func:`png` turns a finished figure into base64 and closes it, :func:`images` writes
the ``<img>`` tags of a page."""

from __future__ import annotations

import base64
import io
from typing import Any

__all__ = ["images", "png", "pyplot"]


def pyplot() -> Any | None:
    """``matplotlib.pyplot`` on the Agg backend (no display needed), or None when matplotlib
    is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def png(fig: Any) -> str:
    """The figure as a base64 PNG (tight layout, 90 dpi); the figure is closed."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def images(pngs: list[str]) -> str:
    """The ``<img>`` tags that inline base64 PNGs in a page."""
    return "".join(f'<img src="data:image/png;base64,{b}">' for b in pngs)
