"""Published drug models of the library against their papers and independent solutions.

Each model's equations are evaluated from the file (its ``[individual]`` entries, typical values,
etas 0) and compared with the published equations written out here independently; simulations
are compared with a tight ``scipy.integrate.solve_ivp`` (Radau, rtol 1e-10, atol 1e-12) of the
same published equations; published numbers are cited where they come from. The published
values were read from the nlmixr2lib transcriptions (github.com/nlmixr2/nlmixr2lib,
inst/modeldb/specificDrugs and vignettes/articles), not from the articles, and the theophylline
estimates from R nlme running the book's script: see each file's ``status``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

import pkpd
from pkpd.covariates import crcl_cockcroft_gault

PROPS = settings(max_examples=15, deadline=None)
SIM_TOL = {"rtol": 1e-10, "atol": 1e-12}
Array = NDArray[np.float64]


# -- helpers -----------------------------------------------------------------------------------
def derived(model: Any, name: str) -> Callable[..., Array]:
    """The file's equation for ``name`` as a numpy function of covariates and etas (keywords;
    covariates not given take their default, etas 0), typical values substituted."""
    values: dict[sp.Symbol, sp.Expr] = {model.symbol(p.name): sp.Float(p.value)
                                        for p in model.parameters}
    for d in model.derived:
        values[model.symbol(d.name)] = d.expr.subs(values)
    names = [*model.covariate_names, *model.etas]
    fn = sp.lambdify([model.symbol(n) for n in names], values[model.symbol(name)],
                     modules=[{"Min": np.minimum, "Max": np.maximum}, "numpy"])
    defaults = {c.name: c.default for c in model.covariates}

    def evaluate(**kw: Any) -> Array:
        unknown = set(kw) - set(names)
        assert not unknown, f"{model.name} has no covariate or eta {unknown}"
        args = [np.asarray(kw.get(n, defaults.get(n, 0.0)), dtype=float) for n in names]
        args = list(np.broadcast_arrays(*args))
        return np.asarray(fn(*args), dtype=float)

    return evaluate


def linear_reference(matrix: Array, doses: Sequence[tuple[float, float, float]],
                     times: Array, volume: float) -> Array:
    """Concentration in compartment 0 of dA/dt = matrix @ A + infusions into compartment 0,
    solved by Radau segment by segment between infusion starts and stops.

    ``doses`` are (start, amount, duration) in the model's units.
    """
    edges = sorted({0.0, float(times[-1]), *(s for s, _, _ in doses),
                    *(s + d for s, _, d in doses)})
    state = np.zeros(matrix.shape[0])
    out = np.full(times.shape, np.nan)
    for lo, hi in pairwise(edges):
        rate = sum(a / d for s, a, d in doses if s <= lo < s + d)
        inside = (times >= lo) & (times <= hi)
        t_eval = np.unique(np.append(times[inside], hi))
        sol = solve_ivp(lambda _t, y, r=rate: matrix @ y + np.eye(len(y))[0] * r, (lo, hi),
                        state, method="Radau", rtol=1e-10, atol=1e-12, t_eval=t_eval,
                        jac=lambda *_: matrix)
        out[inside] = sol.y[0, np.searchsorted(t_eval, times[inside])] / volume
        state = sol.y[:, -1]
    return out


def two_cmt(cl: float, v1: float, q: float, v2: float) -> Array:
    return np.array([[-(cl + q) / v1, q / v2], [q / v1, -q / v2]])


def rel_err(x: Array, ref: Array) -> float:
    mask = np.abs(ref) > 1e-9 * np.abs(ref).max()
    return float(np.max(np.abs(x[mask] - ref[mask]) / np.abs(ref[mask])))


@pytest.fixture(scope="module")
def goti() -> Any:
    return pkpd.compile_model(pkpd.load_model("vancomycin_goti2018"))


@pytest.fixture(scope="module")
def goti_cg() -> Any:
    return pkpd.compile_model(pkpd.load_model("vancomycin_goti2018_cg"))


@pytest.fixture(scope="module")
def chen() -> Any:
    return pkpd.compile_model(pkpd.load_model("vancomycin_chen2023"))


@pytest.fixture(scope="module")
def tod() -> Any:
    return pkpd.compile_model(pkpd.load_model("amikacin_tod1998"))


@pytest.mark.parametrize("name", ["vancomycin_goti2018", "vancomycin_goti2018_cg",
                                  "vancomycin_chen2023", "amikacin_tod1998",
                                  "theophylline_pinheiro2000", "gentamicin_staatz2006"])
def test_documented_as_published_drug_models(name: str) -> None:
    m = pkpd.load_model(name)
    assert {"drug", "pk"} <= set(m.metadata["tags"].split("; "))
    assert m.metadata["doi"] and m.metadata["source"] and m.metadata["references"]
    assert "not from the article" in m.metadata["status"]
    assert len(re.split(r"[.:;](?:\s|$)", m.description)[0]) <= 90   # pkpd models summary


# -- vancomycin, Goti 2018 ---------------------------------------------------------------------
GOTI_CL = derived(pkpd.load_model("vancomycin_goti2018"), "CL")


def goti_cl_published(crcl: Array, dial: Array | float = 0.0) -> Array:
    """Goti 2018 Table 2: CL = 4.5 (CrCL/120)^0.8 0.7^DIAL, CrCL truncated at 150 (Methods)."""
    return 4.5 * (np.minimum(crcl, 150.0) / 120.0) ** 0.8 * 0.7 ** np.asarray(dial)


def test_goti_clearance_truncated_at_150(goti: Any) -> None:
    assert float(GOTI_CL(CRCL=200.0)) == float(GOTI_CL(CRCL=150.0))
    assert float(GOTI_CL(CRCL=585.0)) == float(GOTI_CL(CRCL=150.0))
    assert float(GOTI_CL(CRCL=120.0)) == pytest.approx(4.5, rel=1e-12)
    ds = pkpd.simulate(goti, "1 g IV over 1 h q12h x 4", patients={"CRCL": [150.0, 200.0]},
                       times="0..48 h by 1 h", **SIM_TOL)
    np.testing.assert_array_equal(ds["CP"].values[0], ds["CP"].values[1])


@PROPS
@given(st.floats(1.0, 600.0), st.floats(1.0, 600.0), st.sampled_from([0.0, 1.0]))
def test_goti_clearance_monotone_and_bounded(c1: float, c2: float, dial: float) -> None:
    lo, hi = sorted((c1, c2))
    cl_lo, cl_hi = float(GOTI_CL(CRCL=lo, DIAL=dial)), float(GOTI_CL(CRCL=hi, DIAL=dial))
    bound = float(goti_cl_published(np.array(150.0), dial))
    assert cl_lo <= cl_hi <= bound * (1 + 1e-12)
    if hi <= 150.0 and hi > lo * (1 + 1e-9):
        assert cl_lo < cl_hi
    assert cl_hi == pytest.approx(float(goti_cl_published(np.array(hi), dial)), rel=1e-12)


def test_goti_steady_state_volume_per_kg_as_published() -> None:
    """Goti 2018 Discussion (as quoted by nlmixr2lib): Vss about 1.4 L/kg without and about
    1.0 L/kg with hemodialysis; "about" read as rounded to one decimal (+-0.05 L/kg)."""
    m = pkpd.load_model("vancomycin_goti2018")
    v1, v2 = derived(m, "V1"), derived(m, "V2")
    for dial, published in ((0.0, 1.4), (1.0, 1.0)):
        vss = float(v1(WT=70.0, DIAL=dial) + v2(WT=70.0, DIAL=dial)) / 70.0
        assert abs(vss - published) <= 0.05


@pytest.mark.parametrize(("crcl", "wt", "dial"), [(60.0, 80.0, 0.0), (250.0, 95.0, 0.0),
                                                  (15.0, 62.0, 1.0)])
def test_goti_concentrations_against_scipy(goti: Any, crcl: float, wt: float,
                                           dial: float) -> None:
    times = np.arange(0.0, 48.25, 0.25)
    ds = pkpd.simulate(goti, "1 g IV over 1 h q12h x 4",
                       patients={"CRCL": [crcl], "WT": [wt], "DIAL": [dial]}, times=times,
                       **SIM_TOL)
    cl = float(goti_cl_published(np.array(crcl), dial))
    v1, v2 = 58.4 * wt / 70 * 0.5**dial, 38.4 * wt / 70
    ref = linear_reference(two_cmt(cl, v1, 6.5, v2), [(12.0 * i, 1000.0, 1.0) for i in range(4)],
                           times, v1)
    assert rel_err(ds["CP"].values[0], ref) < 1e-7


# -- vancomycin, Goti 2018 with Cockcroft-Gault in the model ----------------------------------
GOTI_CG_CL = derived(pkpd.load_model("vancomycin_goti2018_cg"), "CL")
GOTI_CG_CRCL = derived(pkpd.load_model("vancomycin_goti2018_cg"), "CRCL")


def goti_crcl(age: float, wt: float, scr: float, female: bool) -> float:
    """CrCL as Goti 2018 computed it: SCr < 1 mg/dL set to 1 above 60 years, Cockcroft-Gault
    (pkpd.covariates), truncated at 150 mL/min."""
    scr = max(scr, 1.0) if age > 60 else scr
    return min(float(crcl_cockcroft_gault(age, wt, scr, "F" if female else "M")), 150.0)


@pytest.mark.parametrize(("age", "wt", "scr", "female", "crcl"), [
    (70.0, 72.0, 0.6, False, 70.0),          # rule applies: (140 - 70) 72 / (72 * 1.0)
    (50.0, 72.0, 0.8, False, 112.5),         # no rule below 60 years: 90 * 72 / (72 * 0.8)
    (61.0, 60.0, 0.9, True, 79 * 60 / 72 * 0.85),
    (30.0, 110.0, 0.5, False, 150.0),        # 336 mL/min truncated
])
def test_goti_cg_creatinine_rules(age: float, wt: float, scr: float, female: bool,
                                  crcl: float) -> None:
    got = float(GOTI_CG_CRCL(AGE=age, WT=wt, SCR=scr, SEX=float(not female)))
    assert got == pytest.approx(crcl, rel=1e-12)
    assert got == pytest.approx(goti_crcl(age, wt, scr, female), rel=1e-12)


@PROPS
@given(st.floats(18.0, 100.0), st.floats(35.0, 250.0), st.floats(0.2, 10.0), st.booleans(),
       st.floats(0.0, 0.5))
def test_goti_cg_equals_goti_at_its_creatinine_clearance(age: float, wt: float, scr: float,
                                                          female: bool, dscr: float) -> None:
    kw = {"AGE": age, "WT": wt, "SEX": float(not female)}
    cl = float(GOTI_CG_CL(SCR=scr, **kw))
    assert cl == pytest.approx(float(GOTI_CL(CRCL=goti_crcl(age, wt, scr, female))), rel=1e-12)
    assert float(GOTI_CG_CL(SCR=scr + dscr, **kw)) <= cl * (1 + 1e-12)


def test_goti_cg_concentrations_equal_goti(goti: Any, goti_cg: Any) -> None:
    pts = {"AGE": [72.0, 45.0], "WT": [68.0, 90.0], "SCR": [0.7, 0.6], "SEX": [0.0, 1.0],
           "DIAL": [0.0, 0.0]}
    crcl = [goti_crcl(a, w, s, bool(f)) for a, w, s, f in
            zip(pts["AGE"], pts["WT"], pts["SCR"], [True, False], strict=True)]
    regimen, times = "1250 mg IV over 1.5 h q12h x 3", "0..36 h by 0.5 h"
    a = pkpd.simulate(goti_cg, regimen, patients=pts, times=times, **SIM_TOL)
    b = pkpd.simulate(goti, regimen, patients={"CRCL": crcl, "WT": pts["WT"],
                                               "DIAL": pts["DIAL"]}, times=times, **SIM_TOL)
    assert crcl[1] == 150.0
    np.testing.assert_allclose(a["CP"].values, b["CP"].values, rtol=1e-9, atol=1e-12)


# -- vancomycin in children, Chen 2023 ---------------------------------------------------------
CHEN = pkpd.load_model("vancomycin_chen2023")
CHEN_CL, CHEN_MF, CHEN_EGFR = (derived(CHEN, n) for n in ("CL", "MF", "EGFR"))


def chen_cl_published(wt: float, pma: float, egfr: float, cts: float) -> float:
    """Chen 2023 Table 3: CL = 7.75 (WT/70)^0.75 MF (min(eGFR, 120)/109)^1.01 0.761^CTS,
    MF = 1/(1 + (PMA/37.0)^-1.63) (Equation 6)."""
    mf = 1.0 / (1.0 + (pma / 37.0) ** -1.63)
    return 7.75 * (wt / 70) ** 0.75 * mf * (min(egfr, 120.0) / 109) ** 1.01 * 0.761**cts


def chen_scr(egfr: float, ht: float, bun: float) -> float:
    """The serum creatinine (mg/dL) giving ``egfr`` in 40.7 (HT/SCR)^0.64 (30/BUN)^0.202."""
    return ht / 100.0 / (egfr / (40.7 * (30.0 / bun) ** 0.202)) ** (1 / 0.64)


def test_chen_egfr_equation_and_maturation() -> None:
    # Schwartz 2009 creatinine-BUN equation with HT 1.2 m, SCR 0.5 mg/dL, BUN 30 mg/dL
    assert float(CHEN_EGFR(HT=120.0, SCR=0.5, BUN=30.0)) == pytest.approx(40.7 * 2.4**0.64,
                                                                        rel=1e-12)
    assert float(CHEN_MF(PMA=37.0)) == pytest.approx(0.5, rel=1e-12)    # TM50, Table 3
    assert float(CHEN_CL(WT=70.0, PMA=1e6, HT=170.0, SCR=chen_scr(109.0, 170.0, 12.0),
                         BUN=12.0)) == pytest.approx(7.75, rel=1e-4)


@PROPS
@given(st.floats(1.0, 70.0), st.floats(30.0, 1000.0), st.floats(10.0, 400.0),
       st.floats(10.0, 400.0), st.sampled_from([0.0, 1.0]))
def test_chen_clearance_equations(wt: float, pma: float, e1: float, e2: float,
                                  cts: float) -> None:
    ht, bun = 100.0, 10.0
    lo, hi = sorted((e1, e2))
    cl = [float(CHEN_CL(WT=wt, PMA=pma, HT=ht, BUN=bun, SCR=chen_scr(e, ht, bun), CTS=cts))
          for e in (lo, hi)]
    assert cl[0] == pytest.approx(chen_cl_published(wt, pma, lo, cts), rel=1e-9)
    assert cl[0] <= cl[1] * (1 + 1e-9)                                  # monotone in eGFR
    cap = chen_cl_published(wt, pma, 120.0, cts)
    assert cl[1] <= cap * (1 + 1e-9)                                    # capped at 120
    older = float(CHEN_CL(WT=wt, PMA=pma * 1.5, HT=ht, BUN=bun, SCR=chen_scr(lo, ht, bun),
                          CTS=cts))
    assert older > cl[0]                                                # matures with PMA


# Chen 2023 Table 5 (as quoted by nlmixr2lib): recommended daily dose (mg/kg/day; midpoint of
# a printed range) by age band, CTS and eGFR band (30-60, 60-90, 90-120, >120), chosen for a
# steady-state AUC24 (= daily dose / CL, MIC 1 mg/L) of 400-650 mg*h/L. The representative
# child of each band (weight, PMA, height) is chosen here; eGFR is each band's middle (140 for
# >120).
CHEN_TABLE5 = {
    (3.6, 42.0, 52.0): ((27.5, 47.5, 60.0, 75.0), (20.0, 35.0, 47.5, 55.0)),     # < 1 month
    (8.5, 79.0, 71.0): ((35.0, 50.0, 70.0, 80.0), (25.0, 40.0, 55.0, 60.0)),     # 1 mo - 2 y
    (20.0, 353.0, 115.0): ((32.5, 55.0, 70.0, 80.0), (25.0, 40.0, 52.5, 62.5)),  # 2 - 12 y
    (55.0, 822.0, 165.0): ((25.0, 42.5, 65.0, 70.0), (20.0, 32.5, 47.5, 52.5)),  # 12 - 18 y
}


@pytest.mark.parametrize("child", list(CHEN_TABLE5))
def test_chen_table5_doses_reach_the_published_auc_target(child: tuple[float, ...]) -> None:
    wt, pma, ht = child
    for cts, doses in enumerate(CHEN_TABLE5[child]):
        for egfr, dose in zip((45.0, 75.0, 105.0, 140.0), doses, strict=True):
            cl = float(CHEN_CL(WT=wt, PMA=pma, HT=ht, BUN=10.0, SCR=chen_scr(egfr, ht, 10.0),
                               CTS=float(cts)))
            auc24 = dose * wt / cl
            assert 400.0 <= auc24 <= 650.0, (child, cts, egfr, dose, auc24)


def test_chen_concentrations_and_steady_state_auc(chen: Any) -> None:
    """A neonate and an adolescent, 15 mg/kg over 1 h q6h for 5 days: concentrations against
    scipy, and the AUC over the last 24 h equal to the daily dose / CL (steady state)."""
    pts = {"WT": [3.6, 55.0], "PMA": [42.0, 822.0], "HT": [52.0, 165.0], "BUN": [10.0, 10.0],
           "SCR": [chen_scr(60.0, 52.0, 10.0), chen_scr(200.0, 165.0, 10.0)],
           "ALB": [30.0, 40.0], "CTS": [1.0, 0.0]}
    times = np.arange(0.0, 120.25, 0.25)
    for i in range(2):
        wt = pts["WT"][i]
        dose = 15.0 * wt
        ds = pkpd.simulate(chen, f"{dose} mg IV over 1 h q6h x 20",
                           patients={k: [v[i]] for k, v in pts.items()}, times=times, auc=True,
                           **SIM_TOL)
        egfr = 60.0 if i == 0 else 200.0
        cl = chen_cl_published(wt, pts["PMA"][i], egfr, pts["CTS"][i])
        v = 36.2 * wt / 70 * (36.2 / pts["ALB"][i]) ** 0.279
        ref = linear_reference(np.array([[-cl / v]]), [(6.0 * k, dose, 1.0) for k in range(20)],
                               times, v)
        assert rel_err(ds["CP"].values[0], ref) < 1e-7
        auc = ds["AUC_CP"].values[0]
        last_day = auc[times == 120.0][0] - auc[times == 96.0][0]
        assert last_day == pytest.approx(4 * dose / cl, rel=1e-4 if i == 0 else 1e-6)


# -- amikacin, Tod 1998 ------------------------------------------------------------------------
TOD = pkpd.load_model("amikacin_tod1998")
TOD_CL, TOD_V1, TOD_Q, TOD_V2 = (derived(TOD, n) for n in ("CL", "V1", "Q", "V2"))


def tod_cl_published(age: Array, wt: Array, scr_umol: Array, female: Array) -> Array:
    """Tod 1998 p. 852 and Table 4: CL = theta_i 6 (0.985 - AGE/100) WT/SCR + 1.66 L/h,
    theta_1 = 0.797 (men), theta_2 = 0.640 (women), SCR in umol/L."""
    theta = np.where(female, 0.640, 0.797)
    return theta * 6 * (0.985 - age / 100) * wt / scr_umol + 1.66


@PROPS
@given(st.floats(18.0, 85.0), st.floats(44.0, 106.0), st.floats(30.0, 400.0), st.booleans())
def test_tod_clearance_equation(age: float, wt: float, scr_umol: float, female: bool) -> None:
    got = float(TOD_CL(AGE=age, WT=wt, SCR=scr_umol / 88.4, SEX=float(not female)))
    assert got == pytest.approx(float(tod_cl_published(np.array(age), np.array(wt),
                                                       np.array(scr_umol), female)), rel=1e-12)


@pytest.mark.parametrize(("female", "cl_pub", "t_half_pub"), [(False, 3.82, 5.6),
                                                              (True, 3.40, 6.0)])
def test_tod_table5_population_means(female: bool, cl_pub: float, t_half_pub: float) -> None:
    """Tod 1998 Table 5 (as quoted by nlmixr2lib): means over 1000 simulated patients of CL,
    terminal half-life and Vss = 20.6 L, men and women. Simulated here from the file's
    equations with etas from its omega; serum creatinine log-normal with mean 85 and SD
    37 umol/L (Tod 1998 p. 853); age and weight normal, 50.7 +- 16.4 years and 67 +- 13 kg,
    clipped to the study's ranges (assumed from the Table 1 arm means: the paper's draws are
    not given), hence the 5 % tolerance. 20000 draws: Monte Carlo error below 0.5 %."""
    rng = np.random.default_rng(1998)
    n = 20_000
    s2 = np.log(1 + (37 / 85) ** 2)
    cov = {"AGE": np.clip(rng.normal(50.7, 16.4, n), 18, 85),
           "WT": np.clip(rng.normal(67.0, 13.0, n), 44, 106),
           "SCR": np.exp(rng.normal(np.log(85) - s2 / 2, np.sqrt(s2), n)) / 88.4,
           "SEX": np.full(n, float(not female))}
    etas = dict(zip(TOD.etas, rng.multivariate_normal(np.zeros(len(TOD.etas)), TOD.omega,
                                                      n).T, strict=True))
    cl, v1 = TOD_CL(**cov, **etas), TOD_V1(**cov, **etas)
    q, v2 = TOD_Q(**cov, **etas), TOD_V2(**cov, **etas)
    k, k12, k21 = cl / v1, q / v1, q / v2
    beta = 0.5 * (k + k12 + k21 - np.sqrt((k + k12 + k21) ** 2 - 4 * k * k21))
    assert cl.mean() == pytest.approx(cl_pub, rel=0.05)
    assert (np.log(2) / beta).mean() == pytest.approx(t_half_pub, rel=0.05)
    assert (v1 + v2).mean() == pytest.approx(20.6, rel=0.05)


def test_tod_concentrations_against_scipy(tod: Any) -> None:
    """20 mg/kg once daily over 0.5 h (the o.d. arm) for a 70-year-old woman and a
    35-year-old man."""
    times = np.arange(0.0, 72.25, 0.25)
    pts = {"AGE": [70.0, 35.0], "WT": [58.0, 82.0], "SCR": [1.3, 0.85], "SEX": [0.0, 1.0]}
    for i in range(2):
        dose = 20.0 * pts["WT"][i]
        ds = pkpd.simulate(tod, f"{dose} mg IV over 0.5 h q24h x 3",
                           patients={k: [v[i]] for k, v in pts.items()}, times=times, **SIM_TOL)
        cl = float(tod_cl_published(np.array(pts["AGE"][i]), np.array(pts["WT"][i]),
                                    np.array(pts["SCR"][i] * 88.4), pts["SEX"][i] == 0.0))
        ref = linear_reference(two_cmt(cl, 8.92, 4.43, 11.4),
                               [(24.0 * k, dose, 0.5) for k in range(3)], times, 8.92)
        assert rel_err(ds["CP"].values[0], ref) < 1e-7


# -- theophylline, Pinheiro and Bates 2000 -----------------------------------------------------
def ssfol(dose_mgkg: Array, t: Array, lke: Array, lka: Array, lcl: Array) -> Array:
    """R's SSfol: the first-order absorption model of Pinheiro and Bates with dose in mg/kg."""
    ke, ka = np.exp(lke), np.exp(lka)
    return dose_mgkg * np.exp(lke + lka - lcl) * (np.exp(-ke * t) - np.exp(-ka * t)) / (ka - ke)


