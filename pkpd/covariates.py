"""Derived clinical covariates and covariate relations for model equations.

Two kinds of functions live here:

* **Clinical formulas** (body size, renal function, maturation) as vectorised numpy functions.
  Each takes numbers or arrays in fixed, documented units and returns a float (scalar input)
  or a float array (array input, broadcast). Every input is checked: NaN, infinite or
  implausible values raise :class:`~pkpd.DataError` naming the argument and its valid range.
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

from typing import TYPE_CHECKING, Any

import numpy as np

from ._covariate_relations import allometric, categorical, linear, maturation, power
from .errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray

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

#: Plausible clinical range (unit, low, high) of each known covariate, inclusive.
RANGES: dict[str, tuple[str, float, float]] = {
    "WT": ("kg", 0.3, 400.0),
    "HT": ("cm", 20.0, 250.0),
    "AGE": ("year", 0.0, 120.0),
    "PMA": ("week", 20.0, 6400.0),
    "GA": ("week", 20.0, 45.0),
    "SCR": ("mg/dL", 0.1, 20.0),
    "CRCL": ("mL/min", 0.0, 400.0),
    "EGFR": ("mL/min", 0.0, 400.0),
    "ALB": ("g/dL", 0.5, 7.0),
    "BSA": ("m**2", 0.1, 5.0),
    "BMI": ("kg/m**2", 5.0, 150.0),
    "IBW": ("kg", 0.3, 400.0),
    "LBW": ("kg", 0.3, 400.0),
    "ABW": ("kg", 0.3, 400.0),
}

_CM_PER_INCH = 2.54
Real = Any  # a float, an int, or an array of them


def _out(x: NDArray[np.float64]) -> Any:
    """A Python float for 0-d results, else the array."""
    return float(x) if x.ndim == 0 else x


def _checked(x: ArrayLike, name: str, lo: float, hi: float, unit: str,
             *, low_open: bool = False, note: str = "") -> NDArray[np.float64]:
    """``x`` as a float array; raise DataError if any value is NaN or outside [lo, hi]."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{name}: expected a number or an array of numbers in {unit}, "
                        f"got {x!r}") from None
    bad = ~((arr > lo if low_open else arr >= lo) & (arr <= hi))  # NaN is bad too
    if np.any(bad):
        i = np.flatnonzero(bad)[0]
        where = "" if arr.ndim == 0 else f" (element {i})"
        u = f" {unit}" if unit else ""
        if np.isinf(hi):
            valid = f"must be {'>' if low_open else '>='} {lo:g}{u}"
        else:
            valid = f"is outside {lo:g}-{hi:g}{u}"
        raise DataError(f"{name} = {arr.ravel()[i]:g}{u}{where} {valid}{note}")
    return arr


def _range(key: str, x: ArrayLike, name: str) -> NDArray[np.float64]:
    unit, lo, hi = RANGES[key]
    return _checked(x, name, lo, hi, {"year": "years", "week": "weeks"}.get(unit, unit))


def _positive(x: ArrayLike, name: str) -> NDArray[np.float64]:
    return _checked(x, name, 0.0, np.inf, "", low_open=True)


def is_female(sex: Any, *, name: str = "sex") -> NDArray[np.bool_]:
    """Female indicator of ``sex``: ``"F"``/``"female"`` or 0 -> True, ``"M"``/``"male"`` or 1
    -> False (strings in any case; scalars or arrays).

    Raises
    ------
    DataError
        For any other value, naming ``name``.

    Examples
    --------
    >>> is_female(["F", "male", 0, 1]).tolist()
    [True, False, True, False]
    """
    arr = np.asarray(sex, dtype=object)
    out = np.empty(arr.shape, dtype=bool)
    for i, v in np.ndenumerate(arr):
        key = v.strip().upper() if isinstance(v, str) else v
        if key in ("F", "FEMALE", "M", "MALE"):
            out[i] = key in ("F", "FEMALE")
        elif isinstance(key, int | float | np.number) and key in (0, 1):
            out[i] = key == 0  # 1 = male, 0 = female (as in the warfarin dataset)
        else:
            raise DataError(f"{name} = {v!r} is not valid: use 'F' or 'M' "
                            f"(or 1 = male, 0 = female)")
    return out


