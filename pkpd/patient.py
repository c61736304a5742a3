"""Patients: covariates with units, derived clinical covariates, time-varying covariates.

A :class:`Patient` is a frozen value. Known covariates are converted on the way in to a
canonical unit and checked against a plausible clinical range (:data:`CANONICAL`); anything
else is kept as given. :meth:`Patient.table` turns a patient into the one-row covariate table
of a model (each covariate in the unit the model declares), :func:`patients_table` stacks many.

Conventions
-----------
* ``SEX`` is ``"F"`` or ``"M"`` (also ``"female"``/``"male"``, any case, or 1 = male,
  0 = female, the convention of the NONMEM datasets in ``shared/data`` and of
  :mod:`pkpd.population`); it is stored as ``"F"``/``"M"`` and written into a model table as
  the male indicator 1.0/0.0.
* Serum creatinine (``SCR``) may be given as a mass concentration (``"1.1 mg/dL"``) or a molar
  one (``"97 umol/L"``). pint cannot convert between the two without a molar mass; creatinine
  uses the clinical factor 1 mg/dL = 88.42 µmol/L (a molar mass of 10 000/88.42 =
  113.10 g/mol) through pint's ``chemistry`` context. Only ``SCR`` gets this conversion.
* Time-varying covariates use last observation carried forward (LOCF): a value given at time
  ``t`` holds from ``t`` until the next change point. Before its first change point a series
  takes the patient's static value of that covariate when one is given, otherwise its first
  value.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from . import covariates as cv
from ._covariate_checks import check_defaults_not_misspelt
from .errors import DataError, UnitError
from .units import convert, parse_quantity, parse_unit, registry

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .model import Model

__all__ = ["CANONICAL", "CREATININE_UMOL_PER_MG_DL", "DERIVED", "Patient", "TimeVarying",
           "patients_table"]

#: Canonical unit, low and high plausible value of each known covariate.
CANONICAL: Mapping[str, tuple[str, float, float]] = MappingProxyType(cv.RANGES)

#: 1 mg/dL of creatinine in µmol/L (molar mass 113.10 g/mol).
CREATININE_UMOL_PER_MG_DL = 88.42

#: Covariates a patient can derive, with the covariates each needs (and the formula).
DERIVED: Mapping[str, tuple[tuple[str, ...], str]] = MappingProxyType({
    "BSA": (("WT", "HT"), "Mosteller (or Du Bois with method='dubois')"),
    "BMI": (("WT", "HT"), "weight/height^2"),
    "IBW": (("HT", "SEX"), "Devine"),
    "LBW": (("WT", "HT", "SEX"), "Janmahasatian"),
    "ABW": (("WT", "HT", "SEX"), "IBW + 0.4 (WT - IBW)"),
    "CRCL": (("AGE", "WT", "SCR", "SEX"), "Cockcroft-Gault"),
    "EGFR": (("AGE", "SCR", "SEX"), "CKD-EPI 2021 from 18 years; bedside Schwartz, which "
                                    "needs HT instead of SEX, below"),
})

_SEX_CODES = {"F": "F", "FEMALE": "F", "M": "M", "MALE": "M", 1: "M", 0: "F"}
_DIMENSIONLESS = ("", "1", "dimensionless")


def _display(unit: str) -> str:
    return {"year": "years", "week": "weeks", "m**2": "m^2", "kg/m**2": "kg/m^2"}.get(unit, unit)


def _creatinine_context() -> dict[str, Any]:
    ureg = registry()
    return {"mw": ureg.Quantity(10_000.0 / CREATININE_UMOL_PER_MG_DL, "g/mol")}


def _to_unit(name: str, value: Any, unit: str, *, default_unit: str | None) -> float:
    """Convert ``value`` (quantity, string, number in ``default_unit``) to ``unit``."""
    what = f"covariate {name}"
    if name == "SCR":
        q = parse_quantity(value, default_unit=default_unit or unit, what=what)
        target = parse_unit(unit, what=what)
        try:
            return float(q.to(target, "chemistry", **_creatinine_context()).magnitude)
        except Exception:
            raise UnitError(f"{what}: {q:~P} cannot be converted to {target:~P} (give a mass "
                            "concentration such as mg/dL or a molar one such as umol/L)") from None
    if default_unit is not None and isinstance(value, int | float | np.number) \
            and not isinstance(value, bool):
        value = registry().Quantity(float(value), parse_unit(default_unit))
    return convert(value, unit, what=what)


def _canonical(name: str, value: Any) -> float | str:
    """A known covariate converted to its canonical unit and range-checked; SEX as F/M."""
    if name == "SEX":
        key = value.strip().upper() if isinstance(value, str) else value
        if isinstance(key, float) and key in (0.0, 1.0):
            key = int(key)
        if isinstance(key, bool) or key not in _SEX_CODES:
            raise DataError(f"SEX = {value!r} is not valid: use 'F' or 'M' "
                            "(or 1 = male, 0 = female)")
        return _SEX_CODES[key]
    unit, lo, hi = CANONICAL[name]
    magnitude = value.magnitude if isinstance(value, registry().Quantity) else value
    if isinstance(magnitude, int | float | np.number) and not math.isfinite(float(magnitude)):
        raise DataError(f"{name} = {value!r} is not a finite number; valid range "
                        f"{lo:g}-{hi:g} {_display(unit)}")
    try:
        x = _to_unit(name, value, unit, default_unit=unit)
    except UnitError as exc:
        raise UnitError(f"{name} = {value!r}: cannot be read in {_display(unit)} "
                        f"({exc})") from None
    if not (lo <= x <= hi):
        raise DataError(f"{name} = {x:g} {_display(unit)} is outside "
                        f"{lo:g}-{hi:g} {_display(unit)}")
    return x


def _other(name: str, value: Any) -> Any:
    """An unknown covariate: kept as given, but it must be a finite number, text or quantity."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | np.number):
        if not math.isfinite(float(value)):
            raise DataError(f"covariate {name} = {value!r} is not a finite number")
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, str | registry().Quantity):
        return value
    raise DataError(f"covariate {name}: expected a number, a quantity or text, "
                    f"got {type(value).__name__}")