def test_theophylline_predictions_against_ssfol(shared_dir: Any) -> None:
    """fm3Theo.nlme (lKe -2.4547038, lKa 0.4657339, lCl -3.2272226; random effects on lKa and
    lCl) for the 12 subjects of R's Theoph: population predictions, and individual ones with
    random effects, against the closed form with each subject's dose in mg/kg."""
    import pandas as pd

    from pkpd.io.nonmem import read_nonmem

    path = shared_dir / "data" / "theophylline.csv"
    m = pkpd.load_model("theophylline_pinheiro2000")
    frame = pd.read_csv(path)
    obs = frame[frame["EVID"] == 0]
    data = read_nonmem(path, model=m)
    b_ka = np.linspace(-0.8, 0.8, 12)
    b_cl = np.linspace(0.2, -0.2, 12)
    for etas in ({}, {"eta_KA": b_ka, "eta_CL": b_cl}):
        ds = pkpd.simulate(m, data, params=etas or None, **SIM_TOL)
        got = ds["CP"].values[ds["evid"].values == 0]
        ids = obs["ID"].to_numpy() - 1
        ref = ssfol(obs["DOSE_MGKG"].to_numpy(), obs["TIME"].to_numpy(), -2.4547038,
                    0.4657339 + (b_ka[ids] if etas else 0.0),
                    -3.2272226 + (b_cl[ids] if etas else 0.0))
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-9)
    assert m.error["CP"].additive == 0.7092541
    np.testing.assert_allclose(np.sqrt(np.diag(m.omega)), [0.6435777, 0.1669281], rtol=1e-6)