# -- body size -------------------------------------------------------------------------------
def bsa_dubois(weight: Real, height: Real) -> Any:
    r"""Body surface area by Du Bois and Du Bois, in m².

    .. math:: \mathrm{BSA} = 0.007184\, W^{0.425} H^{0.725}

    Parameters
    ----------
    weight : float or array
        Total body weight in kg (0.3-400).
    height : float or array
        Height in cm (20-250).

    Returns
    -------
    float or ndarray
        Body surface area in m².

    References
    ----------
    .. [1] Du Bois D, Du Bois EF. A formula to estimate the approximate surface area if height
       and weight be known. Arch Intern Med. 1916;17(6_2):863-871.
       doi:10.1001/archinte.1916.00080130010002

    Examples
    --------
    >>> round(bsa_dubois(70, 170), 3)
    1.81
    """
    w, h = _range("WT", weight, "weight"), _range("HT", height, "height")
    return _out(0.007184 * w**0.425 * h**0.725)


def bsa_mosteller(weight: Real, height: Real) -> Any:
    r"""Body surface area by Mosteller, in m².

    .. math:: \mathrm{BSA} = \sqrt{W H / 3600}

    Parameters
    ----------
    weight : float or array
        Total body weight in kg (0.3-400).
    height : float or array
        Height in cm (20-250).

    Returns
    -------
    float or ndarray
        Body surface area in m².

    References
    ----------
    .. [1] Mosteller RD. Simplified calculation of body-surface area. N Engl J Med.
       1987;317(17):1098. doi:10.1056/NEJM198710223171717

    Examples
    --------
    >>> round(bsa_mosteller(70, 170), 3)
    1.818
    """
    w, h = _range("WT", weight, "weight"), _range("HT", height, "height")
    return _out(np.sqrt(w * h / 3600.0))


def bmi(weight: Real, height: Real) -> Any:
    r"""Body mass index (Quetelet index), in kg/m².

    .. math:: \mathrm{BMI} = W / (H/100)^2

    Parameters
    ----------
    weight : float or array
        Total body weight in kg (0.3-400).
    height : float or array
        Height in cm (20-250).

    Returns
    -------
    float or ndarray
        Body mass index in kg/m².

    References
    ----------
    .. [1] Keys A, Fidanza F, Karvonen MJ, Kimura N, Taylor HL. Indices of relative weight and
       obesity. J Chronic Dis. 1972;25(6):329-343. doi:10.1016/0021-9681(72)90027-6

    Examples
    --------
    >>> round(bmi(70, 175), 1)
    22.9
    """
    w, h = _range("WT", weight, "weight"), _range("HT", height, "height")
    return _out(w / (h / 100.0) ** 2)


def ibw_devine(height: Real, sex: Any) -> Any:
    r"""Ideal body weight by Devine, in kg.

    .. math:: \mathrm{IBW} = 50\ (\text{men})\ \text{or}\ 45.5\ (\text{women})
              + 2.3\,(H/2.54 - 60)

    i.e. 2.3 kg per inch over 5 ft. Below 5 ft (152.4 cm) the line is extrapolated; a height
    for which it gives 0 kg or less raises :class:`~pkpd.DataError`.

    Parameters
    ----------
    height : float or array
        Height in cm (20-250).
    sex : str, int or array
        ``"F"``/``"M"`` or 1 = male, 0 = female.

    Returns
    -------
    float or ndarray
        Ideal body weight in kg.

    References
    ----------
    .. [1] Devine BJ. Gentamicin therapy. Drug Intell Clin Pharm. 1974;8(11):650-655.
       doi:10.1177/106002807400801104

    Examples
    --------
    >>> round(ibw_devine(180, "M"), 1), round(ibw_devine(165, "F"), 1)
    (75.0, 56.9)
    """
    h = _range("HT", height, "height")
    female = is_female(sex)
    ibw = np.where(female, 45.5, 50.0) + 2.3 * (h / _CM_PER_INCH - 60.0)
    if np.any(ibw <= 0):
        hmin = np.where(female, 60 - 45.5 / 2.3, 60 - 50 / 2.3) * _CM_PER_INCH
        raise DataError(f"height: Devine ideal body weight is not defined below "
                        f"{np.max(hmin):.1f} cm (it gives 0 kg or less)")
    return _out(ibw)


