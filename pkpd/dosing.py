"""Dose optimisation: the regimen of a clinical grid that brings a patient to an exposure target.

A regimen *template* such as ``"{dose} IV over 1 h every {interval} for 10 days"`` is filled
with every candidate dose and interval (and infusion duration), each candidate is simulated for
the patient (the individual etas of a fit, or the typical patient) and its exposure metric is
compared with the target. With a fit and ``n > 0``, the probability of target attainment over
the posterior draws of the etas is computed as well.

Examples
--------
>>> from pkpd.dosing import AUC, dose_grid
>>> dose_grid("250 mg", "1 g", "250 mg")
['250 mg', '500 mg', '750 mg', '1000 mg']
>>> bool(AUC(400, 600).hit(500.0))
True
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ._targets import AUC, GRID_POINTS, Peak, Target, TimeAbove, Trough
from .errors import DataError, RegimenError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .codegen import CompiledModel
    from .estimation import FitResult
    from .events import EventTable
    from .model import Model
    from .patient import Patient

__all__ = ["AUC", "Peak", "Recommendation", "Target", "TimeAbove", "Trough", "dose_grid",
           "optimise"]

@dataclass(frozen=True, eq=False)
class Recommendation:
    """The result of :func:`optimise`.

    Attributes
    ----------
    regimen_text : str
        The chosen regimen (the template filled in), ready for :func:`pkpd.simulate`.
    dose, interval : str
        The chosen dose and interval as given in the candidate lists.
    duration : str or None
        The chosen infusion duration, if the template has ``{duration}``.
    predicted : float
        The metric predicted for the patient (individual or typical) with the chosen regimen.
    target : Target or TimeAbove
    output : str
        The model output the metric was computed on.
    pta : float or None
        Probability of target attainment over the posterior draws (with ``fit`` and ``n > 0``).
    band : (float, float) or None
        The 5th and 95th percentiles of the metric over the posterior draws, with the chosen
        regimen (with ``fit`` and ``n > 0``): the uncertainty of the predicted exposure.
    table : pandas.DataFrame
        One row per candidate: ``regimen, dose, interval, [duration], daily_dose, value, hit,
        distance, miss`` (and ``pta`` when choosing by PTA), sorted best first.

    Examples
    --------
    AUC over the last day of 20 doses of ``one_cmt`` (CL 5 L/h; at steady state daily dose /
    CL): 1000 mg every 12 h falls just short of the target's 400 mg*h/L, steady state not
    being quite reached.

    >>> rec = optimise("one_cmt", AUC(400, 600), template="{dose} PO every {interval} x 20",
    ...                window=("216 h", "240 h"), doses=["1000 mg", "1250 mg"],
    ...                intervals=["12 h", "24 h"])
    >>> rec.regimen_text, round(rec.predicted, 1)
    ('1250 mg PO every 12 h x 20', 500.0)
    >>> print(rec.table[["dose", "interval", "value", "hit"]].round(1).to_string(index=False))
       dose interval  value   hit
    1250 mg     12 h  500.0  True
    1000 mg     12 h  400.0 False
    1250 mg     24 h  250.0 False
    1000 mg     24 h  200.0 False
    """

    regimen_text: str
    dose: str
    interval: str
    duration: str | None
    predicted: float
    target: Target | TimeAbove
    output: str
    pta: float | None
    table: pd.DataFrame
    band: tuple[float, float] | None = None


def dose_grid(start: Any, stop: Any, step: Any) -> list[str]:
    """Doses from ``start`` to ``stop`` (included) by ``step``, as quantity strings in the unit
    of ``start``: ``dose_grid("250 mg", "3 g", "250 mg")`` gives ``["250 mg", ..., "3000 mg"]``.

    Raises
    ------
    RegimenError
        If ``start`` is not positive, ``step`` is not positive or ``stop < start``.
    UnitError
        If the three are not quantities of the same dimension.

    Examples
    --------
    >>> dose_grid("250 mg", "1 g", "250 mg")
    ['250 mg', '500 mg', '750 mg', '1000 mg']
    >>> dose_grid("0.5 g", "1 g", "250 mg")
    ['0.5 g', '0.75 g', '1 g']
    """
    from .units import convert, parse_quantity

    q0 = parse_quantity(start, what="dose_grid start")
    unit = f"{q0.units:~}"
    a, b = float(q0.magnitude), convert(stop, unit, what="dose_grid stop")
    h = convert(step, unit, what="dose_grid step")
    if not (a > 0 and h > 0 and b >= a):
        raise RegimenError(f"dose_grid: need 0 < start <= stop and step > 0, got start={start!r}, "
                           f"stop={stop!r}, step={step!r}")
    k = int(np.floor((b - a) / h + 1e-9))
    return [f"{a + i * h:.10g} {unit}" for i in range(k + 1)]


def _fields(template: str) -> set[str]:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise RegimenError(f"template {template!r}: {exc}") from None
    unknown = names - {"dose", "interval", "duration"}
    if unknown or not {"dose", "interval"} <= names:
        raise RegimenError(f"template {template!r}: needs the placeholders {{dose}} and "
                           f"{{interval}} (and optionally {{duration}}); found "
                           f"{sorted(names) or 'none'}")
    return names


def _patient_columns(cm: CompiledModel, patient: Any) -> dict[str, Any]:
    """The patient's covariates as one value per column."""
    from .patient import Patient, patients_table

    if patient is None:
        return {}
    if isinstance(patient, Patient):
        cols = patients_table([patient], cm.model)
        return {k: v[0] for k, v in cols.items() if k.upper() != "ID"}
    if isinstance(patient, Mapping):
        out = {}
        for k, v in patient.items():
            arr = np.atleast_1d(np.asarray(v, dtype=object))
            if arr.size != 1:
                raise DataError(f"patient: {k!r} must be one value (one patient), got {v!r}")
            out[str(k)] = arr[0]
        return out
    raise DataError(f"patient: expected a pkpd.Patient or a mapping of covariates, got "
                    f"{type(patient).__name__}")


