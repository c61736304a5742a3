"""Structural PK templates of the model library against independent references.

Linear models (``one_cmt``, ``two_cmt``, ``three_cmt``, ``one_cmt_lag``) against the closed forms of
:mod:`pkpd.testing.analytic`; the transit chain against the matrix exponential of its rate
matrix; Savic's analytic transit input against the chain (Stirling factor) and against a scipy
solve using :func:`scipy.special.gamma`; Michaelis-Menten elimination against the Lambert-W
solution of the IV bolus and against scipy solves. Every scipy reference is written here from the
equations, independently of the model files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from scipy.linalg import expm
from scipy.special import gamma, lambertw

import pkpd
from pkpd.events import EventTable
from pkpd.testing import analytic

EXACT = {"rtol": 1e-12, "atol": 1e-14}
ODE = {"rtol": 1e-10, "atol": 1e-12}
SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
Rhs = Callable[[float, np.ndarray], np.ndarray]


def rel_err(x: np.ndarray, ref: np.ndarray, floor: float = 1e-12) -> float:
    """Largest relative error where the reference is above ``floor`` times its maximum."""
    x, ref = np.asarray(x, dtype=float), np.asarray(ref, dtype=float)
    mask = np.abs(ref) > floor * np.abs(ref).max()
    return float(np.max(np.abs(x[mask] - ref[mask]) / np.abs(ref[mask])))


def reference_solve(rhs: Callable[[float, np.ndarray, np.ndarray], np.ndarray],
                    y0: Sequence[float], t_eval: np.ndarray,
                    boluses: Sequence[tuple[float, int, float]] = (),
                    infusions: Sequence[tuple[float, int, float, float]] = (),
                    method: str = "LSODA") -> np.ndarray:
    """Solve ``dy/dt = rhs(t, y, rate)`` with scipy, segment by segment between dose events.

    ``boluses`` are ``(time, state, amount)``, added before an output at the same time;
    ``infusions`` are ``(start, state, amount, duration)``, giving ``rate[state]`` while on.
    Returns the states at ``t_eval``, shape ``(len(t_eval), len(y0))``.
    """
    events = {0.0, float(t_eval[-1])}
    events |= {float(b[0]) for b in boluses}
    events |= {float(i[0]) for i in infusions} | {float(i[0] + i[3]) for i in infusions}
    breaks = sorted(e for e in events if e <= t_eval[-1])
    y = np.array(y0, dtype=float)
    out = np.full((len(t_eval), len(y)), np.nan)
    for k, a in enumerate(breaks):
        for tb, i, amount in boluses:
            if tb == a:
                y[i] += amount
        rate = np.zeros(len(y))
        for start, i, amount, duration in infusions:
            if start <= a < start + duration:
                rate[i] += amount / duration
        last = k == len(breaks) - 1
        b = a if last else breaks[k + 1]
        sel = (t_eval >= a) & ((t_eval <= b) if last else (t_eval < b))
        if last:
            out[sel] = y
            break
        sol = solve_ivp(lambda t, x, r=rate: rhs(t, x, r), (a, b), y, method=method,
                        t_eval=np.append(t_eval[sel], b), rtol=1e-10, atol=1e-12)
        assert sol.success, sol.message
        out[sel] = sol.y[:, :-1].T
        y = sol.y[:, -1].copy()
    return out


@pytest.fixture(scope="module")
def compiled() -> dict[str, pkpd.CompiledModel]:
    names = ("one_cmt", "two_cmt", "three_cmt", "one_cmt_lag", "transit_absorption",
             "transit_absorption_analytic", "one_cmt_mm", "one_cmt_linear_mm")
    return {n: pkpd.compile_model(pkpd.load_model(n)) for n in names}


# ------------------------------------------------------------------------------------------------
# linear mammillary models against pkpd.testing.analytic
# ------------------------------------------------------------------------------------------------

ETAS = {"eta_KA": 0.3, "eta_CL": -0.2, "eta_V": 0.1, "eta_V1": 0.1, "eta_Q": -0.15,
        "eta_V2": 0.25, "eta_Q2": -0.15, "eta_Q3": 0.2, "eta_V3": -0.1}
TYPICAL = {
    "one_cmt": {"KA": 1.0, "CL": 5.0, "V": 50.0},
    "two_cmt": {"KA": 1.0, "CL": 5.0, "V1": 30.0, "Q": 10.0, "V2": 60.0},
    "three_cmt": {"KA": 1.0, "CL": 5.0, "V1": 20.0, "Q2": 15.0, "V2": 40.0, "Q3": 2.0,
                  "V3": 150.0},
}
CLOSED = {"one_cmt": (analytic.one_cmt_bolus, analytic.one_cmt_infusion, analytic.one_cmt_oral),
          "two_cmt": (analytic.two_cmt_bolus, analytic.two_cmt_infusion, analytic.two_cmt_oral),
          "three_cmt": (analytic.three_cmt_bolus, analytic.three_cmt_infusion,
                        analytic.three_cmt_oral)}
REGIMENS = {
    "bolus": ("250 mg IV", [(0.0, 250.0)]),
    "infusion": ("250 mg IV over 1 h", [(0.0, 250.0, 1.0)]),
    "oral": ("250 mg PO", [(0.0, 250.0)]),
    "multiple bolus": ("100 mg IV q8h x 4", [(8.0 * i, 100.0) for i in range(4)]),
    "multiple infusion": ("100 mg IV over 1 h q12h x 3",
                          [(12.0 * i, 100.0, 1.0) for i in range(3)]),
    "multiple oral": ("100 mg PO q12h x 5", [(12.0 * i, 100.0) for i in range(5)]),
}


def individual(name: str, etas: dict[str, float]) -> dict[str, float]:
    """Individual parameters TV * exp(eta), written independently of the files."""
    return {k: v * math.exp(etas.get(f"eta_{k}", 0.0)) for k, v in TYPICAL[name].items()}


@pytest.mark.parametrize("name", sorted(TYPICAL))
@pytest.mark.parametrize("case", sorted(REGIMENS))
def test_linear_models_match_closed_forms(compiled, name: str, case: str) -> None:
    text, doses = REGIMENS[case]
    etas = {k: v for k, v in ETAS.items() if k in compiled[name].model.etas}
    t = np.arange(0.0, 72.0, 0.25)
    ds = pkpd.simulate(compiled[name], text, params={k: [v] for k, v in etas.items()},
                       times=t, **EXACT)
    p = individual(name, etas)
    bolus, infusion, oral = CLOSED[name]
    disp = {k: v for k, v in p.items() if k != "KA"}
    if "infusion" in case:
        ref = infusion(t, doses, **disp)
    elif "oral" in case:
        ref = oral(t, doses, **disp, KA=p["KA"])
    else:
        ref = bolus(t, doses, **disp)
    assert rel_err(ds["CP"].values[0], ref) < 1e-9


@pytest.mark.parametrize("name", sorted(TYPICAL))
@SETTINGS
@given(a=st.floats(1.0, 1000.0), b=st.floats(1.0, 1000.0), t2=st.floats(0.5, 30.0),
       scale=st.floats(0.1, 10.0))
def test_linear_models_dose_proportional_and_superpose(compiled, name: str, a: float, b: float,
                                                       t2: float, scale: float) -> None:
    cm, t = compiled[name], np.arange(0.0, 48.0, 0.5)

    def run(text: str) -> np.ndarray:
        return pkpd.simulate(cm, text, times=t, **EXACT)["CP"].values[0]

    both = run(f"{a!r} mg IV over 2 h and {b!r} mg PO at {t2!r} h")
    parts = run(f"{a!r} mg IV over 2 h") + run(f"{b!r} mg PO at {t2!r} h")
    assert rel_err(both, parts) < 1e-9
    assert rel_err(run(f"{a * scale!r} mg PO"), scale * run(f"{a!r} mg PO")) < 1e-9


def test_one_cmt_lag_is_the_bateman_function_shifted_by_the_lag(compiled) -> None:
    etas = {"eta_KA": 0.2, "eta_CL": -0.1, "eta_V": 0.05, "eta_ALAG": 0.3, "eta_F": -0.5}
    t = np.arange(0.0, 60.0, 0.1)
    ds = pkpd.simulate(compiled["one_cmt_lag"], "300 mg PO q12h x 4",
                       params={k: [v] for k, v in etas.items()}, times=t, **EXACT)
    lag = 0.5 * math.exp(0.3)
    logit = math.log(0.7 / 0.3) - 0.5
    f = math.exp(logit) / (1.0 + math.exp(logit))
    ref = analytic.one_cmt_oral(t, [(12.0 * i, 300.0) for i in range(4)], CL=5.0 * math.exp(-0.1),
                                V=50.0 * math.exp(0.05), KA=math.exp(0.2), F=f, lag=lag)
    assert rel_err(ds["CP"].values[0], ref) < 1e-9
    assert np.all(ds["CP"].values[0][t <= lag] == 0.0) and np.any(t <= lag)
    # IV doses: no lag, no bioavailability
    iv = pkpd.simulate(compiled["one_cmt_lag"], "300 mg IV", times=t, **EXACT)["CP"].values[0]
    assert rel_err(iv, analytic.one_cmt_bolus(t, [(0.0, 300.0)], CL=5.0, V=50.0)) < 1e-9


# ------------------------------------------------------------------------------------------------
# transit compartments (Savic et al. 2007)
# ------------------------------------------------------------------------------------------------

def chain_matrix(ktr: float, ka: float, k: float, n: int = 4) -> np.ndarray:
    """Rate matrix of transit0..transit_n, depot, central."""
    size = n + 3
    a = np.zeros((size, size))
    for i in range(n + 1):
        a[i, i] = -ktr
        a[i + 1, i] = ktr
    a[n + 1, n + 1] = -ka
    a[n + 2, n + 1] = ka
    a[n + 2, n + 2] = -k
    return a


def chain_closed_form(t: np.ndarray, doses: Sequence[tuple[float, int, float]],
                      ktr: float, ka: float, k: float) -> np.ndarray:
    """Central amount by the matrix exponential, superposed over (time, state, amount) doses."""
    a = chain_matrix(ktr, ka, k)
    out = np.zeros(len(t))
    for td, state, amount in doses:
        x0 = np.zeros(a.shape[0])
        x0[state] = amount
        for j, tj in enumerate(t):
            if tj >= td:
                out[j] += (expm(a * (tj - td)) @ x0)[-1]
    return out


def stirling_ln_factorial(n: float) -> float:
    """Savic's ln(n!): ln(2.5066) + (n + 1/2) ln(n) - n."""
    return math.log(2.5066) + (n + 0.5) * math.log(n) - n


