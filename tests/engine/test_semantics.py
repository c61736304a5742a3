"""NONMEM event semantics, one corner case per test (datasets built as NONMEM tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pkpd

TIGHT = {"rtol": 1e-10, "atol": 1e-12}
COLS = ["ID", "TIME", "EVID", "AMT", "CMT", "RATE", "II", "ADDL", "SS"]


def _data(rows, cm, **kw):
    rows = sorted(rows, key=lambda r: (r[0], r[1], -r[2]))  # doses first at equal times
    frame = pd.DataFrame([dict(zip(COLS, r, strict=False)) for r in rows]).fillna(0)
    return pkpd.read_nonmem(frame, model=cm.model, **kw)


def _obs(ids, times, cmt=1):
    return [(i, t, 0, 0, cmt) for i in ids for t in times]


def _sim(cm, rows, params=None, **kw):
    ds = pkpd.simulate(cm, _data(rows, cm), params=params, states=True, **TIGHT, **kw)
    obs = ds.where(ds["evid"] == 0, drop=True)
    return obs


def _by_id(ds, var, i):
    return ds[var].values[ds["id"].values == i]


def test_addl_equals_explicit_doses(one_cmt_iv):
    grid = np.arange(0.5, 60, 1.0)
    rows = [(1, 0, 1, 100, 1, 0, 12, 3), *_obs([1], grid)]
    rows += [(2, t, 1, 100, 1) for t in (0, 12, 24, 36)] + _obs([2], grid)
    ds = _sim(one_cmt_iv, rows)
    np.testing.assert_allclose(_by_id(ds, "C", 1), _by_id(ds, "C", 2), rtol=1e-9)
    # and the doses really happened: 4 doses of 100 mg in elim + central at the end
    total = _by_id(ds, "central", 1)[-1] + _by_id(ds, "elim", 1)[-1]
    assert total == pytest.approx(400.0, rel=1e-9)


def test_dose_applied_before_observation_at_same_time(one_cmt_iv):
    rows = [(1, 0, 1, 100, 1), (1, 5, 1, 50, 1), (1, 5, 0, 0, 1)]
    ds = _sim(one_cmt_iv, rows)
    k = 2.0 / 20.0
    expected = (100 * np.exp(-k * 5) + 50) / 20.0
    assert float(ds["C"].values[-1]) == pytest.approx(expected, rel=1e-9)


def test_grid_output_at_dose_time_includes_the_dose(one_cmt_iv):
    regimen = pkpd.Regimen.repeat(pkpd.Dose("100 mg", into="central"), every="12 h", count=2)
    ds = pkpd.simulate(one_cmt_iv, regimen, times=[0.0, 12.0], **TIGHT)
    k = 0.1
    np.testing.assert_allclose(ds["C"].values[0], [5.0, (100 * np.exp(-k * 12) + 100) / 20],
                               rtol=1e-9)


def test_evid3_reset_clears_state_infusions_and_pending_doses(one_cmt_oral):
    grid = np.arange(0.5, 40, 0.5)
    # subject 1: oral dose with lag and an infusion, reset at 10 (before nothing is pending)
    # then a new dose at 12; subject 2: only the dose at 12
    rows = [(1, 0, 1, 100, 1), (1, 9, 1, 100, 2, 10), (1, 9.5, 1, 80, 1), (1, 10, 3, 0, 2),
            (1, 12, 1, 100, 1), *_obs([1], grid, 2)]
    rows += [(2, 0, 2, 0, 2), (2, 12, 1, 100, 1), *_obs([2], grid, 2)]
    ds = _sim(one_cmt_oral, rows)
    c1, c2 = _by_id(ds, "C", 1), _by_id(ds, "C", 2)
    after = grid > 10
    np.testing.assert_allclose(c1[after], c2[after], rtol=1e-9, atol=1e-14)
    assert np.all(c1[(grid > 1) & (grid < 9)] > 0)


def test_evid4_reset_and_dose(one_cmt_iv):
    grid = np.arange(0.5, 30, 0.5)
    rows = [(1, 0, 1, 100, 1), (1, 10, 4, 70, 1), *_obs([1], grid)]
    rows += [(2, 10, 1, 70, 1), *_obs([2], grid)]
    ds = _sim(one_cmt_iv, rows)
    after = grid >= 10
    c1, c2 = _by_id(ds, "C", 1), _by_id(ds, "C", 2)
    np.testing.assert_allclose(c1[after], c2[after], rtol=1e-9)
    np.testing.assert_allclose(c1[after][0], 70 / 20, rtol=1e-9)


def test_infusion_with_lag_is_the_shifted_infusion(one_cmt_oral):
    grid = np.arange(0.25, 24, 0.25)
    rows = [(1, 2, 1, 100, 1, 40), *_obs([1], grid, 2)]
    lagged = _sim(one_cmt_oral, rows)
    shifted = _sim(one_cmt_oral, [(1, 2 + 0.75, 1, 100, 1, 40), *_obs([1], grid, 2)],
                   params={"TLAG": [0.0]})
    np.testing.assert_allclose(lagged["C"].values, shifted["C"].values, rtol=1e-8, atol=1e-14)
    # F applies to the infused amount: 70 mg enter the depot over 70/40 h
    assert float(lagged["depot"].values[-1] + lagged["central"].values[-1]
                 + lagged["elim"].values[-1]) == pytest.approx(70.0, rel=1e-9)


@pytest.mark.parametrize("rate", [0.0, 25.0], ids=["bolus", "infusion"])
def test_ss1_equals_limit_of_repeated_doses(one_cmt_oral, rate):
    tau, n = 12.0, 60
    t0 = tau * n
    grid = t0 + np.arange(0.0, tau, 0.5)
    ss = [(1, t0, 1, 100, 1, rate, tau, 0, 1), *_obs([1], grid, 2)]
    rep = [(2, 0, 1, 100, 1, rate, tau, n), *_obs([2], grid, 2)]
    ds = _sim(one_cmt_oral, ss + rep)
    np.testing.assert_allclose(_by_id(ds, "C", 1), _by_id(ds, "C", 2), rtol=1e-7)


def test_ss_infusion_longer_than_interval(one_cmt_iv):
    # II < duration: infusions overlap at steady state (as NONMEM handles it)
    tau, n = 6.0, 80
    t0 = tau * n
    grid = t0 + np.arange(0.0, 3 * tau, 0.5)
    ss = [(1, t0, 1, 100, 1, 100 / 15.0, tau, 0, 1), *_obs([1], grid)]
    rep = [(2, 0, 1, 100, 1, 100 / 15.0, tau, n), *_obs([2], grid)]
    ds = _sim(one_cmt_iv, ss + rep)
    np.testing.assert_allclose(_by_id(ds, "C", 1), _by_id(ds, "C", 2), rtol=1e-7)


def test_ss2_adds_to_the_current_state(one_cmt_iv):
    tau = 12.0
    grid = np.arange(20.5, 40, 1.0)
    rows = [(1, 0, 1, 50, 1), (1, 20, 1, 100, 1, 0, tau, 0, 2), *_obs([1], grid)]
    rows += [(2, 20, 1, 100, 1, 0, tau, 0, 1), *_obs([2], grid)]
    ds = _sim(one_cmt_iv, rows)
    k = 0.1
    np.testing.assert_allclose(_by_id(ds, "C", 1) - _by_id(ds, "C", 2),
                               50 * np.exp(-k * grid) / 20, rtol=1e-8)


def test_ss_constant_infusion_sets_the_state_and_stops(one_cmt_iv):
    # NONMEM: SS=1, AMT=0, RATE>0, II=0 puts the system at the steady state of the infusion;
    # nothing more is given afterwards (NONMEM conformance scenario 29 shows the decay)
    rows = [(1, 0, 1, 0, 1, 10.0, 0, 0, 1), *_obs([1], [0.0, 5.0, 50.0])]
    ds = _sim(one_cmt_iv, rows)
    np.testing.assert_allclose(ds["C"].values, 5.0 * np.exp(-0.1 * np.array([0, 5, 50.0])),
                               rtol=1e-8)


def test_modelled_rate_without_model_attribute_is_a_data_error(one_cmt_iv):
    with pytest.raises(pkpd.DataError, match="RATE"):
        _sim(one_cmt_iv, [(1, 0, 1, 100, 1, -2), *_obs([1], [1.0])])


def test_locf_covariate_equals_nocb_with_values_shifted():
    mb = pkpd.ModelBuilder("test_tv", time_unit="h")
    central, = mb.states(central="mg")
    TVCL, V = mb.parameters(TVCL="2 L/h", V="20 L")
    WT, = mb.covariates(WT={"unit": "kg", "default": 70})
    CL = mb.derive("CL", TVCL * (WT / 70) ** 0.75)
    mb.ode(central, -CL / V * central)
    mb.output("C", central / V, unit="mg/L")
    cm = pkpd.compile_model(mb.build())
    times = np.array([0.0, 0, 2, 5, 9, 14, 20])
    wt = np.array([60.0, 60, 80, 65, 90, 75, 70])
    evid = np.array([1, 0, 0, 0, 0, 0, 0])
    frame = pd.DataFrame({"ID": 1, "TIME": times, "EVID": evid, "AMT": 100 * (evid == 1),
                          "CMT": 1, "WT": wt})
    shifted = frame.copy()
    shifted["WT"] = np.concatenate([[wt[0]], wt[:-1]])
    locf = pkpd.simulate(cm, pkpd.read_nonmem(frame, locf=["WT"]), **TIGHT)
    nocb = pkpd.simulate(cm, pkpd.read_nonmem(shifted), **TIGHT)
    np.testing.assert_allclose(locf["C"].values[1:], nocb["C"].values[1:], rtol=1e-9)
    assert not np.allclose(locf["C"].values[2:],
                           pkpd.simulate(cm, pkpd.read_nonmem(frame), **TIGHT)["C"].values[2:])


def test_overflowing_rates_raise_solver_error() -> None:
    """exp(800) overflows to inf: the exact stepping's matrix exponential cannot scale it; the
    caller gets a SolverError (which fits treat as an unusable point), not an OverflowError."""
    with pytest.raises(pkpd.SolverError, match="arithmetic error in the engine"):
        pkpd.simulate("two_cmt_oral", "500 mg PO", times=[1.0, 2.0],
                      params={"eta_CL": [800.0]})
