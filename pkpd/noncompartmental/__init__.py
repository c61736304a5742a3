"""Non-compartmental analysis (NCA) of concentration-time data: :func:`nca` (``pkpd.nca``).

Modules
-------
``_nca``
    :func:`nca`: options, dosing intervals and the output table.
``_data``
    Datasets and concentration tables to per-subject arrays; checks of the input.
``_profile``
    One dose's profile: the BLQ rule, C(0) at the dose time, Cmax, Tmax, Clast, Tlast.
``_params``
    The parameters of one row.
``_auc``
    Linear and linear-up/log-down trapezoids (AUC and AUMC) and interpolation.
``_lambda_z``
    The terminal regression and PKNCA's best-fit choice of points.
``_units``
    The units of the output columns.

Rules
-----
lambda_z (automatic, PKNCA's ``pk.calc.half.life`` with its default options)
    Candidates: measurable concentrations after Tmax (Tmax excluded) and after the end of an
    infusion. Log-linear least-squares fits of the last 3, 4, ..., n candidates; acceptable fits
    have lambda_z > 0 (a decline lambda_z (t_last - t_first) > 1e-9, not a slope of rounding
    size) and an adjusted R^2 > (the best adjusted R^2 of all the fits, whatever their slope) -
    1e-4; the acceptable fit with the most points is kept. Fewer than 3 candidates, or no
    acceptable fit: NaN, and ``lambda_z_note`` says why.
BLQ (PKNCA's default ``conc.blq``)
    Below the LLOQ, flagged, or exactly 0. Before the first measurable concentration: 0; between
    the first and last measurable: dropped; after the last measurable: 0 (AUCall only).
Concentration at the dose time
    Extravascular or infusion, first dose without a sample at the dose time: 0. At steady state
    without a pre-dose sample: C(tau). IV bolus: the observed value at the dose time (> 0, first
    dose), else the log-linear back-extrapolation of the first two samples when they decline,
    else the first sample (PKNCA's ``c0``, ``logslope``, ``c1``).
AUC
    "linear-up/log-down" (default): log trapezoid where the concentration falls and both ends are
    > 0, linear otherwise; "linear": linear trapezoid everywhere.
"""

from __future__ import annotations

from ._nca import nca as nca

__all__ = ["nca"]
