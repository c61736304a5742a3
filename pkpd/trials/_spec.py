"""Typed descriptions of a trial's arms and of its published summary rows, and their
resolution against a model into plain numbers in the model's units (internal)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError, PkpdError, RegimenError, UnitError

if TYPE_CHECKING:  # pragma: no cover
    from ..events import Regimen
    from ..model import Model

__all__ = ["METRICS", "REFERENCES", "STATISTICS", "PublishedSummary", "Resolved", "TrialArm",
           "dose_times", "is_missing", "parse_statistic", "resolve"]

#: Statistics over the subjects of one trial (besides percentiles ``"p5"``, ``"p95"``,
#: ``"90th percentile"``): name -> what it is.
STATISTICS: dict[str, str] = {
    "mean": "arithmetic mean",
    "sd": "standard deviation (n - 1 in the denominator)",
    "median": "median",
    "min": "smallest value",
    "max": "largest value",
    "geometric mean": "exp of the mean of the logarithms (NaN if a value is <= 0)",
    "cv%": "100 * sd / mean",
    "geometric cv%": "100 * sqrt(exp(var(log x)) - 1) (NaN if a value is <= 0)",
    "fraction above": "fraction of subjects above `threshold` (0..1, or % with unit '%')",
    "fraction below": "fraction of subjects below `threshold` (0..1, or % with unit '%')",
}
_ALIASES = {"average": "mean", "arithmetic mean": "mean", "std": "sd", "standard deviation": "sd",
            "minimum": "min", "maximum": "max", "gmean": "geometric mean",
            "geomean": "geometric mean", "geometric_mean": "geometric mean", "cv": "cv%",
            "cv %": "cv%", "%cv": "cv%", "gcv%": "geometric cv%", "geometric cv": "geometric cv%",
            "gcv": "geometric cv%", "q1": "p25", "q3": "p75"}

#: Exposure metrics over a window (from the model's prediction, without residual error).
METRICS: dict[str, str] = {
    "cmax": "largest value in the window",
    "cmin": "smallest value in the window",
    "tmax": "time of the largest value (from the window's reference, in the model time unit)",
    "trough": "value at the end of the window (just before the next dose)",
    "auc": "area under the curve over the window (exact, integrated with the model)",
    "cavg": "average over the window: auc / window length",
}

_METRIC_LABEL = {"cmax": "Cmax", "cmin": "Cmin", "tmax": "Tmax", "trough": "trough",
                 "auc": "AUC", "cavg": "Cavg"}

#: Where ``time``, ``start`` and ``end`` of a summary row are measured from.
REFERENCES: tuple[str, ...] = ("first dose", "last dose", "end of last infusion")

_PCT = re.compile(r"^(?:p|percentile\s*)(\d+(?:\.\d*)?)$|^(\d+(?:\.\d*)?)\s*(?:st|nd|rd|th)?"
                  r"\s*percentile$")
_FRACTION = re.compile(r"^(?:fraction|proportion)\s+(above|below)(?:\s+(.+))?$")


@dataclass(frozen=True)
class TrialArm:
    """One arm (dose group) of a trial: its regimen and the subjects who received it.

    Parameters
    ----------
    name : str
        The group's name, as summary rows refer to it (e.g. ``"1 g q12h"``).
    regimen : str or Regimen
        Regimen text as :meth:`pkpd.Regimen.parse` reads it (``"1 g IV over 1 h q12h x 8"``).
    n : int
        Subjects per trial in this arm (the published group size).
    population : Population, Patient, mapping or DataFrame, optional
        Where the subjects come from: a :class:`pkpd.Population` to draw each trial's subjects
        from; a :class:`pkpd.Patient` or a mapping of covariates (``{"CRCL": "110 mL/min",
        "WT": "70 kg"}``) shared by every subject (fixed covariates, only the random effects
        vary); a DataFrame of patients resampled with replacement. Default: the model's
        covariate defaults.

    Examples
    --------
    >>> arm = TrialArm("1 g", "1 g IV over 1 h q12h x 8", n=10, population={"CRCL": 110})
    >>> arm.n
    10
    """

    name: str
    regimen: str | Regimen
    n: int
    population: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise DataError(f"trial arm: the name must be a non-empty string, got {self.name!r}")
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or self.n < 1:
            raise DataError(f"trial arm {self.name!r}: n must be an integer >= 1 (subjects per "
                            f"trial), got {self.n!r}")
        object.__setattr__(self, "n", int(self.n))


@dataclass(frozen=True)
class PublishedSummary:
    """One published summary: a statistic over the subjects of a group, and its value.

    Give either ``time`` (a summary of the output at a nominal time, with residual error)
    or ``metric`` with ``start`` and ``end`` (a summary of a per-subject exposure metric over
    a window, from the prediction without residual error).

    Parameters
    ----------
    group : str
        The :class:`TrialArm` it belongs to.
    statistic : str
        One of :data:`STATISTICS` (aliases such as ``"average"``, ``"gmean"``, ``"cv"``
        accepted), a percentile ``"p5"`` / ``"95th percentile"``, or ``"fraction above"`` /
        ``"fraction below"`` (with ``threshold``, or written ``"fraction above 10 mg/L"``).
    value : float, str or Quantity
        The published value: a number in ``unit``, or ``"63 ug/mL"``.
    unit : str, optional
        Unit of a bare-number ``value``: any unit convertible to the model's (``"ug/mL"`` for
        an output in mg/L; ``"mg*h/L"`` for an AUC; ``"h"`` for Tmax). ``"%"`` or none for
        ``cv%``; none (0..1) or ``"%"`` for a fraction.
    output : str, optional
        The model output summarised (default: the model's first output).
    time : float, str or Quantity, optional
        Nominal sampling time after ``after`` (numbers in the model's time unit). A sample at
        the time of a dose sees that dose (NONMEM's order): for a pre-dose trough use the
        ``"trough"`` metric of the interval before, or a time just before the dose.
    metric : str, optional
        One of :data:`METRICS`: ``"cmax"``, ``"cmin"``, ``"tmax"``, ``"trough"``, ``"auc"``,
        ``"cavg"``.
    start, end : float, str or Quantity, optional
        The metric's window, after ``after``.
    after : str
        One of :data:`REFERENCES`: ``"first dose"`` (default), ``"last dose"`` (its start),
        ``"end of last infusion"``.
    n : int, optional
        Subjects behind this value if fewer than the arm's ``n`` (e.g. missing samples).
    threshold : float, str or Quantity, optional
        The level of ``"fraction above"`` / ``"fraction below"`` (numbers in the unit of the
        summarised quantity).
    label : str, optional
        A name for the row in tables and plots (default: built from the fields).

    Examples
    --------
    >>> row = PublishedSummary("1 g", "mean", 63, unit="ug/mL", time="0 h",
    ...                        after="end of last infusion")
    >>> row.statistic
    'mean'
    """

    group: str
    statistic: str
    value: Any
    unit: str | None = None
    output: str | None = None
    time: Any = None
    metric: str | None = None
    start: Any = None
    end: Any = None
    after: str = "first dose"
    n: int | None = None
    threshold: Any = None
    label: str | None = None


@dataclass(frozen=True)
class Stat:
    """A parsed statistic: ``kind`` in STATISTICS or ``"percentile"`` (``q`` in [0, 100])."""

    kind: str
    q: float = math.nan
    threshold_text: str | None = None

    @property
    def name(self) -> str:
        if self.kind == "percentile":
            return f"p{self.q:g}"
        return self.kind


def parse_statistic(text: Any, what: str) -> Stat:
    """Read a statistic name; raise :class:`DataError` naming ``what`` and the valid names."""
    if not isinstance(text, str):
        raise DataError(f"{what}: statistic must be text, got {text!r}")
    s = " ".join(text.strip().lower().replace("_", " ").split())
    s = _ALIASES.get(s, s)
    if s in STATISTICS and not s.startswith("fraction"):
        return Stat(s)
    m = _PCT.match(s)
    if m:
        q = float(m.group(1) or m.group(2))
        if not 0.0 <= q <= 100.0:
            raise DataError(f"{what}: percentile {q:g} is not in 0..100")
        return Stat("percentile", q)
    m = _FRACTION.match(s)
    if m:
        return Stat(f"fraction {m.group(1)}", threshold_text=m.group(2)
                    and text.strip().split(None, 2)[2])
    raise DataError(f"{what}: unknown statistic {text!r}; valid: "
                    f"{', '.join(STATISTICS)}, or a percentile such as 'p5' or "
                    "'95th percentile'")


@dataclass(frozen=True)
class Resolved:
    """A summary row in model units: what to compute and the observed value."""

    index: int
    label: str
    group: str
    output: str
    stat: Stat
    n: int
    observed: float
    unit: str               # unit of the statistic (model units; "%" or "1" for cv / fraction)
    quantity_unit: str      # unit of the per-subject quantity summarised
    ref: float              # absolute model time of the row's reference (`after`)
    time: float | None      # absolute model time, for a concentration row
    metric: str | None
    window: tuple[float, float] | None   # absolute model times
    threshold: float | None


def _number(value: Any, unit: str | None, target: str, what: str) -> float:
    """``value`` (a number in ``unit``, a string with a unit or a Quantity) in ``target``."""
    from ..units import parse_quantity, parse_unit

    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and not unit:
        raise UnitError(f"{what}: the number {value!r} needs a unit (give `unit`, e.g. "
                        f"{target!r})")
    q = parse_quantity(value, default_unit=unit, what=what)
    t = parse_unit(target, what=what)
    try:
        return float(q.to(t).magnitude)
    except Exception:
        raise UnitError(f"{what}: {q:~P} cannot be converted to {target} (dimension "
                        f"{q.dimensionality} is not {t.dimensionality})") from None


def _dimensionless(value: Any, unit: str | None, what: str) -> float:
    """A dimensionless number; ``unit`` "%" (or "percent") divides by 100."""
    from ..units import parse_quantity

    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and unit in (
            None, "", "1"):
        x = float(value)
    else:
        q = parse_quantity(value, default_unit=unit or "1", what=what)
        try:
            x = float(q.to("dimensionless").magnitude)
        except Exception:
            raise UnitError(f"{what}: {q:~P} is not dimensionless; give a fraction, or a "
                            "percentage with unit '%'") from None
    if not math.isfinite(x):
        raise DataError(f"{what}: {value!r} is not a finite number")
    return x


def is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (
        isinstance(v, str) and not v.strip())


def dose_times(regimen: Regimen, time_unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Start and end times (model time unit) of every dose of a regimen; a bolus ends at its
    start, an infusion given by rate ends after amount/rate (when both are per kg or neither)."""
    starts, ends = [], []
    for part in regimen.parts:
        d = part.dose
        t0 = float(d.time.to(time_unit).magnitude)
        ii = 0.0 if part.interval is None else float(part.interval.to(time_unit).magnitude)
        dur = 0.0
        if d.duration is not None:
            dur = float(d.duration.to(time_unit).magnitude)
        elif d.rate is not None:
            try:
                dur = float((d.amount / d.rate).to(time_unit).magnitude)
            except Exception:
                raise RegimenError(f"{d}: the infusion's end depends on body weight (amount "
                                   "and rate not both per kg); give a duration") from None
        for k in range(part.count):
            starts.append(t0 + k * ii)
            ends.append(t0 + k * ii + dur)
    order = np.argsort(starts, kind="stable")
    return np.asarray(starts)[order], np.asarray(ends)[order]


def reference_time(regimen: Regimen, after: Any, time_unit: str, what: str) -> float:
    """The time ``after`` refers to, in the model's time unit."""
    key = " ".join(str(after).strip().lower().split()) if isinstance(after, str) else after
    if key not in REFERENCES:
        raise DataError(f"{what}: after={after!r} is not known; valid: "
                        f"{', '.join(map(repr, REFERENCES))}")
    if key == "first dose":
        return 0.0
    starts, ends = dose_times(regimen, time_unit)
    last = len(starts) - 1                   # sorted by start: the last dose given
    return float(starts[last] if key == "last dose" else ends[last])


def resolve(model: Model, rows: Sequence[PublishedSummary], arms: Mapping[str, TrialArm],
            regimens: Mapping[str, Regimen]) -> list[Resolved]:
    """Check every row against the model and the arms; convert to model units.

    Raises
    ------
    DataError, UnitError
        Naming the row (its position, from 1) and what would be valid.
    """
    from ..units import convert

    tu = model.time_unit
    outputs = {o.name: o.unit for o in model.outputs}
    out: list[Resolved] = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, PublishedSummary):
            raise DataError(f"summary row {i}: expected a PublishedSummary, got "
                            f"{type(row).__name__}")
        what = f"summary row {i} (group {row.group!r}, {row.statistic!r})"
        if row.group not in arms:
            raise DataError(f"{what}: no trial arm named {row.group!r}; arms: "
                            f"{', '.join(map(repr, arms)) or 'none'}")
        arm = arms[row.group]
        output = row.output if not is_missing(row.output) else model.outputs[0].name
        if output not in outputs:
            raise DataError(f"{what}: output {output!r} is not an output of model "
                            f"{model.name!r}; valid: {', '.join(outputs)}")
        stat = parse_statistic(row.statistic, what)
        has_time, metric = not is_missing(row.time), row.metric
        metric = None if is_missing(metric) else str(metric).strip().lower()
        if has_time == (metric is not None):
            raise DataError(f"{what}: give either a nominal `time` or a `metric` with `start` "
                            "and `end`, not " + ("both" if has_time else "neither"))
        try:
            ref = reference_time(regimens[row.group], row.after, tu, what)
        except PkpdError as exc:
            raise type(exc)(f"{what}: {exc}") from None
        time = window = None
        qunit = outputs[output]
        key = " ".join(str(row.after).lower().split())
        after = "" if key == "first dose" else f" after {key}"
        if has_time:
            time = ref + convert(row.time, tu, what=f"{what}: time")
            if time < 0:
                raise DataError(f"{what}: time {row.time!r} after {row.after} is before the "
                                "first dose")
            desc = f"{output} at {_fmt(time - ref)} {tu}{after}"
        else:
            if metric not in METRICS:
                raise DataError(f"{what}: unknown metric {row.metric!r}; valid: "
                                f"{', '.join(METRICS)}")
            if is_missing(row.start) or is_missing(row.end):
                raise DataError(f"{what}: metric {metric!r} needs a window: `start` and `end`")
            t0 = ref + convert(row.start, tu, what=f"{what}: start")
            t1 = ref + convert(row.end, tu, what=f"{what}: end")
            if not 0 <= t0 < t1:
                raise DataError(f"{what}: the window {row.start!r}..{row.end!r} must have "
                                "start < end, not before the first dose")
            window = (t0, t1)
            qunit = {"auc": f"{qunit}*{tu}", "tmax": tu}.get(metric, qunit)
            desc = (f"{_METRIC_LABEL[metric]} {output} "
                    f"{_fmt(t0 - ref)}-{_fmt(t1 - ref)} {tu}{after}")
        n = arm.n if is_missing(row.n) else row.n
        if isinstance(n, float) and float(n).is_integer():
            n = int(n)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= arm.n:
            raise DataError(f"{what}: n = {row.n!r} must be an integer in 1..{arm.n} (the "
                            f"arm's size)")
        threshold = None
        if stat.kind.startswith("fraction"):
            given = row.threshold if not is_missing(row.threshold) else stat.threshold_text
            if is_missing(given):
                raise DataError(f"{what}: {stat.kind} needs a `threshold` (e.g. '10 mg/L')")
            threshold = _number(given, qunit, qunit, f"{what}: threshold")
        elif not is_missing(row.threshold):
            raise DataError(f"{what}: a threshold is only used with 'fraction above' or "
                            "'fraction below'")
        if is_missing(row.value):
            raise DataError(f"{what}: the published value is missing")
        if stat.kind in ("cv%", "geometric cv%"):
            unit = "%"
            observed = 100.0 * _dimensionless(row.value, row.unit or "%", f"{what}: value")
        elif stat.kind.startswith("fraction"):
            unit = "1"
            observed = _dimensionless(row.value, row.unit, f"{what}: value")
            if not 0.0 <= observed <= 1.0:
                raise DataError(f"{what}: a fraction must be in 0..1 (or 0..100 with unit "
                                f"'%'), got {row.value!r}")
        else:
            unit = qunit
            observed = _number(row.value, row.unit, qunit, f"{what}: value")
        if not math.isfinite(observed):
            raise DataError(f"{what}: the value {row.value!r} is not a finite number")
        label = row.label or desc
        out.append(Resolved(i, label, row.group, output, stat, int(n), observed, unit, qunit,
                            ref, time, metric, window, threshold))
    return out


def _fmt(x: float) -> str:
    return f"{x:.4g}"
