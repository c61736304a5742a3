"""Posterior draws of a subject's etas beyond the Laplace approximation: sampling importance
resampling and random-walk Metropolis, both on the exact objective of the fit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import EstimationError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["PosteriorSample"]

#: Degrees of freedom of the multivariate t proposal of SIR (heavier tails than the normal).
SIR_DF = 5.0
#: Scale of the SIR proposal relative to the Laplace covariance.
SIR_INFLATION = 1.5


@dataclass(frozen=True, eq=False)
class PosteriorSample:
    """Draws from the posterior of a subject's etas (see :meth:`FitResult.posterior`).

    Attributes
    ----------
    method : {"laplace", "sir", "mcmc"}
    etas : pandas.DataFrame
        One row per draw, one column per estimated eta.
    params : dict of str to numpy.ndarray
        The draws plus the fixed values of the fit, ready as ``params=`` of
        :func:`pkpd.simulate` (posterior bands of any regimen).
    diagnostics : dict of str to float
        SIR: ``proposals``, ``ess`` (effective sample size of the importance weights,
        Kish), ``max_weight`` (largest normalised weight). MCMC: ``chains``, ``steps`` per
        chain (after burn-in), ``acceptance``, ``rhat_<eta>`` (split R-hat) and
        ``ess_<eta>`` (effective sample size from the autocorrelation).

    Examples
    --------
    The posterior of a patient whose levels follow twice the typical clearance
    (eta_CL = log 2 = 0.69):

    >>> import numpy as np, pkpd
    >>> t = [1.0, 4.0, 12.0, 24.0]
    >>> dv = pkpd.simulate("theophylline_1cmt", "320 mg PO", params={"eta_CL": [np.log(2)]},
    ...                    times=t)["CP"].values[0]
    >>> fit = pkpd.fit_individual("theophylline_1cmt", "320 mg PO", levels={"TIME": t, "DV": dv})
    >>> post = fit.posterior(1000, seed=1)
    >>> post.method, post.etas.shape
    ('laplace', (1000, 3))
    >>> s = post.summary()
    >>> bool(s.loc["eta_CL", "q05"] < np.log(2) < s.loc["eta_CL", "q95"])
    True
    >>> band = pkpd.simulate("theophylline_1cmt", "320 mg PO q12h x 6", params=post.params,
    ...                      times="0..72 h by 1 h")
    >>> band["CP"].shape                   # one row per posterior draw
    (1000, 73)
    """

    method: str
    etas: pd.DataFrame
    params: dict[str, np.ndarray]
    diagnostics: dict[str, float] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean, SD and the 5 %, 50 % and 95 % quantiles of each eta."""
        import pandas as pd

        q = self.etas.quantile([0.05, 0.5, 0.95])
        return pd.DataFrame({"mean": self.etas.mean(), "sd": self.etas.std(ddof=1),
                             "q05": q.loc[0.05], "median": q.loc[0.5], "q95": q.loc[0.95]})


Objective = Callable[[np.ndarray], np.ndarray]


