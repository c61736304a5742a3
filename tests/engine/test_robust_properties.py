"""The three solvers against the closed forms of :mod:`pkpd.testing.analytic` over extreme
parameters, doses and horizons: each meets its tolerance or raises SolverError, never a silent
wrong number.

Linear one- and two-compartment models (written here with their own parameters, no covariates)
with CL, V, Q and KA drawn log-uniformly over ten orders of magnitude (1e-5..1e5, so rate
constants from 1e-10 to 1e10 per hour), doses from 1e-6 to 1e6 mg as boluses, infusions or
oral doses. The solvers' tolerances hold for the amounts in the states (mg), so the error of
the central amount ``V * C`` is compared with ``rtol * |V * C| + atol``: a concentration whose
amount lies below the absolute tolerance is only known to within ``atol / V``. Measured on
140 such draws: largest ratios 6.6 (Dormand-Prince), 2.7 (RODAS4). The exact path (matrix
exponential) is within 5e-9 relative unless the rates span many orders (see EXACT_RTOL).
Dormand-Prince raises "too many steps" on the stiff draws; RODAS4 stopped with "step size
underflow" when an infusion started on a residue just above atol (the initial step estimate
fell below the smallest step), fixed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pkpd
from pkpd.errors import SolverError
from pkpd.testing import analytic

GRID = np.arange(0.0, 49.0, 2.0)
SOLVERS = ("exact", "dopri5", "rosenbrock")
#: allowed error of the ODE solvers, in units of the tolerance (measured at most 2.9)
FACTOR = 20.0
#: the exact path: relative error of the amounts and a floor relative to the dose (the closed
#: forms and the matrix exponential round off at that level). Scaling and squaring takes about
#: log2(rho h) squarings for a step h of a matrix of spectral radius rho, each doubling the
#: relative rounding error of the slow modes: with rates of 1e8/h and 1e-3/h the error grew to
#: 2.7e-6 at 48 h (against a 40-digit mpmath expm), about 3 eps rho t. Allowed: 1e-9 plus
#: 10 eps rho t.
EXACT_RTOL, EXACT_FLOOR = 1e-9, 1e-13
EPS = float(np.finfo(float).eps)
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _one() -> pkpd.Model:
    mb = pkpd.ModelBuilder("robust_one_cmt", time_unit="h",
                           description="one compartment, first-order absorption or IV")
    depot, central = mb.states(depot="mg", central="mg")
    CL, V, KA = mb.parameters(CL="1 L/h", V="10 L", KA="1 1/h")
    mb.ode(depot, -KA * depot)
    mb.ode(central, KA * depot - CL / V * central)
    mb.output("C", central / V, unit="mg/L")
    mb.route("PO", "depot")
    mb.route("IV", "central")
    return mb.build()


def _two() -> pkpd.Model:
    mb = pkpd.ModelBuilder("robust_two_cmt", time_unit="h",
                           description="two compartments, first-order absorption or IV")
    depot, central, periph = mb.states(depot="mg", central="mg", periph="mg")
    CL, V1, Q, V2, KA = mb.parameters(CL="1 L/h", V1="10 L", Q="1 L/h", V2="10 L",
                                      KA="1 1/h")
    mb.ode(depot, -KA * depot)
    mb.ode(central, KA * depot - (CL + Q) / V1 * central + Q / V2 * periph)
    mb.ode(periph, Q / V1 * central - Q / V2 * periph)
    mb.output("C", central / V1, unit="mg/L")
    mb.route("PO", "depot")
    mb.route("IV", "central")
    return mb.build()


@pytest.fixture(scope="module")
def models() -> dict[str, pkpd.CompiledModel]:
    return {"one": pkpd.compile_model(_one()), "two": pkpd.compile_model(_two())}


def closed_form(kind: str, route: str, t: np.ndarray, doses: list[tuple[float, float]],
                duration: float, p: dict[str, float]) -> np.ndarray:
    """Concentrations from pkpd.testing.analytic for doses ``(time, amount)``."""
    if kind == "one":
        base: tuple[float, ...] = (p["CL"], p["V"])
        fn = {"bolus": analytic.one_cmt_bolus, "infusion": analytic.one_cmt_infusion,
              "oral": analytic.one_cmt_oral}[route]
    else:
        base = (p["CL"], p["V1"], p["Q"], p["V2"])
        fn = {"bolus": analytic.two_cmt_bolus, "infusion": analytic.two_cmt_infusion,
              "oral": analytic.two_cmt_oral}[route]
    if route == "infusion":
        return fn(t, [(a, d, duration) for a, d in doses], *base)
    if route == "oral":
        return fn(t, doses, *base, p["KA"])
    return fn(t, doses, *base)


def dataset(route: str, doses: list[tuple[float, float]], duration: float, *, addl: int = 0,
            ii: float = 0.0) -> pkpd.io.NonmemData:
    frame = pd.DataFrame([{"ID": 1, "TIME": t, "EVID": 1, "AMT": amt,
                           "CMT": 1 if route == "oral" else 2,
                           "RATE": amt / duration if route == "infusion" else 0.0,
                           "ADDL": addl, "II": ii} for t, amt in doses])
    return pkpd.read_nonmem(frame)


def spectral_bound(p: dict[str, float]) -> float:
    """An upper bound of the norms of the model's matrix: twice the sum of its rates."""
    if "V" in p:
        return 2.0 * (p["KA"] + p["CL"] / p["V"])
    return 2.0 * (p["KA"] + (p["CL"] + p["Q"]) / p["V1"] + p["Q"] / p["V2"])


