"""Inputs to engine arrays: what :func:`pkpd.simulate`, :mod:`pkpd.scale`, :mod:`pkpd.dosing`
and :mod:`pkpd.estimation` share (internal).

:func:`plan` checks and lowers the arguments of a simulation (model, events, subject tables,
output times, sampling) into what :func:`pkpd.engine.run` takes: the prepared records, the
per-subject parameter matrix ``q`` and the covariate slots. Callers that simulate the same
subjects many times with other parameter values (individual fits) plan once and call the engine
with their own ``q``. The smaller steps are shared too: :func:`as_compiled` (a model, compiled
model or name to a compiled model), :func:`events_for` (the ``events`` argument to an event
table), :func:`table_columns` (a subject table to arrays) and :func:`parse_times`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError, ModelError, RegimenError, UnitError

if TYPE_CHECKING:  # pragma: no cover
    from ._sampling import Streams
    from .codegen import CompiledModel
    from .events import EventTable
    from .model import Model

__all__ = ["Plan", "as_compiled", "events_for", "parse_times", "plan", "table_columns"]

_RANGE = re.compile(
    r"^\s*(?P<start>[-+0-9.eE]+)\s*(?P<u1>[^.\d\s][^.]*?)?\s*\.\.\s*(?P<stop>[-+0-9.eE]+)\s*"
    r"(?P<u2>[^\s\d][\w/*^]*)?\s+by\s+(?P<step>[-+0-9.eE]+)\s*(?P<u3>\S+)?\s*$")


def parse_times(times: Any, time_unit: str) -> np.ndarray:
    """Read output times into a float array in the model's time unit.

    Accepts an array of numbers (already in ``time_unit``), a pint Quantity array, a list of
    quantities or strings (``["0 h", "1 d"]``), or text such as ``"0..168 h by 0.5 h"``
    (``start..stop [unit] by step [unit]``, stop included when it falls on the grid).

    Raises
    ------
    UnitError
        For unreadable text, a wrong dimension, or non-finite, negative or decreasing times.
    """
    from .units import convert, registry

    ureg = registry()
    if isinstance(times, str):
        m = _RANGE.match(times)
        if not m:
            raise UnitError(f"times: cannot read {times!r}; expected e.g. '0..168 h by 0.5 h'")
        unit = m["u2"] or m["u1"] or m["u3"] or time_unit
        start = convert(f"{m['start']} {m['u1'] or unit}", time_unit, what="times start")
        stop = convert(f"{m['stop']} {unit}", time_unit, what="times stop")
        step = convert(f"{m['step']} {m['u3'] or unit}", time_unit, what="times step")
        if not step > 0 or stop < start:
            raise UnitError(f"times: {times!r} needs step > 0 and stop >= start")
        n = int(np.floor((stop - start) / step * (1 + 1e-12))) + 1
        arr = start + step * np.arange(n)
    elif isinstance(times, ureg.Quantity):
        try:
            arr = np.atleast_1d(times.to(time_unit).magnitude).astype(float)
        except Exception:
            raise UnitError(f"times: {times.units} is not a time unit "
                            f"(model time unit {time_unit})") from None
    elif isinstance(times, (list, tuple)) and any(isinstance(v, (str, ureg.Quantity))
                                                  for v in times):
        arr = np.array([convert(v, time_unit, what="times") for v in times])
    else:
        try:
            arr = np.atleast_1d(np.asarray(times, dtype=float))
        except (TypeError, ValueError):
            raise UnitError("times: expected numbers, a Quantity array or text like "
                            "'0..24 h by 1 h'") from None
    if arr.ndim != 1 or not len(arr):
        raise UnitError("times: need a non-empty one-dimensional sequence")
    if not np.all(np.isfinite(arr)):
        raise UnitError(f"times: value {arr[~np.isfinite(arr)][0]} is not finite")
    if np.any(arr < 0):
        raise UnitError(f"times: negative time {arr[arr < 0][0]}")
    if np.any(np.diff(arr) < 0):
        raise UnitError("times: must be in increasing order")
    return arr


def as_compiled(model: Model | CompiledModel | str) -> CompiledModel:
    from .codegen import CompiledModel, compile_model

    if isinstance(model, CompiledModel):
        return model
    if isinstance(model, str):
        from .library import load_model

        model = load_model(model)
    from .model import Model

    if not isinstance(model, Model):
        raise ModelError(f"model: expected a pkpd.Model, a CompiledModel or a model name, "
                         f"got {type(model).__name__}")
    return compile_model(model)


def table_columns(table: Any, what: str) -> tuple[dict[str, np.ndarray], int, np.ndarray | None]:
    """Columns of a DataFrame or mapping of arrays as float arrays, the row count, and IDs."""
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        cols = {str(c): table[c].to_numpy() for c in table.columns}
    elif isinstance(table, Mapping):
        cols = {str(k): np.atleast_1d(np.asarray(v)) for k, v in table.items()}
    else:
        raise DataError(f"{what}: expected a pandas DataFrame or a dict of arrays, "
                        f"got {type(table).__name__}")
    ids = None
    for key in list(cols):
        if key.upper() == "ID":
            ids = np.asarray(cols.pop(key))
    lengths = {len(v) for v in cols.values()}
    if ids is not None:
        lengths.add(len(ids))
    if len(lengths) > 1:
        raise DataError(f"{what}: columns have different lengths {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    return cols, n, ids


def subject_matrix(cm: CompiledModel, n_sub: int, sources: Sequence[tuple[str, Any]],
                    skip_covariates: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Stack each subject's q vector: typical values, then columns of params/patients tables."""
    from ._covariate_checks import warn_implausible
    from .units import convert

    layout = cm.layout
    q = np.tile(cm.q_template, (n_sub, 1))
    model = cm.model
    cov_units = {c.name: c.unit for c in model.covariates}
    settable = list(model.parameter_names) + list(model.etas) + list(model.covariate_names)
    ids = None
    for what, table in sources:
        if table is None:
            continue
        cols, n, tids = table_columns(table, what)
        if n != n_sub:
            raise DataError(f"{what}: has {n} rows but there are {n_sub} subjects")
        if tids is not None:
            ids = tids
        for name, values in cols.items():
            if name not in settable:
                if what == "patients":
                    continue  # a patient table may describe more than this model uses
                raise DataError(f"{what}: column {name!r} is not a parameter, eta or covariate "
                                f"of model '{model.name}'; valid: {', '.join(settable)}")
            if name in skip_covariates:
                raise DataError(f"{what}: covariate {name!r} is already given by the dataset")
            if values.dtype.kind in "fiub":
                arr = values.astype(float)
            else:
                unit = cov_units.get(name)
                if unit is None:
                    unit = next(p.unit for p in model.parameters if p.name == name) \
                        if name in model.parameter_names else ""
                arr = np.array([convert(v, unit, what=f"{what} column {name} row {i + 1}")
                                for i, v in enumerate(values)])
            bad = np.flatnonzero(~np.isfinite(arr))
            if len(bad):
                raise DataError(f"{what}: column {name!r} row {bad[0] + 1} is not a finite "
                                f"number ({values[bad[0]]!r})")
            if name in cov_units:
                warn_implausible(what, name, arr, cov_units[name])
            q[:, layout.index(name)] = arr
    return q, ids


