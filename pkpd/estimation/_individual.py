"""Individual fits: MAP Bayesian and maximum likelihood, for one subject
(:func:`fit_individual`); each subject of a dataset: :mod:`pkpd.estimation._subjects`."""

from __future__ import annotations

import time as _time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .._provenance import provenance
from ..errors import EstimationError
from ._data import Observations, fixed_values, from_levels, observations, read_subject
from ._identifiability import posterior_covariance
from ._optimise import Minimum, minimise, quiet
from ._prediction import Objective, sensitivity_model
from ._results import FitResult

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..codegen import CompiledModel
    from ..events import EventTable
    from ..io.nonmem import NonmemData
    from ..model import Model
    from ..patient import Patient

__all__ = ["fit_individual"]

#: Step of the finite-difference Hessian, as a fraction of each eta's prior SD (or of its
#: posterior SD where that is smaller): second differences of the objective
#: (finite-difference gradients) ...
HESS_STEP = 1e-2
#: ... or central differences of the exact gradient.
HESS_STEP_EXACT = 1e-4
#: Smallest eigenvalue of a positive definite Hessian, relative to its largest (below it the
#: differences cannot tell it from zero).
HESS_RTOL = 1e-8


@dataclass(frozen=True)
class _Problem:
    """A subject's fit set up: data read, observations, fixed values and the objective."""

    cm: CompiledModel
    data: NonmemData
    obs: Observations
    given: dict[str, float]
    names: list[str]
    prior: np.ndarray | None
    objective: Objective
    outputs: Mapping[Any, str] | None = None


def _problem(model: Model | CompiledModel | str, data: Any, *,
             patient: Patient | Mapping[str, Any] | None, params: Mapping[str, Any] | None,
             outputs: Mapping[Any, str] | None, method: str, estimate: Sequence[str] | None,
             lloq: float | str | None, gradient: str, levels: Any = None,
             occasions: Any = None) -> _Problem:
    """Read and check everything :func:`fit_individual` is given; build the objective."""
    if levels is not None:
        from .._plan import as_compiled

        model = as_compiled(model)
        data, outputs = from_levels(model, data, levels, patient, outputs)
    cm, data = read_subject(model, data)
    m = cm.model
    omega = None if m.omega is None else np.asarray(m.omega, dtype=float)
    obs = observations(cm, data, outputs, lloq)
    given, fixed = fixed_values(cm, data, params, patient)

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
        return replace(_per_occasion_problem(cm, data, obs, given, fixed, table, names,
                                             omega, method, gradient, occasions),
                       outputs=outputs)
    sens = None if gradient == "fd" else sensitivity_model(cm, names)
    if gradient == "exact" and sens is None:
        raise EstimationError(f"gradient='exact': model '{m.name}' has dose attributes "
                              "depending on states, for which there are no sensitivities; use "
                              "gradient='auto'")
    objective = Objective(cm, table, obs, fixed, names, precision, sens)
    return _Problem(cm, data, obs, given, names, prior, objective, outputs)