# -- gentamicin after cardiothoracic surgery, Staatz 2006 --------------------------------------
STAATZ = pkpd.load_model("gentamicin_staatz2006")
STAATZ_CL, STAATZ_CRCL = derived(STAATZ, "CL"), derived(STAATZ, "CRCL")


def staatz_crcl(age: float, wt: float, scr: float, female: bool) -> float:
    """Cockcroft-Gault (pkpd.covariates) with serum creatinine below 60 umol/L set to 60."""
    return float(crcl_cockcroft_gault(age, wt, max(scr, 60 / 88.4), "F" if female else "M"))


@PROPS
@given(st.floats(18.0, 90.0), st.floats(39.0, 138.0), st.floats(0.3, 6.0), st.booleans())
def test_staatz_clearance_follows_the_abstract(age: float, wt: float, scr: float,
                                               female: bool) -> None:
    """Abstract of Staatz 2006 (as quoted by nlmixr2lib): CL = 2.81 (1 + 0.0150 (CrCL - 63))
    L/h, CrCL by Cockcroft-Gault with serum creatinine floored at 60 umol/L (Methods)."""
    kw = {"AGE": age, "WT": wt, "SCR": scr, "SEX": float(not female)}
    crcl = staatz_crcl(age, wt, scr, female)
    assert float(STAATZ_CRCL(**kw)) == pytest.approx(crcl, rel=1e-12)
    assert float(STAATZ_CL(**kw)) == pytest.approx(2.81 * (1 + 0.0150 * (crcl - 63)), rel=1e-12)