def lbw_janmahasatian(weight: Real, height: Real, sex: Any) -> Any:
    r"""Lean body weight (fat-free mass) by Janmahasatian et al., in kg.

    .. math:: \mathrm{LBW} = \frac{9270\,W}{6680 + 216\,\mathrm{BMI}}\ (\text{men}),\qquad
              \frac{9270\,W}{8780 + 244\,\mathrm{BMI}}\ (\text{women})

    Parameters
    ----------
    weight : float or array
        Total body weight in kg (0.3-400).
    height : float or array
        Height in cm (20-250).
    sex : str, int or array
        ``"F"``/``"M"`` or 1 = male, 0 = female.

    Returns
    -------
    float or ndarray
        Lean body weight in kg.

    References
    ----------
    .. [1] Janmahasatian S, Duffull SB, Ash S, Ward LC, Byrne NM, Green B. Quantification of
       lean bodyweight. Clin Pharmacokinet. 2005;44(10):1051-1065.
       doi:10.2165/00003088-200544100-00004

    Examples
    --------
    >>> round(lbw_janmahasatian(70, 175, "M"), 1)
    55.9
    """
    w, b, female = np.asarray(weight, float), bmi(weight, height), is_female(sex)
    return _out(9270.0 * w / np.where(female, 8780.0 + 244.0 * b, 6680.0 + 216.0 * b))


def abw(weight: Real, height: Real, sex: Any, *, factor: float = 0.4) -> Any:
    r"""Adjusted body weight, in kg.

    .. math:: \mathrm{ABW} = \mathrm{IBW} + f\,(W - \mathrm{IBW}),\qquad f = 0.4

    with IBW by :func:`ibw_devine`. The formula is applied as written, also when the total
    weight is below the ideal weight.

    Parameters
    ----------
    weight : float or array
        Total body weight in kg (0.3-400).
    height : float or array
        Height in cm (20-250).
    sex : str, int or array
        ``"F"``/``"M"`` or 1 = male, 0 = female.
    factor : float
        Fraction of the excess weight added to IBW (0-1), 0.4 by default.

    Returns
    -------
    float or ndarray
        Adjusted body weight in kg.

    References
    ----------
    .. [1] Bauer LA, Edwards WA, Dellinger EP, Simonowitz DA. Influence of weight on
       aminoglycoside pharmacokinetics in normal weight and morbidly obese patients.
       Eur J Clin Pharmacol. 1983;24(5):643-647. doi:10.1007/BF00542215

    Examples
    --------
    >>> round(abw(120, 180, "M"), 1)   # IBW 75.0 kg + 0.4 x (120 - 75.0)
    93.0
    """
    f = _checked(factor, "factor", 0.0, 1.0, "")
    w, ibw = _range("WT", weight, "weight"), np.asarray(ibw_devine(height, sex))
    return _out(ibw + f * (w - ibw))


# -- renal function ----------------------------------------------------------------------------
def crcl_cockcroft_gault(age: Real, weight: Real, scr: Real, sex: Any, *,
                         height: Real | None = None, weight_basis: str = "total") -> Any:
    r"""Creatinine clearance by Cockcroft and Gault, in mL/min (not normalised to BSA).

    .. math:: \mathrm{CrCL} = \frac{(140 - \mathrm{age})\, W}{72\, S_{cr}}
              \times 0.85\ (\text{women})

    Parameters
    ----------
    age : float or array
        Age in years (18-120; the equation was derived in adults).
    weight : float or array
        Total body weight in kg (0.3-400).
    scr : float or array
        Serum creatinine in mg/dL (0.1-20).
    sex : str, int or array
        ``"F"``/``"M"`` or 1 = male, 0 = female.
    height : float or array, optional
        Height in cm; needed for ``weight_basis`` ``"ideal"`` or ``"adjusted"``.
    weight_basis : {"total", "ideal", "adjusted"}
        Weight put in the equation: total body weight (as published), Devine ideal body
        weight (:func:`ibw_devine`) or adjusted body weight (:func:`abw`).

    Returns
    -------
    float or ndarray
        Creatinine clearance in mL/min.

    Raises
    ------
    DataError
        Invalid or missing input, naming the argument and its valid range.

    References
    ----------
    .. [1] Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum creatinine.
       Nephron. 1976;16(1):31-41. doi:10.1159/000180580

    Examples
    --------
    >>> float(crcl_cockcroft_gault(60, 72, 1.0, "M"))
    80.0
    """
    a = _checked(age, "age", 18.0, 120.0, "years",
                 note=" (Cockcroft-Gault is for adults; for children use egfr_schwartz_bedside)")
    s = _range("SCR", scr, "scr")
    female = is_female(sex)
    if weight_basis == "total":
        w = _range("WT", weight, "weight")
    elif weight_basis in ("ideal", "adjusted"):
        if height is None:
            raise DataError(f"crcl_cockcroft_gault: weight_basis={weight_basis!r} needs height")
        w = np.asarray(ibw_devine(height, sex) if weight_basis == "ideal"
                       else abw(weight, height, sex))
        _range("WT", weight, "weight")
    else:
        raise DataError(f"weight_basis = {weight_basis!r} is not valid: use 'total', 'ideal' "
                        "or 'adjusted'")
    return _out((140.0 - a) * w / (72.0 * s) * np.where(female, 0.85, 1.0))