def _rows(values: Mapping[str, Any], k: int) -> dict[str, list[Any]]:
    """``k`` identical rows of scalar values, or the given arrays of length ``k``."""
    out = {}
    for name, v in values.items():
        arr = np.asarray(v, dtype=object)
        out[name] = list(arr) if arr.ndim == 1 and arr.size == k else [v] * k
    return out


def _stack(tables: Sequence[EventTable]) -> EventTable:
    """The subjects of several tables in one, renumbered 1..N."""
    from dataclasses import replace

    from .events import EventTable

    renumbered, first = [], 1
    for t in tables:
        renumbered.append(replace(t, ids=np.arange(first, first + len(t.ids))))
        first += len(t.ids)
    return EventTable.concat(renumbered)


def optimise(
    model: Model | CompiledModel | str,
    target: Target | TimeAbove,
    *,
    template: str,
    window: tuple[Any, Any],
    doses: Sequence[str] | None = None,
    intervals: Sequence[str] = ("6 h", "8 h", "12 h", "24 h"),
    durations: Sequence[str] | None = None,
    patient: Patient | Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    fit: FitResult | None = None,
    output: str | None = None,
    n: int = 0,
    seed: int | np.random.Generator | None = None,
    by: str = "predicted",
    posterior: str = "laplace",
    start: Any = None,
) -> Recommendation:
    """Choose the regimen of a clinical grid that reaches an exposure target.

    Every candidate (dose x interval [x duration]) fills ``template``; all candidates are
    simulated together in one :func:`pkpd.simulate` call (and all candidates times all
    posterior draws in one more) for the individual patient (the etas of ``fit``) or, without
    a fit, the typical patient. Among the candidates whose metric is inside the target, the one
    closest to the middle of the window is chosen, the smaller daily dose (then the smaller
    dose) winning ties.

    Parameters
    ----------
    model : Model, CompiledModel or str
    target : AUC, Trough, Peak or TimeAbove
    template : str
        Regimen text with ``{dose}`` and ``{interval}`` (and optionally ``{duration}``), e.g.
        ``"{dose} IV over 1 h every {interval} for 10 days"``.
    window : (start, end)
        The evaluation window, e.g. ``("216 h", "240 h")`` for the last day of 10 days (numbers
        in the model's time unit). Trough, Peak and TimeAbove use a grid of
        :data:`GRID_POINTS` intervals over it; AUC uses its end and ``target.over``.
    doses : sequence of str
        Candidate doses as quantity strings (see :func:`dose_grid`). Default: 250 mg to
        3000 mg by 250 mg.
    intervals : sequence of str
        Candidate dosing intervals.
    durations : sequence of str, optional
        Candidate infusion durations, for a template with ``{duration}``.
    patient : Patient or mapping, optional
        The patient's covariates (one patient); others take their defaults.
    params : mapping, optional
        Fixed values for :func:`pkpd.simulate` ``params=`` (typical values, etas).
    fit : FitResult, optional
        The patient's individual fit (:func:`pkpd.fit_individual`): its etas and fixed values
        are used for the prediction, its posterior for the PTA.
    output : str, optional
        The model output of the target (default: the model's first output).
    n : int
        Posterior draws for the probability of target attainment (needs ``fit``).
    seed : int or numpy.random.Generator, optional
        Seed of the posterior draws (the same draws are used for every candidate).
    by : {"predicted", "pta"}
        Choose by the predicted metric (above), or by the highest PTA over the posterior draws
        of every candidate (ties: closest predicted metric to the middle, smaller daily dose).
    posterior : {"laplace", "sir", "mcmc"}
        How the posterior draws are made (:meth:`pkpd.FitResult.posterior`).
    start : float, Quantity or str, optional
        Continue the patient's treatment: each candidate begins at ``start`` after the dose
        history of ``fit`` (:meth:`pkpd.FitResult.after_history`), and ``window`` is on the
        history's clock (e.g. ``start="48 h"``, ``window=("120 h", "144 h")``). Default: each
        candidate alone from time 0.

    Returns
    -------
    Recommendation

    Raises
    ------
    RegimenError
        Malformed template or candidates, or no candidate reaches the target (the message lists
        the closest candidates and their metric).
    DataError
        ``by="pta"`` or ``n > 0`` without a fit, or an invalid window or patient.

    Examples
    --------
    The regimen of a grid that brings the typical patient of ``one_cmt`` (CL 5 L/h) to an AUC
    over 24 h of 400-600 mg*h/L at steady state (daily dose / CL: 2000-3000 mg a day; the
    middle, 500, is 2500 mg a day). The template gives no route: the model's default (PO).

    >>> from pkpd.dosing import AUC, dose_grid, optimise
    >>> rec = optimise("one_cmt", AUC(400, 600), template="{dose} every {interval} for 10 days",
    ...                window=("216 h", "240 h"), doses=dose_grid("250 mg", "1500 mg", "250 mg"),
    ...                intervals=["12 h", "24 h"])
    >>> rec.dose, rec.interval, round(rec.predicted, 1)
    ('1250 mg', '12 h', 500.0)
    """
    import pandas as pd

    from ._plan import as_compiled, events_for
    from .simulation import simulate
    from .units import convert, parse_quantity, registry

    if by not in ("predicted", "pta"):
        raise DataError(f"optimise: by={by!r} must be 'predicted' or 'pta'")
    if int(n) != n or n < 0:
        raise DataError(f"optimise: n = {n!r} must be a non-negative integer")
    if (n > 0 or by == "pta") and fit is None:
        raise DataError("optimise: the probability of target attainment (n > 0 or by='pta') "
                        "needs the patient's fit (fit=pkpd.fit_individual(...))")
    if by == "pta" and n == 0:
        raise DataError("optimise: by='pta' needs n > 0 posterior draws")
    if start is not None and fit is None:
        raise DataError("optimise: start= continues the dose history of a fit; give "
                        "fit=pkpd.fit_individual(...)")
    names = _fields(template)
    if ("duration" in names) != (durations is not None):
        raise RegimenError(f"template {template!r}: durations= must be given exactly when the "
                           "template has a {duration} placeholder")
    doses = list(doses) if doses is not None else dose_grid("250 mg", "3000 mg", "250 mg")
    intervals, durs = list(intervals), list(durations) if durations is not None else [None]
    if not doses or not intervals or not durs:
        raise RegimenError("optimise: doses, intervals and durations must not be empty")

    cm = as_compiled(model)
    out_name = output if output is not None else cm.output_names[0]
    if out_name not in cm.output_names:
        raise DataError(f"optimise: output {out_name!r} is not an output of the model; its "
                        f"outputs are {', '.join(cm.output_names)}")
    tunit = cm.model.time_unit
    t0, t1 = (convert(w, tunit, what="optimise window") for w in window)
    if not 0.0 <= t0 < t1:
        raise DataError(f"optimise: window {window!r} must have 0 <= start < end")
    if isinstance(target, AUC):
        a0 = t1 - convert(target.over, tunit, what="AUC over")
        if a0 < 0:
            raise DataError(f"optimise: AUC over {target.over} reaches before time 0 from the "
                            f"window end {window[1]!r}")
        times = np.array([a0, t1])
    else:
        times = np.linspace(t0, t1, GRID_POINTS + 1)

    ureg = registry()
    day = ureg.Quantity(1.0, "day")
    q_doses = [parse_quantity(d, what=f"dose {d!r}") for d in doses]
    d_unit = q_doses[0].units
    fixed = {**(params or {}), **(fit.fixed if fit is not None else {}),
             **(fit.model_etas if fit is not None else {})}
    covs = _patient_columns(cm, patient)

    weight = covs.get("WT", fixed.get("WT"))

    def lowered(text: str) -> EventTable:
        """One candidate's records, after the patient's history with ``start``."""
        try:
            if start is not None:
                assert fit is not None
                return fit.after_history(text, start)
            wt = None if weight is None else np.array([convert(weight, "kg", what="WT")])
            table, _, _ = events_for(cm, text, 1, lambda: wt)
            return table
        except RegimenError as exc:
            raise RegimenError(f"candidate {text!r}: {exc}") from None

    def metric(tables: Sequence[EventTable], values: Mapping[str, Any], k: int) -> np.ndarray:
        """The metric of every candidate (rows) for ``k`` parameter sets (columns): one
        simulation of all of them, k subjects per candidate."""
        stacked = _stack([t.repeat(k) for t in tables])
        given = {c: v for c, v in covs.items() if c not in stacked.cov_names}
        m = len(tables)
        ds = simulate(cm, stacked, _rows(given, k * m) or None,
                      params={c: np.tile(v, m) for c, v in _rows(values, k).items()} or None,
                      times=times, auc=[out_name] if isinstance(target, AUC) else False)
        return np.asarray(target.value(ds, out_name).to_numpy(), dtype=float).reshape(m, k)

    draws = fit.sample(int(n), seed, method=posterior) if fit is not None and n > 0 else None
    draws = {**_rows(params or {}, int(n)), **draws} if draws is not None else None

    rows = []
    for dose, qd in zip(doses, q_doses, strict=True):
        if not qd.magnitude > 0:
            raise RegimenError(f"dose {dose!r} must be positive")
        for interval in intervals:
            q_int = parse_quantity(interval, what=f"interval {interval!r}")
            daily = float((qd * (day / q_int)).to(d_unit).magnitude)
            for dur in durs:
                rows.append({"regimen": template.format(dose=dose, interval=interval,
                                                        duration=dur),
                             "dose": dose, "interval": interval, "duration": dur,
                             "daily_dose": daily})
    tables = [lowered(r["regimen"]) for r in rows]
    for row, value in zip(rows, metric(tables, fixed, 1)[:, 0], strict=True):
        row["value"] = float(value)
    per_draw = None
    if by == "pta":
        assert draws is not None
        per_draw = metric(tables, draws, int(n))
        for row, v in zip(rows, per_draw, strict=True):
            row["pta"] = float(np.mean(target.hit(v)))
    table = pd.DataFrame(rows)
    if durations is None:
        table = table.drop(columns="duration")
    table["hit"] = target.hit(table["value"])
    table["distance"] = target.distance(table["value"])
    table["miss"] = target.miss(table["value"])
    table.attrs["daily_dose_unit"] = f"{d_unit:~}/day"

    if by == "pta":
        table = table.sort_values(["pta", "hit", "distance", "daily_dose"],
                                  ascending=[False, False, True, True], kind="stable")
        ok = table["pta"] > 0
    else:
        table = table.sort_values(["hit", "distance", "daily_dose"],
                                  ascending=[False, True, True], kind="stable")
        ok = table["hit"]
    table = table.reset_index(drop=True)
    if not ok.any():
        near = table.sort_values(["miss", "daily_dose"], kind="stable").head(3)
        listed = "; ".join(f"{r.regimen!r}: {r.value:.4g}" for r in near.itertuples())
        raise RegimenError(f"optimise: no candidate reaches {target} "
                           f"({len(table)} candidates); the closest are {listed}")
    best = table.iloc[0]
    pta = band = None
    if draws is not None:
        values = (per_draw[[r["regimen"] for r in rows].index(best["regimen"])]
                  if per_draw is not None else metric([lowered(str(best["regimen"]))], draws,
                                                      int(n))[0])
        pta = float(np.mean(target.hit(values)))
        band = (float(np.quantile(values, 0.05)), float(np.quantile(values, 0.95)))
    return Recommendation(
        regimen_text=str(best["regimen"]), dose=str(best["dose"]),
        interval=str(best["interval"]),
        duration=str(best["duration"]) if durations is not None else None,
        predicted=float(best["value"]), target=target, output=out_name, pta=pta, table=table,
        band=band)