def test_transit_chain_matches_matrix_exponential_and_scipy(compiled) -> None:
    t = np.arange(0.0, 72.0, 0.5)
    etas = {"eta_MTT": 0.2, "eta_KA": -0.3, "eta_CL": 0.1, "eta_V": -0.1, "eta_F": 0.4}
    ds = pkpd.simulate(compiled["transit_absorption"], "200 mg PO q24h x 3 and 50 mg IV at 6 h",
                       params={k: [v] for k, v in etas.items()}, times=t, **EXACT)
    mtt, ka = 2.0 * math.exp(0.2), math.exp(-0.3)
    cl, v = 5.0 * math.exp(0.1), 50.0 * math.exp(-0.1)
    logit = math.log(0.8 / 0.2) + 0.4
    f = 1.0 / (1.0 + math.exp(-logit))
    ktr = 5.0 / mtt
    doses = [(24.0 * i, 0, 200.0 * f) for i in range(3)] + [(6.0, 6, 50.0)]
    ref = chain_closed_form(t, doses, ktr, ka, cl / v) / v
    assert rel_err(ds["CP"].values[0], ref) < 1e-9
    a = chain_matrix(ktr, ka, cl / v)
    ode = reference_solve(lambda _t, y, r: a @ y, np.zeros(7), t, boluses=doses)
    assert rel_err(ds["CP"].values[0], ode[:, -1] / v, floor=1e-9) < 1e-7


