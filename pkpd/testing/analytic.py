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

import numpy as np
from numpy.typing import ArrayLike

from ._steady_state import css_average, one_cmt_bolus_ss, one_cmt_infusion_ss, one_cmt_oral_ss
from ._superposition import Doses, FloatArray, one_cmt, respond, three_cmt, times, two_cmt

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
    lams, coefs = one_cmt(CL, V)
    return respond(times(t), lams, coefs, V, doses, "bolus")


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
    lams, coefs = one_cmt(CL, V)
    return respond(times(t), lams, coefs, V, doses, "infusion")


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
    lams, coefs = one_cmt(CL, V)
    return respond(times(t), lams, coefs, V, doses, "oral", np.asarray(KA, dtype=float), F,
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
    lams, coefs = two_cmt(CL, V1, Q, V2)
    return respond(times(t), lams, coefs, V1, doses, "bolus")


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
    lams, coefs = two_cmt(CL, V1, Q, V2)
    return respond(times(t), lams, coefs, V1, doses, "infusion")


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
    lams, coefs = two_cmt(CL, V1, Q, V2)
    return respond(times(t), lams, coefs, V1, doses, "oral", np.asarray(KA, dtype=float), F,
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
    lams, coefs = three_cmt(CL, V1, Q2, V2, Q3, V3)
    return respond(times(t), lams, coefs, V1, doses, "bolus")


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
    lams, coefs = three_cmt(CL, V1, Q2, V2, Q3, V3)
    return respond(times(t), lams, coefs, V1, doses, "infusion")


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
    lams, coefs = three_cmt(CL, V1, Q2, V2, Q3, V3)
    return respond(times(t), lams, coefs, V1, doses, "oral", np.asarray(KA, dtype=float), F,
                    lag)