def _value(name: str, value: Any) -> Any:
    return _canonical(name, value) if name in CANONICAL or name == "SEX" else _other(name, value)


@dataclass(frozen=True, slots=True)
class TimeVarying:
    """A time-varying covariate: change points and the values taken there (LOCF).

    Parameters
    ----------
    times : sequence of float or QuantityLike
        Strictly increasing change times; numbers are in ``time_unit``, strings or quantities
        (``"24 h"``) are converted. Stored in hours.
    values : sequence
        The covariate's value from each time on (numbers in the covariate's canonical unit,
        or strings/quantities).
    time_unit : str
        Unit of bare-number times, hours by default.

    Examples
    --------
    >>> TimeVarying([0, "2 d"], ["80 kg", "78 kg"]).times
    (0.0, 48.0)
    """

    times: tuple[float, ...]
    values: tuple[Any, ...]
    interpolation: str = "locf"

    def __init__(self, times: Sequence[Any], values: Sequence[Any], *,
                 time_unit: str = "h") -> None:
        t = tuple(convert(x if not isinstance(x, int | float) else registry().Quantity(
            float(x), parse_unit(time_unit)), "h", what="time-varying covariate time")
            for x in np.atleast_1d(np.asarray(times, dtype=object)))
        v = tuple(np.atleast_1d(np.asarray(values, dtype=object)).tolist())
        if not t or len(t) != len(v):
            raise DataError(f"time-varying covariate: {len(t)} times and {len(v)} values; "
                            "give one value per time (at least one)")
        if any(b <= a for a, b in itertools.pairwise(t)):
            raise DataError(f"time-varying covariate: times {t} h must be strictly increasing")
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "values", v)
        object.__setattr__(self, "interpolation", "locf")

    def at(self, time_h: float) -> Any:
        """The value in effect at ``time_h`` hours (LOCF); None before the first change."""
        i = int(np.searchsorted(self.times, time_h, side="right")) - 1
        return None if i < 0 else self.values[i]


