"""Per-subject data assembly: the records of one subject read and checked, its observations
with their error models, censoring and outputs, and the values held fixed in a fit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EstimationError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..codegen import CompiledModel
    from ..io.nonmem import NonmemData
    from ..model import ErrorModel, Model
    from ..patient import Patient

__all__ = ["Observations", "fixed_values", "from_levels", "observations", "read_subject"]


@dataclass(frozen=True)
class Observations:
    """Per-observation arrays of one subject."""

    frame: pd.DataFrame      # ID, TIME, CMT, (DVID), OUTPUT, DV
    dv: np.ndarray
    output: np.ndarray       # index into `outputs`
    outputs: tuple[str, ...]
    errors: tuple[ErrorModel, ...]   # the error model of each output in `outputs`
    expo: np.ndarray         # bool: exponential error (compared on the log scale)
    censored: np.ndarray     # bool
    lloq: np.ndarray         # NaN where not censored


_SENSITIVITY_MODELS: dict[tuple[str, tuple[str, ...]], CompiledModel | None] = {}


def from_levels(cm: CompiledModel, events: Any, levels: Any,
                 patient: Patient | Mapping[str, Any] | None,
                 outputs: Mapping[Any, str] | None) -> tuple[pd.DataFrame, dict[Any, str] | None]:
    """A one-subject NONMEM frame from a dose history and a table of levels, and the outputs
    mapping of its DVID column."""
    import pandas as pd

    from .._plan import events_for
    from ..patient import Patient
    from ..units import convert

    m = cm.model

    def weight() -> np.ndarray | None:
        p = Patient(**patient) if isinstance(patient, Mapping) else patient
        wt = None if p is None else p.get("WT")
        return None if wt is None else np.array([convert(wt, "kg", what="patient WT")])

    table, _, _ = events_for(cm, events, 1, weight)
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


def read_subject(model: Model | CompiledModel | str, data: Any) -> tuple[CompiledModel, NonmemData]:
    import os

    import pandas as pd

    from .._plan import as_compiled
    from ..io.nonmem import NonmemData, read_nonmem

    cm = as_compiled(model)
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


def observations(cm: CompiledModel, data: NonmemData, outputs: Mapping[Any, str] | None,
                  lloq: float | str | None) -> Observations:
    import pandas as pd

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
        if not any(v > 0 for v in m.error[o].sigmas.values()):
            raise EstimationError(f"output {o!r}: error model {m.error[o].sigmas} has no "
                                  "positive SD")
    errors = tuple(m.error[o] for o in used)
    expo = np.array([m.error[o].log_scale for o in names], dtype=bool)

    dv = obs["DV"].to_numpy(dtype=float)
    rows = obs["ROW"].to_numpy()
    frame = data.frame

    def column(name: str) -> np.ndarray:
        """The dataset's column ``name`` at the observation records (matched by ROW)."""
        all_rows = frame["ROW"].to_numpy()
        order = np.argsort(all_rows, kind="stable")
        at = order[np.searchsorted(all_rows, rows, sorter=order)]
        return frame[name].to_numpy(dtype=float)[at]

    if isinstance(lloq, str):
        col = lloq.strip().upper()
        if col not in frame or col == "ROW":
            raise EstimationError(f"lloq: column {lloq!r} is not in the dataset; columns: "
                                  f"{', '.join(map(str, data.frame.columns))}")
        limit = column(col)
    elif lloq is None:
        limit = np.full(len(dv), np.nan)
    else:
        limit = np.full(len(dv), float(lloq))
    flag = column("BLQ") == 1 if "BLQ" in frame else np.zeros(len(dv), bool)
    limit = np.where(flag & np.isnan(limit), dv, limit)    # flagged: DV holds the LLOQ
    censored = flag | (dv < limit)
    limit = np.where(censored, limit, np.nan)
    bad = expo & (censored & ~(limit > 0) | ~censored & ~(dv > 0))
    if bad.any():
        raise EstimationError(f"dataset row {rows[bad][0]}: exponential error needs DV (or the "
                              "LLOQ of a censored level) > 0")
    keys_shown = ("ID", "TIME", "CMT", "DVID") if key_col == "DVID" else ("ID", "TIME", "CMT")
    pred = pd.DataFrame({**{c: obs[c].to_numpy() for c in keys_shown}, "OUTPUT": names,
                         "DV": dv, "BLQ": censored, "LLOQ": limit})
    return Observations(pred, dv,
                         np.array([used.index(o) for o in names]), used, errors, expo,
                         censored, limit)


def fixed_values(cm: CompiledModel, data: NonmemData, params: Mapping[str, Any] | None,
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

