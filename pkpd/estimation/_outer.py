"""The outer optimisation of the FOCE-family population fits, resumable from a checkpoint.

BFGS with a batched central-difference gradient, restarted (fresh inverse Hessian) up to three
times when it stops short of the convergence criterion. The BFGS loop is scipy's
(``scipy.optimize.minimize(method="BFGS")``: the same Wolfe line search, the same update and
stopping rules, the objective evaluated once per point as scipy's ``ScalarFunction`` does),
written out here so that its whole state -- the iterate, gradient, objective, the previous
objective (the line search's first step), the inverse-Hessian approximation and the iteration
count -- can be saved after every iteration and taken up again. With the warm-start modes of
the inner problems and the history saved too, a fit resumed from a checkpoint repeats the
uninterrupted fit's evaluations exactly and ends at the same estimates, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ._population import Problem

__all__ = ["minimise_outer"]

#: Outer convergence: the largest gradient component (OFV per unit of the unconstrained
#: parameters: log scale for positive ones) at most this, or this times |OFV| / 1000.
GRAD_TOL = 1e-3
#: ... or the objective unchanged to this (relative) over three iterations with the largest
#: gradient component below STALL_GRAD.
OFV_RTOL = 1e-9
STALL_GRAD = 0.02
#: Central-difference step of the outer gradient (unconstrained scale).
FD_STEP = 1e-3
#: Restarts of BFGS (fresh inverse Hessian) when it stops short of the criterion.
ATTEMPTS = 3

Save = Callable[[dict[str, Any]], None]


class _Stop(Exception):
    """Raised by the iteration callback to end BFGS (scipy's StopIteration)."""


def _bfgs(f: Callable[[np.ndarray], float], grad: Callable[[np.ndarray], np.ndarray],
          st: dict[str, Any], gtol: float, maxiter: int,
          callback: Callable[[np.ndarray], None], save: Callable[[], None]) -> str:
    """scipy's BFGS loop from state ``st`` (``x, g, f, f_prev, h, k``), updated in place;
    ``save()`` after each completed iteration. Returns scipy's termination message kind:
    ``"success"``, ``"maxiter"``, ``"pr_loss"`` or ``"nan"``."""
    from scipy.optimize._optimize import _line_search_wolfe12, _LineSearchError

    n = len(st["x"])
    eye = np.eye(n, dtype=int)
    warn = 0
    while np.max(np.abs(st["g"])) > gtol and st["k"] < maxiter:
        xk, gk, hk = st["x"], st["g"], st["h"]
        pk = -np.dot(hk, gk)
        try:
            alpha, _, _, f_new, f_prev, g_new = _line_search_wolfe12(
                f, grad, xk, pk, gk, st["f"], st["f_prev"], amin=1e-100, amax=1e100,
                c1=1e-4, c2=0.9)
        except _LineSearchError:
            warn = 2
            break
        sk = alpha * pk
        xk = xk + sk
        if g_new is None:
            g_new = grad(xk)
        yk = g_new - gk
        st.update(x=xk, g=g_new, f=f_new, f_prev=f_prev, k=st["k"] + 1)
        try:
            callback(xk)
        except _Stop:
            break
        if np.max(np.abs(g_new)) <= gtol:
            break
        if alpha * np.linalg.norm(pk) <= 0.0:
            break
        if not np.isfinite(f_new):
            warn = 2
            break
        rho_inv = np.dot(yk, sk)
        rho = 1000.0 if rho_inv == 0.0 else 1.0 / rho_inv
        a1 = eye - sk[:, np.newaxis] * yk[np.newaxis, :] * rho
        a2 = eye - yk[:, np.newaxis] * sk[np.newaxis, :] * rho
        st["h"] = np.dot(a1, np.dot(hk, a2)) + rho * sk[:, np.newaxis] * sk[np.newaxis, :]
        save()
    if warn == 2:
        return "pr_loss"
    if st["k"] >= maxiter:
        return "maxiter"
    if np.isnan(st["f"]) or np.isnan(st["x"]).any():
        return "nan"
    return "success"


MESSAGES = {"success": "Optimization terminated successfully.",
            "maxiter": "Maximum number of iterations has been exceeded.",
            "pr_loss": "Desired error not necessarily achieved due to precision loss.",
            "nan": "NaN result encountered."}


def minimise_outer(problem: Problem, x0: np.ndarray, maxiter: int,
                   report: Callable[[str], None], *, resume: dict[str, Any] | None = None,
                   save: Save | None = None
                   ) -> tuple[np.ndarray, list[dict[str, Any]], bool, str]:
    """Outer BFGS from ``x0``; ``resume`` (a state saved by ``save``) takes up a run.

    ``save(state)`` receives, after each iteration, everything the run needs to continue:
    the BFGS state, the restart count, the history, the last objective and gradient, the
    conditional modes and the evaluation count.
    """
    p = len(x0)
    eye = np.eye(p) * FD_STEP
    last: dict[str, Any] = {}

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        problem.refresh_modes(x)
        ev = problem.batch(np.vstack([x, x + eye, x - eye]))
        if not np.isfinite(ev.ofv[0]):
            return np.inf, np.zeros(p)
        grad = (ev.ofv[1:p + 1] - ev.ofv[p + 1:]) / (2 * FD_STEP)
        if not np.all(np.isfinite(grad)):
            return np.inf, np.zeros(p)
        problem.modes = ev.etas[0]
        last.update(x=x.copy(), ofv=float(ev.ofv[0]), grad=grad)
        return float(ev.ofv[0]), grad

    memo: dict[str, Any] = {}

    def value_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        # one evaluation per point, as scipy's ScalarFunction (value and gradient together)
        x = np.atleast_1d(np.asarray(x, dtype=float))
        if "x" not in memo or not np.array_equal(x, memo["x"]):
            fx, gx = fun(x)
            memo.update(x=x.copy(), f=fx, g=np.asarray(gx, dtype=float))
        return memo["f"], memo["g"]

    history: list[dict[str, Any]] = []
    stalled = {"ofv": False}

    def record(x: np.ndarray) -> None:
        values = problem.transform.to_values(x)
        gnorm = float(np.max(np.abs(last["grad"]))) if "grad" in last else np.nan
        history.append({"iteration": len(history), "ofv": last.get("ofv", np.nan),
                        "gradient_norm": gnorm,
                        **{n: values[n] for n in problem.transform.names}})
        report(f"iteration {len(history) - 1:4d}  OFV {last.get('ofv', np.nan):14.6f}  "
               f"|gradient| {gnorm:.3g}")
        # relative criterion: the objective no longer moves (three iterations within
        # OFV_RTOL of each other) with a small gradient: the optimiser is at the noise floor
        if len(history) >= 3 and gnorm < STALL_GRAD:
            recent = [h["ofv"] for h in history[-3:]]
            if max(recent) - min(recent) <= OFV_RTOL * max(1.0, abs(recent[-1])):
                stalled["ofv"] = True
                raise _Stop

    st: dict[str, Any] = {}
    if resume is None:
        fun(x0)
        record(x0)
        x, attempt, fresh = x0, 0, True
    else:
        history[:] = resume["history"]
        last.update(resume["last"])
        stalled["ofv"] = bool(resume["stalled"])
        problem.modes = np.array(resume["modes"], dtype=float)
        problem.n_evaluations = int(resume["n_evaluations"])
        st = {k: resume["bfgs"][k] for k in ("x", "g", "f", "f_prev", "h", "k", "maxiter")}
        st["f"], st["f_prev"] = float(st["f"]), float(st["f_prev"])
        x, attempt, fresh = st["x"], int(resume["attempt"]), False

    def checkpoint() -> None:
        if save is not None:
            save({"bfgs": dict(st), "attempt": attempt, "history": history,
                  "last": dict(last), "stalled": stalled["ofv"], "modes": problem.modes,
                  "n_evaluations": problem.n_evaluations})

    status, success = "", False
    while attempt < ATTEMPTS:
        if fresh:
            memo.clear()
            f0, g0 = value_and_grad(x)
            st = {"x": np.array(x, dtype=float), "g": g0, "f": f0,
                  "f_prev": f0 + np.linalg.norm(g0) / 2, "h": np.eye(p, dtype=int), "k": 0,
                  "maxiter": maxiter - len(history) + 1}
        fresh = True
        kind = _bfgs(lambda z: value_and_grad(z)[0], lambda z: value_and_grad(z)[1], st,
                     GRAD_TOL, int(st["maxiter"]), record, checkpoint)
        x = np.asarray(st["x"], dtype=float)
        fun(x)
        tol = max(GRAD_TOL, GRAD_TOL * abs(last["ofv"]) / 1000)
        gmax = float(np.max(np.abs(last["grad"])))
        success = gmax <= tol or stalled["ofv"]
        if success:
            why = (f"largest gradient component {gmax:.2g} <= {tol:.2g}" if gmax <= tol else
                   f"OFV unchanged to {OFV_RTOL:g} (relative) over 3 iterations, largest "
                   f"gradient component {gmax:.2g} < {STALL_GRAD:g}")
            status = (f"converged: {why} after {len(history) - 1} iterations" +
                      (f" ({attempt} restart{'s' if attempt > 1 else ''})" if attempt else ""))
            break
        if len(history) > maxiter:
            status = (f"not converged: maximum of {maxiter} iterations reached; largest "
                      f"gradient component {gmax:.3g} > {tol:.2g}")
            break
        status = (f"not converged: {MESSAGES[kind]} (largest gradient component {gmax:.3g} > "
                  f"{tol:.2g} after {attempt + 1} restarts)")
        attempt += 1
    return x, history, success, status
