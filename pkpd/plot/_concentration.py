"""Concentration-time plots of simulated results: a median with prediction bands, observed
levels, dose markers and a target window."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from . import _common as c

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["concentration_time"]

#: Fewer curves than this are drawn one by one (by default) rather than as bands.
MIN_BAND_CURVES = 5


def concentration_time(ds: xr.Dataset, *, variables: str | Sequence[str] | None = None,
                       title: str | None = None, log: bool = False,
                       path: str | Path | None = None, observed: Any = None,
                       doses: Any = None,
                       target: Sequence[float | None] | Mapping[str, Sequence[float | None]]
                       | None = None,
                       bands: Iterable[Sequence[float]] | None = None,
                       individual: bool | None = None) -> Figure:
    """Plot outputs against time, one panel per output: the median and prediction bands of
    many subjects or samples, observed levels, dose markers and a target window.

    With at least 5 curves (subjects times samples: a population, or ``n=`` samples of
    one patient), each panel shows the median (dark line) and shaded percentile bands
    over all of them, by default 5-95 % and 25-75 %. With fewer, each curve is drawn (one
    colour per subject, as for a handful of patients). A dataset from
    :meth:`pkpd.FitResult.predict` (an output and its ``<output>_band``) shows the
    individual prediction and its posterior band.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`pkpd.simulate` (dims ``(id, time)`` or ``(id, sample, time)``) or
        of :meth:`pkpd.FitResult.predict`.
    variables : str or list of str, optional
        Outputs to plot (default: every variable with a time dimension but the ``_band``
        ones, which are drawn as the band of their output).
    title : str, optional
        Figure title.
    log : bool
        Logarithmic concentration axis (non-positive values are not shown).
    path : str or Path, optional
        Save the figure there (PNG at 150 dpi) and close it.
    observed : DataFrame, NonmemData, FitResult or dict, optional
        Observed levels: columns ``TIME`` and ``DV`` (``ID`` colours the points per subject,
        ``BLQ``/``LLOQ`` mark censored levels, drawn as open triangles at the LLOQ). With an
        ``OUTPUT`` column each panel shows its own rows; otherwise the levels go on the first
        panel. A dict maps output names to such tables.
    doses : str, Regimen, Dose, EventTable, NonmemData, FitResult or list of times, optional
        Dose markers (triangles on the time axis, bars over infusions): a regimen such as
        ``"1 g IV over 1 h q12h x 4"``, records, or the dose times (numbers in the time unit
        of ``ds``, or quantities such as ``"12 h"``). Default: the ``dose_times`` or
        ``regimen`` attribute of ``ds`` if it has one.
    target : (low, high) or dict, optional
        A target window shaded on the first panel, e.g. ``(10, 20)`` for a trough range in
        the output's unit or ``("10 mg/L", "20 mg/L")`` (``None`` for an open side: a dashed
        line); a dict maps output names to windows.
    bands : sequence of (low, high), optional
        Percentile bands, in percent (default ``((5, 95), (25, 75))``).
    individual : bool, optional
        Draw every curve (thin lines; at most 200, evenly chosen) as well as the bands
        (True), or never, bands even for 2 curves (False). Default: lines under 5 curves,
        bands from 5.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Percentiles are those of :func:`numpy.nanpercentile` (linear interpolation) over every
    subject and sample at each time. Artists carry gids for tests and post-editing:
    ``"median"``, ``"band 5-95"``, ``"individual"``, ``"prediction"``, ``"observed"``,
    ``"BLQ"``, ``"doses"``, ``"infusions"``, ``"target"``.

    Examples
    --------
    >>> import pkpd
    >>> ds = pkpd.simulate("one_cmt", "100 mg IV q12h x 3", n=50, seed=1,
    ...                    times="0..36 h by 0.5 h")
    >>> fig = concentration_time(ds, variables="CP", log=True, target=(1, 2),
    ...                          doses="100 mg IV q12h x 3")
    >>> [ln.get_gid() for ln in fig.axes[0].lines if ln.get_gid()]
    ['median', 'doses']
    >>> fig.axes[0].get_ylabel(), fig.axes[0].get_yscale()
    ('CP (mg/L)', 'log')
    """
    plt = c.pyplot(path)
    band_list = c.check_bands(bands)
    names = _variables(ds, variables)
    t, t_unit = c.time_of(ds)
    starts, ends = c.dose_times(doses, t_unit, ds.attrs)
    targets = _targets(target, names)
    with plt.rc_context(c.STYLE):
        fig, axes = plt.subplots(len(names), 1, figsize=(9.5, 0.7 + 3.5 * len(names)),
                                 squeeze=False, sharex=True, layout="constrained")
        for k, (ax, name) in enumerate(zip(axes[:, 0], names, strict=True)):
            da = ds[name]
            unit = str(da.attrs.get("units", ""))
            shown = _panel(ax, ds, name, t, band_list, log, individual)
            frame = c.observed_for(observed, name, first=k == 0)
            ids = list(ds["id"].values) if "id" in ds.coords and ds["id"].ndim == 1 else None
            shown.append(c.draw_observed(ax, frame, log, subjects=ids))
            c.draw_target(ax, targets.get(name), unit)
            c.draw_doses(ax, starts, ends)
            ax.set_ylabel(c.label(name, unit))
            c.finish_axis(ax, log, shown)
            if k == 0 or _new_labels(ax, axes[0, 0]):
                c.legend(ax)
        axes[-1, 0].set_xlabel(c.label("time", t_unit))
        if title:
            fig.suptitle(title)
    return c.finish(fig, path)


def _variables(ds: xr.Dataset, variables: str | Sequence[str] | None) -> list[str]:
    if isinstance(variables, str):
        variables = [variables]
    names = list(variables) if variables else [
        str(v) for v in ds.data_vars if "time" in ds[v].dims
        and not (str(v).endswith("_band") and str(v)[:-5] in ds)]
    missing = [n for n in names if n not in ds]
    if missing or not names:
        raise DataError(f"variables {missing or names} not in the result (variables: "
                        f"{', '.join(map(str, ds.data_vars))})")
    return names


def _targets(target: Any, names: list[str]) -> dict[str, Any]:
    if target is None:
        return {}
    if isinstance(target, Mapping):
        unknown = [k for k in target if k not in names]
        if unknown:
            raise DataError(f"target for {unknown}, which are not plotted ({', '.join(names)})")
        return dict(target)
    return {names[0]: target}


def _panel(ax: Axes, ds: xr.Dataset, name: str, t: np.ndarray,
           bands: list[tuple[float, float]], log: bool, individual: bool | None
           ) -> list[np.ndarray]:
    """Draw one output; returns the arrays shown (for the axis limits)."""
    y = c.curves(ds[name])
    band = ds.get(f"{name}_band")
    if band is not None and "quantile" in band.dims and len(y) == 1:
        q = np.asarray(band["quantile"].values, dtype=float)
        b = np.asarray(band.transpose("quantile", "time").values, dtype=float)
        lo, hi = int(np.argmin(q)), int(np.argmax(q))
        ax.fill_between(t, c.positive(b[lo], log), c.positive(b[hi], log),
                        color=c.BAND_COLOR, alpha=0.28, lw=0,
                        label=f"{100 * q[lo]:g}-{100 * q[hi]:g} % band",
                        gid=f"band {100 * q[lo]:g}-{100 * q[hi]:g}")
        ax.plot(t, c.positive(y[0], log), color=c.MEDIAN_COLOR, lw=2.0,
                label="individual prediction", gid="prediction", zorder=3)
        return [y, b[[lo, hi]]]
    n = len(y)
    use_bands = n >= 2 and (individual is False or n >= MIN_BAND_CURVES)
    if n >= 2 and (individual is True or not use_bands):
        _individual_lines(ax, ds, name, t, y, log, coloured=not use_bands)
    if use_bands:
        median = c.draw_bands(ax, t, y, bands, log=log)
        with c.quiet():
            return [median, *(np.nanpercentile(y, b, axis=0) for b in bands)]
    if n == 1:
        ax.plot(t, c.positive(y[0], log), color=c.MEDIAN_COLOR, lw=2.0, label="prediction",
                gid="prediction", zorder=3)
    return [y]


def _individual_lines(ax: Axes, ds: xr.Dataset, name: str, t: np.ndarray, y: np.ndarray,
                      log: bool, coloured: bool) -> None:
    """Every curve (at most 200, evenly chosen): coloured and labelled by subject when there
    are a few, thin grey lines under the bands otherwise."""
    pick = np.unique(np.linspace(0, len(y) - 1, min(len(y), 200)).round().astype(int))
    da = ds[name]
    ids = (np.asarray(da["id"].values) if "id" in da.coords and da.sizes.get("id", 0) == len(y)
           else np.arange(1, len(y) + 1))
    for i in pick:
        if coloured:
            ax.plot(t, c.positive(y[i], log), lw=1.5, color=c.subject_colour(int(i)),
                    label=f"ID {ids[i]}", gid="individual")
        else:
            ax.plot(t, c.positive(y[i], log), lw=0.5, color="0.45", alpha=0.18,
                    label="individual" if i == pick[0] else "_", gid="individual", zorder=1)


def _new_labels(ax: Axes, first: Axes) -> bool:
    """Whether the panel has legend entries the first panel does not."""
    return bool(set(ax.get_legend_handles_labels()[1]) - set(first.get_legend_handles_labels()[1]))
