"""Input of :func:`pkpd.nca`: datasets and concentration tables to per-subject arrays.

Accepted: a NONMEM dataset (path, DataFrame with AMT or EVID, or :class:`NonmemData`) whose dose
records give the doses; or a concentration table (DataFrame with ID, TIME, DV) with ``dose=``,
one dose per subject at TIME 0. Column names are case-insensitive.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..errors import DataError
from ..io.nonmem import NonmemData, read_nonmem

ROUTES = ("extravascular", "iv-bolus", "iv-infusion")
_MAX_LISTED = 10


@dataclass(frozen=True)
class Dose:
    """One dose (ADDL copies expanded)."""

    time: float
    amount: float
    route: str
    duration: float   # of an IV infusion, 0 otherwise
    ii: float         # the dosing interval of the record (0: none)
    ss: bool          # a steady-state dose (SS = 1 or 2, or one of its ADDL copies)


@dataclass(frozen=True)
class Subject:
    """One subject's selected observations (from the first dose on) and doses."""

    id: Any
    time: NDArray[np.float64]       # sorted, distinct
    conc: NDArray[np.float64]
    blq: NDArray[np.bool_]          # below the LLOQ (or flagged, or exactly 0)
    doses: tuple[Dose, ...]         # sorted, distinct times
    n_before_dose: int              # observations before the first dose (not used)


def per_id(value: Any, ident: Any, what: str) -> Any:
    """``value`` itself, or its entry for ``ident`` when it is a mapping (ID -> value)."""
    if not isinstance(value, Mapping):
        return value
    if ident in value:
        return value[ident]
    for key, v in value.items():
        try:
            if float(key) == float(ident):
                return v
        except (TypeError, ValueError):
            continue
    shown = ", ".join(map(str, list(value)[:_MAX_LISTED]))
    raise DataError(f"{what}: no value for ID {label(ident)} (the mapping has IDs {shown}"
                    f"{', ...' if len(value) > _MAX_LISTED else ''})")


