"""Populations of patients: virtual ones with correlated covariates, or real ones resampled.

:meth:`Population.virtual` draws patients from published reference data;
:meth:`Population.from_table` and :meth:`Population.bootstrap` resample patients that exist.
Either way :meth:`Population.sample` returns a ``pandas.DataFrame`` with one row per subject,
ready to be passed as ``patients=`` to :func:`pkpd.simulate`.

Columns of a virtual population (numbers in these units):

====== ============================================================================
ID     1..n
SEX    1 = male, 0 = female (the convention of the NONMEM datasets in ``shared/data``)
AGE    years (float), uniform over the requested range
HT     height, cm
WT     weight, kg
SCR    serum creatinine, mg/dL (IDMS-traceable, enzymatic or standardised Jaffe)
BMI    kg/m^2, ``WT / (HT/100)**2``
BSA    body surface area, m^2, Mosteller: ``sqrt(HT * WT / 3600)``
CRCL   creatinine clearance, mL/min, Cockcroft-Gault with total body weight
       (NaN for ``kind="child"``: the equation is not defined for children)
EGFR   mL/min/1.73 m^2: CKD-EPI 2021 (race-free) for adults, bedside Schwartz for children
====== ============================================================================

How a virtual patient is drawn
------------------------------
1. SEX ~ Bernoulli(``sex_ratio``), AGE ~ Uniform(age range).
2. Height and BMI given sex and age follow the LMS distributions (Box-Cox power ``L``, median
   ``M``, coefficient of variation ``S``; Cole & Green, Stat Med 1992;11:1305-19) of a reference
   table, interpolated linearly in age. Weight is ``BMI * (HT/100)**2``: taller patients are
   heavier (the within-sex correlation of height and weight comes out at about 0.3-0.45, somewhat
   below the 0.4-0.5 seen in survey data, because height and BMI are drawn independently).
3. SCR (serum creatinine) of adults, given sex and age, follows an LMS distribution of a
   reference table interpolated linearly in age, like height and BMI (``pkpd/_data/creatinine.csv``,
   below); it is drawn independently of height and weight (the source gives no joint
   distribution). Children: ``Q * (1 + 0.168 * z)``, where Q is the median serum creatinine of
   healthy children of that height, ``Q = 3.94 - 13.4 H + 17.6 H^2 - 9.84 H^3 + 2.04 H^4`` (H
   in m; Hoste L et al., Nephrol Dial Transplant 2014;29:1082-91), capped at Pottel's adult Q
   (0.90 mg/dL men, 0.70 mg/dL women; Pottel H et al., Nephrol Dial Transplant 2016;31:798-806;
   the polynomial rises steeply above 1.8 m), and 0.168 = 0.33/1.96 gives Pottel's 95 %
   interval of SCR/Q, 0.67-1.33. CRCL and EGFR follow from SCR, age, sex and body size.
4. Every z-score is standard normal truncated to [-3, 3] (drawn by inversion). Beyond
   ``|z| = 2`` values are continued linearly, one unit of z adding half the distance between the
   median and the value at z = +/-2 (the CDC's rule for extreme BMI, used for its modified
   z-scores): the LMS curves of BMI (and of SCR after 75 years), with their strongly negative
   L, are not meant for the far tail and explode there. The truncation moves the 5th and 95th
   percentiles by 0.012 z (under 0.5 % of BMI, 0.1 cm of height); the tail rule does not touch
   them.

Reference data (``pkpd/_data/anthropometry.csv``; its header says how each row was made)
-----------------------------------------------------------------------------------------
- ``kind="child"`` (2-18 years): CDC 2000 growth charts (Kuczmarski RJ et al., Vital Health Stat
  11(246), 2002), LMS of stature-for-age and BMI-for-age copied unchanged for one age per year;
  linear interpolation between those ages departs from CDC's monthly values by less than 0.3 cm
  in median height. Children's Q from height agrees with Pottel's age form
  (``0.0270 * age + 0.2329`` mg/dL) within 4 % at the CDC median heights of ages 2-13.
- ``kind="adult"`` (18-90 years): NHANES August 2021-August 2023 (Fryar CD, Gu Q, Afful J,
  Carroll MD, Ogden CL, Anthropometric reference data for children and adults: United States,
  August 2021-August 2023, Vital Health Stat 3(50), 2025, DOI 10.15620/cdc/174595), the
  5th/50th/95th percentiles of height (its Table 7) and BMI (its Table 10) per sex and age group
  20-29, ..., 80+, as printed (0.1 cm, 0.1 kg/m^2). The report does not give the 95th percentile
  of height for the 80+ groups; those two values are older, unverified figures, marked so in
  the table's header. Each group's values sit at its middle (85 y for 80+) and are
  interpolated linearly in age; below 25 y and above 85 y they are held constant (so 18-19 year
  olds are drawn like 20-29 year olds, and 85-90 year olds like the 80+ group). Height is
  normal (median and the spread of P5-P95); BMI is a Box-Cox (LMS) distribution through the
  three percentiles. These are US-population references of all races together; no race or
  ethnicity is sampled.

Reference data for SCR (``pkpd/_data/creatinine.csv``; its header says how each row was made)
--------------------------------------------------------------------------------------------
- ``kind="adult"``: the Nijmegen Biomedical Study (Wetzels JFM et al., Kidney Int
  2007;72:632-637, Table 1), percentiles P5-P95 of the MDRD eGFR of apparently healthy Dutch
  adults (no known hypertension, diabetes, cardiovascular or renal disease) by sex and 5-year
  age group, 18-24 to 85-90 years, turned into IDMS-traceable SCR percentiles by inverting the
  MDRD equation at the group's middle age; L, M, S are fitted to those percentiles. The rows sit
  at the groups' middles (21.5 ... 87.5 y), held constant outside. The median SCR rises with age
  (men 0.96 mg/dL at 18-24 y, 0.98-1.04 at 40-84 y, 1.08 at 85-90 y; women 0.80, 0.81-0.90,
  0.88) and its spread widens after 75 y. At 20-70 years these values lie 12 % (men) and 20 %
  (women) above Pottel's Belgian means (0.90 / 0.70 mg/dL, kept for children's cap): published
  healthy references differ by that much. Kidney function by age agrees with an independent
  study of measured GFR (UK living kidney donors; ``tests/test_population_kidney.py``), but the
  MDRD eGFR means by decade (91, 84, 79, 74, 71, 65 at 20-29 ... 70+) are 13-22 % below those of
  the US general population in NHANES III (116, 107, 99, 93, 85, 75: the NKDEP's table from
  Coresh J et al., Am J Kidney Dis 2003;41:1-12). The table's transcription is unverified.

Approximation error, honestly
-----------------------------
Marginal height and BMI reproduce the tabulated percentiles to within sampling error plus the
interpolation error above (under 1 cm and 0.75 kg/m^2 within an age group); adult height, being
normal, also misses the report's slightly asymmetric 5th and 95th percentiles by up to 1.3 cm.
Weight is derived, not tabulated: its median matches the CDC weight-for-age medians for children
and the NHANES 2021-2023 weight medians for adults (Table 3 of the report above) within about 3 %,
while its tails are less exact (about 5 % for adults; BMI is drawn independently of height; the
true BMI-height association is weak but not zero). The SCR curves reproduce the table's P5, P25,
P75 and P95 within 2.6 % below 85 years (within 10 % at 85-90 years, whose 30 people per sex
give a ragged distribution). Adult SCR describes kidney-healthy people: the population has the
SCR of healthy ageing, not the tail of chronic kidney disease of a general population; give a table
(:meth:`Population.from_table`) for a renally impaired cohort.

Derived covariates are computed with the published formulas of :mod:`pkpd.covariates`
(``bmi``, ``bsa_mosteller``, ``crcl_cockcroft_gault``, ``egfr_ckd_epi_2021``,
``egfr_schwartz_bedside``); serum creatinine and kidney function are drawn by the internal
module ``pkpd._kidney``.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from . import covariates as cv
from ._kidney import kidney_function, scr_adult_lms, scr_child
from .errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .io.nonmem import NonmemData

__all__ = ["COLUMNS", "UNITS", "Population"]

#: Columns of :meth:`Population.sample` for a virtual population, in order.
COLUMNS: tuple[str, ...] = ("ID", "SEX", "AGE", "HT", "WT", "SCR", "BMI", "BSA", "CRCL", "EGFR")

#: Unit of each column of a virtual population (pint-parseable).
UNITS: dict[str, str] = {
    "ID": "", "SEX": "", "AGE": "year", "HT": "cm", "WT": "kg", "SCR": "mg/dL",
    "BMI": "kg/m**2", "BSA": "m**2", "CRCL": "mL/min", "EGFR": "mL/min",
}

#: Age range (years) each kind of virtual population supports.
AGE_SPAN: dict[str, tuple[float, float]] = {"adult": (18.0, 90.0), "child": (2.0, 18.0)}
_DEFAULT_AGE = {"adult": (18.0, 80.0), "child": (2.0, 18.0)}

_Z_MAX = 3.0                              # z-scores truncated to [-3, 3]

# NONMEM record columns: never baseline covariates of a subject
_RECORD_COLUMNS = frozenset({"ID", "TIME", "AMT", "DV", "EVID", "MDV", "CMT", "RATE", "II",
                             "ADDL", "SS", "DVID", "ROW", "LNDV", "BLQ", "CENS", "TAD"})


# --------------------------------------------------------------------------------------------
# reference table
# --------------------------------------------------------------------------------------------


@cache
def _reference() -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
    """(kind, sex) -> (ages in years, parameters: ht_L ht_M ht_S bmi_L bmi_M bmi_S as rows)."""
    from importlib.resources import files

    import pandas as pd

    with files("pkpd").joinpath("_data/anthropometry.csv").open("r", encoding="utf-8") as fh:
        table = pd.read_csv(fh, comment="#")
    out = {}
    for (kind, sex), grp in table.groupby(["kind", "sex"]):
        grp = grp.sort_values("age_months")
        params = grp[["ht_L", "ht_M", "ht_S", "bmi_L", "bmi_M", "bmi_S"]].to_numpy(float).T
        out[(str(kind), int(sex))] = (grp["age_months"].to_numpy(float) / 12.0, params)
    return out


def _lms(L: np.ndarray, M: np.ndarray, S: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The value at z-score ``z`` of an LMS distribution: ``M (1 + L S z)^(1/L)`` for
    ``|z| <= 2``; beyond, continued linearly with the CDC's extended-tail unit, half the distance
    between the median and the value at z = +/-2 (as in the CDC's modified z-scores for extreme
    BMI), because the LMS curves with a strongly negative L explode past z = 2."""
    def core(zz: np.ndarray) -> np.ndarray:
        small = np.abs(L) < 1e-8
        base = 1.0 + L * S * zz
        return np.where(small, M * np.exp(S * zz),
                        M * np.abs(base) ** (1.0 / np.where(small, 1.0, L)))

    edge = core(np.clip(z, -2.0, 2.0))
    return edge + (np.abs(z) > 2.0) * (z - np.clip(z, -2.0, 2.0)) * np.abs(edge - M) / 2.0