def empty_events() -> EventTable:
    """One observation record at time 0 and no dose (the analytic model's dose is DOSE)."""
    z = np.zeros(1)
    zi = np.zeros(1, dtype=np.int64)
    return EventTable(ids=np.array([1]), offsets=np.array([0, 1]), time=z, evid=zi, amt=z,
                      cmt=zi, rate=z, ii=z, addl=zi, ss=zi)


def test_stirling_error_of_the_analytic_transit_input(compiled) -> None:
    """At n = 4 the analytic input is the chain's times 4!/Stirling(4) = 1.02102 (2.1 %)."""
    t = np.arange(0.5, 48.0, 0.5)
    chain = pkpd.simulate(compiled["transit_absorption"], "100 mg PO", times=t, **ODE)
    anal = pkpd.simulate(compiled["transit_absorption_analytic"], empty_events(),
                         params={"DOSE": [100.0]}, times=t, **ODE)
    factor = 24.0 / math.exp(stirling_ln_factorial(4.0))
    assert factor == pytest.approx(1.021020, abs=2e-6)  # about 1 + 1/(12 n) for n = 4
    ratio = anal["CP"].values[0] / chain["CP"].values[0]
    assert np.max(np.abs(ratio / factor - 1.0)) < 1e-7


@pytest.mark.parametrize("ntr", [0.7, 2.5, 4.0, 9.3])
def test_analytic_transit_against_scipy_with_gamma(compiled, ntr: float) -> None:
    mtt, ka, cl, v, f, dose = 3.0, 0.8, 4.0, 40.0, 0.6, 250.0
    t = np.arange(0.0, 48.0, 0.25)
    ds = pkpd.simulate(compiled["transit_absorption_analytic"], empty_events(),
                       params={"DOSE": [dose], "TVNTR": [ntr], "TVMTT": [mtt], "TVKA": [ka],
                               "TVCL": [cl], "TVV": [v], "TVF": [f]}, times=t, **ODE)
    ktr = (ntr + 1.0) / mtt

    def rhs(tt: float, y: np.ndarray, _r: np.ndarray) -> np.ndarray:
        inp = dose * f * ktr * (ktr * tt) ** ntr * math.exp(-ktr * tt) / gamma(ntr + 1.0)
        return np.array([inp - ka * y[0], ka * y[0] - cl / v * y[1]])

    ref = reference_solve(rhs, [0.0, 0.0], t)[:, 1] / v
    stirling = math.exp(math.lgamma(ntr + 1.0) - stirling_ln_factorial(ntr))
    assert rel_err(ds["CP"].values[0], ref * stirling, floor=1e-9) < 1e-6
    # Stirling's error in the input: between 1/(12n+1) and 1/(12n) in ln n! (Robbins 1955),
    # plus the rounding of sqrt(2 pi) to 2.5066 (1.1e-5 in ln)
    gap = math.log(stirling) + math.log(2.5066 / math.sqrt(2 * math.pi))
    assert 1.0 / (12 * ntr + 1) < gap < 1.0 / (12 * ntr)