def _positive(value: Any, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{what}={value!r} is not a number") from None
    if not (math.isfinite(x) and x > 0):
        raise DataError(f"{what}={value!r}: it must be a finite number > 0")
    return x


def _plain_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A concentration table checked: ID, TIME, DV numeric (DV may be missing), TIME >= 0."""
    table = frame.copy()
    table.columns = [str(c).strip().upper() for c in table.columns]
    missing = [c for c in ("ID", "TIME", "DV") if c not in table.columns]
    if missing:
        raise DataError(f"concentration table: columns {missing} are missing (columns: "
                        f"{list(table.columns)}); give ID, TIME, DV, or a NONMEM dataset with "
                        "AMT/EVID dose records")
    if table["ID"].isna().any():
        rows = np.flatnonzero(table["ID"].isna().to_numpy())[:_MAX_LISTED]
        raise DataError(f"concentration table: ID is missing at positions {rows.tolist()}")
    for col in ("TIME", "DV", *(c for c in ("CMT", "DVID", "LLOQ", "BLQ") if c in table)):
        raw = table[col]
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() & raw.notna()
        if bad.any():
            k = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"concentration table: column {col} holds {raw.iloc[k]!r} (ID "
                            f"{label(table['ID'].iloc[k])}), which is not a number")
        table[col] = num.astype(float)
    t = table["TIME"].to_numpy()
    bad_t = ~np.isfinite(t) | (t < 0)
    if bad_t.any():
        k = int(np.flatnonzero(bad_t)[0])
        raise DataError(f"concentration table: ID {label(table['ID'].iloc[k])} has "
                        f"TIME={t[k]:g}; times must be finite and >= 0 (time after the dose)")
    table = table[table["DV"].notna()]      # missing concentrations are dropped (PKNCA)
    if "BLQ" in table:
        table["BLQ"] = table["BLQ"].fillna(0.0) == 1.0
    return table.reset_index(drop=True)


def _select_output(obs: pd.DataFrame, dvid: Any, cmt: Any) -> pd.DataFrame:
    """The observations of one output (DVID and/or CMT), or a DataError listing the choices."""
    for col, value, arg in (("DVID", dvid, "dvid"), ("CMT", cmt, "cmt")):
        present = sorted(pd.unique(obs[col].dropna())) if col in obs else []
        if value is not None:
            if col not in obs:
                raise DataError(f"{arg}={value!r} but the observations have no {col} column")
            obs = obs[obs[col] == value]
            if obs.empty:
                raise DataError(f"{arg}={value!r}: no observation has {col}={value!r}; the "
                                f"observations have {col} in {[_num(v) for v in present]}")
    for col, arg in (("DVID", "dvid"), ("CMT", "cmt")):
        if col in obs:
            present = sorted(pd.unique(obs[col].dropna()))
            if len(present) > 1:
                raise DataError(f"the observations have several outputs ({col} in "
                                f"{[_num(v) for v in present]}); choose one with {arg}=")
    return obs


def _num(v: Any) -> Any:
    v = v.item() if isinstance(v, np.generic) else v
    return int(v) if isinstance(v, float) and v.is_integer() else v


def label(ident: Any) -> str:
    """A subject identifier as written in messages (``9``, ``'A-01'``)."""
    return repr(_num(ident))


def _doses_of(frame: pd.DataFrame, obs_cmt: float | None, route: str | None,
              duration: Any) -> dict[Any, list[Dose]]:
    """The dose records of a NONMEM dataset (its event records), ADDL expanded, by ID."""
    out: dict[Any, list[Dose]] = {}
    if frame["EVID"].isin((3, 4)).any():
        row = int(frame.loc[frame["EVID"].isin((3, 4)), "ROW"].iloc[0])
        raise DataError(f"row {row}: EVID 3/4 (reset) is not supported by nca; put each "
                        "occasion under its own ID")
    doses = frame[frame["EVID"].isin((1,))]

    def col(name: str) -> NDArray[np.float64]:
        return (doses[name].to_numpy(dtype=float) if name in doses
                else np.zeros(len(doses)))

    amt, rate, ii, addl, ss, cmt = (col(c) for c in ("AMT", "RATE", "II", "ADDL", "SS", "CMT"))
    for k, (ident, t, row) in enumerate(zip(doses["ID"], doses["TIME"], doses["ROW"],
                                            strict=True)):
        where = f"row {int(row)} (ID {label(ident)}, TIME {t:g})"
        if ss[k] == 1 and amt[k] == 0:
            raise DataError(f"{where}: a steady-state constant infusion (SS=1, AMT=0) has no "
                            "dosing interval for nca")
        r = route
        if r is None:
            if obs_cmt is None:
                raise DataError(f"{where}: cannot tell the route of the dose, the observations "
                                "have no single compartment (CMT); give route='extravascular', "
                                "'iv-bolus' or 'iv-infusion'")
            r = ("extravascular" if cmt[k] != obs_cmt
                 else "iv-infusion" if rate[k] != 0 else "iv-bolus")
        dur = 0.0
        if r == "iv-infusion":
            if rate[k] > 0:
                dur = amt[k] / rate[k]
            elif duration is not None:
                dur = _positive(per_id(duration, ident, "duration"),
                                f"duration of ID {label(ident)}")
            else:
                raise DataError(f"{where}: an IV infusion needs its duration: RATE > 0 in the "
                                f"dataset (RATE is {rate[k]:g}) or duration=")
        for j in range(int(addl[k]) + 1):
            out.setdefault(ident, []).append(
                Dose(time=float(t + j * ii[k]), amount=float(amt[k]), route=r, duration=dur,
                     ii=float(ii[k]), ss=bool(ss[k] in (1, 2))))
    return out


def load(data: Any, *, dose: Any, route: str | None, duration: Any, dvid: Any, cmt: Any,
         lloq: Any, duplicates: str = "error") -> list[Subject]:
    """Every subject of ``data`` with its selected observations and doses."""
    if route is not None and route not in ROUTES:
        raise DataError(f"route={route!r}; valid: None (from the dataset), "
                        + ", ".join(repr(r) for r in ROUTES))
    frame: pd.DataFrame | None = None
    if isinstance(data, NonmemData):
        nd: NonmemData | None = data
    elif isinstance(data, pd.DataFrame):
        upper = {str(c).strip().upper() for c in data.columns}
        nd = read_nonmem(data) if upper & {"AMT", "EVID"} else None
        if nd is None:
            obs = _plain_table(data)
    elif isinstance(data, str | os.PathLike):
        nd = read_nonmem(data)
    else:
        raise DataError(f"nca: expected a NONMEM dataset (path, DataFrame or NonmemData) or a "
                        f"concentration table (DataFrame with ID, TIME, DV), got "
                        f"{type(data).__name__}")
    if nd is not None:
        ev = nd.events
        frame = pd.DataFrame({
            "ID": np.repeat(ev.ids, np.diff(ev.offsets)), "TIME": ev.time, "EVID": ev.evid,
            "AMT": ev.amt, "CMT": ev.cmt, "RATE": ev.rate, "II": ev.ii, "ADDL": ev.addl,
            "SS": ev.ss, "ROW": nd.frame["ROW"].to_numpy()})
        obs = nd.observations
        ids = list(ev.ids)
        if dose is not None and frame["EVID"].isin((1, 4)).any():
            raise DataError("dose= is for a concentration table without dose records; this "
                            "dataset has dose records (EVID 1): remove dose=")
    else:
        ids = list(pd.unique(obs["ID"]))
    obs = _select_output(obs, dvid, cmt)
    obs_cmt = None
    if "CMT" in obs:
        cmts = pd.unique(obs["CMT"].dropna())
        if len(cmts) == 1 and cmts[0] > 0:
            obs_cmt = float(cmts[0])

    if frame is not None and dose is None:
        doses = _doses_of(frame, obs_cmt, route, duration)
    else:
        if dose is None:
            raise DataError("a concentration table needs dose= (a number, or a mapping ID -> "
                            "dose) for the dose given at TIME 0")
        if route is None:
            raise DataError("a concentration table needs route='extravascular', 'iv-bolus' or "
                            "'iv-infusion' (with duration=)")
        doses = {}
        for ident in ids:
            amount = _positive(per_id(dose, ident, "dose"), f"dose of ID {label(ident)}")
            dur = 0.0
            if route == "iv-infusion":
                if duration is None:
                    raise DataError("route='iv-infusion' needs duration= (a number, or a "
                                    "mapping ID -> duration)")
                dur = _positive(per_id(duration, ident, "duration"),
                                f"duration of ID {label(ident)}")
            doses[ident] = [Dose(0.0, amount, route, dur, 0.0, False)]

    subjects = []
    by_id = dict(tuple(obs.groupby("ID", sort=False)))
    for ident in ids:
        if ident not in doses:
            if ident in by_id:
                raise DataError(f"ID {label(ident)} has observations but no dose; nca needs the "
                                "dose (a dose record, or dose= with a concentration table)")
            continue
        ds = sorted(doses[ident], key=lambda d: d.time)
        times = [d.time for d in ds]
        if len(set(times)) < len(times):
            dup = next(t for t in times if times.count(t) > 1)
            raise DataError(f"ID {label(ident)} has two doses at TIME {dup:g}; nca needs one "
                            "dose per time (add the amounts into one record)")
        rows = by_id.get(ident, obs.iloc[:0]).sort_values("TIME", kind="stable")
        t = rows["TIME"].to_numpy(dtype=float)
        c = rows["DV"].to_numpy(dtype=float)
        if (c < 0).any():
            k = int(np.flatnonzero(c < 0)[0])
            raise DataError(f"ID {label(ident)}, TIME {t[k]:g}: DV={c[k]:g} is negative; a "
                            "concentration is >= 0 (set values below the LLOQ to 0, or give "
                            "lloq=)")
        blq = (c == 0) | (rows["BLQ"].to_numpy(dtype=bool) if "BLQ" in rows
                          else np.zeros(len(c), dtype=bool))
        limit = per_id(lloq, ident, "lloq") if lloq is not None else None
        if limit is not None:
            blq |= c < _positive(limit, f"lloq of ID {label(ident)}")
        dups = np.flatnonzero(np.diff(t) == 0)
        if len(dups) and duplicates == "mean":
            t, first = np.unique(t, return_index=True)
            c = np.add.reduceat(c, first) / np.diff(np.r_[first, len(blq)])
            blq = np.logical_and.reduceat(blq, first)
        elif len(dups):
            raise DataError(f"ID {label(ident)} has two observations at TIME {t[dups[0]]:g} "
                            "for the selected output; keep one, average them with "
                            "duplicates='mean', or select the output with dvid= / cmt=")
        keep = t >= ds[0].time
        subjects.append(Subject(id=ident, time=t[keep], conc=c[keep], blq=blq[keep],
                                doses=tuple(ds), n_before_dose=int((~keep).sum())))
    if not subjects:
        raise DataError("nca: no subject with a dose")
    return subjects
