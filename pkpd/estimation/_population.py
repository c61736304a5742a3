"""Population estimation (:func:`fit_population`): FOCE-I, FOCE and FO as NONMEM defines them,
and SAEM, on NONMEM-format datasets."""

from __future__ import annotations

import os
import sys
import time as _time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .._provenance import provenance
from ..errors import EstimationError, PkpdWarning
from ._foce import METHODS, Evaluation, evaluate
from ._outer import minimise_outer
from ._popresults import PopulationFit

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..codegen import CompiledModel
    from ..io.nonmem import NonmemData
    from ..model import Model
    from ._batch import BatchPredictor
    from ._covariance import CovarianceStep
    from ._parameters import Transform
    from ._popdata import PopulationData

__all__ = ["fit_population"]

#: A variance estimated below this is at its bound (its log is not determined by the data).
ZERO_VARIANCE = 1e-8
#: After this many seconds, report progress (when stderr is a terminal or progress=True).
PROGRESS_AFTER = 2.0
NAMES = {"fo": "FO (first order)", "foce": "FOCE (no interaction)",
         "focei": "FOCE-I (Laplace, interaction)"}


class Problem:
    """A population problem set up: model, data, parameter layout and the batched objective.

    ``batch(X)`` evaluates the objective of ``method`` at the rows of ``X`` (unconstrained
    parameter vectors), warm-starting the inner problems from the last modes found.
    """

    def __init__(self, cm: CompiledModel, pop: PopulationData, transform: Transform,
                 pred: BatchPredictor, etas: tuple[str, ...], method: str) -> None:
        self.cm, self.pop, self.transform, self.pred = cm, pop, transform, pred
        self.etas, self.method = etas, method
        self.modes = np.zeros((pop.n_subjects, len(etas)))
        self.n_evaluations = 0
        self.settings: dict[str, Any] = {}

    def evaluate_values(self, points: list[dict[str, float]], method: str | None = None,
                        warm: bool = True) -> Evaluation:
        """The objective at parameter values (every layout entry by name)."""
        ev = evaluate(self.pred, self.pop, self.transform.layout, points, self.etas,
                      method or self.method, self.modes[None] if warm else None)
        self.n_evaluations += len(points)
        return ev

    def refresh_modes(self, x: np.ndarray) -> None:
        """Guard against a subject's conditional density having several modes: the modes at
        ``x`` found from the last ones and from eta = 0; each subject keeps the better."""
        values = [self.transform.to_values(x)]
        warm = self.evaluate_values(values)
        cold = self.evaluate_values(values, warm=False)
        better = cold.subject[0] < warm.subject[0] - 1e-9
        self.modes = np.where(better[:, None], cold.etas[0], warm.etas[0])

    def batch(self, xs: np.ndarray) -> Evaluation:
        return self.evaluate_values([self.transform.to_values(x) for x in xs])

    def objective(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ev = self.batch(xs)
        return ev.ofv, ev.subject


def setup(model: Model | CompiledModel | str, data: Any, method: str, *,
          outputs: Mapping[Any, str] | None, lloq: float | str | None,
          params: Mapping[str, Any] | None, initial: Mapping[str, float] | None) -> Problem:
    """Check everything :func:`fit_population` is given and build the problem."""
    from .._plan import as_compiled
    from ._batch import BatchPredictor
    from ._parameters import Transform
    from ._popdata import population_data
    from ._prediction import sensitivity_model

    if method not in (*METHODS, "saem"):
        raise EstimationError(f"method={method!r}; valid: 'focei', 'foce', 'fo', 'saem'")
    cm = as_compiled(model)
    m = cm.model
    if m.omega is None or not m.etas:
        raise EstimationError(f"model '{m.name}' has no etas: population estimation needs "
                              "between-subject variability ([variability] omega)")
    bov = [e for e in m.occasion_etas if m.omega[m.etas.index(e), m.etas.index(e)] > 0]
    if bov:
        raise EstimationError(f"model '{m.name}': between-occasion etas ({', '.join(bov)}) are "
                              "not estimated by fit_population yet; fix their variance to 0 "
                              "or use a model without them")
    pop = population_data(cm, data, outputs=outputs, lloq=lloq, params=params)
    layout = m.parameter_layout
    initial = dict(initial or {})
    unknown = [k for k in initial if k not in layout.values]
    if unknown:
        raise EstimationError(f"initial: {', '.join(unknown)} are not parameters of model "
                              f"'{m.name}'; valid: {', '.join(layout.values)}")
    clash = [k for k in pop.fixed if k in m.etas]
    if clash:
        raise EstimationError(f"params: etas ({', '.join(clash)}) cannot be fixed in a "
                              "population fit; fix their omega in the model instead")
    # parameters given in params= are fixed at those values
    entries = tuple(replace(e, fixed=True, value=pop.fixed[e.name])
                    if e.name in pop.fixed else e for e in layout.entries)
    layout = replace(layout, entries=entries)
    values = {**layout.values, **initial}
    etas = tuple(e for e in m.etas if values[f"omega({e})"] > 0)
    if not etas:
        raise EstimationError(f"model '{m.name}': every eta has a zero variance")
    transform = Transform(layout, etas, values)
    if transform.size == 0:
        raise EstimationError(f"model '{m.name}': every parameter is fixed; nothing to estimate")
    sens = sensitivity_model(cm, etas)
    if sens is None:
        raise EstimationError(f"model '{m.name}' has dose attributes depending on states: no "
                              "sensitivities, which population estimation needs")
    thetas = [e.name for e in layout.select("theta") if e.name not in pop.fixed]
    problem = Problem(cm, pop, transform, BatchPredictor(cm, pop, etas, sens, thetas), etas,
                      method if method != "saem" else "focei")
    problem.settings = {"outputs": None if outputs is None else dict(outputs), "lloq": lloq,
                        "params": None if params is None else dict(params)}
    return problem


def fit_population(
    model: Model | CompiledModel | str,
    data: NonmemData | pd.DataFrame | str,
    method: str = "focei",
    *,
    outputs: Mapping[Any, str] | None = None,
    lloq: float | str | None = None,
    params: Mapping[str, Any] | None = None,
    initial: Mapping[str, float] | None = None,
    covariance: str | None = "sandwich",
    maxiter: int = 500,
    progress: bool | Callable[[str], None] | None = None,
    seed: int | np.random.Generator | None = None,
    saem: Mapping[str, Any] | None = None,
    starts: int = 1,
    checkpoint: str | os.PathLike[str] | None = None,
) -> PopulationFit:
    """Estimate a population model from a NONMEM-format dataset.

    ``method`` is one of

    ``"focei"``
        First-order conditional estimation with interaction (NONMEM's FOCE-I): for each
        subject the conditional mode of its etas (inner problem: damped Gauss-Newton with the
        exact gradient from the model's forward sensitivities, all subjects in one engine call
        per step, parallel over subjects); the Laplace approximation of the marginal likelihood
        with the interaction term (see :mod:`pkpd.estimation._foce`); outer BFGS over thetas,
        omegas (diagonal and blocks, through their Cholesky factors) and sigmas on an
        unconstrained scale, with a central-difference gradient whose 2p + 1 points run in one
        batch, the inner problems warm-started.
    ``"foce"``, ``"fo"``
        The same without interaction (residual variance at the population prediction), and
        the first-order method (linearised at eta = 0).
    ``"saem"``
        Stochastic approximation EM as Monolix and nlmixr2 run it (Metropolis-Hastings
        kernels for the etas, stochastic approximation of the sufficient statistics, closed-form
        M-step for mu-referenced thetas, omega and one-component residual errors, a Newton
        step for the rest; see :mod:`pkpd.estimation._saem`);
        its OFV is the FOCE-I objective evaluated at the SAEM estimates (``ofv_method`` says
        so), and its standard errors come from the FOCE-I covariance step there.

    The objective (``ofv``) is on NONMEM's scale: -2 log likelihood without the
    ``n_obs log(2 pi)`` constant.

    Parameters
    ----------
    model : Model, CompiledModel or str
        A model with etas (omega) and an error model for every output observed. Initial
        values, bounds and fixed flags come from its parameter layout
        (``model.parameter_layout``; the model file's ``fixed``, ``lower``, ``upper``).
    data : NonmemData, DataFrame or path
        The dataset (:func:`pkpd.read_nonmem`); subjects without observations are simulated
        but add nothing.
    method : {"focei", "foce", "fo", "saem"}
    outputs : mapping, optional
        Observation CMT (or DVID) -> output name, as in :func:`pkpd.fit_individual`.
    lloq : float or str, optional
        LLOQ (or its column) for censored levels (M3), as in :func:`pkpd.fit_individual`.
    params : mapping, optional
        Parameters or covariates held at given values (fixed thetas, covariates not in the
        dataset).
    initial : mapping, optional
        Initial values by layout name (``{"TVCL": 3.0, "omega(eta_CL)": 0.2}``).
    covariance : {"sandwich", "r", "s"} or None
        The covariance step: ``R⁻¹SR⁻¹`` (NONMEM's default), ``2R⁻¹`` or ``4S⁻¹`` (on the
        -2 log L scale); None skips it. A failed step is reported in ``covariance_status``.
    maxiter : int
        Outer iterations (SAEM: see ``saem``).
    progress : bool or callable, optional
        Print (or pass to the callable) one line per iteration: iteration, OFV, gradient norm.
        Default: to stderr when it is a terminal, once the fit has run 2 s.
    seed : int or Generator, optional
        Random numbers of SAEM and of the extra starting points.
    starts : int
        FOCE-family fits: optimisations to run, from the initial values and from
        ``starts - 1`` points drawn around them (each unconstrained parameter moved by
        N(0, 0.5^2): about ±50 % on thetas, omegas and sigmas); the lowest OFV is kept and
        ``details["starts"]`` lists every start's OFV and status. Sparse data and
        absorption models can have local optima (a flip-flop solution, a variance near
        zero); more starts guard against them.
    saem : mapping, optional
        SAEM options: ``burn`` (iterations of the exploration phase, default 300), ``em``
        (smoothing phase, default 200), ``chains`` (per subject, default 2; raised to
        ``ceil(50 / subjects)`` when that is larger: more chains for small datasets).
    checkpoint : str or path-like, optional
        A file in which the fit saves its state after every outer iteration (FOCE family:
        the BFGS state, the history and the inner modes; SAEM: the chains, statistics,
        estimates and the random generator's state), replaced atomically, as JSON (see
        :mod:`pkpd.estimation._checkpoint`). If the file exists, the fit resumes from it and
        ends at the same estimates as a fit never interrupted; once the fit is finished the
        file holds the final result, and the same call returns it without optimising again.
        The file records the model hash, the data's sha256, the method, the options and the
        seed: a checkpoint of another run raises an EstimationError naming what differs (delete
        the file to start afresh). Needs ``starts=1`` and an integer ``seed`` (or None).

    Returns
    -------
    PopulationFit

    Raises
    ------
    EstimationError
        Bad arguments, a model without etas, between-occasion etas, fewer than two subjects
        with observations, an objective that is not finite at the initial values; a
        checkpoint file that is unreadable or belongs to another run.

    Examples
    --------
    Ten subjects simulated from ``theophylline_1cmt`` (between-subject variability and
    residual error), one 320 mg oral dose each, as a NONMEM-format table:

    >>> import pkpd
    >>> from pkpd.testing.datasets import simulated_oral
    >>> frame = simulated_oral("theophylline_1cmt", 320, times=[0.5, 1, 2, 4, 8, 12, 24])
    >>> fit = pkpd.fit_population("theophylline_1cmt", frame)
    >>> fit.success, fit.covariance_status
    (True, 'ok (sandwich)')
    >>> bool(abs(fit.estimates["TVCL"] / 2.8 - 1) < 0.15)   # the typical CL simulated: 2.8 L/h
    True

    With a checkpoint file the fit can be stopped (a crash, a kill) and taken up again; run
    once more, a finished fit returns its result without optimising:

    >>> import pathlib, tempfile
    >>> ckpt = pathlib.Path(tempfile.mkdtemp()) / "theo.ckpt"
    >>> fit = pkpd.fit_population("theophylline_1cmt", frame, checkpoint=ckpt)
    >>> again = pkpd.fit_population("theophylline_1cmt", frame, checkpoint=ckpt)
    >>> again.ofv == fit.ofv, again.details["checkpoint"]["resumed_from"]
    (True, 'final')

    With a model file and a dataset of one's own (placeholder names, so not run here):

    >>> fit = pkpd.fit_population("my_model.toml", "trial.csv")      # doctest: +SKIP
    >>> fit.estimates["TVCL"], fit.rse["TVCL"], fit.ofv               # doctest: +SKIP

    """
    start = _time.perf_counter()
    if covariance not in (None, "sandwich", "r", "s"):
        raise EstimationError(f"covariance={covariance!r}; valid: 'sandwich', 'r', 's' or None")
    if int(maxiter) != maxiter or maxiter < 1:
        raise EstimationError(f"maxiter = {maxiter!r} must be a positive integer")
    if int(starts) != starts or starts < 1:
        raise EstimationError(f"starts = {starts!r} must be a positive integer")
    problem = setup(model, data, method, outputs=outputs, lloq=lloq, params=params,
                    initial=initial)
    ckpt = None
    phase, state = "", None
    if checkpoint is not None:
        from ._checkpoint import Checkpoint, run_identity

        if starts != 1:
            raise EstimationError(f"checkpoint= needs starts=1 (got starts={starts})")
        ckpt = Checkpoint(checkpoint, run_identity(problem, method, seed, {
            "outputs": outputs, "lloq": lloq, "params": params, "initial": initial,
            "covariance": covariance, "maxiter": maxiter, "saem": saem, "starts": starts}))
        phase, state = ckpt.load() or ("", None)
    report = _reporter(progress, start)
    x0 = problem.transform.to_x()
    first = problem.batch(x0[None])
    if not np.isfinite(first.ofv[0]):
        bad = problem.pop.ids[~np.isfinite(first.subject[0])]
        raise EstimationError(f"the objective is not finite at the initial values: subject(s) "
                              f"{', '.join(map(str, bad[:10]))} (a zero prediction with a "
                              "proportional or exponential error model?)")
    problem.modes = first.etas[0]
    details: dict[str, Any] = {}
    save = None if ckpt is None else (lambda st: ckpt.save("running", st))
    if phase in ("done", "final"):
        assert state is not None
        x, history, success, status = (state["x"], state["history"], bool(state["success"]),
                                       state["status"])
        details = state["details"]
        problem.modes, problem.n_evaluations = state["modes"], int(state["n_evaluations"])
    elif method == "saem":
        from ._saem import run_saem

        x, history, success, status, details = run_saem(
            problem, x0, seed=seed, options=dict(saem or {}), report=report, resume=state,
            save=save)
    else:
        x, history, success, status = minimise_outer(problem, x0, int(maxiter), report,
                                                     resume=state, save=save)
        if starts > 1:
            x, history, success, status, details = _more_starts(
                problem, x0, (x, history, success, status), int(starts), int(maxiter), seed,
                report)
    outcome = {"x": x, "history": history, "success": success, "status": status,
               "details": details, "modes": problem.modes,
               "n_evaluations": problem.n_evaluations}
    if ckpt is not None and phase not in ("done", "final"):
        ckpt.save("done", outcome)
    step = None
    if phase == "final" and state is not None and state.get("covariance") is not None:
        from ._covariance import CovarianceStep

        step = CovarianceStep(**state["covariance"])
    fit, step = _result(problem, x, history, success, status, covariance, start, details, step)
    if ckpt is not None:
        if step is not None:
            outcome["covariance"] = {"cov": step.cov, "r": step.r, "s": step.s,
                                     "status": step.status}
        if phase != "final":
            ckpt.save("final", outcome)
        fit.details["checkpoint"] = {"path": str(ckpt.path), "resumed_from": phase or "start"}
    if seed is not None:   # the root of SAEM's or the extra starts' random streams
        fit.provenance["seed"] = ("a numpy Generator (not reproducible from the record)"
                                  if isinstance(seed, np.random.Generator) else str(seed))
    return fit


def _reporter(progress: bool | Callable[[str], None] | None, start: float
              ) -> Callable[[str], None]:
    def report(line: str) -> None:
        if callable(progress):
            progress(line)
        elif progress or (progress is None and sys.stderr.isatty()
                          and _time.perf_counter() - start > PROGRESS_AFTER):
            print(line, file=sys.stderr, flush=True)
    return report


def _more_starts(problem: Problem, x0: np.ndarray, best: tuple[Any, ...], starts: int,
                 maxiter: int, seed: int | np.random.Generator | None,
                 report: Callable[[str], None]) -> tuple[Any, ...]:
    """Further optimisations from points drawn around ``x0``; the lowest OFV is kept."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    runs = [best]
    for k in range(1, starts):
        x_start = x0 + rng.normal(0.0, 0.5, len(x0))
        problem.modes = np.zeros_like(problem.modes)
        if not np.isfinite(problem.batch(x_start[None]).ofv[0]):
            report(f"start {k + 1}: objective not finite at its starting point; skipped")
            continue
        report(f"start {k + 1} of {starts}")
        runs.append(minimise_outer(problem, x_start, maxiter, report))
    ofvs = [float(problem.batch(r[0][None]).ofv[0]) for r in runs]
    order = sorted(range(len(runs)), key=lambda i: (not runs[i][2], ofvs[i]))
    x, history, success, status = runs[order[0]]
    problem.modes = problem.batch(x[None]).etas[0]
    table = [{"start": i + 1, "ofv": ofvs[i], "success": runs[i][2], "status": runs[i][3]}
             for i in range(len(runs))]
    status += (f"; best of {len(runs)} starts (OFV "
               + ", ".join(f"{ofvs[i]:.3f}" for i in order) + ")")
    return x, history, success, status, {"starts": table}


def _result(problem: Problem, x: np.ndarray, history: list[dict[str, Any]], success: bool,
            status: str, covariance: str | None, start: float, details: dict[str, Any],
            step: CovarianceStep | None = None) -> tuple[PopulationFit, CovarianceStep | None]:
    """The fit at ``x``, with the covariance step (``step``: one computed before, e.g. read
    from a checkpoint); returns the fit and the covariance step."""
    import pandas as pd

    from ._covariance import covariance_step
    from ._identifiability import identification
    from ._likelihood import residual_sd, scaled, with_sigmas

    tr, pop, pred = problem.transform, problem.pop, problem.pred
    values = tr.to_values(x)
    problem.refresh_modes(x)
    final = problem.evaluate_values([values])
    problem.modes = final.etas[0]
    names = tr.names
    se: dict[str, float] = {}
    rse: dict[str, float] = {}
    cov_df = corr_df = None
    cond = float("nan")
    cov_status = "not requested"
    if covariance is not None:
        if step is None:
            step = covariance_step(problem.objective, x, tr.jacobian(x), covariance)
        cov_status = step.status
        if step.ok:
            sd = np.sqrt(np.diag(step.cov))
            se = dict(zip(names, map(float, sd), strict=True))
            rse = {n: 100.0 * s / abs(values[n]) if values[n] != 0 else float("inf")
                   for n, s in se.items()}
            with np.errstate(divide="ignore", invalid="ignore"):   # an SD of 0: a variance
                corr = step.cov / np.outer(sd, sd)                 # estimated at 0
            cov_df = pd.DataFrame(step.cov, index=names, columns=names)
            corr_df = pd.DataFrame(corr, index=names, columns=names)
            w = np.linalg.eigvalsh(corr) if np.all(np.isfinite(corr)) else np.zeros(1)
            cond = float(w.max() / w.min()) if w.min() > 0 else float("inf")
    notes: list[str] = []
    if step is not None:   # flat directions of the objective (R): parameters not identified
        ident = identification(step.r, names)
        details = {**details, "identification": {
            "not_identifiable": list(ident.names),
            "condition_number": ident.condition_number}}
        if not ident.ok:
            zero = [n for n in ident.names if n.startswith("omega(") and "," not in n
                    and values[n] < ZERO_VARIANCE]
            message = ident.message + "".join(
                f"; {n} = {values[n]:.2g}: a variance at its bound 0 (fix it to 0, or drop "
                "its eta)" for n in zero)
            success = False
            status += f"; but {message}"
            notes.append(message)
            warnings.warn(f"population fit of model '{problem.cm.model.name}': {message}",
                          PkpdWarning, stacklevel=3)
    thetas = {n: np.array([values[n]]) for n in pred.thetas}
    f_pop = pred.predict(thetas, np.zeros((1, pop.n_subjects, len(problem.etas))))[0]
    ipred = final.ipred[0]
    obs = with_sigmas(pop.obs, {s: values[s] for e in pop.obs.errors for s in e.sigmas})
    with np.errstate(divide="ignore", invalid="ignore"):
        _, fx, yx, _, _, _ = scaled(obs, ipred)
        iwres = np.where(obs.censored, np.nan, (yx - fx) / residual_sd(obs, ipred))
    preds = obs.frame.copy()
    preds["PRED"] = f_pop
    preds["IPRED"] = ipred
    preds["IWRES"] = iwres
    etas = pd.DataFrame(final.etas[0], index=pd.Index(pop.ids, name="ID"),
                        columns=list(problem.etas))
    details = {**details, "inner_converged": bool(final.converged.all()),
               "dropped_subjects": list(pop.dropped),
               "n_simulations": pred.n_simulations, "n_subject_solves": pred.n_subject_solves}
    fitted = tr.layout.apply(problem.cm.model, {k: v for k, v in values.items()
                                                if k not in pop.fixed})
    method = "saem" if details.get("saem") else problem.method
    return PopulationFit(
        model=fitted, method=method, ofv=float(final.ofv[0]),
        ofv_method=details.get("ofv_method", NAMES[problem.method]),
        estimates=dict(values), estimated=tuple(names), se=se, rse=rse, covariance=cov_df,
        correlation=corr_df, condition_number=cond, covariance_status=cov_status, etas=etas,
        predictions=preds, history=pd.DataFrame(history), success=success, status=status,
        runtime=_time.perf_counter() - start, n_obs=pop.n_obs, n_subjects=pop.n_subjects,
        n_evaluations=problem.n_evaluations, details=details, warnings=notes, data=pop.data,
        settings=dict(problem.settings),
        provenance=provenance(problem.cm.model, data=pop.data, settings={"method": method})
    ), step
