"""Covariate relations for model equations: functions of sympy symbols that return sympy
expressions (allometric, power, linear, categorical, maturation), offered to users as
:mod:`pkpd.covariates`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import sympy as sp


def _sym(x: Any) -> sp.Expr:
    import sympy as sp

    if isinstance(x, str):
        return sp.Symbol(x, real=True)
    if isinstance(x, sp.Basic):
        return x
    raise DataError(f"expected a sympy symbol or expression (or a covariate name), got {x!r}")


def _num(x: Any, name: str) -> sp.Expr:
    import sympy as sp

    if isinstance(x, bool) or not isinstance(x, int | float | sp.Number):
        raise DataError(f"{name}: expected a number, got {x!r}")
    if not np.isfinite(float(x)):
        raise DataError(f"{name} = {x!r} is not a finite number")
    return sp.sympify(x)


def allometric(WT: Any, ref: float = 70, exponent: float = 0.75) -> sp.Expr:
    """Allometric relation ``(WT/ref)**exponent`` as a sympy expression.

    ``WT`` is a sympy symbol (or a covariate name); ``ref`` is in the covariate's unit.
    Numbers are kept as given (``70`` stays an integer), so the result is the same expression
    as the hand-written text ``"(WT/70)**0.75"``.

    References
    ----------
    .. [1] Holford NHG. A size standard for pharmacokinetics. Clin Pharmacokinet.
       1996;30(5):329-332. doi:10.2165/00003088-199630050-00001

    Examples
    --------
    >>> import sympy as sp
    >>> WT = sp.Symbol("WT")
    >>> allometric(WT) == (WT / 70) ** 0.75
    True
    """
    return power(WT, ref, exponent)


def power(X: Any, ref: float, exponent: float) -> sp.Expr:
    """Power relation ``(X/ref)**exponent`` as a sympy expression (``ref`` in X's unit).

    Examples
    --------
    >>> import sympy as sp
    >>> AGE = sp.Symbol("AGE")
    >>> float(power(AGE, 40, -0.5).subs(AGE, 10))   # (10/40)**-0.5
    2.0
    """
    r = _num(ref, "ref")
    if r == 0:
        raise DataError("ref = 0 is not valid: the reference value must be non-zero")
    return (_sym(X) / r) ** _num(exponent, "exponent")


def linear(X: Any, ref: float, slope: float) -> sp.Expr:
    """Linear relation ``1 + slope*(X - ref)`` as a sympy expression (``ref`` in X's unit,
    ``slope`` per unit of X).

    Examples
    --------
    >>> import sympy as sp
    >>> CRCL = sp.Symbol("CRCL")
    >>> float(linear(CRCL, 100, 0.004).subs(CRCL, 50))   # 1 + 0.004 x (50 - 100)
    0.8
    """
    return 1 + _num(slope, "slope") * (_sym(X) - _num(ref, "ref"))


def categorical(X: Any, levels: Mapping[float, float], *, default: float | None = None
                ) -> sp.Expr:
    """Categorical relation as a sympy ``Piecewise`` on the category value of ``X``.

    ``categorical(DIAL, {0: 1.0, 1: 0.7})`` is 1.0 when ``DIAL == 0`` and 0.7 otherwise:
    the *last* listed level also covers every value not listed, unless ``default`` is given,
    in which case each level is matched exactly and ``default`` covers the rest. (A model
    equation cannot raise, so category values should be checked where the data come in.)

    Examples
    --------
    >>> import sympy as sp
    >>> categorical(sp.Symbol("DIAL"), {0: 1.0, 1: 0.7})
    Piecewise((1.0, Eq(DIAL, 0)), (0.7, True))
    """
    import sympy as sp

    if not isinstance(levels, Mapping) or not levels:
        raise DataError(f"levels: expected a non-empty mapping category -> factor, got {levels!r}")
    x = _sym(X)
    pairs = [(_num(v, f"level {k!r}"), sp.Eq(x, _num(k, "category"))) for k, v in levels.items()]
    if default is None:
        pairs[-1] = (pairs[-1][0], sp.true)
    else:
        pairs.append((_num(default, "default"), sp.true))
    return sp.Piecewise(*pairs)


def maturation(PMA: Any, tm50: float, hill: float) -> sp.Expr:
    """Maturation (sigmoid Emax) ``PMA**hill/(tm50**hill + PMA**hill)`` as a sympy expression.

    See :func:`pkpd.covariates.maturation_fraction` for the references.

    Examples
    --------
    >>> import sympy as sp
    >>> PMA = sp.Symbol("PMA")
    >>> float(maturation(PMA, 47.7, 3.4).subs(PMA, 47.7))   # half maturation at TM50
    0.5
    """
    p, t, h = _sym(PMA), _num(tm50, "tm50"), _num(hill, "hill")
    if float(t) <= 0 or float(h) <= 0:
        raise DataError(f"tm50 = {tm50!r} and hill = {hill!r} must both be > 0")
    return p**h / (t**h + p**h)