def _truncated_z(u: np.ndarray) -> np.ndarray:
    """Standard normal z-scores truncated to [-3, 3], by inversion of uniforms ``u``."""
    from scipy.special import ndtr, ndtri

    lo = ndtr(-_Z_MAX)
    return ndtri(lo + u * (1.0 - 2.0 * lo))


# --------------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------------


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise DataError(f"n: expected a whole number >= 0 of subjects, got {n!r}")
    return int(n)


def _generator(seed: Any, rng: Any) -> np.random.Generator:
    if seed is not None and rng is not None:
        raise DataError("give either seed or rng, not both")
    source = rng if rng is not None else seed
    if source is None or isinstance(source, np.random.Generator):
        return np.random.default_rng(source)
    if isinstance(source, bool) or not isinstance(source, numbers.Integral) or source < 0:
        raise DataError(f"seed: expected a non-negative integer or a numpy.random.Generator, "
                        f"got {source!r}")
    return np.random.default_rng(int(source))


def _numeric_table(frame: pd.DataFrame, what: str,
                   subjects: Sequence[Any] | None = None) -> pd.DataFrame:
    """Check that every column holds finite numbers; return them as float columns. With
    ``subjects`` (one per row) a bad value is reported by subject instead of by row."""
    import pandas as pd

    out = {}
    for col in frame.columns:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            if subjects is not None:
                raise DataError(f"{what}: subject {subjects[i]}, column {col!r}: baseline value "
                                f"{frame[col].iloc[i]!r} is not a finite number")
            raise DataError(f"{what}: column {col!r}, row {i + 1}: {frame[col].iloc[i]!r} is not "
                            f"a finite number (covariates must be numbers in the model's units)")
        out[str(col)] = values
    return pd.DataFrame(out)