# ------------------------------------------------------------------------------------------------
# Michaelis-Menten elimination
# ------------------------------------------------------------------------------------------------

def mm_bolus(t: np.ndarray, c0: float, vmax_c: float, km: float) -> np.ndarray:
    """IV bolus with dC/dt = -vmax_c C/(km + C): C = km W((c0/km) exp((c0 - vmax_c t)/km))."""
    arg = np.log(c0 / km) + (c0 - vmax_c * t) / km
    return km * np.real(lambertw(np.exp(arg)))


def test_one_cmt_mm_bolus_matches_lambert_w(compiled) -> None:
    t = np.arange(0.0, 36.0, 0.25)
    etas = {"eta_V": 0.1, "eta_VMAX": -0.2, "eta_KM": 0.3}
    ds = pkpd.simulate(compiled["one_cmt_mm"], "500 mg IV q12h x 2",
                       params={k: [v] for k, v in etas.items()}, times=t, **ODE)
    v, vmax, km = 50.0 * math.exp(0.1), 20.0 * math.exp(-0.2), 2.0 * math.exp(0.3)
    first = mm_bolus(t, 500.0 / v, vmax / v, km)
    c12 = mm_bolus(np.array([12.0]), 500.0 / v, vmax / v, km)[0]
    second = mm_bolus(t - 12.0, c12 + 500.0 / v, vmax / v, km)
    ref = np.where(t < 12.0, first, second)
    assert rel_err(ds["CP"].values[0], ref) < 1e-8
    # the closed form is itself a solution of the ODE
    ode = reference_solve(lambda _t, y, r: r - vmax * y / v / (km + y / v), [0.0], t,
                          boluses=[(0.0, 0, 500.0), (12.0, 0, 500.0)])
    assert rel_err(ode[:, 0] / v, ref) < 1e-8


