"""Stiff target-mediated disposition at tight tolerances against a tight scipy Radau solve.

``tmdd_full`` with binding 10^3 to 10^6 times faster than its typical values (KON up to 1e7
L/nmol/d) is stiff: the binding relaxes in 1e-9 to 1e-4 days while the drug is eliminated over
weeks. With Shampine's Rosenbrock 4(3) parameter set (A-stable, not L-stable) the error
estimate held the step size at h*|lambda| of a few units: 162,000 steps over 42 days at rtol
1e-10 (KON x 1000) where RODAS4 takes 32,500 and Radau 1,846, and the step budget, counted per
segment between doses instead of per record, ran out after day 10 ("too many steps"). After a
bolus at t = 0 with KON = 1e7 the binding layer needs steps of 1e-12 days, below the floor
then set at 1e-13 times the 42-day segment ("step size underflow").
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import pkpd
from pkpd.errors import SolverError

# typical values of models/tmdd_full.toml (per day, nmol, L)
CL, V1, Q, V2, KA, F = 0.2, 3.0, 0.5, 2.5, 0.3, 0.7
KINT, KDEG, R0 = 0.5, 0.2, 5.0
TIMES = np.linspace(0.0, 42.0, 169)


@pytest.fixture(scope="module")
def tmdd() -> pkpd.CompiledModel:
    return pkpd.compile_model(pkpd.load_model("tmdd_full"))


def radau(kon: float, koff: float, doses: list[tuple[float, int, float]]) -> np.ndarray:
    """States (depot, central amount, peripheral amount, R, RC) at TIMES: scipy Radau with the
    analytic Jacobian at rtol 1e-12, restarted at each bolus ``(time, state, amount)``."""
    def rhs(_t: float, y: np.ndarray) -> list[float]:
        depot, a, p, r, rc = y
        bind = kon * a / V1 * r - koff * rc
        return [-KA * depot, KA * depot - (CL + Q) * a / V1 + Q / V2 * p - bind * V1,
                Q * a / V1 - Q / V2 * p, KDEG * R0 - KDEG * r - bind, bind - KINT * rc]

    def jac(_t: float, y: np.ndarray) -> list[list[float]]:
        _, a, _, r, _ = y
        return [[-KA, 0, 0, 0, 0],
                [KA, -(CL + Q) / V1 - kon * r, Q / V2, -kon * a, koff * V1],
                [0, Q / V1, -Q / V2, 0, 0],
                [0, -kon * r / V1, 0, -KDEG - kon * a / V1, koff],
                [0, kon * r / V1, 0, kon * a / V1, -koff - KINT]]

    y = np.array([0.0, 0.0, 0.0, R0, 0.0])
    out = np.empty((len(TIMES), 5))
    stops = sorted({d[0] for d in doses} | {float(TIMES[-1])})
    for k, a in enumerate(stops[:-1]):
        for when, state, amount in doses:
            if when == a:
                y[state] += amount
        b = stops[k + 1]
        last = k == len(stops) - 2
        sel = (TIMES >= a) & ((TIMES <= b) if last else (TIMES < b))
        t_eval = TIMES[sel] if last else np.append(TIMES[sel], b)
        sol = solve_ivp(rhs, (a, b), y, method="Radau", jac=jac, rtol=1e-12, atol=1e-15,
                        t_eval=t_eval)
        assert sol.success, sol.message
        out[sel] = sol.y[:, :sel.sum()].T
        y = sol.y[:, -1].copy()
    return out


def rel_err(x: np.ndarray, ref: np.ndarray, floor: float) -> float:
    return float(np.max(np.abs(x - ref) / np.maximum(np.abs(ref), floor)))


@pytest.mark.parametrize(("text", "doses", "fast"), [
    ("50 nmol IV", [(0.0, 1, 50.0)], 1e3),
    ("50 nmol IV", [(0.0, 1, 50.0)], 1e5),
    ("500 nmol IV", [(0.0, 1, 500.0)], 1e6),
    ("300 nmol SC q7d x 3", [(d, 0, 300.0 * F) for d in (0.0, 7.0, 14.0)], 1e4),
])
def test_fast_binding_at_tight_tolerance_matches_radau(tmdd, text: str, doses: list,
                                                       fast: float) -> None:
    """rtol 1e-10, atol 1e-12 with the default step budget: before, every case but the IV
    bolus at KON x 1e5 stopped with "too many steps" (between day 0.2 and day 10) or "step
    size underflow" (KON x 1e6 at t = 0). Measured largest relative errors of the states
    (floor 1e-6 nmol or nM) against Radau at rtol 1e-12: 1e-10, 1e-10, 5e-11 and 1.6e-10."""
    kon, koff = 10.0 * fast, 1.0 * fast
    ds = pkpd.simulate(tmdd, text, times=TIMES, params={"TVKON": [kon], "TVKOFF": [koff]},
                       solver="rosenbrock", rtol=1e-10, atol=1e-12, states=True)
    ref = radau(kon, koff, doses)
    for k, name in enumerate(("depot", "central", "periph", "R", "RC")):
        assert rel_err(ds[name].values[0], ref[:, k], 1e-6) < 1e-9, name


def test_step_budget_counts_steps_between_records(tmdd) -> None:
    """max_steps bounds the steps between two outputs, not over the segment between doses:
    42 days after one bolus take some 32,000 steps in all, under 1,000 between two outputs 6 h
    apart (so 1,000 suffice), but 5 are too few, and the error names the budget and rtol."""
    params = {"TVKON": [1e4], "TVKOFF": [1e3]}
    ds = pkpd.simulate(tmdd, "50 nmol IV", times=TIMES, params=params, solver="rosenbrock",
                       rtol=1e-10, atol=1e-12, max_steps=1_000)
    ref = radau(1e4, 1e3, [(0.0, 1, 50.0)])
    assert rel_err(ds["C"].values[0], ref[:, 1] / V1, 1e-6) < 1e-8
    with pytest.raises(SolverError, match=r"too many steps .*max_steps=5\).*rtol \(now 1e-10"):
        pkpd.simulate(tmdd, "50 nmol IV", times=TIMES, params=params, solver="rosenbrock",
                      rtol=1e-10, atol=1e-12, max_steps=5)


@pytest.mark.parametrize("fast", [1e4, 1e6])
def test_auto_switches_to_rodas_on_fast_binding(tmdd, fast: float) -> None:
    """The default solver (Dormand-Prince, switching to RODAS4 when stiff) at the default
    tolerances. With KON = 1e7 it stopped at t = 0 ("step size underflow"); measured largest
    relative errors of the states 5e-8 (KON 1e5 and 1e7). Dormand-Prince alone
    needs more than the step budget there, and the error says to use 'rosenbrock'."""
    params = {"TVKON": [10.0 * fast], "TVKOFF": [fast]}
    ds = pkpd.simulate(tmdd, "500 nmol IV", times=TIMES, params=params, states=True)
    ref = radau(10.0 * fast, fast, [(0.0, 1, 500.0)])
    for k, name in enumerate(("depot", "central", "periph", "R", "RC")):
        assert rel_err(ds[name].values[0], ref[:, k], 1e-6) < 1e-6, name
    if fast == 1e6:
        with pytest.raises(SolverError, match="use solver 'rosenbrock'"):
            pkpd.simulate(tmdd, "500 nmol IV", times=TIMES, params=params, solver="dopri5")
