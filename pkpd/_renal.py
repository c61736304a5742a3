"""Renal function of adults and children: Cockcroft-Gault creatinine clearance, CKD-EPI 2021
and bedside Schwartz eGFR (units and conventions: :mod:`pkpd.covariates`).

Internal: the functions are public as :mod:`pkpd.covariates`'s, which re-exports them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._body_size import abw, ibw_devine
from ._covariate_checks import Real, _checked, _out, _positive, _range, is_female
from .errors import DataError

__all__ = ["crcl_cockcroft_gault", "egfr_ckd_epi_2021", "egfr_schwartz_bedside"]


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
