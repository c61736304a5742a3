"""Stochastic approximation EM (SAEM) for :func:`pkpd.fit_population`, as Monolix and nlmixr2
run it.

The latent variables of subject ``i`` are ``z_i ~ N(mu, Omega)``: ``z = phi = mu + eta`` for a
mu-referenced eta (``mu = log theta``, or ``theta`` for an unbounded theta), ``z = eta``
(``mu = 0``) for the others. Each iteration ``k``:

1. Simulation: ``chains`` Markov chains per subject (all chains and subjects in one engine
   call) move by Metropolis-Hastings kernels targeting ``p(z | y)``: (1) independent proposals
   from the prior ``N(mu, Omega)``; (2) a random walk on all components, covariance
   ``s^2 Omega``; (3) a random walk on each component in turn, SD ``s_j sqrt(Omega_jj)``; each
   :data:`SWEEPS` times, the scales adapted towards an acceptance of :data:`TARGET`. Rows the
   solver fails on are withdrawn at random and the proposal retried, then rejected.
2. Stochastic approximation of ``S1 = sum_i z_i``, ``S2 = sum_i z_i z_i'`` and the scaled
   residual sums of squares (chain averages): ``S_k = S_{k-1} + gamma_k (s(z_k) - S_{k-1})``,
   ``gamma_k = 1`` for the ``burn`` exploration iterations, then ``1 / (k - burn)``.
3. Maximisation. Closed forms: mu-referenced thetas from the mean of ``z`` (generalised least
   squares when a block mixes mu-referenced and other etas); ``Omega = (1/N) sum_i (z_i - mu)
   (z_i - mu)'`` on the declared blocks (0 elsewhere; fixed blocks kept); the sigma of a
   one-component error model (additive, proportional, power, exponential) without censored
   levels, ``sigma^2 = (1/n) sum_j ((y_j - f_j) / g(f_j))^2`` with ``g = sd / sigma`` (log
   scale for exponential). Numerical: every other estimated theta, and the sigmas of combined
   error models or of outputs with censored levels (M3), take one Newton step on the
   complete-data objective ``-2 log p(y | z, theta, sigma)`` at the chains' ``z`` (gradient
   and Hessian by finite differences in one engine call, the step halved until it decreases;
   Lange's EM-gradient step), averaged in as ``v_k = v_{k-1} + gamma_k (v* - v_{k-1})``.
   During the exploration a variance (Omega's diagonal, a closed-form sigma^2) shrinks by at
   most a factor :data:`ANNEAL` per iteration (Monolix's simulated annealing).

An eta is mu-referenced to an estimated theta when both appear in one model expression only,
the same, and substituting ``eta = phi - log(theta)`` (theta bounded to ``(0, inf)``, e.g.
``theta * h * exp(eta)``) or ``eta = phi - theta`` (unbounded, e.g. ``theta + eta``) removes
the theta from it. Covariate coefficients inside ``h`` take the numerical route, which SAEM
moves slowly (the chains follow them); Monolix's linear covariate model is not implemented.
The chains per subject are raised to ``ceil(50 / n_subjects)`` when that is larger (Monolix
likewise runs more chains for small datasets). The kernel settings (sweeps, target, adaptation,
initial scale 0.5) are saemix's defaults. Random numbers: ``numpy.random.default_rng(seed)``.

References
----------
Delyon B, Lavielle M, Moulines E. Convergence of a stochastic approximation version of the
EM algorithm. Ann Stat 1999;27:94-128. doi:10.1214/aos/1018031103
Kuhn E, Lavielle M. Maximum likelihood estimation in nonlinear mixed effects models. Comput
Stat Data Anal 2005;49:1020-38. doi:10.1016/j.csda.2004.07.002
Lange K. A gradient algorithm locally equivalent to the EM algorithm. J R Stat Soc B
1995;57:425-37.
Lavielle M. Mixed Effects Models for the Population Approach. Chapman & Hall/CRC, 2014.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EstimationError, SolverError
from ..model import omega_name
from ._likelihood import scaled, terms, with_sigmas

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Model
    from ._population import Problem

__all__ = ["mu_references", "run_saem"]

BURN, EM, CHAINS = 300, 200, 2
#: Chains per subject are raised so that subjects x chains reaches this.
MIN_SIMULATED = 50
#: Metropolis-Hastings sweeps per iteration of kernels 1 (prior), 2 (random walk), 3
#: (component-wise random walk).
SWEEPS = (2, 2, 2)
#: Target acceptance of the random walks; their scales move by ``1 + ADAPT (rate - TARGET)``.
TARGET, ADAPT = 0.4, 0.4
#: Largest shrinkage of a variance per exploration iteration (simulated annealing).
ANNEAL = 0.95
REPORT_EVERY = 25
#: With a checkpoint: the state is saved after an iteration once this many seconds have passed
#: since the last save (an iteration takes milliseconds; a save, tens of them on slow disks).
SAVE_EVERY = 0.5
#: Numerical M-step: finite-difference step and largest Newton step (unconstrained scale).
FD_STEP, MAX_STEP = 1e-2, 1.0
#: Tries of a proposal the solver fails on (a random half of the moves withdrawn each time).
RETRIES = 4
OPTIONS = ("burn", "em", "chains")


def mu_references(model: Model, thetas: Sequence[Any], etas: Sequence[str]
                  ) -> dict[str, tuple[str, bool]]:
    """The mu-referenced etas: eta -> (theta, log form), ``thetas`` the estimated ones (with
    ``name``, ``lower``, ``upper``)."""
    import sympy as sp

    exprs = [d.expr for d in model.derived] + list(model.odes) + [o.expr for o in model.outputs]
    exprs += [e for d in model.dosing for e in (d.F, d.lag, d.rate, d.duration) if e is not None]
    exprs += [s.initial for s in model.states]
    names = [{s.name for s in e.free_symbols} for e in exprs]

    def where(name: str) -> list[int]:
        return [i for i, n in enumerate(names) if name in n]

    for t in thetas:
        if not where(t.name):
            raise EstimationError(f"theta {t.name} enters none of the model's equations: it "
                                  "cannot be estimated (by SAEM or otherwise); fix it")
    out: dict[str, tuple[str, bool]] = {}
    for eta in etas:
        places = where(eta)
        if len(places) != 1:
            continue
        expr = exprs[places[0]]
        syms = {s.name: s for s in expr.free_symbols}
        for t in thetas:
            log = t.lower == 0 and t.upper == np.inf
            if t.name not in syms or where(t.name) != places or \
                    t.name in {v[0] for v in out.values()} or \
                    not (log or (t.lower == -np.inf and t.upper == np.inf)):
                continue
            theta, phi = syms[t.name], sp.Dummy("phi", real=True)
            sub = expr.subs(syms[eta], phi - (sp.log(theta) if log else theta))
            if theta not in sp.powsimp(sp.expand_power_exp(sub)).free_symbols:
                out[eta] = (t.name, log)
                break
    return out


def _options(options: Mapping[str, Any], n_subjects: int) -> tuple[int, int, int]:
    unknown = [str(k) for k in options if k not in OPTIONS]
    if unknown:
        raise EstimationError(f"saem: unknown option(s) {', '.join(unknown)}; valid: "
                              f"{', '.join(OPTIONS)}")
    got = {"burn": BURN, "em": EM, "chains": CHAINS, **options}
    for key, low in (("burn", 0), ("em", 1), ("chains", 1)):
        if isinstance(got[key], bool) or not isinstance(got[key], int | np.integer) \
                or got[key] < low:
            raise EstimationError(f"saem: {key} = {got[key]!r} must be an integer >= {low}")
    return (int(got["burn"]), int(got["em"]),
            max(int(got["chains"]), math.ceil(MIN_SIMULATED / n_subjects)))


class _Saem:
    """The chains, the statistics and the current estimates of one SAEM run."""

    def __init__(self, problem: Problem, x0: np.ndarray, rng: np.random.Generator,
                 chains: int) -> None:
        tr, pop = problem.transform, problem.pop
        self.p, self.rng, self.chains = problem, rng, chains
        self.etas = problem.etas
        self.values = tr.to_values(x0)
        self.mu = mu_references(problem.cm.model, tr.thetas, self.etas)
        mu_thetas = {t for t, _ in self.mu.values()}
        self.free = np.array([e in self.mu for e in self.etas])
        e = len(self.etas)
        self.blocks = [[self.etas.index(a) for a in b] for b in tr.blocks]
        self.estimated = np.zeros((e, e), bool)
        for idx in self.blocks:
            self.estimated[np.ix_(idx, idx)] = True
        self.numeric_thetas = [t for t in tr.thetas if t.name not in mu_thetas]
        self.closed: dict[str, np.ndarray] = {}
        self.numeric_sigmas: list[str] = []
        obs = pop.obs
        for i, err in enumerate(obs.errors):
            sel = obs.output == i
            est = [s for s in err.sigmas if s in tr.sigmas]
            if len(err.components) == 1 and est and not obs.censored[sel].any():
                self.closed[est[0]] = sel
            else:
                self.numeric_sigmas += est
        self.sid = np.repeat(np.arange(pop.n_subjects), np.diff(pop.starts))
        self.scale2, self.scale3 = 0.5, np.full(e, 0.5)
        self.accepted, self.proposed = np.zeros(2 + e), np.zeros(2 + e)
        self._refresh()
        self.z = np.repeat((self.m + problem.modes)[None], chains, axis=0)
        try:
            self.f = problem.pred.predict(self.thetas_k, self.z - self.m)
        except SolverError as exc:
            raise EstimationError(f"saem: the model cannot be solved at the initial values "
                                  f"and modes: {exc}") from None
        self.cond = self._conditional(self.f)
        self.stats: dict[str, Any] = {}

    # -- current values -----------------------------------------------------------------------
    def _refresh(self) -> None:
        """Omega, means, per-chain thetas and residual SDs from :attr:`values`."""
        v = self.values
        self.omega = self.p.transform.layout.omega(v, self.etas)
        self.prec = np.linalg.pinv(self.omega, hermitian=True)
        try:
            self.chol = np.linalg.cholesky(self.omega)
        except np.linalg.LinAlgError:
            self.chol = np.diag(np.sqrt(np.diag(self.omega)))
        self.m = np.zeros(len(self.etas))
        for j, eta in enumerate(self.etas):
            if eta in self.mu:
                theta, log = self.mu[eta]
                self.m[j] = np.log(v[theta]) if log else v[theta]
        self.thetas_k = {n: np.full(self.chains, v[n]) for n in self.p.pred.thetas}
        self.obs = with_sigmas(self.p.pop.obs, {s: v[s] for e in self.p.pop.obs.errors
                                                for s in e.sigmas})

    def _conditional(self, f: np.ndarray) -> np.ndarray:
        """-2 log p(y_i | z_i) of every chain and subject, (chains, n_subjects)."""
        return self.p.pop.per_subject(terms(self.obs, f), axis=1)

    def _quad(self, z: np.ndarray) -> np.ndarray:
        d = z - self.m
        return np.einsum("cni,ij,cnj->cn", d, self.prec, d)

    # -- simulation ---------------------------------------------------------------------------
    def _move(self, trial: np.ndarray, prior: bool) -> np.ndarray:
        """Metropolis-Hastings step to ``trial`` (chains, n_subjects, n_eta); which moved."""
        moved = np.ones(self.z.shape[:2], bool)
        for _ in range(RETRIES):
            cand = np.where(moved[..., None], trial, self.z)
            try:
                f = self.p.pred.predict(self.thetas_k, cand - self.m)
                break
            except SolverError:
                moved &= self.rng.random(moved.shape) < 0.5
        else:
            return np.zeros_like(moved)
        cond = self._conditional(f)
        log_ratio = self.cond - cond
        if not prior:
            log_ratio += self._quad(self.z) - self._quad(cand)
        with np.errstate(invalid="ignore"):
            ok = moved & (np.log(self.rng.random(moved.shape)) < 0.5 * log_ratio)
        self.z[ok], self.cond[ok] = cand[ok], cond[ok]
        rows = ok[:, self.sid]
        self.f[rows] = f[rows]
        return ok

    def _count(self, kernel: int, ok: np.ndarray) -> float:
        self.accepted[kernel] += ok.sum()
        self.proposed[kernel] += ok.size
        return float(ok.mean())

    def simulate(self) -> None:
        """The Metropolis-Hastings sweeps of one iteration, then the scales adapted."""
        shape, sd = self.z.shape, np.sqrt(np.diag(self.omega))
        for _ in range(SWEEPS[0]):
            self._count(0, self._move(self.m + self.rng.standard_normal(shape) @ self.chol.T,
                                      True))
        rate = 0.0
        for _ in range(SWEEPS[1]):
            trial = self.z + self.scale2 * self.rng.standard_normal(shape) @ self.chol.T
            rate += self._count(1, self._move(trial, False)) / SWEEPS[1]
        self.scale2 *= 1.0 + ADAPT * (rate - TARGET)
        rates = np.zeros(len(self.etas))
        for _ in range(SWEEPS[2]):
            for j in range(len(self.etas)):
                trial = self.z.copy()
                trial[..., j] += self.scale3[j] * sd[j] * self.rng.standard_normal(shape[:2])
                rates[j] += self._count(2 + j, self._move(trial, False)) / SWEEPS[2]
        self.scale3 *= 1.0 + ADAPT * (rates - TARGET)

    # -- stochastic approximation and maximisation ----------------------------------------------
    def approximate(self, gamma: float) -> None:
        """The sufficient statistics of the chains averaged in with step ``gamma``."""
        z, c = self.z, self.chains
        new: dict[str, Any] = {"s1": z.sum(axis=1).mean(axis=0),
                               "s2": np.einsum("cni,cnj->ij", z, z) / c}
        if self.closed:
            with np.errstate(divide="ignore", invalid="ignore"):
                _, fx, yx, _, _, _ = scaled(self.obs, self.f)
                res = yx - fx
                for name, sel in self.closed.items():
                    err = next(e for e in self.obs.errors if name in e.sigmas)
                    r = res[:, sel] / err.with_sigmas({name: 1.0}).sd(self.f[:, sel])
                    new[name] = float((r * r).sum()) / c
        self.stats = {k: v if k not in self.stats else self.stats[k] + gamma * (v - self.stats[k])
                      for k, v in new.items()}

    def maximise(self, gamma: float, exploring: bool) -> None:
        """The M-step: closed forms from the statistics, then the numerical one."""
        v, n = self.values, self.p.pop.n_subjects
        zbar, m, a = self.stats["s1"] / n, self.m.copy(), self.free
        if a.any():
            p = self.prec
            m[a] = zbar[a] + np.linalg.solve(p[np.ix_(a, a)], p[np.ix_(a, ~a)] @ (zbar[~a] - m[~a]))
        for j, eta in enumerate(self.etas):
            if eta in self.mu:
                theta, log = self.mu[eta]
                v[theta] = float(np.exp(m[j]) if log else m[j])
        ml = self.stats["s2"] / n - np.outer(zbar, m) - np.outer(m, zbar) + np.outer(m, m)
        new = np.where(self.estimated, (ml + ml.T) / 2, self.omega)
        d_ml = np.maximum(np.diag(new), 1e-12)
        np.fill_diagonal(new, d_ml)
        d_new = np.maximum(d_ml, ANNEAL * np.diag(self.omega)) if exploring else d_ml
        scale = np.sqrt(d_new / d_ml)
        new = np.where(self.estimated, new * np.outer(scale, scale), new)
        for idx in self.blocks:
            for i in range(len(idx)):
                for j in range(i + 1):
                    v[omega_name(self.etas[idx[j]], self.etas[idx[i]])] = float(new[idx[i], idx[j]])
        for name, sel in self.closed.items():
            var = self.stats[name] / sel.sum()
            v[name] = float(np.sqrt(max(var, ANNEAL * v[name] ** 2) if exploring else var))
        self._refresh()
        if self.numeric_thetas or self.numeric_sigmas:
            before = dict(v)
            self._numeric(gamma)
            self._refresh()
            try:   # predictions move with the numerical thetas (not the mu-referenced)
                if self.numeric_thetas:
                    self.f = self.p.pred.predict(self.thetas_k, self.z - self.m)
            except SolverError:   # at a point averaged in: keep the last values
                v.update(before)
                self._refresh()
        self.cond = self._conditional(self.f)

    def _objectives(self, us: np.ndarray) -> np.ndarray:
        """The complete-data objective (chain average of -2 log p(y | z)) at rows ``us`` of
        the numerical parameters (unconstrained), one engine call for all rows."""
        v, c, pt = self.values, self.chains, len(self.numeric_thetas)
        f, index = self.f[None], np.zeros(len(us), int)
        if pt:
            keys, index = np.unique(us[:, :pt], axis=0, return_inverse=True)
            th = {n: np.full(len(keys) * c, v[n]) for n in self.p.pred.thetas}
            for j, t in enumerate(self.numeric_thetas):
                th[t.name] = np.repeat([t.from_x(x) for x in keys[:, j]], c)
            try:
                f = self.p.pred.predict(th, np.tile(self.z - self.m, (len(keys), 1, 1)))
            except SolverError:
                return np.full(len(us), np.inf)
            f = f.reshape(len(keys), c, -1)
        sig = {s: v[s] for e in self.obs.errors for s in e.sigmas}
        out = np.empty(len(us))
        for i, u in enumerate(us):
            sig.update({s: float(np.exp(u[pt + j])) for j, s in enumerate(self.numeric_sigmas)})
            out[i] = terms(with_sigmas(self.p.pop.obs, sig), f[index.ravel()[i]]).sum() / c
        return np.where(np.isfinite(out), out, np.inf)

    def _numeric(self, gamma: float) -> None:
        """M-step of the parameters without a closed form: one Newton step on the complete-
        data objective (gradient and Hessian by finite differences, one engine call), halved
        until it decreases, averaged in with ``gamma``."""
        v, thetas, sigmas = self.values, self.numeric_thetas, self.numeric_sigmas
        u0 = np.array([t.to_x(v[t.name]) for t in thetas] + [np.log(v[s]) for s in sigmas])
        p, h = len(u0), FD_STEP
        eye = h * np.eye(p)
        pairs = [(j, k) for j in range(p) for k in range(j)]
        obj = self._objectives(np.vstack([u0, u0 + eye, u0 - eye,
                                          *(u0 + eye[j] + eye[k] for j, k in pairs)]))
        o0, up, down = obj[0], obj[1:p + 1], obj[p + 1:2 * p + 1]
        if not np.all(np.isfinite(obj)):
            return
        grad = (up - down) / (2 * h)
        hess = np.diag((up - 2 * o0 + down) / h**2)
        for (j, k), o in zip(pairs, obj[2 * p + 1:], strict=True):
            hess[j, k] = hess[k, j] = (o - up[j] - up[k] + o0) / h**2
        w, q = np.linalg.eigh(hess)
        w = np.maximum(np.abs(w), 1e-6 * max(np.abs(w).max(), 1e-300) + 1e-12)
        step = -q @ ((q.T @ grad) / w)
        step *= min(1.0, MAX_STEP / max(np.abs(step).max(), 1e-300))
        for _ in range(4):
            if self._objectives((u0 + step)[None])[0] < o0:
                break
            step /= 2
        else:
            return
        for j, t in enumerate(thetas):
            v[t.name] += gamma * (t.from_x(u0[j] + step[j]) - v[t.name])
        for j, s in enumerate(sigmas):
            v[s] += gamma * (float(np.exp(u0[len(thetas) + j] + step[len(thetas) + j])) - v[s])


def run_saem(problem: Problem, x0: np.ndarray, *, seed: int | np.random.Generator | None,
             options: Mapping[str, Any], report: Callable[[str], None],
             resume: Mapping[str, Any] | None = None,
             save: Callable[[dict[str, Any]], None] | None = None
             ) -> tuple[np.ndarray, list[dict[str, Any]], bool, str, dict[str, Any]]:
    """Run SAEM from ``x0`` (unconstrained parameters of ``problem.transform``); the chains
    start at ``problem.modes`` (the conditional modes at ``x0``).

    ``options``: ``burn`` (default 300), ``em`` (200), ``chains`` (2). ``report`` receives a
    line every :data:`REPORT_EVERY` iterations. ``save(state)``, if given, receives after
    every iteration (at most every :data:`SAVE_EVERY` seconds, and after the last) the whole
    state of the run: iteration, estimates, chains, their predictions, the statistics, the
    kernel scales and counts and the random generator's state; ``resume`` (such a state)
    takes the run up where it was saved, to the same end as a run never interrupted.

    Returns
    -------
    x : numpy.ndarray
        The estimates, unconstrained.
    history : list of dict
        Per iteration (0: initial): ``iteration``, ``ofv`` and ``gradient_norm`` (NaN) and
        every estimated parameter.
    success : bool
        True: SAEM runs a fixed number of iterations (it fails with an EstimationError).
    status : str
    details : dict
        ``saem``, ``ofv_method``, ``mu_referenced`` (eta -> theta), ``numerical`` and
        ``closed_form_sigmas`` (the M-step routes), ``iterations`` (burn, em), ``chains``,
        ``acceptance`` (kernel -> rate), ``saem_seconds``.

    Raises
    ------
    EstimationError
        Bad options; an estimated theta in no equation; the model not solvable at the start;
        estimates that are not finite.
    """
    start = time.perf_counter()
    burn, em, chains = _options(options, problem.pop.n_subjects)
    s = _Saem(problem, x0, np.random.default_rng(seed), chains)
    total = burn + em
    first = 1
    if resume is not None:
        first = _restore(s, resume) + 1

    def record(k: int) -> None:
        history.append({"iteration": k, "ofv": np.nan, "gradient_norm": np.nan,
                        **{n: s.values[n] for n in problem.transform.names}})

    history: list[dict[str, Any]] = list(resume["history"]) if resume is not None else []
    if resume is None:
        record(0)
    shown = [t.name for t in problem.transform.thetas] + list(problem.transform.sigmas)
    saved = time.perf_counter()
    for k in range(first, total + 1):
        exploring = k <= burn
        gamma = 1.0 if exploring else 1.0 / (k - burn)
        s.simulate()
        s.approximate(gamma)
        s.maximise(gamma, exploring)
        record(k)
        bad = [n for n in problem.transform.names if not np.isfinite(s.values[n])]
        if bad:
            raise EstimationError(f"saem: {', '.join(bad)} not finite at iteration {k}; try "
                                  "other initial values (initial=)")
        if k % REPORT_EVERY == 0 or k == total:
            report(f"saem iteration {k:4d}/{total} ({'exploration' if exploring else 'smoothing'})"
                   "  " + "  ".join(f"{n}={s.values[n]:.4g}" for n in shown))
        if save is not None and (k == total or time.perf_counter() - saved >= SAVE_EVERY):
            save({**_state(s, k), "history": history})
            saved = time.perf_counter()
    status = (f"completed {burn} exploration and {em} smoothing iterations, {chains} chains per "
              "subject (SAEM runs a fixed number of iterations; no convergence test)")
    rate = s.accepted / np.maximum(s.proposed, 1)
    details = {"saem": True,
               "ofv_method": "FOCE-I (Laplace, interaction) evaluated at the SAEM estimates",
               "mu_referenced": {e: t for e, (t, _) in s.mu.items()},
               "numerical": [t.name for t in s.numeric_thetas] + s.numeric_sigmas,
               "closed_form_sigmas": list(s.closed), "iterations": (burn, em),
               "chains": chains, "acceptance": {
                   "prior": float(rate[0]), "random_walk": float(rate[1]),
                   "componentwise": dict(zip(s.etas, map(float, rate[2:]), strict=True))},
               "saem_seconds": time.perf_counter() - start}
    return problem.transform.to_x(s.values), history, True, status, details


def _state(s: _Saem, k: int) -> dict[str, Any]:
    """Everything a run needs to continue after iteration ``k`` (JSON data and arrays)."""
    return {"iteration": k, "values": dict(s.values), "z": s.z, "f": s.f, "cond": s.cond,
            "stats": dict(s.stats), "scale2": s.scale2, "scale3": s.scale3,
            "accepted": s.accepted, "proposed": s.proposed,
            "rng": s.rng.bit_generator.state}


def _restore(s: _Saem, state: Mapping[str, Any]) -> int:
    """Put a saved state back into ``s``; returns the iteration it was saved after."""
    s.values.update({k: float(v) for k, v in state["values"].items()})
    s._refresh()
    s.z, s.f, s.cond = (np.array(state[k], dtype=float) for k in ("z", "f", "cond"))
    s.stats = {k: np.array(v, dtype=float) if isinstance(v, np.ndarray | list) else float(v)
               for k, v in state["stats"].items()}
    s.scale2 = float(state["scale2"])
    s.scale3, s.accepted, s.proposed = (np.array(state[k], dtype=float)
                                        for k in ("scale3", "accepted", "proposed"))
    s.rng.bit_generator.state = state["rng"]
    return int(state["iteration"])