def _mvt(mode: np.ndarray, chol: np.ndarray, df: float, m: int,
         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """m draws of a multivariate t(mode, chol chol', df) and their log densities (up to a
    constant shared by all draws)."""
    d = len(mode)
    z = rng.standard_normal((m, d))
    w = rng.chisquare(df, m) / df
    x = mode + (z / np.sqrt(w)[:, None]) @ chol.T
    u = np.linalg.solve(chol, (x - mode).T).T
    logq = -0.5 * (df + d) * np.log1p(np.sum(u * u, axis=1) / df)
    return x, logq


def sir(objective: Objective, mode: np.ndarray, cov: np.ndarray, n: int,
        rng: np.random.Generator, proposals: int | None = None,
        batch: int = 2000) -> tuple[np.ndarray, dict[str, float]]:
    """Sampling importance resampling (Rubin 1988): ``proposals`` draws from a multivariate t
    around the mode (Laplace covariance inflated by :data:`SIR_INFLATION`, :data:`SIR_DF`
    degrees of freedom), weighted by posterior / proposal, ``n`` resampled without
    replacement."""
    m = int(proposals) if proposals is not None else max(10 * n, 5000)
    if m < 2 * n:
        raise EstimationError(f"posterior: proposals = {m} must be at least twice n = {n} "
                              "(resampling is without replacement)")
    chol = np.linalg.cholesky(cov * SIR_INFLATION**2)
    x, logq = _mvt(mode, chol, SIR_DF, m, rng)
    ofv = np.concatenate([objective(x[i:i + batch]) for i in range(0, m, batch)])
    logw = -0.5 * ofv - logq
    logw[~np.isfinite(logw)] = -np.inf
    if not np.isfinite(logw).any():
        raise EstimationError("posterior: no proposal has a finite objective")
    w = np.exp(logw - logw.max())
    w /= w.sum()
    ess = 1.0 / np.sum(w * w)
    if np.count_nonzero(w) < n:
        raise EstimationError(f"posterior: only {np.count_nonzero(w)} proposals have a weight; "
                              f"cannot resample {n} without replacement (raise proposals)")
    pick = rng.choice(m, size=n, replace=False, p=w)
    return x[pick], {"proposals": float(m), "ess": float(ess), "max_weight": float(w.max())}


def _split_rhat(chains: np.ndarray) -> float:
    """Split R-hat (Gelman et al., Bayesian Data Analysis, 3rd ed.) of draws (chains, steps)."""
    s = chains.shape[1]
    half = s // 2
    parts = np.concatenate([chains[:, :half], chains[:, half:2 * half]])
    within = parts.var(axis=1, ddof=1).mean()
    between = half * parts.mean(axis=1).var(ddof=1)
    var = (half - 1) / half * within + between / half
    return float(np.sqrt(var / within)) if within > 0 else float("nan")


def _ess(chains: np.ndarray) -> float:
    """Effective sample size from the average autocorrelation of the chains (Geyer's initial
    positive sequence)."""
    c, s = chains.shape
    x = chains - chains.mean(axis=1, keepdims=True)
    var = x.var(axis=1).mean()
    if var <= 0:
        return float("nan")
    f = np.fft.rfft(x, n=2 * s, axis=1)
    acov = np.fft.irfft(f * np.conj(f), axis=1)[:, :s].mean(axis=0) / s
    rho = acov / acov[0]
    tau = 1.0
    for k in range(1, s - 1, 2):
        pair = rho[k] + rho[k + 1]
        if pair <= 0:
            break
        tau += 2 * pair
    return float(c * s / tau)


def metropolis(objective: Objective, mode: np.ndarray, cov: np.ndarray, n: int,
               rng: np.random.Generator, names: list[str], chains: int = 8, burn: int = 500,
               thin: int = 5) -> tuple[np.ndarray, dict[str, float]]:
    """Random-walk Metropolis: ``chains`` chains started from overdispersed points
    (N(mode, 4 cov)), proposal N(0, 2.38^2/d cov) (Gelman, Roberts & Gilks 1996), ``burn``
    steps discarded, then every ``thin``-th step kept until ``n`` draws. The chains advance
    together: each step is one evaluation of ``chains`` copies of the subject."""
    d = len(mode)
    chol = np.linalg.cholesky(cov)
    step = 2.38 / np.sqrt(d) * chol
    x = mode + 2.0 * rng.standard_normal((chains, d)) @ chol.T
    fx = objective(x)
    bad = ~np.isfinite(fx)
    if bad.any():       # start those chains at the mode
        x[bad] = mode
        fx[bad] = objective(x[bad])
    keep = -(-n // chains)
    total = burn + keep * thin
    out = np.empty((chains, keep, d))
    accepted = 0
    for it in range(total):
        y = x + rng.standard_normal((chains, d)) @ step.T
        fy = objective(y)
        accept = np.log(rng.uniform(size=chains)) < -0.5 * (fy - fx)
        accept &= np.isfinite(fy)
        x[accept] = y[accept]
        fx[accept] = fy[accept]
        if it >= burn:
            accepted += int(accept.sum())
            j = it - burn
            if j % thin == thin - 1:
                out[:, j // thin] = x
    diag: dict[str, float] = {"chains": float(chains), "steps": float(keep * thin),
                              "acceptance": accepted / (chains * keep * thin)}
    for i, e in enumerate(names):
        diag[f"rhat_{e}"] = _split_rhat(out[:, :, i])
        diag[f"ess_{e}"] = _ess(out[:, :, i])
    # step by step across the chains, so that the first n draws take from every chain
    return out.transpose(1, 0, 2).reshape(-1, d)[:n], diag
