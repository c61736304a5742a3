"""The minimiser of the individual fits and its convergence rules: BFGS, then a trust-region
Newton method on the Hessian when BFGS stops short of the criterion (:func:`minimise`).

Convergence is judged on relative scales, so that it means the same on an objective of 1 and
one of 2,000 (Dennis & Schnabel 1983, section 7.2):

gradient criterion
    ``max_i |g_i| max(1, |x_i|) <= GTOL max(1, |f|)``: the change of the objective over a
    relative (or unit) change of any parameter is below ``GTOL`` of the objective;
Newton criterion
    with the Hessian ``H`` positive definite, ``g' H^-1 g / 2 <= FTOL max(1, |f|)``: the
    decrease to the minimum of the local quadratic model is below ``FTOL`` of the objective.
    It is checked in the Newton phase, and holds also where rounding keeps the gradient above
    the first criterion (the gradient cannot be resolved below about
    ``sqrt(eps |f| lambda_max)``, ``lambda_max`` the largest eigenvalue of ``H``).

The minimiser runs with floating-point warnings silenced (:func:`quiet`): trial points far
out of a line search or a trust region overflow, and their value is then +inf.

Reference: Dennis JE, Schnabel RB. Numerical methods for unconstrained optimization and
nonlinear equations. Prentice-Hall, 1983 (SIAM reprint 1996). doi:10.1137/1.9781611971200
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FTOL", "GTOL", "Minimum", "minimise", "quiet", "scaled_gradient"]

#: Gradient criterion: largest gradient component times max(1, |x_i|), relative to max(1, |f|).
GTOL = 1e-6
#: Newton criterion: predicted decrease to the optimum, relative to max(1, |f|).
FTOL = 1e-9
#: Iterations of the trust-region Newton phase.
NEWTON_MAXITER = 50

Fun = Callable[[np.ndarray], tuple[float, np.ndarray]]


def quiet(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with numpy's floating-point warnings and RuntimeWarnings kept
    inside."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


def scaled_gradient(x: np.ndarray, f: float, g: np.ndarray) -> float:
    """``max_i |g_i| max(1, |x_i|) / max(1, |f|)`` (inf where f or g is not finite)."""
    top = float(np.max(np.abs(g) * np.maximum(1.0, np.abs(x)), initial=0.0))
    if not (math.isfinite(f) and math.isfinite(top)):
        return math.inf
    return top / max(1.0, abs(f))


@dataclass(frozen=True)
class Minimum:
    """The best point found, whether a criterion was met, and the message saying which."""

    x: np.ndarray
    fun: float
    jac: np.ndarray
    converged: bool
    message: str
    nit: int          # iterations: BFGS and Newton


class _Tracker:
    """The objective, remembering its lowest value and its last evaluations (not
    repeated: BFGS evaluates its start again, and the callback looks up its iterate)."""

    def __init__(self, fun: Fun) -> None:
        self.fun = fun
        self.best: tuple[np.ndarray, float, np.ndarray] | None = None
        self.recent: dict[bytes, tuple[float, np.ndarray]] = {}
        #: with a tolerance: stop (raise :class:`_Met`) at the first evaluated point, iterate
        #: or line-search trial, that meets the gradient criterion and is no higher than the
        #: lowest before it, within rounding (near the optimum BFGS's line search can go on
        #: failing at points the criterion accepts)
        self.gtol: float | None = None
        self.met: tuple[np.ndarray, float, np.ndarray] | None = None

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        x = np.array(x, dtype=float)
        hit = self.recent.get(x.tobytes())
        if hit is not None:
            return hit[0], hit[1].copy()
        try:
            f, g = self.fun(x)
        except ArithmeticError:      # e.g. numba's OverflowError on a non-finite rate
            f, g = np.inf, np.zeros_like(x)
        return self.store(x, f, g)

    def store(self, x: np.ndarray, f: float, g: np.ndarray) -> tuple[float, np.ndarray]:
        """Remember ``(f, g)``, the objective and gradient at ``x``, as if evaluated here."""
        x = np.array(x, dtype=float)
        f, g = float(f), np.array(g, dtype=float)
        if not (math.isfinite(f) and np.isfinite(g).all()):
            f, g = math.inf, np.zeros_like(x)
        if len(self.recent) > 32:
            self.recent.clear()
        self.recent[x.tobytes()] = (f, g)
        # as low as the lowest before, within rounding
        lowest = self.best is None or f <= self.best[1] + 1e-12 * max(1.0, abs(self.best[1]))
        if math.isfinite(f) and (self.best is None or f < self.best[1]):
            self.best = (x, f, g)
        if (self.gtol is not None and math.isfinite(f) and lowest
                and scaled_gradient(x, f, g) <= self.gtol):
            self.met = (x, f, g)
            raise _Met
        return f, g


class _Met(Exception):
    """Raised through scipy's BFGS when an evaluated point meets the gradient criterion."""