def egfr_ckd_epi_2021(scr: Real, age: Real, sex: Any) -> Any:
    r"""Estimated GFR by the race-free CKD-EPI 2021 creatinine equation, in mL/min/1.73 m².

    .. math:: \mathrm{eGFR} = 142 \min(S_{cr}/\kappa, 1)^{\alpha}
              \max(S_{cr}/\kappa, 1)^{-1.200}\, 0.9938^{\mathrm{age}}
              \times 1.012\ (\text{women})

    with κ = 0.7 (women) or 0.9 (men) and α = -0.241 (women) or -0.302 (men).

    Parameters
    ----------
    scr : float or array
        Serum creatinine in mg/dL (0.1-20), IDMS-traceable.
    age : float or array
        Age in years (18-120).
    sex : str, int or array
        ``"F"``/``"M"`` or 1 = male, 0 = female.

    Returns
    -------
    float or ndarray
        eGFR in mL/min/1.73 m².

    References
    ----------
    .. [1] Inker LA, Eneanya ND, Coresh J, et al. New creatinine- and cystatin C-based
       equations to estimate GFR without race. N Engl J Med. 2021;385(19):1737-1749.
       doi:10.1056/NEJMoa2102953

    Examples
    --------
    >>> round(egfr_ckd_epi_2021(1.2, 60, "M"), 1)
    69.2
    >>> egfr_ckd_epi_2021([0.7, 1.4], 40, "F").round(1).tolist()
    [112.1, 48.8]
    """
    s = _range("SCR", scr, "scr")
    a = _checked(age, "age", 18.0, 120.0, "years",
                 note=" (CKD-EPI is for adults; for children use egfr_schwartz_bedside)")
    female = is_female(sex)
    ratio = s / np.where(female, 0.7, 0.9)
    alpha = np.where(female, -0.241, -0.302)
    return _out(142.0 * np.minimum(ratio, 1.0) ** alpha * np.maximum(ratio, 1.0) ** -1.200
                * 0.9938**a * np.where(female, 1.012, 1.0))


def egfr_schwartz_bedside(height: Real, scr: Real, *, k: float = 0.413) -> Any:
    r"""Estimated GFR in children by the bedside Schwartz equation, in mL/min/1.73 m².

    .. math:: \mathrm{eGFR} = k\, H / S_{cr},\qquad k = 0.413

    with height in cm and enzymatic (IDMS-traceable) serum creatinine in mg/dL.

    Parameters
    ----------
    height : float or array
        Height in cm (20-250).
    scr : float or array
        Serum creatinine in mg/dL (0.1-20).
    k : float
        The constant, 0.413 as published.

    Returns
    -------
    float or ndarray
        eGFR in mL/min/1.73 m².

    References
    ----------
    .. [1] Schwartz GJ, Muñoz A, Schneider MF, et al. New equations to estimate GFR in children
       with CKD. J Am Soc Nephrol. 2009;20(3):629-637. doi:10.1681/ASN.2008030287

    Examples
    --------
    >>> round(egfr_schwartz_bedside(120, 0.5), 1)   # 0.413 x 120 / 0.5
    99.1
    """
    h, s = _range("HT", height, "height"), _range("SCR", scr, "scr")
    return _out(float(_positive(k, "k")) * h / s)


# -- size and maturation -----------------------------------------------------------------------
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
