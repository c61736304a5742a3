"""Result classes of estimation: one subject's fit (:class:`FitResult`) and the fits of every
subject of a dataset (:class:`SubjectFits`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EstimationError
from ._posterior import PosteriorSample

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

    from ..events import EventTable

__all__ = ["FitResult", "SubjectFits"]


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
    provenance : dict of str to str
        Where the result came from: the model (name, hash, file and its sha256, or "python"),
        the data (file and sha256), dependency versions, platform, method and UTC time.
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
    data : NonmemData
        The subject's records as fitted (for :func:`pkpd.diagnostics`).
    settings : dict
        The ``outputs``, ``lloq``, ``params`` (with the patient's covariates) and
        ``occasions`` of the fit.

    Examples
    --------
    A patient whose levels follow twice the typical clearance (2.8 L/h): the MAP estimate lies
    between the typical and the true value, pulled towards the typical one by the prior.

    >>> import numpy as np, pkpd
    >>> t = [1.0, 4.0, 12.0, 24.0]
    >>> dv = pkpd.simulate("theophylline_1cmt", "320 mg PO", params={"eta_CL": [np.log(2)]},
    ...                    times=t)["CP"].values[0]
    >>> fit = pkpd.fit_individual("theophylline_1cmt", "320 mg PO", levels={"TIME": t, "DV": dv})
    >>> fit.method, fit.success, sorted(fit.etas)
    ('map', True, ['eta_CL', 'eta_KA', 'eta_V'])
    >>> bool(2.8 < fit.individual["CL"] < 5.6)
    True
    >>> list(fit.predictions[["TIME", "DV", "IPRED"]].columns), len(fit.predictions)
    (['TIME', 'DV', 'IPRED'], 4)
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
    data: Any = field(default=None, repr=False)
    settings: dict[str, Any] = field(default_factory=dict, repr=False)
    provenance: dict[str, str] = field(default_factory=dict, repr=False)
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
        from .._plan import events_for
        from ..units import convert

        if self._model is None or self._history is None:
            raise EstimationError("after_history: this FitResult does not carry its data")
        wt = self._covariates.get("WT")
        new, _, _ = events_for(self._model, events, 1,
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

        from ..events import EventTable

        one_table = isinstance(events, EventTable) and events.n_subjects == 1

        def run(values: dict[str, Any], k: int) -> xr.Dataset:
            # one subject's records (the history, or a table given) serve every draw
            ev = events.repeat(k) if (start is not None or one_table) and k > 1 else events
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
    data : NonmemData
        The dataset fitted (for :func:`pkpd.diagnostics`).
    settings : dict
        The ``outputs``, ``lloq`` and ``params`` given to each fit.

    Examples
    --------
    Ten subjects simulated from ``theophylline_1cmt`` (between-subject variability and
    residual error), one 320 mg oral dose each, as a NONMEM-format table:

    >>> import pkpd
    >>> from pkpd.testing.datasets import simulated_oral
    >>> frame = simulated_oral("theophylline_1cmt", 320, times=[0.5, 1, 2, 4, 8, 12, 24])
    >>> fits = pkpd.fit_subjects("theophylline_1cmt", frame)
    >>> len(fits.results), list(fits.table.columns[:4]), sorted(fits.shrinkage)
    (10, ['ID', 'success', 'ofv', 'n_obs'], ['eta_CL', 'eta_KA', 'eta_V'])
    >>> bool(fits.table["success"].all())
    True
    """

    results: dict[Any, Any]
    table: pd.DataFrame
    shrinkage: dict[str, float]
    data: Any = field(default=None, repr=False)
    settings: dict[str, Any] = field(default_factory=dict, repr=False)