def mm_rhs(ka: float, cl: float, v: float, vmax: float,
           km: float) -> Callable[[float, np.ndarray, np.ndarray], np.ndarray]:
    def rhs(_t: float, y: np.ndarray, rate: np.ndarray) -> np.ndarray:
        c = y[1] / v
        return np.array([rate[0] - ka * y[0],
                         rate[1] + ka * y[0] - cl * c - vmax * c / (km + c)])
    return rhs


MM_CASES = {
    "oral": ("400 mg PO q8h x 4", [(8.0 * i, 0, 400.0) for i in range(4)], []),
    "infusion": ("400 mg IV over 2 h q12h x 2", [], [(12.0 * i, 1, 400.0, 2.0) for i in range(2)]),
    "bolus": ("400 mg IV and 200 mg PO at 6 h", [(0.0, 1, 400.0), (6.0, 0, 200.0)], []),
}


@pytest.mark.parametrize("name", ["one_cmt_mm", "one_cmt_linear_mm"])
@pytest.mark.parametrize("case", sorted(MM_CASES))
def test_mm_models_match_scipy(compiled, name: str, case: str) -> None:
    text, boluses, infusions = MM_CASES[case]
    t = np.arange(0.0, 40.0, 0.25)
    ds = pkpd.simulate(compiled[name], text, times=t, **ODE)
    cl, vmax = (0.0, 20.0) if name == "one_cmt_mm" else (2.0, 10.0)
    ref = reference_solve(mm_rhs(1.0, cl, 50.0, vmax, 2.0), [0.0, 0.0], t, boluses=boluses,
                          infusions=infusions)
    assert rel_err(ds["CP"].values[0], ref[:, 1] / 50.0, floor=1e-9) < 1e-7


@pytest.mark.parametrize("name", ["one_cmt_mm", "one_cmt_linear_mm"])
def test_mm_with_large_km_is_linear(compiled, name: str) -> None:
    """KM >> C: elimination CL + VMAX/KM, relative difference of order Cmax/KM."""
    t = np.arange(0.0, 48.0, 0.25)
    cl = 0.0 if name == "one_cmt_mm" else 2.0
    errs = []
    for km in (1e3, 1e4):
        vmax = 3.0 * km  # VMAX/KM = 3 L/h
        ds = pkpd.simulate(compiled[name], "500 mg PO q12h x 3",
                           params={"TVKM": [km], "TVVMAX": [vmax]}, times=t, **ODE)
        ref = analytic.one_cmt_oral(t, [(12.0 * i, 500.0) for i in range(3)], CL=cl + 3.0,
                                    V=50.0, KA=1.0)
        errs.append(rel_err(ds["CP"].values[0], ref, floor=1e-6))
        assert errs[-1] < 2.0 * ref.max() / km
    assert errs[1] < errs[0] / 5.0  # converges as 1/KM