def test_staatz_creatinine_floor() -> None:
    low = {"AGE": 62.0, "WT": 72.0, "SEX": 1.0}
    # 0.5 mg/dL (44 umol/L) counts as 60 umol/L: 78 * 72 / (72 * 60/88.4) = 114.9 mL/min
    assert float(STAATZ_CRCL(SCR=0.5, **low)) == pytest.approx(78 * 88.4 / 60, rel=1e-12)
    assert float(STAATZ_CL(SCR=0.5, **low)) == float(STAATZ_CL(SCR=60 / 88.4, **low))
    assert float(STAATZ_CL(SCR=0.9, **low)) < float(STAATZ_CL(SCR=0.6, **low))


def test_staatz_concentrations_against_scipy() -> None:
    """160 mg over 30 min every 24 h (the test set's median dose) for a 70-year-old woman of
    64 kg with serum creatinine 1.4 mg/dL."""
    compiled = pkpd.compile_model(STAATZ)
    times = np.arange(0.0, 72.25, 0.25)
    pts = {"AGE": [70.0], "WT": [64.0], "SCR": [1.4], "SEX": [0.0]}
    ds = pkpd.simulate(compiled, "160 mg IV over 0.5 h q24h x 3", patients=pts, times=times,
                       **SIM_TOL)
    cl = 2.81 * (1 + 0.0150 * (staatz_crcl(70.0, 64.0, 1.4, True) - 63))
    v1, v2 = 0.251 * 64, 0.156 * 64
    ref = linear_reference(two_cmt(cl, v1, 1.45, v2), [(24.0 * k, 160.0, 0.5) for k in range(3)],
                           times, v1)
    assert rel_err(ds["CP"].values[0], ref) < 1e-7


@pytest.mark.parametrize("name", ["vancomycin_goti2018_cg", "gentamicin_staatz2006"])
def test_sex_coded_as_pkpd_patients_and_populations(name: str) -> None:
    """SEX is 1 for men, 0 for women, as pkpd.Patient writes it into a model table and
    pkpd.population draws it: the model's Cockcroft-Gault then equals the patient's own."""
    from pkpd.patient import Patient
    from pkpd.population import Population

    m = pkpd.load_model(name)
    crcl = derived(m, "CRCL")
    for sex in ("F", "M"):
        p = Patient(WT=70.0, AGE=45.0, SEX=sex, SCR=1.1)
        table = p.table(m)
        args = {k: v[0] for k, v in table.items()}
        assert float(crcl(**args)) == pytest.approx(p.crcl, rel=1e-9)
    frame = Population.virtual(age=(18, 60)).sample(200, seed=7)
    frame = frame[(frame["SCR"] >= 0.7) & (frame["CRCL"] <= 150)]
    assert len(frame) > 50
    got = crcl(**{k: frame[k].to_numpy(float) for k in ("AGE", "WT", "SCR", "SEX")})
    np.testing.assert_allclose(got, frame["CRCL"].to_numpy(float), rtol=1e-9)
