"""Reading and writing NONMEM-format datasets.

A NONMEM dataset is a CSV table with one record per row: ``ID``, ``TIME`` and any of ``AMT``,
``DV``, ``EVID``, ``MDV``, ``CMT``, ``RATE``, ``II``, ``ADDL``, ``SS``, ``DVID``, plus covariate
columns. Column names are read case-insensitively and stored upper-case. The meaning of each
column is described in :mod:`pkpd.events`.

Conventions of this reader
--------------------------
* Missing values are ``.`` (or the ``missing`` token) and empty fields.
* Comment rows are dropped: rows whose first field starts with ``#`` or ``C``, and rows whose
  ``C`` column holds anything other than ``.``, empty or ``0`` (NONMEM's ``IGNORE=C``).
* Without an ``EVID`` column (or where it is missing) ``EVID`` is derived as NONMEM does: 1 where
  ``AMT > 0``; 2 where ``MDV = 1`` and there is no dose; 0 otherwise.
* Without an ``MDV`` column (or where it is missing) ``MDV`` is 1 on non-observation records and
  where ``DV`` is missing, else 0.
* ``AMT``, ``RATE``, ``II``, ``ADDL``, ``SS`` default to 0 and ``CMT`` to 0 (not given).
* Row numbers in messages are line numbers in the file, the header being line 1, so they match
  what an editor shows (for a DataFrame: position + 2, in the same way).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._provenance import data_record
from ..errors import DataError
from ..events import EventTable
from ._cells import Problems, parse_numeric, read_raw

__all__ = ["NonmemData", "read_nonmem", "write_nonmem"]

_KNOWN = ("ID", "TIME", "AMT", "DV", "EVID", "MDV", "CMT", "RATE", "II", "ADDL", "SS", "DVID",
          "LLOQ", "BLQ", "CENS")


@dataclass(frozen=True, eq=False)
class NonmemData:
    """A NONMEM dataset as read by :func:`read_nonmem`.

    Attributes
    ----------
    frame : pandas.DataFrame
        The cleaned table: upper-case columns, comment rows removed, numeric columns as float
        (NaN = missing), text columns as str, and a ``ROW`` column with the original row number.
    events : EventTable
        Every record, with ``output`` True on each (a prediction at every record, as NONMEM's
        table gives); covariates with ``"nocb"`` interpolation except those read with ``locf=``.
    observations : pandas.DataFrame
        The observation records (EVID 0, MDV 0): ID, TIME, DV, CMT, DVID (if present), ROW;
        with an ``LLOQ`` column or a ``BLQ``/``CENS`` flag (1 = censored, NONMEM's M3
        convention) also ``LLOQ`` and ``BLQ`` (True where DV < LLOQ or flagged).
    ids : numpy.ndarray
        Subject identifiers in order of appearance.
    covariate_names : tuple of str
        The covariate columns, in table order.
    source : str
        The file read (its path), or ``"DataFrame"``.
    sha256 : str
        sha256 of the file's bytes, or of the DataFrame's CSV text (``to_csv(index=False)``).

    Examples
    --------
    >>> import pandas as pd, pkpd
    >>> data = pkpd.read_nonmem(pd.DataFrame({
    ...     "ID": [1, 1, 2, 2], "TIME": [0.0, 2, 0, 2], "AMT": [100, 0, 200, 0],
    ...     "DV": [0, 1.5, 0, 3.1], "EVID": [1, 0, 1, 0], "CMT": [1, 2, 1, 2]}))
    >>> data.ids.tolist(), data.covariate_names
    ([1, 2], ())
    >>> data.subject(2)
    NonmemData(n_subjects=1, n_records=2, n_observations=1, covariates=())
    >>> data.subject(2).observations["DV"].tolist()
    [3.1]
    """

    frame: pd.DataFrame
    events: EventTable
    observations: pd.DataFrame
    ids: np.ndarray
    covariate_names: tuple[str, ...]
    source: str = "DataFrame"
    sha256: str = ""

    def subject(self, id: Any) -> NonmemData:
        """The records of the subject with identifier ``id`` as a one-subject dataset.

        Raises
        ------
        DataError
            If no subject has that identifier.
        """
        where = np.flatnonzero(np.asarray(self.ids == id, dtype=bool))
        if not len(where):
            shown = ", ".join(str(i) for i in self.ids[:10])
            raise DataError(f"no subject with ID {id!r}; IDs: {shown}"
                            f"{', ...' if len(self.ids) > 10 else ''}")
        pos = int(where[0])
        return NonmemData(
            frame=self.frame[self.frame["ID"] == id].reset_index(drop=True),
            events=self.events.subject(pos),
            observations=self.observations[self.observations["ID"] == id].reset_index(
                drop=True),
            ids=self.ids[pos:pos + 1], covariate_names=self.covariate_names,
            source=self.source, sha256=self.sha256)

    def __repr__(self) -> str:
        return (f"NonmemData(n_subjects={self.events.n_subjects}, "
                f"n_records={self.events.n_records}, n_observations={len(self.observations)}, "
                f"covariates={self.covariate_names})")


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


def read_nonmem(source: str | os.PathLike[str] | pd.DataFrame, *, model: Any = None,
                covariates: Sequence[str] | None = None, locf: Iterable[str] = (),
                missing: str = ".", fill_missing_covariates: str | None = None) -> NonmemData:
    """Read a NONMEM-format dataset and check every record.

    Parameters
    ----------
    source : path or pandas.DataFrame
        A comma-separated file with a header line, or a DataFrame with the same columns.
    model : Model, optional
        When given, each CMT must be a compartment of the model.
    covariates : list of str, optional
        The covariate columns. By default every column other than the NONMEM ones (ID, TIME,
        AMT, DV, EVID, MDV, CMT, RATE, II, ADDL, SS, DVID) and the comment column C that is
        numeric, and not missing, on every record. A column with missing values is a covariate
        only if listed here.
    locf : iterable of str
        Covariates whose value holds from its record onward ("locf"); the others follow NONMEM's
        convention ("nocb": the value on a record applies to the interval ending at it).
    missing : str
        The token for a missing value (besides ``.`` and empty fields).
    fill_missing_covariates : {None, "locf"}
        A missing covariate value is an error by default (NONMEM would silently read 0). With
        ``"locf"`` it is filled with the subject's previous value; a subject's first records
        must still have one.

    Returns
    -------
    NonmemData

    Raises
    ------
    DataError
        Listing every malformed row (the first 20) with its row number, the column and the
        reason: non-numeric values, missing ID or TIME, an ID of magnitude 2**53 or more,
        negative TIME, time going backwards within an ID without an EVID 3/4 reset, an ID
        appearing again after other IDs, EVID not in 0..4, AMT on a non-dose row, a dose with
        missing, zero or negative AMT (except the SS=1 constant infusion: AMT 0, RATE > 0,
        II 0), RATE negative other than -1/-2, SS not 0/1/2 or on a non-dose row, SS=1/2 or
        ADDL > 0 without II > 0, ADDL negative or not an integer, CMT negative or not an
        integer, a dose without CMT, a CMT the model does not have, DV missing on an
        observation with MDV 0, a covariate value missing or not numeric.

    Examples
    --------
    Two subjects given 320 mg of theophylline into the depot (CMT 1), observed in CMT 2:

    >>> import pandas as pd, pkpd
    >>> frame = pd.DataFrame({"ID": [1, 1, 1, 2, 2], "TIME": [0.0, 1, 4, 0, 2],
    ...                       "AMT": [320, 0, 0, 320, 0], "DV": [0, 6.1, 8.2, 0, 7.4],
    ...                       "EVID": [1, 0, 0, 1, 0], "CMT": [1, 2, 2, 1, 2],
    ...                       "WT": [70, 70, 70, 82, 82]})
    >>> model = pkpd.load_model("theophylline_1cmt")
    >>> data = pkpd.read_nonmem(frame, model=model)
    >>> data
    NonmemData(n_subjects=2, n_records=5, n_observations=3, covariates=('WT',))

    Typical predictions at every record (KA 1.5/h, CL 2.8 L/h, V 32 L: the Bateman function
    gives 7.36 mg/L at 1 h):

    >>> pkpd.simulate(model, data)["CP"].values.round(2).tolist()
    [0.0, 7.36, 7.46, 0.0, 8.39]
    """
    label = ("NONMEM DataFrame" if isinstance(source, pd.DataFrame)
             else f"NONMEM dataset {os.fspath(source)}")
    if fill_missing_covariates not in (None, "locf"):
        raise DataError(f"fill_missing_covariates={fill_missing_covariates!r}: use None (raise) "
                        "or 'locf'")
    raw, rows, what_rows = read_raw(source, label)
    if "C" in raw.columns:
        c = raw["C"].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                         else str(v).strip())
        keep = c.isin(["", ".", "0", missing]).to_numpy()
        raw, rows = raw[keep].reset_index(drop=True), rows[keep]
    n = len(raw)
    problems = Problems(rows)

    parsed: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {
        col: parse_numeric(raw[col], missing) for col in raw.columns if col != "C"}
    if covariates is None:
        cov_names = tuple(col for col in raw.columns
                          if col not in _KNOWN and col != "C" and n > 0
                          and not (parsed[col][1].any() or parsed[col][2].any()))
    else:
        cov_names = tuple(str(c).strip().upper() for c in covariates)
        wrong = [c for c in cov_names if c not in raw.columns or c in _KNOWN or c == "C"]
        if wrong:
            raise DataError(f"{label}: covariates {wrong} are not covariate columns of the "
                            f"dataset; its other columns are "
                            f"{[c for c in raw.columns if c not in _KNOWN and c != 'C']}")
    locf_names = tuple(str(c).strip().upper() for c in locf)
    if any(c not in cov_names for c in locf_names):
        raise DataError(f"{label}: locf={list(locf_names)} must name covariates; the "
                        f"covariates are {list(cov_names)}")

    for col in (*[k for k in _KNOWN if k in parsed], *cov_names):
        problems.add(parsed[col][2], col, lambda i, col=col: f"{raw[col].iloc[i]!r} is not a "
                                                             "number")

    def col(name: str, default: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        if name not in parsed:
            return np.full(n, default), np.ones(n, dtype=bool)
        values, miss, bad = parsed[name]
        return np.where(miss | bad, default, values), miss

    ident, id_miss = col("ID", np.nan)
    problems.add(id_miss, "ID", "ID is missing")
    problems.add(np.abs(np.nan_to_num(ident)) >= 2.0**53, "ID",
                 lambda i: f"ID={ident[i]:g} is too large; valid: numbers of magnitude below "
                           "2**53 (9007199254740992), which are read exactly")
    time, time_miss = col("TIME", np.nan)
    problems.add(time_miss, "TIME", "TIME is missing")
    problems.add(time < 0, "TIME", lambda i: f"TIME={time[i]:g} is negative")
    amt, amt_miss = col("AMT")
    rate, _ = col("RATE")
    ii, _ = col("II")
    addl, _ = col("ADDL")
    ss, _ = col("SS")
    cmt, cmt_miss = col("CMT")
    mdv_given, mdv_miss = col("MDV", np.nan)
    dv, dv_miss = col("DV", np.nan)

    evid_given, evid_miss = col("EVID", np.nan)
    derived = np.where(amt > 0, 1, np.where(mdv_given == 1, 2, 0))
    evid = np.where(evid_miss, derived, evid_given)
    bad_evid = ~np.isin(evid, (0, 1, 2, 3, 4))
    problems.add(bad_evid & np.isfinite(evid), "EVID",
                 lambda i: f"EVID={evid[i]:g} is not 0 (observation), 1 (dose), 2 (other), "
                           "3 (reset) or 4 (reset and dose)")
    evid = np.where(bad_evid, 0, evid).astype(np.int64)
    dose = np.isin(evid, (1, 4))
    problems.add(~mdv_miss & ~np.isin(mdv_given, (0, 1)), "MDV",
                 lambda i: f"MDV={mdv_given[i]:g}; valid: 0 (DV is an observation) or 1 (no "
                           "observation on this row)")
    mdv = np.where(mdv_miss, ((evid != 0) | dv_miss).astype(float), mdv_given)

    kinds = {0: "an observation row (EVID 0)", 2: "an other-event row (EVID 2)",
             3: "a reset row (EVID 3)"}
    problems.add(~dose & (amt != 0), "AMT",
                 lambda i: f"AMT={amt[i]:g} on {kinds[int(evid[i])]}; doses need EVID 1 or 4")
    const_inf = (ss == 1) & (amt == 0) & (rate > 0) & (ii == 0) & ~amt_miss
    problems.add(dose & ~const_inf & (amt_miss | (amt <= 0)), "AMT",
                 lambda i: ("AMT is missing" if amt_miss[i] else f"AMT={amt[i]:g}")
                 + f" on a dose row (EVID {evid[i]}); a dose needs AMT > 0 (or SS=1, AMT=0, "
                   "RATE>0, II=0 for a steady-state constant infusion)")
    problems.add((rate < 0) & (rate != -1) & (rate != -2), "RATE",
                 lambda i: f"RATE={rate[i]:g}; valid: >= 0, -1 (modelled rate) or -2 "
                           "(modelled duration)")
    problems.add(ii < 0, "II", lambda i: f"II={ii[i]:g} is negative")
    problems.add(~np.isin(ss, (0, 1, 2)), "SS", lambda i: f"SS={ss[i]:g}; valid: 0, 1 or 2")
    problems.add(~dose & (ss != 0), "SS",
                 lambda i: f"SS={ss[i]:g} on a non-dose row (EVID {evid[i]})")
    problems.add(dose & np.isin(ss, (1, 2)) & (ii <= 0) & ~const_inf, "SS",
                 lambda i: f"SS={ss[i]:g} needs II > 0 (the dosing interval at steady state)")
    problems.add((addl < 0) | (addl != np.round(addl)), "ADDL",
                 lambda i: f"ADDL={addl[i]:g}; valid: a whole number >= 0")
    problems.add((addl > 0) & (ii <= 0), "ADDL",
                 lambda i: f"ADDL={addl[i]:g} needs II > 0 (the interval between the doses)")
    problems.add((addl > 0) & ~dose, "ADDL",
                 lambda i: f"ADDL={addl[i]:g} on a non-dose row (EVID {evid[i]})")
    problems.add((cmt < 0) | (cmt != np.round(cmt)), "CMT",
                 lambda i: f"CMT={cmt[i]:g}; valid: a whole compartment number >= 1")
    problems.add(dose & (cmt == 0), "CMT",
                 lambda i: f"a dose (EVID {evid[i]}) needs a compartment, CMT is "
                           + ("missing" if cmt_miss[i] else "0"))
    if model is not None:
        states = tuple(model.state_names)
        listing = ", ".join(f"{k + 1} {s}" for k, s in enumerate(states))
        problems.add(cmt > len(states), "CMT",
                     lambda i: f"CMT={cmt[i]:g} but model '{model.name}' has {len(states)} "
                               f"states: {listing}")
    if "DV" in parsed:
        problems.add((evid == 0) & (mdv == 0) & dv_miss, "DV",
                     "DV is missing on an observation with MDV=0 (set MDV=1)")

    # subjects: contiguous blocks, time order
    starts = np.ones(n, dtype=bool)
    starts[1:] = ident[1:] != ident[:-1]
    block_ids = ident[starts]
    seen: dict[float, int] = {}
    for k, (value, r) in enumerate(zip(block_ids, rows[starts], strict=True)):
        if np.isfinite(value) and value in seen and k > 0:
            problems.add(rows == r, "ID",
                         f"ID {value:g} appears again after other IDs (its records start at "
                         f"row {seen[value]}); keep each subject's records together")
        seen.setdefault(value, int(r))
    prev_time = np.r_[np.nan, time[:-1]]
    problems.add(~starts & (time < prev_time) & ~np.isin(evid, (3, 4)), "TIME",
                 lambda i: f"TIME={time[i]:g} goes back from {prev_time[i]:g} within ID "
                           f"{ident[i]:g} without a reset (EVID 3 or 4)")

    # covariates
    cov = np.column_stack([parsed[c][0] for c in cov_names]) if cov_names else np.zeros((n, 0))
    if fill_missing_covariates == "locf" and cov_names:
        cov = (pd.DataFrame(cov).groupby(np.cumsum(starts)).ffill().to_numpy(dtype=float))
    for k, name in enumerate(cov_names):
        problems.add(np.isnan(cov[:, k]) & ~parsed[name][2], name,
                     "covariate value is missing (NONMEM would read 0); give it, or read with "
                     "fill_missing_covariates='locf'")
    problems.raise_if_any(label, what_rows)

    # results
    frame = pd.DataFrame({c: (raw[c].map(lambda v: v if isinstance(v, str) else
                                         ("" if pd.isna(v) else str(v)))
                              if c == "C" or parsed[c][2].any() else parsed[c][0])
                          for c in raw.columns})
    frame["ROW"] = rows
    offsets = np.r_[np.flatnonzero(starts), n].astype(np.int64)
    events = EventTable(
        ids=block_ids, offsets=offsets, time=time, evid=evid, amt=amt, cmt=cmt.astype(np.int64),
        rate=rate, ii=ii, addl=addl.astype(np.int64), ss=ss.astype(np.int64), cov=cov,
        cov_names=cov_names,
        cov_interp=tuple("locf" if c in locf_names else "nocb" for c in cov_names),
        output=np.ones(n, dtype=bool))
    obs_cols = ["ID", "TIME", "DV", "CMT"] + (["DVID"] if "DVID" in parsed else [])
    obs = (evid == 0) & (mdv == 0)
    observations = pd.DataFrame({c: frame[c].to_numpy()[obs] if c in frame
                                 else np.full(int(obs.sum()), np.nan) for c in obs_cols})
    observations["ROW"] = rows[obs]
    # below the limit of quantification: a CENS (NONMEM M3) or BLQ flag, or DV below LLOQ
    if any(c in parsed for c in ("LLOQ", "BLQ", "CENS")):
        blq = np.zeros(n, dtype=bool)
        for flag in ("BLQ", "CENS"):
            if flag in parsed:
                values, miss, _ = parsed[flag]
                problems.add(obs & ~miss & ~np.isin(values, (0.0, 1.0)), flag,
                             lambda i, flag=flag: f"{flag} must be 0 or 1")
                blq |= ~miss & (values == 1.0)
        lloq = np.full(n, np.nan)
        if "LLOQ" in parsed:
            values, miss, _ = parsed["LLOQ"]
            problems.add(obs & ~miss & ~(values > 0), "LLOQ", "LLOQ must be positive")
            lloq = np.where(miss, np.nan, values)
            blq |= ~np.isnan(lloq) & (dv < lloq)
            problems.add(obs & blq & np.isnan(lloq), "LLOQ",
                         "a record flagged below the limit of quantification needs its LLOQ")
        problems.raise_if_any(label, what_rows)
        observations["LLOQ"] = lloq[obs]
        observations["BLQ"] = blq[obs]
    rec = data_record(source)
    return NonmemData(frame=frame, events=events, observations=observations, ids=events.ids,
                      covariate_names=cov_names, source=rec["data_source"],
                      sha256=rec["data_sha256"])


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def _text(value: Any, missing: str) -> str:
    if value is None or (isinstance(value, (float, np.floating)) and np.isnan(value)):
        return missing
    if isinstance(value, (float, np.floating)):
        x = float(value)
        return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    text = str(value)
    return missing if text == "" else text


def write_nonmem(data: NonmemData | EventTable | pd.DataFrame, path: str | os.PathLike[str],
                 *, missing: str = ".") -> None:
    """Write a dataset as a NONMEM-format CSV file, with ``missing`` for missing values.

    Parameters
    ----------
    data : NonmemData, EventTable or pandas.DataFrame
        A :class:`NonmemData` is written from its ``frame`` (without the ``ROW`` column); an
        :class:`EventTable` from :meth:`EventTable.to_frame`; a DataFrame as it is.
    path : path
        The file to write. Numbers are written exactly (shortest round-trip form), so reading
        the file back gives the same values.

    Examples
    --------
    >>> import pandas as pd, pkpd
    >>> frame = pd.DataFrame({"ID": [1, 1], "TIME": [0.0, 1.5], "AMT": [100, 0],
    ...                       "DV": [0, 2.25], "EVID": [1, 0], "CMT": [1, 2]})
    >>> pkpd.write_nonmem(pkpd.read_nonmem(frame), "data.csv")
    >>> print(open("data.csv").read().strip())
    ID,TIME,AMT,DV,EVID,CMT
    1,0,100,0,1,1
    1,1.5,0,2.25,0,2
    >>> pkpd.read_nonmem("data.csv").observations[["ID", "TIME", "DV"]].values.tolist()
    [[1.0, 1.5, 2.25]]
    """
    if isinstance(data, NonmemData):
        frame = data.frame.drop(columns="ROW")
    elif isinstance(data, EventTable):
        frame = data.to_frame()
    elif isinstance(data, pd.DataFrame):
        frame = data
    else:
        raise DataError(f"write_nonmem: expected NonmemData, EventTable or DataFrame, got "
                        f"{type(data).__name__}")
    text = frame.astype(object).map(lambda v: _text(v, missing))
    from .._atomic import atomic_path

    with atomic_path(path) as tmp:   # a failed write leaves no partial file
        text.to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL)
