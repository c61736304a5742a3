"""The parser of regimen text in clinical shorthand, for :meth:`pkpd.events.Regimen.parse`.

Reads text such as ``"loading 25 mg/kg IV over 2 h then 15 mg/kg q12h for 5 days"`` word by word
and builds the regimen from its parts; a word that cannot be read raises
:class:`~pkpd.errors.RegimenError` pointing at it, with the grammar of the docstring of
:meth:`~pkpd.events.Regimen.parse`. Also holds the route words (``"oral"`` -> ``"PO"``) shared
with :class:`~pkpd.events.Dose`. The classes built are given by the caller, so that this module
does not import :mod:`pkpd._regimen` (which imports it).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from .errors import RegimenError, UnitError
from .units import registry

if TYPE_CHECKING:  # pragma: no cover
    import pint

    from ._regimen import Dose, Regimen, RegimenPart

#: Route words of doses and regimen text, lower case, and the route each means.
_ROUTE_WORDS = {
    "po": "PO", "oral": "PO", "orally": "PO", "iv": "IV", "intravenous": "IV",
    "intravenously": "IV", "sc": "SC", "sq": "SC", "subcut": "SC", "subcutaneous": "SC",
    "im": "IM", "intramuscular": "IM",
}

# Words and numbers of regimen text
_NUM = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_TOKEN = re.compile(rf"{_NUM}[^\s,;+]*|[;+]|[^\s,;+]+")
_GLUED = re.compile(rf"^({_NUM})(\S+)?$")
_FREQ = {"qd": 24, "od": 24, "daily": 24, "bid": 12, "tid": 8, "qid": 6, "weekly": 168,
         "hourly": 1}


def _grammar(regimen: type[Regimen]) -> str:
    """The grammar in the docstring of :meth:`Regimen.parse <pkpd.events.Regimen.parse>`."""
    return (regimen.parse.__doc__ or "").split("Grammar")[1].split("AMOUNT, TIME")[0]


class _Parser:
    """Reads one regimen text into a :class:`~pkpd.events.Regimen`.

    Parameters
    ----------
    text : str
        The regimen in clinical shorthand.
    dose, part, regimen : type
        The classes :class:`~pkpd.events.Dose`, :class:`~pkpd.events.RegimenPart` and
        :class:`~pkpd.events.Regimen`, given by :meth:`Regimen.parse
        <pkpd.events.Regimen.parse>` (this module does not import the module defining them,
        which imports this one).
    """

    def __init__(self, text: str, *, dose: type[Dose], part: type[RegimenPart],
                 regimen: type[Regimen]) -> None:
        if not isinstance(text, str) or not text.strip():
            raise RegimenError(f"empty regimen text {text!r}; write e.g. '500 mg PO q12h x 14'")
        self.Dose, self.RegimenPart, self.Regimen = dose, part, regimen
        self.text = text
        self.words = [(m.group(), m.start()) for m in _TOKEN.finditer(text)]
        self.i = 0

    # token helpers
    def peek(self, k: int = 0) -> str | None:
        j = self.i + k
        return self.words[j][0].lower() if j < len(self.words) else None

    def fail(self, expected: str, at: int | None = None) -> RegimenError:
        j = self.i if at is None else at
        if j < len(self.words):
            word, pos = self.words[j]
            head = f"cannot read {word!r} at position {pos + 1}"
        else:
            word, pos = "", len(self.text)
            head = "unexpected end of text"
        return RegimenError(f"{head}: expected {expected}\n  {self.text}\n  {' ' * pos}^\n"
                            f"Regimen grammar{_grammar(self.Regimen).rstrip()}")

    def number(self, expected: str) -> tuple[float, str | None]:
        """Read a number, maybe glued to a unit; returns (value, glued unit text)."""
        word = self.words[self.i][0] if self.i < len(self.words) else ""
        m = _GLUED.match(word)
        if not m:
            raise self.fail(expected)
        value = float(m.group(1))
        if not math.isfinite(value):
            raise self.fail(f"a finite number ({expected})")
        self.i += 1
        return value, m.group(2)

    def unit(self, text: str | None, expected: str, at: int) -> pint.Unit:
        ureg = registry()
        if text is None:
            if self.i >= len(self.words):
                raise self.fail(expected)
            at, text = self.i, self.words[self.i][0]
            self.i += 1
        try:
            return ureg.Unit(text)
        except Exception:
            raise self.fail(expected, at) from None

    def quantity(self, expected: str) -> pint.Quantity:
        start = self.i
        value, glued = self.number(expected)
        unit = self.unit(glued, expected, start)
        return registry().Quantity(value, unit)

    def timeq(self, expected: str) -> pint.Quantity:
        start = self.i
        value, glued = self.number(expected)
        if glued is None and self.peek() is not None and _is_time(self.peek() or ""):
            glued, self.i = self.peek(), self.i + 1
        elif glued is not None and _is_time(glued.lower()):
            glued = glued.lower()
        unit = self.unit(glued, expected, start)
        if unit.dimensionality != registry().h.dimensionality:
            raise self.fail(expected, start)
        return registry().Quantity(value, unit)

    # grammar
    def regimen(self) -> Regimen:
        regimen: Regimen | None = None
        joiner = None
        route = None
        while True:
            part, route, start_given, after = self.part(route, joiner)
            one = self.Regimen((part,))
            if regimen is None:
                regimen = one
            elif joiner == "then" and not start_given:
                try:
                    regimen = regimen.then(one, after=after)
                except (RegimenError, UnitError) as exc:
                    raise RegimenError(f"{exc}\n  in {self.text!r}") from None
            else:
                regimen = regimen + one
            if self.i >= len(self.words):
                return regimen
            word = self.peek()
            if word == "then":
                joiner, self.i = "then", self.i + 1
            elif word == "followed" and self.peek(1) == "by":
                joiner, self.i = "then", self.i + 2
            elif word in ("and", ";", "+"):
                joiner, self.i = "and", self.i + 1
            else:
                raise self.fail("'then', 'and' or the end of the regimen")

    def part(self, route: str | None, joiner: str | None
             ) -> tuple[RegimenPart, str | None, bool, Any]:
        while self.peek() in ("loading", "maintenance", "dose", "of"):
            self.i += 1
        amount_at = self.i
        amount = self.quantity("a dose amount such as '500 mg' or '25 mg/kg'")
        seen: dict[str, Any] = {}
        own_route = None
        bolus = False

        def once(key: str, value: Any, at: int) -> None:
            if key in seen:
                raise self.fail(f"a single {key} per part", at)
            seen[key] = value

        while self.i < len(self.words):
            w, at = self.peek() or "", self.i
            if w in ("then", "followed", "and", ";", "+"):
                break
            if w in _ROUTE_WORDS:
                if own_route is not None:
                    raise self.fail("a single route per part")
                own_route, self.i = _ROUTE_WORDS[w], self.i + 1
            elif w == "bolus":
                bolus, self.i = True, self.i + 1
            elif w in ("infusion", "dose", "doses"):
                self.i += 1
            elif w == "into":
                self.i += 1
                if self.i >= len(self.words):
                    raise self.fail("a compartment name after 'into'")
                if own_route is not None:
                    raise self.fail("a single route per part", at)
                own_route, self.i = self.words[self.i][0], self.i + 1
            elif w == "over":
                self.i += 1
                dur_at = self.i
                duration = self.timeq("an infusion duration such as 'over 1 h'")
                if not duration.magnitude > 0:
                    raise self.fail("a positive infusion duration such as 'over 1 h' (a bolus "
                                    "is written without 'over')", dur_at)
                once("duration", duration, at)
            elif w in ("at", "starting", "start", "from"):
                self.i += 1
                if w != "at" and self.peek() == "at":
                    self.i += 1
                q_at = self.i
                q = self.quantity("a start time ('at 8 h') or an infusion rate ('at 100 mg/h')")
                if q.dimensionality == registry().h.dimensionality:
                    once("start time", q, at)
                elif w == "at":
                    once("rate", q, at)
                else:
                    raise self.fail("a start time such as 'starting at 8 h'", q_at)
            elif w == "after":
                if joiner != "then":
                    raise self.fail("'after' only in a part that follows 'then'")
                self.i += 1
                once("gap", self.timeq("a time such as 'after 24 h'"), at)
            elif w in ("x", "×", "for") or (w[0] in "x×" and _GLUED.match(w[1:])):
                self.count_or_period(w, once, at)
            else:
                once("interval", self.interval(), at)
        if bolus and ("duration" in seen or "rate" in seen):
            raise self.fail("either a bolus or an infusion ('over', 'at RATE')", amount_at)
        route = own_route or route   # None: the model's default route (see Dose)
        try:
            dose = self.Dose(amount, route, time=seen.get("start time", "0 h"),
                        duration=seen.get("duration"), rate=seen.get("rate"))
            interval = seen.get("interval")
            if "count" in seen and "period" in seen:
                raise RegimenError("give either a number of doses or a period, not both")
            if interval is None:
                if seen.get("count", 1) != 1 or "period" in seen:
                    raise RegimenError("a number of doses or a period needs an interval such "
                                       "as 'q12h'")
                part = self.RegimenPart(dose)
            elif "period" in seen:
                part = self.Regimen.repeat(dose, every=interval, until=seen["period"]).parts[0]
            elif "count" in seen:
                part = self.RegimenPart(dose, seen["count"], interval)
            else:
                raise RegimenError("a repeated dose needs how many doses ('x 14') or for how "
                                   "long ('for 7 days')")
        except (RegimenError, UnitError) as exc:
            pos = self.words[amount_at][1] + 1
            raise RegimenError(f"{exc}\n  in the part starting at position {pos} of "
                               f"{self.text!r}") from None
        return part, route, "start time" in seen, seen.get("gap")

    def count_or_period(self, w: str, once: Any, at: int) -> None:
        if w in ("x", "×", "for"):
            self.i += 1
        else:  # glued "x14"
            word, pos = self.words[self.i]
            self.words[self.i] = (word[1:], pos + 1)
        expected = "a number of doses ('x 14', 'for 14 doses') or a period ('for 7 days')"
        start = self.i
        value, glued = self.number(expected)
        unit = glued if glued is not None else self.peek()
        if unit is not None and unit.lower() in ("dose", "doses"):
            self.i += glued is None
        elif unit is not None and _is_time(unit.lower()):
            self.i += glued is None
            once("period", registry().Quantity(value, unit.lower()), at)
            return
        elif glued is not None or w == "for":
            raise self.fail(expected, start)
        if not value.is_integer() or value < 1:
            raise self.fail("a whole number of doses", start)
        once("count", int(value), at)

    def interval(self) -> pint.Quantity:
        ureg = registry()
        expected = "an interval such as 'q12h' or 'every 12 h'"
        w, at = self.peek() or "", self.i
        if w in _FREQ:
            self.i += 1
            return ureg.Quantity(float(_FREQ[w]), "h")
        if w in ("once", "twice") and self.peek(1) == "daily":
            self.i += 2
            return ureg.Quantity(24.0 if w == "once" else 12.0, "h")
        if w == "every":
            self.i += 1
            nxt = self.peek()
            if nxt is not None and not _GLUED.match(nxt) and _is_time(nxt):
                self.i += 1
                return ureg.Quantity(1.0, ureg.Unit(nxt))
            return self.timeq(expected)
        if w.startswith("q"):
            word, pos = self.words[self.i]
            if w == "q":
                self.i += 1
                return self.timeq(expected)
            self.words[self.i] = (word[1:], pos + 1)
            try:
                return self.timeq(expected)
            except RegimenError:
                self.words[at] = (word, pos)
                raise self.fail(expected, at) from None
        raise self.fail(f"{expected}, a route, 'over', 'at', 'x' or 'for'", at)


def _is_time(word: str) -> bool:
    try:
        return registry().Unit(word).dimensionality == registry().h.dimensionality
    except Exception:
        return False
