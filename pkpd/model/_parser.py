"""A safe parser for model equations: text -> sympy expression, by an explicit whitelist.

The text is parsed with :func:`ast.parse` (``mode="eval"``) and the syntax tree is walked node by
node; only the constructs listed below are turned into sympy objects, anything else raises
:class:`~pkpd.errors.ModelError` naming the construct, its column and what is allowed. Nothing is
ever evaluated as Python (no ``eval``, ``exec`` or ``sympify`` of the text).

Allowed:

- numbers (``1``, ``0.75``, ``1e-3``); integers stay exact so that ``1/150`` is the rational
  1/150 (never an integer division), and become floats when the model is built, except in
  exponents
- names of declared symbols and the time ``t``
- ``+ - * / **``, unary ``-`` and ``+``
- calls by bare name: ``exp, log, log10, sqrt, abs`` (one argument), ``min, max`` (two or more),
  ``if_else(cond, a, b)``; positional arguments only
- ``a if cond else b``
- inside conditions only: comparisons ``< <= > >= == !=`` (chains allowed), ``and``, ``or``,
  ``not``
"""

from __future__ import annotations

import ast
import difflib
import math
import warnings
from collections.abc import Callable, Mapping

import sympy as sp

from ..errors import ModelError

__all__ = ["FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "MAX_MAGNITUDE", "parse_expression"]

MAX_LENGTH = 10_000
MAX_DEPTH = 100
#: Constant terms must lie within 10**-MAX_MAGNITUDE .. 10**MAX_MAGNITUDE in absolute value (or
#: be 0): the range of a double, so that no constant overflows or underflows when the model is
#: compiled, and no exponent tower such as ``9**9**9`` is ever evaluated as an exact integer.
MAX_MAGNITUDE = 300

_ONE_ARG: dict[str, Callable[[sp.Expr], sp.Expr]] = {
    "exp": sp.exp,
    "log": sp.log,
    "log10": lambda x: sp.log(x, 10),
    "sqrt": sp.sqrt,
    "abs": sp.Abs,
}
FUNCTIONS: tuple[str, ...] = (*_ONE_ARG, "min", "max", "if_else")

_BINOPS: dict[type, Callable[[sp.Expr, sp.Expr], sp.Expr]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
_CMPOPS: dict[type, Callable[[sp.Expr, sp.Expr], sp.Basic]] = {
    ast.Lt: sp.Lt,
    ast.LtE: sp.Le,
    ast.Gt: sp.Gt,
    ast.GtE: sp.Ge,
    ast.Eq: sp.Eq,
    ast.NotEq: sp.Ne,
}
_ALLOWED = ("numbers, declared names and t, + - * / **, unary -, calls of "
            + ", ".join(FUNCTIONS) + ", 'a if cond else b', and inside conditions: comparisons, "
            "and, or, not")

_DESCRIPTIONS: dict[type, str] = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscript",
    ast.Lambda: "lambda",
    ast.NamedExpr: "assignment expression (:=)",
    ast.ListComp: "list comprehension",
    ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension",
    ast.GeneratorExp: "generator expression",
    ast.JoinedStr: "f-string",
    ast.List: "list",
    ast.Tuple: "tuple",
    ast.Set: "set",
    ast.Dict: "dict",
    ast.Starred: "starred expression",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slice",
}


def _log10_abs(value: sp.Expr) -> float | None:
    """log10 of ``|value|`` for a constant; None for 0 or when it has no finite logarithm."""
    if isinstance(value, sp.Rational):
        if value == 0:
            return None
        return math.log10(abs(value.p)) - math.log10(value.q)
    try:
        number = sp.N(value, 17)
        if number == 0:
            return None
        log10 = float(sp.N(sp.log(sp.Abs(number)) / sp.log(10), 17))
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return None
    return log10 if math.isfinite(log10) else None


def _segment(text: str, node: ast.AST) -> str:
    return ast.get_source_segment(text, node) or ast.unparse(node)


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Constant):
        return f"constant {node.value!r} of type {type(node.value).__name__}"
    if isinstance(node, ast.BinOp):
        return f"operator {type(node.op).__name__}"
    if isinstance(node, ast.UnaryOp):
        return f"unary operator {type(node.op).__name__}"
    return _DESCRIPTIONS.get(type(node), type(node).__name__)


