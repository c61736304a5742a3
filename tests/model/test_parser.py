"""The safe expression parser: the whitelist is accepted, everything else is refused."""

from __future__ import annotations

import math

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from pkpd import ModelError
from pkpd.model import parse_expression

X, Y, Z = (sp.Symbol(n, real=True) for n in "xyz")
SYMS = {"x": X, "y": Y, "z": Z}
T = sp.Symbol("t", real=True)


def parse(text: str) -> sp.Expr:
    return parse_expression(text, SYMS, where="test equation")


@pytest.mark.parametrize(("text", "expected"), [
    ("x + y*z - 2", X + Y * Z - 2),
    ("x / y", X / Y),
    ("x ** 2", X**2),
    ("-x + +y", -X + Y),
    ("exp(x) + log(y) + sqrt(z)", sp.exp(X) + sp.log(Y) + sp.sqrt(Z)),
    ("log10(x)", sp.log(X) / sp.log(10)),
    ("abs(x)", sp.Abs(X)),
    ("min(x, y)", sp.Min(X, Y)),
    ("max(x, y, z)", sp.Max(X, Y, Z)),
    ("x if y > 1 else z", sp.Piecewise((X, Y > 1), (Z, True))),
    ("if_else(x <= y, 1, 2)", sp.Piecewise((1, X <= Y), (2, True))),
    ("x if 0 < y < 1 else z", sp.Piecewise((X, sp.And(Y > 0, Y < 1)), (Z, True))),
    ("x if (y >= 1 and not z == 2) or x != 0 else 0",
     sp.Piecewise((X, sp.Or(sp.And(Y >= 1, sp.Not(sp.Eq(Z, 2))), sp.Ne(X, 0))), (0, True))),
    ("x * t", X * T),
    ("1.5e-3 * x", sp.Float(1.5e-3) * X),
])
def test_accepts_whitelist(text: str, expected: sp.Expr) -> None:
    assert sp.simplify(parse(text) - expected) == 0 if not expected.has(sp.Piecewise) \
        else parse(text) == expected


def test_no_integer_division() -> None:
    value = float(parse("1/150 * x").subs(X, 1.0))
    assert value == pytest.approx(1 / 150, rel=1e-15)
    assert float(parse("x**(1/2)").subs(X, 4.0)) == pytest.approx(2.0)


@given(a=st.integers(1, 10**6), b=st.integers(1, 10**6))
def test_division_of_integer_literals_is_exact(a: int, b: int) -> None:
    assert math.isclose(float(parse(f"{a}/{b}")), a / b, rel_tol=1e-15)


MALICIOUS = [
    ("__import__('os').system('x')", "__import__"),
    ("().__class__", "attribute"),
    ("exp.__globals__", "attribute"),
    ("[1][0]", "subscript"),
    ("lambda: 1", "lambda"),
    ('"a"', "constant 'a'"),
    ("open('f')", "unknown function 'open'"),
    ("x.real", "attribute"),
    ("exp(x=1)", "keyword"),
    ("exp(*[x])", "starred"),
    ("(y := 1)", "assignment"),
    ("[x for x in y]", "list comprehension"),
    ("f'{x}'", "f-string"),
    ("True", "constant True"),
    ("None", "constant None"),
    ("_x", "'_'"),
    ("x < y", "only allowed inside a condition"),
    ("x and y", "only allowed inside a condition"),
    ("x if y else z", "not a condition"),
    ("x // y", "FloorDiv"),
    ("x % y", "Mod"),
    ("x @ y", "MatMult"),
    ("~x", "Invert"),
    ("x << 1", "LShift"),
    ("x if y in z else z", "In"),
    ("exp", "without a call"),
    ("exp(x, y)", "takes 1 argument"),
    ("min(x)", "2 or more"),
    ("if_else(x, y)", "3 arguments"),
    ("(x, y)", "tuple"),
    ("{x: 1}", "dict"),
    ("b'x'", "bytes"),
    ("1j", "complex"),
    ("x(1)", "unknown function 'x'"),
    ("getattr(x, 'a')", "unknown function 'getattr'"),
    ("x; y", "syntax error"),
    ("import os", "syntax error"),
    ("", "empty"),
]


@pytest.mark.parametrize(("text", "fragment"), MALICIOUS)
def test_rejects_forbidden_construct(text: str, fragment: str) -> None:
    with pytest.raises(ModelError) as err:
        parse(text)
    msg = str(err.value)
    assert msg.startswith("test equation")
    assert fragment in msg


def test_error_names_column_and_allowed() -> None:
    with pytest.raises(ModelError, match=r"attribute access is not allowed .*column 5") as err:
        parse("x + y.z")
    assert "allowed:" in str(err.value)


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(ModelError) as err:
        parse_expression("CLL * 2", {"CL": X, "V": Y}, where="ODE of 'central'")
    msg = str(err.value)
    assert "ODE of 'central'" in msg and "'CLL'" in msg and "did you mean CL" in msg
    assert "known names: CL, V" in msg


def test_limits() -> None:
    with pytest.raises(ModelError, match="limit is 10000"):
        parse("x+" * 5001 + "x")
    with pytest.raises(ModelError, match="nested deeper"):
        parse("(" * 200 + "x" + ")" * 200)
    with pytest.raises(ModelError, match=r"nested deeper|too deeply"):
        parse("-" * 500 + "x")


def test_not_text() -> None:
    with pytest.raises(ModelError, match="expected an expression as text"):
        parse_expression(3, SYMS, where="w")  # type: ignore[arg-type]
