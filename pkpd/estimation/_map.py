"""Individual fits: MAP Bayesian and maximum likelihood, for one subject (see
:func:`fit_individual`)."""

from __future__ import annotations

import time as _time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EstimationError, SolverError
from ._posterior import PosteriorSample

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

    from ..codegen import CompiledModel
    from ..events import EventTable
    from ..io.nonmem import NonmemData
    from ..model import Model
    from ..patient import Patient

__all__ = ["FitResult", "SubjectFits", "fit_individual", "fit_subjects"]

#: Tolerances of every simulation made by a fit (tight, so that finite differences are smooth).
RTOL, ATOL = 1e-8, 1e-10
#: Step of the central finite-difference gradient (eta units).
GRAD_STEP = 1e-5
#: Step of the finite-difference Hessian, as a fraction of each eta's prior SD (or of its
#: posterior SD where that is smaller): second differences of the objective
#: (finite-difference gradients) ...
HESS_STEP = 1e-2
#: ... or central differences of the exact gradient.
HESS_STEP_EXACT = 1e-4
#: Largest gradient component accepted when the line search stalls (precision loss).
GRAD_TOL = 1e-4


@dataclass(frozen=True, eq=False)
class FitResult:
    """The result of :func:`fit_individual`.

    Attributes
    ----------
    model : str
        Name of the model.
    method : {"map", "ml"}
    etas : dict of str to float
        The estimated etas (the mode of the posterior for MAP).
    individual : dict of str to float
        The individual parameters (the model's derived quantities, e.g. CL, V1) at the
        estimated etas, with covariates at the subject's first record.
    covariance : pandas.DataFrame
        Laplace approximation of the posterior covariance of the estimated etas: the inverse of
        half the Hessian of the objective at the optimum (rows and columns named by eta).
    se : dict of str to float
        Standard error (posterior SD) of each estimated eta.
    shrinkage : dict of str to float
        Posterior SD / prior SD (``sqrt(omega)``) of each estimated eta. Population eta
        shrinkage, ``1 - SD(eta_hat) / omega``, is a property of many subjects; for one subject
        this ratio says how much the levels told about each eta: near 1, the posterior is the
        prior (the data carry no information on it); near 0, the data determine it. NaN where
        the model has no omega.
    ofv : float
        The objective at the optimum (-2 log posterior or -2 log likelihood, up to a constant).
    predictions : pandas.DataFrame
        One row per observation: ``ID, TIME, CMT`` (and ``DVID``), ``OUTPUT``, ``DV``, ``BLQ``,
        ``LLOQ``, ``PRED`` (typical subject: etas 0), ``IPRED`` (at the estimates) and
        ``IWRES = (DV - IPRED) / sd(IPRED)`` (on the log scale for exponential error; NaN for
        censored observations).
    success : bool
        Whether the optimiser converged and the Hessian is positive definite.
    message : str
        The optimiser's message.
    n_evaluations : int
        Objective evaluations (each one a subject simulated), the Hessian included.
    n_simulations : int
        Calls of the engine (evaluations are batched: one call per gradient).
    elapsed : float
        Wall time of the fit in seconds.
    fixed : dict of str to float
        The values given in ``params=`` (model units).
    gradient : {"exact", "fd"}
        How the gradient was computed: forward sensitivities or finite differences.
    """

    model: str
    method: str
    etas: dict[str, float]
    individual: dict[str, float]
    covariance: pd.DataFrame
    se: dict[str, float]
    shrinkage: dict[str, float]
    ofv: float
    predictions: pd.DataFrame
    success: bool
    message: str
    n_evaluations: int
    n_simulations: int
    elapsed: float
    fixed: dict[str, float] = field(default_factory=dict)
    gradient: str = "exact"
    _objective: Any = field(default=None, repr=False)
    _model: Any = field(default=None, repr=False)
    _covariates: dict[str, float] = field(default_factory=dict, repr=False)
    _history: Any = field(default=None, repr=False)

    @property
    def model_etas(self) -> dict[str, float]:
        """The estimated etas that are parameters of the model: all of :attr:`etas` but the
        per-occasion estimates (``<eta>[<k>]``, with ``occasions=``), whose future occasions
        are unknown (0)."""
        return {e: v for e, v in self.etas.items() if "[" not in e}

    def summary(self, level: float = 0.90) -> pd.DataFrame:
        """One row per estimated eta: the estimate, its posterior SD, the Laplace interval
        (``level``) and the posterior/prior SD ratio; and the individual parameters.

        Returns
        -------
        pandas.DataFrame
            Index: the etas; columns ``estimate, se, lower, upper, sd_ratio``. The individual
            parameters are in ``.attrs["individual"]``.
        """
        import pandas as pd
        from scipy.stats import norm

        if not 0.0 < level < 1.0:
            raise EstimationError(f"summary: level {level!r} must be in (0, 1)")
        z = float(norm.ppf(0.5 + level / 2))
        names = list(self.etas)
        est = np.array([self.etas[e] for e in names])
        se = np.array([self.se[e] for e in names])
        table = pd.DataFrame({"estimate": est, "se": se, "lower": est - z * se,
                              "upper": est + z * se,
                              "sd_ratio": [self.shrinkage[e] for e in names]}, index=names)
        table.attrs["individual"] = dict(self.individual)
        table.attrs["level"] = level
        return table

    def after_history(self, events: Any, start: Any) -> EventTable:
        """The patient's dose history (from the fitted data) followed by ``events`` from time
        ``start``: one subject's records, ready for :func:`pkpd.simulate`.

        Parameters
        ----------
        events : Regimen, str, Dose or EventTable
            The new regimen; its time 0 becomes ``start``.
        start : float, Quantity or str
            When the new regimen begins (model time unit for numbers), at or after the last
            dose of the history.

        Raises
        ------
        EstimationError
            If the fit does not carry its data.
        DataError
            If ``start`` is before the last dose of the history.
        """
        from ..simulation import _events_for
        from ..units import convert

        if self._model is None or self._history is None:
            raise EstimationError("after_history: this FitResult does not carry its data")
        wt = self._covariates.get("WT")
        new, _, _ = _events_for(self._model, events, 1,
                                lambda: None if wt is None else np.array([wt]))
        t0 = convert(start, self._model.model.time_unit, what="start")
        return self._history.followed_by(new, t0)

    def predict(self, events: Any, *, times: Any, start: Any = None, n: int = 1000,
                method: str = "laplace", seed: int | np.random.Generator | None = None,
                level: float = 0.90, outputs: Sequence[str] | None = None) -> xr.Dataset:
        """The patient's predictions for any regimen: at the estimates, with a posterior band.

        Parameters
        ----------
        events : Regimen, str, Dose or EventTable
            The regimen, e.g. ``"1000 mg IV over 1 h q12h x 10"``.
        times : array, Quantity or str
            Output times, e.g. ``"0..120 h by 0.5 h"``.
        start : float, Quantity or str, optional
            Continue the patient's dose history: the regimen begins at ``start`` after the
            doses of the fitted data (:meth:`after_history`), and ``times`` are on the
            history's clock. Default: the regimen alone, from time 0.
        n : int
            Posterior draws for the band (0: no band).
        method : {"laplace", "sir", "mcmc"}
            How the draws are made (:meth:`posterior`).
        seed : int or numpy.random.Generator, optional
        level : float
            Coverage of the band (0.90: the 5 % and 95 % quantiles).
        outputs : sequence of str, optional
            Default: the model's outputs.

        Returns
        -------
        xarray.Dataset
            Dim ``time``: each output at the estimated etas (the individual prediction) and,
            with ``n > 0``, ``<output>_band`` with dims ``(quantile, time)``: the lower
            quantile, the median and the upper quantile over the posterior draws.

        Notes
        -----
        The patient's covariates are those of the fit (``patient=`` and, for covariates in
        the dataset, their values at its last record; with ``start``, the dataset's values
        over the history).
        """
        from ..results import prediction_interval
        from ..simulation import simulate

        if self._model is None:
            raise EstimationError("predict: this FitResult does not carry its model")
        covariates = dict(self._covariates)
        if start is not None:
            events = self.after_history(events, start)
            covariates = {k: v for k, v in covariates.items() if k not in events.cov_names}

        def run(values: dict[str, Any], k: int) -> xr.Dataset:
            ev = events.repeat(k) if start is not None else events
            return simulate(self._model, ev, params=values, times=times, outputs=outputs)

        point = {k: [v] for k, v in {**covariates, **self.fixed, **self.model_etas}.items()}
        ds = run(point, 1).squeeze("id", drop=True)
        if n:
            draws = self.sample(n, seed, method=method)
            many = run({k: np.full(int(n), v) for k, v in covariates.items()} | draws, int(n))
            for name in list(ds.data_vars):
                band = prediction_interval(many[name], level=level, dim="id")
                band.attrs = dict(many[name].attrs, long_name=f"{name}, {level:.0%} posterior "
                                  f"band ({method}, {n} draws)")
                ds[f"{name}_band"] = band
        return ds

    def sample(self, n: int, seed: int | np.random.Generator | None = None, *,
               method: str = "laplace") -> dict[str, np.ndarray]:
        """Draw etas from the posterior: ``posterior(n, method=method, seed=seed).params``.

        Returns
        -------
        dict of str to numpy.ndarray
            One array of ``n`` values per estimated eta, plus the values given in ``params=``
            at fit time: ready as ``params=`` of :func:`pkpd.simulate` (give the patient's
            covariates again as ``patients``) for posterior bands.
        """
        return self.posterior(n, method=method, seed=seed).params

    def posterior(self, n: int, *, method: str = "laplace",
                  seed: int | np.random.Generator | None = None,
                  proposals: int | None = None, chains: int = 8, burn: int = 500,
                  thin: int = 5) -> PosteriorSample:
        """Draws from the posterior of the estimated etas.

        Parameters
        ----------
        n : int
            Number of draws.
        method : {"laplace", "sir", "mcmc"}
            ``"laplace"``: N(etas, covariance), the Laplace approximation (no model
            evaluation). ``"sir"``: sampling importance resampling from a multivariate t
            proposal around the mode (``proposals`` draws, default ``max(10 n, 5000)``, each
            weighted by the exact posterior; one batched simulation per 2 000). ``"mcmc"``:
            random-walk Metropolis on the exact posterior, ``chains`` chains advancing
            together, ``burn`` steps discarded, every ``thin``-th step kept. Both check the
            Laplace approximation: compare :meth:`PosteriorSample.summary` of the methods.
            For an ``"ml"`` fit the "posterior" has a flat prior.
        seed : int or numpy.random.Generator, optional
        proposals, chains, burn, thin : int
            Options of SIR and MCMC.

        Returns
        -------
        PosteriorSample

        Raises
        ------
        EstimationError
            For a bad ``n`` or ``method``, a fit without a valid covariance (needed by every
            method: it shapes the proposals), or a fit object without its objective (one
            rebuilt from its fields).
        """
        import pandas as pd

        from ..variability import sample_etas
        from ._posterior import metropolis, sir

        if int(n) != n or n < 1:
            raise EstimationError(f"posterior: n = {n!r} must be a positive integer")
        if method not in ("laplace", "sir", "mcmc"):
            raise EstimationError(f"posterior: method={method!r}; valid: 'laplace', 'sir', "
                                  "'mcmc'")
        n = int(n)
        cov = self.covariance.to_numpy()
        if not np.all(np.isfinite(cov)):
            raise EstimationError("posterior: the fit has no valid covariance (Hessian not "
                                  "positive definite); cannot draw from the posterior")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        names = list(self.covariance.columns)
        mode = np.array([self.etas[e] for e in names])
        diagnostics: dict[str, float] = {}
        if method == "laplace":
            draws = mode + sample_etas(cov, n, rng)
        else:
            if self._objective is None:
                raise EstimationError(f"posterior: method {method!r} needs the objective of "
                                      "the fit, which this FitResult does not carry")
            if method == "sir":
                draws, diagnostics = sir(self._objective, mode, cov, n, rng, proposals)
            else:
                draws, diagnostics = metropolis(self._objective, mode, cov, n, rng, names,
                                                chains=chains, burn=burn, thin=thin)
        params = {name: np.full(n, value) for name, value in self.fixed.items()}
        params.update({e: draws[:, i].copy() for i, e in enumerate(names)
                       if e in self.model_etas})
        return PosteriorSample(method, pd.DataFrame(draws, columns=names), params, diagnostics)


