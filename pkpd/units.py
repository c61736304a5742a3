"""Units at the boundary: the one pint registry of pkpd and conversions to model units.

Inside the package every number is a plain ``float64`` in the model's declared units; pint is
only used where values come in (doses, covariates, times, parameter declarations) and to check
the dimensions of model equations once, when a model is built.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from typing import TYPE_CHECKING, Any

from . import _cachefile
from .errors import UnitError

if TYPE_CHECKING:  # pragma: no cover
    import pint

__all__ = ["QuantityLike", "convert", "parse_quantity", "parse_unit", "registry"]

QuantityLike = Any  # a pint Quantity, a string such as "500 mg", or a plain number

# functools.cache lets concurrent first calls all run the body: each would build a registry and
# make it pint's application registry, and units of one would not combine with those of another
_REGISTRY_LOCK = threading.Lock()


@functools.cache
def registry() -> pint.UnitRegistry:
    """Return the application-wide pint registry (created once, on first use).

    Examples
    --------
    >>> ureg = registry()
    >>> ureg.Quantity(1, "g").to("mg").magnitude
    1000.0
    >>> ureg.Quantity(1e6, "IU").units   # clinical units are known
    <Unit('international_unit')>
    """
    import pint

    with _REGISTRY_LOCK:
        ureg = _cached_application_registry(pint) or pint.get_application_registry()
        # Clinical spellings that pint does not know by default.
        for definition in (
            "international_unit = [iu] = IU",
            "unit_response = [] = units",
        ):
            try:
                ureg.define(definition)
            except Exception:  # already defined in this registry
                pass
    return ureg


def _cached_application_registry(pint: Any) -> Any:
    """pint's application registry, built with its definitions cached on disk.

    pint parses its definition files each time a registry is built; with a ``cache_folder``
    (``$PKPD_CACHE_DIR/pint``, default ``~/.cache/pkpd/pint``) a later process reads the parsed
    result instead. Only done while the application registry is pint's untouched default (not
    yet built, not replaced by the user); returns None otherwise, or when the folder cannot be
    used.
    """
    try:
        current = pint.application_registry.get()
        if type(current) is not pint.registry.LazyRegistry:
            return None
        folder = _cachefile.cache_folder("pint")
        # pint unpickles its cache files: only trusted ones (see pkpd._cachefile)
        if not os.access(folder, os.W_OK) or not _cachefile.drop_untrusted(folder):
            return None
        ureg = pint.UnitRegistry(cache_folder=folder)
        _cachefile.seal(folder)
    except Exception:  # an unusable cache folder or another pint: the default registry
        return None
    pint.set_application_registry(ureg)
    return pint.get_application_registry()


def parse_unit(text: str, *, what: str = "unit") -> pint.Unit:
    """Parse a unit string such as ``"L/h"``; raise :class:`UnitError` naming ``what``.

    Examples
    --------
    >>> str(parse_unit("L/h"))
    'liter / hour'
    >>> parse_unit("mg/blorp", what="clearance unit")
    Traceback (most recent call last):
    ...
    pkpd.errors.UnitError: clearance unit: unknown unit 'mg/blorp' (...)
    """
    ureg = registry()
    if text is None or str(text).strip() in ("", "1", "dimensionless"):
        return ureg.dimensionless
    try:
        unit = ureg.Unit(str(text).strip())
    except Exception as exc:
        raise UnitError(f"{what}: unknown unit {text!r} ({exc})") from None
    return unit


def parse_quantity(value: QuantityLike, *, default_unit: str | None = None,
                   what: str = "quantity") -> pint.Quantity:
    """Turn a quantity, a string like ``"500 mg"`` or a number into a pint Quantity.

    A bare number (or a string holding only a number) takes ``default_unit``; without one it is
    an error, so that a unit is never guessed.

    Examples
    --------
    >>> q = parse_quantity("500 mg")
    >>> str(q), q.dimensionality
    ('500 milligram', <UnitsContainer({'[mass]': 1})>)
    >>> parse_quantity(2.5, default_unit="h").magnitude   # a bare number takes the default unit
    2.5
    >>> parse_quantity(500)
    Traceback (most recent call last):
    ...
    pkpd.errors.UnitError: quantity: the number 500 needs a unit
    """
    ureg = registry()
    if isinstance(value, ureg.Quantity):
        q = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if default_unit is None:
            raise UnitError(f"{what}: the number {value!r} needs a unit")
        q = ureg.Quantity(float(value), parse_unit(default_unit, what=what))
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None:
            if default_unit is None:
                raise UnitError(f"{what}: {value!r} needs a unit, e.g. '{text} mg'")
            q = ureg.Quantity(number, parse_unit(default_unit, what=what))
        else:
            try:
                q = ureg.Quantity(text)
            except Exception as exc:
                raise UnitError(f"{what}: cannot read {value!r} as a quantity ({exc})") from None
    else:
        raise UnitError(f"{what}: expected a quantity or a string such as '500 mg', "
                        f"got {type(value).__name__}")
    # pint-xarray switches the application registry to ndarray magnitudes: accept 0-d arrays
    mag = q.magnitude
    try:
        number = float(mag) if getattr(mag, "ndim", 0) == 0 else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise UnitError(f"{what}: {value!r} is not a single finite number")
    return q


def convert(value: QuantityLike, unit: str, *, what: str = "quantity") -> float:
    """Convert ``value`` to ``unit`` and return a plain float.

    Bare numbers are taken to be in ``unit`` already.

    Raises
    ------
    UnitError
        If the dimensions differ, naming ``what`` and both units.

    Examples
    --------
    >>> convert("1 g", "mg"), convert("90 min", "h"), convert(12.0, "h")
    (1000.0, 1.5, 12.0)
    >>> convert("5 mg", "h", what="interval")
    Traceback (most recent call last):
    ...
    pkpd.errors.UnitError: interval: 5 mg cannot be converted to h (dimension [mass] is not [time])
    """
    target = parse_unit(unit, what=what)
    q = parse_quantity(value, default_unit=unit, what=what)
    try:
        return float(q.to(target).magnitude)
    except Exception:
        raise UnitError(
            f"{what}: {q:~P} cannot be converted to {target:~P} "
            f"(dimension {q.dimensionality} is not {target.dimensionality})"
        ) from None
