"""Likelihood terms of observations given their predictions: the residual-error model of each
output (:class:`~pkpd.model.ErrorModel`), Beal's M3 for censored levels, and the derivatives
that the exact gradients and the FOCE-I interaction need.

Each observation contributes ``((y - f) / sd)^2 + 2 log sd`` (observed) or
``-2 log Phi((LLOQ - f) / sd)`` (censored) to an objective on the -2 log-likelihood scale
without the ``log 2 pi`` constant; for exponential error ``y``, ``f`` and the LLOQ are on the
log scale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ._data import Observations

__all__ = ["censored_information", "d_terms", "residual_sd", "scaled", "terms", "with_sigmas"]


def residual_sd(obs: Observations, f: np.ndarray) -> np.ndarray:
    """Residual SD at predictions ``f`` (..., n_obs) (on the log scale for exponential error)."""
    return _by_output(obs, f, "sd")


def d_residual_sd(obs: Observations, f: np.ndarray) -> np.ndarray:
    """Derivative of :func:`residual_sd` with respect to ``f``."""
    return _by_output(obs, f, "d_sd")


def _by_output(obs: Observations, f: np.ndarray, method: str) -> np.ndarray:
    """``ErrorModel.<method>`` of each observation's output at its prediction."""
    out = np.empty(np.shape(f))
    for i, err in enumerate(obs.errors):
        sel = obs.output == i
        out[..., sel] = getattr(err, method)(f[..., sel])
    return out


def scaled(obs: Observations, f: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(sd, prediction, level, LLOQ, d prediction / d f, d sd / d f)`` on the scale of the
    error model: logarithms for exponential error (the level is 1 where censored, the LLOQ 1
    where not)."""
    o = obs
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = residual_sd(o, f)
        fx = np.where(o.expo, np.log(f), f)
        yx = np.where(o.expo, np.log(np.where(o.censored, 1.0, o.dv)), o.dv)
        lx = np.where(o.expo, np.log(np.where(o.censored, o.lloq, 1.0)), o.lloq)
        d_fx = np.where(o.expo, 1.0 / f, 1.0)
    return sd, fx, yx, lx, d_fx, d_residual_sd(o, f)


def terms(obs: Observations, f: np.ndarray) -> np.ndarray:
    """Contribution of each observation to the objective, shape of ``f`` (inf where not
    finite)."""
    from scipy.special import log_ndtr

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sd, fx, yx, lx, _, _ = scaled(obs, f)
        observed = ((yx - fx) / sd) ** 2 + 2.0 * np.log(sd)
        censored = -2.0 * log_ndtr((lx - fx) / sd)
        out = np.where(obs.censored, censored, observed)
    return np.where(np.isnan(out), np.inf, out)


def d_terms(obs: Observations, f: np.ndarray) -> np.ndarray:
    """Derivative of each observation's term with respect to its prediction."""
    from scipy.special import log_ndtr

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sd, fx, yx, lx, d_fx, d_sd = scaled(obs, f)
        r = yx - fx
        observed = -2.0 * r * d_fx / sd**2 + (2.0 / sd - 2.0 * r * r / sd**3) * d_sd
        z = (lx - fx) / sd
        dz = (-d_fx * sd - (lx - fx) * d_sd) / sd**2
        # -2 d log Phi(z) = -2 phi(z) / Phi(z) dz, the ratio on the log scale (stable)
        mills = np.exp(-0.5 * z * z - 0.5 * np.log(2 * np.pi) - log_ndtr(z))
        censored = -2.0 * mills * dz
        return np.where(obs.censored, censored, observed)


def censored_information(obs: Observations, f: np.ndarray) -> np.ndarray:
    """Half the second derivative of each censored term by its prediction,
    ``lambda (z + lambda) (dz/df)^2`` with ``z = (LLOQ - f) / sd`` and ``lambda`` the inverse
    Mills ratio ``phi(z) / Phi(z)`` (the curvature of ``-log Phi(z)``; the second derivative
    of ``z`` itself is left out); 0 for observed levels."""
    from scipy.special import log_ndtr

    o = obs
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sd, fx, _, lx, d_fx, d_sd = scaled(o, f)
        z = (lx - fx) / sd
        dz = (-d_fx * sd - (lx - fx) * d_sd) / sd**2
        mills = np.exp(-0.5 * z * z - 0.5 * np.log(2 * np.pi) - log_ndtr(z))
        return np.where(o.censored, mills * (z + mills) * dz * dz, 0.0)


def with_sigmas(obs: Observations, sigmas: dict[str, float]) -> Observations:
    """The observations with new residual SDs (by sigma name, ``"CP.additive"``); sigmas of
    outputs not observed are ignored."""
    from dataclasses import replace

    errors = tuple(e.with_sigmas({k: v for k, v in sigmas.items() if k in e.sigmas})
                   for e in obs.errors)
    return replace(obs, errors=errors)