@dataclass(frozen=True, slots=True, init=False)
class Patient:
    """A patient: covariates with units, derived covariates and time-varying covariates.

    Parameters
    ----------
    WT, HT, AGE, SCR, CRCL : QuantityLike, optional
        Weight, height, age, serum creatinine, creatinine clearance: quantities or strings
        (``"82 kg"``, ``"5 ft"``, ``"18 months"``, ``"97 umol/L"``), or numbers in the
        canonical unit (kg, cm, years, mg/dL, mL/min). See :data:`CANONICAL` for every known
        covariate (also PMA, GA in weeks, ALB in g/dL, EGFR in mL/min/1.73 m², BSA, BMI, IBW,
        LBW, ABW) and its plausible range.
    SEX : {"F", "M", 1, 0}, optional
        ``1`` = male, ``0`` = female.
    id : object, optional
        Subject identifier (becomes the ``ID`` column of :func:`patients_table`).
    timeseries : mapping, optional
        ``{"WT": (times, values)}`` or ``{"WT": TimeVarying(...)}``: time-varying covariates
        (LOCF; bare-number times in hours).
    **other
        Other covariates, kept as given (numbers, text or quantities): converted to the unit
        of the model covariate of the same name in :meth:`table`.

    Raises
    ------
    DataError
        A value is NaN, invalid or outside its plausible range ("WT = 800 kg is outside
        0.3-400 kg").
    UnitError
        A quantity has the wrong dimension.

    Examples
    --------
    >>> p = Patient(WT="180 lb", HT="70 in", AGE=60, SEX="M", SCR="88.42 umol/L")
    >>> round(p["WT"], 2), round(p["SCR"], 6)
    (81.65, 1.0)
    >>> round(p.derive("CRCL"), 1)
    90.7
    """

    id: Any
    covariates: Mapping[str, Any]
    timeseries: Mapping[str, TimeVarying] = field(default_factory=dict)

    def __init__(self, WT: Any = None, HT: Any = None, AGE: Any = None, SEX: Any = None,
                 SCR: Any = None, CRCL: Any = None, *, id: Any = None,
                 timeseries: Mapping[str, Any] | None = None, **other: Any) -> None:
        given = {"WT": WT, "HT": HT, "AGE": AGE, "SEX": SEX, "SCR": SCR, "CRCL": CRCL, **other}
        values = {k: _value(k, v) for k, v in given.items() if v is not None}
        series: dict[str, TimeVarying] = {}
        for name, spec in (timeseries or {}).items():
            tv = spec if isinstance(spec, TimeVarying) else TimeVarying(*spec)
            series[name] = TimeVarying(tv.times, [_value(name, v) for v in tv.values])
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "covariates", MappingProxyType(values))
        object.__setattr__(self, "timeseries", MappingProxyType(series))

    def __hash__(self) -> int:
        return hash((repr(self.id), repr(sorted(self.covariates.items())),
                     repr(sorted((k, v.times, v.values) for k, v in self.timeseries.items()))))

    # -- access --------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        """The baseline value of a covariate (static value, else first time-varying value)."""
        value = self.get(name)
        if value is None:
            raise DataError(f"{self._label()}: covariate {name!r} is not given "
                            f"(given: {', '.join(self.names) or 'none'})")
        return value

    def get(self, name: str, default: Any = None) -> Any:
        """Like ``self[name]`` but ``default`` when the covariate is not given."""
        if name in self.covariates:
            return self.covariates[name]
        if name in self.timeseries:
            return self.timeseries[name].values[0]
        return default

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the given covariates (static and time-varying)."""
        return tuple(dict.fromkeys([*self.covariates, *self.timeseries]))

    def _label(self) -> str:
        return "patient" if self.id is None else f"patient {self.id!r}"

    def at(self, time: Any, *, time_unit: str = "h") -> Patient:
        """The static patient in effect at ``time`` (LOCF of every time-varying covariate)."""
        t = convert(time if not isinstance(time, int | float) else
                    registry().Quantity(float(time), parse_unit(time_unit)), "h", what="time")
        values = dict(self.covariates)
        for name, tv in self.timeseries.items():
            v = tv.at(t)
            if v is not None:
                values[name] = v
            elif name not in values:
                values[name] = tv.values[0]
        return Patient(id=self.id, **values)

    # -- derived covariates -------------------------------------------------------------------
    def derive(self, name: str, *, method: str = "mosteller", weight: str = "total") -> float:
        """Compute a derived covariate from the patient's baseline values.

        Parameters
        ----------
        name : {"BSA", "BMI", "IBW", "LBW", "ABW", "CRCL", "EGFR"}
            BSA in m² (``method="mosteller"`` or ``"dubois"``), BMI in kg/m², IBW (Devine),
            LBW (Janmahasatian), ABW (IBW + 0.4 (WT - IBW)) in kg, CRCL by Cockcroft-Gault in
            mL/min (``weight="total"``, ``"ideal"`` or ``"adjusted"``), EGFR in mL/min/1.73 m²
            by CKD-EPI 2021 from 18 years and by the bedside Schwartz equation below.
            Formulas and references: :mod:`pkpd.covariates`.

        Raises
        ------
        DataError
            Unknown name, or a covariate it needs is missing (the message lists them).
        """
        if name not in DERIVED:
            raise DataError(f"cannot derive {name!r}: derivable covariates are "
                            f"{', '.join(DERIVED)}")
        needs = list(DERIVED[name][0])
        if name == "EGFR" and self.get("AGE") is not None and self["AGE"] < 18:
            needs = ["AGE", "HT", "SCR"]
        if name == "CRCL" and weight != "total":
            needs.append("HT")
        if name == "BSA" and method not in ("mosteller", "dubois"):
            raise DataError(f"BSA method {method!r} is not valid: use 'mosteller' or 'dubois'")
        missing = [n for n in needs if self.get(n) is None]
        if missing:
            raise DataError(f"{self._label()}: {name} ({DERIVED[name][1]}) needs "
                            f"{', '.join(needs)}; missing: {', '.join(missing)}")
        g = self.get
        match name:
            case "BSA":
                f = cv.bsa_mosteller if method == "mosteller" else cv.bsa_dubois
                return float(f(g("WT"), g("HT")))
            case "BMI":
                return float(cv.bmi(g("WT"), g("HT")))
            case "IBW":
                return float(cv.ibw_devine(g("HT"), g("SEX")))
            case "LBW":
                return float(cv.lbw_janmahasatian(g("WT"), g("HT"), g("SEX")))
            case "ABW":
                return float(cv.abw(g("WT"), g("HT"), g("SEX")))
            case "CRCL":
                return float(cv.crcl_cockcroft_gault(g("AGE"), g("WT"), g("SCR"), g("SEX"),
                                                     height=g("HT"), weight_basis=weight))
            case _:  # EGFR
                if g("AGE") < 18:
                    return float(cv.egfr_schwartz_bedside(g("HT"), g("SCR")))
                return float(cv.egfr_ckd_epi_2021(g("SCR"), g("AGE"), g("SEX")))

    def _given_or_derived(self, name: str) -> float:
        value = self.get(name)
        return value if value is not None else self.derive(name)

    @property
    def bsa(self) -> float:
        """Body surface area in m²: the given BSA, else Mosteller."""
        return self._given_or_derived("BSA")

    @property
    def bmi(self) -> float:
        """Body mass index in kg/m²: the given BMI, else computed."""
        return self._given_or_derived("BMI")

    @property
    def ibw(self) -> float:
        """Ideal body weight in kg: the given IBW, else Devine."""
        return self._given_or_derived("IBW")

    @property
    def lbw(self) -> float:
        """Lean body weight in kg: the given LBW, else Janmahasatian."""
        return self._given_or_derived("LBW")

    @property
    def abw(self) -> float:
        """Adjusted body weight in kg: the given ABW, else IBW + 0.4 (WT - IBW)."""
        return self._given_or_derived("ABW")

    @property
    def crcl(self) -> float:
        """Creatinine clearance in mL/min: the given CRCL, else Cockcroft-Gault (total
        weight)."""
        return self._given_or_derived("CRCL")

    @property
    def egfr(self) -> float:
        """eGFR in mL/min/1.73 m²: the given EGFR, else CKD-EPI 2021 (adults) or bedside
        Schwartz (under 18 years)."""
        return self._given_or_derived("EGFR")

    # -- tables for a model ---------------------------------------------------------------------
    def table(self, model: Model) -> dict[str, np.ndarray]:
        """The one-row covariate table of ``model`` for this patient (baseline values).

        For each covariate the model declares: the patient's value converted to the
        covariate's unit; else, for a derivable covariate (:data:`DERIVED`), the value
        computed from the patient's other covariates; else the model's default.

        Returns
        -------
        dict of str to ndarray
            One float array of length 1 per model covariate, in the model's units (``SEX``
            as 1.0 = male, 0.0 = female).

        Raises
        ------
        DataError
            A covariate without default cannot be given or derived (all are listed), or one
            that takes its default is given under a name in other letter case (``crcl``).

        Warns
        -----
        PkpdWarning
            A covariate takes its default while the patient gives a name that is neither a
            model nor a clinical covariate (a misspelling would otherwise pass unseen).
        """
        out: dict[str, np.ndarray] = {}
        missing: list[str] = []
        defaulted: dict[str, float] = {}
        for c in model.covariates:
            value = self._model_value(c.name, c.unit)
            if value is None:
                if c.default is None:
                    need = DERIVED.get(c.name)
                    missing.append(c.name if need is None else
                                   f"{c.name} (or {', '.join(need[0])} to derive it)")
                    continue
                value = defaulted[c.name] = float(c.default)
            out[c.name] = np.array([value], dtype=float)
        if missing:
            raise DataError(f"{self._label()}: model '{model.name}' needs covariate(s) "
                            f"{'; '.join(missing)}, which have no default")
        known = ["SEX", *CANONICAL, *DERIVED, *(c.name for c in model.covariates)]
        check_defaults_not_misspelt(self._label(), self.names, known, defaulted, model.name)
        return out

    def _model_value(self, name: str, unit: str) -> float | None:
        value = self.get(name)
        if value is None and name in DERIVED and all(self.get(n) is not None
                                                     for n in DERIVED[name][0]):
            value = self.derive(name)
        if value is None:
            return None
        if name == "SEX":
            if unit not in _DIMENSIONLESS:
                raise UnitError(f"covariate SEX: the model declares unit {unit!r}; SEX is "
                                "dimensionless (1 = male, 0 = female)")
            return 1.0 if value == "M" else 0.0
        known = CANONICAL.get(name)
        return _to_unit(name, value, unit, default_unit=known[0] if known else None)

    def timeseries_frame(self, model: Model) -> pd.DataFrame:
        """Change points of the model's covariates as a table (LOCF).

        Returns
        -------
        pandas.DataFrame
            Columns ``TIME`` (in the model's time unit) and one per model covariate (in the
            model's units, as in :meth:`table`). The first row is at time 0 (or at the first
            change point, if earlier); a row follows at each time where some covariate
            changes, derived covariates included (a new SCR gives a new CRCL). Each row holds
            from its time until the next one.
        """
        import pandas as pd

        hours = sorted({0.0, *(t for tv in self.timeseries.values() for t in tv.times)})
        rows: list[dict[str, float]] = []
        for t in hours:
            row = {k: float(v[0]) for k, v in self.at(t).table(model).items()}
            if not rows or any(row[k] != rows[-1][k] for k in row):
                rows.append({"TIME": convert(registry().Quantity(t, "h"), model.time_unit,
                                             what="time"), **row})
        return pd.DataFrame(rows, columns=["TIME", *model.covariate_names])

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Patient:
        """A patient from one row of a table (a dict, a pandas Series, ...).

        An ``ID``/``id`` key becomes :attr:`id`; a missing value (None or NaN) means "not
        given".
        """
        values: dict[str, Any] = {}
        ident = None
        for key, value in dict(row).items():
            key = str(key)
            if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
                continue
            if key.upper() == "ID":
                ident = value.item() if isinstance(value, np.generic) else value
            else:
                values[key] = value
        return cls(id=ident, **values)


def patients_table(patients: Iterable[Patient], model: Model) -> dict[str, np.ndarray]:
    """Stack the covariate tables of many patients (one row each) for ``model``.

    Returns
    -------
    dict of str to ndarray
        One array per model covariate (length = number of patients), plus ``ID`` when every
        patient has an id. Suitable as the ``patients`` argument of :func:`pkpd.simulate`.

    Raises
    ------
    DataError
        No patients, a non-Patient item, ids given for some patients only or repeated, or a
        patient's covariate error (prefixed by its position).
    """
    patients = list(patients)
    if not patients:
        raise DataError("patients: the list is empty")
    rows = []
    for i, p in enumerate(patients):
        if not isinstance(p, Patient):
            raise DataError(f"patients[{i}]: expected a pkpd.Patient, got {type(p).__name__}")
        try:
            rows.append(p.table(model))
        except (DataError, UnitError) as exc:
            raise type(exc)(f"patients[{i}]: {exc}") from None
    out = {c: np.concatenate([r[c] for r in rows]) for c in model.covariate_names}
    ids = [p.id for p in patients]
    if any(i is not None for i in ids):
        if any(i is None for i in ids):
            raise DataError("patients: some have an id and some do not; give all or none")
        if len(set(map(repr, ids))) != len(ids):
            raise DataError(f"patients: ids are not unique ({ids})")
        out["ID"] = np.asarray(ids)
    return out