def check(c: np.ndarray, ref: np.ndarray, volume: float, dose: float, solver: str,
          rtol: float, atol: float, *, t: np.ndarray = GRID, rho: float = 0.0) -> None:
    """The central amounts meet the solver's tolerance (see the module docstring); ``rho``
    bounds the spectral radius of the model's matrix for the exact path."""
    err = np.abs(c - ref) * volume
    if solver == "exact":
        relative = EXACT_RTOL + 10.0 * EPS * rho * t
        bound = relative * np.abs(ref) * volume + EXACT_FLOOR * dose
    else:
        bound = FACTOR * (rtol * np.abs(ref) * volume + atol)
    worst = int(np.argmax(err / bound))
    assert err[worst] <= bound[worst], (
        f"{solver}: at t={t[worst]} C={c[worst]!r}, "
        f"closed form {ref[worst]!r}, error {err[worst]:.3g} mg > {bound[worst]:.3g} mg")


log_uniform = st.floats(-5.0, 5.0).map(lambda e: 10.0 ** e)


@SETTINGS
@given(kind=st.sampled_from(["one", "two"]),
       route=st.sampled_from(["bolus", "infusion", "oral"]),
       cl=log_uniform, v=log_uniform, q=log_uniform, v2=log_uniform, ka=log_uniform,
       amount=st.floats(-6.0, 6.0).map(lambda e: 10.0 ** e),
       duration=st.sampled_from([0.5, 2.0, 10.0]),
       tol=st.sampled_from([(1e-6, 1e-9), (1e-9, 1e-13)]))
def test_solvers_meet_tolerance_or_raise(models, kind: str, route: str, cl: float, v: float,
                                         q: float, v2: float, ka: float, amount: float,
                                         duration: float, tol: tuple[float, float]) -> None:
    """Two doses 12 h apart; every solver either raises SolverError (the ODE solvers, on
    problems too stiff for their step budget) or meets its tolerance. The exact path never
    fails."""
    p = ({"CL": cl, "V": v, "KA": ka} if kind == "one" else
         {"CL": cl, "V1": v, "Q": q, "V2": v2, "KA": ka})
    doses = [(0.0, amount), (12.0, amount)]
    ref = closed_form(kind, route, GRID, doses, duration, p)
    data = dataset(route, doses, duration)
    rtol, atol = tol
    for solver in SOLVERS:
        try:
            ds = pkpd.simulate(models[kind], data, params={k: [x] for k, x in p.items()},
                               times=GRID, solver=solver, rtol=rtol, atol=atol,
                               max_steps=20_000)
        except SolverError:
            assert solver != "exact"
            continue
        check(ds["C"].values[0], ref, v, amount, solver, rtol, atol, rho=spectral_bound(p))


