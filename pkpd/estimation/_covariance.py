"""The covariance step of a population fit: the R matrix (Hessian of the objective), the S
matrix (cross-product of the subjects' gradients) and the covariance of the estimates, R⁻¹SR⁻¹
(sandwich), 2R⁻¹ or 4S⁻¹ on the scale of the objective (-2 log L), carried to the
parameters' own scale by the delta method."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._differences import hessian_from_values, hessian_points

__all__ = ["CovarianceStep", "covariance_step"]

KINDS = ("sandwich", "r", "s")
#: Step of the finite differences (unconstrained scale).
STEP = 2e-3


@dataclass(frozen=True)
class CovarianceStep:
    """Covariance of the estimates (``cov``; NaN when it failed), the ``status`` in words."""

    cov: np.ndarray
    r: np.ndarray
    s: np.ndarray
    status: str

    @property
    def ok(self) -> bool:
        return self.status.startswith("ok")


def covariance_step(batch: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
                    x: np.ndarray, jacobian: np.ndarray, kind: str) -> CovarianceStep:
    """Compute the covariance of the estimates at the optimum ``x``.

    Parameters
    ----------
    batch : callable
        ``batch(X)`` for points ``X (k, p)`` returns the objective ``(k,)`` and each subject's
        contribution ``(k, n_subjects)``.
    x : (p,) the optimum, unconstrained.
    jacobian : (p, p) d parameter / d x at ``x`` (delta method).
    kind : {"sandwich", "r", "s"}
    """
    p = len(x)
    h = STEP
    total, subject = batch(hessian_points(x, h))
    nan = np.full((p, p), np.nan)
    if not np.all(np.isfinite(total)):
        return CovarianceStep(nan, nan, nan, "failed: the objective is not finite next to the "
                                             "optimum (a parameter at a bound?)")
    r = hessian_from_values(total, h, p)
    grads = (subject[1:p + 1] - subject[p + 1:2 * p + 1]) / (2 * h)     # (p, n_subjects)
    s = grads @ grads.T
    status = f"ok ({kind})"
    try:
        if kind in ("sandwich", "r"):
            r_inv = _inverse(r, "R")
            cov_x = r_inv @ s @ r_inv if kind == "sandwich" else 2.0 * r_inv
        else:
            cov_x = 4.0 * _inverse(s, "S")
    except np.linalg.LinAlgError as exc:
        return CovarianceStep(nan, r, s, f"failed: {exc}")
    cov = jacobian @ cov_x @ jacobian.T
    if np.any(np.diag(cov) < 0) or not np.all(np.isfinite(cov)):
        return CovarianceStep(nan, r, s, "failed: the covariance has negative variances")
    return CovarianceStep(cov, r, s, status)


def _inverse(m: np.ndarray, name: str) -> np.ndarray:
    """Inverse of a symmetric matrix that must be positive definite."""
    m = (m + m.T) / 2
    w = np.linalg.eigvalsh(m)
    if not np.all(np.isfinite(w)) or w.min() <= 1e-12 * max(abs(w).max(), 1e-300):
        raise np.linalg.LinAlgError(
            f"the {name} matrix is not positive definite (smallest eigenvalue {w.min():.3g}, "
            f"largest {w.max():.3g}): a parameter is not identified by the data")
    return np.linalg.inv(m)
