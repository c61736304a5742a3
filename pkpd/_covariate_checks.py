"""Input checks shared by the clinical covariate formulas: plausible ranges, numbers in
documented units, and the sex code.

Internal: :data:`RANGES` and :func:`is_female` are public as :mod:`pkpd.covariates`'s.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError, PkpdWarning

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray

__all__ = ["RANGES", "Real", "check_defaults_not_misspelt", "is_female", "warn_implausible"]

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


def check_defaults_not_misspelt(label: str, given: Iterable[str], known: Iterable[str],
                                defaulted: Mapping[str, float], model: str) -> None:
    """Guard a model covariate that fell back to its default while the patient gives a name
    nobody knows (neither the model nor the clinical covariates): most likely a misspelling.

    The same name in other letter case is a :class:`DataError`; otherwise a
    :class:`~pkpd.errors.PkpdWarning` names the default values used and the unknown names.

    Examples
    --------
    >>> check_defaults_not_misspelt("patient", ["WT", "crcl"], ["WT", "CRCL"],
    ...                             {"CRCL": 100.0}, "m")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pkpd.errors.DataError: patient: covariate 'crcl' is not a covariate of model 'm'; did you ...
    """
    if not defaulted:
        return
    known_set = set(known)
    unknown = [g for g in given if g not in known_set and g not in defaulted]
    if not unknown:
        return
    for name in defaulted:
        same = [u for u in unknown if u.lower() == name.lower()]
        if same:
            raise DataError(f"{label}: covariate {same[0]!r} is not a covariate of model "
                            f"{model!r}; did you mean {name!r}? (names are case-sensitive; "
                            f"without it {name} would take its default {defaulted[name]:g})")
    hints = []
    for name in defaulted:
        close = difflib.get_close_matches(name, unknown, n=1, cutoff=0.6)
        hints.append(f"{name} = {defaulted[name]:g}" + (f" (given {close[0]!r}: misspelt?)"
                                                        if close else ""))
    warnings.warn(f"{label}: model {model!r} uses the default of {', '.join(hints)}; the "
                  f"patient's {', '.join(map(repr, unknown))} is not a covariate of this model",
                  PkpdWarning, stacklevel=3)


def warn_implausible(what: str, name: str, values: NDArray[np.float64], unit: str) -> None:
    """Warn (:class:`~pkpd.errors.PkpdWarning`) when a known clinical covariate (a name of
    :data:`RANGES`) given in ``unit`` has values outside its plausible range: a table of
    virtual or research subjects is simulated as given, but a weight of 10^6 kg or an age of
    300 years is more likely a unit or column mix-up than an intent.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     warn_implausible("patients", "WT", np.array([70.0, 1e6]), "kg")
    >>> str(seen[0].message).split(";")[0]
    'patients: column WT has 1 of 2 values outside the plausible range 0.3-400 kg (row 2: 1e+06 kg)'
    """
    if name not in RANGES or values.size == 0:
        return
    canon, lo, hi = RANGES[name]
    from .units import convert

    try:
        factor = convert(f"1 {unit}", canon, what=name) if unit not in ("", canon) else 1.0
    except Exception:   # a unit that is no such quantity (e.g. a normalised clearance)
        return
    x = values * factor
    out = np.flatnonzero((x < lo) | (x > hi))
    if len(out):
        i = int(out[0])
        warnings.warn(f"{what}: column {name} has {len(out)} of {len(x)} values outside the "
                      f"plausible range {lo:g}-{hi:g} {canon} (row {i + 1}: {x[i]:g} {canon}); "
                      "simulating them as given", PkpdWarning, stacklevel=5)
