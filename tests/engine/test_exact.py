"""Exact stepping of linear models (matrix exponential): used where valid, and only there."""

from __future__ import annotations

import numpy as np
import pytest

import pkpd
from pkpd.engine import uses_exact_stepping
from pkpd.testing import analytic


def _rel(x, ref):
    x, ref = np.asarray(x), np.asarray(ref)
    mask = np.abs(ref) > 1e-12 * np.abs(ref).max()
    return float(np.max(np.abs(x[mask] - ref[mask]) / np.abs(ref[mask])))


@pytest.fixture(scope="module")
def three_cmt():
    mb = pkpd.ModelBuilder("test_three_cmt", time_unit="h")
    depot, central, p2, p3 = mb.states(depot="mg", central="mg", p2="mg", p3="mg")
    CL, V1, Q2, V2, Q3, V3, KA = mb.parameters(CL="4 L/h", V1="20 L", Q2="6 L/h", V2="40 L",
                                               Q3="1.5 L/h", V3="120 L", KA="0.9 1/h")
    mb.ode(depot, -KA * depot)
    mb.ode(central, KA * depot - (CL + Q2 + Q3) / V1 * central + Q2 / V2 * p2 + Q3 / V3 * p3)
    mb.ode(p2, Q2 / V1 * central - Q2 / V2 * p2)
    mb.ode(p3, Q3 / V1 * central - Q3 / V3 * p3)
    mb.output("C", central / V1, unit="mg/L")
    mb.route("PO", "depot")
    mb.route("IV", "central")
    return pkpd.compile_model(mb.build())


@pytest.fixture(scope="module")
def turnover():
    # linear with a zero-order input: dR/dt = KIN - KOUT*R
    mb = pkpd.ModelBuilder("test_turnover", time_unit="h")
    R, = mb.states(R="1")
    KIN, KOUT, R0 = mb.parameters(KIN="10 1/h", KOUT="0.1 1/h", R0=20.0)
    mb.ode(R, KIN - KOUT * R)
    mb.initial(R, R0)
    mb.output("RESP", R, unit="1")
    return pkpd.compile_model(mb.build())


def test_exact_stepping_is_chosen_only_for_linear_models(two_cmt_oral, mm_model, turnover):
    assert uses_exact_stepping(two_cmt_oral, "auto")
    assert uses_exact_stepping(turnover, "auto")
    assert not uses_exact_stepping(two_cmt_oral, "dopri5")
    # Michaelis-Menten elimination is nonlinear: never the matrix exponential
    assert not uses_exact_stepping(mm_model, "auto")
    with pytest.raises(pkpd.SolverError, match="linear"):
        uses_exact_stepping(mm_model, "exact")


def test_explicit_time_dependence_is_not_stepped_exactly():
    mb = pkpd.ModelBuilder("test_time_dependent", time_unit="h")
    x, = mb.states(x="mg")
    K, TAU = mb.parameters(K="0.1 1/h", TAU="5 h")
    mb.ode(x, -K * x * pkpd.model.parse_expression("exp(-t/TAU)", {"TAU": TAU}, where="test"))
    mb.output("X", x, unit="mg")
    mb.route("IV", "x")
    cm = pkpd.compile_model(mb.build())
    assert cm.is_linear and not uses_exact_stepping(cm, "auto")
    ds = pkpd.simulate(cm, "100 mg IV", times=[0.0, 2.0, 10.0], rtol=1e-10, atol=1e-12)
    t = np.array([0.0, 2.0, 10.0])
    ref = 100 * np.exp(-0.1 * 5 * (1 - np.exp(-t / 5)))
    np.testing.assert_allclose(ds["X"].values[0], ref, rtol=1e-8)


