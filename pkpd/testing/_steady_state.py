r"""Steady-state closed forms of the one-compartment model (sums of infinitely many doses
every ``tau``) and the average steady-state concentration; public as
:mod:`pkpd.testing.analytic`'s (conventions and references there)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from pkpd.errors import RegimenError

from ._superposition import FloatArray, exp_diff, phi

__all__ = ["css_average", "one_cmt_bolus_ss", "one_cmt_infusion_ss", "one_cmt_oral_ss"]


# --------------------------------------------------------------------------------------------
# steady state (one compartment)
# --------------------------------------------------------------------------------------------

def _ss_times(t_after_dose: ArrayLike, tau: ArrayLike) -> FloatArray:
    t = np.asarray(t_after_dose, dtype=float)
    tau = np.asarray(tau, dtype=float)
    if not np.all(tau > 0):
        raise RegimenError(f"dosing interval tau must be > 0, got {tau!r}")
    if not (np.all(t >= 0) and np.all(t <= tau)):
        raise RegimenError("t_after_dose must lie in [0, tau] (time since the last dose of the "
                           f"steady-state regimen), got values in [{t.min()}, {t.max()}]")
    return t


def one_cmt_bolus_ss(t_after_dose: ArrayLike, dose: ArrayLike, tau: ArrayLike, CL: ArrayLike,
                     V: ArrayLike) -> FloatArray:
    r"""One-compartment model at steady state of intravenous boluses every ``tau``.

    The sum of infinitely many doses :math:`\sum_{n \ge 0} \frac{D}{V}e^{-k(t + n\tau)}`:

    .. math::

        C_{ss}(t) = \frac{D}{V} \frac{e^{-k t}}{1 - e^{-k \tau}}, \qquad 0 \le t \le \tau .

    Parameters
    ----------
    t_after_dose : array_like
        Time since the last dose, in ``[0, tau]`` (0 = just after the dose).
    dose, tau, CL, V : array_like
        Dose amount, dosing interval, clearance, volume (broadcastable).

    Returns
    -------
    numpy.ndarray
        Steady-state concentrations, shape ``broadcast(params, t_after_dose)``.

    References
    ----------
    Gibaldi & Perrier, ch. 3 (multiple dosing); Rowland & Tozer.
    """
    t = _ss_times(t_after_dose, tau)
    k = np.asarray(CL, dtype=float) / np.asarray(V, dtype=float)
    return np.asarray(dose) / np.asarray(V) * np.exp(-k * t) / -np.expm1(-k * np.asarray(tau))


def one_cmt_infusion_ss(t_after_dose: ArrayLike, dose: ArrayLike, tau: ArrayLike,
                        duration: ArrayLike, CL: ArrayLike, V: ArrayLike) -> FloatArray:
    r"""One-compartment model at steady state of zero-order infusions every ``tau``.

    With :math:`R = D/T` and the trough
    :math:`C_{min} = \frac{R}{CL}\frac{(1 - e^{-kT})e^{-k(\tau - T)}}{1 - e^{-k\tau}}`:

    .. math::

        C_{ss}(t) = \begin{cases}
            C_{min} e^{-k t} + \frac{R}{CL}(1 - e^{-k t}) & 0 \le t \le T \\
            \frac{R}{CL}\frac{1 - e^{-kT}}{1 - e^{-k\tau}} e^{-k (t - T)} & T < t \le \tau
        \end{cases}

    Parameters
    ----------
    t_after_dose : array_like
        Time since the start of the last infusion, in ``[0, tau]``.
    dose, tau, duration, CL, V : array_like
        Amount per infusion, interval, infusion duration (``0 < duration <= tau``), clearance,
        volume (broadcastable).

    Returns
    -------
    numpy.ndarray
        Steady-state concentrations.

    References
    ----------
    Gibaldi & Perrier, ch. 3 (repetitive intravenous infusion); Rowland & Tozer.
    """
    t = _ss_times(t_after_dose, tau)
    tau, T = np.asarray(tau, dtype=float), np.asarray(duration, dtype=float)
    if not (np.all(T > 0) and np.all(T <= tau)):
        raise RegimenError(f"infusion duration must satisfy 0 < duration <= tau, got {duration!r}")
    CL, V = np.asarray(CL, dtype=float), np.asarray(V, dtype=float)
    k = CL / V
    css_inf = np.asarray(dose) / T / CL
    acc = 1.0 / -np.expm1(-k * tau)
    peak = css_inf * -np.expm1(-k * T) * acc
    trough = peak * np.exp(-k * (tau - T))
    during = trough * np.exp(-k * t) + css_inf * -np.expm1(-k * t)
    after = peak * np.exp(-k * (t - T))
    return np.where(t <= T, during, after)


def one_cmt_oral_ss(t_after_dose: ArrayLike, dose: ArrayLike, tau: ArrayLike, CL: ArrayLike,
                    V: ArrayLike, KA: ArrayLike, F: ArrayLike = 1.0) -> FloatArray:
    r"""One-compartment model with first-order absorption, at steady state of doses every ``tau``.

    The sum of infinitely many Bateman functions (geometric series in each exponential):

    .. math::

        C_{ss}(t) = \frac{F D k_a}{V (k_a - k)}\left[\frac{e^{-k t}}{1 - e^{-k\tau}}
                    - \frac{e^{-k_a t}}{1 - e^{-k_a \tau}}\right], \qquad 0 \le t \le \tau .

    Written over the common denominator, the bracket divided by :math:`k_a - k` becomes two
    divided differences of exponentials,

    .. math::

        \frac{e^{-k t} - e^{-k_a t}}{k_a - k}
        + \frac{e^{-(k_a t + k\tau)} - e^{-(k t + k_a\tau)}}{k_a - k},

    each evaluated in the expm1 form, so the result is exact and continuous at :math:`k_a = k`.

    Parameters
    ----------
    t_after_dose : array_like
        Time since the last dose, in ``[0, tau]``.
    dose, tau, CL, V, KA : array_like
        Dose amount, interval, clearance, volume, absorption rate constant (broadcastable).
    F : array_like, default 1
        Bioavailable fraction.

    Returns
    -------
    numpy.ndarray
        Steady-state concentrations.

    References
    ----------
    Gibaldi & Perrier, ch. 3 (multiple oral dosing); Rowland & Tozer.
    """
    t = _ss_times(t_after_dose, tau)
    tau = np.asarray(tau, dtype=float)
    ka = np.asarray(KA, dtype=float)
    k = np.asarray(CL, dtype=float) / np.asarray(V, dtype=float)
    first = exp_diff(k, ka, t)
    # (e^{-x1} - e^{-x2}) / (ka - k), x1 = ka t + k tau, x2 = x1 + (ka - k)(tau - t)
    w = tau - t
    x1 = ka * t + k * tau
    second = np.exp(-(x1 + np.minimum(0.0, (ka - k) * w))) * w * phi(np.abs(ka - k) * w)
    denom = np.expm1(-k * tau) * np.expm1(-ka * tau)
    return np.asarray(F) * np.asarray(dose) * ka / np.asarray(V) * (first + second) / denom


def css_average(F: ArrayLike, dose: ArrayLike, CL: ArrayLike, tau: ArrayLike) -> FloatArray:
    r"""Average steady-state concentration over a dosing interval.

    .. math::

        \bar C_{ss} = \frac{F \cdot D}{CL \cdot \tau} = \frac{AUC_{0-\tau,ss}}{\tau},

    valid for every linear model and route.

    Parameters
    ----------
    F, dose, CL, tau : array_like
        Bioavailable fraction, dose amount, clearance, dosing interval.

    Returns
    -------
    numpy.ndarray
        The average concentration.

    References
    ----------
    Rowland & Tozer; Gibaldi & Perrier, ch. 3.
    """
    return (np.asarray(F, dtype=float) * np.asarray(dose, dtype=float)
            / (np.asarray(CL, dtype=float) * np.asarray(tau, dtype=float)))