def minimise(fun: Fun, x0: np.ndarray, hessian: Callable[[np.ndarray], np.ndarray], *,
             maxiter: int | None = None, newton_maxiter: int = NEWTON_MAXITER,
             gtol: float = GTOL, ftol: float = FTOL,
             start: tuple[float, np.ndarray] | None = None) -> Minimum:
    """Minimise ``fun`` (value and gradient) from ``x0``.

    BFGS (:func:`scipy.optimize.minimize`, at most ``maxiter`` iterations, default 200 n)
    stops when the gradient criterion holds. If it stops first (its line search failed, which
    scipy reports as "precision loss", or the iterations ran out), a trust-region Newton
    method takes over from the lowest point seen, with ``hessian(x)`` (exact or differenced)
    and the step of the trust-region subproblem solved exactly (Moré & Sorensen, by the
    eigenvalues), until the gradient or the Newton criterion holds (at most
    ``newton_maxiter`` Hessians) or the trust region shrinks to nothing. ``converged`` is True
    only when a criterion holds; ``message`` says which, or why it stopped without.
    Floating-point warnings stay inside (:func:`quiet`), and an ArithmeticError raised by
    ``fun`` makes its value +inf. ``start``, if given, is ``fun(x0)`` already evaluated.
    """
    return quiet(_minimise, fun, np.asarray(x0, dtype=float), hessian, maxiter,
                 newton_maxiter, gtol, ftol, start)


def _minimise(fun: Fun, x0: np.ndarray, hessian: Callable[[np.ndarray], np.ndarray],
              maxiter: int | None, newton_maxiter: int, gtol: float, ftol: float,
              start: tuple[float, np.ndarray] | None = None) -> Minimum:
    from scipy.optimize import minimize

    n = len(x0)
    track = _Tracker(fun)
    f0, g0 = track(x0) if start is None else track.store(x0, *start)
    if not np.isfinite(f0):
        return Minimum(x0, f0, g0, False, "the objective is not finite at the start", 0)
    if scaled_gradient(x0, f0, g0) <= gtol:
        return Minimum(x0, f0, g0, True, _met_gradient(x0, f0, g0, gtol, "at the start"), 0)
    met: list[tuple[np.ndarray, float, np.ndarray]] = []

    iterations = [0]

    def stop(intermediate_result: object) -> None:
        iterations[0] += 1
        x = np.array(intermediate_result.x, dtype=float)       # type: ignore[attr-defined]
        f, g = track(x)
        if scaled_gradient(x, f, g) <= gtol:
            met.append((x, f, g))
            raise StopIteration

    track.gtol = gtol
    try:
        res = minimize(track, x0, jac=True, method="BFGS", callback=stop,
                       options={"gtol": 0.0,
                                "maxiter": maxiter if maxiter is not None else 200 * n})
    except _Met:
        assert track.met is not None
        x, f, g = track.met
        nit = iterations[0] + 1
        return Minimum(x, f, g, True, _met_gradient(x, f, g, gtol, f"BFGS, {nit} iterations"),
                       nit)
    finally:
        track.gtol = None
    nit = int(res.nit)
    assert track.best is not None
    # the lowest point seen, or else the iterate that met the criterion
    for x, f, g in (track.best, *met):
        if scaled_gradient(x, f, g) <= gtol:
            return Minimum(x, f, g, True, _met_gradient(x, f, g, gtol,
                                                        f"BFGS, {nit} iterations"), nit)
    x, f, g = track.best
    why = ("its line search failed" if res.status == 2 else
           f"after {nit} iterations" if res.status == 1 else str(res.message).rstrip("."))
    return _newton(track, x, f, g, hessian, newton_maxiter, gtol, ftol, nit,
                   f"BFGS stopped short ({why}; scaled gradient "
                   f"{scaled_gradient(x, f, g):.2g})")


