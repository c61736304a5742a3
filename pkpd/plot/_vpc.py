"""Visual predictive check plots of a :class:`pkpd.VPC` (see :func:`pkpd.vpc`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..diagnostics import VPC

__all__ = ["vpc"]

_OUTER = "#3b7dc4"      # the interval of the outer simulated percentiles
_MEDIAN = "#d9473f"     # the interval of the simulated median
_OBSERVED = "0.1"       # observed percentiles
_OUTSIDE = "#ff8c00"    # an observed statistic outside its simulated interval
_REQUIRED = ("stratum", "output", "bin", "time", "n_obs", "quantile", "observed", "sim_lo",
             "sim_hi")


def vpc(result: VPC | pd.DataFrame, *, path: str | Path | None = None, log: bool = False,
        title: str | None = None, points: bool = True) -> Figure:
    """Plot a visual predictive check: one column of panels per stratum, one row per output.

    Each panel shows, against the bins' median times, the simulated confidence interval of
    each percentile (shaded: the median in red, the outer percentiles in blue; an interval
    reaching below the LLOQ is drawn down to the LLOQ, except when prediction-corrected), the
    observed percentiles (black lines: the median solid, the others dashed; orange diamonds
    where the observed percentile lies outside its interval), the observations (grey points;
    BLQ levels left out), the LLOQ (dotted) and the bin edges (ticks at the bottom). When the
    check has an LLOQ, a lower panel shows the fraction of levels below it: observed (line)
    against its simulated interval (band).

    Parameters
    ----------
    result : pkpd.VPC or pandas.DataFrame
        The result of :func:`pkpd.vpc`, or just its ``.table`` (then without points).
    path : str or Path, optional
        Save the figure there (PNG at 150 dpi) and close it.
    log : bool
        Logarithmic concentration axes (non-positive values are not shown).
    title : str, optional
        Figure title (default: the model, the kind of check and the replicates).
    points : bool
        Show the observations.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, pkpd
    >>> from pkpd.testing.datasets import simulated_oral
    >>> frame = simulated_oral("theophylline_1cmt", 320, times=[0.5, 1, 2, 4, 8, 12, 24],
    ...                        covariates={"WT": np.linspace(55, 85, 10)})
    >>> v = pkpd.vpc("theophylline_1cmt", frame, n=100, seed=1)
    >>> fig = pkpd.plot.vpc(v, path="vpc.png", log=True)
    >>> fig.axes[0].get_yscale()
    'log'
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    table = result if isinstance(result, pd.DataFrame) else result.table
    missing = [c for c in _REQUIRED if c not in table]
    if missing:
        raise DataError(f"the VPC table lacks the columns {missing}")
    kind = table["kind"] if "kind" in table else pd.Series("percentile", index=table.index)
    observed = None if isinstance(result, pd.DataFrame) else getattr(result, "observed", None)
    info = {name: getattr(result, name, default) for name, default in
            (("units", {}), ("ci", None), ("n", None), ("model", None),
             ("pred_corrected", False), ("stratify", None))}
    strata = list(dict.fromkeys(table["stratum"]))
    outputs = list(dict.fromkeys(table["output"]))
    if not strata:
        raise DataError("the VPC table is empty")
    has_blq = {o: bool(((kind == "blq") & (table["output"] == o)).any()) for o in outputs}
    ratios = [r for o in outputs for r in ([3.0, 1.1] if has_blq[o] else [3.0])]
    fig, axes = plt.subplots(len(ratios), len(strata), squeeze=False, sharex="col",
                             figsize=(max(5.2 * len(strata), 7.0), 0.75 + 1.3 * sum(ratios)),
                             gridspec_kw={"height_ratios": ratios}, layout="constrained")
    ci_text = f"{info['ci'] * 100:g} % CI" if info["ci"] else "CI"
    for j, s in enumerate(strata):
        row = 0
        for o in outputs:
            sel = (table["stratum"] == s) & (table["output"] == o)
            unit = info["units"].get(o, "")
            ax = axes[row, j]
            _percentile_panel(ax, table[sel & (kind == "percentile")], log, ci_text,
                              not info["pred_corrected"])
            if points and observed is not None:
                _points(ax, observed, s, o, log)
            name = f"prediction-corrected {o}" if info["pred_corrected"] else str(o)
            ax.set_ylabel(f"{name} ({unit})" if unit else name)
            if len(strata) > 1 or s != "all":
                ax.set_title(f"{info['stratify']} = {_value(s)}" if info["stratify"]
                             else _value(s))
            row += 1
            if has_blq[o]:
                _blq_panel(axes[row, j], table[sel & (kind == "blq")], ci_text)
                row += 1
        time_unit = getattr(result, "time_unit", "")
        axes[-1, j].set_xlabel(f"TIME ({time_unit})" if time_unit else "TIME")
    handles, labels = _legend_handles(axes)
    fig.legend(handles, labels, loc="outside lower center", fontsize=8, frameon=False,
               ncols=max(1, min(len(labels), int(fig.get_figwidth() // 3.4))))
    what = "prediction-corrected VPC" if info["pred_corrected"] else "VPC"
    details = [f"{info['n']} replicates" if info["n"] else "", ci_text if info["ci"] else ""]
    default = f"{what} of {info['model']}" if info["model"] else what
    if any(details):
        default += f" ({', '.join(d for d in details if d)})"
    fig.suptitle(title or default)
    if path is not None:
        from ._common import save_figure

        save_figure(fig, path)
        plt.close(fig)
    return fig


def _value(v: Any) -> str:
    """A stratum's value for a title (1.0 as 1)."""
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _positive(v: np.ndarray, log: bool) -> np.ndarray:
    """The values, non-positive ones NaN on a log axis."""
    v = np.asarray(v, dtype=float)
    return np.where(v > 0, v, np.nan) if log else v


def _percentile_panel(ax: Axes, rows: pd.DataFrame, log: bool, ci_text: str,
                      show_lloq: bool) -> None:
    """The simulated intervals, the observed percentiles, the LLOQ and the bin edges."""
    rows = rows[rows["n_obs"] > 0].sort_values("bin", kind="stable")
    levels = sorted(dict.fromkeys(rows["quantile"].astype(float)))
    median = 0.5 if 0.5 in levels else None
    for q in levels:
        r = rows[rows["quantile"].astype(float) == q]
        x = r["time"].to_numpy(float)
        lo, hi = _positive(r["sim_lo"], log), _positive(r["sim_hi"], log)
        if show_lloq and "lloq" in r:       # an interval reaching below the LLOQ ends there
            lloq = r["lloq"].to_numpy(float)
            lo = np.where(np.isnan(lo) & np.isfinite(hi) & np.isfinite(lloq), lloq, lo)
        is_median = q == median
        what = "median" if is_median else "outer percentiles"
        ax.fill_between(x, lo, hi, color=_MEDIAN if is_median else _OUTER, alpha=0.3, lw=0,
                        label=f"simulated {ci_text} of the {what}", gid=f"simulated {q:g}")
        y = r["observed"].to_numpy(float)
        ax.plot(x, y, color=_OBSERVED, lw=1.6 if is_median else 1.2,
                ls="-" if is_median else "--", marker="o", ms=2.5,
                label=f"observed {what}",
                gid=f"observed {q:g}")
        if "outside" in r:
            out = r["outside"].to_numpy(bool) & np.isfinite(y)
            if out.any():
                ax.scatter(x[out], y[out], marker="D", s=30, color=_OUTSIDE, zorder=4,
                           label="observed outside the simulated interval",
                           gid=f"outside {q:g}")
    if show_lloq and "lloq" in rows:
        lloq = rows["lloq"].to_numpy(float)
        lloq = lloq[np.isfinite(lloq)]
        if len(lloq):
            ax.axhline(float(lloq.max()), color="0.3", ls=":", lw=1.0, label="LLOQ")
    _bin_edges(ax, rows)
    if log:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)


def _bin_edges(ax: Axes, rows: pd.DataFrame) -> None:
    if "time_lo" not in rows or "time_hi" not in rows:
        return
    edges = np.unique(np.r_[rows["time_lo"].to_numpy(float), rows["time_hi"].to_numpy(float)])
    edges = edges[np.isfinite(edges)]
    ax.vlines(edges, 0.0, 0.04, transform=ax.get_xaxis_transform(), color="0.45", lw=0.9,
              alpha=0.7, label="bin edges", gid="bin edges")


def _points(ax: Axes, observed: pd.DataFrame, stratum: Any, output: str, log: bool) -> None:
    sel = np.ones(len(observed), bool)
    if "stratum" in observed:
        sel &= (observed["stratum"] == stratum).to_numpy()
    if "OUTPUT" in observed:
        sel &= (observed["OUTPUT"].astype(str) == str(output)).to_numpy()
    if "BLQ" in observed:
        sel &= ~observed["BLQ"].to_numpy(bool)
    pts = observed[sel]
    dv_col = "pcDV" if "pcDV" in pts else "DV"
    y = pts[dv_col].to_numpy(float)
    keep = y > 0 if log else np.isfinite(y)
    ax.scatter(pts["TIME"].to_numpy(float)[keep], y[keep], s=7, color="0.55", alpha=0.55,
               lw=0, zorder=1, label="observations", gid="observations")


def _blq_panel(ax: Axes, rows: pd.DataFrame, ci_text: str) -> None:
    rows = rows[rows["n_obs"] > 0].sort_values("bin", kind="stable")
    x = rows["time"].to_numpy(float)
    ax.fill_between(x, rows["sim_lo"].to_numpy(float), rows["sim_hi"].to_numpy(float),
                    color=_OUTER, alpha=0.3, lw=0,
                    label=f"simulated {ci_text} of the fraction BLQ", gid="simulated blq")
    y = rows["observed"].to_numpy(float)
    ax.plot(x, y, color=_OBSERVED, lw=1.4, marker="o", ms=2.5,
            label="observed fraction BLQ", gid="observed blq")
    if "outside" in rows:
        out = rows["outside"].to_numpy(bool) & np.isfinite(y)
        if out.any():
            ax.scatter(x[out], y[out], marker="D", s=30, color=_OUTSIDE, zorder=4,
                       label="observed outside the simulated interval", gid="outside blq")
    _bin_edges(ax, rows)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("fraction BLQ")
    ax.grid(True, alpha=0.3)


def _legend_handles(axes: np.ndarray) -> tuple[list[Any], list[str]]:
    """One legend entry per label over all panels: observations first, then percentiles,
    then the rest in order of appearance."""
    found: dict[str, Any] = {}
    for ax in axes.ravel():
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            found.setdefault(label, h)

    def rank(label: str) -> int:
        if "fraction BLQ" in label:
            return 5
        for i, start in enumerate(("observations", "observed median", "observed outer",
                                   "simulated")):
            if label.startswith(start):
                return i
        return 4

    labels = sorted(found, key=rank)
    return [found[label] for label in labels], labels
