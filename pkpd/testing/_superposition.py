"""Building blocks of :mod:`pkpd.testing.analytic`: the unit-bolus response of linear
mammillary models (eigenvalues and coefficients) and its superposition over doses (bolus,
zero-order infusion, first-order absorption), written with :func:`numpy.expm1` and
:math:`\\varphi(x) = (1 - e^{-x})/x` so that an absorption rate equal to an eigenvalue loses no
accuracy. The method and its references are in :mod:`pkpd.testing.analytic`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pkpd.errors import RegimenError

__all__ = ["Doses", "FloatArray", "exp_diff", "one_cmt", "phi", "respond", "three_cmt", "times",
           "two_cmt"]

FloatArray = NDArray[np.float64]
Doses = Sequence[Sequence[float]]


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------

def phi(x: FloatArray) -> FloatArray:
    """(1 - exp(-x)) / x for x >= 0, with the limit 1 at x = 0 (no cancellation for small x)."""
    x = np.asarray(x, dtype=float)
    safe = np.where(x == 0.0, 1.0, x)
    return np.where(x == 0.0, 1.0, -np.expm1(-safe) / safe)


def exp_diff(lam: FloatArray, ka: FloatArray, s: FloatArray) -> FloatArray:
    r"""(exp(-lam*s) - exp(-ka*s)) / (ka - lam) for s >= 0, stable (and exact) at ka == lam.

    Equal to :math:`e^{-\min(\lambda, k_a) s}\, s\, \varphi(|k_a - \lambda| s)`.
    """
    return np.exp(-np.minimum(lam, ka) * s) * s * phi(np.abs(ka - lam) * s)


def times(t: ArrayLike) -> FloatArray:
    t = np.asarray(t, dtype=float)
    if t.ndim != 1:
        raise RegimenError(f"times must be a 1-d array, got shape {t.shape}")
    return t


def _dose_list(doses: Doses, width: int, what: str) -> list[tuple[float, ...]]:
    out = []
    for i, dose in enumerate(doses):
        entry = tuple(dose)
        if len(entry) != width:
            form = "(time, amount, duration)" if width == 3 else "(time, amount)"
            raise RegimenError(f"dose {i} of the {what}: expected {form}, got {dose!r}")
        if width == 3 and not np.all(np.asarray(entry[2]) >= 0):
            raise RegimenError(f"dose {i} of the {what}: duration must be >= 0, got {entry[2]!r}")
        out.append(entry)
    if not out:
        raise RegimenError(f"the {what} needs at least one dose, got an empty list")
    return out


def respond(t: FloatArray, lams: list[FloatArray], coefs: list[FloatArray], volume: ArrayLike,
             doses: Doses, route: str, ka: ArrayLike = 1.0, F: ArrayLike = 1.0,
             lag: ArrayLike = 0.0) -> FloatArray:
    """Central concentration: superposition over doses of the unit responses of each mode."""
    width = 3 if route == "infusion" else 2
    total = np.zeros(np.broadcast_shapes(np.shape(volume), *(np.shape(c) for c in coefs),
                                         np.shape(ka), np.shape(F), np.shape(lag), t.shape))
    for dose in _dose_list(doses, width, f"{route} doses"):
        td, amount = dose[0], dose[1]
        start = td + lag if route == "oral" else td
        s = t - np.asarray(start, dtype=float)
        given = s >= 0.0
        s = np.where(given, s, 0.0)
        if route == "bolus":
            modes = [c * np.exp(-lam * s) for lam, c in zip(lams, coefs, strict=True)]
        elif route == "oral":
            modes = [c * ka * exp_diff(lam, ka, s) for lam, c in zip(lams, coefs, strict=True)]
            amount = np.asarray(F) * amount
        else:
            duration = np.asarray(dose[2], dtype=float)
            s_in = np.minimum(s, duration)  # time spent infusing so far
            frac = np.where(duration > 0, s_in / np.where(duration > 0, duration, 1.0), 1.0)
            modes = [c * frac * np.exp(-lam * (s - s_in)) * phi(lam * s_in)
                     for lam, c in zip(lams, coefs, strict=True)]
        total = total + np.where(given, amount * sum(modes), 0.0)
    return total / np.asarray(volume)


def one_cmt(CL: ArrayLike, V: ArrayLike) -> tuple[list[FloatArray], list[FloatArray]]:
    k = np.asarray(CL, dtype=float) / np.asarray(V, dtype=float)
    return [k], [np.ones_like(k)]


def two_cmt(CL: ArrayLike, V1: ArrayLike, Q: ArrayLike,
             V2: ArrayLike) -> tuple[list[FloatArray], list[FloatArray]]:
    k10 = np.asarray(CL, dtype=float) / np.asarray(V1, dtype=float)
    k12 = np.asarray(Q, dtype=float) / np.asarray(V1, dtype=float)
    k21 = np.asarray(Q, dtype=float) / np.asarray(V2, dtype=float)
    total = k10 + k12 + k21
    alpha = 0.5 * (total + np.sqrt(total * total - 4.0 * k10 * k21))
    beta = k10 * k21 / alpha
    return [alpha, beta], [(k21 - alpha) / (beta - alpha), (k21 - beta) / (alpha - beta)]


def three_cmt(CL: ArrayLike, V1: ArrayLike, Q2: ArrayLike, V2: ArrayLike, Q3: ArrayLike,
               V3: ArrayLike) -> tuple[list[FloatArray], list[FloatArray]]:
    CL, V1, Q2, V2, Q3, V3 = np.broadcast_arrays(*(np.asarray(p, dtype=float)
                                                   for p in (CL, V1, Q2, V2, Q3, V3)))
    k10, k12, k13, k21, k31 = CL / V1, Q2 / V1, Q3 / V1, Q2 / V2, Q3 / V3
    sym = np.zeros((*CL.shape, 3, 3))
    sym[..., 0, 0] = k10 + k12 + k13
    sym[..., 1, 1] = k21
    sym[..., 2, 2] = k31
    sym[..., 0, 1] = sym[..., 1, 0] = -Q2 / np.sqrt(V1 * V2)
    sym[..., 0, 2] = sym[..., 2, 0] = -Q3 / np.sqrt(V1 * V3)
    eig = np.linalg.eigvalsh(sym)
    lams = [eig[..., i] for i in range(3)]
    coefs = []
    for i in range(3):
        others = [lams[m] for m in range(3) if m != i]
        coefs.append((k21 - lams[i]) * (k31 - lams[i])
                     / ((others[0] - lams[i]) * (others[1] - lams[i])))
    return lams, coefs
