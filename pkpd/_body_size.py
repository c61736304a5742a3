"""Body size of a patient: body surface area, body-mass index, ideal, lean and adjusted body
weight (units and conventions: :mod:`pkpd.covariates`).

Internal: the functions are public as :mod:`pkpd.covariates`'s, which re-exports them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._covariate_checks import _CM_PER_INCH, Real, _checked, _out, _range, is_female
from .errors import DataError

__all__ = ["abw", "bmi", "bsa_dubois", "bsa_mosteller", "ibw_devine", "lbw_janmahasatian"]


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
