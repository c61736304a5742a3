"""The design of a dataset ready for diagnostics and simulation-based checks: a fitted (or
given) model, the subjects' records and observations, the etas that vary between subjects with
their omega, each subject's estimated etas, and replicates of the dataset simulated with
between-subject variability and residual error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EstimationError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..codegen import CompiledModel
    from ..estimation._batch import BatchPredictor
    from ..estimation._popdata import PopulationData

__all__ = ["Design", "design_from_model", "design_of"]

#: Subjects simulated per engine call when replicating a dataset (bounds the memory of a plan).
SUBJECTS_PER_CALL = 20_000


@dataclass
class Design:
    """A dataset and a model with everything the diagnostics need.

    Attributes
    ----------
    cm : CompiledModel
        The model, with its (estimated) values in place.
    pop : PopulationData
        The subjects with observations, their records and error models.
    etas : tuple of str
        The etas that vary between subjects (positive variance, not between occasions).
    omega : numpy.ndarray
        Their covariance matrix.
    modes : numpy.ndarray or None
        Each subject's estimated etas ``(n_subjects, n_eta)``; None for a model not fitted.
    method : str
        How the modes were estimated: ``"focei"``, ``"foce"``, ``"fo"``, ``"saem"``, ``"map"``
        or ``"none"``; FOCE and FO evaluate the residual variance at the population
        prediction, the others at the individual prediction.
    rows : numpy.ndarray
        The dataset row (``ROW`` of :class:`pkpd.NonmemData`) of each observation, or None.
    covariates : pandas.DataFrame or None
        The dataset's covariate columns at each observation.
    """

    cm: CompiledModel
    pop: PopulationData
    etas: tuple[str, ...]
    omega: np.ndarray
    modes: np.ndarray | None
    method: str
    rows: np.ndarray | None
    covariates: pd.DataFrame | None
    _pred: BatchPredictor | None = None
    _sens: BatchPredictor | None = None

    # -- predictions ------------------------------------------------------------------------
    def predictor(self, sensitivities: bool = False) -> BatchPredictor:
        """The batched predictor of the dataset (with sensitivities to :attr:`etas`)."""
        from ..estimation._batch import BatchPredictor
        from ..estimation._prediction import sensitivity_model

        if not sensitivities:
            if self._pred is None:
                self._pred = BatchPredictor(self.cm, self.pop, self.etas, None, [])
            return self._pred
        if self._sens is None:
            sens = sensitivity_model(self.cm, self.etas)
            if sens is None:
                raise EstimationError(f"model '{self.cm.model.name}' has dose attributes "
                                      "depending on states: no sensitivities, which WRES and "
                                      "CWRES need")
            self._sens = BatchPredictor(self.cm, self.pop, self.etas, sens, [])
        return self._sens

    def predict(self, etas: np.ndarray) -> np.ndarray:
        """Predictions ``(k, n_obs)`` for etas ``(k, n_subjects, n_eta)``."""
        return self.predictor().predict({}, etas)

    def linearised(self, etas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predictions ``(n_obs,)`` and their derivatives by the etas ``(n_obs, n_eta)`` at
        one eta vector per subject ``(n_subjects, n_eta)``."""
        f, jac = self.predictor(True).with_sensitivities({}, etas[None])
        return f[0], jac[0]

    # -- replicates -------------------------------------------------------------------------
    def replicates(self, n: int, seed: int | np.random.Generator | None
                   ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` replicates of the dataset: etas drawn from omega for every subject, then
        residual error around each prediction.

        Returns
        -------
        (predictions, observations) : numpy.ndarray, each ``(n, n_obs)``
            Without and with residual error. The random numbers are drawn up front (etas, then
            residual errors, replicate-major), so a seed gives the same replicates however
            many subjects each engine call takes.
        """
        rng = np.random.default_rng(seed)
        n_sub, n_eta = self.pop.n_subjects, len(self.etas)
        chol = np.linalg.cholesky(self.omega)
        etas = rng.standard_normal((n, n_sub, n_eta)) @ chol.T
        eps = rng.standard_normal((n, self.pop.n_obs))
        per_call = max(1, SUBJECTS_PER_CALL // max(1, self.pop.table.n_subjects))
        f = np.empty((n, self.pop.n_obs))
        for start in range(0, n, per_call):
            stop = min(n, start + per_call)
            f[start:stop] = self.predict(etas[start:stop])
        return f, self.with_error(f, eps)

    def with_error(self, f: np.ndarray, eps: np.ndarray) -> np.ndarray:
        """Observations from predictions ``f`` and standard normal draws ``eps``."""
        obs = self.pop.obs
        y = np.empty_like(f)
        for i, err in enumerate(obs.errors):
            sel = obs.output == i
            fi = f[..., sel]
            if err.exponential is not None:
                y[..., sel] = fi * np.exp(err.exponential * eps[..., sel])
            else:
                y[..., sel] = fi + err.sd(fi) * eps[..., sel]
        return y


def _omega(cm: CompiledModel) -> tuple[tuple[str, ...], np.ndarray]:
    m = cm.model
    if m.omega is None or not m.etas:
        return (), np.zeros((0, 0))
    keep = [i for i, e in enumerate(m.etas)
            if e not in m.occasion_etas and m.omega[i, i] > 0]
    omega = np.asarray(m.omega, dtype=float)[np.ix_(keep, keep)]
    return tuple(m.etas[i] for i in keep), omega


def design_from_model(model: Any, data: Any, *, outputs: Mapping[Any, str] | None = None,
                      lloq: float | str | None = None, params: Mapping[str, Any] | None = None,
                      modes: pd.DataFrame | None = None, method: str = "none") -> Design:
    """The design of ``data`` under ``model`` (a Model, CompiledModel or name), with the
    subjects' estimated etas ``modes`` (index ID, a column per eta) when there are some."""
    from .._plan import as_compiled
    from ..estimation._popdata import population_data

    cm = as_compiled(model)
    pop = population_data(cm, data, outputs=outputs, lloq=lloq, params=params, minimum=1)
    etas, omega = _omega(cm)
    if not etas:
        raise EstimationError(f"model '{cm.model.name}' has no between-subject variability "
                              "(omega): the diagnostics compare the data with it")
    est = None
    if modes is not None:
        missing = [i for i in pop.ids.tolist() if i not in modes.index]
        if missing:
            raise EstimationError(f"estimated etas missing for subject(s) "
                                  f"{', '.join(map(str, missing[:10]))}")
        est = np.zeros((pop.n_subjects, len(etas)))
        for j, e in enumerate(etas):
            if e in modes:
                est[:, j] = modes.loc[pop.ids, e].to_numpy(dtype=float)
    data = pop.data
    rows = data.observations["ROW"].to_numpy()
    covs = [c for c in data.covariate_names if c in data.frame]
    frame = data.frame.set_index("ROW").loc[rows, covs].reset_index(drop=True)
    return Design(cm, pop, etas, omega, est, method, rows, frame)


def design_of(fit: Any, data: Any = None) -> Design:
    """The design of a fit: a :class:`pkpd.PopulationFit`, a :class:`pkpd.FitResult` or a
    :class:`pkpd.SubjectFits` (``data`` overrides the dataset the fit holds)."""
    import pandas as pd

    from ..estimation import FitResult, PopulationFit, SubjectFits

    if isinstance(fit, PopulationFit):
        data = fit.data if data is None else data
        if data is None:
            raise EstimationError("this population fit holds no dataset; pass data=")
        s = fit.settings
        return design_from_model(fit.model, data, outputs=s.get("outputs"),
                                 lloq=s.get("lloq"), params=s.get("params"),
                                 modes=fit.etas, method=fit.method)
    if isinstance(fit, SubjectFits):
        ok = {i: r for i, r in fit.results.items() if isinstance(r, FitResult)}
        if not ok:
            raise EstimationError("no subject of these fits succeeded; nothing to diagnose")
        first = next(iter(ok.values()))
        data = fit.data if data is None else data
        if data is None:
            raise EstimationError("these fits hold no dataset; pass data=")
        modes = pd.DataFrame([r.model_etas for r in ok.values()],
                             index=pd.Index(list(ok), name="ID"))
        s = fit.settings
        return design_from_model(first._model, data, outputs=s.get("outputs"),
                                 lloq=s.get("lloq"), params=s.get("params"),
                                 modes=modes, method=first.method)
    if isinstance(fit, FitResult):
        if data is None:
            data = fit.data
        if data is None:
            raise EstimationError("this fit holds no dataset (it was fitted from levels); "
                                  "pass data=")
        s = fit.settings
        if s.get("occasions") is not None:
            raise EstimationError("diagnostics of a fit with per-occasion etas (occasions=) "
                                  "are not supported; fit without occasions=")
        sid = fit.predictions["ID"].iloc[0]
        modes = pd.DataFrame([fit.model_etas], index=pd.Index([sid], name="ID"))
        return design_from_model(fit._model, data, outputs=s.get("outputs"),
                                 lloq=s.get("lloq"), params=s.get("params") or None,
                                 modes=modes, method=fit.method)
    raise EstimationError(f"expected a PopulationFit, FitResult or SubjectFits, got "
                          f"{type(fit).__name__}")
