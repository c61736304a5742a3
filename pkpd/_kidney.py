"""Kidney function of virtual patients: serum creatinine given sex, age and height, then
creatinine clearance and eGFR.

Internal to :mod:`pkpd.population`, whose module docstring says how a virtual patient is drawn;
this module holds the serum creatinine part of it.

- Adults: serum creatinine (SCR) follows, at each age and sex, a Box-Cox (LMS) distribution
  whose parameters are interpolated linearly in age between the rows of
  ``pkpd/_data/creatinine.csv`` (healthy Dutch adults of the Nijmegen Biomedical Study, Wetzels
  JFM et al., Kidney Int 2007;72:632-637; the file's header says how each row was made). Ages
  below the first row (21.5 y) and above the last (87.5 y) take that row's values.
- Children: ``Q * (1 + 0.168 z)`` with Q from height (Hoste L et al., Nephrol Dial Transplant
  2014;29:1082-91), capped at Pottel's adult Q (0.70 mg/dL women, 0.90 mg/dL men; Pottel H et
  al., Nephrol Dial Transplant 2016;31:798-806), 0.168 = 0.33/1.96 giving Pottel's 95 %
  interval of SCR/Q, 0.67-1.33.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from . import covariates as cv

__all__ = ["kidney_function", "scr_adult_lms", "scr_child"]

_SCR_Q_ADULT = np.array([0.70, 0.90])     # mg/dL, [female, male] (Pottel 2016)
_SCR_CV = 0.33 / 1.959963984540054        # SCR/Q in 0.67-1.33 (95 %), Pottel 2016


def _scr_q_height(ht_m: np.ndarray) -> np.ndarray:
    """Median serum creatinine (mg/dL) of healthy children of height ``ht_m`` (m):
    ``3.94 - 13.4 H + 17.6 H^2 - 9.84 H^3 + 2.04 H^4`` (Hoste L et al., Nephrol Dial Transplant
    2014;29:1082-91)."""
    return np.polynomial.polynomial.polyval(ht_m, [3.94, -13.4, 17.6, -9.84, 2.04])


@cache
def _scr_reference() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """sex -> (ages in years, parameters scr_L scr_M scr_S as rows), from the shipped table."""
    from importlib.resources import files

    import pandas as pd

    with files("pkpd").joinpath("_data/creatinine.csv").open("r", encoding="utf-8") as fh:
        table = pd.read_csv(fh, comment="#")
    out = {}
    for sex, grp in table.groupby("sex"):
        grp = grp.sort_values("age_years")
        out[int(sex)] = (grp["age_years"].to_numpy(float),
                         grp[["scr_L", "scr_M", "scr_S"]].to_numpy(float).T)
    return out


def scr_adult_lms(sex: np.ndarray, age: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LMS parameters (L, M, S) of adult serum creatinine (mg/dL) at each ``sex`` (1 = male) and
    ``age`` (years): the table's rows interpolated linearly in age, held constant beyond them."""
    L, M, S = (np.empty(len(age)) for _ in range(3))
    ref = _scr_reference()
    for s in (0, 1):
        m = sex == s
        ages, par = ref[s]
        L[m], M[m], S[m] = (np.interp(age[m], ages, row) for row in par)
    return L, M, S


def scr_child(ht_cm: np.ndarray, sex: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Serum creatinine (mg/dL) of children of height ``ht_cm`` at z-score ``z``:
    ``Q * (1 + 0.168 z)``, Q from height capped at the adult Q of the same sex."""
    q = np.minimum(_scr_q_height(ht_cm / 100.0), _SCR_Q_ADULT[sex])
    return q * (1.0 + _SCR_CV * z)


def kidney_function(kind: str, sex: np.ndarray, age: np.ndarray, ht: np.ndarray,
                    wt: np.ndarray, scr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(CRCL, EGFR): Cockcroft-Gault with total body weight and CKD-EPI 2021 for adults; for
    children CRCL is NaN (the equation is not defined for them) and EGFR is bedside Schwartz."""
    if kind == "adult":
        return (cv.crcl_cockcroft_gault(age, wt, scr, sex), cv.egfr_ckd_epi_2021(scr, age, sex))
    return np.full(len(scr), np.nan), cv.egfr_schwartz_bedside(ht, scr)