def patient_list(patients: Any) -> list[Any] | None:
    """The patients as a list if given as Patient objects (one or a sequence), else None."""
    from .patient import Patient

    if isinstance(patients, Patient):
        return [patients]
    if isinstance(patients, (list, tuple)) and patients and all(
            isinstance(p, Patient) for p in patients):
        return list(patients)
    return None


def with_timeseries(table: EventTable, plist: list[Any], model: Model) -> EventTable:
    """One block of records per patient: the regimen's doses plus a record (EVID 2) at each
    change of a covariate, with the covariates on every record (LOCF: a value holds from its
    time on, and a change at the time of a dose applies to that dose)."""
    import pandas as pd

    from .events import EventTable

    frames = []
    for s, patient in enumerate(plist):
        doses = table.subject(s if table.n_subjects > 1 else 0).to_frame().drop(columns="ID")
        changes = patient.timeseries_frame(model).assign(EVID=2, AMT=0.0, CMT=0, RATE=0.0,
                                                         II=0.0, ADDL=0, SS=0)
        f = pd.concat([changes, doses], ignore_index=True).sort_values("TIME", kind="stable")
        covs = list(model.covariate_names)
        f[covs] = f[covs].ffill().bfill()
        frames.append(f)
    sizes = np.array([len(f) for f in frames])
    allf = pd.concat(frames, ignore_index=True)
    names = tuple(model.covariate_names)
    return EventTable(
        ids=np.array([p.id if p.id is not None else i + 1 for i, p in enumerate(plist)]),
        offsets=np.concatenate([[0], np.cumsum(sizes)]), time=allf["TIME"].to_numpy(float),
        evid=allf["EVID"].to_numpy(np.int64), amt=allf["AMT"].to_numpy(float),
        cmt=allf["CMT"].to_numpy(np.int64), rate=allf["RATE"].to_numpy(float),
        ii=allf["II"].to_numpy(float), addl=allf["ADDL"].to_numpy(np.int64),
        ss=allf["SS"].to_numpy(np.int64), cov=allf[list(names)].to_numpy(float),
        cov_names=names, cov_interp=("locf",) * len(names),
        output=np.zeros(len(allf), dtype=bool))


