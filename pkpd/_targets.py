"""Exposure targets of dose optimisation: AUC over a window, trough, peak, time above a level.

Internal: the classes are public as :mod:`pkpd.dosing`'s (``pkpd.dosing.AUC`` ...), which
re-exports them; each target computes its metric from a simulated Dataset and says whether a
value hits it, how far it misses, and how candidates rank.

Examples
--------
>>> from pkpd._targets import AUC, Trough
>>> bool(AUC(400, 600).hit(500.0)), bool(Trough(10, 20).hit(25.0))
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["AUC", "GRID_POINTS", "Peak", "Target", "TimeAbove", "Trough"]

#: Output times per evaluation window (the grid of Trough, Peak and TimeAbove).
GRID_POINTS = 480


def _output(ds: xr.Dataset, output: str | None) -> str:
    if output is None:
        names = [str(v) for v in ds.data_vars if not str(v).startswith("AUC_")]
        if not names:
            raise DataError("target: the dataset holds no output")
        return names[0]
    if output not in ds:
        raise DataError(f"target: output {output!r} is not in the dataset; it holds "
                        f"{', '.join(map(str, ds.data_vars))}")
    return output


def _in_unit(da: xr.DataArray, unit: str | None, what: str) -> xr.DataArray:
    """``da`` converted to ``unit`` (from its ``units`` attribute); unchanged without one."""
    from .units import convert

    if unit is None:
        return da
    have = da.attrs.get("units")
    if have is None:
        raise DataError(f"{what}: {da.name} has no units attribute to convert to {unit!r}")
    return da * convert(f"1 {have}", unit, what=what)


@dataclass(frozen=True)
class Target:
    """An exposure window ``low <= metric <= high`` (base of :class:`AUC`, :class:`Trough`,
    :class:`Peak`); :meth:`value` computes the metric from a simulated Dataset.

    Examples
    --------
    The window of every target (here a trough of 10-15 mg/L):

    >>> from pkpd.dosing import Trough
    >>> t = Trough(10, 15)
    >>> t.hit([8.0, 12.5, 16.0]).tolist(), t.miss([8.0, 12.5, 16.0]).tolist()
    ([False, True, False], [2.0, 0.0, 1.0])
    >>> t.distance([12.5, 15.0]).tolist()   # in half-widths from the middle
    [0.0, 1.0]
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.low) and np.isfinite(self.high) and self.low < self.high):
            raise DataError(f"{type(self).__name__}: need finite low < high, got "
                            f"low={self.low!r}, high={self.high!r}")

    def value(self, ds: xr.Dataset, output: str | None = None) -> xr.DataArray:
        """The metric of each subject (and sample) of ``ds``, simulated on the window's grid."""
        raise NotImplementedError

    def hit(self, values: Any) -> Any:
        """Whether each value is inside the target window (NaN is not)."""
        v = np.asarray(values, dtype=float)
        return (v >= self.low) & (v <= self.high)

    def distance(self, values: Any) -> Any:
        """Distance from the middle of the window, in half-widths (< 1 inside, 0 at the
        middle): the criterion among candidates that hit."""
        mid, half = (self.low + self.high) / 2.0, (self.high - self.low) / 2.0
        return np.abs(np.asarray(values, dtype=float) - mid) / half

    def miss(self, values: Any) -> Any:
        """How far each value lies outside the window (0 inside), in the metric's unit."""
        v = np.asarray(values, dtype=float)
        return np.maximum(np.maximum(self.low - v, v - self.high), 0.0)