# --------------------------------------------------------------------------------------------
# Population
# --------------------------------------------------------------------------------------------


class Population:
    """A source of patients: a virtual generator or a table of real patients' covariates.

    Build one with :meth:`virtual`, :meth:`from_table` or :meth:`bootstrap`; draw subjects with
    :meth:`sample`. A Population holds no random state: every draw takes its own seed.

    Examples
    --------
    >>> import pkpd
    >>> pop = pkpd.Population.virtual("adult", age=(40, 60))
    >>> patients = pop.sample(200, seed=1)
    >>> list(patients.columns)
    ['ID', 'SEX', 'AGE', 'HT', 'WT', 'SCR', 'BMI', 'BSA', 'CRCL', 'EGFR']
    >>> bool(patients["AGE"].between(40, 60).all()), len(patients)
    (True, 200)
    >>> table = pkpd.Population.from_table({"WT": [60.0, 80.0], "SEX": [0, 1]})
    >>> table.sample().to_dict("list")     # every source patient once, in order
    {'ID': [1, 2], 'WT': [60.0, 80.0], 'SEX': [0.0, 1.0]}
    """

    def __init__(self, *, kind: str, table: pd.DataFrame | None = None,
                 age: tuple[float, float] = (0.0, 0.0), sex_ratio: float = 0.5) -> None:
        self._kind = kind
        self._table = table
        self._age = age
        self._sex_ratio = sex_ratio

    # ---------------------------------------------------------------- constructors

    @classmethod
    def virtual(cls, kind: Literal["adult", "child"] = "adult", *,
                age: tuple[float, float] | None = None, sex_ratio: float = 0.5) -> Population:
        """A generator of virtual patients drawn from published reference data.

        Parameters
        ----------
        kind : {"adult", "child"}
            ``"adult"``: NHANES 2021-2023 anthropometry, 18-90 years, Cockcroft-Gault CRCL and
            CKD-EPI 2021 eGFR. ``"child"``: CDC 2000 growth charts, 2-18 years, bedside Schwartz
            eGFR (CRCL is NaN).
        age : (float, float), optional
            Age range in years, drawn uniformly; default (18, 80) for adults and (2, 18) for
            children. Both ends must lie in the kind's span (:data:`AGE_SPAN`).
        sex_ratio : float
            Probability that a patient is male (SEX = 1), in [0, 1].

        Raises
        ------
        DataError
            For an unknown kind, an age range outside the supported span or reversed, or a
            sex_ratio outside [0, 1].
        """
        if kind not in AGE_SPAN:
            raise DataError(f"kind: {kind!r} is not a kind of virtual population; "
                            f"expected one of {', '.join(map(repr, AGE_SPAN))}")
        span = AGE_SPAN[kind]
        if age is None:
            age = _DEFAULT_AGE[kind]
        try:
            lo, hi = (float(a) for a in age)
        except (TypeError, ValueError):
            raise DataError(f"age: expected a (min, max) pair of years, got {age!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
            raise DataError(f"age: ({lo:g}, {hi:g}) is not an increasing range of years")
        if lo < span[0] or hi > span[1]:
            raise DataError(f"age: ({lo:g}, {hi:g}) is outside the {span[0]:g}-{span[1]:g} "
                            f"years the {kind} reference data support"
                            + (" (use kind='child' below 18 years)" if kind == "adult" else
                               " (use kind='adult' from 18 years)"))
        try:
            ratio = float(sex_ratio)
        except (TypeError, ValueError):
            raise DataError(f"sex_ratio: expected a probability, got {sex_ratio!r}") from None
        if not 0.0 <= ratio <= 1.0:
            raise DataError(f"sex_ratio: {sex_ratio!r} is not a probability in [0, 1] "
                            "(it is the fraction of males, SEX = 1)")
        return cls(kind=kind, age=(lo, hi), sex_ratio=ratio)

    @classmethod
    def from_table(cls, table: pd.DataFrame | Mapping[str, Any]) -> Population:
        """A population made of the given patients, one row each (numbers in model units).

        An ``ID`` column, if present, is dropped: :meth:`sample` numbers subjects 1..n.

        Raises
        ------
        DataError
            If the table is empty, columns differ in length, or a value is not a finite number.
        """
        import pandas as pd

        if isinstance(table, pd.DataFrame):
            frame = table
        elif isinstance(table, Mapping):
            try:
                frame = pd.DataFrame({str(k): np.atleast_1d(np.asarray(v))
                                      for k, v in table.items()})
            except ValueError as exc:
                raise DataError(f"table: columns must have the same length ({exc})") from None
        else:
            raise DataError(f"table: expected a pandas DataFrame or a dict of arrays, "
                            f"got {type(table).__name__}")
        frame = frame[[c for c in frame.columns if str(c).upper() != "ID"]]
        if frame.shape[1] == 0 or len(frame) == 0:
            raise DataError("table: needs at least one covariate column and one row")
        return cls(kind="table", table=_numeric_table(frame, "table"))

    @classmethod
    def bootstrap(cls, source: pd.DataFrame | NonmemData, *, id_column: str = "ID",
                  covariates: Sequence[str] | None = None) -> Population:
        """Resample the subjects of a dataset, each with its baseline covariates.

        Parameters
        ----------
        source : DataFrame or NonmemData
            A table with one or more records per subject (e.g. a NONMEM dataset, or the result
            of :func:`pkpd.read_nonmem`). Each subject's covariates are taken from its first
            record (baseline values of time-varying covariates).
        id_column : str
            The subject column (matched case-insensitively if not found exactly).
        covariates : sequence of str, optional
            Columns to keep. Default: a NonmemData's ``covariate_names``; for a DataFrame every
            numeric column except the subject column and NONMEM record columns (TIME, AMT, DV,
            EVID, MDV, CMT, RATE, II, ADDL, SS, DVID, ...).

        Raises
        ------
        DataError
            If the subject or a covariate column is missing, or a baseline value is not a
            finite number (the message names the subject and column).
        """
        import pandas as pd

        from .io.nonmem import NonmemData

        if isinstance(source, NonmemData):
            frame = source.frame
            if covariates is None:
                covariates = list(source.covariate_names)
        elif isinstance(source, pd.DataFrame):
            frame = source
        else:
            raise DataError(f"source: expected a pandas DataFrame or a pkpd.NonmemData, "
                            f"got {type(source).__name__}")
        names = {str(c): c for c in frame.columns}
        upper = {str(c).upper(): c for c in frame.columns}
        id_col = names.get(id_column, upper.get(id_column.upper()))
        if id_col is None:
            raise DataError(f"source: no subject column {id_column!r} "
                            f"(columns: {', '.join(map(str, frame.columns))})")
        if covariates is None:
            covariates = [c for c in frame.columns if c != id_col
                          and str(c).upper() not in _RECORD_COLUMNS
                          and pd.api.types.is_numeric_dtype(frame[c])]
        covariates = list(covariates)
        missing = [c for c in covariates if c not in frame.columns]
        if missing:
            raise DataError(f"covariates: {', '.join(map(repr, missing))} not in the source "
                            f"(columns: {', '.join(map(str, frame.columns))})")
        if not covariates:
            raise DataError("source: no covariate columns to resample")
        first = frame.drop_duplicates(subset=id_col, keep="first")
        return cls(kind="bootstrap",
                   table=_numeric_table(first[covariates].reset_index(drop=True), "source",
                                        subjects=first[id_col].to_numpy()))

    # ---------------------------------------------------------------- properties

    @property
    def kind(self) -> str:
        """``"adult"``, ``"child"``, ``"table"`` or ``"bootstrap"``."""
        return self._kind

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns :meth:`sample` returns (ID first)."""
        if self._table is None:
            return COLUMNS
        return ("ID", *map(str, self._table.columns))

    def __len__(self) -> int:
        """Number of source subjects (0 for a virtual population, which is unbounded)."""
        return 0 if self._table is None else len(self._table)

    def __repr__(self) -> str:
        if self._table is None:
            return (f"Population.virtual({self._kind!r}, age=({self._age[0]:g}, "
                    f"{self._age[1]:g}), sex_ratio={self._sex_ratio:g})")
        return (f"Population(kind={self._kind!r}, n_source={len(self._table)}, "
                f"covariates={tuple(map(str, self._table.columns))})")

    # ---------------------------------------------------------------- sampling

    def sample(self, n: int | None = None, seed: int | np.random.Generator | None = None, *,
               rng: np.random.Generator | None = None) -> pd.DataFrame:
        """Draw ``n`` subjects: a DataFrame with one row per subject and IDs 1..n.

        Parameters
        ----------
        n : int
            Number of subjects (>= 0). For a table or bootstrap population it may be omitted:
            then every source subject is returned once, in order, without randomness.
        seed : int or numpy.random.Generator, optional
            Seed of a fresh ``numpy.random.default_rng``; the same seed gives the same frame on
            every machine. Row i depends only on the i-th draw, so the first k rows of
            ``sample(n, seed)`` equal ``sample(k, seed)`` for a virtual population.
        rng : numpy.random.Generator, optional
            A generator to draw from instead of a seed (it advances).

        Returns
        -------
        pandas.DataFrame
            Virtual: the columns :data:`COLUMNS` in the units :data:`UNITS`. Table or bootstrap:
            ID and the source covariates; a subject's covariates stay together.
        """
        import pandas as pd

        if self._table is not None:
            if n is None:
                idx = np.arange(len(self._table))
            else:
                idx = _generator(seed, rng).integers(0, len(self._table), size=_check_n(n))
            out = self._table.iloc[idx].reset_index(drop=True)
            out.insert(0, "ID", np.arange(1, len(out) + 1, dtype=np.int64))
            return out
        if n is None:
            raise DataError("n: a virtual population needs the number of subjects to draw")
        n = _check_n(n)
        gen = _generator(seed, rng)
        u = gen.random((n, 5))                 # per subject: sex, age, z height, z BMI, z SCR
        sex = (u[:, 0] < self._sex_ratio).astype(np.int64)
        lo, hi = self._age
        age = lo + (hi - lo) * u[:, 1]
        z = _truncated_z(u[:, 2:])
        ht = np.empty(n)
        bmi = np.empty(n)
        ref = _reference()
        for s in (0, 1):
            m = sex == s
            ages, par = ref[(self._kind, s)]
            p = [np.interp(age[m], ages, row) for row in par]
            ht[m] = _lms(p[0], p[1], p[2], z[m, 0])
            bmi[m] = _lms(p[3], p[4], p[5], z[m, 1])
        wt = bmi * (ht / 100.0) ** 2
        if self._kind == "adult":
            scr = _lms(*scr_adult_lms(sex, age), z[:, 2])
        else:
            scr = scr_child(ht, sex, z[:, 2])
        crcl, egfr = kidney_function(self._kind, sex, age, ht, wt, scr)
        return pd.DataFrame({
            "ID": np.arange(1, n + 1, dtype=np.int64), "SEX": sex, "AGE": age, "HT": ht,
            "WT": wt, "SCR": scr, "BMI": cv.bmi(wt, ht), "BSA": cv.bsa_mosteller(wt, ht),
            "CRCL": crcl, "EGFR": egfr,
        })
