"""Derived clinical covariates and covariate relations for model equations.

Two kinds of functions live here:

* **Clinical formulas** (body size, renal function, maturation) as vectorised numpy functions.
  Each takes numbers or arrays in fixed, documented units and returns a float (scalar input)
  or a float array (array input, broadcast). Every input is checked: NaN, infinite or
  implausible values raise :class:`~pkpd.DataError` naming the argument and its valid range.
  Body size (:func:`bsa_dubois` ... :func:`abw`) and renal function
  (:func:`crcl_cockcroft_gault`, the eGFR equations) are defined in the internal modules
  ``pkpd._body_size`` and ``pkpd._renal`` and offered here; maturation and allometry below.
* **Covariate relations** (:func:`allometric`, :func:`power`, :func:`linear`,
  :func:`categorical`, :func:`maturation`) that take sympy symbols and return sympy
  expressions, so that a covariate model is one line in a :class:`~pkpd.ModelBuilder`
  equation. They are defined in :mod:`pkpd._covariate_relations` and offered here.

Conventions
-----------
* weight in kg, height in cm, age in years, postmenstrual age in weeks, serum creatinine in
  mg/dL (IDMS-traceable; 1 mg/dL = 88.42 µmol/L, see :class:`pkpd.Patient` for conversion).
* ``sex`` is ``"F"``/``"M"`` (also ``"female"``/``"male"``, any case) or a number that is the
  numeric sex code: ``1`` = male, ``0`` = female (the convention of the NONMEM datasets
  used here, e.g. warfarin's SEX column).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._body_size import abw, bmi, bsa_dubois, bsa_mosteller, ibw_devine, lbw_janmahasatian
from ._covariate_checks import RANGES, Real, _checked, _out, _positive, is_female
from ._covariate_relations import allometric, categorical, linear, maturation, power
from ._renal import crcl_cockcroft_gault, egfr_ckd_epi_2021, egfr_schwartz_bedside

__all__ = [
    "RANGES",
    "abw",
    "allometric",
    "allometric_factor",
    "bmi",
    "bsa_dubois",
    "bsa_mosteller",
    "categorical",
    "crcl_cockcroft_gault",
    "egfr_ckd_epi_2021",
    "egfr_schwartz_bedside",
    "ibw_devine",
    "is_female",
    "lbw_janmahasatian",
    "linear",
    "maturation",
    "maturation_fraction",
    "power",
]

def maturation_fraction(pma: Real, tm50: float, hill: float) -> Any:
    r"""Fraction of adult function reached at a postmenstrual age (sigmoid Emax, Hill).

    .. math:: F = \frac{\mathrm{PMA}^{h}}{\mathrm{TM}_{50}^{h} + \mathrm{PMA}^{h}}

    Parameters
    ----------
    pma : float or array
        Postmenstrual age in weeks (>= 0).
    tm50 : float
        PMA at half maturation, in weeks (> 0); e.g. 47.7 weeks for GFR [2]_.
    hill : float
        Hill coefficient (> 0); e.g. 3.4 for GFR [2]_.

    Returns
    -------
    float or ndarray
        Fraction in [0, 1).

    References
    ----------
    .. [1] Anderson BJ, Holford NHG. Mechanism-based concepts of size and maturity in
       pharmacokinetics. Annu Rev Pharmacol Toxicol. 2008;48:303-332.
       doi:10.1146/annurev.pharmtox.48.113006.094708
    .. [2] Rhodin MM, Anderson BJ, Peters AM, et al. Human renal function maturation: a
       quantitative description using weight and postmenstrual age. Pediatr Nephrol.
       2009;24(1):67-76. doi:10.1007/s00467-008-0997-5

    Examples
    --------
    >>> maturation_fraction(47.7, tm50=47.7, hill=3.4)   # half maturation at TM50
    0.5
    >>> round(maturation_fraction(40, tm50=47.7, hill=3.4), 3)   # GFR at term birth
    0.355
    """
    p = _checked(pma, "pma", 0.0, RANGES["PMA"][2], "weeks")
    t, h = _positive(tm50, "tm50"), _positive(hill, "hill")
    return _out(p**h / (t**h + p**h))


def allometric_factor(weight: Real, ref: float = 70.0, exponent: float = 0.75) -> Any:
    r"""Allometric size factor :math:`(W/W_\mathrm{ref})^{e}`.

    Parameters
    ----------
    weight : float or array
        Weight in kg (> 0), or any size measure in the unit of ``ref``.
    ref : float
        Reference size (> 0), 70 kg by default.
    exponent : float
        0.75 for clearances, 1 for volumes [1]_.

    Returns
    -------
    float or ndarray
        The dimensionless factor.

    References
    ----------
    .. [1] Holford NHG. A size standard for pharmacokinetics. Clin Pharmacokinet.
       1996;30(5):329-332. doi:10.2165/00003088-199630050-00001

    Examples
    --------
    >>> round(allometric_factor(35), 4)              # a clearance at 35 kg: (35/70)**0.75
    0.5946
    >>> allometric_factor(35, exponent=1.0)          # a volume
    0.5
    """
    w, r = _positive(weight, "weight"), _positive(ref, "ref")
    e = _checked(exponent, "exponent", -np.inf, np.inf, "")
    return _out((w / r) ** e)
