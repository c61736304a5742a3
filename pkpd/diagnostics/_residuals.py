"""Residuals of a fit, subject by subject: PRED, IPRED, RES, IRES, IWRES, WRES (the model
linearised at eta = 0, as NONMEM's FO) and CWRES (linearised at the subject's estimated etas,
Hooker, Staatz & Karlsson 2007), and eta and epsilon shrinkage.

For a subject with observations ``y`` (on the error model's scale: logarithms for exponential
error), predictions ``f(eta)``, their derivatives ``G = df/deta`` and residual variances
``R``, the first-order linearisation around ``eta*`` gives

``E[y] = f(eta*) - G(eta*) eta*``,   ``Cov[y] = G(eta*) Omega G(eta*)' + R``,

and the weighted residual is ``Cov[y]^(-1/2) (y - E[y])`` with the symmetric inverse square
root. WRES takes ``eta* = 0`` and ``R`` at the population prediction; CWRES takes the estimated
etas and ``R`` at the individual prediction (FOCE-I, SAEM, MAP) or at the population
prediction (FOCE, FO), as the fit's objective does. Censored observations (M3) are left out of
the vectors; their residuals are NaN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ._design import Design

__all__ = ["inverse_sqrt", "residuals", "shrinkage"]


def inverse_sqrt(c: np.ndarray) -> np.ndarray:
    """The symmetric inverse square root of a symmetric positive definite matrix."""
    w, v = np.linalg.eigh(c)
    if w.min() <= 0:
        raise np.linalg.LinAlgError("covariance matrix not positive definite")
    return (v / np.sqrt(w)) @ v.T


def _weighted(design: Design, y: np.ndarray, f: np.ndarray, g: np.ndarray, eta: np.ndarray,
              sd: np.ndarray) -> np.ndarray:
    """Weighted residuals of every subject, linearised at ``eta`` (n_subjects, n_eta)."""
    pop = design.pop
    out = np.full(pop.n_obs, np.nan)
    keep = ~pop.obs.censored
    for i in range(pop.n_subjects):
        lo, hi = pop.starts[i], pop.starts[i + 1]
        sel = np.arange(lo, hi)[keep[lo:hi]]
        if not len(sel):
            continue
        gi = g[sel]
        mean = f[sel] - gi @ eta[i]
        cov = gi @ design.omega @ gi.T + np.diag(sd[sel] ** 2)
        try:
            out[sel] = inverse_sqrt(cov) @ (y[sel] - mean)
        except np.linalg.LinAlgError:
            continue
    return out


def residuals(design: Design) -> dict[str, np.ndarray]:
    """Every residual of :mod:`this module <pkpd.diagnostics._residuals>`, by column name."""
    from ..estimation._likelihood import scaled

    pop, obs = design.pop, design.pop.obs
    n_eta = len(design.etas)
    zero = np.zeros((pop.n_subjects, n_eta))
    modes = design.modes
    f0, j0 = design.linearised(zero)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd0, fx0, yx, _, d0, _ = scaled(obs, f0)
        cens = obs.censored
        out = {"PRED": f0, "RES": np.where(cens, np.nan, obs.dv - f0),
               "WRES": _weighted(design, yx, fx0, j0 * d0[:, None], zero, sd0)}
        if modes is None:
            return out
        fi, ji = design.linearised(modes)
        sdi, fxi, _, _, di, _ = scaled(obs, fi)
        sd_var = sd0 if design.method in ("foce", "fo") else sdi
        out |= {"IPRED": fi, "IRES": np.where(cens, np.nan, obs.dv - fi),
                "IWRES": np.where(cens, np.nan, (yx - fxi) / sdi),
                "CWRES": _weighted(design, yx, fxi, ji * di[:, None], modes, sd_var)}
    return out


def shrinkage(design: Design, iwres: np.ndarray | None) -> dict[str, dict[str, float]]:
    """Eta shrinkage by eta and epsilon shrinkage by output, in %.

    ``eta_sd``: ``100 (1 - SD(eta estimates) / sqrt(omega))``; ``eta_var``:
    ``100 (1 - Var(eta estimates) / omega)`` (NONMEM's ETASHRINKSD and ETASHRINKVR, SD and
    variance over the subjects with ``ddof = 1``); ``epsilon``:
    ``100 (1 - SD(IWRES))`` over the uncensored observations of each output.
    """
    out: dict[str, dict[str, float]] = {"eta_sd": {}, "eta_var": {}, "epsilon": {}}
    if design.modes is None:
        return out
    n = design.pop.n_subjects
    for j, e in enumerate(design.etas):
        omega = design.omega[j, j]
        if n > 1:
            var = float(np.var(design.modes[:, j], ddof=1))
            out["eta_sd"][e] = 100.0 * (1.0 - np.sqrt(var / omega))
            out["eta_var"][e] = 100.0 * (1.0 - var / omega)
        else:
            out["eta_sd"][e] = out["eta_var"][e] = float("nan")
    if iwres is not None:
        obs = design.pop.obs
        for i, name in enumerate(obs.outputs):
            r = iwres[(obs.output == i) & np.isfinite(iwres)]
            out["epsilon"][name] = (100.0 * (1.0 - float(np.std(r, ddof=1)))
                                    if len(r) > 1 else float("nan"))
    return out
