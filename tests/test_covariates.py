"""Derived clinical covariates against published worked examples and independent formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pkpd
from pkpd import covariates as cv

# -- Cockcroft-Gault ---------------------------------------------------------------------------


def test_cockcroft_gault_worked_example() -> None:
    # 60-year-old 72 kg man, SCR 1.0 mg/dL: (140-60)*72/(72*1.0) = 80 mL/min
    # (Cockcroft & Gault, Nephron 1976, doi:10.1159/000180580; standard textbook example)
    assert cv.crcl_cockcroft_gault(60, 72, 1.0, "M") == pytest.approx(80.0, rel=1e-12)
    # women: x 0.85 -> 68 mL/min
    assert cv.crcl_cockcroft_gault(60, 72, 1.0, "F") == pytest.approx(68.0, rel=1e-12)
    assert cv.crcl_cockcroft_gault(60, 72, 1.0, 0) == pytest.approx(68.0, rel=1e-12)
    assert cv.crcl_cockcroft_gault(60, 72, 1.0, 1) == pytest.approx(80.0, rel=1e-12)


def test_cockcroft_gault_weight_basis() -> None:
    # 5 ft 10 in (177.8 cm) man of 100 kg: IBW = 50 + 2.3*10 = 73 kg; ABW = 73 + 0.4*27 = 83.8
    # CrCL with IBW: (140-40)*73/(72*1.0) ; with ABW: (140-40)*83.8/72
    kw = dict(age=40, weight=100, scr=1.0, sex="M", height=177.8)
    assert cv.crcl_cockcroft_gault(**kw, weight_basis="ideal") == pytest.approx(100 * 73 / 72)
    assert cv.crcl_cockcroft_gault(**kw, weight_basis="adjusted") == pytest.approx(
        100 * 83.8 / 72)
    assert cv.crcl_cockcroft_gault(**kw) == pytest.approx(100 * 100 / 72)
    with pytest.raises(pkpd.DataError, match="needs height"):
        cv.crcl_cockcroft_gault(40, 100, 1.0, "M", weight_basis="ideal")
    with pytest.raises(pkpd.DataError, match="weight_basis"):
        cv.crcl_cockcroft_gault(40, 100, 1.0, "M", weight_basis="lean")


def test_cockcroft_gault_vectorised() -> None:
    out = cv.crcl_cockcroft_gault([60, 60], [72, 72], [1.0, 2.0], ["M", "F"])
    np.testing.assert_allclose(out, [80.0, 34.0], rtol=1e-12)


@given(age=st.floats(18, 119), wt=st.floats(1, 399), scr=st.floats(0.1, 19.9),
       sex=st.sampled_from(["F", "M"]), d=st.floats(0.01, 1))
def test_cockcroft_gault_monotone(age: float, wt: float, scr: float, sex: str, d: float) -> None:
    f = cv.crcl_cockcroft_gault
    base = f(age, wt, scr, sex)
    assert f(age + d, wt, scr, sex) < base
    assert f(age, wt, scr + min(d, 20 - scr), sex) < base
    assert f(age, wt + d, scr, sex) > base


# -- CKD-EPI 2021 and Schwartz -----------------------------------------------------------------


def _ckd_epi_2021_reference(scr: float, age: float, female: bool) -> float:
    # Inker et al., NEJM 2021 (doi:10.1056/NEJMoa2102953), Table S10 / Supplementary Appendix:
    # women: 142 * 1.012 * (Scr/0.7)^(-0.241 if Scr <= 0.7 else -1.200) * 0.9938^age
    # men:   142 *         (Scr/0.9)^(-0.302 if Scr <= 0.9 else -1.200) * 0.9938^age
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    exponent = alpha if scr <= kappa else -1.200
    return 142.0 * (scr / kappa) ** exponent * 0.9938**age * (1.012 if female else 1.0)


@pytest.mark.parametrize("scr,age,sex", [
    (0.5, 30, "F"), (0.7, 50, "F"), (1.4, 70, "F"),   # below, at and above kappa (women)
    (0.6, 25, "M"), (0.9, 60, "M"), (2.5, 80, "M"),   # below, at and above kappa (men)
])
def test_ckd_epi_2021_against_published_equation(scr: float, age: float, sex: str) -> None:
    expected = _ckd_epi_2021_reference(scr, age, sex == "F")
    assert cv.egfr_ckd_epi_2021(scr, age, sex) == pytest.approx(expected, rel=1e-12)


def test_ckd_epi_2021_hand_values() -> None:
    # 60-year-old man, SCR 1.0 mg/dL: 142 * (1/0.9)^-1.2 * 0.9938^60 = 86.2 (computed by hand:
    # (1/0.9)^-1.2 = 0.88124, 0.9938^60 = 0.68856)
    assert cv.egfr_ckd_epi_2021(1.0, 60, "M") == pytest.approx(86.16, abs=0.01)
    # female factor: at SCR = kappa both min/max terms are 1: 142 * 1.012 * 0.9938^age
    assert cv.egfr_ckd_epi_2021(0.7, 40, "F") == pytest.approx(142 * 1.012 * 0.9938**40)
    assert cv.egfr_ckd_epi_2021(0.9, 40, "M") == pytest.approx(142 * 0.9938**40)
    with pytest.raises(pkpd.DataError, match="age = 10 years is outside 18-120"):
        cv.egfr_ckd_epi_2021(0.5, 10, "F")


def test_schwartz_bedside() -> None:
    # Schwartz et al. JASN 2009 (doi:10.1681/ASN.2008030287): eGFR = 0.413 * height(cm) / SCR
    assert cv.egfr_schwartz_bedside(120, 0.5) == pytest.approx(0.413 * 120 / 0.5)
    assert cv.egfr_schwartz_bedside(120, 0.5) == pytest.approx(99.12)


# -- body size ---------------------------------------------------------------------------------


def test_bsa_70kg_170cm() -> None:
    # Du Bois: 0.007184 * 70^0.425 * 170^0.725 = 1.81 m^2; Mosteller sqrt(70*170/3600) = 1.82
    assert cv.bsa_dubois(70, 170) == pytest.approx(1.81, abs=0.005)
    assert cv.bsa_mosteller(70, 170) == pytest.approx(math.sqrt(70 * 170 / 3600), rel=1e-12)
    assert cv.bsa_mosteller(70, 170) == pytest.approx(1.82, abs=0.005)


@given(w=st.floats(0.3, 399), h=st.floats(20, 249), d=st.floats(0.01, 1))
def test_bsa_monotone(w: float, h: float, d: float) -> None:
    for f in (cv.bsa_dubois, cv.bsa_mosteller):
        assert f(w + d, h) > f(w, h)
        assert f(w, h + d) > f(w, h)


def test_bmi() -> None:
    assert cv.bmi(70, 175) == pytest.approx(70 / 1.75**2)


def test_devine_ibw() -> None:
    # Devine 1974: 50 kg (men) / 45.5 kg (women) + 2.3 kg per inch over 5 ft
    assert cv.ibw_devine(177.8, "M") == pytest.approx(73.0)     # 5 ft 10 in
    assert cv.ibw_devine(162.56, "F") == pytest.approx(54.7)    # 5 ft 4 in
    assert cv.ibw_devine(152.4, "F") == pytest.approx(45.5)     # 5 ft
    with pytest.raises(pkpd.DataError, match="not defined below"):
        cv.ibw_devine(60, "F")


def test_janmahasatian_lbw() -> None:
    # Janmahasatian et al. 2005 (doi:10.2165/00003088-200544100-00004), eqs for FFM:
    # men 9270*WT/(6680 + 216*BMI), women 9270*WT/(8780 + 244*BMI)
    # 70 kg, 175 cm man: BMI 22.857, LBW = 648900/11617.1 = 55.86 kg
    assert cv.lbw_janmahasatian(70, 175, "M") == pytest.approx(55.86, abs=0.01)
    b = 60 / 1.65**2
    assert cv.lbw_janmahasatian(60, 165, "F") == pytest.approx(9270 * 60 / (8780 + 244 * b))


def test_adjusted_body_weight() -> None:
    assert cv.abw(100, 177.8, "M") == pytest.approx(73 + 0.4 * 27)
    assert cv.abw(100, 177.8, "M", factor=0.3) == pytest.approx(73 + 0.3 * 27)


# -- maturation and size ---------------------------------------------------------------------------


def test_maturation_fraction() -> None:
    # Rhodin et al. 2009 GFR maturation: TM50 = 47.7 weeks, Hill = 3.4
    assert cv.maturation_fraction(47.7, 47.7, 3.4) == pytest.approx(0.5)
    assert cv.maturation_fraction(40, 47.7, 3.4) == pytest.approx(40**3.4 / (47.7**3.4 + 40**3.4))
    assert cv.maturation_fraction(0, 47.7, 3.4) == 0.0
    assert cv.maturation_fraction(3000, 47.7, 3.4) > 0.9999


def test_allometric_factor() -> None:
    assert cv.allometric_factor(70) == pytest.approx(1.0)
    assert cv.allometric_factor(35, exponent=1) == pytest.approx(0.5)
    assert cv.allometric_factor(140) == pytest.approx(2**0.75)


# -- invalid input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("call,message", [
    (lambda: cv.bsa_dubois(800, 170), "weight = 800 kg is outside 0.3-400 kg"),
    (lambda: cv.bsa_dubois(-1, 170), "weight = -1 kg is outside 0.3-400 kg"),
    (lambda: cv.bsa_mosteller(70, float("nan")), "height = nan cm is outside 20-250 cm"),
    (lambda: cv.crcl_cockcroft_gault(60, 72, 0.0, "M"), "scr = 0 mg/dL is outside 0.1-20"),
    (lambda: cv.crcl_cockcroft_gault(10, 30, 0.5, "M"), "age = 10 years is outside 18-120"),
    (lambda: cv.crcl_cockcroft_gault(60, 72, 1.0, "X"), "sex = 'X' is not valid"),
    (lambda: cv.crcl_cockcroft_gault(60, 72, 1.0, 2), "sex = 2 is not valid"),
    (lambda: cv.bmi([70, 500], 170), r"weight = 500 kg \(element 1\) is outside"),
    (lambda: cv.maturation_fraction(40, -1, 3), "tm50 = -1"),
    (lambda: cv.allometric_factor(0), "weight = 0"),
])
def test_invalid_input_names_argument_and_range(call, message: str) -> None:
    with pytest.raises(pkpd.DataError, match=message):
        call()


# -- covariate relations in model equations ------------------------------------------------------


def _vanco(cl: object, v1: object) -> pkpd.Model:
    mb = pkpd.ModelBuilder("vanco_cov", time_unit="h")
    central, periph = mb.states(central="mg", periph="mg")
    TVCL, TVV1, TVV2, TVQ = mb.parameters(TVCL="4.5 L/h", TVV1="58.4 L", TVV2="38.4 L",
                                          TVQ="6.5 L/h")
    CRCL, WT, DIAL, PMA = mb.covariates(CRCL={"unit": "mL/min", "default": 120},
                                        WT={"unit": "kg", "default": 70},
                                        DIAL={"unit": "1", "default": 0},
                                        PMA={"unit": "week", "default": 2000})
    (eta_CL,) = mb.etas(eta_CL=0.147)
    symbols = dict(TVCL=TVCL, TVV1=TVV1, CRCL=CRCL, WT=WT, DIAL=DIAL, PMA=PMA, eta_CL=eta_CL)
    CL = mb.derive("CL", cl(**symbols) if callable(cl) else cl)
    V1 = mb.derive("V1", v1(**symbols) if callable(v1) else v1)
    V2 = mb.derive("V2", TVV2 * symbols["WT"] / 70)
    Q = mb.derive("Q", TVQ)
    mb.ode(central, -CL / V1 * central - Q / V1 * central + Q / V2 * periph)
    mb.ode(periph, Q / V1 * central - Q / V2 * periph)
    mb.output("CP", central / V1, unit="mg/L")
    return mb.build()


def test_helpers_build_the_hand_written_model() -> None:
    import sympy as sp

    with_helpers = _vanco(
        lambda TVCL, CRCL, DIAL, PMA, eta_CL, **_: TVCL * cv.power(CRCL, 120, 0.8)
        * cv.categorical(DIAL, {0: 1.0, 1: 0.7}) * cv.maturation(PMA, 47.7, 3.4)
        * sp.exp(eta_CL),
        lambda TVV1, WT, **_: TVV1 * cv.allometric(WT, 70, 1) * cv.linear(WT, 70, 0.01))
    by_hand = _vanco(
        "TVCL * (CRCL/120)**0.8 * if_else(DIAL == 0, 1.0, 0.7) "
        "* PMA**3.4/(47.7**3.4 + PMA**3.4) * exp(eta_CL)",
        "TVV1 * (WT/70)**1 * (1 + 0.01*(WT - 70))")
    assert with_helpers.hash == by_hand.hash
    # and the expressions agree numerically at arbitrary covariate values
    for name in ("CL", "V1"):
        a = next(d.expr for d in with_helpers.derived if d.name == name)
        b = next(d.expr for d in by_hand.derived if d.name == name)
        syms = sorted(a.free_symbols | b.free_symbols, key=str)
        fa, fb = sp.lambdify(syms, a), sp.lambdify(syms, b)
        rng = np.random.default_rng(0)
        for dial in (0.0, 1.0):
            vals = {str(s): rng.uniform(10, 200) for s in syms}
            vals["DIAL"] = dial
            args = [vals[str(s)] for s in syms]
            assert fa(*args) == pytest.approx(fb(*args), rel=1e-12)


def test_categorical_piecewise() -> None:
    import sympy as sp

    x = sp.Symbol("X", real=True)
    e = cv.categorical(x, {0: 1.0, 1: 0.7, 2: 0.5})
    assert [float(e.subs(x, v)) for v in (0, 1, 2)] == [1.0, 0.7, 0.5]
    strict = cv.categorical(x, {0: 1.0, 1: 0.7}, default=0.0)
    assert [float(strict.subs(x, v)) for v in (0, 1, 5)] == [1.0, 0.7, 0.0]
    with pytest.raises(pkpd.DataError, match="non-empty mapping"):
        cv.categorical(x, {})


def test_relations_reject_bad_numbers() -> None:
    with pytest.raises(pkpd.DataError, match="ref = 0"):
        cv.power("WT", 0, 0.75)
    with pytest.raises(pkpd.DataError, match="must both be > 0"):
        cv.maturation("PMA", 0, 3.4)
    with pytest.raises(pkpd.DataError, match="expected a number"):
        cv.linear("WT", "70", 0.01)
