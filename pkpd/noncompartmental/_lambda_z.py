"""The terminal rate constant lambda_z: log-linear regressions and the choice of points.

Automatic choice ("best-fit", the rule of PKNCA's ``pk.calc.half.life`` with its defaults)
------------------------------------------------------------------------------------------
The candidates are the measurable concentrations (> 0, not below the LLOQ) after Tmax (Tmax
itself excluded unless asked) and, for an infusion, after its end. Least-squares lines of
``ln C`` on ``t`` are fitted to the last 3, 4, ..., n candidates (``min_points`` = 3). Let
``best`` be the largest adjusted R^2 among all these fits, whatever the sign of their slope.
The acceptable fits have ``lambda_z = -slope > 0`` (more precisely a decline over the fitted
points, ``lambda_z (t_last - t_first)``, above 1e-9, so that a slope of rounding size is not a
terminal phase) and an adjusted R^2 greater than
``best - adj_r2_factor`` (``adj_r2_factor`` = 1e-4); of these the one with the most points is
kept. With fewer than ``min_points`` candidates, or no acceptable fit (e.g. a rising tail whose
fit is the best one), lambda_z is NaN and the reason is given.

The adjusted R^2 of a fit of n points is ``1 - (1 - R^2) (n - 1) / (n - 2)``. A fit whose
log-concentrations are all equal has no R^2 and is never acceptable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: A fit declines when lambda_z (t_last - t_first) exceeds this: a slope of rounding size (a flat
#: log-concentration) is no decline.
MIN_DECLINE = 1e-9


@dataclass(frozen=True)
class LambdaZ:
    """A terminal-phase regression (NaN fields and a ``note`` when there is none)."""

    lambda_z: float = math.nan
    intercept: float = math.nan       # of ln C at t = 0 (time after dose)
    n_points: int = 0
    r2: float = math.nan
    adj_r2: float = math.nan
    t_first: float = math.nan
    t_last: float = math.nan
    note: str = ""


def _fit(t: FloatArray, y: FloatArray) -> tuple[float, float, float, float]:
    """Slope, intercept, R^2 and adjusted R^2 of the least-squares line y = a + b t."""
    n = len(t)
    tm, ym = t.mean(), y.mean()
    dt, dy = t - tm, y - ym
    sxx = float(dt @ dt)
    slope = float(dt @ dy) / sxx
    intercept = float(ym - slope * tm)
    ss_tot = float(dy @ dy)
    resid = y - (intercept + slope * t)
    ss_res = float(resid @ resid)
    if ss_tot <= 0.0:
        return slope, intercept, math.nan, math.nan
    r2 = 1.0 - ss_res / ss_tot
    adj = 1.0 - (1.0 - r2) * (n - 1) / (n - 2) if n > 2 else math.nan
    return slope, intercept, r2, adj


def _result(t: FloatArray, y: FloatArray, note: str = "") -> LambdaZ:
    slope, intercept, r2, adj = _fit(t, y)
    return LambdaZ(lambda_z=-slope, intercept=intercept, n_points=len(t), r2=r2, adj_r2=adj,
                   t_first=float(t[0]), t_last=float(t[-1]), note=note)


def best_fit(t: FloatArray, c: FloatArray, *, min_points: int,
             adj_r2_factor: float) -> LambdaZ:
    """The automatic choice among the candidate points ``t``, ``c`` (sorted, all > 0)."""
    n = len(t)
    if n < min_points:
        return LambdaZ(note=f"too few points for lambda_z: {n} measurable after Tmax, at least "
                            f"{min_points} needed")
    y = np.log(c)
    slopes, adj = _last_k_fits(t.tolist(), y.tolist(), min_points)
    if not any(math.isfinite(a) for a in adj):
        return LambdaZ(note="no variability in the concentrations after Tmax for lambda_z")
    best = max(a for a in adj if math.isfinite(a))
    spans = t[-1] - t[n - min_points::-1]
    ok = [i for i, (b, a) in enumerate(zip(slopes, adj, strict=True))
          if -b * spans[i] > MIN_DECLINE and a > best - adj_r2_factor]
    if not ok:
        return LambdaZ(note="no terminal phase: no fit with lambda_z > 0 within "
                            f"{adj_r2_factor:g} of the best adjusted R^2 ({best:.4g})")
    k = min_points + max(ok)
    return _result(t[n - k:], y[n - k:])


def _last_k_fits(t: list[float], y: list[float], min_points: int
                 ) -> tuple[list[float], list[float]]:
    """Slopes and adjusted R^2 of the fits of the last k points, k = min_points, ..., n.

    The centred sums are updated one point at a time (Welford's algorithm), so the n - 2 fits
    cost O(n) and stay accurate whatever the offset of the times.
    """
    slopes: list[float] = []
    adj: list[float] = []
    mt = my = stt = sty = syy = 0.0
    for m, (ti, yi) in enumerate(zip(reversed(t), reversed(y), strict=True), start=1):
        dt = ti - mt
        mt += dt / m
        dy = yi - my
        my += dy / m
        stt += dt * (ti - mt)
        sty += dt * (yi - my)
        syy += dy * (yi - my)
        if m < min_points:
            continue
        slopes.append(sty / stt)
        if syy > 0:
            r2 = sty * sty / (stt * syy)
            adj.append(1.0 - (1.0 - r2) * (m - 1) / (m - 2))
        else:
            adj.append(math.nan)
    return slopes, adj


def chosen_fit(t: FloatArray, c: FloatArray, what: str) -> LambdaZ:
    """A regression on the user's points (all used; at least 2, lambda_z > 0)."""
    if len(t) < 2:
        return LambdaZ(note=f"{what}: {len(t)} measurable point(s), at least 2 needed")
    y = np.log(c)
    if np.ptp(t) == 0:
        return LambdaZ(note=f"{what}: the points have a single time")
    fit = _result(t, y, note=f"lambda_z from {what}")
    if not fit.lambda_z * (t[-1] - t[0]) > MIN_DECLINE:
        return LambdaZ(note=f"{what}: the fit rises (lambda_z = {fit.lambda_z:.4g} <= 0)")
    return fit
