"""Dosing regimens: :class:`Dose`, :class:`RegimenPart` and :class:`Regimen`.

A :class:`Regimen` is what a clinician writes ("1 g IV over 1 h every 12 h for 7 days"), built
from Python or read from text (:meth:`Regimen.parse`, whose parser is in
:mod:`pkpd._regimen_text`). This module checks the amounts, times and units of doses and lowers
a regimen to the :class:`~pkpd.events.EventTable` the simulator reads
(:meth:`Regimen.to_events`); :class:`Dose` itself is defined in :mod:`pkpd._dose`. The three
classes are public as ``pkpd.events.Dose``, ``pkpd.events.RegimenPart`` and
``pkpd.events.Regimen``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ._dose import MAX_DOSES, Dose, _fmt, _per_weight, _quantity
from ._regimen_text import _Parser
from .errors import RegimenError, UnitError
from .events import EventTable
from .units import convert, registry

if TYPE_CHECKING:  # pragma: no cover
    import pint

__all__ = ["Dose", "Regimen", "RegimenPart"]




# --------------------------------------------------------------------------------------------
# Regimen
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegimenPart:
    """A dose repeated ``count`` times every ``interval``, the first at ``dose.time``."""

    dose: Dose
    count: int = 1
    interval: Any = None

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, (int, np.integer)) \
                or self.count < 1:
            raise RegimenError(f"{self.dose}: the number of doses must be an integer >= 1, got "
                               f"{self.count!r}")
        if self.count > MAX_DOSES:
            raise RegimenError(f"{self.dose}: {self.count} doses; the limit is {MAX_DOSES}")
        object.__setattr__(self, "count", int(self.count))
        if self.interval is not None:
            what = f"{self.dose}: interval {self.interval!r}"
            q = _quantity(self.interval, what)
            if q.dimensionality != registry().h.dimensionality:
                raise UnitError(f"{what} must be a time such as '12 h'")
            if not q.magnitude > 0 or not math.isfinite(q.magnitude):
                raise RegimenError(f"{what} must be a positive finite number")
            object.__setattr__(self, "interval", q)
        elif self.count > 1:
            raise RegimenError(f"{self.dose}: {self.count} doses need an interval")
        if not math.isfinite(float(self.last_time.to("h").magnitude)):
            raise RegimenError(f"{self}: the last dose falls at an infinite time")

    @property
    def last_time(self) -> pint.Quantity:
        """Time of the last dose of the part."""
        t = self.dose.time
        return t if self.interval is None else t + (self.count - 1) * self.interval

    def shifted(self, by: pint.Quantity) -> RegimenPart:
        d = self.dose
        dose = Dose(d.amount, d.into, time=d.time + by, duration=d.duration, rate=d.rate)
        return RegimenPart(dose, self.count, self.interval)

    def __str__(self) -> str:
        text = str(self.dose)
        if self.interval is not None:
            text += f" every {_fmt(self.interval)} x {self.count}"
        return text


@dataclass(frozen=True)
class Regimen:
    """An ordered, immutable collection of dosing parts.

    Build one with :meth:`single`, :meth:`repeat`, :meth:`then`, ``+`` or :meth:`parse`.
    ``str(regimen)`` gives text that :meth:`parse` reads back to an equal regimen (except
    for a part without a route after a part with one: in text the route carries over).

    Parameters
    ----------
    parts : tuple of RegimenPart

    Examples
    --------
    >>> import pkpd
    >>> from pkpd.events import Dose, Regimen
    >>> r = Regimen.repeat(Dose("500 mg", "PO"), every="12 h", count=14)
    >>> str(r)
    '500 mg PO every 12 h x 14'
    >>> r == Regimen.parse("500 mg PO q12h x 14")
    True
    >>> ev = r.to_events(pkpd.load_model("two_cmt_oral"))
    >>> ev.cmt.tolist(), ev.amt.tolist(), ev.ii.tolist(), ev.addl.tolist()
    ([1], [500.0], [12.0], [13])
    """

    parts: tuple[RegimenPart, ...]

    def __post_init__(self) -> None:
        parts = tuple(self.parts)
        if not parts or not all(isinstance(p, RegimenPart) for p in parts):
            raise RegimenError("a Regimen needs at least one RegimenPart")
        object.__setattr__(self, "parts", parts)

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def single(cls, dose: Dose) -> Regimen:
        """One dose."""
        return cls((RegimenPart(dose),))

    @classmethod
    def repeat(cls, dose: Dose, *, every: Any, count: int | None = None,
               until: Any = None) -> Regimen:
        """``dose`` repeated ``every`` interval, ``count`` times or for the period ``until``.

        ``until`` is the length of the dosing period measured from the first dose, exclusive:
        ``until="7 d"`` with ``every="12 h"`` gives 14 doses.
        """
        if (count is None) == (until is None):
            raise RegimenError(f"{dose}: give exactly one of count= or until=")
        part = RegimenPart(dose, 1, every)
        if until is not None:
            what = f"{dose}: until {until!r}"
            period = _quantity(until, what)
            if period.dimensionality != registry().h.dimensionality or not period.magnitude > 0:
                raise RegimenError(f"{what} must be a positive time such as '7 d'")
            ratio = float(period.to("h").magnitude / part.interval.to("h").magnitude)
            if not ratio - 1e-9 <= MAX_DOSES:
                raise RegimenError(f"{what}: {ratio:.3g} doses every {_fmt(part.interval)}; "
                                   f"the limit is {MAX_DOSES}")
            count = max(1, math.ceil(ratio - 1e-9))
        return cls((RegimenPart(dose, count, part.interval),))

    def then(self, other: Regimen | Dose, *, after: Any = None) -> Regimen:
        """Append ``other`` after the last dose of this regimen.

        ``other`` is shifted so that its first dose comes ``after`` the last dose of ``self``;
        by default ``after`` is the interval of the part holding that last dose or, if that part
        is a single dose, the first interval of ``other``. A single dose followed by a single
        dose needs an explicit ``after``.
        """
        if isinstance(other, Dose):
            other = Regimen.single(other)
        last = max(self.parts, key=lambda p: float(p.last_time.to("h").magnitude))
        nxt = min(other.parts, key=lambda p: float(p.dose.time.to("h").magnitude))
        if after is not None:
            gap = _quantity(after, f"then: after {after!r}")
            if gap.dimensionality != registry().h.dimensionality or gap.magnitude < 0:
                raise RegimenError(f"then: after {after!r} must be a non-negative time")
        elif last.interval is not None:
            gap = last.interval
        elif nxt.interval is not None:
            gap = nxt.interval
        else:
            raise RegimenError(f"'{last}' then '{nxt}': both are single doses, so the time "
                               "between them is unknown; give it with after= (in text: "
                               "'then ... after 24 h')")
        shift = last.last_time + gap - nxt.dose.time
        return Regimen(self.parts + tuple(p.shifted(shift) for p in other.parts))

    def __add__(self, other: Regimen) -> Regimen:
        if not isinstance(other, Regimen):
            return NotImplemented
        return Regimen(self.parts + other.parts)

    def __str__(self) -> str:
        return " and ".join(str(p) for p in self.parts)

    # -- parsing ------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Regimen:
        """Read a regimen written in clinical shorthand.

        Grammar (keywords are case-insensitive, commas are ignored)::

            regimen  := part (joiner part)*
            joiner   := "then" | "followed by"      the next part follows the previous one
                      | "and" | ";" | "+"           merged: each part keeps its own start time
            part     := ["loading" | "maintenance"] ["dose"] ["of"] AMOUNT clause*
            clause   := route
                      | "over" TIME                 infusion duration ("over 30 min")
                      | "at" RATE                   infusion rate ("at 100 mg/h")
                      | "at" TIME | "starting" ["at"] TIME    start time ("at 8 h")
                      | "after" TIME                gap after the previous part (only after "then")
                      | interval
                      | "x" N ["doses"] | "for" N "doses"  number of doses ("x 14", "x14")
                      | "for" TIME | "x" TIME       dosing period ("for 7 days", "for 2 weeks")
            route    := "PO" | "oral" | "IV" ["bolus"] | "SC" | "IM" | "bolus" | "infusion"
                      | "into" COMPARTMENT
            interval := "q" TIME ("q12h", "q 12 h") | "every" TIME ("every 8 hours")
                      | "every" UNIT ("every day") | "qd" | "od" | "daily" | "once daily"
                      | "bid" | "twice daily" | "tid" | "qid" | "weekly"

        AMOUNT, TIME and RATE are a number and a unit, written together or apart (``500mg``,
        ``500 mg``, ``25 mg/kg``, ``12 h``, ``100 mg/h``); the unit is one word without spaces.

        Rules:

        * A dosing period is exclusive: "q12h for 7 days" is 14 doses (``ceil(period/interval)``).
        * A repeated part needs a count or a period; a single dose has neither.
        * "over" needs a positive duration: a bolus is written without "over" ("over 0 h" is
          an error). Numbers must be finite; a part has at most 10^12 doses. A simulation
          materialises only the doses up to its last output time (at most 5 million).
        * The route carries over from the previous part when a part does not give one; the
          infusion duration or rate does not (a part without "over"/"at" is a bolus).
        * A regimen that gives no route at all doses the model's default route (declared as
          ``default = "PO"`` in the model file's ``[routes]``, or the model's only route);
          the route is resolved when the regimen meets a model (:meth:`to_events`).
        * "then": the next part starts one interval after the last dose of the previous part,
          using the previous part's interval or, when the previous part is a single dose, the
          next part's own interval; "after TIME" overrides this and a single dose followed by a
          single dose needs it. An explicit start ("at 8 h") is an absolute time.

        Examples
        --------
        >>> r = Regimen.parse("loading 25 mg/kg IV over 2 h then 15 mg/kg q12h for 5 days")
        >>> str(r)
        '25 mg/kg IV over 2 h and 15 mg/kg IV starting at 12 h every 12 h x 10'

        Raises
        ------
        RegimenError
            Pointing at the word that could not be read, with this grammar.
        """
        return _Parser(text, dose=Dose, part=RegimenPart, regimen=cls).regimen()

    # -- lowering ---------------------------------------------------------------------------
    def to_events(self, model: Any, *, weight: Any = None) -> EventTable:
        """Lower the regimen to an :class:`EventTable` for ``model``.

        Parameters
        ----------
        model : Model
            Gives ``time_unit``, ``states`` (name, unit) and ``routes``.
        weight : QuantityLike or array, mass, optional
            Body weight (a number is in kg; ``"82 kg"``; a 1-D array or pint array gives one
            subject per weight). Needed when an amount or rate is per kg.

        Returns
        -------
        EventTable
            One record per part (``ADDL = count - 1``, ``II = interval``), infusions with
            ``RATE = amount / duration``, amounts in the dosed state's unit, times in the model's
            time unit, ``output`` False everywhere, no covariates. Subjects are numbered 1..n.
        """
        ureg = registry()
        weights = _weights(weight)
        n_sub = 1 if weights is None else weights.shape[0]
        tu = model.time_unit
        rows = []
        for part in self.parts:
            d = part.dose
            k = _target(model, d.into)
            unit = model.states[k].unit
            time = convert(d.time, tu, what=f"{d}: time")
            amt = _scaled(d.amount, weights, d, unit, n_sub)
            if d.duration is not None:
                rate = amt / convert(d.duration, tu, what=f"{d}: duration")
            elif d.rate is not None:
                rate = _scaled(d.rate * ureg.Quantity(1.0, tu), weights, d, unit, n_sub)
            else:
                rate = np.zeros(n_sub)
            ii = 0.0 if part.interval is None else convert(part.interval, tu,
                                                            what=f"{part}: interval")
            rows.append((time, amt, k + 1, rate, ii, part.count - 1))
        order = sorted(range(len(rows)), key=lambda j: rows[j][0])
        rows = [rows[j] for j in order]
        m = len(rows)

        def per_record(j: int) -> np.ndarray:
            return np.tile(np.array([r[j] for r in rows], dtype=float), n_sub)

        def per_subject(j: int) -> np.ndarray:
            return np.column_stack([r[j] for r in rows]).ravel()

        return EventTable(
            ids=np.arange(1, n_sub + 1), offsets=np.arange(n_sub + 1) * m,
            time=per_record(0), evid=np.ones(n_sub * m, dtype=np.int64), amt=per_subject(1),
            cmt=per_record(2).astype(np.int64), rate=per_subject(3), ii=per_record(4),
            addl=per_record(5).astype(np.int64), ss=np.zeros(n_sub * m, dtype=np.int64),
            output=np.zeros(n_sub * m, dtype=bool))


def _weights(weight: Any) -> np.ndarray | None:
    """Body weights in kg as a 1-D array (None if not given)."""
    if weight is None:
        return None
    ureg = registry()
    if isinstance(weight, str):
        return _weights(convert(weight, "kg", what=f"weight {weight!r}"))
    try:
        if isinstance(weight, ureg.Quantity):
            weight = weight.to("kg").magnitude
        kg = np.atleast_1d(np.asarray(weight, dtype=float))
    except Exception as exc:
        raise UnitError(f"weight {weight!r}: expected a body weight such as '82 kg' or an "
                        f"array of weights in kg ({exc})") from None
    if kg.ndim != 1 or not np.all(np.isfinite(kg)) or not np.all(kg > 0):
        raise RegimenError(f"weight {weight!r}: body weights must be positive finite numbers "
                           "(kg) in a scalar or 1-D array")
    return kg


def default_route(model: Any) -> str:
    """The route of a dose that names none: the model's declared ``default_route``, else its
    only route.

    Raises
    ------
    RegimenError
        The model declares no default and has several routes (or none): the message names
        them and how to declare a default.
    """
    declared = getattr(model, "default_route", None)
    if declared is not None:
        return str(declared)
    routes = sorted(k.upper() for k in dict(model.routes))
    if len(routes) == 1:
        return routes[0]
    states = ", ".join(model.state_names)
    if not routes:
        raise RegimenError(f"a dose without a route: model '{model.name}' has no routes; name "
                           f"the dosed compartment ('100 mg into <state>'; states: {states})")
    raise RegimenError(f"a dose without a route: model '{model.name}' has routes "
                       f"{', '.join(routes)} and declares no default; give the route "
                       f"('100 mg {routes[0]} q12h x 4') or declare one in the model file "
                       f"([routes] default = \"{routes[0]}\"; ModelBuilder.default_route)")


def _target(model: Any, into: str | None) -> int:
    """Index of the state a dose ``into`` (route or state name; None: the model's default
    route) goes to."""
    names = list(model.state_names)
    routes = {k.upper(): v for k, v in dict(model.routes).items()}
    if into is None:
        into = default_route(model)
    state = routes.get(into.upper(), into if into in names else None)
    if state not in names:
        raise RegimenError(f"dose into {into!r}: model '{model.name}' has routes "
                           f"{sorted(routes) or 'none'} ({routes}) and states {names}")
    return names.index(state)


def _scaled(q: pint.Quantity, weights: np.ndarray | None, dose: Dose, unit: str,
            n_sub: int) -> np.ndarray:
    """``q`` (maybe per kg) converted to ``unit``, one value per subject."""
    ureg = registry()
    if _per_weight(q):
        if weights is None:
            raise RegimenError(f"amount '{_fmt(q)}' is per kg of body weight: give the "
                               f"patient's weight (to_events(model, weight='82 kg'))")
        q = q * ureg.Quantity(weights, "kg")
    try:
        values = np.asarray(q.to(unit).magnitude, dtype=float)
    except Exception:
        raise UnitError(f"dose '{dose}': {_fmt(q) if q.ndim == 0 else q.units} cannot be "
                        f"converted to the unit of the dosed state, {unit}") from None
    return np.broadcast_to(values, (n_sub,)).astype(float)
