"""Doses, regimens and event tables with NONMEM semantics.

A :class:`Regimen` is what a clinician writes ("1 g IV over 1 h every 12 h for 7 days"); an
:class:`EventTable` is what the simulator reads: flat numpy arrays, one row per record, with the
meaning of a NONMEM dataset. :meth:`Regimen.to_events` lowers the first into the second and
:func:`pkpd.io.nonmem.read_nonmem` reads the second from a NONMEM-format file.

Event semantics
---------------
The records of a subject are processed in table order, which is time order; records at equal
times are processed in the order they appear. The meaning of each column is NONMEM's:

``EVID``
    0 observation; 1 dose; 2 other event (a time at which covariates change or a prediction is
    asked for, nothing is given); 3 reset (every compartment is emptied, infusions stop, time may
    go back); 4 reset followed by a dose on the same record.
``AMT``
    Amount given by a dose record, in the unit of the dosed state. It is multiplied by the
    bioavailability ``F`` of the compartment and delayed by its lag time.
``CMT``
    1-based compartment number (state index + 1). 0 means "not given", which is allowed on
    observation and other records only.
``RATE``
    0: bolus. > 0: zero-order infusion at this rate (amount per model time unit), lasting
    ``AMT / RATE`` (bioavailability changes the duration, not the rate, as in NONMEM).
    -1: the rate is modelled (the compartment's ``rate`` attribute). -2: the duration is modelled
    (the compartment's ``duration`` attribute); the rate is then ``F * AMT / duration``.
``II``, ``ADDL``
    ``ADDL`` further doses, identical to this one, are given every ``II`` after it. They are
    implied: an :class:`EventTable` stores the single record and the engine expands it.
``SS``
    1: the system is first reset and brought to the steady state of this dose repeated every
    ``II``, then the dose is given. 2: the steady-state amounts are added to the current ones
    (nothing is reset). ``SS=1`` with ``AMT=0``, ``RATE>0`` and ``II=0`` is a constant infusion
    at steady state.
Covariates
    Each covariate has its own interpolation rule, ``cov_interp``: ``"nocb"`` (NONMEM's
    convention: the value on a record applies to the interval that *ends* at that record, i.e.
    to the integration from the previous record up to it) or ``"locf"`` (the value holds from its
    record onward, until the next record).
Outputs
    ``output`` marks the records at which a prediction is reported. When the simulator merges
    requested output times with dose records, a dose at the same time as an output comes first:
    the prediction at that time includes a bolus given then (a NONMEM dataset with the dose
    record written before the observation record does the same).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError, RegimenError, UnitError
from .units import convert, parse_quantity, registry

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pint

__all__ = ["Dose", "EventTable", "Regimen", "RegimenPart"]

_NONMEM_COLUMNS = ("ID", "TIME", "EVID", "AMT", "CMT", "RATE", "II", "ADDL", "SS")
_MAX_LISTED = 20


# --------------------------------------------------------------------------------------------
# EventTable
# --------------------------------------------------------------------------------------------


def _frozen(values: Any, dtype: Any, name: str) -> np.ndarray:
    """Return a read-only contiguous view of ``values`` as ``dtype`` (integers checked exactly)."""
    arr = np.asarray(values)
    if np.dtype(dtype).kind in "iu" and arr.dtype.kind == "f":
        if arr.size and not (np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
            raise DataError(f"EventTable: {name} must hold integers, got {arr[:5]!r}...")
    elif np.dtype(dtype).kind in "iu" and arr.dtype.kind not in "iub" and arr.size:
        raise DataError(f"EventTable: {name} must be an integer array, got dtype {arr.dtype}")
    try:
        out = np.ascontiguousarray(arr, dtype=dtype).view()
    except (TypeError, ValueError) as exc:
        raise DataError(f"EventTable: {name} cannot be read as {np.dtype(dtype)} ({exc})") from None
    out.flags.writeable = False
    return out


def _normalise_ids(ids: Any) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.dtype.kind in "iub":
        out = arr.astype(np.int64)
    else:
        try:
            as_float = arr.astype(np.float64)
        except (TypeError, ValueError):
            as_float = None
        if (as_float is not None and np.all(np.isfinite(as_float))
                and np.all(as_float == np.round(as_float))):
            out = as_float.astype(np.int64)
        else:
            out = np.array(list(arr.tolist()), dtype=object)
    out = out.view()
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class EventTable:
    """Dosing and observation records of many subjects, flattened, with NONMEM meaning.

    Records of subject ``s`` are the rows ``offsets[s]:offsets[s + 1]`` of every per-record
    array. Amounts are in the dosed state's unit and times in the model's time unit. ``ADDL`` is
    not expanded. See the module docstring for the meaning of each column.

    Parameters
    ----------
    ids : array, (n_subjects,)
        Subject identifiers (stored as int64 if all integral, else as objects); unique.
    offsets : int array, (n_subjects + 1,)
        Start of each subject's records; ``offsets[0] == 0``, ``offsets[-1] == n_records``,
        non-decreasing.
    time, amt, rate, ii : float arrays, (n_records,)
        Finite. Within a subject ``time`` does not decrease, except at a reset (EVID 3 or 4).
    evid, cmt, addl, ss : int arrays, (n_records,)
        ``evid`` in 0..4, ``cmt`` >= 0 (0 = not given), ``addl`` >= 0, ``ss`` in 0..2.
    cov : float array, (n_records, n_cov), optional
        Covariate value on each record (default: no covariates).
    cov_names : tuple of str, optional
    cov_interp : tuple of str, optional
        ``"nocb"`` (default) or ``"locf"`` per covariate.
    output : bool array, (n_records,), optional
        True where a prediction is asked for (default: at observation records, EVID 0).

    Raises
    ------
    DataError
        If lengths, dtypes or values are inconsistent.
    """

    ids: np.ndarray
    offsets: np.ndarray
    time: np.ndarray
    evid: np.ndarray
    amt: np.ndarray
    cmt: np.ndarray
    rate: np.ndarray
    ii: np.ndarray
    addl: np.ndarray
    ss: np.ndarray
    cov: np.ndarray | None = None
    cov_names: tuple[str, ...] = ()
    cov_interp: tuple[str, ...] | None = None
    output: np.ndarray | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "ids", _normalise_ids(self.ids))
        offsets = _frozen(self.offsets, np.int64, "offsets")
        put(self, "offsets", offsets)
        for name in ("time", "amt", "rate", "ii"):
            put(self, name, _frozen(getattr(self, name), np.float64, name))
        for name in ("evid", "cmt", "addl", "ss"):
            put(self, name, _frozen(getattr(self, name), np.int64, name))
        n = self.time.shape[0]
        for name in ("time", "evid", "amt", "cmt", "rate", "ii", "addl", "ss"):
            arr = getattr(self, name)
            if arr.ndim != 1 or arr.shape[0] != n:
                raise DataError(f"EventTable: {name} has shape {arr.shape}, expected ({n},) "
                                "like time")
        cov_names = tuple(str(c) for c in self.cov_names)
        put(self, "cov_names", cov_names)
        cov = np.zeros((n, 0)) if self.cov is None else self.cov
        cov = _frozen(cov, np.float64, "cov")
        if cov.ndim != 2 or cov.shape != (n, len(cov_names)):
            raise DataError(f"EventTable: cov has shape {cov.shape}, expected ({n}, "
                            f"{len(cov_names)}) for covariates {cov_names}")
        put(self, "cov", cov)
        interp = ("nocb",) * len(cov_names) if self.cov_interp is None else tuple(self.cov_interp)
        if len(interp) != len(cov_names) or any(r not in ("nocb", "locf") for r in interp):
            raise DataError(f"EventTable: cov_interp {interp} must give 'nocb' or 'locf' for each "
                            f"of the covariates {cov_names}")
        put(self, "cov_interp", interp)
        output = (self.evid == 0) if self.output is None else self.output
        output = np.asarray(output)
        if output.dtype != np.bool_ or output.shape != (n,):
            raise DataError(f"EventTable: output must be a bool array of shape ({n},), got "
                            f"{output.dtype} {output.shape}")
        put(self, "output", _frozen(output, np.bool_, "output"))
        self._validate()

    def _validate(self) -> None:
        n = self.n_records
        off = self.offsets
        if (off.ndim != 1 or off.shape[0] != self.ids.shape[0] + 1 or off[0] != 0
                or off[-1] != n or np.any(np.diff(off) < 0)):
            raise DataError(f"EventTable: offsets must be non-decreasing from 0 to n_records={n} "
                            f"with one entry more than ids ({self.ids.shape[0]}), got {off!r}")
        n_unique = (np.unique(self.ids).shape[0] if self.ids.dtype != object
                    else len(set(self.ids.tolist())))
        if n_unique != self.ids.shape[0]:
            raise DataError("EventTable: subject ids must be unique")
        problems: list[str] = []
        problems += [f"{name} is not finite" for name in ("time", "amt", "rate", "ii")
                     if not np.all(np.isfinite(getattr(self, name)))]
        if not np.all(np.isfinite(self.cov)):
            problems.append("cov holds NaN or infinite values")
        checks = (
            (self.time < 0, "time is negative"),
            ((self.evid < 0) | (self.evid > 4), "evid is not in 0..4"),
            (self.cmt < 0, "cmt is negative"),
            (self.addl < 0, "addl is negative"),
            ((self.ss < 0) | (self.ss > 2), "ss is not 0, 1 or 2"),
            (self.ii < 0, "ii is negative"),
            (self.amt < 0, "amt is negative"),
            ((self.rate < 0) & (self.rate != -1) & (self.rate != -2),
             "rate is negative but not -1 (modelled rate) or -2 (modelled duration)"),
        )
        problems += [msg for bad, msg in checks if bad.any()]
        if n > 1:
            first = np.zeros(n, dtype=bool)
            first[off[:-1][off[:-1] < n]] = True
            back = (np.diff(self.time, prepend=0.0) < 0) & ~first & ~np.isin(self.evid, (3, 4))
            if back.any():
                i = int(np.argmax(back))
                problems.append(f"time goes backwards at {self._where(i)} without a reset "
                                "(EVID 3 or 4)")
        if problems:
            raise DataError("EventTable: " + "; ".join(problems))

    # -- basic access ---------------------------------------------------------------------
    @property
    def n_subjects(self) -> int:
        """Number of subjects."""
        return int(self.ids.shape[0])

    @property
    def n_records(self) -> int:
        """Total number of records."""
        return int(self.time.shape[0])

    def __len__(self) -> int:
        return self.n_records

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EventTable):
            return NotImplemented
        return (self.cov_names == other.cov_names and self.cov_interp == other.cov_interp
                and all(np.array_equal(getattr(self, f), getattr(other, f))
                        for f in ("ids", "offsets", "time", "evid", "amt", "cmt", "rate", "ii",
                                  "addl", "ss", "cov", "output")))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"EventTable(n_subjects={self.n_subjects}, n_records={self.n_records}, "
                f"cov_names={self.cov_names})")

    def subject(self, i: int) -> EventTable:
        """The records of the ``i``-th subject (0-based position, not id) as a smaller table."""
        if not -self.n_subjects <= i < self.n_subjects:
            raise IndexError(f"subject index {i} out of range for {self.n_subjects} subjects")
        i %= self.n_subjects
        sl = slice(int(self.offsets[i]), int(self.offsets[i + 1]))
        return EventTable(
            ids=self.ids[i:i + 1], offsets=np.array([0, sl.stop - sl.start]),
            time=self.time[sl], evid=self.evid[sl], amt=self.amt[sl], cmt=self.cmt[sl],
            rate=self.rate[sl], ii=self.ii[sl], addl=self.addl[sl], ss=self.ss[sl],
            cov=self.cov[sl], cov_names=self.cov_names, cov_interp=self.cov_interp,
            output=self.output[sl])

    @classmethod
    def concat(cls, tables: Sequence[EventTable]) -> EventTable:
        """Stack the subjects of several tables (same covariates and rules; ids must differ)."""
        tables = list(tables)
        if not tables:
            raise DataError("EventTable.concat: no tables given")
        first = tables[0]
        for k, t in enumerate(tables[1:], start=2):
            if t.cov_names != first.cov_names or t.cov_interp != first.cov_interp:
                raise DataError(f"EventTable.concat: table {k} has covariates "
                                f"{dict(zip(t.cov_names, t.cov_interp, strict=True))}, table 1 "
                                f"{dict(zip(first.cov_names, first.cov_interp, strict=True))}")
        sizes = np.concatenate([[0]] + [np.diff(t.offsets) for t in tables])
        ids = np.concatenate([np.asarray(t.ids, dtype=object) for t in tables])

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(t, name) for t in tables])

        return cls(ids=ids, offsets=np.cumsum(sizes), time=cat("time"), evid=cat("evid"),
                   amt=cat("amt"), cmt=cat("cmt"), rate=cat("rate"), ii=cat("ii"),
                   addl=cat("addl"), ss=cat("ss"), cov=cat("cov"), cov_names=first.cov_names,
                   cov_interp=first.cov_interp, output=cat("output"))

    def repeat(self, k: int) -> EventTable:
        """The records of this table ``k`` times: copy ``c`` holds subjects
        ``c * n_subjects ... (c + 1) * n_subjects - 1`` (ids 1..k * n_subjects)."""
        n = self.n_records
        starts = (self.offsets[:-1][None, :] + n * np.arange(k)[:, None]).ravel()
        return EventTable(
            ids=np.arange(1, k * self.n_subjects + 1), offsets=np.append(starts, k * n),
            **{a: np.tile(getattr(self, a), k) for a in
               ("time", "evid", "amt", "cmt", "rate", "ii", "addl", "ss", "output")},
            cov=np.tile(self.cov, (k, 1)), cov_names=self.cov_names, cov_interp=self.cov_interp)

    def followed_by(self, other: EventTable, start: float) -> EventTable:
        """One subject's dose history, then the records of ``other`` from time ``start``.

        The doses of this table (records with EVID 1-4; observations are dropped) come first;
        the records of the one-subject table ``other`` (e.g. a regimen's) follow, their times
        shifted by ``start`` (model time unit). Covariates of this table keep their last
        values on the new records.

        Raises
        ------
        DataError
            If either table has more than one subject, ``other`` has covariates of its own,
            or ``start`` comes before the last dose of the history (ADDL doses included).
        """
        if self.n_subjects != 1 or other.n_subjects != 1:
            raise DataError("EventTable.followed_by: both tables must hold one subject")
        if other.cov_names:
            raise DataError(f"EventTable.followed_by: the new records carry covariates "
                            f"({', '.join(other.cov_names)}); they take the history's values")
        dose = self.evid != 0
        last = float(np.max(self.time[dose] + self.addl[dose] * self.ii[dose], initial=-np.inf))
        if not np.isfinite(start) or start < last:
            raise DataError(f"start = {start:g} is before the last dose of the history (at "
                            f"{last:g}, ADDL included); the new regimen must start after it")
        n_new = other.n_records
        cov_last = self.cov[-1:] if self.n_records else np.zeros((1, len(self.cov_names)))

        def cat(name: str, shift: float = 0.0) -> np.ndarray:
            return np.concatenate([getattr(self, name)[dose], getattr(other, name) + shift])

        n = int(dose.sum()) + n_new
        return EventTable(
            ids=self.ids[:1], offsets=np.array([0, n]), time=cat("time", start),
            evid=cat("evid"), amt=cat("amt"), cmt=cat("cmt"), rate=cat("rate"), ii=cat("ii"),
            addl=cat("addl"), ss=cat("ss"),
            output=np.concatenate([np.zeros(int(dose.sum()), bool), other.output]),
            cov=np.concatenate([self.cov[dose], np.repeat(cov_last, n_new, axis=0)]),
            cov_names=self.cov_names, cov_interp=self.cov_interp)

    def to_frame(self) -> pd.DataFrame:
        """The records as a DataFrame with NONMEM columns ID TIME EVID AMT CMT RATE II ADDL SS
        followed by one column per covariate."""
        import pandas as pd

        data: dict[str, Any] = {"ID": np.repeat(self.ids, np.diff(self.offsets))}
        for col in _NONMEM_COLUMNS[1:]:
            data[col] = np.asarray(getattr(self, col.lower()))
        for k, name in enumerate(self.cov_names):
            data[name] = np.asarray(self.cov[:, k])
        return pd.DataFrame(data)

    # -- checks against a model ---------------------------------------------------------------
    def _subject_of(self, i: int) -> tuple[int, int]:
        s = int(np.searchsorted(self.offsets, i, side="right")) - 1
        return s, i - int(self.offsets[s])

    def _where(self, i: int) -> str:
        s, r = self._subject_of(i)
        return f"record {r + 1} of subject {self.ids[s]} (TIME {self.time[i]})"

    def check(self, model: Any) -> None:
        """Check that the table can be simulated with ``model``.

        Raises
        ------
        DataError
            Naming each offending record ("record 17 of subject 3 (TIME 12.0)"), for: a CMT
            outside ``1..n_states``; a dose (EVID 1 or 4) without CMT; RATE -1 (-2) into a
            compartment whose rate (duration) is not modelled; a covariate the model needs that
            the table lacks and that has no default.
        """
        states = tuple(model.state_names)
        listing = ", ".join(f"{k + 1} {s}" for k, s in enumerate(states))
        problems: list[str] = []

        def report(mask: np.ndarray, reason: Any) -> None:
            for i in np.flatnonzero(mask)[:_MAX_LISTED]:
                problems.append(f"{self._where(int(i))}: {reason(int(i))}")

        report((self.cmt < 0) | (self.cmt > len(states)),
               lambda i: f"CMT={self.cmt[i]} but model '{model.name}' has {len(states)} "
                         f"states: {listing}")
        report(np.isin(self.evid, (1, 4)) & (self.cmt == 0),
               lambda i: f"dose (EVID {self.evid[i]}) without a compartment (CMT 0); "
                         f"valid: {listing}")
        attrs = {d.state: d for d in getattr(model, "dosing", ())}
        for code, attr in ((-1.0, "rate"), (-2.0, "duration")):
            ok = np.zeros(len(states) + 1, dtype=bool)
            for k, s in enumerate(states):
                ok[k + 1] = getattr(attrs.get(s), attr, None) is not None
            cmt = np.clip(self.cmt, 0, len(states))
            report(np.isin(self.evid, (1, 4)) & (self.rate == code) & ~ok[cmt],
                   lambda i, code=code, attr=attr, ok=ok: (
                       f"RATE={code:g} asks for a modelled {attr}, but compartment "
                       f"{self.cmt[i]} ({states[min(self.cmt[i], len(states)) - 1]}) has none; "
                       f"compartments with a modelled {attr}: "
                       f"{[s for k, s in enumerate(states) if ok[k + 1]] or 'none'}"))
        declared = {c.name: c for c in getattr(model, "covariates", ())}
        missing = [c for c in getattr(model, "covariate_names", ())
                   if c not in self.cov_names and getattr(declared.get(c), "default", None) is None]
        if missing:
            problems.append(f"model '{model.name}' needs covariates {missing} which the event "
                            f"table does not have (it has {list(self.cov_names)}) and which "
                            "have no default")
        if problems:
            more = "\n  ... and more" if len(problems) > _MAX_LISTED else ""
            raise DataError(f"events do not fit model '{model.name}':\n  "
                            + "\n  ".join(problems[:_MAX_LISTED]) + more)


# --------------------------------------------------------------------------------------------
# Dose
# --------------------------------------------------------------------------------------------

_ROUTE_WORDS = {
    "po": "PO", "oral": "PO", "orally": "PO", "iv": "IV", "intravenous": "IV",
    "intravenously": "IV", "sc": "SC", "sq": "SC", "subcut": "SC", "subcutaneous": "SC",
    "im": "IM", "intramuscular": "IM",
}
_ROUTES = frozenset(_ROUTE_WORDS.values())
_AMOUNT_DIMS = ("[mass]", "[substance]", "[iu]")


def _show(value: Any) -> str:
    """A value as the user would write it, for messages."""
    return f"{value:~C}" if hasattr(value, "units") else str(value)


def _quantity(value: Any, what: str) -> pint.Quantity:
    if isinstance(value, float) and math.isnan(value):
        raise RegimenError(f"{what} is NaN")
    q = parse_quantity(value, what=what)
    ureg = registry()
    return ureg.Quantity(float(q.magnitude), q.units)


def _per_weight(q: pint.Quantity) -> bool:
    """True if ``q`` is expressed per unit of body mass (e.g. mg/kg)."""
    ureg = registry()
    return any(exp < 0 and ureg.Unit(name).dimensionality == ureg.kg.dimensionality
               for name, exp in q.units._units.items())


def _amount_dims_ok(dims: Any) -> bool:
    return len(dims) == 1 and next(iter(dims.items())) in [(d, 1) for d in _AMOUNT_DIMS]


def _check_amount_like(q: pint.Quantity, what: str, per_time: bool) -> None:
    ureg = registry()
    base = q * ureg.h if per_time else q
    if _per_weight(q):
        base = base * ureg.kg
    if not _amount_dims_ok(base.dimensionality):
        example = "'100 mg/h' or '2 mg/kg/h'" if per_time else "'500 mg', '2 mmol', '1e6 IU' " \
                                                               "or '25 mg/kg'"
        raise UnitError(f"{what}: {q:~C} has dimension {q.dimensionality}; expected "
                        f"{'an amount per time' if per_time else 'an amount'} such as {example}")


def _fmt(q: pint.Quantity) -> str:
    x = float(q.magnitude)
    num = str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)
    return f"{num} {q.units:~C}"


@dataclass(frozen=True)
class Dose:
    """One dose: an amount given into a route or compartment at a time.

    Parameters
    ----------
    amount : QuantityLike, amount
        E.g. ``"500 mg"``, ``"2 mmol"``, or per kg of body weight ``"25 mg/kg"``. Positive.
    into : str
        A route (``"PO"``, ``"IV"``, ``"SC"``, ``"IM"``; synonyms such as ``"oral"`` are
        normalised) mapped through the model's ``routes``, or a compartment (state) name.
    time : QuantityLike, time
        When the dose is given (default ``"0 h"``), not negative.
    duration : QuantityLike, time, optional
        Infusion duration; 0 means a bolus (stored as None).
    rate : QuantityLike, amount per time, optional
        Infusion rate; exclusive with ``duration``.

    Raises
    ------
    RegimenError
        Zero, negative or NaN amount, negative duration or time, both duration and rate.
    UnitError
        Unknown unit or wrong dimension.
    """

    amount: Any
    into: str
    time: Any = "0 h"
    duration: Any = None
    rate: Any = None

    def __post_init__(self) -> None:
        put = object.__setattr__
        label = f"dose amount '{_show(self.amount)}'"
        amount = _quantity(self.amount, label)
        if not amount.magnitude > 0:
            raise RegimenError(f"{label}: the amount must be positive")
        _check_amount_like(amount, label, per_time=False)
        put(self, "amount", amount)
        if not isinstance(self.into, str) or not self.into.strip():
            raise RegimenError(f"dose {amount:~C}: 'into' must name a route ({sorted(_ROUTES)}) "
                               f"or a compartment, got {self.into!r}")
        into = self.into.strip()
        put(self, "into", _ROUTE_WORDS.get(into.lower(), into))
        put(self, "time", self._time(self.time, "time", allow_zero=True))
        if self.duration is not None and self.rate is not None:
            raise RegimenError(f"dose {amount:~C}: give either a duration or a rate, not both")
        duration = None if self.duration is None else self._time(self.duration, "duration",
                                                                  allow_zero=True)
        put(self, "duration", duration if duration is not None and duration.magnitude > 0
            else None)
        if self.rate is not None:
            what = f"dose {amount:~C}: rate {self.rate!r}"
            rate = _quantity(self.rate, what)
            _check_amount_like(rate, what, per_time=True)
            if not rate.magnitude > 0:
                raise RegimenError(f"{what}: the infusion rate must be positive")
            put(self, "rate", rate)

    def _time(self, value: Any, name: str, allow_zero: bool) -> pint.Quantity:
        what = f"dose {self.amount:~C}: {name} {value!r}"
        q = _quantity(value, what)
        if q.dimensionality != registry().h.dimensionality:
            raise UnitError(f"{what} must be a time such as '1 h' or '30 min'")
        if q.magnitude < 0 or (q.magnitude == 0 and not allow_zero):
            raise RegimenError(f"{what} must not be negative")
        return q

    @property
    def per_weight(self) -> bool:
        """True if the amount (or rate) is given per kg of body weight."""
        return _per_weight(self.amount) or (self.rate is not None and _per_weight(self.rate))

    def __str__(self) -> str:
        into = self.into if self.into in _ROUTES else f"into {self.into}"
        text = f"{_fmt(self.amount)} {into}"
        if self.duration is not None:
            text += f" over {_fmt(self.duration)}"
        if self.rate is not None:
            text += f" at {_fmt(self.rate)}"
        if self.time.magnitude != 0:
            text += f" starting at {_fmt(self.time)}"
        return text


# --------------------------------------------------------------------------------------------
# Regimen
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegimenPart:
    """A dose repeated ``count`` times every ``interval``, the first at ``dose.time``."""

    dose: Dose
    count: int = 1
    interval: Any = None

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, (int, np.integer)) \
                or self.count < 1:
            raise RegimenError(f"{self.dose}: the number of doses must be an integer >= 1, got "
                               f"{self.count!r}")
        object.__setattr__(self, "count", int(self.count))
        if self.interval is not None:
            what = f"{self.dose}: interval {self.interval!r}"
            q = _quantity(self.interval, what)
            if q.dimensionality != registry().h.dimensionality:
                raise UnitError(f"{what} must be a time such as '12 h'")
            if not q.magnitude > 0:
                raise RegimenError(f"{what} must be positive")
            object.__setattr__(self, "interval", q)
        elif self.count > 1:
            raise RegimenError(f"{self.dose}: {self.count} doses need an interval")

    @property
    def last_time(self) -> pint.Quantity:
        """Time of the last dose of the part."""
        t = self.dose.time
        return t if self.interval is None else t + (self.count - 1) * self.interval

    def shifted(self, by: pint.Quantity) -> RegimenPart:
        d = self.dose
        dose = Dose(d.amount, d.into, time=d.time + by, duration=d.duration, rate=d.rate)
        return RegimenPart(dose, self.count, self.interval)

    def __str__(self) -> str:
        text = str(self.dose)
        if self.interval is not None:
            text += f" every {_fmt(self.interval)} x {self.count}"
        return text


@dataclass(frozen=True)
class Regimen:
    """An ordered, immutable collection of dosing parts.

    Build one with :meth:`single`, :meth:`repeat`, :meth:`then`, ``+`` or :meth:`parse`.
    ``str(regimen)`` gives text that :meth:`parse` reads back to an equal regimen.

    Parameters
    ----------
    parts : tuple of RegimenPart
    """

    parts: tuple[RegimenPart, ...]

    def __post_init__(self) -> None:
        parts = tuple(self.parts)
        if not parts or not all(isinstance(p, RegimenPart) for p in parts):
            raise RegimenError("a Regimen needs at least one RegimenPart")
        object.__setattr__(self, "parts", parts)

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def single(cls, dose: Dose) -> Regimen:
        """One dose."""
        return cls((RegimenPart(dose),))

    @classmethod
    def repeat(cls, dose: Dose, *, every: Any, count: int | None = None,
               until: Any = None) -> Regimen:
        """``dose`` repeated ``every`` interval, ``count`` times or for the period ``until``.

        ``until`` is the length of the dosing period measured from the first dose, exclusive:
        ``until="7 d"`` with ``every="12 h"`` gives 14 doses.
        """
        if (count is None) == (until is None):
            raise RegimenError(f"{dose}: give exactly one of count= or until=")
        part = RegimenPart(dose, 1, every)
        if until is not None:
            what = f"{dose}: until {until!r}"
            period = _quantity(until, what)
            if period.dimensionality != registry().h.dimensionality or not period.magnitude > 0:
                raise RegimenError(f"{what} must be a positive time such as '7 d'")
            ratio = float(period.to("h").magnitude / part.interval.to("h").magnitude)
            count = max(1, math.ceil(ratio - 1e-9))
        return cls((RegimenPart(dose, count, part.interval),))

    def then(self, other: Regimen | Dose, *, after: Any = None) -> Regimen:
        """Append ``other`` after the last dose of this regimen.

        ``other`` is shifted so that its first dose comes ``after`` the last dose of ``self``;
        by default ``after`` is the interval of the part holding that last dose or, if that part
        is a single dose, the first interval of ``other``. A single dose followed by a single
        dose needs an explicit ``after``.
        """
        if isinstance(other, Dose):
            other = Regimen.single(other)
        last = max(self.parts, key=lambda p: float(p.last_time.to("h").magnitude))
        nxt = min(other.parts, key=lambda p: float(p.dose.time.to("h").magnitude))
        if after is not None:
            gap = _quantity(after, f"then: after {after!r}")
            if gap.dimensionality != registry().h.dimensionality or gap.magnitude < 0:
                raise RegimenError(f"then: after {after!r} must be a non-negative time")
        elif last.interval is not None:
            gap = last.interval
        elif nxt.interval is not None:
            gap = nxt.interval
        else:
            raise RegimenError(f"'{last}' then '{nxt}': both are single doses, so the time "
                               "between them is unknown; give it with after= (in text: "
                               "'then ... after 24 h')")
        shift = last.last_time + gap - nxt.dose.time
        return Regimen(self.parts + tuple(p.shifted(shift) for p in other.parts))

    def __add__(self, other: Regimen) -> Regimen:
        if not isinstance(other, Regimen):
            return NotImplemented
        return Regimen(self.parts + other.parts)

    def __str__(self) -> str:
        return " and ".join(str(p) for p in self.parts)

    # -- parsing ------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Regimen:
        """Read a regimen written in clinical shorthand.

        Grammar (keywords are case-insensitive, commas are ignored)::

            regimen  := part (joiner part)*
            joiner   := "then" | "followed by"      the next part follows the previous one
                      | "and" | ";" | "+"           merged: each part keeps its own start time
            part     := ["loading" | "maintenance"] ["dose"] ["of"] AMOUNT clause*
            clause   := route
                      | "over" TIME                 infusion duration ("over 30 min")
                      | "at" RATE                   infusion rate ("at 100 mg/h")
                      | "at" TIME | "starting" ["at"] TIME    start time ("at 8 h")
                      | "after" TIME                gap after the previous part (only after "then")
                      | interval
                      | "x" N ["doses"] | "for" N "doses"  number of doses ("x 14", "x14")
                      | "for" TIME | "x" TIME       dosing period ("for 7 days", "for 2 weeks")
            route    := "PO" | "oral" | "IV" ["bolus"] | "SC" | "IM" | "bolus" | "infusion"
                      | "into" COMPARTMENT
            interval := "q" TIME ("q12h", "q 12 h") | "every" TIME ("every 8 hours")
                      | "every" UNIT ("every day") | "qd" | "od" | "daily" | "once daily"
                      | "bid" | "twice daily" | "tid" | "qid" | "weekly"

        AMOUNT, TIME and RATE are a number and a unit, written together or apart (``500mg``,
        ``500 mg``, ``25 mg/kg``, ``12 h``, ``100 mg/h``); the unit is one word without spaces.

        Rules:

        * A dosing period is exclusive: "q12h for 7 days" is 14 doses (``ceil(period/interval)``).
        * A repeated part needs a count or a period; a single dose has neither.
        * The route carries over from the previous part when a part does not give one; the
          infusion duration or rate does not (a part without "over"/"at" is a bolus).
        * "then": the next part starts one interval after the last dose of the previous part,
          using the previous part's interval or, when the previous part is a single dose, the
          next part's own interval; "after TIME" overrides this and a single dose followed by a
          single dose needs it. An explicit start ("at 8 h") is an absolute time.

        Examples
        --------
        >>> r = Regimen.parse("loading 25 mg/kg IV over 2 h then 15 mg/kg q12h for 5 days")
        >>> str(r)
        '25 mg/kg IV over 2 h and 15 mg/kg IV starting at 12 h every 12 h x 10'

        Raises
        ------
        RegimenError
            Pointing at the word that could not be read, with this grammar.
        """
        return _Parser(text).regimen()

    # -- lowering ---------------------------------------------------------------------------
    def to_events(self, model: Any, *, weight: Any = None) -> EventTable:
        """Lower the regimen to an :class:`EventTable` for ``model``.

        Parameters
        ----------
        model : Model
            Gives ``time_unit``, ``states`` (name, unit) and ``routes``.
        weight : QuantityLike or array, mass, optional
            Body weight (a number is in kg; ``"82 kg"``; a 1-D array or pint array gives one
            subject per weight). Needed when an amount or rate is per kg.

        Returns
        -------
        EventTable
            One record per part (``ADDL = count - 1``, ``II = interval``), infusions with
            ``RATE = amount / duration``, amounts in the dosed state's unit, times in the model's
            time unit, ``output`` False everywhere, no covariates. Subjects are numbered 1..n.
        """
        ureg = registry()
        weights = _weights(weight)
        n_sub = 1 if weights is None else weights.shape[0]
        tu = model.time_unit
        rows = []
        for part in self.parts:
            d = part.dose
            k = _target(model, d.into)
            unit = model.states[k].unit
            time = convert(d.time, tu, what=f"{d}: time")
            amt = _scaled(d.amount, weights, d, unit, n_sub)
            if d.duration is not None:
                rate = amt / convert(d.duration, tu, what=f"{d}: duration")
            elif d.rate is not None:
                rate = _scaled(d.rate * ureg.Quantity(1.0, tu), weights, d, unit, n_sub)
            else:
                rate = np.zeros(n_sub)
            ii = 0.0 if part.interval is None else convert(part.interval, tu,
                                                            what=f"{part}: interval")
            rows.append((time, amt, k + 1, rate, ii, part.count - 1))
        order = sorted(range(len(rows)), key=lambda j: rows[j][0])
        rows = [rows[j] for j in order]
        m = len(rows)

        def per_record(j: int) -> np.ndarray:
            return np.tile(np.array([r[j] for r in rows], dtype=float), n_sub)

        def per_subject(j: int) -> np.ndarray:
            return np.column_stack([r[j] for r in rows]).ravel()

        return EventTable(
            ids=np.arange(1, n_sub + 1), offsets=np.arange(n_sub + 1) * m,
            time=per_record(0), evid=np.ones(n_sub * m, dtype=np.int64), amt=per_subject(1),
            cmt=per_record(2).astype(np.int64), rate=per_subject(3), ii=per_record(4),
            addl=per_record(5).astype(np.int64), ss=np.zeros(n_sub * m, dtype=np.int64),
            output=np.zeros(n_sub * m, dtype=bool))


def _weights(weight: Any) -> np.ndarray | None:
    """Body weights in kg as a 1-D array (None if not given)."""
    if weight is None:
        return None
    ureg = registry()
    if isinstance(weight, str):
        return _weights(convert(weight, "kg", what=f"weight {weight!r}"))
    try:
        if isinstance(weight, ureg.Quantity):
            weight = weight.to("kg").magnitude
        kg = np.atleast_1d(np.asarray(weight, dtype=float))
    except Exception as exc:
        raise UnitError(f"weight {weight!r}: expected a body weight such as '82 kg' or an "
                        f"array of weights in kg ({exc})") from None
    if kg.ndim != 1 or not np.all(np.isfinite(kg)) or not np.all(kg > 0):
        raise RegimenError(f"weight {weight!r}: body weights must be positive finite numbers "
                           "(kg) in a scalar or 1-D array")
    return kg


def _target(model: Any, into: str) -> int:
    """Index of the state a dose ``into`` (route or state name) goes to."""
    names = list(model.state_names)
    routes = {k.upper(): v for k, v in dict(model.routes).items()}
    state = routes.get(into.upper(), into if into in names else None)
    if state not in names:
        raise RegimenError(f"dose into {into!r}: model '{model.name}' has routes "
                           f"{sorted(routes) or 'none'} ({routes}) and states {names}")
    return names.index(state)


def _scaled(q: pint.Quantity, weights: np.ndarray | None, dose: Dose, unit: str,
            n_sub: int) -> np.ndarray:
    """``q`` (maybe per kg) converted to ``unit``, one value per subject."""
    ureg = registry()
    if _per_weight(q):
        if weights is None:
            raise RegimenError(f"amount '{_fmt(q)}' is per kg of body weight: give the "
                               f"patient's weight (to_events(model, weight='82 kg'))")
        q = q * ureg.Quantity(weights, "kg")
    try:
        values = np.asarray(q.to(unit).magnitude, dtype=float)
    except Exception:
        raise UnitError(f"dose '{dose}': {_fmt(q) if q.ndim == 0 else q.units} cannot be "
                        f"converted to the unit of the dosed state, {unit}") from None
    return np.broadcast_to(values, (n_sub,)).astype(float)


# --------------------------------------------------------------------------------------------
# Parser of clinical regimen text
# --------------------------------------------------------------------------------------------

_NUM = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_TOKEN = re.compile(rf"{_NUM}[^\s,;+]*|[;+]|[^\s,;+]+")
_GLUED = re.compile(rf"^({_NUM})(\S+)?$")
_FREQ = {"qd": 24, "od": 24, "daily": 24, "bid": 12, "tid": 8, "qid": 6, "weekly": 168,
         "hourly": 1}
_GRAMMAR = (Regimen.parse.__doc__ or "").split("Grammar")[1].split("AMOUNT, TIME")[0]


class _Parser:
    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise RegimenError(f"empty regimen text {text!r}; write e.g. '500 mg PO q12h x 14'")
        self.text = text
        self.words = [(m.group(), m.start()) for m in _TOKEN.finditer(text)]
        self.i = 0

    # token helpers
    def peek(self, k: int = 0) -> str | None:
        j = self.i + k
        return self.words[j][0].lower() if j < len(self.words) else None

    def fail(self, expected: str, at: int | None = None) -> RegimenError:
        j = self.i if at is None else at
        if j < len(self.words):
            word, pos = self.words[j]
            head = f"cannot read {word!r} at position {pos + 1}"
        else:
            word, pos = "", len(self.text)
            head = "unexpected end of text"
        return RegimenError(f"{head}: expected {expected}\n  {self.text}\n  {' ' * pos}^\n"
                            f"Regimen grammar{_GRAMMAR.rstrip()}")

    def number(self, expected: str) -> tuple[float, str | None]:
        """Read a number, maybe glued to a unit; returns (value, glued unit text)."""
        word = self.words[self.i][0] if self.i < len(self.words) else ""
        m = _GLUED.match(word)
        if not m:
            raise self.fail(expected)
        self.i += 1
        return float(m.group(1)), m.group(2)

    def unit(self, text: str | None, expected: str, at: int) -> pint.Unit:
        ureg = registry()
        if text is None:
            if self.i >= len(self.words):
                raise self.fail(expected)
            at, text = self.i, self.words[self.i][0]
            self.i += 1
        try:
            return ureg.Unit(text)
        except Exception:
            raise self.fail(expected, at) from None

    def quantity(self, expected: str) -> pint.Quantity:
        start = self.i
        value, glued = self.number(expected)
        unit = self.unit(glued, expected, start)
        return registry().Quantity(value, unit)

    def timeq(self, expected: str) -> pint.Quantity:
        start = self.i
        value, glued = self.number(expected)
        if glued is None and self.peek() is not None and _is_time(self.peek() or ""):
            glued, self.i = self.peek(), self.i + 1
        elif glued is not None and _is_time(glued.lower()):
            glued = glued.lower()
        unit = self.unit(glued, expected, start)
        if unit.dimensionality != registry().h.dimensionality:
            raise self.fail(expected, start)
        return registry().Quantity(value, unit)

    # grammar
    def regimen(self) -> Regimen:
        regimen: Regimen | None = None
        joiner = None
        route = None
        while True:
            part, route, start_given, after = self.part(route, joiner)
            one = Regimen((part,))
            if regimen is None:
                regimen = one
            elif joiner == "then" and not start_given:
                try:
                    regimen = regimen.then(one, after=after)
                except RegimenError as exc:
                    raise RegimenError(f"{exc}\n  in {self.text!r}") from None
            else:
                regimen = regimen + one
            if self.i >= len(self.words):
                return regimen
            word = self.peek()
            if word == "then":
                joiner, self.i = "then", self.i + 1
            elif word == "followed" and self.peek(1) == "by":
                joiner, self.i = "then", self.i + 2
            elif word in ("and", ";", "+"):
                joiner, self.i = "and", self.i + 1
            else:
                raise self.fail("'then', 'and' or the end of the regimen")

    def part(self, route: str | None, joiner: str | None
             ) -> tuple[RegimenPart, str | None, bool, Any]:
        while self.peek() in ("loading", "maintenance", "dose", "of"):
            self.i += 1
        amount_at = self.i
        amount = self.quantity("a dose amount such as '500 mg' or '25 mg/kg'")
        seen: dict[str, Any] = {}
        own_route = None
        bolus = False

        def once(key: str, value: Any, at: int) -> None:
            if key in seen:
                raise self.fail(f"a single {key} per part", at)
            seen[key] = value

        while self.i < len(self.words):
            w, at = self.peek() or "", self.i
            if w in ("then", "followed", "and", ";", "+"):
                break
            if w in _ROUTE_WORDS:
                if own_route is not None:
                    raise self.fail("a single route per part")
                own_route, self.i = _ROUTE_WORDS[w], self.i + 1
            elif w == "bolus":
                bolus, self.i = True, self.i + 1
            elif w in ("infusion", "dose", "doses"):
                self.i += 1
            elif w == "into":
                self.i += 1
                if self.i >= len(self.words):
                    raise self.fail("a compartment name after 'into'")
                if own_route is not None:
                    raise self.fail("a single route per part", at)
                own_route, self.i = self.words[self.i][0], self.i + 1
            elif w == "over":
                self.i += 1
                once("duration", self.timeq("an infusion duration such as 'over 1 h'"), at)
            elif w in ("at", "starting", "start", "from"):
                self.i += 1
                if w != "at" and self.peek() == "at":
                    self.i += 1
                q_at = self.i
                q = self.quantity("a start time ('at 8 h') or an infusion rate ('at 100 mg/h')")
                if q.dimensionality == registry().h.dimensionality:
                    once("start time", q, at)
                elif w == "at":
                    once("rate", q, at)
                else:
                    raise self.fail("a start time such as 'starting at 8 h'", q_at)
            elif w == "after":
                if joiner != "then":
                    raise self.fail("'after' only in a part that follows 'then'")
                self.i += 1
                once("gap", self.timeq("a time such as 'after 24 h'"), at)
            elif w in ("x", "×", "for") or (w[0] in "x×" and _GLUED.match(w[1:])):
                self.count_or_period(w, once, at)
            else:
                once("interval", self.interval(), at)
        if bolus and ("duration" in seen or "rate" in seen):
            raise self.fail("either a bolus or an infusion ('over', 'at RATE')", amount_at)
        route = own_route or route
        if route is None:
            raise self.fail("a route after the amount: 'PO', 'IV', 'SC', 'IM' or "
                            "'into <compartment>'", amount_at)
        try:
            dose = Dose(amount, route, time=seen.get("start time", "0 h"),
                        duration=seen.get("duration"), rate=seen.get("rate"))
            interval = seen.get("interval")
            if "count" in seen and "period" in seen:
                raise RegimenError("give either a number of doses or a period, not both")
            if interval is None:
                if seen.get("count", 1) != 1 or "period" in seen:
                    raise RegimenError("a number of doses or a period needs an interval such "
                                       "as 'q12h'")
                part = RegimenPart(dose)
            elif "period" in seen:
                part = Regimen.repeat(dose, every=interval, until=seen["period"]).parts[0]
            elif "count" in seen:
                part = RegimenPart(dose, seen["count"], interval)
            else:
                raise RegimenError("a repeated dose needs how many doses ('x 14') or for how "
                                   "long ('for 7 days')")
        except (RegimenError, UnitError) as exc:
            pos = self.words[amount_at][1] + 1
            raise RegimenError(f"{exc}\n  in the part starting at position {pos} of "
                               f"{self.text!r}") from None
        return part, route, "start time" in seen, seen.get("gap")

    def count_or_period(self, w: str, once: Any, at: int) -> None:
        if w in ("x", "×", "for"):
            self.i += 1
        else:  # glued "x14"
            word, pos = self.words[self.i]
            self.words[self.i] = (word[1:], pos + 1)
        expected = "a number of doses ('x 14', 'for 14 doses') or a period ('for 7 days')"
        start = self.i
        value, glued = self.number(expected)
        unit = glued if glued is not None else self.peek()
        if unit is not None and unit.lower() in ("dose", "doses"):
            self.i += glued is None
        elif unit is not None and _is_time(unit.lower()):
            self.i += glued is None
            once("period", registry().Quantity(value, unit.lower()), at)
            return
        elif glued is not None or w == "for":
            raise self.fail(expected, start)
        if not value.is_integer() or value < 1:
            raise self.fail("a whole number of doses", start)
        once("count", int(value), at)

    def interval(self) -> pint.Quantity:
        ureg = registry()
        expected = "an interval such as 'q12h' or 'every 12 h'"
        w, at = self.peek() or "", self.i
        if w in _FREQ:
            self.i += 1
            return ureg.Quantity(float(_FREQ[w]), "h")
        if w in ("once", "twice") and self.peek(1) == "daily":
            self.i += 2
            return ureg.Quantity(24.0 if w == "once" else 12.0, "h")
        if w == "every":
            self.i += 1
            nxt = self.peek()
            if nxt is not None and not _GLUED.match(nxt) and _is_time(nxt):
                self.i += 1
                return ureg.Quantity(1.0, ureg.Unit(nxt))
            return self.timeq(expected)
        if w.startswith("q"):
            word, pos = self.words[self.i]
            if w == "q":
                self.i += 1
                return self.timeq(expected)
            self.words[self.i] = (word[1:], pos + 1)
            try:
                return self.timeq(expected)
            except RegimenError:
                self.words[at] = (word, pos)
                raise self.fail(expected, at) from None
        raise self.fail(f"{expected}, a route, 'over', 'at', 'x' or 'for'", at)


def _is_time(word: str) -> bool:
    try:
        return registry().Unit(word).dimensionality == registry().h.dimensionality
    except Exception:
        return False

