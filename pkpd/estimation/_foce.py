"""The population objective of the first-order methods: FO, FOCE and FOCE-I (NONMEM's
definitions), for many parameter vectors at once.

For subject ``i`` with etas ``eta`` (prior ``N(0, Omega)``), observations ``y`` with predictions
``f(eta)`` and residual variances ``V(f)`` (on the log scale for exponential error), the inner
objective is

    O_i(eta) = sum_j [ (y_j - f_j)^2 / V_j + log V_j ] + eta' Omega^-1 eta

(censored levels contribute ``-2 log Phi((LLOQ - f) / sd)``, Beal's M3). Its conditional mode
``eta_i`` (the empirical Bayes estimate) is found by damped Gauss-Newton steps for all subjects
and all parameter vectors together (one engine call with sensitivities per step), with the
exact gradient. The Laplace approximation of ``-2 log`` of the marginal likelihood, without the
``n_obs log 2 pi`` constant (NONMEM's OFV scale), is

    OFV_i = O_i(eta_i) + log |Omega| + log |Omega^-1 + sum_j w_j g_j g_j'|

with ``g_j = d f_j / d eta`` and the expected-information weight
``w_j = 1 / V_j + (1/2) (d V_j / d f_j)^2 / V_j^2``: FOCE-I (with interaction: ``V`` at the
individual prediction; the second term of ``w`` as in Almquist et al. 2015, eq. 14, which
nlmixr2 uses). FOCE evaluates ``V`` at the population prediction (eta = 0), so that the second
term vanishes; FO linearises at eta = 0 (closed form, no inner problem). The weight of a
censored level is the curvature of its term, ``lambda (z + lambda) (dz/df)^2``
(:func:`~pkpd.estimation._likelihood.censored_information`), as NONMEM's Laplacian method
would have it (the expected information of a censored level is not defined by its value).

References
----------
Beal SL, Sheiner LB, Boeckmann AJ, Bauer RJ. NONMEM Users Guides (1989-2020), Part VII.
Wang Y. Derivation of various NONMEM estimation methods. J Pharmacokinet Pharmacodyn
2007;34:575-93. doi:10.1007/s10928-007-9060-6
Almquist J, Leander J, Jirstrand M. Using sensitivity equations for computing gradients of the
FOCE and FOCEI approximations to the population likelihood. J Pharmacokinet Pharmacodyn
2015;42:191-209. doi:10.1007/s10928-015-9409-1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SolverError
from ._likelihood import (
    censored_information,
    d_terms,
    residual_sd,
    scaled,
    terms,
    with_sigmas,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..model import ParameterLayout
    from ._batch import BatchPredictor
    from ._data import Observations
    from ._popdata import PopulationData

__all__ = ["METHODS", "Evaluation", "evaluate"]

METHODS = ("fo", "foce", "focei")
#: Inner problem: stop when the Newton decrement (OFV units) is below INNER_TOL or the step
#: below STEP_TOL (eta units): the log-determinant term moves with the mode at first order,
#: so the modes must be tight for smooth finite differences of the outer objective.
INNER_TOL = 1e-14
STEP_TOL = 1e-8
INNER_MAXITER = 60
#: Newton decrements below this are at the noise floor of the solver (rtol 1e-8).
NOISE_DEC = 1e-9
#: Largest inner step (eta units) before the line search.
MAX_STEP = 3.0


@dataclass
class Evaluation:
    """The objective at ``k`` parameter vectors.

    Attributes
    ----------
    ofv : (k,) total objective (inf where not finite)
    subject : (k, n_subjects) each subject's contribution
    etas : (k, n_subjects, n_eta) conditional modes (FO: the linearised modes)
    ipred : (k, n_obs) predictions at the modes
    converged : (k, n_subjects) whether each inner problem met its tolerance
    """

    ofv: np.ndarray
    subject: np.ndarray
    etas: np.ndarray
    ipred: np.ndarray
    converged: np.ndarray


def _pieces(obs: Observations, f: np.ndarray, f_var: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per observation: its term, d term / d f and the information weight ``w`` times
    (d f_x / d f)^2 (f_x the prediction on the error model's scale). ``f_var``: predictions at
    which the variance is evaluated (FOCE), None for the individual predictions (FOCE-I)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sd, fx, yx, _, d_fx, d_sd = scaled(obs, f)
        if f_var is not None:
            sd, d_sd = residual_sd(obs, f_var), np.zeros_like(f)
        r = yx - fx
        var = sd * sd
        term = r * r / var + 2.0 * np.log(sd)
        dterm = -2.0 * r * d_fx / var + (2.0 / sd - 2.0 * r * r / sd**3) * d_sd
        weight = d_fx * d_fx / var + 2.0 * d_sd * d_sd / var
        if obs.censored.any():
            c = obs.censored
            dc = d_terms(obs, f)
            term = np.where(c, terms(obs, f), term)
            dterm = np.where(c, dc, dterm)
            weight = np.where(c, censored_information(obs, f), weight)
    term = np.where(np.isnan(term), np.inf, term)
    return term, dterm, weight


class _Assembly:
    """Per-subject inner objective, gradient and half Hessian for every copy."""

    def __init__(self, pop: PopulationData, obs: list[Observations], prec: np.ndarray,
                 f_var: np.ndarray | None) -> None:
        self.pop, self.obs, self.prec, self.f_var = pop, obs, prec, f_var

    def __call__(self, eta: np.ndarray, f: np.ndarray, jac: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k, n, e = eta.shape
        value = np.empty((k, n))
        grad = np.empty((k, n, e))
        half = np.empty((k, n, e, e))
        per = self.pop.per_subject
        for c in range(k):
            term, dterm, w = _pieces(self.obs[c], f[c],
                                     None if self.f_var is None else self.f_var[c])
            j = jac[c]
            pe = eta[c] @ self.prec[c]                        # (n, e): Omega^-1 eta
            value[c] = per(term, axis=0) + np.einsum("ne,ne->n", pe, eta[c])
            grad[c] = per(dterm[:, None] * j, axis=0) + 2.0 * pe
            half[c] = per(w[:, None, None] * j[:, :, None] * j[:, None, :], axis=0) \
                + self.prec[c]
        bad = ~(np.isfinite(value) & np.all(np.isfinite(grad), axis=2))
        value[bad] = np.inf
        grad[bad] = 0.0
        return value, grad, half


def _modes(pred: BatchPredictor, thetas: dict[str, np.ndarray], assemble: _Assembly,
           eta0: np.ndarray) -> tuple[np.ndarray, ...]:
    """Conditional modes of every subject of every copy, all rows advancing together:
    quasi-Newton steps with the exact gradient, the curvature started from the Gauss-Newton
    (expected-information) Hessian and corrected by BFGS updates (Gauss-Newton alone
    converges only linearly when residuals are large), and an Armijo line search."""
    eta = eta0.copy()
    f, jac = pred.with_sensitivities(thetas, eta)
    value, grad, half = assemble(eta, f, jac)
    curv = 2.0 * half
    k, n, _ = eta.shape
    done = np.zeros((k, n), bool)
    sid = np.repeat(np.arange(n), np.diff(pred.pop.starts))
    for _ in range(INNER_MAXITER):
        try:
            step = -np.linalg.solve(curv, grad[..., None])[..., 0]
        except np.linalg.LinAlgError:
            curv = 2.0 * half
            step = -np.linalg.solve(curv, grad[..., None])[..., 0]
        big = np.max(np.abs(step), axis=2, keepdims=True)
        step = np.where(big > MAX_STEP, step * MAX_STEP / np.maximum(big, 1e-300), step)
        dec = -np.einsum("kne,kne->kn", grad, step)
        done |= ~(dec > INNER_TOL) | ~np.isfinite(value) | \
            (np.max(np.abs(step), axis=2) < STEP_TOL)
        if done.all():
            break
        t = np.where(done, 0.0, 1.0)
        searching = ~done
        for _ls in range(12):
            trial = eta + t[..., None] * step
            try:
                f_t, jac_t = pred.with_sensitivities(thetas, trial)
                v_t, g_t, h_t = assemble(trial, f_t, jac_t)
            except SolverError:
                t = np.where(searching, t * 0.25, t)
                continue
            # Armijo; at the noise floor of the solver (tiny decrement) the objective changes
            # at rounding level: the step is taken unless it increases the objective beyond
            # that, and a row whose step fails there has reached its mode
            noise = dec < NOISE_DEC
            ok = searching & ((v_t <= value - 1e-4 * t * dec)
                              | (noise & (v_t <= value + 1e-9 * (1.0 + np.abs(value)))))
            done |= searching & ~ok & noise
            if ok.any():
                s_ = trial[ok] - eta[ok]
                y_ = g_t[ok] - grad[ok]
                curv[ok] = _bfgs(curv[ok], s_, y_, 2.0 * h_t[ok])
                eta[ok] = trial[ok]
                value[ok], grad[ok], half[ok] = v_t[ok], g_t[ok], h_t[ok]
                rows = ok[:, sid]
                f[rows], jac[rows] = f_t[rows], jac_t[rows]
            searching &= ~ok & ~noise
            if not searching.any():
                break
            t = np.where(searching, t * 0.25, t)
        # a line search that found no decrease: the mode is reached to rounding
        done |= searching
    return eta, value, half, f, done | (np.abs(grad).max(axis=2) < 1e-6)


def _bfgs(b: np.ndarray, s: np.ndarray, y: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """BFGS updates of the curvature matrices ``b`` (m, e, e) by steps ``s`` and gradient
    changes ``y`` (m, e); rows where the update would lose positive definiteness take
    ``fallback`` (the Gauss-Newton curvature at the new point)."""
    sy = np.einsum("me,me->m", s, y)
    bs = np.einsum("mij,mj->mi", b, s)
    sbs = np.einsum("me,me->m", s, bs)
    good = (sy > 1e-12 * np.sqrt(np.einsum("me,me->m", s, s) * np.einsum("me,me->m", y, y))) \
        & (sbs > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        upd = b + y[:, :, None] * y[:, None, :] / sy[:, None, None] \
            - bs[:, :, None] * bs[:, None, :] / sbs[:, None, None]
    return np.where(good[:, None, None], upd, fallback)


def evaluate(pred: BatchPredictor, pop: PopulationData, layout: ParameterLayout,
             points: list[dict[str, float]], etas: tuple[str, ...], method: str,
             eta0: np.ndarray | None = None) -> Evaluation:
    """The objective of ``method`` at each parameter vector of ``points`` (every layout value
    by name); ``eta0`` (k, n_subjects, n_eta) warm-starts the inner problems."""
    k, n, e = len(points), pop.n_subjects, len(etas)
    thetas = {name: np.array([p[name] for p in points]) for name in pred.thetas}
    omega = np.array([layout.omega(p, etas) for p in points])
    try:
        prec = np.linalg.inv(omega)
        _, logdet_omega = np.linalg.slogdet(omega)
    except np.linalg.LinAlgError:
        inf = np.full(k, np.inf)
        return Evaluation(inf, np.full((k, n), np.inf), np.zeros((k, n, e)),
                          np.full((k, pop.n_obs), np.nan), np.zeros((k, n), bool))
    sigma_names = [s for err in pop.obs.errors for s in err.sigmas]
    obs = [with_sigmas(pop.obs, {s: p[s] for s in sigma_names}) for p in points]
    zero = np.zeros((k, n, e))
    if method == "fo":
        return _fo(pred, pop, thetas, obs, omega, prec, logdet_omega)
    f_var = pred.predict(thetas, zero) if method == "foce" else None
    assemble = _Assembly(pop, obs, prec, f_var)
    start = zero if eta0 is None else np.broadcast_to(eta0, (k, n, e))
    eta, value, half, f, converged = _modes(pred, thetas, assemble, start)
    sign, logdet = np.linalg.slogdet(half)
    subject = value + logdet_omega[:, None] + np.where(sign > 0, logdet, np.inf)
    subject = np.where(np.isfinite(subject), subject, np.inf)
    return Evaluation(subject.sum(axis=1), subject, eta, f, converged)


def _fo(pred: BatchPredictor, pop: PopulationData, thetas: dict[str, np.ndarray],
        obs: list[Observations], omega: np.ndarray, prec: np.ndarray,
        logdet_omega: np.ndarray) -> Evaluation:
    """FO: the model linearised at eta = 0; by the Woodbury identity, per subject
    ``log|C| + r' C^-1 r`` with ``C = G Omega G' + V`` is
    ``sum log V + r'V^-1 r - b' M^-1 b + log|Omega| + log|M|``, ``M = Omega^-1 + G'V^-1 G``,
    ``b = G' V^-1 r``."""
    from ..errors import EstimationError

    if pop.obs.censored.any():
        raise EstimationError("method 'fo' does not handle censored levels (M3); use 'focei'")
    k, n = len(obs), pop.n_subjects
    e = omega.shape[1]
    f, jac = pred.with_sensitivities(thetas, np.zeros((k, n, e)))
    per = pop.per_subject
    subject = np.empty((k, n))
    modes = np.empty((k, n, e))
    for c in range(k):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            sd, fx, yx, _, d_fx, _ = scaled(obs[c], f[c])
            var = sd * sd
            r = yx - fx
            g = jac[c] * d_fx[:, None]
            m = per(g[:, :, None] * g[:, None, :] / var[:, None, None], axis=0) + prec[c]
            b = per(g * (r / var)[:, None], axis=0)
            base = per(np.log(var) + r * r / var, axis=0)
        try:
            sol = np.linalg.solve(m, b[..., None])[..., 0]
            sign, logdet_m = np.linalg.slogdet(m)
        except np.linalg.LinAlgError:
            subject[c] = np.inf
            modes[c] = 0.0
            continue
        value = base - np.einsum("ne,ne->n", b, sol) + logdet_omega[c] \
            + np.where(sign > 0, logdet_m, np.inf)
        subject[c] = np.where(np.isfinite(value), value, np.inf)
        modes[c] = sol
    return Evaluation(subject.sum(axis=1), subject, modes, f, np.ones((k, n), bool))
