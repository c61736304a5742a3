"""Areas under the concentration and first-moment curves, and interpolation between samples.

Every function takes times relative to the dose (sorted, distinct) and concentrations >= 0.

Methods
-------
``"linear"``
    The linear trapezoid on every segment: ``(t2 - t1) (c1 + c2) / 2``.
``"linear-up/log-down"``
    The log trapezoid ``(t2 - t1) (c1 - c2) / ln(c1 / c2)`` on a segment where the concentration
    falls and both ends are positive (``c1 > c2 > 0``), the linear trapezoid otherwise (rising,
    flat, or ending at zero). The log trapezoid is exact for a mono-exponential decline.

The first moment ``t C(t)`` is integrated with the same choice per segment: linear
``(t2 - t1) (t1 c1 + t2 c2) / 2``, or, under the exponential ``C = c1 exp(-k (t - t1))`` with
``k = ln(c1 / c2) / (t2 - t1)``, exactly ``(t1 c1 - t2 c2) / k + (c1 - c2) / k**2``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

METHODS = ("linear-up/log-down", "linear")


def _log_segments(c1: FloatArray, c2: FloatArray, method: str) -> NDArray[np.bool_]:
    """Which segments use the log trapezoid."""
    if method == "linear":
        return np.zeros(c1.shape, dtype=bool)
    return (c2 < c1) & (c2 > 0)


def auc_aumc(t: FloatArray, c: FloatArray, method: str) -> tuple[float, float]:
    """AUC and AUMC from ``t[0]`` to ``t[-1]`` (0 for fewer than two points)."""
    if len(t) < 2:
        return 0.0, 0.0
    t1, t2, c1, c2 = t[:-1], t[1:], c[:-1], c[1:]
    dt = t2 - t1
    log = _log_segments(c1, c2, method)
    auc = dt * (c1 + c2) / 2.0
    aumc = dt * (t1 * c1 + t2 * c2) / 2.0
    if log.any():
        a1, a2, h = c1[log], c2[log], dt[log]
        k = np.log(a1 / a2) / h
        auc[log] = (a1 - a2) / k
        aumc[log] = (t1[log] * a1 - t2[log] * a2) / k + (a1 - a2) / k**2
    return float(auc.sum()), float(aumc.sum())


def interpolate(t: FloatArray, c: FloatArray, at: float, method: str) -> float:
    """The concentration at ``at`` between the samples around it (NaN outside their range).

    Linear, or log-linear on a falling segment with both ends positive under
    ``"linear-up/log-down"`` (the same choice as for the area).
    """
    if len(t) == 0 or at < t[0] or at > t[-1]:
        return float("nan")
    k = int(np.searchsorted(t, at))
    if t[k] == at:
        return float(c[k])
    t1, t2, c1, c2 = t[k - 1], t[k], c[k - 1], c[k]
    w = (at - t1) / (t2 - t1)
    if method != "linear" and c1 > c2 > 0:
        return float(c1 * (c2 / c1) ** w)
    return float(c1 + w * (c2 - c1))
