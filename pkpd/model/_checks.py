"""Validation of a model declaration: names, references, order and dimensional consistency.

Every check raises :class:`~pkpd.errors.ModelError` whose message starts with the equation it is
about ("ODE of 'central'", "output 'CP'", "individual equation 'CL'") and names the offending
term. Dimensions are checked once, symbolically: each node of an expression gets a pint unit
(parameters and states their declared unit, ``t`` the model time unit, covariates, etas and
numbers are dimensionless, derived quantities the unit inferred from their equation). Terms that
are added, compared or chosen between must not only share a dimension but also convert with a
factor of exactly 1, because kernels compute with plain numbers in the declared units.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Iterable, Mapping

import numpy as np
import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair

from ..errors import ModelError, UnitError
from ..units import parse_unit, registry
from ._parser import FUNCTIONS

__all__ = [
    "RESERVED",
    "UnitChecker",
    "canonical",
    "check_name",
    "check_omega",
    "check_supported",
    "fmt_unit",
    "normalise_unit",
]

RESERVED: frozenset[str] = frozenset({"t", *FUNCTIONS})

_NUMBER_TYPES = (sp.Integer, sp.Rational, sp.Float)
_FUNCS = (sp.exp, sp.log, sp.Abs, sp.Min, sp.Max)
_RELATIONAL = (sp.core.relational.Relational,)
_BOOLEAN = (sp.And, sp.Or, sp.Not, sp.logic.boolalg.BooleanTrue, sp.logic.boolalg.BooleanFalse)


def fmt_unit(unit: object) -> str:
    """Format a pint unit compactly and readably (``L*mg/h``, ``ug/L``, ``1`` if dimensionless)."""
    text = format(unit, "~C").replace("µ", "u").replace("μ", "u")
    text = re.sub(r"(?<![A-Za-z])([munpkdcf]?)l(?![A-Za-z])", r"\1L", text)
    return text or "1"


def normalise_unit(text: object, *, what: str) -> str:
    """Check a unit text with pint and return its canonical spelling."""
    if hasattr(text, "dimensionality") and not isinstance(text, str):
        return fmt_unit(text)
    if text is not None and not isinstance(text, str):
        raise ModelError(f"{what}: unit must be a string such as 'mg/L', got {text!r}")
    try:
        return fmt_unit(parse_unit(text, what=what))
    except UnitError as exc:
        raise ModelError(str(exc)) from None


def check_name(name: object, kind: str) -> str:
    """Check that ``name`` can be a model symbol; return it."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ModelError(f"{kind} name {name!r} is not a valid identifier "
                         "(letters, digits and '_', not starting with a digit)")
    if name.startswith("_"):
        raise ModelError(f"{kind} name {name!r}: names starting with '_' are reserved")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ModelError(f"{kind} name {name!r} is a Python keyword; choose another name")
    if name in RESERVED:
        raise ModelError(f"{kind} name {name!r} is reserved (reserved names: "
                         f"{', '.join(sorted(RESERVED))})")
    return name


#: Exact (integer or rational) exponents have numerator and denominator below this, so that they
#: stay machine integers in the compiled model.
MAX_EXACT_EXPONENT = 2**53