def occasion_args(cm: CompiledModel, prep: Any, occasions: Any, q: np.ndarray,
                  streams: Streams | None, sources: tuple[str, ...], n_sub: int, n_smp: int,
                  time_unit: str) -> dict[str, Any]:
    """Occasion of each prepared record and the between-occasion eta values per subject and
    occasion (drawn when "bov" is sampled, occasion ``o`` of a subject from stream
    ``(2, block, o)`` of :class:`pkpd._sampling.Streams`; else the values in q, 0 for the
    typical subject)."""
    m = cm.model
    if not m.occasion_etas:
        if occasions is not None:
            raise DataError(f"occasions: model '{m.name}' has no between-occasion etas")
        return {}
    if occasions is None:
        occ = np.zeros(len(prep.time), dtype=np.int64)
    elif isinstance(occasions, str):
        codes, occ = np.unique(prep.cov[:, -1], return_inverse=True)
        if not np.all(np.isfinite(codes)):
            raise DataError(f"occasions: column {occasions!r} has missing values")
    else:
        starts = parse_times(occasions, time_unit)
        occ = np.clip(np.searchsorted(starts, prep.time, side="right") - 1, 0, None)
    n_occ = int(occ.max()) + 1
    slots = np.array([cm.layout.index(e) for e in m.occasion_etas], dtype=np.int64)
    values = np.repeat(q[:, slots], n_occ, axis=0)          # row s * n_occ + occasion
    if streams is not None and "bov" in sources:
        from ._sampling import BOV, correlate
        from .variability import omega_factor

        idx = [m.etas.index(e) for e in m.occasion_etas]
        factor = omega_factor(np.asarray(m.omega)[np.ix_(idx, idx)])
        draws = np.stack([correlate(streams.normals(BOV, n_sub, (n_smp, len(idx)), o), factor)
                          for o in range(n_occ)], axis=2)   # (subject, sample, occasion, eta)
        values = draws.reshape(n_sub * n_smp * n_occ, len(idx))
    return {"occasion": occ.astype(np.int64), "bov_slot": slots, "bov_values": values}


def columns_given(table: Any) -> set[str]:
    if table is None:
        return set()
    return set(table_columns(table, "table")[0])