class _Walker:
    def __init__(self, text: str, symbols: Mapping[str, sp.Symbol], where: str) -> None:
        self.text = text
        self.symbols = symbols
        self.where = where

    def fail(self, node: ast.AST, message: str) -> ModelError:
        col = getattr(node, "col_offset", None)
        at = f" at column {col + 1}" if col is not None else ""
        return ModelError(f"{self.where}: {message}{at} in {self.text!r}")

    def forbidden(self, node: ast.AST) -> ModelError:
        return self.fail(node, f"{_describe(node)} is not allowed (allowed: {_ALLOWED})")

    def expr(self, node: ast.AST, depth: int) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression nested deeper than {MAX_DEPTH} levels")
        d = depth + 1
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.forbidden(node)
            return self.constant(node, value)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            if not isinstance(node.op, ast.Pow) and isinstance(node.left, ast.BinOp):
                return self.chain(node, d)
            left, right = self.expr(node.left, d), self.expr(node.right, d)
            if isinstance(node.op, ast.Pow):
                self.check_power(node, left, right)
            try:
                result = _BINOPS[type(node.op)](left, right)
            except (ZeroDivisionError, OverflowError, ValueError) as exc:
                raise self.fail(node, f"term {_segment(self.text, node)!r} cannot be "
                                      f"evaluated ({type(exc).__name__})") from None
            return self.bounded(node, result)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.expr(node.operand, d)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.IfExp):
            return sp.Piecewise((self.expr(node.body, d), self.cond(node.test, d)),
                                (self.expr(node.orelse, d), True))
        if isinstance(node, ast.Call):
            return self.call(node, d)
        if isinstance(node, (ast.Compare, ast.BoolOp)) or (
                isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
            raise self.fail(node, "comparisons and and/or/not are only allowed inside a "
                                  "condition ('a if cond else b' or if_else(cond, a, b))")
        raise self.forbidden(node)

    def chain(self, node: ast.BinOp, depth: int) -> sp.Expr:
        """A left-nested run of ``+ -`` or ``* /`` (``a + b + c + ...``), walked as a list so
        that a long sum costs one level of nesting, not one per term."""
        family = (ast.Add, ast.Sub) if isinstance(node.op, (ast.Add, ast.Sub)) else (
            ast.Mult, ast.Div)
        links: list[ast.BinOp] = []
        first: ast.AST = node
        while isinstance(first, ast.BinOp) and isinstance(first.op, family):
            links.append(first)
            first = first.left
        result = self.expr(first, depth)
        for link in reversed(links):
            right = self.expr(link.right, depth)
            try:
                result = _BINOPS[type(link.op)](result, right)
            except (ZeroDivisionError, OverflowError, ValueError) as exc:
                raise self.fail(link, f"term {_segment(self.text, link)!r} cannot be "
                                      f"evaluated ({type(exc).__name__})") from None
            result = self.bounded(link, result)
        return result

    def constant(self, node: ast.Constant, value: float) -> sp.Expr:
        """A number literal, refused when it overflows or underflows a double."""
        if isinstance(value, float):
            literal = _segment(self.text, node)
            mantissa = literal.lower().split("e")[0]
            if not math.isfinite(value) or (value == 0.0 and any(c in mantissa
                                                                  for c in "123456789")):
                raise self.fail(node, f"number {literal!r} is outside the range of a double "
                                      f"(magnitudes 1e-{MAX_MAGNITUDE} .. 1e{MAX_MAGNITUDE})")
            return self.bounded(node, sp.Float(value))
        return self.bounded(node, sp.Integer(value))

    def too_big(self, node: ast.AST, log10: float) -> ModelError:
        return self.fail(node, f"term {_segment(self.text, node)!r} is about 10**{log10:.4g}, "
                               f"outside the allowed magnitudes 10**-{MAX_MAGNITUDE} .. "
                               f"10**{MAX_MAGNITUDE} for a constant")

    def check_power(self, node: ast.AST, base: sp.Expr, exponent: sp.Expr) -> None:
        """Refuse a constant power whose value would leave the range, before computing it."""
        if base.free_symbols or exponent.free_symbols:
            return
        log_base = _log10_abs(base)
        if log_base is None or log_base == 0:
            return
        value = complex(sp.N(exponent, 17))
        if value.imag != 0:
            return
        log10 = value.real * log_base
        if abs(log10) > MAX_MAGNITUDE:
            raise self.too_big(node, log10)

    def bounded(self, node: ast.AST, value: sp.Expr) -> sp.Expr:
        """Return ``value``, refusing a constant that is not real or lies outside
        10**-MAX_MAGNITUDE .. 10**MAX_MAGNITUDE."""
        if not isinstance(value, sp.Expr) or value.free_symbols or not value.is_number:
            return value
        if not isinstance(value, sp.Rational):
            try:
                imag = sp.N(sp.im(value), 17)
            except (TypeError, ValueError, OverflowError, ZeroDivisionError):
                return value  # left to the later checks (e.g. zoo, nan)
            if imag.is_number and imag.is_finite and imag != 0:
                raise self.fail(node, f"term {_segment(self.text, node)!r} is not a real "
                                      f"number ({value})")
        log10 = _log10_abs(value)
        if log10 is not None and abs(log10) > MAX_MAGNITUDE:
            raise self.too_big(node, log10)
        return value

    def name(self, node: ast.Name) -> sp.Expr:
        name = node.id
        if name.startswith("_"):
            raise self.fail(node, f"name {name!r} starting with '_' is not allowed")
        if name in self.symbols:
            return self.symbols[name]
        if name == "t":
            return sp.Symbol("t", real=True)
        if name in FUNCTIONS:
            raise self.fail(node, f"function {name!r} used without a call")
        known = sorted(self.symbols)
        close = difflib.get_close_matches(name, [*known, "t"], n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise self.fail(node, f"unknown name {name!r}{hint} (known names: "
                              f"{', '.join(known) or 'none'}, t)")

    def call(self, node: ast.Call, depth: int) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, f"call of {_describe(node.func)} is not allowed; only "
                                  f"functions called by bare name: {', '.join(FUNCTIONS)}")
        fname = node.func.id
        if fname not in FUNCTIONS:
            close = difflib.get_close_matches(fname, FUNCTIONS, n=2)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise self.fail(node, f"unknown function {fname!r}{hint}; allowed functions: "
                                  f"{', '.join(FUNCTIONS)}")
        if node.keywords:
            raise self.fail(node, f"keyword arguments in call of {fname!r} are not allowed; "
                                  "give positional arguments only")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.forbidden(arg)
        n = len(node.args)
        if fname == "if_else":
            if n != 3:
                raise self.fail(node, f"if_else takes 3 arguments (cond, a, b), got {n}")
            cond = self.cond(node.args[0], depth)
            return sp.Piecewise((self.expr(node.args[1], depth), cond),
                                (self.expr(node.args[2], depth), True))
        args = [self.expr(a, depth) for a in node.args]
        if fname in ("min", "max"):
            if n < 2:
                raise self.fail(node, f"{fname} takes 2 or more arguments, got {n}")
            return self.bounded(node, (sp.Min if fname == "min" else sp.Max)(*args))
        if n != 1:
            raise self.fail(node, f"{fname} takes 1 argument, got {n}")
        if fname == "exp" and not args[0].free_symbols and args[0].is_number:
            value = complex(sp.N(args[0], 17))
            if value.imag == 0 and abs(value.real) / math.log(10) > MAX_MAGNITUDE:
                raise self.too_big(node, value.real / math.log(10))
        return self.bounded(node, _ONE_ARG[fname](args[0]))

    def cond(self, node: ast.AST, depth: int) -> sp.Basic:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression nested deeper than {MAX_DEPTH} levels")
        d = depth + 1
        if isinstance(node, ast.Compare):
            operands = [self.expr(node.left, d)] + [self.expr(c, d) for c in node.comparators]
            parts = []
            for op, a, b in zip(node.ops, operands, operands[1:], strict=False):
                if type(op) not in _CMPOPS:
                    raise self.fail(node, f"comparison {type(op).__name__} is not allowed "
                                          "(allowed: < <= > >= == !=)")
                parts.append(_CMPOPS[type(op)](a, b))
            return sp.And(*parts) if len(parts) > 1 else parts[0]
        if isinstance(node, ast.BoolOp):
            values = [self.cond(v, d) for v in node.values]
            return sp.And(*values) if isinstance(node.op, ast.And) else sp.Or(*values)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return sp.Not(self.cond(node.operand, d))
        raise self.fail(node, f"{_describe(node)} is not a condition; a condition is a "
                              "comparison (< <= > >= == !=) combined with and/or/not")


def parse_expression(text: str, symbols: Mapping[str, sp.Symbol], *, where: str) -> sp.Expr:
    """Parse an equation of a model into a sympy expression, allowing only a safe subset.

    Parameters
    ----------
    text : str
        The right-hand side, e.g. ``"TVCL * (WT/70)**0.75 * exp(eta_CL)"``.
    symbols : Mapping[str, sympy.Symbol]
        The names that may appear (the time ``t`` is always allowed).
    where : str
        What is being parsed, e.g. ``"ODE of 'central'"``; it starts every error message.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    ModelError
        On a syntax error, an unknown name (listing close matches and the known names), or any
        construct outside the whitelist (naming it and its column).

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> parse_expression("1/150 * x", {"x": x}, where="example")
    x/150
    """
    if not isinstance(text, str):
        raise ModelError(f"{where}: expected an expression as text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ModelError(f"{where}: expression is {len(text)} characters long; "
                         f"the limit is {MAX_LENGTH}")
    if not text.strip():
        raise ModelError(f"{where}: empty expression")
    # Bound the parser's own recursion before handing the text to ast.
    depth, deepest = 0, 0
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        deepest = max(deepest, depth)
    if deepest > MAX_DEPTH:
        raise ModelError(f"{where}: brackets nested deeper than {MAX_DEPTH} levels")
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal" for '1x'
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset else ""
        raise ModelError(f"{where}: syntax error{col} in {text!r} ({exc.msg})") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ModelError(f"{where}: cannot parse {text!r} ({exc})") from None
    try:
        expr = _Walker(text, symbols, where).expr(tree.body, 0)
    except RecursionError:
        raise ModelError(f"{where}: expression too deeply nested") from None
    return expr