def check_supported(expr: sp.Basic, where: str) -> None:
    """Reject sympy objects outside the expression language (e.g. sin, I, oo, Derivative), and
    exact exponents too large for a machine integer."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Symbol) or isinstance(node, _NUMBER_TYPES):
            if isinstance(node, sp.Number) and not node.is_finite:
                raise ModelError(f"{where}: non-finite number {node} is not allowed")
            continue
        if (isinstance(node, sp.Pow) and isinstance(node.exp, sp.Rational)
                and max(abs(node.exp.p), node.exp.q) >= MAX_EXACT_EXPONENT):
            raise ModelError(f"{where}: exponent {node.exp} in term '{node}' is too large; an "
                             f"exact exponent must be below 2**53 = {MAX_EXACT_EXPONENT} (write "
                             "it as a float, e.g. 1e20)")
        if isinstance(node, (sp.Add, sp.Mul, sp.Pow, sp.Piecewise, ExprCondPair,
                             sp.NumberSymbol, *_FUNCS, *_RELATIONAL, *_BOOLEAN)):
            continue
        if isinstance(node, sp.Tuple):
            continue
        raise ModelError(f"{where}: {type(node).__name__} ({node}) is not supported; "
                         f"allowed functions: {', '.join(FUNCTIONS)}")


def canonical(expr: sp.Basic) -> sp.Basic:
    """Rebuild ``expr`` with every number as a 53-bit float, except integer and rational
    exponents, which stay exact (``x**2``, ``sqrt(x)``)."""
    if expr is sp.S.NegativeOne:  # keep -x as -x
        return expr
    if isinstance(expr, (sp.Rational, sp.NumberSymbol)):
        return sp.Float(float(expr))
    if isinstance(expr, sp.Float):
        return sp.Float(float(expr))
    if not expr.args or isinstance(expr, sp.Symbol):
        return expr
    if isinstance(expr, sp.Pow) and isinstance(expr.exp, sp.Rational):
        return sp.Pow(canonical(expr.base), expr.exp)
    return expr.func(*(canonical(a) for a in expr.args))


class UnitChecker:
    """Infer the unit of expressions from the units of the symbols."""

    def __init__(self, units: Mapping[str, object], time_unit: object) -> None:
        self.ureg = registry()
        self.units = dict(units)
        self.units["t"] = time_unit
        self.one = self.ureg.dimensionless

    def factor(self, a: object, b: object) -> float | None:
        """Conversion factor from unit ``a`` to ``b``, or None if the dimensions differ."""
        try:
            return float(self.ureg.Quantity(1.0, a).to(b).magnitude)
        except Exception:
            return None

    def same(self, a: object, b: object) -> bool:
        f = self.factor(a, b)
        return f is not None and math.isclose(f, 1.0, rel_tol=1e-12)

    def mismatch(self, where: str, term: sp.Basic, got: object, expected: object,
                 context: str = "") -> ModelError:
        f = self.factor(got, expected)
        why = (f"has unit {fmt_unit(got)}, expected {fmt_unit(expected)}" if f is None else
               f"has unit {fmt_unit(got)}, which is {f:g} {fmt_unit(expected)}: declare units "
               "so that no conversion factor is needed")
        return ModelError(f"{where}: term '{term}' {why}{context}")

    def unit(self, expr: sp.Basic, where: str) -> object:
        """Unit of ``expr``; raise ModelError naming the first inconsistent term."""
        if isinstance(expr, sp.Symbol):
            return self.units.get(expr.name, self.one)
        if isinstance(expr, (sp.Number, sp.NumberSymbol)):
            return self.one
        if isinstance(expr, sp.Add):
            return self.common(expr.args, where, f" (terms added in '{expr}')")
        if isinstance(expr, sp.Mul):
            u = self.one
            for a in expr.args:
                u = u * self.unit(a, where)
            return u
        if isinstance(expr, sp.Pow):
            ub = self.unit(expr.base, where)
            ue = self.unit(expr.exp, where)
            if not self.same(ue, self.one):
                raise ModelError(f"{where}: exponent '{expr.exp}' in '{expr}' has unit "
                                 f"{fmt_unit(ue)}, expected a dimensionless number")
            if self.same(ub, self.one):
                return self.one
            if not expr.exp.is_number:
                raise ModelError(f"{where}: '{expr}' raises '{expr.base}' (unit {fmt_unit(ub)}) "
                                 "to a non-constant power; only dimensionless bases may have "
                                 "a variable exponent")
            return ub ** float(expr.exp)
        if isinstance(expr, (sp.exp, sp.log)):
            ua = self.unit(expr.args[0], where)
            if not self.same(ua, self.one):
                raise ModelError(f"{where}: argument '{expr.args[0]}' of {type(expr).__name__} "
                                 f"has unit {fmt_unit(ua)}; it must be dimensionless")
            return self.one
        if isinstance(expr, sp.Abs):
            return self.unit(expr.args[0], where)
        if isinstance(expr, (sp.Min, sp.Max)):
            return self.common(expr.args, where, f" (arguments of '{expr}')")
        if isinstance(expr, sp.Piecewise):
            for pair in expr.args:
                self.condition(pair.cond, where)
            return self.common([p.expr for p in expr.args], where,
                               f" (branches of '{expr}')")
        raise ModelError(f"{where}: cannot determine the unit of '{expr}'")

    def common(self, args: Iterable[sp.Basic], where: str, context: str) -> object:
        # a literal zero goes with any unit (A > 0, max(A, 0))
        args = [a for a in args if not (a.is_number and a.is_zero)] or [sp.Integer(0)]
        units = [self.unit(a, where) for a in args]
        ref = units[0]
        for a, u in zip(args[1:], units[1:], strict=True):
            if not self.same(u, ref):
                raise self.mismatch(where, a, u, ref, f" (unit of '{args[0]}'){context}")
        return ref

    def condition(self, cond: sp.Basic, where: str) -> None:
        if isinstance(cond, _RELATIONAL):
            self.common(cond.args, where, f" (compared in '{cond}')")
        elif isinstance(cond, (sp.And, sp.Or, sp.Not)):
            for c in cond.args:
                self.condition(c, where)

    def expect(self, expr: sp.Expr, expected: object, where: str) -> None:
        """Check that ``expr`` has unit ``expected`` (factor 1), naming the differing term."""
        terms = expr.args if isinstance(expr, sp.Add) else (expr,)
        for term in terms:
            if term.is_number and term.is_zero:
                continue
            u = self.unit(term, where)
            if not self.same(u, expected):
                raise self.mismatch(where, term, u, expected)


def check_omega(etas: tuple[str, ...], omega: np.ndarray) -> None:
    """Omega must be a finite, symmetric, positive semi-definite (n_eta, n_eta) matrix."""
    n = len(etas)
    if omega.shape != (n, n):
        raise ModelError(f"omega has shape {omega.shape}, expected ({n}, {n}) for etas "
                         f"{', '.join(etas)}")
    if not np.all(np.isfinite(omega)):
        raise ModelError("omega contains a non-finite value")
    if not np.allclose(omega, omega.T, rtol=1e-12, atol=0.0):
        i, j = np.unravel_index(np.argmax(np.abs(omega - omega.T)), omega.shape)
        raise ModelError(f"omega is not symmetric: entry ({etas[i]}, {etas[j]}) = {omega[i, j]} "
                         f"but ({etas[j]}, {etas[i]}) = {omega[j, i]}")
    eig = np.linalg.eigvalsh(omega)
    tol = 1e-12 * max(1.0, float(np.max(np.abs(eig))))
    if eig.min() < -tol:
        bad = [etas[i] for i in range(n) if omega[i, i] < 0]
        detail = (f"negative variance of {', '.join(bad)}" if bad else
                  f"smallest eigenvalue {eig.min():.3g}")
        raise ModelError(f"omega is not positive semi-definite ({detail})")
