"""Equations that would make sympy work hard are refused quickly, or parsed quickly and exactly.

Each input either parses in well under a second or raises a ModelError naming the equation and
the offending term and the limit; no input may hang (exponent towers are never evaluated as exact
integers) or escape as a bare Python exception.
"""

from __future__ import annotations

import math
import time

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from pkpd import ModelError
from pkpd.model import ModelBuilder, parse_expression
from pkpd.model._parser import MAX_DEPTH, MAX_LENGTH, MAX_MAGNITUDE
from pkpd.model._toml import load_model_text
from tests.model.test_model_fuzz import bundled_text

X = sp.Symbol("x", real=True)
T = sp.Symbol("t", real=True)
WHERE = "individual equation 'CL'"


def parse(text: str) -> sp.Expr:
    return parse_expression(text, {"x": X}, where=WHERE)


def timed_refusal(text: str) -> str:
    start = time.perf_counter()
    with pytest.raises(ModelError) as info:
        parse(text)
    assert time.perf_counter() - start < 1.0, text[:60]
    message = str(info.value)
    assert message.startswith(WHERE)
    return message


@pytest.mark.parametrize(("text", "term"), [
    ("9**9**9", "9**9**9"),
    ("2**2**2**2**2**2", "2**2**2**2**2"),
    ("10**10**10", "10**10**10"),
    ("(9**9)**(9**9)", "(9**9)**(9**9)"),
    ("x * 10**1000", "10**1000"),
    ("2**-100000", "2**-100000"),
    ("0.5**100000", "0.5**100000"),
    ("(1/3)**100000", "(1/3)**100000"),
    ("1.0000001**1e12", "1.0000001**1e12"),
    ("exp(exp(exp(1000)))", "exp(1000)"),
    ("exp(-1000) * x", "exp(-1000)"),
    ("exp(1)**1000000", "exp(1)**1000000"),
    ("max(1, 2)**9**9", "max(1, 2)**9**9"),
    ("1e200 * 1e200 * x", "1e200 * 1e200"),
    ("1e-200 * 1e-200 * x", "1e-200 * 1e-200"),
    ("x if 9**9**9 > 1 else 2", "9**9**9"),
    ("x**(2**2**2**2**2)", "2**2**2**2**2"),
])
def test_huge_constant_terms_are_refused_naming_term_and_limit(text: str, term: str) -> None:
    message = timed_refusal(text)
    assert repr(term) in message
    assert f"10**{MAX_MAGNITUDE}" in message


@pytest.mark.parametrize("text", ["1e999999", "1e-999 * x", "x * 1e400"])
def test_number_literals_outside_double_range_are_refused(text: str) -> None:
    assert "outside the range of a double" in timed_refusal(text)


def test_repeated_integer_multiplication_is_bounded() -> None:
    # 99999**60 < 10**300 is accepted and exact; one more factor leaves the range
    inside = "*".join(["99999"] * 60)
    assert parse(inside) == sp.Integer(99999) ** 60
    message = timed_refusal("*".join(["99999"] * 61))
    assert "outside the allowed magnitudes" in message


@pytest.mark.parametrize(("text", "why"), [
    ("(-8)**(1/3)", "is not a real number"),
    ("(-1)**0.5", "is not a real number"),
    ("0.0/0.0", "cannot be evaluated"),
])
def test_non_real_or_undefined_constants_are_refused(text: str, why: str) -> None:
    assert why in timed_refusal(text)


@pytest.mark.parametrize("text", [
    "(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1),
    "-" * 5000 + "x",
    "+".join(["x"] * 3000),
    "not " * 1000 + "x > 1",
    "x if " * 500 + "x > 1" + " else x" * 500,
    "x" * (MAX_LENGTH + 1),
    "exp(" * 200 + "x" + ")" * 200,
])
def test_deep_or_long_expressions_are_refused_quickly(text: str) -> None:
    timed_refusal(text)


