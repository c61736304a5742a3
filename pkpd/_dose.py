"""A single dose: amount, route, time, infusion duration or rate, checked for units and
plausibility.

Internal: :class:`Dose` is public as ``pkpd.events.Dose`` (through :mod:`pkpd._regimen`, which
builds regimens from doses and lowers them to event tables).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._regimen_text import _ROUTE_WORDS
from .errors import PkpdWarning, RegimenError, UnitError
from .units import parse_quantity, registry

if TYPE_CHECKING:  # pragma: no cover
    import pint

__all__ = ["MAX_DOSES", "Dose"]


# --------------------------------------------------------------------------------------------
# Dose
# --------------------------------------------------------------------------------------------

_ROUTES = frozenset(_ROUTE_WORDS.values())
_AMOUNT_DIMS = ("[mass]", "[substance]", "[iu]")


def _show(value: Any) -> str:
    """A value as the user would write it, for messages."""
    return f"{value:~C}" if hasattr(value, "units") else str(value)


def _quantity(value: Any, what: str) -> pint.Quantity:
    if isinstance(value, float) and math.isnan(value):
        raise RegimenError(f"{what} is NaN")
    q = parse_quantity(value, what=what)
    ureg = registry()
    return ureg.Quantity(float(q.magnitude), q.units)


def _per_weight(q: pint.Quantity) -> bool:
    """True if ``q`` is expressed per unit of body mass (e.g. mg/kg)."""
    ureg = registry()
    return any(exp < 0 and ureg.Unit(name).dimensionality == ureg.kg.dimensionality
               for name, exp in q.units._units.items())


def _amount_dims_ok(dims: Any) -> bool:
    return len(dims) == 1 and next(iter(dims.items())) in [(d, 1) for d in _AMOUNT_DIMS]


def _check_amount_like(q: pint.Quantity, what: str, per_time: bool) -> None:
    import pint

    ureg = registry()
    try:
        base = q * ureg.h if per_time else q
        if _per_weight(q):
            base = base * ureg.kg
        dims = base.dimensionality
    except pint.errors.PintError:        # offset units such as degC cannot be multiplied
        dims = None
    if dims is None or not _amount_dims_ok(dims):
        example = "'100 mg/h' or '2 mg/kg/h'" if per_time else "'500 mg', '2 mmol', '1e6 IU' " \
                                                               "or '25 mg/kg'"
        raise UnitError(f"{what}: {q:~C} has dimension {q.dimensionality}; expected "
                        f"{'an amount per time' if per_time else 'an amount'} such as {example}")


#: Masses of drug above which a dose warns (:class:`~pkpd.errors.PkpdWarning`): 1 kg, or per
#: kg of body weight 15 g/kg (1 kg for a 70 kg adult); far above any clinical dose by any route.
_MAX_MASS_KG = 1.0
_MAX_MASS_PER_KG = 0.015


def _warn_implausible(q: pint.Quantity, label: str) -> None:
    """Warn if ``q`` is a mass (or mass per kg of body weight) beyond clinical use."""
    ureg = registry()
    per_kg = _per_weight(q)
    mass = q * ureg.kg if per_kg else q
    if mass.dimensionality != ureg.kg.dimensionality:
        return
    kg = float(mass.to("kg").magnitude)
    limit = _MAX_MASS_PER_KG if per_kg else _MAX_MASS_KG
    if kg > limit:
        what = "15 g per kg of body weight" if per_kg else "1 kg of drug"
        warnings.warn(f"{label}: {q:~C} is more than {what}, far beyond clinical use; "
                      "check the unit (simulating it anyway)", PkpdWarning, stacklevel=4)


#: Most doses in one part of a regimen. Only the doses up to the last output time of a
#: simulation are materialised (see :meth:`EventTable.clipped`), so this only guards the
#: 64-bit ADDL column.
MAX_DOSES = 10**12


def _fmt(q: pint.Quantity) -> str:
    x = float(q.magnitude)
    num = str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)
    return f"{num} {q.units:~C}"


@dataclass(frozen=True)
class Dose:
    """One dose: an amount given into a route or compartment at a time.

    Parameters
    ----------
    amount : QuantityLike, amount
        E.g. ``"500 mg"``, ``"2 mmol"``, or per kg of body weight ``"25 mg/kg"``. Positive.
    into : str, optional
        A route (``"PO"``, ``"IV"``, ``"SC"``, ``"IM"``; synonyms such as ``"oral"`` are
        normalised) mapped through the model's ``routes``, or a compartment (state) name.
        None (the default): the model's default route (``default = "PO"`` in the model file's
        ``[routes]``), or its only route; resolved when the dose meets a model.
    time : QuantityLike, time
        When the dose is given (default ``"0 h"``), not negative.
    duration : QuantityLike, time, optional
        Infusion duration; 0 means a bolus (stored as None).
    rate : QuantityLike, amount per time, optional
        Infusion rate; exclusive with ``duration``.

    Raises
    ------
    RegimenError
        Zero, negative or non-finite amount, negative duration or time, both duration and
        rate, an infusion whose duration or rate is zero or infinite (e.g. 1e-300 mg at
        1e300 mg/h).
    UnitError
        Unknown unit or wrong dimension.

    Warns
    -----
    PkpdWarning
        An amount of more than 1 kg of drug, or 15 g per kg of body weight: far beyond
        clinical use, most likely a wrong unit; the dose is kept.

    Examples
    --------
    >>> from pkpd.events import Dose
    >>> d = Dose("1 g", "intravenous", duration="30 min")
    >>> d.into, str(d)
    ('IV', '1 g IV over 30 min')
    >>> str(Dose("25 mg/kg", "central", time="8 h"))
    '25 mg/kg into central starting at 8 h'
    >>> Dose("500 mg").into is None     # the model's default route, resolved at simulation
    True
    """

    amount: Any
    into: str | None = None
    time: Any = "0 h"
    duration: Any = None
    rate: Any = None

    def __post_init__(self) -> None:
        put = object.__setattr__
        label = f"dose amount '{_show(self.amount)}'"
        amount = _quantity(self.amount, label)
        if not amount.magnitude > 0:
            raise RegimenError(f"{label}: the amount must be positive")
        if not math.isfinite(amount.magnitude):
            raise RegimenError(f"{label}: the amount must be a finite number")
        _check_amount_like(amount, label, per_time=False)
        _warn_implausible(amount, label)
        put(self, "amount", amount)
        if self.into is not None:
            if not isinstance(self.into, str) or not self.into.strip():
                raise RegimenError(f"dose {amount:~C}: 'into' must name a route "
                                   f"({sorted(_ROUTES)}), a compartment or be None (the "
                                   f"model's default route), got {self.into!r}")
            into = self.into.strip()
            put(self, "into", _ROUTE_WORDS.get(into.lower(), into))
        put(self, "time", self._time(self.time, "time", allow_zero=True))
        if self.duration is not None and self.rate is not None:
            raise RegimenError(f"dose {amount:~C}: give either a duration or a rate, not both")
        duration = None if self.duration is None else self._time(self.duration, "duration",
                                                                  allow_zero=True)
        put(self, "duration", duration if duration is not None and duration.magnitude > 0
            else None)
        if self.rate is not None:
            what = f"dose {amount:~C}: rate {self.rate!r}"
            rate = _quantity(self.rate, what)
            _check_amount_like(rate, what, per_time=True)
            if not rate.magnitude > 0 or not math.isfinite(rate.magnitude):
                raise RegimenError(f"{what}: the infusion rate must be a positive finite "
                                   "number")
            put(self, "rate", rate)
        self._check_infusion()

    def _check_infusion(self) -> None:
        """An infusion must last a positive finite time at a positive finite rate."""
        amount = float(self.amount.magnitude)
        if self.duration is not None:
            hours = float(self.duration.to("h").magnitude)
            per_hour = amount / hours if hours > 0 else math.inf
        elif self.rate is not None:
            per_hour_q = self.rate * registry().h
            if per_hour_q.dimensionality != self.amount.dimensionality:
                return      # e.g. mg/kg at mg/h: the duration depends on the weight
            per_hour = float(per_hour_q.to(self.amount.units).magnitude)
            hours = amount / per_hour if per_hour > 0 else math.inf
        else:
            return
        if not (0 < hours < math.inf and 0 < per_hour < math.inf):
            raise RegimenError(f"dose {self}: the infusion lasts {hours:g} h at {per_hour:g} "
                               f"{self.amount.units:~C}/h; both must be positive and finite")

    def _time(self, value: Any, name: str, allow_zero: bool) -> pint.Quantity:
        what = f"dose {self.amount:~C}: {name} {value!r}"
        q = _quantity(value, what)
        if q.dimensionality != registry().h.dimensionality:
            raise UnitError(f"{what} must be a time such as '1 h' or '30 min'")
        if not math.isfinite(q.magnitude):
            raise RegimenError(f"{what} must be a finite number")
        if q.magnitude < 0 or (q.magnitude == 0 and not allow_zero):
            raise RegimenError(f"{what} must not be negative")
        return q

    @property
    def per_weight(self) -> bool:
        """True if the amount (or rate) is given per kg of body weight."""
        return _per_weight(self.amount) or (self.rate is not None and _per_weight(self.rate))

    def __str__(self) -> str:
        text = _fmt(self.amount)
        if self.into is not None:
            text += f" {self.into}" if self.into in _ROUTES else f" into {self.into}"
        if self.duration is not None:
            text += f" over {_fmt(self.duration)}"
        if self.rate is not None:
            text += f" at {_fmt(self.rate)}"
        if self.time.magnitude != 0:
            text += f" starting at {_fmt(self.time)}"
        return text