@dataclass(frozen=True)
class _Observations:
    """Per-observation arrays of one subject."""

    frame: pd.DataFrame      # ID, TIME, CMT, (DVID), OUTPUT, DV
    dv: np.ndarray
    output: np.ndarray       # index into `outputs`
    outputs: tuple[str, ...]
    add: np.ndarray
    prop: np.ndarray
    sd_sum: np.ndarray       # bool
    expo: np.ndarray         # bool: exponential error (log scale), sd = add
    censored: np.ndarray     # bool
    lloq: np.ndarray         # NaN where not censored


_SENSITIVITY_MODELS: dict[tuple[str, tuple[str, ...]], CompiledModel | None] = {}


def _sensitivity_model(cm: CompiledModel, names: Sequence[str],
                       per_occasion: Sequence[str] = ()) -> CompiledModel | None:
    """The model with sensitivities to ``names``, compiled (memoised); None if the model's
    dose attributes depend on its states (no sensitivities: finite differences are used)."""
    from ..codegen import compile_model
    from ..errors import ModelError
    from ..model import with_sensitivities

    key = (cm.model.hash, (*names, "|", *per_occasion))
    if key not in _SENSITIVITY_MODELS:
        try:
            _SENSITIVITY_MODELS[key] = compile_model(with_sensitivities(
                cm.model, names, per_occasion=per_occasion))
        except ModelError:
            _SENSITIVITY_MODELS[key] = None
    return _SENSITIVITY_MODELS[key]


