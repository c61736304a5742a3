"""Normalised prediction distribution errors (NPDE; Brendel et al. 2006, Comets, Brendel &
Mentré 2008) from replicates of the dataset simulated under the model.

For each subject, simulated vectors of its (uncensored) observations give the mean ``E`` and
covariance ``V`` of its observations. Observed and ``K`` simulated vectors are decorrelated
with the inverse Cholesky factor of ``V`` (as the npde package does by default:
``y* = L^-1 (y - E)``, ``V = L L'``); the prediction discrepancy of an observation is the
fraction of its decorrelated simulations below its decorrelated value, moved off 0 and 1 to
``1 / (2K)`` and ``1 - 1 / (2K)``; NPDE is its standard normal quantile. PD is the same without
decorrelation. Censored observations are left out (the npde package's ``cens.method="omit"``).

``moments="independent"`` (default) estimates ``E`` and ``V`` from a second, independent set of
``K`` replicates: observed and ranked simulated vectors are then whitened by the same matrix,
independent of both, so under the model each NPDE is exactly standard normal whatever the
number of levels per subject. ``moments="same"`` estimates them from the ranked replicates
themselves, as the npde package does; with ``n`` levels per subject the NPDE are then
over-dispersed by a factor of about ``sqrt(1 + n / K)`` (1.03 for 60 levels and ``K = 1000``).

Under the model, the NPDE are independent standard normal: :func:`npde_tests` applies the
npde package's tests (Wilcoxon signed-rank test of the mean, Fisher's test of the variance,
Shapiro-Wilk of normality, and their Bonferroni-combined global test).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ._design import Design

__all__ = ["npde", "npde_tests"]


def npde(design: Design, sims: np.ndarray, moments: np.ndarray | None = None
         ) -> dict[str, np.ndarray]:
    """``EPRED`` (mean of the simulations), ``PD`` and ``NPDE`` of every observation, from
    simulated observations ``sims`` (K, n_obs) ranked against, and ``moments`` (K', n_obs) from
    which each subject's mean and covariance are estimated (default: ``sims``)."""
    from scipy.special import ndtri

    pop = design.pop
    k = sims.shape[0]
    y = pop.obs.dv
    keep = ~pop.obs.censored
    epred = sims.mean(axis=0)
    below = (sims < y).mean(axis=0)
    pd_ = np.where(keep, np.clip(below, 0.5 / k, 1.0 - 0.5 / k), np.nan)
    out = np.full(pop.n_obs, np.nan)
    for i in range(pop.n_subjects):
        lo, hi = pop.starts[i], pop.starts[i + 1]
        sel = np.arange(lo, hi)[keep[lo:hi]]
        if not len(sel):
            continue
        ys = sims[:, sel]
        ref = ys if moments is None else moments[:, sel]
        centre = ref.mean(axis=0)
        cov = np.atleast_2d(np.cov(ref, rowvar=False))
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            continue
        obs_star = np.linalg.solve(chol, y[sel] - centre)
        sim_star = np.linalg.solve(chol, (ys - centre).T).T
        frac = (sim_star < obs_star).mean(axis=0)
        out[sel] = ndtri(np.clip(frac, 0.5 / k, 1.0 - 0.5 / k))
    return {"EPRED": epred, "PD": pd_, "NPDE": out}


def npde_tests(values: np.ndarray) -> pd.DataFrame:
    """The npde package's tests that NPDE follow N(0, 1).

    Returns
    -------
    pandas.DataFrame
        Rows ``mean`` (Wilcoxon signed-rank test of location 0), ``variance`` (Fisher's test
        of variance 1: ``(n - 1) s^2 ~ chi2(n - 1)``, two-sided), ``normality`` (Shapiro-Wilk)
        and ``global`` (the smallest p-value times 3, at most 1); columns ``value`` (the mean,
        the variance, the Shapiro-Wilk W) and
        ``p_value``.
    """
    import pandas as pd
    from scipy import stats

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n < 3:
        nan = float("nan")
        return pd.DataFrame({"value": [nan] * 4, "p_value": [nan] * 4},
                            index=["mean", "variance", "normality", "global"])
    w = stats.wilcoxon(x)
    chi = (n - 1) * np.var(x, ddof=1)
    cdf = stats.chi2.cdf(chi, n - 1)
    p_var = float(min(1.0, 2.0 * min(cdf, 1.0 - cdf)))
    sw = stats.shapiro(x)
    p = [float(w.pvalue), p_var, float(sw.pvalue)]
    return pd.DataFrame({"value": [float(np.mean(x)), float(np.var(x, ddof=1)),
                                       float(sw.statistic), float("nan")],
                         "p_value": [*p, min(1.0, 3.0 * min(p))]},
                        index=["mean", "variance", "normality", "global"])
