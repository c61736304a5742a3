r"""Closed-form reference solutions of linear mammillary PK models (numpy only).

These functions are independent of the simulation engine: they are the references the engine and
the benchmarks are checked against. Every function returns the concentration in the central
compartment (amount / central volume) at the times ``t``, summed over a list of doses
(superposition, valid because the models are linear).

Conventions
-----------
- ``t`` is a 1-d array of times, shape ``(n_times,)``.
- Every parameter may be a scalar or an array broadcastable against the subjects, typically of
  shape ``(n_subjects, 1)``; the result has shape ``numpy.broadcast_shapes(params, t.shape)``.
- A bolus or oral dose is ``(time, amount)``; an infusion is ``(time, amount, duration)``
  (zero-order, rate ``amount / duration``; ``duration == 0`` is a bolus).
- A dose at time ``td`` is applied *before* an observation at ``td`` (a bolus is included in
  ``C(td)``).
- Units are whatever the caller uses consistently (e.g. mg, L, h, L/h, 1/h -> mg/L).

Method
------
The response of the central amount to a unit bolus into the central compartment is
:math:`\sum_i c_i e^{-\lambda_i s}`, where :math:`\lambda_i` are the disposition eigenvalues
(macro rate constants) and

.. math::

    c_i = \frac{\prod_{j \in \text{periph}} (k_{j1} - \lambda_i)}
               {\prod_{m \ne i} (\lambda_m - \lambda_i)}, \qquad \sum_i c_i = 1 .

Infusion and first-order absorption are the convolutions of this response with the input; they
are written with :func:`numpy.expm1` and the function :math:`\varphi(x) = (1 - e^{-x})/x`,
:math:`\varphi(0) = 1`, so that the absorption rate constant may equal an eigenvalue
(:math:`k_a = k`) without loss of accuracy: the result is continuous across :math:`k_a = k`.

Eigenvalues: the one-compartment rate is :math:`k = CL/V`; the two-compartment macro-constants
:math:`\alpha > \beta` solve the quadratic :math:`\lambda^2 - (k_{10}+k_{12}+k_{21})\lambda +
k_{10}k_{21} = 0` (the smaller root computed as :math:`k_{10}k_{21}/\alpha` to avoid
cancellation); the three-compartment eigenvalues are those of the 3x3 rate matrix, computed with
:func:`numpy.linalg.eigvalsh` on its symmetrised form (the mammillary rate matrix is similar, via
the volumes, to a symmetric matrix with off-diagonal entries :math:`-Q_j/\sqrt{V_1 V_j}`, so its
eigenvalues are real). The eigenvalues of the disposition must be distinct, which holds whenever
every inter-compartmental clearance is positive and the peripheral rate constants differ.

References
----------
.. [1] M. Gibaldi, D. Perrier, *Pharmacokinetics*, 2nd ed., Marcel Dekker, New York, 1982,
   chapters 1-3 (one- and multi-compartment models, multiple dosing).
.. [2] M. Rowland, T. N. Tozer, *Clinical Pharmacokinetics and Pharmacodynamics: Concepts and
   Applications*, 4th ed., Lippincott Williams & Wilkins, 2011 (constant-rate infusion,
   multiple-dose regimens, accumulation and steady state).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pkpd.errors import RegimenError

__all__ = [
    "css_average",
    "one_cmt_bolus",
    "one_cmt_bolus_ss",
    "one_cmt_infusion",
    "one_cmt_infusion_ss",
    "one_cmt_oral",
    "one_cmt_oral_ss",
    "three_cmt_bolus",
    "three_cmt_infusion",
    "three_cmt_oral",
    "two_cmt_bolus",
    "two_cmt_infusion",
    "two_cmt_oral",
]

FloatArray = NDArray[np.float64]
Doses = Sequence[Sequence[float]]


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------

def _phi(x: FloatArray) -> FloatArray:
    """(1 - exp(-x)) / x for x >= 0, with the limit 1 at x = 0 (no cancellation for small x)."""
    x = np.asarray(x, dtype=float)
    safe = np.where(x == 0.0, 1.0, x)
    return np.where(x == 0.0, 1.0, -np.expm1(-safe) / safe)


def _exp_diff(lam: FloatArray, ka: FloatArray, s: FloatArray) -> FloatArray:
    r"""(exp(-lam*s) - exp(-ka*s)) / (ka - lam) for s >= 0, stable (and exact) at ka == lam.

    Equal to :math:`e^{-\min(\lambda, k_a) s}\, s\, \varphi(|k_a - \lambda| s)`.
    """
    return np.exp(-np.minimum(lam, ka) * s) * s * _phi(np.abs(ka - lam) * s)


def _times(t: ArrayLike) -> FloatArray:
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


def _respond(t: FloatArray, lams: list[FloatArray], coefs: list[FloatArray], volume: ArrayLike,
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
            modes = [c * ka * _exp_diff(lam, ka, s) for lam, c in zip(lams, coefs, strict=True)]
            amount = np.asarray(F) * amount
        else:
            duration = np.asarray(dose[2], dtype=float)
            s_in = np.minimum(s, duration)  # time spent infusing so far
            frac = np.where(duration > 0, s_in / np.where(duration > 0, duration, 1.0), 1.0)
            modes = [c * frac * np.exp(-lam * (s - s_in)) * _phi(lam * s_in)
                     for lam, c in zip(lams, coefs, strict=True)]
        total = total + np.where(given, amount * sum(modes), 0.0)
    return total / np.asarray(volume)


def _one_cmt(CL: ArrayLike, V: ArrayLike) -> tuple[list[FloatArray], list[FloatArray]]:
    k = np.asarray(CL, dtype=float) / np.asarray(V, dtype=float)
    return [k], [np.ones_like(k)]


def _two_cmt(CL: ArrayLike, V1: ArrayLike, Q: ArrayLike,
             V2: ArrayLike) -> tuple[list[FloatArray], list[FloatArray]]:
    k10 = np.asarray(CL, dtype=float) / np.asarray(V1, dtype=float)
    k12 = np.asarray(Q, dtype=float) / np.asarray(V1, dtype=float)
    k21 = np.asarray(Q, dtype=float) / np.asarray(V2, dtype=float)
    total = k10 + k12 + k21
    alpha = 0.5 * (total + np.sqrt(total * total - 4.0 * k10 * k21))
    beta = k10 * k21 / alpha
    return [alpha, beta], [(k21 - alpha) / (beta - alpha), (k21 - beta) / (alpha - beta)]


def _three_cmt(CL: ArrayLike, V1: ArrayLike, Q2: ArrayLike, V2: ArrayLike, Q3: ArrayLike,
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


# --------------------------------------------------------------------------------------------
# one compartment
# --------------------------------------------------------------------------------------------

def one_cmt_bolus(t: ArrayLike, doses: Doses, CL: ArrayLike, V: ArrayLike) -> FloatArray:
    r"""One-compartment model, intravenous boluses.

    .. math::

        C(t) = \sum_{t_d \le t} \frac{D}{V} e^{-k (t - t_d)}, \qquad k = CL / V .

    Parameters
    ----------
    t : array_like, shape (n_times,)
        Observation times.
    doses : sequence of (time, amount)
        Boluses into the central compartment (a dose at ``t`` is included in ``C(t)``).
    CL, V : array_like
        Clearance and volume, scalars or arrays broadcastable against ``t`` (e.g. (n, 1)).

    Returns
    -------
    numpy.ndarray
        Concentrations, shape ``broadcast(params, t)``.

    References
    ----------
    Gibaldi & Perrier, *Pharmacokinetics*, 2nd ed., ch. 1 and ch. 3.
    """
    lams, coefs = _one_cmt(CL, V)
    return _respond(_times(t), lams, coefs, V, doses, "bolus")


def one_cmt_infusion(t: ArrayLike, doses: Doses, CL: ArrayLike, V: ArrayLike) -> FloatArray:
    r"""One-compartment model, zero-order infusions.

    For an infusion of amount :math:`D` over :math:`T` starting at :math:`t_d`, with
    :math:`s = t - t_d`, :math:`s_{in} = \min(s, T)` and :math:`R = D/T`:

    .. math::

        C(t) = \frac{R}{CL} \left(1 - e^{-k s_{in}}\right) e^{-k (s - s_{in})}
             = \frac{D}{V}\,\frac{s_{in}}{T}\,\varphi(k s_{in})\, e^{-k (s - s_{in})},

    i.e. the rise during the infusion and the mono-exponential decline after it; :math:`T = 0`
    gives the bolus. Doses are summed (superposition).

    Parameters
    ----------
    t : array_like, shape (n_times,)
        Observation times (may fall inside an infusion).
    doses : sequence of (time, amount, duration)
        Infusions into the central compartment.
    CL, V : array_like
        Clearance and volume (broadcastable, e.g. shape (n, 1)).

    Returns
    -------
    numpy.ndarray
        Concentrations, shape ``broadcast(params, t)``.

    References
    ----------
    Gibaldi & Perrier, ch. 1 (constant-rate intravenous infusion); Rowland & Tozer.
    """
    lams, coefs = _one_cmt(CL, V)
    return _respond(_times(t), lams, coefs, V, doses, "infusion")


def one_cmt_oral(t: ArrayLike, doses: Doses, CL: ArrayLike, V: ArrayLike, KA: ArrayLike,
                 F: ArrayLike = 1.0, lag: ArrayLike = 0.0) -> FloatArray:
    r"""One-compartment model, first-order absorption (Bateman function).

    With :math:`s = t - t_d - t_{lag}`:

    .. math::

        C(t) = \sum_{s \ge 0} \frac{F D k_a}{V (k_a - k)} \left(e^{-k s} - e^{-k_a s}\right)
             = \sum_{s \ge 0} \frac{F D k_a}{V}\, e^{-\min(k, k_a) s}\, s\,
               \varphi(|k_a - k|\, s),

    the second (expm1) form being used: it has the limit
    :math:`F D k s e^{-k s} / V` at :math:`k_a = k` and is continuous across it.

    Parameters
    ----------
    t : array_like, shape (n_times,)
        Observation times.
    doses : sequence of (time, amount)
        Doses into the depot.
    CL, V, KA : array_like
        Clearance, volume, absorption rate constant (broadcastable).
    F : array_like, default 1
        Bioavailable fraction.
    lag : array_like, default 0
        Absorption lag time.

    Returns
    -------
    numpy.ndarray
        Concentrations, shape ``broadcast(params, t)``.

    References
    ----------
    Gibaldi & Perrier, ch. 1 (first-order absorption); Rowland & Tozer.
    """
    lams, coefs = _one_cmt(CL, V)
    return _respond(_times(t), lams, coefs, V, doses, "oral", np.asarray(KA, dtype=float), F,
                    lag)


# --------------------------------------------------------------------------------------------
# two compartments
# --------------------------------------------------------------------------------------------

def two_cmt_bolus(t: ArrayLike, doses: Doses, CL: ArrayLike, V1: ArrayLike, Q: ArrayLike,
                  V2: ArrayLike) -> FloatArray:
    r"""Two-compartment model, intravenous boluses into the central compartment.

    With :math:`k_{10} = CL/V_1`, :math:`k_{12} = Q/V_1`, :math:`k_{21} = Q/V_2` and the
    macro-constants :math:`\alpha + \beta = k_{10}+k_{12}+k_{21}`,
    :math:`\alpha\beta = k_{10}k_{21}` (:math:`\alpha > \beta`):

    .. math::

        C(t) = \sum_{t_d \le t} \frac{D}{V_1}\left[\frac{\alpha - k_{21}}{\alpha - \beta}
               e^{-\alpha s} + \frac{k_{21} - \beta}{\alpha - \beta} e^{-\beta s}\right],
               \qquad s = t - t_d .

    Parameters
    ----------
    t : array_like, shape (n_times,)
        Observation times.
    doses : sequence of (time, amount)
        Boluses into the central compartment.
    CL, V1, Q, V2 : array_like
        Clearance, central volume, inter-compartmental clearance, peripheral volume.

    Returns
    -------
    numpy.ndarray
        Concentrations, shape ``broadcast(params, t)``.

    References
    ----------
    Gibaldi & Perrier, ch. 2 (two-compartment model).
    """
    lams, coefs = _two_cmt(CL, V1, Q, V2)
    return _respond(_times(t), lams, coefs, V1, doses, "bolus")


def two_cmt_infusion(t: ArrayLike, doses: Doses, CL: ArrayLike, V1: ArrayLike, Q: ArrayLike,
                     V2: ArrayLike) -> FloatArray:
    r"""Two-compartment model, zero-order infusions into the central compartment.

    Each mode :math:`i \in \{\alpha, \beta\}` with coefficient :math:`c_i` (see
    :func:`two_cmt_bolus`) contributes, with :math:`s_{in} = \min(s, T)`:

    .. math::

        C(t) = \sum_d \frac{D}{V_1} \sum_i c_i\, \frac{s_{in}}{T}\, \varphi(\lambda_i s_{in})\,
               e^{-\lambda_i (s - s_{in})},

    which is :math:`\frac{R}{V_1}\sum_i \frac{c_i}{\lambda_i}(1 - e^{-\lambda_i s})` during the
    infusion and its exponential decline afterwards.

    Parameters
    ----------
    t : array_like, shape (n_times,)
        Observation times (may fall inside an infusion).
    doses : sequence of (time, amount, duration)
        Infusions into the central compartment.
    CL, V1, Q, V2 : array_like
        Disposition parameters (broadcastable).

    Returns
    -------
    numpy.ndarray
        Concentrations, shape ``broadcast(params, t)``.

    References
    ----------
    Gibaldi & Perrier, ch. 2 (intravenous infusion, multi-compartment); Rowland & Tozer.
    """
    lams, coefs = _two_cmt(CL, V1, Q, V2)
    return _respond(_times(t), lams, coefs, V1, doses, "infusion")


def two_cmt_oral(t: ArrayLike, doses: Doses, CL: ArrayLike, V1: ArrayLike, Q: ArrayLike,
                 V2: ArrayLike, KA: ArrayLike, F: ArrayLike = 1.0,
                 lag: ArrayLike = 0.0) -> FloatArray:
    r"""Two-compartment model, first-order absorption from a depot.

    .. math::

        C(t) = \sum_d \frac{F D k_a}{V_1} \sum_{i \in \{\alpha,\beta\}} c_i\,
               \frac{e^{-\lambda_i s} - e^{-k_a s}}{k_a - \lambda_i},
               \qquad s = t - t_d - t_{lag} \ge 0,

    equal to the classical tri-exponential
    :math:`\frac{F D k_a}{V_1}\big[\frac{k_{21}-\alpha}{(k_a-\alpha)(\beta-\alpha)}e^{-\alpha s}
    + \frac{k_{21}-\beta}{(k_a-\beta)(\alpha-\beta)}e^{-\beta s}
    + \frac{k_{21}-k_a}{(\alpha-k_a)(\beta-k_a)}e^{-k_a s}\big]`, but each divided difference is
    evaluated in the expm1 form, so :math:`k_a` may equal :math:`\alpha` or :math:`\beta`.

    Parameters
    ----------
    t : array_like, shape (n_times,)
        Observation times.
    doses : sequence of (time, amount)
        Doses into the depot.
    CL, V1, Q, V2, KA : array_like
        Disposition parameters and absorption rate constant (broadcastable).
    F : array_like, default 1
        Bioavailable fraction.
    lag : array_like, default 0
        Absorption lag time.

    Returns
    -------
    numpy.ndarray
        Concentrations, shape ``broadcast(params, t)``.

    References
    ----------
    Gibaldi & Perrier, ch. 2 (two-compartment model with first-order absorption).
    """
    lams, coefs = _two_cmt(CL, V1, Q, V2)
    return _respond(_times(t), lams, coefs, V1, doses, "oral", np.asarray(KA, dtype=float), F,
                    lag)


# --------------------------------------------------------------------------------------------
# three compartments
# --------------------------------------------------------------------------------------------

def three_cmt_bolus(t: ArrayLike, doses: Doses, CL: ArrayLike, V1: ArrayLike, Q2: ArrayLike,
                    V2: ArrayLike, Q3: ArrayLike, V3: ArrayLike) -> FloatArray:
    r"""Three-compartment mammillary model, intravenous boluses into the central compartment.

    .. math::

        C(t) = \sum_{t_d \le t} \frac{D}{V_1} \sum_{i=1}^{3}
               \frac{(k_{21} - \lambda_i)(k_{31} - \lambda_i)}
                    {\prod_{m \ne i} (\lambda_m - \lambda_i)} e^{-\lambda_i s},

    with :math:`k_{10} = CL/V_1`, :math:`k_{12} = Q_2/V_1`, :math:`k_{13} = Q_3/V_1`,
    :math:`k_{21} = Q_2/V_2`, :math:`k_{31} = Q_3/V_3`, and :math:`\lambda_i` the eigenvalues of
    the rate matrix (computed with :func:`numpy.linalg.eigvalsh` on its symmetrised form).

    Parameters
    ----------
    t : array_like, shape (n_times,)
        Observation times.
    doses : sequence of (time, amount)
        Boluses into the central compartment.
    CL, V1, Q2, V2, Q3, V3 : array_like
        Clearance, central volume, and clearance/volume of the two peripheral compartments.

    Returns
    -------
    numpy.ndarray
        Concentrations, shape ``broadcast(params, t)``.

    References
    ----------
    Gibaldi & Perrier, ch. 2 (three-compartment model).
    """
    lams, coefs = _three_cmt(CL, V1, Q2, V2, Q3, V3)
    return _respond(_times(t), lams, coefs, V1, doses, "bolus")


def three_cmt_infusion(t: ArrayLike, doses: Doses, CL: ArrayLike, V1: ArrayLike, Q2: ArrayLike,
                       V2: ArrayLike, Q3: ArrayLike, V3: ArrayLike) -> FloatArray:
    r"""Three-compartment mammillary model, zero-order infusions into the central compartment.

    .. math::

        C(t) = \sum_d \frac{D}{V_1} \sum_{i=1}^{3} c_i\, \frac{s_{in}}{T}\,
               \varphi(\lambda_i s_{in})\, e^{-\lambda_i (s - s_{in})}, \qquad
               s_{in} = \min(s, T),

    with :math:`c_i, \lambda_i` as in :func:`three_cmt_bolus`.

    Parameters
    ----------
    t : array_like, shape (n_times,)
        Observation times (may fall inside an infusion).
    doses : sequence of (time, amount, duration)
        Infusions into the central compartment.
    CL, V1, Q2, V2, Q3, V3 : array_like
        Disposition parameters (broadcastable).

    Returns
    -------
    numpy.ndarray
        Concentrations, shape ``broadcast(params, t)``.

    References
    ----------
    Gibaldi & Perrier, ch. 2 (three-compartment model).
    """
    lams, coefs = _three_cmt(CL, V1, Q2, V2, Q3, V3)
    return _respond(_times(t), lams, coefs, V1, doses, "infusion")


def three_cmt_oral(t: ArrayLike, doses: Doses, CL: ArrayLike, V1: ArrayLike, Q2: ArrayLike,
                   V2: ArrayLike, Q3: ArrayLike, V3: ArrayLike, KA: ArrayLike,
                   F: ArrayLike = 1.0, lag: ArrayLike = 0.0) -> FloatArray:
    r"""Three-compartment mammillary model, first-order absorption from a depot.

    .. math::

        C(t) = \sum_d \frac{F D k_a}{V_1} \sum_{i=1}^{3} c_i\,
               \frac{e^{-\lambda_i s} - e^{-k_a s}}{k_a - \lambda_i},
               \qquad s = t - t_d - t_{lag} \ge 0,

    with :math:`c_i, \lambda_i` as in :func:`three_cmt_bolus` and each divided difference in the
    expm1 form (stable when :math:`k_a` equals an eigenvalue).

    Parameters
    ----------
    t : array_like, shape (n_times,)
        Observation times.
    doses : sequence of (time, amount)
        Doses into the depot.
    CL, V1, Q2, V2, Q3, V3, KA : array_like
        Disposition parameters and absorption rate constant (broadcastable).
    F : array_like, default 1
        Bioavailable fraction.
    lag : array_like, default 0
        Absorption lag time.

    Returns
    -------
    numpy.ndarray
        Concentrations, shape ``broadcast(params, t)``.

    References
    ----------
    Gibaldi & Perrier, ch. 2 (three-compartment model).
    """
    lams, coefs = _three_cmt(CL, V1, Q2, V2, Q3, V3)
    return _respond(_times(t), lams, coefs, V1, doses, "oral", np.asarray(KA, dtype=float), F,
                    lag)


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
    first = _exp_diff(k, ka, t)
    # (e^{-x1} - e^{-x2}) / (ka - k), x1 = ka t + k tau, x2 = x1 + (ka - k)(tau - t)
    w = tau - t
    x1 = ka * t + k * tau
    second = np.exp(-(x1 + np.minimum(0.0, (ka - k) * w))) * w * _phi(np.abs(ka - k) * w)
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