def _met_gradient(x: np.ndarray, f: float, g: np.ndarray, gtol: float, how: str) -> str:
    return (f"converged ({how}): largest scaled gradient |g_i| max(1, |x_i|) / max(1, |OFV|) "
            f"= {scaled_gradient(x, f, g):.2g} <= {gtol:g}")


def _newton(track: _Tracker, x: np.ndarray, f: float, g: np.ndarray,
            hessian: Callable[[np.ndarray], np.ndarray], maxiter: int, gtol: float,
            ftol: float, nit: int, before: str) -> Minimum:
    """Trust-region Newton iterations from (x, f, g)."""
    radius = 1.0
    hess = None
    for k in range(1, maxiter + 1):
        if hess is None:
            try:
                hess = np.asarray(hessian(x), dtype=float)
            except ArithmeticError:
                hess = np.full((len(x), len(x)), np.nan)
            hess = (hess + hess.T) / 2
            if not np.all(np.isfinite(hess)):
                return Minimum(x, f, g, False, f"{before}; then the Hessian is not finite at "
                               "the best point: not converged", nit + k)
            lam, vec = np.linalg.eigh(hess)
            a = vec.T @ g
            if lam[0] > 0:
                decrease = 0.5 * float(np.sum(a * a / lam)) / max(1.0, abs(f))
                if decrease <= ftol:
                    return Minimum(x, f, g, True, f"{before}; then converged (trust-region "
                                   f"Newton, {k - 1} steps): predicted decrease to the optimum "
                                   f"(g' H^-1 g / 2) / max(1, |OFV|) = {decrease:.2g} <= "
                                   f"{ftol:g}", nit + k - 1)
        step = _trust_step(lam, vec, a, radius)
        predicted = -float(g @ step + 0.5 * step @ hess @ step)
        f_new, g_new = track(x + step)
        ratio = (f - f_new) / predicted if predicted > 0 else -1.0
        length = float(np.linalg.norm(step))
        if np.isfinite(f_new) and ratio > 0.1:
            x, f, g, hess = x + step, f_new, g_new, None
            if ratio > 0.75 and length > 0.99 * radius:
                radius *= 2.0
            elif ratio < 0.25:
                radius = length / 4
            if scaled_gradient(x, f, g) <= gtol:
                return Minimum(x, f, g, True, f"{before}; then " + _met_gradient(
                    x, f, g, gtol, f"trust-region Newton, {k} steps"), nit + k)
        else:
            radius = length / 4
            if radius < 1e-12 * max(1.0, float(np.linalg.norm(x))):
                return Minimum(x, f, g, False, f"{before}; then the trust region of the "
                               "Newton steps shrank to nothing without a decrease (scaled "
                               f"gradient {scaled_gradient(x, f, g):.2g} > {gtol:g}): not "
                               "converged", nit + k)
    return Minimum(x, f, g, False, f"{before}; then {maxiter} trust-region Newton steps "
                   f"without meeting a criterion (scaled gradient "
                   f"{scaled_gradient(x, f, g):.2g} > {gtol:g}): not converged", nit + maxiter)


def _trust_step(lam: np.ndarray, vec: np.ndarray, a: np.ndarray, radius: float) -> np.ndarray:
    """The minimiser of ``a' z + z' diag(lam) z / 2`` (eigenbasis of the Hessian, ``a`` the
    gradient there) over ``|z| <= radius``, returned in the original basis."""
    if lam[0] > 0:
        z = -a / lam
        if np.linalg.norm(z) <= radius:
            return vec @ z
    # on the boundary: |z(mu)| = radius with z(mu) = -a / (lam + mu), mu > max(0, -lam_min)
    lo = max(0.0, -float(lam[0]))
    norm_a = float(np.linalg.norm(a))
    if lam[0] <= 0 and abs(a[0]) <= 1e-12 * norm_a:
        # the hard case: a step to the lowest point of the other directions, and the
        # eigenvector of the lowest eigenvalue filling the rest of the radius
        d = lam + lo
        z = np.where(d > 0, -a / np.where(d > 0, d, 1.0), 0.0)
        if np.linalg.norm(z) < radius:
            z[0] += np.sqrt(radius**2 - float(z @ z))
            return vec @ z
    hi = lo + norm_a / radius            # |z(hi)| <= radius
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        length = float(np.linalg.norm(a / (lam + mid)))
        if abs(length - radius) <= 1e-6 * radius:
            hi = mid
            break
        if length > radius:
            lo = mid
        else:
            hi = mid
    return vec @ (-a / (lam + hi))