@dataclass(frozen=True)
class AUC(Target):
    """Area under the curve over ``over`` ending at the end of the evaluation window, exact
    (the difference of the model's accumulator ``AUC_<output>`` between the two times).

    At steady state of a linear model, AUC over 24 h = daily dose * F / CL.

    Examples
    --------
    A one-compartment model (CL 5 L/h) at steady state: AUC over 24 h = daily dose / CL.

    >>> import pkpd
    >>> ds = pkpd.simulate("one_cmt", "1250 mg PO q12h x 20", times="216..240 h by 0.5 h",
    ...                    auc=True)
    >>> round(float(AUC(400, 600).value(ds)[0]), 1)   # 2500 mg / 5 L/h
    500.0
    """

    unit: str = "mg*h/L"
    over: str = "24 h"

    def value(self, ds: xr.Dataset, output: str | None = None) -> xr.DataArray:
        from .units import convert

        name = _output(ds, output)
        acc = ds.get(f"AUC_{name}")
        if acc is None:
            raise DataError(f"AUC target: the dataset has no accumulator AUC_{name}; simulate "
                            "with auc=True")
        times = ds["time"].to_numpy()
        span = convert(self.over, ds["time"].attrs.get("units", "h"), what="AUC over")
        t0 = times[-1] - span
        at = np.flatnonzero(np.isclose(times, t0, rtol=0.0, atol=1e-9 * max(1.0, abs(t0))))
        if at.size == 0:
            raise DataError(f"AUC target: the window start {t0:g} (end minus {self.over}) is "
                            "not an output time of the dataset")
        auc = acc.isel(time=-1) - acc.isel(time=int(at[0]))
        return _in_unit(auc.assign_attrs(acc.attrs), self.unit, "AUC target").drop_vars(
            "time", errors="ignore")


@dataclass(frozen=True)
class Trough(Target):
    """Trough: the value at the end of the evaluation window, which must end a dosing
    interval (just before the next dose, or the end of the regimen's last interval): for an
    infusion or bolus regimen this is the minimum of the interval. ``unit`` defaults to the
    output's unit. (A dose at exactly the window end is applied before the value, as in
    NONMEM: end the window at the end of the regimen instead.)

    Examples
    --------
    >>> t = Trough(10, 15, unit="ug/mL")
    >>> t.hit([9.9, 10.0]).tolist()
    [False, True]
    """

    unit: str | None = None

    def value(self, ds: xr.Dataset, output: str | None = None) -> xr.DataArray:
        da = ds[_output(ds, output)]
        return _in_unit(da, self.unit, "Trough target").isel(time=-1).drop_vars(
            "time", errors="ignore")


@dataclass(frozen=True)
class Peak(Target):
    """Peak: the largest value in the evaluation window. ``unit`` defaults to the output's.

    Examples
    --------
    >>> p = Peak(20, 40)
    >>> p.hit([19.0, 35.0]).tolist(), p.miss([19.0, 35.0]).tolist()
    ([False, True], [1.0, 0.0])
    """

    unit: str | None = None

    def value(self, ds: xr.Dataset, output: str | None = None) -> xr.DataArray:
        da = ds[_output(ds, output)]
        return _in_unit(da, self.unit, "Peak target").max("time", skipna=False)


@dataclass(frozen=True)
class TimeAbove:
    """Fraction of the evaluation window during which the output exceeds ``mic`` (a number in
    the output's unit or a quantity string such as ``"8 mg/L"``); the target is reached when
    it is at least ``fraction``. Computed on the window's grid of :data:`GRID_POINTS` intervals
    with linear interpolation of the crossings (:func:`pkpd.results.exposure`).

    Examples
    --------
    At least half of the window above an MIC of 8 mg/L:

    >>> t = TimeAbove("8 mg/L", 0.5)
    >>> t.hit([0.4, 0.5, 0.9]).tolist(), t.miss([0.4, 0.9]).round(2).tolist()
    ([False, True, True], [0.1, 0.0])
    """

    mic: float | str
    fraction: float

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise DataError(f"TimeAbove: fraction {self.fraction!r} must be in (0, 1]")

    @property
    def low(self) -> float:
        return self.fraction

    @property
    def high(self) -> float:
        return 1.0

    def value(self, ds: xr.Dataset, output: str | None = None) -> xr.DataArray:
        from .results import exposure

        da = ds[_output(ds, output)]
        times = ds["time"].to_numpy()
        above = exposure(da, threshold=self.mic)["time_above"]
        return above / (times[-1] - times[0])

    def hit(self, values: Any) -> Any:
        return np.asarray(values, dtype=float) >= self.fraction

    def distance(self, values: Any) -> Any:
        """Every candidate that hits is as good (the smaller daily dose then wins)."""
        return np.zeros_like(np.asarray(values, dtype=float))

    def miss(self, values: Any) -> Any:
        return np.maximum(self.fraction - np.asarray(values, dtype=float), 0.0)
