"""The typed residual-error model: kinds, sigmas, SD and its derivative, bad declarations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pkpd import ModelError
from pkpd.model import ErrorModel

KINDS = {
    "additive": ErrorModel("CP", additive=0.5),
    "proportional": ErrorModel("CP", proportional=0.2),
    "power": ErrorModel("CP", proportional=0.2, power=0.7),
    "combined": ErrorModel("CP", additive=0.5, proportional=0.2),
    "exponential": ErrorModel("CP", exponential=0.3),
}


@pytest.mark.parametrize("kind", KINDS)
def test_kind_and_sigmas(kind):
    err = KINDS[kind]
    assert err.kind == kind
    assert set(err.sigmas) == {f"CP.{c}" for c in err.components}


@given(f=st.floats(0.01, 1e4), add=st.floats(0.0, 5.0), prop=st.floats(0.0, 1.0),
       power=st.floats(0.2, 2.0), form=st.sampled_from(["variance", "sd"]))
def test_sd_derivative_matches_central_difference(f, add, prop, power, form):
    err = ErrorModel("CP", additive=add, proportional=prop, power=power, form=form)
    h = 1e-6 * f
    fd = (err.sd(np.array([f + h])) - err.sd(np.array([f - h]))) / (2 * h)
    rounding = 100 * np.finfo(float).eps * err.sd(np.array([f]))[0] / h
    assert err.d_sd(np.array([f]))[0] == pytest.approx(fd[0], rel=1e-5, abs=rounding + 1e-12)


def test_sd_formulas():
    f = np.array([4.0])
    assert KINDS["combined"].sd(f)[0] == pytest.approx(np.hypot(0.5, 0.8))
    assert ErrorModel("CP", additive=0.5, proportional=0.2, form="sd").sd(f)[0] == 1.3
    assert KINDS["power"].sd(f)[0] == pytest.approx(0.2 * 4.0**0.7)
    assert KINDS["exponential"].sd(f)[0] == 0.3


def test_with_sigmas_by_name_or_component():
    err = KINDS["combined"].with_sigmas({"CP.additive": 1.0, "proportional": 0.3})
    assert (err.additive, err.proportional) == (1.0, 0.3)
    with pytest.raises(ModelError, match="not one of its sigmas"):
        KINDS["additive"].with_sigmas({"CP.proportional": 0.1})


@pytest.mark.parametrize(("spec", "match"), [
    ({}, "at least one"),
    ({"additive": -1.0}, "must be a finite SD"),
    ({"additive": float("nan")}, "must be a finite SD"),
    ({"exponential": 0.1, "additive": 0.1}, "cannot be combined"),
    ({"additive": 0.1, "power": 2.0}, "power needs a proportional"),
    ({"proportional": 0.1, "power": 0.0}, "power"),
    ({"additive": 0.1, "form": "both"}, "form"),
    ({"additive": 0.1, "fixed": ["proportional"]}, "fixed"),
    ({"additive": "big"}, "not a number"),
    ({"additive": 0.1, "weight": 2}, "unknown key 'weight'"),
])
def test_bad_declarations_name_the_problem(spec, match):
    with pytest.raises(ModelError, match=match):
        ErrorModel.from_spec("CP", spec)


def test_fixed_true_fixes_every_component():
    err = ErrorModel.from_spec("CP", {"additive": 0.1, "proportional": 0.2, "fixed": True})
    assert err.fixed == {"additive", "proportional"}