@pytest.mark.parametrize("kind", ["one", "two"])
def test_very_fast_absorption(models, kind: str) -> None:
    """KA = 1e4 /h (absorption over seconds) with elimination over hours: stiff for the
    explicit method. Exact and RODAS4 meet the tolerance; Dormand-Prince meets it or raises
    "too many steps"."""
    p = ({"CL": 5.0, "V": 50.0, "KA": 1e4} if kind == "one" else
         {"CL": 5.0, "V1": 50.0, "Q": 8.0, "V2": 100.0, "KA": 1e4})
    doses = [(0.0, 100.0), (12.0, 100.0), (24.0, 100.0)]
    ref = closed_form(kind, "oral", GRID, doses, 0.0, p)
    data = dataset("oral", doses, 0.0)
    for solver in SOLVERS:
        try:
            ds = pkpd.simulate(models[kind], data, params={k: [x] for k, x in p.items()},
                               times=GRID, solver=solver, rtol=1e-8, atol=1e-12)
        except SolverError as exc:
            assert solver == "dopri5", exc
            assert "too many steps" in str(exc)
            continue
        check(ds["C"].values[0], ref, 50.0, 100.0, solver, 1e-8, 1e-12, rho=1e4)


@pytest.mark.parametrize("route", ["oral", "infusion"])
def test_five_years_of_twice_daily_doses(models, route: str) -> None:
    """100 mg q12h for 5 years as one dose record with ADDL = 3651, outputs daily (1826
    times): exact, RODAS4 and Dormand-Prince against the superposition of the 3652 doses."""
    p = {"CL": 5.0, "V1": 50.0, "Q": 8.0, "V2": 100.0, "KA": 1.2}
    n_doses = 2 * 1826
    t = np.arange(0.0, 1826.0 * 24.0, 24.0)
    doses = [(12.0 * k, 100.0) for k in range(n_doses)]
    ref = closed_form("two", route, t, doses, 1.0, p)
    data = dataset(route, [(0.0, 100.0)], 1.0, addl=n_doses - 1, ii=12.0)
    for solver in SOLVERS:
        ds = pkpd.simulate(models["two"], data, params={k: [x] for k, x in p.items()},
                           times=t, solver=solver, rtol=1e-8, atol=1e-10)
        check(ds["C"].values[0], ref, 50.0, 100.0, solver, 1e-8, 1e-10, t=t,
              rho=spectral_bound(p))


def test_infusion_starting_on_a_residue(models) -> None:
    """Two 10-h infusions 12 h apart, elimination at 34/h: at 12 h the central amount is a
    residue of 5e-18 mg (the exact answer is 1e-33 mg; both below atol). Hairer's initial step
    estimate for the second infusion was 6e-16 h, below the smallest step at t = 12 h, and
    RODAS4 stopped with "step size underflow" (found by the property test above)."""
    p = {"CL": 9.2e3, "V1": 270.0, "Q": 6.4, "V2": 0.18, "KA": 6.1e3}
    doses = [(0.0, 0.087), (12.0, 0.087)]
    ref = closed_form("two", "infusion", GRID, doses, 10.0, p)
    data = dataset("infusion", doses, 10.0)
    for solver in SOLVERS:
        ds = pkpd.simulate(models["two"], data, params={k: [x] for k, x in p.items()},
                           times=GRID, solver=solver, rtol=1e-9, atol=1e-13)
        check(ds["C"].values[0], ref, 270.0, 0.087, solver, 1e-9, 1e-13,
              rho=spectral_bound(p))