def sample_parameters(cm: CompiledModel, q: np.ndarray, n: int, streams: Streams,
                      sources: tuple[str, ...], uncertainty: Any, fixed: set[str]) -> np.ndarray:
    """Repeat each subject's q ``n`` times (row s*n + k) and draw the sampled sources.

    Each source has its own streams (:mod:`pkpd._sampling`): parameter uncertainty ``n`` draws
    from stream ``(0,)``, sample k shared by all subjects; the etas of subject ``i`` (``n`` of
    them, one per sample) from the stream of its block of subjects, ``(1, i // BLOCK)``.
    """
    from ._sampling import IIV, UNCERTAINTY, correlate
    from .variability import SOURCES, omega_factor, sample_thetas

    unknown = [v for v in sources if v not in SOURCES]
    if unknown:
        raise DataError(f"variability: {', '.join(unknown)} unknown; valid: {', '.join(SOURCES)}")
    m = cm.model
    n_sub = q.shape[0]
    q = np.repeat(q, n, axis=0)
    if "uncertainty" in sources:
        if uncertainty is None:
            raise DataError("variability 'uncertainty' needs `uncertainty=` (a covariance "
                            "matrix of the estimates or a table of bootstrap estimates)")
        thetas = sample_thetas(m.parameter_names, cm.q_template[cm.layout.theta_slice],
                               uncertainty, n, streams.generator(UNCERTAINTY))
        for name, values in thetas.items():
            if name not in fixed:
                q[:, cm.layout.index(name)] = np.tile(values, n_sub)
    elif uncertainty is not None:
        raise DataError("`uncertainty` is given but 'uncertainty' is not in `variability`")
    if "iiv" in sources and m.etas:
        if m.omega is None:
            raise ModelError(f"model '{m.name}' has etas but no omega: cannot sample them")
        factor = omega_factor(m.omega)
        z = streams.normals(IIV, n_sub, (n, factor.shape[1]))
        etas = correlate(z, factor).reshape(n_sub * n, factor.shape[0])
        for i, name in enumerate(m.etas):
            if name not in fixed:
                q[:, cm.layout.index(name)] = etas[:, i]
    return q


def weights_kg(model: Model, tables: Sequence[Any], n_sub: int) -> np.ndarray | None:
    """Body weight of each subject in kg (for per-kg doses): a WT column of the tables, else the
    default of the model's WT covariate, else None."""
    from .units import convert

    unit = next((c.unit for c in model.covariates if c.name == "WT"), "kg")
    to_kg = convert(f"1 {unit}", "kg", what="WT")
    for tab in tables:
        if tab is not None:
            cols, _, _ = table_columns(tab, "patients")
            if "WT" in cols:
                values = cols["WT"]
                if values.dtype.kind in "fiu":
                    return values.astype(float) * to_kg
                # a number is in the covariate's unit; a string or quantity carries its own
                return np.array([convert(w, unit, what="WT") for w in values]) * to_kg
    default = next((c.default for c in model.covariates if c.name == "WT"), None)
    return None if default is None else np.full(n_sub, float(default) * to_kg)


def events_for(cm: CompiledModel, events: Any, n_sub: int,
                weights: Callable[[], np.ndarray | None]
                ) -> tuple[EventTable, np.ndarray | None, bool]:
    """Lower the ``events`` argument to an EventTable with one block per subject.

    Returns the table, the subject ids it defines (None for a regimen), and whether it is a
    dataset (each subject its own records).
    """
    from .events import Dose, EventTable, Regimen
    from .io.nonmem import NonmemData

    if events is None:   # no dose: the model from its initial conditions
        empty = np.zeros(0)
        return EventTable(ids=np.array([1]), offsets=np.array([0, 0]), time=empty,
                          evid=empty.astype(np.int64), amt=empty, cmt=empty.astype(np.int64),
                          rate=empty, ii=empty, addl=empty.astype(np.int64),
                          ss=empty.astype(np.int64)), None, False
    if isinstance(events, str):
        events = Regimen.parse(events)
    if isinstance(events, Dose):
        events = Regimen.single(events)
    if isinstance(events, Regimen):
        if not any(part.dose.per_weight for part in events.parts):
            return events.to_events(cm.model), None, False
        wt = weights()
        if wt is not None and np.all(wt == wt[0]):
            wt = wt[:1]  # one weight for everyone: lower the regimen once
        return events.to_events(cm.model, weight=wt), None, False
    if isinstance(events, NonmemData):
        events = events.events
    if isinstance(events, EventTable):
        events.check(cm.model)
        return events, np.asarray(events.ids), True
    raise RegimenError(f"events: expected a Regimen, regimen text, a Dose, NonmemData, an "
                       f"EventTable or None (no dose), got {type(events).__name__}")