class _Objective:
    """-2 log posterior (or likelihood) of one subject as a function of its etas, evaluated for
    many eta vectors at once: K vectors are K copies of the subject in one simulate call.

    With ``sens`` (the model with sensitivities to the estimated etas) the gradient is exact:
    the chain rule through the sensitivities of the predictions. Without, it is a central
    finite difference."""

    def __init__(self, cm: CompiledModel, table: EventTable, obs: _Observations,
                 base: dict[str, float], names: list[str], precision: np.ndarray | None,
                 sens: CompiledModel | None = None, occasions: Any = None,
                 per_occasion: Sequence[str] = ()) -> None:
        self.cm, self.table, self.obs = cm, table, obs
        self.base, self.names, self.precision = base, names, precision
        self.sens = sens
        self.occasions = occasions
        # etas in q slots, then the between-occasion etas estimated occasion by occasion
        # (columns after those: occasion-major, in the order of ``per_occasion``)
        self._slots = [(j, cm.layout.index(e)) for j, e in enumerate(names)
                       if e in cm.layout.names]
        self._per_occasion = [cm.model.occasion_etas.index(e) for e in per_occasion]
        self.per_occasion_names = list(per_occasion)
        self.n_evaluations = 0
        self.n_simulations = 0
        self._tiled: dict[int, EventTable] = {}
        self._plans: dict[tuple[str, int], Any] = {}

    def n_occasions(self) -> int:
        """Occasions of the subject's records (1 without between-occasion etas)."""
        occ = self._plan(self.cm, 1).occ_args.get("occasion")
        return 1 if occ is None else int(occ.max()) + 1

    def _tile(self, k: int) -> EventTable:
        tab = self._tiled.get(k)
        if tab is None:
            tab = self._tiled[k] = self.table.repeat(k)
        return tab

    def _plan(self, cm: CompiledModel, k: int) -> Any:
        """The records checked and lowered once per model and K (as :func:`pkpd.simulate`
        does): each evaluation then only writes the etas and runs the engine."""
        from ..simulation import _plan

        plan = self._plans.get((cm.model.hash, k))
        if plan is None:
            params = {name: np.full(k, v) for name, v in self.base.items()}
            params.update({cm.layout.names[slot]: np.zeros(k) for _, slot in self._slots})
            plan = _plan(cm, self._tile(k), None, params=params, times=None, outputs=None,
                         n=None, seed=None, variability=(), uncertainty=None,
                         occasions=self.occasions)
            self._plans[(cm.model.hash, k)] = plan
        return plan

    def _simulate(self, cm: CompiledModel, etas: np.ndarray, outputs: list[str],
                  gate: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Each output at each observation of the tiled subject, shape (K, n_obs). With
        ``gate`` (per row, an occasion index), the occasion gates of a model with
        per-occasion sensitivities are on during that occasion only."""
        from .. import engine

        k = etas.shape[0]
        plan = self._plan(cm, k)
        q = plan.q.copy()
        for j, slot in self._slots:
            q[:, slot] = etas[:, j]
        occ_args = plan.occ_args
        if occ_args:
            # between-occasion etas: the subject's values (q) on every occasion, or the
            # estimates of each occasion
            n_occ = len(occ_args["bov_values"]) // k
            values = np.repeat(q[:, occ_args["bov_slot"]], n_occ, axis=0)
            if self._per_occasion:
                block = etas[:, len(self._slots):].reshape(k * n_occ, len(self._per_occasion))
                values[:, self._per_occasion] = block
            if gate is not None:
                from ..model import gate_name

                on = (np.arange(k * n_occ) % n_occ == np.repeat(gate, n_occ)).astype(float)
                for e in self.per_occasion_names:
                    values[:, cm.model.occasion_etas.index(gate_name(e))] = on
            occ_args = {**occ_args, "bov_values": values}
        out, _, _ = engine.run(cm, plan.prep, q, plan.cov_slot, plan.cov_nocb,
                               ids=plan.ids_run, rtol=RTOL, atol=ATOL, **occ_args)
        self.n_simulations += 1
        self.n_evaluations += k
        n_obs = len(self.obs.dv)
        return {o: out[:, cm.output_names.index(o)].reshape(k, n_obs) for o in outputs}

    def predict(self, etas: np.ndarray) -> np.ndarray:
        """Predictions at the observations, shape (K, n_obs), for etas of shape (K, n_eta)."""
        out = self._simulate(self.cm, etas, list(self.obs.outputs))
        f = np.empty((etas.shape[0], len(self.obs.dv)))
        for i, o in enumerate(self.obs.outputs):
            sel = self.obs.output == i
            f[:, sel] = out[o][:, sel]
        return f

    def predict_with_sensitivities(self, etas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predictions (K, n_obs) and their derivatives with respect to the estimated etas
        (K, n_obs, n_eta), from the model with sensitivities."""
        from ..model import sensitivity_name

        assert self.sens is not None
        if self.per_occasion_names:
            return self._per_occasion_sensitivities(etas)
        wanted = [*self.obs.outputs, *(sensitivity_name(o, e) for o in self.obs.outputs
                                       for e in self.names)]
        out = self._simulate(self.sens, etas, wanted)
        k, n_obs = etas.shape[0], len(self.obs.dv)
        f = np.empty((k, n_obs))
        jac = np.empty((k, n_obs, len(self.names)))
        for i, o in enumerate(self.obs.outputs):
            sel = self.obs.output == i
            f[:, sel] = out[o][:, sel]
            for j, e in enumerate(self.names):
                jac[:, sel, j] = out[sensitivity_name(o, e)][:, sel]
        return f, jac

    def _per_occasion_sensitivities(self, etas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`predict_with_sensitivities` with etas estimated per occasion: each row
        runs once per occasion j, the gates on during j, which gives the derivatives with
        respect to occasion j's etas (the other etas' derivatives come from any copy)."""
        from ..model import sensitivity_name

        assert self.sens is not None
        k, n_obs = etas.shape[0], len(self.obs.dv)
        n_occ = self.n_occasions()
        iiv = [self.names[j] for j, _ in self._slots]
        bov = self.per_occasion_names
        wanted = [*self.obs.outputs, *(sensitivity_name(o, e) for o in self.obs.outputs
                                       for e in (*iiv, *bov))]
        out = self._simulate(self.sens, np.repeat(etas, n_occ, axis=0), wanted,
                             gate=np.tile(np.arange(n_occ), k))
        f = np.empty((k, n_obs))
        jac = np.zeros((k, n_obs, len(self.names)))
        for i, o in enumerate(self.obs.outputs):
            sel = self.obs.output == i
            f[:, sel] = out[o].reshape(k, n_occ, n_obs)[:, 0, sel]
            for j, e in enumerate(iiv):
                jac[:, sel, j] = out[sensitivity_name(o, e)].reshape(k, n_occ, n_obs)[:, 0, sel]
            for b, e in enumerate(bov):
                s_occ = out[sensitivity_name(o, e)].reshape(k, n_occ, n_obs)
                for occ in range(n_occ):
                    jac[:, sel, len(iiv) + occ * len(bov) + b] = s_occ[:, occ, sel]
        return f, jac

    def sd(self, f: np.ndarray) -> np.ndarray:
        """Residual SD at predictions f (on the log scale for exponential error)."""
        o = self.obs
        prop = o.prop * np.abs(f)
        return np.where(o.expo, o.add, np.where(o.sd_sum, o.add + prop,
                                                np.sqrt(o.add * o.add + prop * prop)))

    def _scaled(self, f: np.ndarray) -> tuple[np.ndarray, ...]:
        """(sd, prediction, level, LLOQ) on the scale of the error model: logarithms for
        exponential error (the level is 1 where censored, the LLOQ 1 where not)."""
        o = self.obs
        sd = self.sd(f)
        fx = np.where(o.expo, np.log(f), f)
        yx = np.where(o.expo, np.log(np.where(o.censored, 1.0, o.dv)), o.dv)
        lx = np.where(o.expo, np.log(np.where(o.censored, o.lloq, 1.0)), o.lloq)
        return sd, fx, yx, lx

    def terms(self, f: np.ndarray) -> np.ndarray:
        """Contribution of each observation to the objective, shape of ``f``."""
        from scipy.special import log_ndtr

        with np.errstate(divide="ignore", invalid="ignore"):
            sd, fx, yx, lx = self._scaled(f)
            observed = ((yx - fx) / sd) ** 2 + 2.0 * np.log(sd)
            censored = -2.0 * log_ndtr((lx - fx) / sd)
            out = np.where(self.obs.censored, censored, observed)
        return np.where(np.isnan(out), np.inf, out)

    def d_terms(self, f: np.ndarray) -> np.ndarray:
        """Derivative of each observation's term with respect to its prediction."""
        from scipy.special import log_ndtr

        o = self.obs
        with np.errstate(divide="ignore", invalid="ignore"):
            sd, fx, yx, lx = self._scaled(f)
            d_sd = np.where(o.expo | (o.prop == 0), 0.0,
                            np.where(o.sd_sum, o.prop * np.sign(f), o.prop * o.prop * f / sd))
            d_fx = np.where(o.expo, 1.0 / f, 1.0)
            r = yx - fx
            observed = -2.0 * r * d_fx / sd**2 + (2.0 / sd - 2.0 * r * r / sd**3) * d_sd
            z = (lx - fx) / sd
            dz = (-d_fx * sd - (lx - fx) * d_sd) / sd**2
            # -2 d log Phi(z) = -2 phi(z) / Phi(z) dz, the ratio on the log scale (stable)
            mills = np.exp(-0.5 * z * z - 0.5 * np.log(2 * np.pi) - log_ndtr(z))
            censored = -2.0 * mills * dz
            return np.where(o.censored, censored, observed)

    def __call__(self, etas: np.ndarray) -> np.ndarray:
        """Objective of each row of ``etas`` (inf where a prediction is not usable)."""
        try:
            f = self.predict(etas)
        except SolverError:
            return np.full(etas.shape[0], np.inf)
        value = self.terms(f).sum(axis=1)
        if self.precision is not None:
            value = value + np.einsum("ki,ij,kj->k", etas, self.precision, etas)
        return value

    def values_and_gradients(self, etas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objective (K,) and its exact gradient (K, n_eta) at each row of ``etas``, from the
        sensitivities (one simulate call); inf and zeros where not usable."""
        k, n = etas.shape
        try:
            f, jac = self.predict_with_sensitivities(etas)
        except SolverError:
            return np.full(k, np.inf), np.zeros((k, n))
        value = self.terms(f).sum(axis=1)
        grad = np.einsum("ko,kon->kn", self.d_terms(f), jac)
        if self.precision is not None:
            value = value + np.einsum("ki,ij,kj->k", etas, self.precision, etas)
            grad = grad + 2.0 * etas @ self.precision
        bad = ~(np.isfinite(value) & np.all(np.isfinite(grad), axis=1))
        value[bad] = np.inf
        grad[bad] = 0.0
        return value, grad

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Objective and its gradient: exact (sensitivities) or, without them, a central
        finite difference (2 n + 1 evaluations in one simulate call)."""
        n = len(x)
        if self.sens is not None:
            value, grad = self.values_and_gradients(x[None, :])
            return float(value[0]), grad[0]
        step = GRAD_STEP * np.eye(n)
        values = self(np.vstack([x, x + step, x - step]))
        if not np.isfinite(values[0]):
            return float("inf"), np.zeros(n)
        return float(values[0]), (values[1:n + 1] - values[n + 1:]) / (2 * GRAD_STEP)

    def hessian(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Hessian at x: central differences of the exact gradient (2 n evaluations) or,
        without sensitivities, second differences of the objective (one simulate call)."""
        n = len(x)
        if self.sens is not None:
            eye = np.eye(n) * h
            _, grads = self.values_and_gradients(np.vstack([x + eye, x - eye]))
            hess = (grads[:n] - grads[n:]) / (2 * h[:, None])
            return (hess + hess.T) / 2
        eye = np.eye(n) * h
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        points = [x, *(x + eye[i] for i in range(n)), *(x - eye[i] for i in range(n))]
        for i, j in pairs:
            points += [x + eye[i] + eye[j], x + eye[i] - eye[j],
                       x - eye[i] + eye[j], x - eye[i] - eye[j]]
        values = self(np.array(points))
        f0 = values[0]
        hess = np.diag((values[1:n + 1] - 2 * f0 + values[n + 1:2 * n + 1]) / h**2)
        for k, (i, j) in enumerate(pairs):
            pp, pm, mp, mm = values[2 * n + 1 + 4 * k: 2 * n + 5 + 4 * k]
            hess[i, j] = hess[j, i] = (pp - pm - mp + mm) / (4 * h[i] * h[j])
        return hess


def _from_levels(cm: CompiledModel, events: Any, levels: Any,
                 patient: Patient | Mapping[str, Any] | None,
                 outputs: Mapping[Any, str] | None) -> tuple[pd.DataFrame, dict[Any, str] | None]:
    """A one-subject NONMEM frame from a dose history and a table of levels, and the outputs
    mapping of its DVID column."""
    import pandas as pd

    from ..patient import Patient
    from ..simulation import _events_for
    from ..units import convert

    m = cm.model

    def weight() -> np.ndarray | None:
        p = Patient(**patient) if isinstance(patient, Mapping) else patient
        wt = None if p is None else p.get("WT")
        return None if wt is None else np.array([convert(wt, "kg", what="patient WT")])

    table, _, _ = _events_for(cm, events, 1, weight)
    if table.n_subjects != 1:
        raise EstimationError(f"data: the dose history holds {table.n_subjects} subjects; "
                              "fit_individual fits one")
    lv = pd.DataFrame(levels)
    lv.columns = [str(c).strip().upper() for c in lv.columns]
    missing = [c for c in ("TIME", "DV") if c not in lv]
    if missing:
        raise EstimationError(f"levels: column(s) {', '.join(missing)} missing; levels need "
                              "TIME and DV, optionally OUTPUT (the model output of each level), "
                              "BLQ and LLOQ")
    unknown = sorted(set(lv.columns) - {"TIME", "DV", "OUTPUT", "BLQ", "LLOQ"})
    if unknown:
        raise EstimationError(f"levels: unknown column(s) {', '.join(unknown)}; valid: TIME, DV, "
                              "OUTPUT, BLQ, LLOQ")
    times = np.array([convert(t, m.time_unit, what=f"levels TIME row {i + 1}")
                      if not isinstance(t, int | float | np.number) else float(t)
                      for i, t in enumerate(lv["TIME"])])
    mapping = None
    dvid = np.ones(len(lv))
    if "OUTPUT" in lv:
        if outputs is not None:
            raise EstimationError("outputs= and an OUTPUT column of the levels both say which "
                                  "output each level is; give one of them")
        names = [str(o) for o in lv["OUTPUT"]]
        bad = sorted({o for o in names if o not in cm.output_names})
        if bad:
            raise EstimationError(f"levels: OUTPUT {', '.join(bad)} not outputs of model "
                                  f"'{m.name}'; valid: {', '.join(cm.output_names)}")
        codes = {o: k + 1 for k, o in enumerate(dict.fromkeys(names))}
        dvid = np.array([codes[o] for o in names], dtype=float)
        mapping = {code: o for o, code in codes.items()}
    doses = table.to_frame().assign(DV=np.nan, MDV=1, DVID=0.0)
    obs = pd.DataFrame({"ID": doses["ID"].iloc[0] if len(doses) else 1, "TIME": times,
                        "EVID": 0, "AMT": 0.0, "CMT": 1, "RATE": 0.0, "II": 0.0, "ADDL": 0,
                        "SS": 0, "DV": pd.to_numeric(lv["DV"], errors="coerce").to_numpy(),
                        "MDV": 0, "DVID": dvid})
    for col in ("BLQ", "LLOQ"):
        if col in lv:
            obs[col] = lv[col].to_numpy()
            doses[col] = 0 if col == "BLQ" else np.nan
    frame = pd.concat([doses, obs], ignore_index=True)
    frame = frame.sort_values("TIME", kind="stable").reset_index(drop=True)
    return frame, mapping if mapping is not None else (dict(outputs) if outputs else None)


def _read(model: Model | CompiledModel | str, data: Any) -> tuple[CompiledModel, NonmemData]:
    import os

    import pandas as pd

    from ..io.nonmem import NonmemData, read_nonmem
    from ..simulation import _as_compiled

    cm = _as_compiled(model)
    if isinstance(data, pd.DataFrame | str | os.PathLike):
        data = read_nonmem(data, model=cm.model)
    if not isinstance(data, NonmemData):
        raise EstimationError(f"data: expected a NonmemData (pkpd.read_nonmem), a DataFrame or "
                              f"file in NONMEM format, or a dose history with levels=..., got "
                              f"{type(data).__name__}")
    if data.events.n_subjects != 1:
        shown = ", ".join(str(i) for i in data.ids[:10])
        raise EstimationError(f"data: holds {data.events.n_subjects} subjects (ID {shown}"
                              f"{', ...' if len(data.ids) > 10 else ''}); fit_individual fits "
                              "one subject: select its records (frame[frame.ID == id])")
    if not len(data.observations):
        raise EstimationError(f"data: subject {data.ids[0]} has no observations (records with "
                              "EVID 0 and MDV 0 and a DV); there is nothing to fit")
    return cm, data


def _observations(cm: CompiledModel, data: NonmemData, outputs: Mapping[Any, str] | None,
                  lloq: float | str | None) -> _Observations:
    m = cm.model
    obs = data.observations
    key_col = "DVID" if "DVID" in obs and obs["DVID"].notna().all() else "CMT"
    keys = obs[key_col].to_numpy(dtype=float)
    if outputs is None:
        if not cm.output_names:
            raise EstimationError(f"model '{m.name}' has no outputs to compare with the levels")
        names = np.full(len(obs), cm.output_names[0], dtype=object)
    else:
        table = {float(k): v for k, v in outputs.items()}
        missing = sorted({k for k in keys if k not in table})
        if missing:
            raise EstimationError(f"outputs: no output given for {key_col} "
                                  f"{', '.join(f'{k:g}' for k in missing)} of the observations; "
                                  f"map each {key_col} to one of {', '.join(cm.output_names)}")
        names = np.array([table[k] for k in keys], dtype=object)
    used = tuple(dict.fromkeys(names.tolist()))
    for o in used:
        if o not in cm.output_names:
            raise EstimationError(f"outputs: {o!r} is not an output of model '{m.name}'; valid: "
                                  f"{', '.join(cm.output_names)}")
        if o not in m.error:
            raise EstimationError(f"output {o!r} of model '{m.name}' has no error model; outputs "
                                  f"with one: {', '.join(m.error) or 'none'}")
        spec = m.error[o]
        if spec.get("exponential", 0.0) <= 0 and (spec.get("additive", 0.0) <= 0
                                                  and spec.get("proportional", 0.0) <= 0):
            raise EstimationError(f"output {o!r}: error model {dict(spec)} has no positive SD")
    specs = [m.error[o] for o in names]
    expo = np.array(["exponential" in s for s in specs])
    add = np.array([s.get("exponential", 0.0) if e else s.get("additive", 0.0)
                    for s, e in zip(specs, expo, strict=True)])
    prop = np.array([0.0 if e else s.get("proportional", 0.0)
                     for s, e in zip(specs, expo, strict=True)])
    sd_sum = np.array([bool(s.get("sd_sum", 0.0)) for s in specs])

    dv = obs["DV"].to_numpy(dtype=float)
    frame = data.frame.set_index("ROW").loc[obs["ROW"]]
    if isinstance(lloq, str):
        col = lloq.strip().upper()
        if col not in frame:
            raise EstimationError(f"lloq: column {lloq!r} is not in the dataset; columns: "
                                  f"{', '.join(map(str, data.frame.columns))}")
        limit = frame[col].to_numpy(dtype=float)
    elif lloq is None:
        limit = np.full(len(dv), np.nan)
    else:
        limit = np.full(len(dv), float(lloq))
    flag = frame["BLQ"].to_numpy(dtype=float) == 1 if "BLQ" in frame else np.zeros(len(dv), bool)
    limit = np.where(flag & np.isnan(limit), dv, limit)    # flagged: DV holds the LLOQ
    censored = flag | (dv < limit)
    limit = np.where(censored, limit, np.nan)
    rows = obs["ROW"].to_numpy()
    bad = expo & (censored & ~(limit > 0) | ~censored & ~(dv > 0))
    if bad.any():
        raise EstimationError(f"dataset row {rows[bad][0]}: exponential error needs DV (or the "
                              "LLOQ of a censored level) > 0")
    pred = obs[["ID", "TIME", key_col if key_col == "DVID" else "CMT"]].copy()
    if key_col == "DVID":
        pred.insert(2, "CMT", obs["CMT"].to_numpy())
    pred["OUTPUT"] = names
    pred["DV"] = dv
    pred["BLQ"] = censored
    pred["LLOQ"] = limit
    return _Observations(pred.reset_index(drop=True), dv,
                         np.array([used.index(o) for o in names]), used, add, prop, sd_sum, expo,
                         censored, limit)


def _fixed_values(cm: CompiledModel, data: NonmemData, params: Mapping[str, Any] | None,
                  patient: Patient | Mapping[str, Any] | None) -> tuple[dict[str, float],
                                                                         dict[str, float]]:
    """(values given in params, all fixed values: params plus the patient's covariates)."""
    from ..patient import Patient
    from ..units import convert

    m = cm.model
    units = {p.name: p.unit for p in m.parameters} | {c.name: c.unit for c in m.covariates}
    given: dict[str, float] = {}
    for name, value in (params or {}).items():
        if name not in m.parameter_names and name not in m.etas and name not in m.covariate_names:
            raise EstimationError(f"params: {name!r} is not a parameter, eta or covariate of "
                                  f"model '{m.name}'; valid: "
                                  f"{', '.join((*m.parameter_names, *m.etas, *m.covariate_names))}")
        given[name] = (float(value) if isinstance(value, int | float | np.number)
                       else convert(value, units.get(name, ""), what=f"params[{name!r}]"))
        if not np.isfinite(given[name]):
            raise EstimationError(f"params: {name!r} = {value!r} is not a finite number")
    fixed = dict(given)
    if patient is not None:
        if isinstance(patient, Mapping):
            patient = Patient(**patient)
        if not isinstance(patient, Patient):
            raise EstimationError(f"patient: expected a pkpd.Patient or a mapping of covariates, "
                                  f"got {type(patient).__name__}")
        if patient.timeseries:
            raise EstimationError("patient: time-varying covariates "
                                  f"({', '.join(patient.timeseries)}) belong in the dataset")
        for c in m.covariates:
            if c.name in data.events.cov_names or c.name in given:
                continue
            value = patient._model_value(c.name, c.unit)
            if value is not None:
                fixed[c.name] = float(value)
    clash = [c for c in fixed if c in data.events.cov_names and c in m.covariate_names]
    if clash:
        raise EstimationError(f"params: covariate(s) {', '.join(clash)} are already given by the "
                              "dataset")
    return given, fixed


@dataclass(frozen=True)
class _Problem:
    """A subject's fit set up: data read, observations, fixed values and the objective."""

    cm: CompiledModel
    data: NonmemData
    obs: _Observations
    given: dict[str, float]
    names: list[str]
    prior: np.ndarray | None
    objective: _Objective


def _problem(model: Model | CompiledModel | str, data: Any, *,
             patient: Patient | Mapping[str, Any] | None, params: Mapping[str, Any] | None,
             outputs: Mapping[Any, str] | None, method: str, estimate: Sequence[str] | None,
             lloq: float | str | None, gradient: str, levels: Any = None,
             occasions: Any = None) -> _Problem:
    """Read and check everything :func:`fit_individual` is given; build the objective."""
    if levels is not None:
        from ..simulation import _as_compiled

        model = _as_compiled(model)
        data, outputs = _from_levels(model, data, levels, patient, outputs)
    cm, data = _read(model, data)
    m = cm.model
    omega = None if m.omega is None else np.asarray(m.omega, dtype=float)
    obs = _observations(cm, data, outputs, lloq)
    given, fixed = _fixed_values(cm, data, params, patient)

    if estimate is None:
        names = [e for i, e in enumerate(m.etas) if omega is None or omega[i, i] > 0]
    else:
        names = list(dict.fromkeys(estimate))
        unknown = [e for e in names if e not in m.etas]
        if unknown:
            raise EstimationError(f"estimate: {', '.join(unknown)} are not etas of model "
                                  f"'{m.name}'; valid: {', '.join(m.etas)}")
    both = [e for e in names if e in fixed]
    if both:
        raise EstimationError(f"eta(s) {', '.join(both)} are both estimated and fixed in params")
    if not names:
        raise EstimationError(f"model '{m.name}' has no etas to estimate")
    idx = [m.etas.index(e) for e in names]
    prior = None if omega is None else omega[np.ix_(idx, idx)]
    precision = None
    if method == "map":
        if prior is None:
            raise EstimationError(f"method 'map' needs the model's omega; model '{m.name}' has "
                                  "none (use method='ml')")
        if occasions is None:
            precision = _precision(prior, names)

    events = data.events
    rec = np.isin(data.frame["ROW"].to_numpy(), data.observations["ROW"].to_numpy())
    table = replace(events, output=rec)
    if occasions is not None:
        return _per_occasion_problem(cm, data, obs, given, fixed, table, names, omega,
                                     method, gradient, occasions)
    sens = None if gradient == "fd" else _sensitivity_model(cm, names)
    if gradient == "exact" and sens is None:
        raise EstimationError(f"gradient='exact': model '{m.name}' has dose attributes "
                              "depending on states, for which there are no sensitivities; use "
                              "gradient='auto'")
    objective = _Objective(cm, table, obs, fixed, names, precision, sens)
    return _Problem(cm, data, obs, given, names, prior, objective)


def _precision(cov: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The inverse of a prior covariance, by its Cholesky factor."""
    try:
        inv = np.linalg.inv(np.linalg.cholesky(cov))
    except np.linalg.LinAlgError:
        raise EstimationError(f"omega of {', '.join(names)} is not positive definite; "
                              "estimate only etas with a positive variance") from None
    return inv.T @ inv


def _per_occasion_problem(cm: CompiledModel, data: NonmemData, obs: _Observations,
                          given: dict[str, float], fixed: dict[str, float], table: EventTable,
                          names: list[str], omega: np.ndarray | None, method: str,
                          gradient: str, occasions: Any) -> _Problem:
    """The problem with the between-occasion etas estimated on each occasion: parameters
    ``[etas | occasion 1's | occasion 2's | ...]``, named ``<eta>[<k>]`` for occasion k; the
    prior is block-diagonal (between- and within-subject etas independent, as when
    simulating)."""
    m = cm.model
    if not m.occasion_etas:
        raise EstimationError(f"occasions: model '{m.name}' has no between-occasion etas")
    iiv = [e for e in names if e not in m.occasion_etas]
    bov = [e for e in names if e in m.occasion_etas]
    probe = _Objective(cm, table, obs, fixed, iiv, None, None, occasions, bov)
    n_occ = probe.n_occasions()
    all_names = iiv + [f"{e}[{k + 1}]" for k in range(n_occ) for e in bov]
    prior = None
    if omega is not None:
        i_iiv = [m.etas.index(e) for e in iiv]
        i_bov = [m.etas.index(e) for e in bov]
        prior = np.zeros((len(all_names), len(all_names)))
        prior[:len(iiv), :len(iiv)] = omega[np.ix_(i_iiv, i_iiv)]
        for k in range(n_occ):
            sl = slice(len(iiv) + k * len(bov), len(iiv) + (k + 1) * len(bov))
            prior[sl, sl] = omega[np.ix_(i_bov, i_bov)]
    precision = None
    if method == "map":
        if prior is None:
            raise EstimationError(f"method 'map' needs the model's omega; model '{m.name}' has "
                                  "none (use method='ml')")
        precision = _precision(prior, all_names)
    sens = None if gradient == "fd" else _sensitivity_model(cm, iiv + bov, bov)
    if gradient == "exact" and sens is None:
        raise EstimationError(f"gradient='exact': model '{m.name}' has dose attributes "
                              "depending on states, for which there are no sensitivities; use "
                              "gradient='auto'")
    objective = _Objective(cm, table, obs, fixed, all_names, precision, sens, occasions, bov)
    return _Problem(cm, data, obs, given, all_names, prior, objective)


def fit_individual(
    model: Model | CompiledModel | str,
    data: Any,
    *,
    levels: pd.DataFrame | Mapping[str, Any] | None = None,
    patient: Patient | Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    outputs: Mapping[Any, str] | None = None,
    method: str = "map",
    estimate: Sequence[str] | None = None,
    lloq: float | str | None = None,
    check: bool = True,
    gradient: str = "auto",
    occasions: Any = None,
    starts: int = 1,
    seed: int | np.random.Generator | None = None,
) -> FitResult:
    """Fit one subject's etas to its measured levels (MAP Bayesian or maximum likelihood).

    The objective is minus twice the log posterior (``"map"``) or log likelihood (``"ml"``),
    up to a constant:

    .. math::

        \\mathrm{OFV}(\\eta) = \\sum_i \\left(\\frac{y_i - f_i}{\\sigma_i}\\right)^2
            + 2 \\log \\sigma_i \\;-\\; 2 \\sum_{j \\in \\mathrm{BLQ}}
            \\log \\Phi\\!\\left(\\frac{\\mathrm{LLOQ}_j - f_j}{\\sigma_j}\\right)
            \\;+\\; \\eta^\\top \\Omega^{-1} \\eta \\quad (\\text{MAP only})

    with predictions ``f(eta)`` from :func:`pkpd.simulate` (the one engine; rtol 1e-8,
    atol 1e-10) and ``sigma`` the model's residual SD at ``f`` (:mod:`pkpd.variability`); for
    exponential error ``y``, ``f`` and the LLOQ are on the log scale and ``sigma`` is the
    exponential SD. Censored levels follow Beal's M3 method.

    It is minimised with BFGS (:func:`scipy.optimize.minimize`) from eta = 0 with the exact
    gradient: the chain rule through the forward sensitivities of the predictions
    (:func:`pkpd.model.with_sensitivities`, solved by the engine with the model, dose jumps
    included). The posterior covariance is the Laplace approximation: the inverse of half the
    Hessian at the optimum, from central differences of the exact gradient (step 1e-4 of the
    prior SD, or of the posterior SD where the levels make it smaller; the 2 n points run as
    copies of the subject in one simulate call).

    Models whose dose attributes depend on states have no sensitivities; for them (and with
    ``gradient="fd"``) the gradient is a central finite difference (step 1e-5) and the
    Hessian second differences of the objective (step 1e-2 of the same SDs).

    Parameters
    ----------
    model : Model, CompiledModel or str
    data : NonmemData, pandas.DataFrame, path, or a dose history
        One subject's records in NONMEM format (a DataFrame or CSV file is read with
        :func:`pkpd.read_nonmem`): its doses are the regimen, its observations (EVID 0,
        MDV 0) the measured levels, its covariate columns the covariates. With ``levels``:
        the doses given, as regimen text, a :class:`~pkpd.Regimen`, a
        :class:`~pkpd.Dose` or an :class:`~pkpd.events.EventTable`.
    levels : DataFrame or mapping of columns, optional
        The measured levels when ``data`` is a dose history: ``TIME`` (model time unit, or
        quantity strings such as ``"26 h"``) and ``DV`` (output units), optionally
        ``OUTPUT`` (the model output of each level; default the first output, or ``outputs``),
        ``BLQ`` and ``LLOQ`` (see ``lloq``).
    patient : Patient or mapping, optional
        Covariates not in the dataset (e.g. ``{"WT": "82 kg"}``); others take their defaults.
    params : mapping, optional
        Fixed values (model units, or quantities/strings) replacing typical parameter values
        (e.g. population estimates), fixing etas that are not estimated, or giving covariates.
    outputs : mapping, optional
        Observation CMT (or DVID, when the dataset has that column) -> model output name.
        Default: the model's first output for every observation.
    method : {"map", "ml"}
        ``"ml"`` drops the prior term (the data alone must determine the etas: use
        ``estimate`` to choose fewer than the data can tell apart).
    estimate : sequence of str, optional
        The etas to estimate; default: every eta with a positive variance in omega (every eta
        for ``"ml"`` on a model without omega). The MAP prior of a subset is its marginal,
        N(0, Omega[subset, subset]). Etas not estimated are 0 unless given in ``params``.
    lloq : float or str, optional
        Lower limit of quantification (output units), or the name of a dataset column holding
        it per record. An observation with DV < LLOQ, or with a ``BLQ`` column equal to 1 (its
        LLOQ being ``lloq`` or, if none is given, its DV), is censored: it contributes
        ``-2 log Phi((LLOQ - f) / sigma)`` (M3).
    check : bool
        Raise :class:`EstimationError` when the fit fails (default); with False, return the
        result with ``success=False`` (and a NaN covariance if the Hessian is not positive
        definite).
    gradient : {"auto", "exact", "fd"}
        ``"auto"``: exact where sensitivities are available, else finite differences;
        ``"exact"`` raises :class:`EstimationError` where they are not; ``"fd"``: finite
        differences.
    occasions : str or sequence of times, optional
        For a model with between-occasion etas: estimate them on each occasion, the
        occasions given by a dataset column (each value an occasion) or by their start times
        (as in :func:`pkpd.simulate`). The estimates are named ``<eta>[<k>]`` for occasion
        k = 1, 2, ...; their prior is the omega block of the occasion etas, independent
        between occasions and of the other etas. The exact gradient runs the subject once
        per occasion, with the sensitivities of the occasion etas switched on during that
        occasion only.
        Without ``occasions`` a between-occasion eta is one value for the whole record.
    starts : int
        Optimisations to run: from eta = 0 and from ``starts - 1`` points drawn from
        N(0, 4 Omega) (twice the prior SD; N(0, I) without an omega); the lowest objective is
        kept. More than one guards against local optima (sparse levels can leave two
        absorption rates that fit, for example).
    seed : int or numpy.random.Generator, optional
        Seed of the extra starting points (the fit is deterministic for a given seed).

    Returns
    -------
    FitResult

    Raises
    ------
    EstimationError
        More than one subject, no observations, outputs without an error model, an objective
        that is not finite at eta = 0 (naming the rows), or (with ``check``) no convergence.
    DataError, UnitError
        Malformed dataset or covariates.

    Notes
    -----
    Between-occasion etas are estimated per occasion with ``occasions``, else as one value
    for the whole record.
    Covariates varying over time in the dataset are used as recorded by the engine; the
    ``individual`` parameters are reported at the first record.

    References
    ----------
    Sheiner LB, Beal SL. Bayesian individualization of pharmacokinetics: simple implementation
    and comparison with non-Bayesian methods. J Pharm Sci 1982;71:1344-8.
    doi:10.1002/jps.2600711209

    Beal SL. Ways to fit a PK model with some data below the quantification limit.
    J Pharmacokinet Pharmacodyn 2001;28:481-504. doi:10.1023/A:1012299115260

    Examples
    --------
    >>> fit = fit_individual("two_cmt_oral", frame)               # doctest: +SKIP
    >>> fit.etas["eta_CL"], fit.se["eta_CL"]                     # doctest: +SKIP
    >>> pkpd.simulate("two_cmt_oral", "500 mg PO q12h x 14", params=fit.sample(1000, seed=1),
    ...               times="0..168 h by 1 h")                   # doctest: +SKIP
    """
    import pandas as pd
    from scipy.optimize import minimize

    start = _time.perf_counter()
    if int(starts) != starts or starts < 1:
        raise EstimationError(f"starts = {starts!r} must be a positive integer")
    if method not in ("map", "ml"):
        raise EstimationError(f"method={method!r}; valid: 'map' (Bayesian, with the omega prior) "
                              "or 'ml' (maximum likelihood)")
    if gradient not in ("auto", "exact", "fd"):
        raise EstimationError(f"gradient={gradient!r}; valid: 'auto' (exact where possible), "
                              "'exact' or 'fd' (finite differences)")
    problem = _problem(model, data, patient=patient, params=params, outputs=outputs,
                       method=method, estimate=estimate, lloq=lloq, gradient=gradient,
                       levels=levels, occasions=occasions)
    cm, data, m, obs, objective = (problem.cm, problem.data, problem.cm.model, problem.obs,
                                   problem.objective)
    names, prior, sens, events = problem.names, problem.prior, objective.sens, data.events
    given, fixed = problem.given, objective.base
    n = len(names)
    x0 = np.zeros(n)
    f0 = objective(x0[None, :])[0]
    if not np.isfinite(f0):
        terms = objective.terms(objective.predict(x0[None, :]))[0]
        rows = data.observations["ROW"].to_numpy()[~np.isfinite(terms)]
        raise EstimationError(f"the objective is not finite at eta = 0: dataset row(s) "
                              f"{', '.join(map(str, rows[:10]))} (a zero prediction with a "
                              "proportional-only or exponential error model?)")

    res = minimize(objective.value_and_gradient, x0, jac=True, method="BFGS",
                   options={"gtol": GRAD_TOL / 100, "maxiter": 200 * n})
    if starts > 1:
        # more starting points, drawn from twice the prior SD (unit SD without a prior): keep
        # the lowest objective
        from ..variability import sample_etas

        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        spread = 4.0 * prior if prior is not None else np.eye(n)
        for x_start in sample_etas(spread, starts - 1, rng):
            if not np.isfinite(objective(x_start[None, :])[0]):
                continue
            other = minimize(objective.value_and_gradient, x_start, jac=True, method="BFGS",
                             options={"gtol": GRAD_TOL / 100, "maxiter": 200 * n})
            if np.isfinite(other.fun) and other.fun < res.fun - 1e-9:
                res = other
    x = np.asarray(res.x, dtype=float)
    grad_max = float(np.max(np.abs(res.jac))) if np.all(np.isfinite(res.jac)) else np.inf
    converged = bool(res.success) or (np.isfinite(res.fun) and grad_max < GRAD_TOL)
    message = str(res.message)

    sd_prior = (np.sqrt(np.diag(prior)) if prior is not None else np.full(n, np.nan))
    step = HESS_STEP_EXACT if sens is not None else HESS_STEP
    h = step * np.where(np.isfinite(sd_prior) & (sd_prior > 0), sd_prior, 1.0)
    hess = objective.hessian(x, h)
    # informative levels make the posterior much narrower than the prior: then differences
    # again with steps on the posterior's scale
    with np.errstate(invalid="ignore", divide="ignore"):
        diag = np.diag(hess)
        sd_post = np.sqrt(2.0 / diag)     # the SD of each eta with the others fixed
    if np.all(np.isfinite(sd_post)) and np.any(step * sd_post < 0.5 * h):
        hess = objective.hessian(x, np.minimum(h, step * sd_post))
    try:
        chol = np.linalg.cholesky((hess + hess.T) / 4)   # half the (symmetrised) Hessian
        inv = np.linalg.inv(chol)
        cov = inv.T @ inv
    except np.linalg.LinAlgError:
        cov = np.full((n, n), np.nan)
        converged = False
        message += "; the Hessian of the objective is not positive definite at the optimum " \
                   "(the etas are not all determined: estimate fewer, or use method='map')"
    if not converged and check:
        raise EstimationError(f"fit of subject {data.ids[0]} (model '{m.name}', method "
                              f"'{method}') failed: {message}; largest gradient component "
                              f"{grad_max:.3g} at etas {dict(zip(names, x.round(4), strict=True))}")

    f = objective.predict(np.vstack([np.zeros(n), x]))
    pred = obs.frame.copy()
    pred["PRED"] = f[0]
    pred["IPRED"] = f[1]
    sd = objective.sd(f[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        resid = np.where(obs.expo, np.log(obs.dv) - np.log(f[1]), obs.dv - f[1])
    pred["IWRES"] = np.where(obs.censored, np.nan, resid / sd)

    q = np.array(cm.q_template, dtype=float)
    for name, value in fixed.items():
        q[cm.layout.index(name)] = value
    for name, value in zip(names, x, strict=True):
        # per-occasion estimates: the first occasion's values (the first record's)
        base_name = name.removesuffix("[1]")
        if base_name in cm.layout.names:
            q[cm.layout.index(base_name)] = value
    for k, c in enumerate(events.cov_names):
        if c in m.covariate_names:
            q[cm.layout.index(c)] = events.cov[0, k]
    cm.call("derive", 0.0, np.zeros(cm.n_state), q, q)
    individual = {d: float(q[cm.layout.index(d)]) for d in m.derived_names}
    # covariates for predictions of other regimens: the patient's, and the dataset's last values
    covariates = {c: v for c, v in fixed.items() if c in m.covariate_names and c not in given}
    covariates |= {c: float(events.cov[-1, k]) for k, c in enumerate(events.cov_names)
                   if c in m.covariate_names}

    se = np.sqrt(np.diag(cov))
    return FitResult(
        model=m.name, method=method, etas=dict(zip(names, map(float, x), strict=True)),
        individual=individual, covariance=pd.DataFrame(cov, index=names, columns=names),
        se=dict(zip(names, map(float, se), strict=True)),
        shrinkage=dict(zip(names, map(float, se / sd_prior), strict=True)),
        ofv=float(res.fun), predictions=pred, success=converged, message=message,
        n_evaluations=objective.n_evaluations, n_simulations=objective.n_simulations,
        elapsed=_time.perf_counter() - start, fixed=given,
        gradient="exact" if sens is not None else "fd", _objective=objective, _model=cm,
        _covariates=covariates, _history=events)


@dataclass(frozen=True, eq=False)
class SubjectFits:
    """The individual fits of every subject of a dataset (see :func:`fit_subjects`).

    Attributes
    ----------
    results : dict
        Subject ID -> :class:`FitResult` (or the :class:`~pkpd.errors.PkpdError` raised for
        that subject, with ``check=False``).
    table : pandas.DataFrame
        One row per subject: ``ID, success, ofv, n_obs``, then per eta its estimate and
        ``se_<eta>``, then the individual parameters.
    shrinkage : dict of str to float
        Population eta shrinkage, ``1 - SD(eta estimates) / sqrt(omega)`` over the fitted
        subjects (MAP only; NaN where the model has no omega): near 0 the levels inform the
        etas, near 1 the estimates stay at the prior mean.
    """

    results: dict[Any, Any]
    table: pd.DataFrame
    shrinkage: dict[str, float]


def fit_subjects(model: Model | CompiledModel | str, data: NonmemData | pd.DataFrame | str,
                 *, check: bool = True, **options: Any) -> SubjectFits:
    """Fit every subject of a dataset with :func:`fit_individual` (same ``options``).

    Parameters
    ----------
    model : Model, CompiledModel or str
    data : NonmemData, pandas.DataFrame or path
        A NONMEM-format dataset with any number of subjects.
    check : bool
        Raise at the first subject that fails (default); with False, record the error or the
        unconverged result and go on.
    **options
        Passed to :func:`fit_individual` (``method``, ``outputs``, ``lloq``, ``estimate``,
        ``params``, ``gradient``; not ``patient``: covariates come from the dataset).

    Returns
    -------
    SubjectFits
    """
    import os

    import pandas as pd

    from ..errors import PkpdError
    from ..io.nonmem import read_nonmem
    from ..simulation import _as_compiled

    if "patient" in options or "levels" in options:
        raise EstimationError("fit_subjects: covariates and levels come from the dataset; "
                              "patient= and levels= are for fit_individual")
    cm = _as_compiled(model)
    if isinstance(data, pd.DataFrame | str | os.PathLike):
        data = read_nonmem(data, model=cm.model)
    results: dict[Any, Any] = {}
    rows = []
    for ident in data.ids:
        try:
            fit = fit_individual(cm, data.subject(ident), check=check, **options)
        except PkpdError as exc:
            if check:
                raise EstimationError(f"subject {ident}: {exc}") from exc
            results[ident] = exc
            rows.append({"ID": ident, "success": False})
            continue
        results[ident] = fit
        row: dict[str, Any] = {"ID": ident, "success": fit.success, "ofv": fit.ofv,
                               "n_obs": len(fit.predictions)}
        row.update(fit.etas)
        row.update({f"se_{e}": v for e, v in fit.se.items()})
        row.update(fit.individual)
        rows.append(row)
    table = pd.DataFrame(rows)
    m = cm.model
    shrinkage: dict[str, float] = {}
    for i, e in enumerate(m.etas):
        if e not in table:
            continue
        ok = table["success"].astype(bool)
        sd = float(table.loc[ok, e].std(ddof=1)) if ok.sum() > 1 else float("nan")
        omega = float(m.omega[i, i]) if m.omega is not None else float("nan")
        map_fit = options.get("method", "map") == "map"
        shrinkage[e] = 1.0 - sd / np.sqrt(omega) if map_fit and omega > 0 else float("nan")
    return SubjectFits(results, table, shrinkage)