def test_within_limits_values_are_exact() -> None:
    # 2**1000 is about 1.07e301 (> 10**300): refused; 2**996 ~ 6.7e299 is kept exact
    assert parse("2**996") == sp.Integer(2) ** 996
    assert "2**1000" in timed_refusal("2**1000")
    assert float(parse("exp(100)")) == pytest.approx(math.exp(100), rel=1e-15)
    assert parse("(8**(1/3)) * x") == 2 * X
    assert parse("1/150 * x") == sp.Rational(1, 150) * X
    assert parse("+".join(["x"] * (MAX_DEPTH // 2))) == (MAX_DEPTH // 2) * X


def test_long_sums_and_products_cost_one_level_each() -> None:
    # a sum of many terms (e.g. a polynomial or a covariate model written out) is a flat run,
    # not 500 levels of nesting; the order of - and / is kept
    terms = [f"{k}*x**{k % 4}" for k in range(1, 501)]
    expected = sum(sp.Integer(k) * X ** (k % 4) for k in range(1, 501))
    assert sp.expand(parse(" + ".join(terms)) - expected) == 0
    assert parse("x - 1 - 2 - 3") == X - 6
    assert parse("x / 2 / 5 * 3") == sp.Rational(3, 10) * X
    assert parse("*".join(["x"] * 400)) == X ** 400
    assert parse("2 - x + 3*x/6 - 1") == 1 - X / 2


def test_load_model_with_exponent_tower_fails_fast(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PKPD_CACHE_DIR", str(tmp_path))
    text = bundled_text("one_cmt").replace('CL = "TVCL', 'CL = "2**2**2**2**2**2 * TVCL', 1)
    start = time.perf_counter()
    with pytest.raises(ModelError, match=r"CL.*2\*\*2\*\*2\*\*2\*\*2.*10\*\*300"):
        load_model_text(text, "fuzz.toml")
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("exponent", ["10**20", "-2**60", "10**20/3", "1/10**20"])
def test_exact_exponents_beyond_machine_integers_are_refused(exponent: str, tmp_path,
                                                            monkeypatch) -> None:
    # numba cannot type an integer literal beyond int64 (a bare TypingError at compile time)
    monkeypatch.setenv("PKPD_CACHE_DIR", str(tmp_path))
    text = bundled_text("one_cmt").replace('CL = "TVCL',
                                           f'CL = "(1 + eta_CL)**({exponent}) * TVCL', 1)
    with pytest.raises(ModelError, match=r"individual equation 'CL': exponent .* 2\*\*53"):
        load_model_text(text, "fuzz.toml")


def test_exact_exponent_limit_applies_to_sympy_declarations() -> None:
    mb = ModelBuilder("big_exponent", time_unit="h")
    (central,) = mb.states(central="mg")
    (k,) = mb.parameters(K="0.1 1/h")
    mb.ode(central, -k * central * (1 + k * T) ** sp.Integer(10**20))
    with pytest.raises(ModelError, match=r"ODE of 'central'.*exponent"):
        mb.build()
    small = ModelBuilder("fine_exponent", time_unit="h")
    (central,) = small.states(central="mg")
    (k,) = small.parameters(K="0.1 1/h")
    small.ode(central, -k * central * (1 + k * T) ** 2**50)
    assert small.build().states[0].name == "central"


ALPHABET = "xyt0123456789.e+-*/() <>=!,_abcdfgilmnopqrsuv[]{}:'\"@%&|^~#\\"


def parses_or_refuses_quickly(text: str) -> None:
    """``text`` parses to a sympy expression or raises a ModelError naming where, in < 1 s."""
    start = time.process_time()
    try:
        result = parse_expression(text, {"x": X, "y": sp.Symbol("y", real=True)},
                                  where="fuzz")
    except ModelError as exc:
        assert str(exc).startswith("fuzz")
    else:
        assert isinstance(result, sp.Basic)
    assert time.process_time() - start < 1.0


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(alphabet=ALPHABET, max_size=80))
def test_random_text_parses_or_raises_model_error_quickly(text: str) -> None:
    parses_or_refuses_quickly(text)


tokens = st.sampled_from(["x", "y", "t", "1", "2", "9", "0.5", "1e300", "1e-300", "10", "**",
                          "*", "/", "+", "-", "(", ")", "exp(", "log(", "sqrt(", "abs(",
                          "min(", "max(", ",", " if x > 1 else ", "if_else(x > 1,"])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(tokens, max_size=60).map("".join))
def test_random_token_sequences_parse_or_raise_quickly(text: str) -> None:
    parses_or_refuses_quickly(text)
