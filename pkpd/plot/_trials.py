"""Published trial summaries against the distribution of the same summaries in simulated
trials (:func:`pkpd.trials.compare_published`)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from ..trials import PublishedComparison

__all__ = ["published_comparison"]


def _level_name(level: float) -> str:
    return f"{100.0 * level:g}"


def published_comparison(result: PublishedComparison, *, title: str | None = None,
                         log: bool = False, path: str | Path | None = None) -> Figure:
    """Each published summary on the distribution of its simulated counterpart.

    One panel per group and unit; in it, one column per summary row: a violin of the statistic
    over the simulated trials, its median (white tick) and central intervals (thick bar: the
    first level of the result, thin bar: the next), and the published value (a dot, black
    inside the first interval and red outside). The y axis is in the model's units.

    Parameters
    ----------
    result : PublishedComparison
        From :func:`pkpd.trials.compare_published`.
    title : str, optional
        Figure title (default: the model, the number of trials and the coverage).
    log : bool
        Logarithmic y axes.
    path : str or Path, optional
        Save the figure there (PNG at 150 dpi) and close it.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from pkpd.trials import PublishedSummary, TrialArm, compare_published
    >>> arm = TrialArm("1 g", "1 g IV over 1 h q12h x 8", n=10, population={"CRCL": 110})
    >>> rows = [PublishedSummary("1 g", "mean", 25, unit="ug/mL", time="2 h",
    ...                          after="end of last infusion")]
    >>> res = compare_published("vancomycin_goti2018", rows, [arm], n_trials=100, seed=1)
    >>> fig = published_comparison(res)
    >>> len(fig.axes)
    1
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = result.table
    main = _level_name(result.levels[0])
    second = _level_name(result.levels[1]) if len(result.levels) > 1 else None
    panels: dict[tuple[str, str], list[int]] = {}
    for i, (g, u) in enumerate(zip(table["group"], table["unit"], strict=True)):
        panels.setdefault((str(g), str(u)), []).append(i)
    k = len(panels)
    ncols = min(k, 2)
    nrows = math.ceil(k / ncols)
    widest = max(len(v) for v in panels.values())
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(max(4.5, 1.5 * widest + 1.5) * ncols, 4.6 * nrows))
    for ax, ((group, unit), idx) in zip(axes.ravel(), panels.items(), strict=False):
        x = np.arange(len(idx), dtype=float)
        for xi, i in zip(x, idx, strict=True):
            r = table.iloc[i]
            s = result.simulated[i]
            s = s[np.isfinite(s)]
            if len(s) > 1 and np.ptp(s) > 0:
                parts = ax.violinplot(s, positions=[xi], widths=0.7, showextrema=False)
                for body in parts["bodies"]:
                    body.set_facecolor("tab:blue")
                    body.set_alpha(0.25)
            if second is not None:
                ax.vlines(xi, r[f"lo_{second}"], r[f"hi_{second}"], color="tab:blue", lw=1.2)
            ax.vlines(xi, r[f"lo_{main}"], r[f"hi_{main}"], color="tab:blue", lw=5, alpha=0.8)
            ax.hlines(r["sim_median"], xi - 0.09, xi + 0.09, color="white", lw=2, zorder=3)
            inside = bool(r[f"inside_{main}"])
            ax.plot(xi, r["observed"], "o" if inside else "X", ms=9, zorder=4,
                    color="black" if inside else "tab:red")
        ax.set_xticks(x)
        ax.set_xticklabels(["\n".join(textwrap.wrap(
            f"{table.iloc[i]['label']}: {table.iloc[i]['statistic']} (n={table.iloc[i]['n']})",
            22)) for i in idx], fontsize=8)
        ax.set_xlim(-0.6, len(idx) - 0.4)
        names = sorted({str(table.iloc[i]["statistic"]) for i in idx})
        what = names[0] if len(names) == 1 else "statistic"
        ax.set_ylabel(f"{what} ({unit})" if unit not in ("1", "") else f"{what} (fraction)")
        ax.set_title(group)
        if log:
            ax.set_yscale("log")
        ax.grid(True, axis="y", alpha=0.3)
    for ax in axes.ravel()[k:]:
        ax.set_visible(False)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="tab:blue", lw=5, alpha=0.8),
               Line2D([], [], marker="o", ls="", color="black", ms=8),
               Line2D([], [], marker="X", ls="", color="tab:red", ms=8)]
    labels = [f"simulated {main} % interval" + (f" (thin: {second} %)" if second else ""),
              f"published, inside {main} %", f"published, outside {main} %"]
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(title or f"{result.model}: published summaries vs {result.n_trials} simulated "
                 f"trials (coverage {100 * result.coverage:.0f} % in the {main} % intervals)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    if path is not None:
        from ._common import save_figure

        save_figure(fig, path)
        plt.close(fig)
    return fig
