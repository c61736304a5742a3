"""Goodness-of-fit plots of a :class:`pkpd.Diagnostics`: observations against predictions,
weighted residuals, NPDE, and etas against covariates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..diagnostics import Diagnostics

__all__ = ["eta_covariates", "gof"]

_POINT = {"s": 14, "color": "#3b6ea8", "alpha": 0.6, "edgecolors": "none"}
_SMOOTH = {"color": "#d62728", "lw": 1.6}
_REF = {"color": "0.2", "lw": 1.0}
_CATEGORICAL_MAX = 5


def gof(diag: Diagnostics, *, path: str | Path | None = None, log: bool = False,
        output: str | None = None, covariates: Sequence[str] | None = None,
        title: str | None = None) -> Figure:
    """Goodness-of-fit panels of one output of a fit.

    Panels: DV vs PRED and DV vs IPRED (identity line), CWRES vs TIME and CWRES vs PRED
    (lines at 0 and ±2; WRES when the diagnostics have no estimated etas), \\|IWRES\\| vs
    IPRED, a QQ plot of NPDE against N(0, 1) (with the 95 % band of the order statistics), a
    histogram of NPDE with the N(0, 1) density, and a summary (observations, subjects, BLQ
    levels left out, NPDE tests, shrinkage). Red lines are running medians. The IPRED and
    IWRES panels give the epsilon shrinkage in their titles. BLQ (censored) observations are
    left out of every panel and counted in the summary.

    Parameters
    ----------
    diag : pkpd.Diagnostics
        The result of :func:`pkpd.diagnose`.
    path : str or Path, optional
        Save the figure there (PNG at 150 dpi) and close it.
    log : bool
        Logarithmic DV, PRED and IPRED axes (non-positive values are not shown).
    output : str, optional
        The output to plot; needed when the fit has several.
    covariates : sequence of str, optional
        Add a panel of CWRES against each of these columns of ``diag.table`` (a box plot for a
        categorical covariate, one with at most 5 distinct values).
    title : str, optional
        Figure title (default: model, method and output).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    Ten subjects simulated from ``theophylline_1cmt`` (one 320 mg oral dose each), diagnosed
    at the model's values (with a fit: ``pkpd.diagnose(fit)``):

    >>> import numpy as np, pkpd
    >>> from pkpd.testing.datasets import simulated_oral
    >>> frame = simulated_oral("theophylline_1cmt", 320, times=[0.5, 1, 2, 4, 8, 12, 24],
    ...                        covariates={"WT": np.linspace(55, 85, 10)})
    >>> diag = pkpd.diagnose(None, frame, model="theophylline_1cmt", n_sim=100, seed=1)
    >>> fig = pkpd.plot.gof(diag, path="gof.png")
    >>> len(fig.axes) >= 6
    True
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out, tab = _output_rows(diag, output)
    covariates = list(covariates or [])
    missing = [c for c in covariates if c not in tab]
    if missing:
        raise DataError(f"covariates {missing} are not columns of the diagnostics table "
                        f"(columns: {', '.join(map(str, tab.columns))})")
    blq = tab["BLQ"].to_numpy(bool) if "BLQ" in tab else np.zeros(len(tab), bool)
    obs = tab[~blq]
    unit = diag.units.get(out, "")
    eps = _shrinkage(diag, out, "epsilon")
    eps_text = f"\nε-shrinkage {eps:.1f} %" if np.isfinite(eps) else ""

    n_cov_rows = -(-len(covariates) // 4)
    fig, axes = plt.subplots(2 + n_cov_rows, 4, figsize=(16, 3.9 * (2 + n_cov_rows)),
                             squeeze=False, layout="constrained")
    ax = axes.ravel()
    dv, pred, ipred = (obs[c].to_numpy(float) for c in ("DV", "PRED", "IPRED"))
    _observed_vs_predicted(ax[0], pred, dv, "PRED", unit, log)
    ax[0].set_title("DV vs PRED")
    # without estimated etas (a model diagnosed at its own values): WRES, and no IPRED
    wname = "CWRES" if np.isfinite(obs["CWRES"].to_numpy(float)).any() else "WRES"
    wres = obs[wname].to_numpy(float)
    _residual_panel(ax[2], obs["TIME"].to_numpy(float), wres,
                    _label("TIME", getattr(diag, "time_unit", "")), wname)
    ax[2].set_title(f"{wname} vs TIME")
    _residual_panel(ax[3], pred, wres, _label("PRED", unit), wname, log=log)
    ax[3].set_title(f"{wname} vs PRED")
    ax[1].set_title("DV vs IPRED" + eps_text)
    ax[4].set_title("|IWRES| vs IPRED" + eps_text)
    if np.isfinite(ipred).any():
        _observed_vs_predicted(ax[1], ipred, dv, "IPRED", unit, log)
        _abs_iwres(ax[4], ipred, np.abs(obs["IWRES"].to_numpy(float)), unit, log)
    else:
        for i in (1, 4):
            _note(ax[i], "IPRED not available\n(no estimated etas)")
    npde_values = obs["NPDE"].to_numpy(float)
    _npde_qq(ax[5], npde_values)
    _npde_hist(ax[6], npde_values)
    _summary(ax[7], diag, out, tab, blq, log)
    for i, name in enumerate(covariates):
        _covariate_panel(ax[8 + i], obs[name], wres, wname)
        ax[8 + i].set_title(f"{wname} vs {name}")
    for extra in ax[8 + len(covariates):]:
        extra.set_visible(False)
    fig.suptitle(title or f"Goodness of fit: {diag.model} ({diag.method}), output {out}")
    return _finish(fig, path)


def eta_covariates(diag: Diagnostics, *, covariates: Sequence[str] | None = None,
                   path: str | Path | None = None) -> Figure:
    """Each estimated eta against each covariate (one row per eta, one column per covariate).

    A continuous covariate is a scatter with a running median (red); a categorical one (not
    numeric, or at most 5 distinct values) a box plot with the subjects as points. Titles give
    the eta shrinkage (SD, %).

    Parameters
    ----------
    diag : pkpd.Diagnostics
        The result of :func:`pkpd.diagnose` of a fit with etas.
    covariates : sequence of str, optional
        Columns of ``diag.etas`` (default: every covariate there).
    path : str or Path, optional
        Save the figure there (PNG at 150 dpi) and close it.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, pkpd
    >>> from pkpd.testing.datasets import simulated_oral
    >>> frame = simulated_oral("theophylline_1cmt", 320, times=[0.5, 1, 2, 4, 8, 12, 24],
    ...                        covariates={"WT": np.linspace(55, 85, 10)})
    >>> fit = pkpd.fit_population("theophylline_1cmt", frame, method="focei")
    >>> diag = pkpd.diagnose(fit, n_sim=100, seed=1)
    >>> fig = pkpd.plot.eta_covariates(diag, covariates=["WT"], path="eta.png")
    >>> fig.axes[0].get_xlabel()
    'WT'
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shrink = diag.shrinkage
    etas = [str(e) for e in shrink.index[shrink["kind"] == "eta"] if e in diag.etas]
    if not etas:
        raise DataError("the diagnostics have no estimated etas (a fit with etas is needed)")
    available = [c for c in diag.etas.columns if c not in etas]
    names = list(covariates) if covariates is not None else available
    missing = [c for c in names if c not in available]
    if missing or not names:
        raise DataError(f"covariates {missing or names} not among the subjects' covariates "
                        f"({', '.join(map(str, available)) or 'none'})")
    fig, axes = plt.subplots(len(etas), len(names),
                             figsize=(max(4.0 * len(names), 6.5), 3.3 * len(etas)),
                             squeeze=False, layout="constrained")
    for i, eta in enumerate(etas):
        value = diag.etas[eta].to_numpy(float)
        sd = _shrinkage(diag, eta, "eta")
        for j, name in enumerate(names):
            ax = axes[i, j]
            _covariate_panel(ax, diag.etas[name], value, eta)
            ax.set_title(f"{eta} (η-shrinkage {sd:.1f} %)" if np.isfinite(sd) else eta)
    fig.suptitle(f"Etas against covariates: {diag.model} ({diag.method}),\n"
                 f"{len(diag.etas)} subjects")
    return _finish(fig, path)


def _output_rows(diag: Diagnostics, output: str | None) -> tuple[str, pd.DataFrame]:
    """The output to plot and its rows of the table."""
    tab = diag.table
    outputs = [str(o) for o in dict.fromkeys(tab["OUTPUT"])]
    if output is None:
        if len(outputs) != 1:
            raise DataError(f"the fit has outputs {', '.join(outputs) or 'none'}: choose one "
                            "with output=")
        output = outputs[0]
    if output not in outputs:
        raise DataError(f"output {output!r} not in the diagnostics (outputs: "
                        f"{', '.join(outputs)})")
    return output, tab[tab["OUTPUT"].astype(str) == output]


def _shrinkage(diag: Diagnostics, name: str, kind: str) -> float:
    """The SD shrinkage (%) of an eta or of an output's epsilon; NaN when unknown."""
    s = diag.shrinkage
    rows = s[(s.index.astype(str) == name) & (s["kind"] == kind)]
    return float(rows["sd"].iloc[0]) if len(rows) else float("nan")


def _label(name: str, unit: str) -> str:
    return f"{name} ({unit})" if unit else name


def _running_median(x: np.ndarray, y: np.ndarray, *,
                    log: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Mean x and median y in a window sliding over the points sorted by x (about a fifth of
    them), at up to 40 positions; empty under 20 points. With ``log``, only positive x (mean
    of log x) and positive y."""
    ok = np.isfinite(x) & np.isfinite(y)
    if log:
        ok &= (x > 0) & (y > 0)
    x, y = x[ok], y[ok]
    n = len(x)
    if n < 20:
        return np.empty(0), np.empty(0)
    order = np.argsort(x, kind="stable")
    xs, ys = (np.log(x) if log else x)[order], y[order]
    half = max(5, n // 10)
    centres = np.unique(np.linspace(0, n - 1, min(n, 40)).round().astype(int))
    windows = [slice(max(0, c - half), c + half + 1) for c in centres]
    xm = np.array([np.mean(xs[w]) for w in windows])
    return (np.exp(xm) if log else xm), np.array([np.median(ys[w]) for w in windows])


def _positive_limits(*arrays: np.ndarray, log: bool) -> tuple[float, float]:
    """Common axis limits of the points whose values are all finite (and, on log axes,
    positive), with a margin."""
    ok = np.logical_and.reduce([np.isfinite(a) & ((a > 0) if log else True) for a in arrays])
    v = np.concatenate([a[ok] for a in arrays])
    if not len(v):
        return (0.1, 10.0) if log else (0.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    if log:
        return lo / 1.3, hi * 1.3
    pad = 0.05 * (hi - lo or 1.0)
    return lo - pad, hi + pad


def _observed_vs_predicted(ax: Axes, pred: np.ndarray, dv: np.ndarray, name: str, unit: str,
                           log: bool) -> None:
    ax.scatter(pred, dv, **_POINT)
    lo, hi = _positive_limits(pred, dv, log=log)
    ax.plot([lo, hi], [lo, hi], **_REF)
    ax.plot(*_running_median(pred, dv, log=log), **_SMOOTH)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(_label(name, unit))
    ax.set_ylabel(_label("DV", unit))
    ax.grid(True, alpha=0.3)


def _residual_panel(ax: Axes, x: np.ndarray, res: np.ndarray, xlabel: str, ylabel: str, *,
                    log: bool = False) -> None:
    ax.scatter(x, res, **_POINT)
    ax.axhline(0.0, **_REF)
    for level in (-2.0, 2.0):
        ax.axhline(level, color="0.4", lw=0.9, ls="--")
    ok = x > 0 if log else np.ones(len(x), bool)
    ax.plot(*_running_median(x[ok], res[ok]), **_SMOOTH)
    if log:
        ax.set_xscale("log")
        ax.set_xlim(*_positive_limits(x, log=True))
    finite = np.abs(res[np.isfinite(res)])
    bound = max(3.0, float(finite.max()) * 1.08 if len(finite) else 3.0)
    ax.set_ylim(-bound, bound)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)


def _abs_iwres(ax: Axes, ipred: np.ndarray, abs_iwres: np.ndarray, unit: str,
               log: bool) -> None:
    ax.scatter(ipred, abs_iwres, **_POINT)
    ok = ipred > 0 if log else np.ones(len(ipred), bool)
    ax.plot(*_running_median(ipred[ok], abs_iwres[ok]), **_SMOOTH)
    if log:
        ax.set_xscale("log")
        ax.set_xlim(*_positive_limits(ipred, log=True))
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel(_label("IPRED", unit))
    ax.set_ylabel("|IWRES|")
    ax.grid(True, alpha=0.3)


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _npde_qq(ax: Axes, npde: np.ndarray) -> None:
    from scipy import stats

    ax.set_title("QQ plot of NPDE")
    y = np.sort(npde[np.isfinite(npde)])
    n = len(y)
    if not n:
        _note(ax, "NPDE not computed\n(diagnose with n_sim > 0)")
        return
    rank = np.arange(1, n + 1)
    x = stats.norm.ppf((rank - 0.5) / n)
    ax.scatter(x, y, **_POINT)
    band = [stats.norm.ppf(stats.beta.ppf(q, rank, n + 1 - rank)) for q in (0.025, 0.975)]
    ax.fill_between(x, band[0], band[1], color="0.6", alpha=0.25, lw=0,
                    label="95 % band under N(0, 1)")
    lim = max(3.0, float(np.abs(np.r_[x, y]).max()) * 1.05)
    ax.plot([-lim, lim], [-lim, lim], **_REF)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_xlabel("N(0, 1) quantiles")
    ax.set_ylabel("NPDE")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.grid(True, alpha=0.3)


def _npde_hist(ax: Axes, npde: np.ndarray) -> None:
    from scipy import stats

    v = npde[np.isfinite(npde)]
    if not len(v):
        ax.set_title("Histogram of NPDE")
        _note(ax, "NPDE not computed\n(diagnose with n_sim > 0)")
        return
    ax.set_title(f"Histogram of NPDE\nmean {v.mean():.2f}, variance {v.var(ddof=1):.2f}"
                 if len(v) > 1 else "Histogram of NPDE")
    lim = max(4.0, float(np.abs(v).max()) * 1.05)
    ax.hist(v, bins=np.linspace(-lim, lim, int(np.clip(np.sqrt(len(v)) * 1.5, 10, 40)) + 1),
            density=True, color="#3b6ea8", alpha=0.55, edgecolor="white", label="NPDE")
    grid = np.linspace(-lim, lim, 200)
    ax.plot(grid, stats.norm.pdf(grid), **_SMOOTH, label="N(0, 1)")
    ax.set_xlabel("NPDE")
    ax.set_ylabel("density")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.grid(True, alpha=0.3)


def _summary(ax: Axes, diag: Diagnostics, out: str, tab: pd.DataFrame, blq: np.ndarray,
             log: bool) -> None:
    """The counts, NPDE tests and shrinkage as text."""
    ax.axis("off")
    shown = tab[~blq]
    lines = [f"{diag.model}, {diag.method}, output {out}",
             f"{len(shown)} observations shown, {tab['ID'].nunique()} subjects",
             f"{int(blq.sum())} BLQ observations left out",
             "red lines: running medians"]
    if log:
        values = shown[["DV", "PRED", "IPRED"]].to_numpy(float)
        nonpos = int(np.sum(~np.all(values > 0, axis=1)))
        if nonpos:
            lines.append(f"{nonpos} with DV, PRED or IPRED ≤ 0 not on the log axes")
    tests = diag.npde_tests
    if diag.n_sim and len(tests) and "p_value" in tests:
        lines.append(f"NPDE tests ({diag.n_sim} replicates), p-values:")
        lines += [f"   {name}: {p:.3g}" for name, p in tests["p_value"].items()
                  if np.isfinite(p)]
    kinds = diag.shrinkage["kind"]
    eta_rows = diag.shrinkage[kinds == "eta"]
    if len(eta_rows):
        lines.append("η-shrinkage (SD):")
        lines += [f"   {name}: {sd:.1f} %" for name, sd in eta_rows["sd"].items()]
    eps = _shrinkage(diag, out, "epsilon")
    if np.isfinite(eps):
        lines.append(f"ε-shrinkage (SD): {eps:.1f} %")
    ax.text(0.0, 1.0, "\n".join(lines), ha="left", va="top", transform=ax.transAxes,
            fontsize=9, family="monospace", wrap=True)


def _is_categorical(values: pd.Series) -> bool:
    import pandas as pd

    return (not pd.api.types.is_numeric_dtype(values)
            or values.dropna().nunique() <= _CATEGORICAL_MAX)


def _covariate_panel(ax: Axes, cov: pd.Series, y: np.ndarray, ylabel: str) -> None:
    """y against a covariate: a scatter with running median, or a box plot by category."""
    import pandas as pd

    if _is_categorical(cov):
        values = cov.dropna().unique()
        numeric = pd.to_numeric(pd.Series(values), errors="coerce").notna().all()
        levels = sorted(values, key=float if numeric else str)
        groups = [y[(cov == lv).to_numpy() & np.isfinite(y)] for lv in levels]
        ax.boxplot(groups, widths=0.5, showfliers=False,
                   medianprops={"color": _SMOOTH["color"]})
        rng = np.random.default_rng(0)
        for k, g in enumerate(groups, start=1):
            ax.scatter(k + rng.uniform(-0.12, 0.12, len(g)), g, **_POINT)
        ax.set_xticks(range(1, len(levels) + 1), [str(lv) for lv in levels])
    else:
        x = cov.to_numpy(float)
        ax.scatter(x, y, **_POINT)
        ax.plot(*_running_median(x, y), **_SMOOTH)
    ax.axhline(0.0, **_REF)
    ax.set_xlabel(str(cov.name))
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)


def _finish(fig: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        import matplotlib.pyplot as plt

        from ._common import save_figure

        save_figure(fig, path)
        plt.close(fig)
    return fig

