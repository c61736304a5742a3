"""Probability of target attainment (PTA) against dose or MIC, one curve per regimen."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from . import _common as c

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["target_attainment"]

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
            "#17becf", "#7f7f7f", "#bcbd22")


def target_attainment(data: Any, *, above: float | None = None, below: float | None = None,
                      x: str | None = None, mic: Any = None, pta: str = "pta",
                      by: str | None = None, level: float = 0.90, log_x: bool | None = None,
                      x_unit: str | None = None, title: str | None = None,
                      path: str | Path | None = None) -> Figure:
    """Probability of target attainment against dose or MIC, one curve per regimen, with the
    line at the required probability (90 %).

    Parameters
    ----------
    data : pandas.DataFrame, xarray.DataArray or dict
        Either a table of PTA the caller computed: one row per point, a column ``x`` (the
        dose or MIC), a column ``pta`` (a fraction in [0, 1]) and, for several regimens, a
        column ``by``. Or a simulated cohort: per-subject exposure metrics (e.g. AUC24 from
        :func:`pkpd.results.exposure`) as

        - an xarray.DataArray with a dimension ``x`` (e.g. ``"dose"``, its coordinate the
          doses) and the subject dimensions ``id``/``sample`` (and optionally a dimension
          ``by``, one curve per value);
        - a dict from regimen label to such a DataArray, or to a dict from dose to the
          metric values (array-like);
        - with ``mic=``: a dict from regimen label to metric values (or one DataArray or
          array), the target being on metric / MIC (e.g. AUC/MIC >= 400).

        For a cohort PTA is the fraction of subjects (and samples) with ``above <= metric <=
        below`` (metric / MIC with ``mic``); a NaN metric counts as not attained.
    above, below : float, optional
        The target window of a cohort (at least one).
    x : str, optional
        The dose or MIC column of a table (default: the first of ``MIC``, ``mic``, ``dose``,
        ``DOSE``) or the dose dimension of a cohort (default ``"dose"``).
    mic : array-like, optional
        MICs (PTA against MIC of a cohort), in ``x_unit``.
    pta : str
        The PTA column of a table.
    by : str, optional
        The regimen column of a table or dimension of a DataArray (default ``"regimen"``
        where there is one).
    level : float
        The required probability, drawn as a dashed line (default 0.90).
    log_x : bool, optional
        Logarithmic (base 2) x axis; default: for MICs.
    x_unit : str, optional
        Unit of x for the axis label (default: the coordinate's ``units`` attribute).
    title : str, optional
    path : str or Path, optional
        Save the figure there (PNG at 150 dpi) and close it.

    Returns
    -------
    matplotlib.figure.Figure
        One line per regimen (gid ``"pta <regimen>"``, y data the PTA as fractions), the
        line at ``level`` (gid ``"level"``). A monotone curve's legend entry says where it
        meets the level (for MICs: the highest MIC up to which PTA >= level, the PK/PD
        breakpoint).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> auc = {"1 g q12h": rng.lognormal(np.log(500), 0.3, 1000),
    ...        "1.5 g q12h": rng.lognormal(np.log(750), 0.3, 1000)}
    >>> fig = target_attainment(auc, mic=[0.25, 0.5, 1, 2, 4], above=400, x_unit="mg/L")
    >>> [ln.get_gid() for ln in fig.axes[0].lines]
    ['pta 1 g q12h', 'pta 1.5 g q12h', 'level']
    """
    import pandas as pd

    plt = c.pyplot(path)
    if not 0.0 < level < 1.0:
        raise DataError(f"level {level!r} must be in (0, 1)")
    if isinstance(data, pd.DataFrame):
        curves, x_name, unit = _from_table(data, x, pta, by)
    else:
        curves, x_name, unit = _from_cohort(data, above, below, x, mic, by)
    unit = x_unit if x_unit is not None else unit
    is_mic = mic is not None or x_name.lower() == "mic"
    log_x = is_mic if log_x is None else log_x
    with plt.rc_context(c.STYLE):
        fig, ax = plt.subplots(figsize=(8.5, 4.6), layout="constrained")
        for k, (name, (xv, p)) in enumerate(curves.items()):
            note = _crossing(xv, p, level)
            text = name
            if note:
                text += (f" (≥ {100 * level:g} % {note} {x_name} {_edge(xv, p, level):g}"
                         f"{' ' + unit if unit else ''})")
            ax.plot(xv, p, marker="o", ms=5, lw=2.0, color=_COLOURS[k % len(_COLOURS)],
                    label=text, gid=f"pta {name}")
        ax.axhline(level, color="0.25", ls="--", lw=1.2, label=f"{100 * level:g} % PTA required",
                   gid="level")
        if log_x:
            from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

            ax.set_xscale("log", base=2)
            ticks = np.unique(np.concatenate([v[0] for v in curves.values()]))
            ticks = ticks[ticks > 0]
            if 0 < len(ticks) <= 16:
                ax.xaxis.set_major_locator(FixedLocator(ticks))
                ax.xaxis.set_minor_locator(NullLocator())
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0, symbol=" %"))
        ax.set_ylim(-0.02, 1.04)
        ax.set_xlabel(c.label(x_name, unit))
        ax.set_ylabel("probability of target attainment")
        ax.grid(True, alpha=0.3)
        c.legend(ax)
        ax.set_title(title or _default_title(above, below, is_mic))
    return c.finish(fig, path)


def _default_title(above: float | None, below: float | None, is_mic: bool) -> str:
    what = "metric / MIC" if is_mic else "metric"
    if above is not None and below is not None:
        return f"Target attainment: {above:g} ≤ {what} ≤ {below:g}"
    if above is not None:
        return f"Target attainment: {what} ≥ {above:g}"
    if below is not None:
        return f"Target attainment: {what} ≤ {below:g}"
    return "Probability of target attainment"


def _crossing(xv: np.ndarray, p: np.ndarray, level: float) -> str:
    """``"up to"`` for a non-increasing curve, ``"from"`` for a non-decreasing one, where it
    meets the level somewhere; else empty."""
    ok = np.isfinite(p)
    q = p[ok]
    if len(q) < 2 or not (q >= level).any() or (q >= level).all():
        return ""
    if np.all(np.diff(q) <= 1e-12):
        return "up to"
    if np.all(np.diff(q) >= -1e-12):
        return "from"
    return ""


def _edge(xv: np.ndarray, p: np.ndarray, level: float) -> float:
    """The highest x up to which (or the lowest x from which) the curve is at or above the
    level."""
    ok = np.isfinite(p)
    xv, q = xv[ok], p[ok]
    above = q >= level
    if np.all(np.diff(q) <= 1e-12):
        return float(xv[above].max())
    return float(xv[above].min())


def _from_table(data: pd.DataFrame, x: str | None, pta: str, by: str | None
                ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str, str]:
    if x is None:
        x = next((n for n in ("MIC", "mic", "dose", "DOSE") if n in data), None)
    if x is None or x not in data or pta not in data:
        raise DataError(f"the PTA table needs the columns x={x!r} and pta={pta!r} (columns: "
                        f"{', '.join(map(str, data.columns))})")
    if by is None and "regimen" in data:
        by = "regimen"
    if by is not None and by not in data:
        raise DataError(f"by={by!r} is not a column of the PTA table")
    p_all = data[pta].to_numpy(float)
    if np.nanmin(p_all) < 0 or np.nanmax(p_all) > 1:
        raise DataError(f"column {pta!r} must hold fractions in [0, 1] (a percentage? divide "
                        "by 100)")
    groups = [("PTA", data)] if by is None else [
        (str(k), g) for k, g in data.groupby(by, sort=False)]
    curves = {}
    for name, g in groups:
        g = g.sort_values(x, kind="stable")
        curves[name] = (g[x].to_numpy(float), g[pta].to_numpy(float))
    return curves, str(x), ""


def _fraction(values: np.ndarray, above: float | None, below: float | None) -> float:
    v = np.asarray(values, dtype=float).ravel()
    ok = np.isfinite(v)
    if above is not None:
        ok &= v >= above
    if below is not None:
        ok &= v <= below
    return float(ok.mean()) if len(v) else float("nan")


def _from_cohort(data: Any, above: float | None, below: float | None, x: str | None,
                 mic: Any, by: str | None
                 ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str, str]:
    import xarray as xr

    if above is None and below is None:
        raise DataError("target_attainment of a cohort: give above=, below= or both")
    x = x or ("MIC" if mic is not None else "dose")
    if mic is not None:
        m = np.sort(np.asarray(mic, dtype=float).ravel())      # a copy: the caller's stays
        if not len(m) or not np.all(m > 0):
            raise DataError(f"mic {mic!r}: MICs must be positive")
        items = data.items() if isinstance(data, Mapping) else [("PTA", data)]
        return {str(k): (m, np.array([_fraction(np.asarray(v, dtype=float) / mj, above, below)
                                      for mj in m])) for k, v in items}, x, ""
    if isinstance(data, xr.DataArray):
        by = by or ("regimen" if "regimen" in data.dims else None)
        if by is not None and by in data.dims:
            data = {str(v): data.sel({by: v}) for v in data[by].values}
        else:
            data = {"PTA": data}
    if not isinstance(data, Mapping):
        raise DataError("target_attainment: give a DataFrame of PTA, a DataArray or dict of "
                        f"metrics, got {type(data).__name__}")
    curves, unit = {}, ""
    for name, metric in data.items():
        if isinstance(metric, xr.DataArray):
            if x not in metric.dims:
                raise DataError(f"{name}: the metric has no dimension {x!r} (dims "
                                f"{', '.join(map(str, metric.dims))}); give x= or mic=")
            xv = np.asarray(metric[x].values, dtype=float)
            unit = unit or str(metric[x].attrs.get("units", ""))
            p = np.array([_fraction(metric.isel({x: j}).values, above, below)
                          for j in range(len(xv))])
        elif isinstance(metric, Mapping):
            xv = np.array([float(k) for k in metric], dtype=float)
            p = np.array([_fraction(np.asarray(v), above, below) for v in metric.values()])
        else:
            raise DataError(f"{name}: a DataArray with a dimension {x!r} or a dict from {x} to "
                            "metric values is needed (or give mic=)")
        order = np.argsort(xv, kind="stable")
        curves[str(name)] = (xv[order], p[order])
    return curves, x, unit