def _precision(cov: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The inverse of a prior covariance, by its Cholesky factor."""
    try:
        inv = np.linalg.inv(np.linalg.cholesky(cov))
    except np.linalg.LinAlgError:
        raise EstimationError(f"omega of {', '.join(names)} is not positive definite; "
                              "estimate only etas with a positive variance") from None
    return inv.T @ inv


def _per_occasion_problem(cm: CompiledModel, data: NonmemData, obs: Observations,
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
    probe = Objective(cm, table, obs, fixed, iiv, None, None, occasions, bov)
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
    sens = None if gradient == "fd" else sensitivity_model(cm, iiv + bov, bov)
    if gradient == "exact" and sens is None:
        raise EstimationError(f"gradient='exact': model '{m.name}' has dose attributes "
                              "depending on states, for which there are no sensitivities; use "
                              "gradient='auto'")
    objective = Objective(cm, table, obs, fixed, all_names, precision, sens, occasions, bov)
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

    Convergence is judged on relative scales (:mod:`pkpd.estimation._optimise`): BFGS stops
    when the largest gradient component times ``max(1, |eta_i|)`` is at most 1e-6 of
    ``max(1, |OFV|)``. Where it stops short (its line search fails on a badly scaled valley,
    or its iterations run out), a trust-region Newton method on the differenced Hessian goes
    on from the lowest point, until that criterion holds or the decrease it predicts to the
    optimum, ``g' H^-1 g / 2``, is at most 1e-9 of ``max(1, |OFV|)``. ``success`` is True
    only when one of the criteria is met and the Hessian is positive definite (its smallest
    eigenvalue above 1e-8 of its largest, the precision of the differences); ``message``
    says which criterion ended the fit, or why none was met. Trial points whose predictions
    overflow count as +inf, without warnings.

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
        Raise :class:`EstimationError` when the fit fails (no convergence criterion met, or a
        Hessian that is not positive definite) (default); with False, return the result with
        ``success=False`` (and a NaN covariance if the Hessian is not positive definite).
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
    Two levels measured after a single oral dose of 320 mg of theophylline; then the
    posterior band of a course of 6 doses:

    >>> import pkpd
    >>> levels = {"TIME": [2.0, 12.0], "DV": [9.1, 5.2]}          # h, mg/L
    >>> fit = pkpd.fit_individual("theophylline_1cmt", "320 mg PO", levels=levels)
    >>> fit.success, sorted(fit.se)
    (True, ['eta_CL', 'eta_KA', 'eta_V'])
    >>> band = pkpd.simulate("theophylline_1cmt", "320 mg PO q12h x 6",
    ...                      params=fit.sample(1000, seed=1), times="0..72 h by 1 h")
    >>> band["CP"].shape
    (1000, 73)

    """
    import pandas as pd

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
    # the start's objective and gradient, for the minimiser (without sensitivities, or where
    # that is not finite, the objective alone)
    start0 = quiet(objective.value_and_gradient, x0) if sens is not None else (np.inf, x0)
    f0 = start0[0] if np.isfinite(start0[0]) else quiet(objective, x0[None, :])[0]
    if not np.isfinite(f0):
        terms = quiet(objective.terms, objective.predict(x0[None, :]))[0]
        rows = data.observations["ROW"].to_numpy()[~np.isfinite(terms)]
        raise EstimationError(f"the objective is not finite at eta = 0: dataset row(s) "
                              f"{', '.join(map(str, rows[:10]))} (a zero prediction with a "
                              "proportional-only or exponential error model?)")

    sd_prior = (np.sqrt(np.diag(prior)) if prior is not None else np.full(n, np.nan))
    step = HESS_STEP_EXACT if sens is not None else HESS_STEP
    h = step * np.where(np.isfinite(sd_prior) & (sd_prior > 0), sd_prior, 1.0)

    def run(x_start: np.ndarray, start: tuple[float, np.ndarray] | None = None) -> Minimum:
        return minimise(objective.value_and_gradient, x_start,
                        lambda x: objective.hessian(x, h), maxiter=200 * n, start=start)

    res = run(x0, start0 if np.isfinite(start0[0]) else None)
    if starts > 1:
        # more starting points, drawn from twice the prior SD (unit SD without a prior): keep
        # the lowest objective
        from ..variability import sample_etas

        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        spread = 4.0 * prior if prior is not None else np.eye(n)
        for x_start in sample_etas(spread, starts - 1, rng):
            other = run(x_start)      # inf where the objective is not finite at x_start
            tie = abs(other.fun - res.fun) <= 1e-9 * max(1.0, abs(res.fun))
            if other.fun < res.fun - 1e-9 or (tie and other.converged and not res.converged):
                res = other
    x = np.asarray(res.x, dtype=float)
    grad_max = float(np.max(np.abs(res.jac))) if np.all(np.isfinite(res.jac)) else np.inf
    converged, message = res.converged, res.message

    hess = quiet(objective.hessian, x, h)
    # informative levels make the posterior much narrower than the prior: then differences
    # again with steps on the posterior's scale
    with np.errstate(invalid="ignore", divide="ignore"):
        diag = np.diag(hess)
        sd_post = np.sqrt(2.0 / diag)     # the SD of each eta with the others fixed
    if np.all(np.isfinite(sd_post)) and np.any(step * sd_post < 0.5 * h):
        hess = quiet(objective.hessian, x, np.minimum(h, step * sd_post))
    cov, ident = posterior_covariance((hess + hess.T) / 4, names, HESS_RTOL)
    if not np.all(np.isfinite(cov)):
        converged = False
        lam = ident.eigenvalues
        message += (f"; but the Hessian of the objective is not positive definite at the "
                    f"optimum (eigenvalues {lam[0]:.3g} to {lam[-1]:.3g}: the etas are not all "
                    "determined; estimate fewer, or use method='map')"
                    + (f"; {ident.message}" if not ident.ok else ""))
    if not converged and check:
        raise EstimationError(f"fit of subject {data.ids[0]} (model '{m.name}', method "
                              f"'{method}') failed: {message}; largest gradient component "
                              f"{grad_max:.3g} at etas {dict(zip(names, x.round(4), strict=True))}")
    ident.warn(f"fit of subject {data.ids[0]} (model '{m.name}', method '{method}')")

    f = objective.predict_rows(np.vstack([np.zeros(n), x]))
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
        _covariates=covariates, _history=events, data=data,
        settings={"outputs": problem.outputs, "lloq": lloq, "params": dict(fixed),
                  "occasions": occasions},
        provenance=provenance(m, data=data, settings={"method": method,
                                                      "gradient": "exact" if sens is not None
                                                      else "fd"}))
