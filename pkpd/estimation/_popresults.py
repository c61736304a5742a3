"""The result of a population fit (:class:`PopulationFit`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..model import Model

__all__ = ["PopulationFit"]


@dataclass(frozen=True, eq=False)
class PopulationFit:
    """The result of :func:`pkpd.fit_population`.

    Attributes
    ----------
    model : Model
        The model with the estimates in place (thetas, omega, sigmas): simulate it directly.
    method : {"focei", "foce", "fo", "saem"}
    ofv : float
        The objective function value on NONMEM's scale: -2 log likelihood without the
        ``n_obs log(2 pi)`` constant (add :attr:`n_obs` ``* log(2 pi)`` for -2 log L).
    ofv_method : str
        How :attr:`ofv` was computed (e.g. "FOCE-I (Laplace, interaction)", or for SAEM
        "FOCE-I evaluated at the SAEM estimates").
    estimates : dict of str to float
        Every parameter by its layout name (``"TVCL"``, ``"omega(eta_CL)"``,
        ``"omega(eta_CL,eta_V)"``, ``"CP.additive"``): thetas in model units, omegas as
        variances and covariances, sigmas as SDs; fixed ones included at their values.
    estimated : tuple of str
        The names that were estimated (the others were fixed).
    se, rse : dict of str to float
        Standard errors and relative standard errors (%, ``100 SE / |estimate|``) of the
        estimated parameters (empty when the covariance step was not run or failed).
    covariance : pandas.DataFrame or None
        Covariance matrix of the estimates (on the scale of :attr:`estimates`).
    correlation : pandas.DataFrame or None
    condition_number : float
        Largest over smallest eigenvalue of the correlation matrix (NaN without one).
    covariance_status : str
        ``"ok (sandwich)"``, ``"not requested"``, or what failed and why.
    provenance : dict of str to str
        Where the result came from: the model (name, hash, file and its sha256, or "python"),
        the data (file and sha256), dependency versions, platform, method and UTC time.
    etas : pandas.DataFrame
        The conditional modes (empirical Bayes estimates) of each subject's etas (index ID).
    predictions : pandas.DataFrame
        One row per observation: ``ID, TIME, CMT, OUTPUT, DV, BLQ, LLOQ, PRED`` (population
        prediction, etas 0), ``IPRED`` (at the subject's etas) and ``IWRES``.
    history : pandas.DataFrame
        One row per outer iteration: ``iteration, ofv, gradient_norm`` and the parameters.
    success : bool
        Whether the optimiser met its convergence criterion and every estimated parameter is
        determined by the data (no flat direction of the objective at the estimates, judged
        on the R matrix of the covariance step; not judged when ``covariance=None``).
    status : str
        The termination status in words (with "not identifiable: <parameters>" when some are
        not).
    runtime : float
        Wall time in seconds (covariance step included).
    n_obs, n_subjects : int
    n_evaluations : int
        Objective evaluations (each one a whole dataset) of the outer problem.
    details : dict
        Method-specific information (SAEM: the parameter trace; FOCE-I: inner convergence;
        ``identification``: the parameters not identifiable and the condition number of the
        R matrix).
    warnings : list of str
        What makes the estimates doubtful although the fit ran: "not identifiable: <names>
        (...; condition number ...)" when the data do not determine some parameters (also
        issued as a :class:`~pkpd.errors.PkpdWarning`).
    data : NonmemData
        The dataset fitted (for :func:`pkpd.diagnostics` and :func:`pkpd.vpc`).
    settings : dict
        The ``outputs``, ``lloq`` and ``params`` the fit was given.

    Examples
    --------
    Ten subjects simulated from ``theophylline_1cmt`` (between-subject variability and
    residual error), one 320 mg oral dose each, as a NONMEM-format table:

    >>> import pkpd
    >>> from pkpd.testing.datasets import simulated_oral
    >>> frame = simulated_oral("theophylline_1cmt", 320, times=[0.5, 1, 2, 4, 8, 12, 24])
    >>> fit = pkpd.fit_population("theophylline_1cmt", frame)
    >>> fit.method, fit.success, fit.etas.shape
    ('focei', True, (10, 3))
    >>> sorted(fit.estimates)
    ['CP.additive', 'TVCL', 'TVKA', 'TVV', 'omega(eta_CL)', 'omega(eta_KA)', 'omega(eta_V)']
    >>> list(fit.predictions.columns[-3:])
    ['PRED', 'IPRED', 'IWRES']
    """

    model: Model
    method: str
    ofv: float
    ofv_method: str
    estimates: dict[str, float]
    estimated: tuple[str, ...]
    se: dict[str, float]
    rse: dict[str, float]
    covariance: pd.DataFrame | None
    correlation: pd.DataFrame | None
    condition_number: float
    covariance_status: str
    etas: pd.DataFrame
    predictions: pd.DataFrame
    history: pd.DataFrame
    success: bool
    status: str
    runtime: float
    n_obs: int
    n_subjects: int
    n_evaluations: int
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    data: Any = field(default=None, repr=False)
    settings: dict[str, Any] = field(default_factory=dict, repr=False)
    provenance: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def minus_two_log_likelihood(self) -> float:
        """-2 log L including the ``n_obs log(2 pi)`` constant (as R's ``-2 * logLik``)."""
        return self.ofv + self.n_obs * float(np.log(2 * np.pi))

    def summary(self) -> pd.DataFrame:
        """One row per parameter: ``kind, estimate, se, rse, fixed``."""
        import pandas as pd

        layout = self.model.parameter_layout
        rows = [{"name": e.name, "kind": e.kind, "estimate": self.estimates[e.name],
                 "se": self.se.get(e.name, np.nan), "rse": self.rse.get(e.name, np.nan),
                 "fixed": e.name not in self.estimated} for e in layout.entries]
        return pd.DataFrame(rows).set_index("name")

    def __repr__(self) -> str:
        return (f"PopulationFit({self.model.name!r}, {self.method}, OFV {self.ofv:.4f}, "
                f"{self.n_subjects} subjects, {self.status!r})")
