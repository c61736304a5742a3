"""Spaghetti plots: every subject's curve, optionally coloured by a covariate, with the median
on top."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from . import _common as c

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["spaghetti"]

#: A covariate with at most this many distinct values (or not numeric) is categorical.
CATEGORICAL_MAX = 6


def spaghetti(ds: xr.Dataset, variable: str, *, color_by: Any = None, median: bool = True,
              log: bool = False, observed: Any = None, doses: Any = None,
              target: Sequence[float | None] | None = None, max_curves: int = 500,
              cmap: str = "viridis", title: str | None = None,
              path: str | Path | None = None) -> Figure:
    """Every subject's (and sample's) curve of one output, with the median on top.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`pkpd.simulate`, dims ``(id, time)`` or ``(id, sample, time)``.
    variable : str
        The output, e.g. ``"CP"``.
    color_by : str, array, dict or pandas.Series, optional
        Colour the curves by a covariate: the name of a coordinate or variable of ``ds`` along
        ``id`` (and/or ``sample``), or the values, one per subject (in the order of ``id``)
        or one per curve, or a mapping from subject id to value. A numeric covariate with
        more than 6 distinct values is drawn with the colour map ``cmap`` and a colour bar;
        otherwise each value has its colour and a legend entry.
    median : bool
        Draw the median over all curves (thick dark line, gid ``"median"``).
    log : bool
        Logarithmic concentration axis.
    observed, doses, target
        As in :func:`pkpd.plot.concentration_time`.
    max_curves : int
        At most this many curves are drawn (evenly chosen); the median uses all of them.
    cmap : str
        Colour map of a continuous covariate.
    title : str, optional
    path : str or Path, optional
        Save the figure there (PNG at 150 dpi) and close it.

    Returns
    -------
    matplotlib.figure.Figure
        Curves are lines with gid ``"individual"``, in the order of the flattened
        ``(id, sample)`` dims.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = np.linspace(0.0, 24.0, 49)
    >>> cl = np.array([2.0, 3.0, 4.0, 5.0, 6.0, 8.0])
    >>> ds = xr.Dataset({"CP": (("id", "time"), 2.0 * np.exp(-np.outer(cl, t) / 50),
    ...                         {"units": "mg/L"})},
    ...                 coords={"id": np.arange(1, 7), "time": ("time", t, {"units": "h"}),
    ...                         "CL": ("id", cl, {"units": "L/h"})})
    >>> fig = spaghetti(ds, "CP", color_by="CL", doses=[0.0])
    >>> len([ln for ln in fig.axes[0].lines if ln.get_gid() == "individual"])
    6
    """
    plt = c.pyplot(path)
    if variable not in ds:
        raise DataError(f"{variable!r} not in the result (variables: "
                        f"{', '.join(map(str, ds.data_vars))})")
    if int(max_curves) < 1:
        raise DataError(f"max_curves={max_curves!r} must be at least 1")
    da = ds[variable]
    t, t_unit = c.time_of(ds)
    y = c.curves(da)
    values = None if color_by is None else _covariate(ds, da, color_by, len(y))
    pick = np.unique(np.linspace(0, len(y) - 1, min(len(y), int(max_curves))).round()
                     .astype(int))
    unit = str(da.attrs.get("units", ""))
    starts, ends = c.dose_times(doses, t_unit, ds.attrs)
    with plt.rc_context(c.STYLE):
        fig, ax = plt.subplots(figsize=(9.5, 4.6), layout="constrained")
        alpha = float(np.clip(12.0 / np.sqrt(len(pick)), 0.15, 0.9))
        if values is None:
            for i in pick:
                ax.plot(t, c.positive(y[i], log), color=c.BAND_COLOR, lw=0.8, alpha=alpha,
                        gid="individual", label="individual" if i == pick[0] else "_")
        else:
            _coloured(fig, ax, t, y, pick, values, color_by, ds, cmap, alpha, log)
        shown = [y[pick]]
        if median:
            import matplotlib.patheffects as pe

            with c.quiet():
                med = np.nanmedian(y, axis=0)
            ax.plot(t, c.positive(med, log), color="black", lw=2.4, zorder=4,
                    label=f"median ({len(y)} curves)", gid="median",
                    path_effects=[pe.Stroke(linewidth=4.2, foreground="white"), pe.Normal()])
        shown.append(c.draw_observed(ax, c.observed_for(observed, variable, True), log))
        c.draw_target(ax, target, unit)
        c.draw_doses(ax, starts, ends)
        ax.set_xlabel(c.label("time", t_unit))
        ax.set_ylabel(c.label(variable, unit))
        c.finish_axis(ax, log, shown)
        c.legend(ax, fig)
        if title:
            ax.set_title(title)
    return c.finish(fig, path)


def _covariate(ds: xr.Dataset, da: xr.DataArray, color_by: Any, n_curves: int) -> np.ndarray:
    """One covariate value per curve (flattened (id, sample) order)."""
    import pandas as pd

    other = [d for d in da.dims if d != "time"]
    shape = [da.sizes[d] for d in other]
    n_id = da.sizes.get("id", 1)
    if isinstance(color_by, str):
        if color_by not in ds.coords and color_by not in ds.data_vars:
            raise DataError(f"color_by={color_by!r} is not a coordinate or variable of the "
                            f"result (coordinates: {', '.join(map(str, ds.coords))})")
        cov = ds[color_by]
        bad = [d for d in cov.dims if d not in other]
        if bad:
            raise DataError(f"color_by={color_by!r} varies along {bad}: one value per subject "
                            "or curve is needed")
        return np.asarray(cov.broadcast_like(da.isel(time=0, drop=True))
                          .transpose(*other).values).reshape(-1)
    if isinstance(color_by, Mapping | pd.Series):
        mapping = dict(color_by.items())
        ids = np.asarray(da["id"].values) if "id" in da.coords else np.arange(1, n_id + 1)
        missing = [i for i in ids if i not in mapping]
        if missing:
            raise DataError(f"color_by: no value for subjects {missing[:5]}")
        color_by = [mapping[i] for i in ids]
    v = np.asarray(color_by)
    if v.size == n_curves:
        return v.reshape(-1)
    if v.size == n_id and "id" in other:
        per = v.reshape([n_id if d == "id" else 1 for d in other])
        return np.broadcast_to(per, shape).reshape(-1)
    raise DataError(f"color_by: {v.size} values for {n_id} subjects and {n_curves} curves")


def _coloured(fig: Figure, ax: Axes, t: np.ndarray, y: np.ndarray, pick: np.ndarray,
              values: np.ndarray, color_by: Any, ds: xr.Dataset, cmap: str, alpha: float,
              log: bool) -> None:
    import matplotlib as mpl

    name = color_by if isinstance(color_by, str) else "covariate"
    unit = str(ds[color_by].attrs.get("units", "")) if isinstance(color_by, str) else ""
    numeric = np.issubdtype(values.dtype, np.number)
    levels = list(dict.fromkeys(values.tolist()))
    if not numeric or len(levels) <= CATEGORICAL_MAX:
        levels = sorted(levels, key=lambda v: (str(type(v)), v))
        palette = mpl.colormaps["tab10"]
        colour = {v: palette(k % 10) for k, v in enumerate(levels)}
        for i in pick:
            v = values[i].item() if hasattr(values[i], "item") else values[i]
            ax.plot(t, c.positive(y[i], log), color=colour[v], lw=0.9, alpha=alpha,
                    gid="individual", label="_")
        for v in levels:        # legend entries in the order of the values
            ax.plot([], [], color=colour[v], lw=1.5,
                    label=f"{name} = {_fmt(v)}" + (f" {unit}" if unit else ""))
        return
    v = values.astype(float)
    norm = mpl.colors.Normalize(float(np.nanmin(v)), float(np.nanmax(v)))
    cm = mpl.colormaps[cmap]
    for i in pick:
        ax.plot(t, c.positive(y[i], log), color=cm(norm(v[i])), lw=0.9,
                alpha=max(alpha, 0.5), gid="individual")
    bar = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cm), ax=ax, pad=0.01,
                       fraction=0.04)
    bar.set_label(c.label(name, unit))


def _fmt(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return f"{v:g}" if isinstance(v, float) else str(v)