@dataclass(frozen=True)
class Plan:
    """Everything :func:`pkpd.simulate` hands to the engine, checked (see :func:`plan`)."""

    cm: CompiledModel
    table: EventTable
    prep: Any
    q: np.ndarray
    cov_slot: np.ndarray
    cov_nocb: np.ndarray
    ids: np.ndarray
    ids_run: np.ndarray
    occ_args: dict[str, Any]
    out_times: np.ndarray | None
    wanted: list[str]
    n_sub: int
    n_smp: int
    streams: Streams | None


def plan(model: Model | CompiledModel | str, events: Any, patients: Any, *, params: Any,
         times: Any, outputs: Sequence[str] | None, n: int | None,
         seed: int | np.random.SeedSequence | np.random.Generator | Streams | None,
         variability: Sequence[str],
         uncertainty: Any, occasions: Any) -> Plan:
    """Check and lower the inputs of :func:`pkpd.simulate` (everything but the run): the
    prepared records, the per-subject parameter matrix ``q`` and the covariate slots. Callers
    that simulate the same subjects many times with other parameter values (individual fits)
    plan once and call :func:`pkpd.engine.run` with their own ``q``."""
    from . import engine

    cm = as_compiled(model)
    m = cm.model

    plist = patient_list(patients)
    n_tab = None
    if plist is not None:
        from .patient import patients_table

        patients = patients_table(plist, m)
        if not patients:   # a model without covariates: one subject per patient, no columns
            patients, n_tab = None, len(plist)
    # number of subjects from the tables, if any
    for what, tab in (("params", params), ("patients", patients)):
        if tab is not None:
            _, n_rows, _ = table_columns(tab, what)
            if n_tab is not None and n_rows != n_tab:
                raise DataError(f"params has {n_rows} rows but patients has {n_tab}"
                                if what == "params" else
                                f"params has {n_tab} rows but patients has {n_rows}")
            n_tab = n_rows

    def weights() -> np.ndarray | None:
        if plist is not None and all(p.get("WT") is not None for p in plist):
            return np.array([float(p.get("WT")) for p in plist])   # a Patient's WT is in kg
        return weights_kg(m, (patients, params), n_tab or 1)

    table, data_ids, is_dataset = events_for(cm, events, n_tab or 1, weights)
    if plist is not None and any(p.timeseries for p in plist):
        if is_dataset:
            raise DataError("time-varying covariates come either from the dataset or from the "
                            "patients, not both")
        table = with_timeseries(table, plist, m)
        data_ids = np.asarray(table.ids)
        patients = {k: v for k, v in patients.items()
                    if k not in table.cov_names and k.upper() != "ID"} or None
    n_sub = table.n_subjects if is_dataset or table.n_subjects > 1 else (n_tab or 1)
    if n_tab is not None and n_tab != n_sub:
        raise DataError(f"the dataset has {n_sub} subjects but params/patients have {n_tab} rows")

    # covariates: per record from the dataset, else constant per subject from q
    cov_names = [c for c in table.cov_names if c in m.covariate_names]
    cov_idx = [table.cov_names.index(c) for c in cov_names]
    occ_column = isinstance(occasions, str)
    if occ_column:
        if not is_dataset or occasions not in table.cov_names:
            raise DataError(f"occasions: column {occasions!r} is not in the dataset; its "
                            f"numeric columns are {', '.join(table.cov_names) or 'none'}")
    q, tab_ids = subject_matrix(cm, n_sub, [("params", params), ("patients", patients)],
                                 cov_names)
    missing = [c.name for c in m.covariates
               if c.name not in cov_names and np.isnan(q[:, cm.layout.index(c.name)]).any()]
    if missing:
        raise DataError(f"covariate(s) {', '.join(missing)} of model '{m.name}' not given and "
                        f"without default: give them in `patients`, `params` or the dataset")
    # the occasion column rides along after the model's covariates (the engine reads only
    # those), filled forward (LOCF) where output records are inserted
    keep = cov_idx + ([table.cov_names.index(occasions)] if occ_column else [])
    if keep != list(range(len(table.cov_names))):
        table = replace(table, cov=np.ascontiguousarray(table.cov[:, keep]),
                        cov_names=tuple(table.cov_names[i] for i in keep),
                        cov_interp=tuple("locf" if occ_column and i == keep[-1] else
                                         table.cov_interp[i] for i in keep))
    cov_slot = np.array([cm.layout.index(c) for c in cov_names], dtype=np.int64)
    cov_nocb = np.array([1 if r == "nocb" else 0 for r in table.cov_interp[:len(cov_names)]],
                        dtype=np.int64)

    ids = data_ids if data_ids is not None else (
        tab_ids if tab_ids is not None else np.arange(1, n_sub + 1))

    out_times = parse_times(times, m.time_unit) if times is not None else None
    if out_times is None and not is_dataset:
        raise UnitError("times: give output times for a regimen (or without doses), e.g. "
                        "times='0..24 h by 0.5 h'")
    n_smp = 1
    streams = None
    if n is not None:
        if out_times is None:
            raise UnitError("times: sampling (n=...) needs output times")
        n_smp = int(n)
        if n_smp < 1 or n_smp != n:
            raise DataError(f"n = {n!r}: the number of samples must be a positive integer")
        from ._sampling import Streams

        streams = Streams.of(seed)
        fixed = columns_given(params) | columns_given(patients)
        q = sample_parameters(cm, q, n_smp, streams, tuple(variability), uncertainty, fixed)
        ids_run = np.repeat(ids, n_smp)
    else:
        ids_run = ids
    n_run = n_sub * n_smp
    shared = not is_dataset and table.n_subjects == 1   # one regimen lowered for everyone
    # implied doses after the last output time cannot change an output: never materialise them
    if out_times is not None:
        last = float(out_times.max()) if len(out_times) else -np.inf
    else:
        last = np.full(table.n_subjects, -np.inf)
        has = np.flatnonzero(table.output)
        subj = np.searchsorted(table.offsets, has, side="right") - 1
        np.maximum.at(last, subj, table.time[has])
    prep = engine.prepare(table.clipped(last), out_times,
                          n_subjects=n_run if shared else None)
    if not shared and n_smp > 1:
        n_t = len(out_times)
        s_of = np.repeat(np.arange(n_sub), n_smp)
        prep = replace(prep, subj_lo=np.repeat(prep.subj_lo, n_smp),
                       subj_hi=np.repeat(prep.subj_hi, n_smp),
                       row_base=(np.arange(n_run) - s_of) * n_t, n_rows=n_run * n_t)

    occ_args = occasion_args(cm, prep, occasions, q, streams, tuple(variability), n_sub, n_smp,
                             m.time_unit)

    wanted = list(outputs) if outputs is not None else list(cm.output_names)
    unknown = [o for o in wanted if o not in cm.output_names]
    if unknown:
        raise ModelError(f"outputs: {', '.join(unknown)} not in model '{m.name}'; valid: "
                         f"{', '.join(cm.output_names)}")

    return Plan(cm, table, prep, q, cov_slot, cov_nocb, ids, ids_run, occ_args, out_times,
                 wanted, n_sub, n_smp, streams)