def test_linear_mm_without_vmax_is_one_cmt(compiled) -> None:
    t = np.arange(0.0, 48.0, 0.25)
    ds = pkpd.simulate(compiled["one_cmt_linear_mm"], "500 mg PO q12h x 3",
                       params={"TVVMAX": [0.0]}, times=t, **ODE)
    ref = analytic.one_cmt_oral(t, [(12.0 * i, 500.0) for i in range(3)], CL=2.0, V=50.0,
                                KA=1.0)
    assert rel_err(ds["CP"].values[0], ref) < 1e-8


# ------------------------------------------------------------------------------------------------
# every template simulates as a population
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["one_cmt", "two_cmt", "three_cmt", "one_cmt_lag",
                                  "transit_absorption", "one_cmt_mm", "one_cmt_linear_mm"])
def test_population_simulation(compiled, name: str) -> None:
    cm = compiled[name]
    m = cm.model
    assert {"structural", "pk"} <= set(m.metadata["tags"].split("; "))
    assert set(m.routes) == {"PO", "IV"}
    assert m.omega is not None and m.error
    ds = pkpd.simulate(cm, "100 mg PO q12h x 2", times="0..24 h by 1 h", n=20, seed=1)
    cp, obs = ds["CP"].values, ds["CP_obs"].values
    assert cp.shape == (1, 20, 25) and np.all(np.isfinite(obs))
    assert np.all(cp[..., 1:] > 0) and np.std(cp[..., -1]) > 0


def test_population_simulation_of_the_analytic_transit_model(compiled) -> None:
    cm = compiled["transit_absorption_analytic"]
    assert set(cm.model.routes) == {"IV"}  # the oral dose is the parameter DOSE
    assert {"structural", "pk"} <= set(cm.model.metadata["tags"].split("; "))
    ds = pkpd.simulate(cm, empty_events(), params={"DOSE": [100.0]},
                       times="0..24 h by 1 h", n=20, seed=1)
    cp = ds["CP"].values
    assert cp.shape == (1, 20, 25) and np.all(np.isfinite(ds["CP_obs"].values))
    assert np.all(cp[..., 0] == 0.0) and np.all(cp[..., 1:] > 0) and np.std(cp[..., -1]) > 0


def test_population_estimation_of_one_cmt() -> None:
    """FOCE-I on 40 subjects simulated here with numpy (closed form, etas from the file's omega,
    the file's combined error): thetas within 3.5 SE of TV * exp(mean of the drawn etas),
    omegas within 3.5 SE of the variances of the drawn etas."""
    rng = np.random.default_rng(7)
    n, times = 40, np.array([0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 24.0])
    eta = rng.normal(0.0, np.sqrt([0.16, 0.09, 0.04]), (n, 3))
    ka, cl, v = (tv * np.exp(eta[:, i:i + 1]) for i, tv in enumerate((1.0, 5.0, 50.0)))
    c = analytic.one_cmt_oral(times, [(0.0, 500.0)], CL=cl, V=v, KA=ka)
    y = c + np.sqrt(0.05**2 + (0.1 * c) ** 2) * rng.normal(size=c.shape)
    rows = []
    for i in range(n):
        rows.append({"ID": i + 1, "TIME": 0.0, "AMT": 500.0, "EVID": 1, "CMT": 1,
                     "DV": np.nan, "MDV": 1})
        rows += [{"ID": i + 1, "TIME": tt, "AMT": 0.0, "EVID": 0, "CMT": 2, "DV": d, "MDV": 0}
                 for tt, d in zip(times, y[i], strict=True)]
    fit = pkpd.fit_population("one_cmt", pd.DataFrame(rows), "focei")
    assert fit.success and fit.covariance_status.startswith("ok")
    table = fit.summary()
    drawn = {"TVKA": 1.0, "TVCL": 5.0, "TVV": 50.0}
    for i, name in enumerate(drawn):
        target = drawn[name] * math.exp(eta[:, i].mean())
        assert abs(table.loc[name, "estimate"] - target) < 3.5 * table.loc[name, "se"], name
        om = f"omega({('eta_KA', 'eta_CL', 'eta_V')[i]})"
        assert abs(table.loc[om, "estimate"] - eta[:, i].var()) < 3.5 * table.loc[om, "se"], om