def test_mm_model_results_do_not_depend_on_the_solver_choice(mm_model):
    kw = {"times": "0..48 h by 0.5 h", "rtol": 1e-10, "atol": 1e-12}
    auto = pkpd.simulate(mm_model, "500 mg PO q12h x 4", **kw)
    dopri = pkpd.simulate(mm_model, "500 mg PO q12h x 4", solver="dopri5", **kw)
    np.testing.assert_array_equal(auto["C"].values, dopri["C"].values)


@pytest.mark.parametrize("kind", ["bolus", "infusion", "oral"])
def test_one_and_two_compartments_exact_to_1e10(one_cmt_iv, two_cmt_oral, kind):
    t = np.arange(0.0, 96.0, 0.37)
    if kind == "bolus":
        ds = pkpd.simulate(one_cmt_iv, "100 mg IV q8h x 6", times=t)
        ref = analytic.one_cmt_bolus(t, [(8.0 * i, 100.0) for i in range(6)], CL=2.0, V=20.0)
        got = ds["C"].values[0]
    elif kind == "infusion":
        ds = pkpd.simulate(one_cmt_iv, "100 mg IV over 1.3 h q8h x 6", times=t)
        ref = analytic.one_cmt_infusion(t, [(8.0 * i, 100.0, 1.3) for i in range(6)], CL=2.0,
                                        V=20.0)
        got = ds["C"].values[0]
    else:
        ds = pkpd.simulate(two_cmt_oral, "500 mg PO q12h x 8", times=t,
                           params={"eta_CL": [0.3], "eta_KA": [-0.5]})
        ref = analytic.two_cmt_oral(t, [(12.0 * i, 500.0) for i in range(8)],
                                    CL=5 * np.exp(0.3), V1=50.0, Q=8.0, V2=100.0,
                                    KA=np.exp(-0.5))
        got = ds["CP"].values[0]
    assert _rel(got, ref) < 1e-10


@pytest.mark.parametrize("kind", ["bolus", "infusion", "oral"])
def test_three_compartments_exact_to_1e10(three_cmt, kind):
    t = np.arange(0.0, 120.0, 0.5)
    p = {"CL": 4.0, "V1": 20.0, "Q2": 6.0, "V2": 40.0, "Q3": 1.5, "V3": 120.0}
    if kind == "bolus":
        ds = pkpd.simulate(three_cmt, "100 mg IV q24h x 3", times=t)
        ref = analytic.three_cmt_bolus(t, [(24.0 * i, 100.0) for i in range(3)], **p)
    elif kind == "infusion":
        ds = pkpd.simulate(three_cmt, "100 mg IV over 2 h q24h x 3", times=t)
        ref = analytic.three_cmt_infusion(t, [(24.0 * i, 100.0, 2.0) for i in range(3)], **p)
    else:
        ds = pkpd.simulate(three_cmt, "100 mg PO q24h x 3", times=t)
        ref = analytic.three_cmt_oral(t, [(24.0 * i, 100.0) for i in range(3)], KA=0.9, **p)
    assert _rel(ds["C"].values[0], ref) < 1e-10


def test_zero_order_input_and_singular_matrix(turnover, two_cmt_mass):
    import pandas as pd

    t = np.linspace(0, 50, 11)
    frame = {"ID": [1] * len(t), "TIME": t, "EVID": [0] * len(t), "CMT": [1] * len(t)}
    ds = pkpd.simulate(turnover, pkpd.read_nonmem(pd.DataFrame(frame)))
    ref = 100.0 + (20.0 - 100.0) * np.exp(-0.1 * t)
    assert _rel(ds["RESP"].values, ref) < 1e-12
    # an accumulator state (zero eigenvalue): amounts add up to the dose exactly
    ds = pkpd.simulate(two_cmt_mass, "100 mg PO q6h x 4", times="0..48 h by 0.25 h",
                       states=True)
    total = sum(ds[s].values[0] for s in ("depot", "central", "periph", "elim"))
    expected = 100.0 * np.minimum(np.floor(ds["time"].values / 6.0) + 1, 4)
    np.testing.assert_allclose(total, expected, rtol=1e-12)
