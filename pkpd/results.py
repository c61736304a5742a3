"""Summaries of simulated cohorts: quantiles over subjects and per-subject exposure metrics.

Every function works alike on numpy-backed and dask-backed DataArrays (as returned by
:func:`pkpd.simulate` and :func:`pkpd.scale.simulate_chunked`); on dask input the result stays
lazy, is computed chunk by chunk and never needs the whole cohort in memory. A missing value
(NaN) in the input gives NaN in the subject's metric, never a number computed around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["exposure", "per_interval", "prediction_interval", "quantiles", "target_attainment"]


def quantiles(da: xr.DataArray, q: float | Sequence[float] = (0.05, 0.5, 0.95),
              dim: str = "id") -> xr.DataArray:
    """Quantiles of ``da`` over ``dim`` (by default over subjects, at each time).

    Parameters
    ----------
    da : xarray.DataArray
        For example ``ds["CP"]`` with dims ``(id, time)``.
    q : float or sequence of float
        Probabilities in [0, 1].
    dim : str
        The dimension reduced.

    Returns
    -------
    xarray.DataArray
        With a leading dimension ``quantile`` (coordinate ``q``) in place of ``dim``, linear
        interpolation between order statistics (numpy's default), the attributes of ``da``
        (so its units). Lazy on dask input: the array is first rechunked so that ``dim`` is in
        one chunk and the other dimensions in chunks of dask's configured size
        (``array.chunk-size``), each of which fits in memory.

    Raises
    ------
    DataError
        If ``dim`` is not a dimension of ``da`` or a probability is outside [0, 1].

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.arange(10.0)[:, None] * [1.0, 2.0], dims=("id", "time"))
    >>> quantiles(da, q=0.5).values.tolist()
    [4.5, 9.0]
    """
    if dim not in da.dims:
        raise DataError(f"quantiles: {dim!r} is not a dimension of {da.name or 'the array'}; "
                        f"its dimensions are {', '.join(map(str, da.dims))}")
    probs = np.asarray(q, dtype=float)
    if probs.ndim > 1 or not np.all((probs >= 0) & (probs <= 1)):
        raise DataError(f"quantiles: q must be probabilities in [0, 1], got {q!r}")
    if da.chunks is not None:
        da = da.chunk({d: (-1 if d == dim else "auto") for d in da.dims})
    return da.quantile(probs, dim=dim, keep_attrs=True)


def prediction_interval(da: xr.DataArray, level: float = 0.90, dim: str = "sample"
                        ) -> xr.DataArray:
    """A central prediction interval and the median over ``dim``.

    For a result of ``pkpd.simulate(..., n=...)``: over ``"sample"`` this is the band of one
    subject's (or each subject's) predictions; of ``<output>_obs`` it is a prediction interval
    of observations; over ``"id"`` of a population run it is a population band.

    Parameters
    ----------
    da : xarray.DataArray
    level : float
        Coverage in (0, 1): 0.90 gives the 5 %, 50 % and 95 % quantiles.
    dim : str
        The dimension sampled.

    Returns
    -------
    xarray.DataArray
        Dimension ``quantile`` = ``[(1 - level)/2, 0.5, (1 + level)/2]`` in place of ``dim``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.arange(101.0), dims="sample")
    >>> pi = prediction_interval(da, level=0.90)
    >>> pi["quantile"].values.tolist(), pi.values.tolist()
    ([0.05, 0.5, 0.95], [5.0, 50.0, 95.0])
    """
    if not 0.0 < level < 1.0:
        raise DataError(f"prediction_interval: level {level!r} must be in (0, 1)")
    lo = round((1.0 - level) / 2.0, 12)  # 0.05 rather than 0.04999...
    return quantiles(da, q=(lo, 0.5, 1.0 - lo), dim=dim)


def _value(value: Any, unit: str | None, what: str) -> float | None:
    from .units import convert

    if value is None:
        return None
    return convert(value, unit or "", what=what)


def exposure(da: xr.DataArray, *, start: Any = None, end: Any = None, threshold: Any = None,
             dim: str = "time", accumulator: xr.DataArray | None = None) -> xr.Dataset:
    """Per-subject exposure over the output grid between ``start`` and ``end``.

    Parameters
    ----------
    da : xarray.DataArray
        An output such as ``ds["CP"]``, dims ``(id, time)`` (any dims that include ``dim``),
        with ``units`` attributes on it and on its time coordinate.
    start, end : float, str or Quantity, optional
        The window (numbers in the time unit of ``da``, or e.g. ``"144 h"``); default the whole
        grid. Only output times inside the window are used: a bound between two grid points
        is not interpolated.
    threshold : float, str or Quantity, optional
        Level for the time above it (a number in the unit of ``da``, or e.g. ``"10 mg/L"``).
    dim : str
        The time dimension.
    accumulator : xarray.DataArray, optional
        The model's accumulator of ``da`` (``ds["AUC_CP"]`` from ``simulate(..., auc=True)``):
        ``auc`` is then the exact area, the difference of the accumulator between the first
        and last output time of the window.

    Returns
    -------
    xarray.Dataset
        Variables (over the dims of ``da`` without ``dim``), each with ``units``:

        - ``cmax``, ``cmin``: largest and smallest value on the grid;
        - ``tmax``: the (first) time of ``cmax``;
        - ``auc``: trapezoidal area under the curve over the grid, unit ``unit*time unit``.
          It depends on the grid: the trapezoid misses curvature between points (and
          overestimates a convex decline). An accumulator state of the model (d AUC/dt = C)
          gives the exact area and should be preferred where the model has one;
        - ``time_above`` (with ``threshold``): time during which ``da`` exceeds the threshold,
          the curve taken as linear between grid points (crossings interpolated linearly).

        Attributes ``start`` and ``end`` hold the first and last grid time used.

    Raises
    ------
    DataError
        If ``dim`` is missing or the window holds fewer than two output times.
    UnitError
        If ``start``, ``end`` or ``threshold`` has the wrong dimension.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> t = xr.DataArray([0.0, 1.0, 2.0], dims="time", attrs={"units": "h"})
    >>> c = xr.DataArray([[0.0, 10.0, 0.0]], dims=("id", "time"), coords={"time": t},
    ...                  attrs={"units": "mg/L"})
    >>> m = exposure(c, threshold=5.0)
    >>> float(m["auc"][0]), float(m["time_above"][0]), m["auc"].attrs["units"]
    (10.0, 1.0, 'mg/L*h')
    """
    import xarray as xr

    if dim not in da.dims or dim not in da.coords:
        raise DataError(f"exposure: {da.name or 'the array'} needs a dimension {dim!r} with a "
                        f"coordinate; its dimensions are {', '.join(map(str, da.dims))}")
    unit = da.attrs.get("units")
    tunit = da[dim].attrs.get("units")
    t0 = _value(start, tunit, "exposure start")
    t1 = _value(end, tunit, "exposure end")
    window = da.sel({dim: slice(t0, t1)})
    if window.sizes[dim] < 2:
        raise DataError(f"exposure: the window {start!r}..{end!r} holds "
                        f"{window.sizes[dim]} output time(s); it needs at least two")
    times = window[dim].values

    def attrs(u: str | None, long_name: str) -> dict[str, str]:
        return {"long_name": long_name} | ({"units": u} if u is not None else {})

    cmax = window.max(dim, skipna=False)
    if accumulator is not None:
        acc = accumulator.sel({dim: slice(t0, t1)})
        auc = (acc.isel({dim: -1}) - acc.isel({dim: 0})).drop_vars(dim, errors="ignore")
        auc = auc.assign_attrs(attrs(
            accumulator.attrs.get("units"), "area under the curve (exact, accumulator)"))
    else:
        auc = window.integrate(dim).assign_attrs(attrs(
            f"{unit}*{tunit}" if unit and tunit else None, "area under the curve (trapezoidal)"))
    out = {
        "cmax": cmax.assign_attrs(attrs(unit, "maximum")),
        # argmax would point at a NaN: a subject with a missing value has no tmax
        "tmax": window.idxmax(dim, skipna=False).where(cmax.notnull())
                      .assign_attrs(attrs(tunit, "time of the maximum")),
        "cmin": window.min(dim, skipna=False).assign_attrs(attrs(unit, "minimum")),
        "auc": auc,
    }
    if threshold is not None:
        level = _value(threshold, unit, "exposure threshold")
        y0 = window.isel({dim: slice(None, -1)}).drop_vars(dim)
        y1 = window.isel({dim: slice(1, None)}).drop_vars(dim)
        hi, lo = np.maximum(y0, y1), np.minimum(y0, y1)
        span = hi - lo
        # fraction of each interval above the level, the curve linear on the interval
        frac = xr.where(span > 0, ((hi - level) / xr.where(span > 0, span, 1.0)).clip(0, 1),
                        (lo > level).astype(float)).where(span.notnull())
        dt = xr.DataArray(np.diff(times), dims=dim)
        out["time_above"] = (frac * dt).sum(dim, skipna=False).assign_attrs(
            attrs(tunit, f"time above {level:g} {unit or ''}".strip()))
    return xr.Dataset(out, attrs={"start": float(times[0]), "end": float(times[-1])})


def per_interval(da: xr.DataArray, tau: Any, *, first: Any = 0.0, count: int | None = None,
                 threshold: Any = None, accumulator: xr.DataArray | None = None,
                 dim: str = "time") -> xr.Dataset:
    """Exposure in each dosing interval ``[first + k tau, first + (k+1) tau]``.

    The same metrics as :func:`exposure` (Cmax, Tmax, Cmin = trough, AUC, time above a
    threshold) with a new dimension ``interval`` (k = 0, 1, ...). The interval ends should be
    output times; with ``accumulator`` the AUC of each interval is exact. The last interval at
    steady state gives the steady-state metrics (AUC_tau = F*Dose/CL for a linear model).

    Examples
    --------
    Two 2-hour dosing intervals with the same profile:

    >>> import numpy as np, xarray as xr
    >>> t = xr.DataArray(np.arange(0.0, 4.5, 0.5), dims="time", attrs={"units": "h"})
    >>> c = xr.DataArray([0.0, 4, 2, 1, 0, 4, 2, 1, 0], dims="time", coords={"time": t},
    ...                  attrs={"units": "mg/L"})
    >>> m = per_interval(c, "2 h")
    >>> m["cmax"].values.tolist(), m["auc"].values.tolist()   # AUC 0.5 x (4 + 2 + 1)
    ([4.0, 4.0], [3.5, 3.5])
    """
    import xarray as xr

    tunit = da[dim].attrs.get("units")
    tau_v = _value(tau, tunit, "per_interval tau")
    start = _value(first, tunit, "per_interval first")
    if tau_v is None or not tau_v > 0:
        raise DataError(f"per_interval: tau must be positive, got {tau!r}")
    t_end = float(da[dim].values[-1])
    n = int(np.floor((t_end - start) / tau_v + 1e-9)) if count is None else int(count)
    if n < 1:
        raise DataError(f"per_interval: no whole interval of {tau!r} between {start} and "
                        f"{t_end}")
    parts = [exposure(da, start=start + k * tau_v, end=start + (k + 1) * tau_v,
                      threshold=threshold, dim=dim, accumulator=accumulator) for k in range(n)]
    res = xr.concat(parts, dim="interval", combine_attrs="drop")
    return res.assign_coords(interval=np.arange(n),
                             interval_start=("interval", start + tau_v * np.arange(n)))


def target_attainment(metric: xr.DataArray, *, above: Any = None, below: Any = None,
                      dims: Sequence[str] | str | None = None) -> xr.DataArray:
    """Probability of target attainment: the fraction of subjects (and samples) whose
    ``metric`` lies in the target window (``above`` <= metric <= ``below``).

    Parameters
    ----------
    metric : xarray.DataArray
        A per-subject exposure metric, e.g. ``exposure(ds["CP"], ...)["auc"]``.
    above, below : number, str or Quantity, optional
        Lower and upper target (in the metric's unit if plain numbers), e.g. AUC24 400-600.
    dims : str or sequence of str, optional
        Dimensions averaged over (default: ``id`` and ``sample`` where present).

    Returns
    -------
    xarray.DataArray
        The fraction in [0, 1] (NaN metrics count as not attained).

    Examples
    --------
    >>> import xarray as xr
    >>> auc = xr.DataArray([350.0, 450.0, 550.0, 650.0], dims="id", attrs={"units": "mg*h/L"})
    >>> float(target_attainment(auc, above=400, below=600))
    0.5
    >>> float(target_attainment(auc, above="0.5 g*h/L"))
    0.5
    """
    if above is None and below is None:
        raise DataError("target_attainment: give `above`, `below` or both")
    unit = metric.attrs.get("units")
    lo = _value(above, unit, "target lower bound")
    hi = _value(below, unit, "target upper bound")
    ok = metric.notnull()
    if lo is not None:
        ok = ok & (metric >= lo)
    if hi is not None:
        ok = ok & (metric <= hi)
    if dims is None:
        dims = [d for d in ("id", "sample") if d in metric.dims]
    return ok.astype(float).mean(dims).assign_attrs(
        long_name=f"probability of target attainment ({lo}..{hi} {unit or ''})".strip())
