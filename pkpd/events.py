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

This module defines :class:`EventTable`. :class:`Dose`, :class:`RegimenPart` and
:class:`Regimen` are defined in :mod:`pkpd._regimen` (which lowers regimens to event tables) and
the regimen text parser in :mod:`pkpd._regimen_text`; the three regimen classes are public here,
loaded on first use, so that the import goes one way: ``pkpd._regimen`` imports this module,
not the other way round.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ._regimen import Dose as Dose
    from ._regimen import Regimen as Regimen
    from ._regimen import RegimenPart as RegimenPart

__all__ = ["Dose", "EventTable", "Regimen", "RegimenPart"]

_NONMEM_COLUMNS = ("ID", "TIME", "EVID", "AMT", "CMT", "RATE", "II", "ADDL", "SS")
_MAX_LISTED = 20
#: Most implied (ADDL) doses a simulation materialises (inside the output window, summed over
#: records); each costs about 150 bytes while the records are prepared.
MAX_IMPLIED_DOSES = 5_000_000


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
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise DataError(f"EventTable: subject id {int(arr.max())} is too large; valid: whole "
                        f"numbers of magnitude up to {np.iinfo(np.int64).max}, or strings")
    if arr.dtype.kind in "iub":
        out = arr.astype(np.int64)
    else:
        try:
            as_float = arr.astype(np.float64)
        except (TypeError, ValueError, OverflowError):
            as_float = None
        if (as_float is not None and np.all(np.isfinite(as_float))
                and np.all(as_float == np.round(as_float))):
            big = np.abs(as_float) >= 2.0**53
            if np.any(big) and arr.dtype.kind == "O":   # e.g. Python ints: keep them exact
                out = np.array(list(arr.tolist()), dtype=object)
                out.flags.writeable = False
                return out
            if np.any(big):
                raise DataError(f"EventTable: subject id {as_float[big][0]:g} is a float too "
                                "large to be a whole number exactly; valid: floats of magnitude "
                                "below 2**53 (9007199254740992), integers or strings")
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

    Examples
    --------
    A 100 mg dose into compartment 1 and two observations, for one subject:

    >>> import numpy as np
    >>> from pkpd.events import EventTable
    >>> ev = EventTable(ids=np.array([1]), offsets=np.array([0, 3]),
    ...                 time=np.array([0.0, 1.0, 2.0]), evid=np.array([1, 0, 0]),
    ...                 amt=np.array([100.0, 0.0, 0.0]), cmt=np.array([1, 0, 0]),
    ...                 rate=np.zeros(3), ii=np.zeros(3), addl=np.zeros(3, dtype=np.int64),
    ...                 ss=np.zeros(3, dtype=np.int64))
    >>> ev.output.tolist()     # predictions at the observation records
    [False, True, True]
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

    def clipped(self, until: float | np.ndarray) -> EventTable:
        """The table with the ADDL doses given after ``until`` removed.

        The simulator materialises every implied (ADDL) dose; doses after the last output
        time cannot change any output (lag times only delay a dose), so a regimen of 10^8
        doses simulated over two days costs what its doses inside those two days cost. One
        implied dose past ``until`` is kept as a margin against rounding of ``TIME + k*II``.

        Parameters
        ----------
        until : float or array of shape (n_subjects,)
            Last time of interest (the last output time), per subject or for all; ``-inf``
            drops every implied dose of a subject.

        Raises
        ------
        RegimenError
            If more than :data:`MAX_IMPLIED_DOSES` implied doses remain (naming the count).

        Examples
        --------
        >>> t = EventTable(ids=[1], offsets=[0, 1], time=[0.0], evid=[1], amt=[100.0], cmt=[1],
        ...                rate=[0.0], ii=[12.0], addl=[10**8], ss=[0])
        >>> int(t.clipped(48.0).addl[0])
        5
        """
        from .errors import RegimenError

        bound = np.broadcast_to(np.asarray(until, dtype=float), (self.n_subjects,))
        per_rec = np.repeat(bound, np.diff(self.offsets))
        room = np.full(self.n_records, np.inf)
        room[per_rec == -np.inf] = 0.0
        ok = (self.ii > 0) & np.isfinite(per_rec)
        room[ok] = np.clip(np.floor((per_rec[ok] - self.time[ok]) / self.ii[ok]) + 1.0, 0.0, None)
        addl = np.minimum(self.addl.astype(float), room).astype(np.int64)
        implied = int(addl[np.isin(self.evid, (1, 4))].sum())
        if implied > MAX_IMPLIED_DOSES:
            raise RegimenError(f"the regimen implies {implied} additional (ADDL) doses up to "
                               f"the last output time; the limit is {MAX_IMPLIED_DOSES}: "
                               "use a longer interval, fewer doses or a shorter time window")
        if np.array_equal(addl, self.addl):
            return self
        from dataclasses import replace

        return replace(self, addl=addl)

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
# Dose, RegimenPart, Regimen: defined in pkpd._regimen, public here
# --------------------------------------------------------------------------------------------

_REGIMEN_NAMES = frozenset({"Dose", "Regimen", "RegimenPart"})


def __getattr__(name: str) -> Any:
    """Load :class:`Dose`, :class:`RegimenPart` and :class:`Regimen` from ``pkpd._regimen``."""
    if name not in _REGIMEN_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("pkpd._regimen"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | _REGIMEN_NAMES)
