"""The diagnostics of a fit as one table joined to the dataset rows (:func:`diagnose`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._provenance import provenance
from ..errors import EstimationError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

__all__ = ["Diagnostics", "diagnose"]

#: The residual columns of :attr:`Diagnostics.table`, in order.
COLUMNS = ("PRED", "IPRED", "EPRED", "RES", "IRES", "WRES", "CWRES", "IWRES", "PD", "NPDE")


@dataclass(frozen=True, eq=False)
class Diagnostics:
    """The diagnostics of a fit (see :func:`diagnose`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per observation, in dataset order: ``ROW`` (the dataset row), ``ID, TIME,
        CMT`` (and ``DVID``), ``OUTPUT, DV, BLQ, LLOQ``, the dataset's covariates at that row,
        then ``PRED`` (etas 0), ``IPRED`` (at the estimated etas), ``EPRED`` (mean of the
        simulated observations), ``RES = DV - PRED``, ``IRES = DV - IPRED``, ``WRES``,
        ``CWRES``, ``IWRES``, ``PD`` and ``NPDE``. Residuals of censored (BLQ) levels are NaN.
        Weighted residuals are on the error model's scale (logarithms for exponential error).
    etas : pandas.DataFrame
        One row per subject (index ID): the estimated etas and the subject's covariates at its
        first observation, for eta-versus-covariate plots.
    shrinkage : pandas.DataFrame
        Eta shrinkage (rows = etas; columns ``sd`` and ``variance``, %: NONMEM's ETASHRINKSD
        and ETASHRINKVR) and epsilon shrinkage (rows = outputs, column ``sd``: ``100 (1 -
        SD(IWRES))``); the ``kind`` column says which.
    npde_tests : pandas.DataFrame
        The tests that NPDE are standard normal (see
        :func:`pkpd.diagnostics._npde.npde_tests`), over all outputs.
    model : str
    method : str
        The estimation method of the fit (its residual variance is used by CWRES).
    n_sim : int
        Replicates of the dataset simulated for EPRED, PD and NPDE.
    seed : Any
    npde_moments : str
        Where the moments of NPDE's decorrelation came from (``"independent"`` replicates, or
        the ``"same"`` ones ranked against).
    units : dict
        The unit of DV (and of PRED, IPRED, EPRED, RES, IRES) of each output.
    time_unit : str
        The unit of TIME (the model's time unit).
    provenance : dict of str to str
        Model (name, hash, source file and its sha256), data file and its sha256, versions,
        platform, seed, method and replicates, UTC time; also among the attributes of
        :meth:`to_xarray`.

    Examples
    --------
    Ten subjects simulated from ``theophylline_1cmt`` (between-subject variability and
    residual error), one 320 mg oral dose each, as a NONMEM-format table:

    >>> import pkpd
    >>> from pkpd.testing.datasets import simulated_oral
    >>> frame = simulated_oral("theophylline_1cmt", 320, times=[0.5, 1, 2, 4, 8, 12, 24])
    >>> d = pkpd.diagnose(None, frame, model="theophylline_1cmt", n_sim=100, seed=1)
    >>> d.table.shape, list(d.table.columns[-4:])
    ((70, 18), ['CWRES', 'IWRES', 'PD', 'NPDE'])
    >>> list(d.npde_tests.index)
    ['mean', 'variance', 'normality', 'global']
    """

    table: pd.DataFrame
    etas: pd.DataFrame
    shrinkage: pd.DataFrame
    npde_tests: pd.DataFrame
    model: str
    method: str
    n_sim: int
    seed: Any
    npde_moments: str = "independent"
    units: dict[str, str] = field(default_factory=dict)
    time_unit: str = ""
    provenance: dict[str, str] = field(default_factory=dict)

    def to_xarray(self) -> xr.Dataset:
        """The table as an :class:`xarray.Dataset` over dimension ``obs`` (units in attrs)."""
        ds = self.table.rename_axis("obs").to_xarray()
        for name in ("DV", "PRED", "IPRED", "EPRED", "RES", "IRES"):
            if name in ds and len(set(self.units.values())) == 1:
                ds[name].attrs["units"] = next(iter(self.units.values()))
        if self.time_unit:
            ds["TIME"].attrs["units"] = self.time_unit
        ds.attrs.update(self.provenance)
        ds.attrs.update(model=self.model, method=self.method, n_sim=self.n_sim)
        return ds

    def summary(self) -> pd.DataFrame:
        """Mean and SD of each residual by output (CWRES, IWRES and NPDE should be about 0
        and 1 under the model)."""
        cols = ["RES", "IRES", "WRES", "CWRES", "IWRES", "NPDE"]
        return self.table.groupby("OUTPUT")[cols].agg(["mean", "std"])

    def __repr__(self) -> str:
        return (f"Diagnostics(model={self.model!r}, method={self.method!r}, "
                f"{len(self.table)} observations, {len(self.etas)} subjects, "
                f"n_sim={self.n_sim})")


def diagnose(fit: Any, data: Any = None, *, n_sim: int = 1000,
                seed: int | np.random.Generator | None = 1, model: Any = None,
                outputs: Mapping[Any, str] | None = None, lloq: float | str | None = None,
                params: Mapping[str, Any] | None = None,
                npde_moments: str = "independent") -> Diagnostics:
    """Residual diagnostics of a fit: PRED, IPRED, RES, WRES, CWRES, IWRES, NPDE, shrinkage.

    Parameters
    ----------
    fit : PopulationFit, FitResult, SubjectFits or None
        A fit (it holds its model, dataset and estimated etas). With None, ``model`` and
        ``data`` are diagnosed at the model's own values without estimated etas (only PRED,
        RES, WRES, EPRED, PD and NPDE).
    data : NonmemData, DataFrame or path, optional
        The dataset (default: the one the fit holds).
    n_sim : int
        Replicates of the dataset simulated (between-subject variability and residual error)
        for EPRED, PD and NPDE (and as many again for the moments of NPDE's decorrelation);
        0 skips them.
    seed : int or Generator, optional
        Random numbers of the replicates.
    npde_moments : {"independent", "same"}
        Where each subject's mean and covariance for the decorrelation of NPDE come from: a
        second set of ``n_sim`` replicates (default; NPDE exactly N(0, 1) under the model), or
        the replicates ranked against, as the npde package does (slightly over-dispersed with
        many levels per subject). See :mod:`pkpd.diagnostics._npde`.
    model, outputs, lloq, params
        For ``fit=None``: as in :func:`pkpd.fit_population`.

    Returns
    -------
    Diagnostics
        ``.table`` (one row per observation, joined to the dataset's rows and covariates),
        ``.etas``, ``.shrinkage``, ``.npde_tests``.

    Notes
    -----
    WRES linearises the model at eta = 0 (NONMEM's FO weighted residuals); CWRES at each
    subject's estimated etas (Hooker AC, Staatz CE, Karlsson MO. Conditional weighted residuals
    (CWRES): a model diagnostic for the FOCE method. Pharm Res 2007;24:2187-97); NPDE as
    Comets E, Brendel K, Mentré F, Comput Methods Programs Biomed 2008;90:154-66. See
    :mod:`pkpd.diagnostics` for the formulas.

    Examples
    --------
    Ten subjects simulated from ``theophylline_1cmt`` (between-subject variability and
    residual error), one 320 mg oral dose each, as a NONMEM-format table:

    >>> import pkpd
    >>> from pkpd.testing.datasets import simulated_oral
    >>> frame = simulated_oral("theophylline_1cmt", 320, times=[0.5, 1, 2, 4, 8, 12, 24])
    >>> fit = pkpd.fit_population("theophylline_1cmt", frame)
    >>> d = pkpd.diagnose(fit, n_sim=100, seed=1)
    >>> list(d.shrinkage.index), d.table.shape
    (['eta_KA', 'eta_CL', 'eta_V', 'CP'], (70, 18))

    The theophylline study of the shared data folder (not in the repository, so not run here):

    >>> fit = pkpd.fit_population("theophylline_1cmt", "theophylline.csv")  # doctest: +SKIP
    >>> d = pkpd.diagnose(fit, n_sim=1000, seed=1)                     # doctest: +SKIP
    >>> d.table[["ID", "TIME", "DV", "PRED", "IPRED", "CWRES", "NPDE"]]    # doctest: +SKIP
    >>> d.shrinkage                                                       # doctest: +SKIP
    """
    import pandas as pd

    from ._design import design_from_model, design_of
    from ._npde import npde, npde_tests
    from ._residuals import residuals, shrinkage

    if int(n_sim) != n_sim or n_sim < 0:
        raise EstimationError(f"n_sim = {n_sim!r} must be a non-negative integer")
    if npde_moments not in ("independent", "same"):
        raise EstimationError(f"npde_moments={npde_moments!r}; valid: 'independent', 'same'")
    if fit is None:
        if model is None or data is None:
            raise EstimationError("diagnostics without a fit need model= and data=")
        design = design_from_model(model, data, outputs=outputs, lloq=lloq, params=params)
    else:
        if model is not None or outputs is not None or lloq is not None or params is not None:
            raise EstimationError("model=, outputs=, lloq= and params= come from the fit; give "
                                  "them only with fit=None")
        design = design_of(fit, data)
    pop = design.pop
    table = pop.obs.frame.copy()
    table.insert(0, "ROW", design.rows)
    if design.covariates is not None:
        for c in design.covariates:
            if c not in table:
                table[c] = design.covariates[c].to_numpy()
    cols = residuals(design)
    if n_sim:
        _, sims = design.replicates(2 * int(n_sim) if npde_moments == "independent"
                                    else int(n_sim), seed)
        cols |= npde(design, sims[:n_sim], sims[n_sim:] if npde_moments == "independent"
                     else None)
    for name in COLUMNS:
        table[name] = cols.get(name, np.full(pop.n_obs, np.nan))

    shrink = shrinkage(design, cols.get("IWRES"))
    rows = [{"name": e, "kind": "eta", "sd": shrink["eta_sd"][e],
             "variance": shrink["eta_var"][e]} for e in shrink["eta_sd"]]
    rows += [{"name": o, "kind": "epsilon", "sd": v, "variance": float("nan")}
             for o, v in shrink["epsilon"].items()]
    shrink_df = (pd.DataFrame(rows, columns=["name", "kind", "sd", "variance"])
                 .set_index("name"))

    index = pd.Index(pop.ids, name="ID")
    etas = pd.DataFrame(design.modes if design.modes is not None
                        else np.zeros((pop.n_subjects, 0)),
                        index=index, columns=list(design.etas) if design.modes is not None
                        else [])
    if design.covariates is not None and len(design.covariates.columns):
        first = table.groupby("ID", sort=False).first()
        for c in design.covariates:
            etas[c] = first.loc[pop.ids, c].to_numpy()
    out_units = {o.name: o.unit for o in design.cm.model.outputs}
    units = {o: out_units.get(o, "") for o in pop.obs.outputs}
    return Diagnostics(table=table, etas=etas, shrinkage=shrink_df,
                       npde_tests=npde_tests(table["NPDE"].to_numpy()),
                       model=design.cm.model.name, method=design.method,
                       n_sim=int(n_sim), seed=seed, npde_moments=npde_moments, units=units,
                       time_unit=design.cm.model.time_unit,
                       provenance=provenance(design.cm.model, data=design.pop.data, seed=seed,
                                             settings={"method": design.method,
                                                       "n_sim": int(n_sim)}))
