"""Properties of the engine (hypothesis): superposition, dose proportionality, mass balance,
non-negativity, steady state as the limit of repeated dosing."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pkpd

TIGHT = {"rtol": 1e-10, "atol": 1e-12}
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
COLS = ["ID", "TIME", "EVID", "AMT", "CMT", "RATE", "II", "ADDL", "SS"]
GRID = np.arange(0.0, 72.0, 0.5)

doses = st.lists(
    st.tuples(st.floats(0, 48).map(lambda x: round(x, 2)),       # time
              st.floats(1, 1000),                                 # amount
              st.sampled_from([1, 2]),                            # depot or central
              st.sampled_from([0.0, 0.5, 3.0])),                  # infusion duration
    min_size=1, max_size=5)
params = st.fixed_dictionaries({
    "CL": st.floats(0.5, 20), "V1": st.floats(5, 200), "Q": st.floats(0.5, 20),
    "V2": st.floats(5, 300), "KA": st.floats(0.05, 5)})


def _frame(dose_list, ids=(1,)):
    rows = []
    for i in ids:
        for t, amt, cmt, dur in dose_list:
            rows.append((i, t, 1, amt, cmt, amt / dur if dur else 0.0))
        rows += [(i, float(t), 0, 0, 2) for t in GRID]
    frame = pd.DataFrame([dict(zip(COLS, r, strict=False)) for r in rows]).fillna(0)
    return frame.sort_values(["ID", "TIME", "EVID"], ascending=[True, True, False],
                             kind="stable")


def _run(cm, dose_list, p, ids=(1,)):
    data = pkpd.read_nonmem(_frame(dose_list, ids), model=cm.model)
    tab = {k: [v] * len(ids) for k, v in p.items()}
    ds = pkpd.simulate(cm, data, params=tab, states=True, **TIGHT)
    return ds.where(ds["evid"] == 0, drop=True)


@SETTINGS
@given(dose_list=doses, p=params)
def test_superposition(two_cmt_mass, dose_list, p):
    whole = _run(two_cmt_mass, dose_list, p)["C"].values
    parts = sum(_run(two_cmt_mass, [d], p)["C"].values for d in dose_list)
    np.testing.assert_allclose(whole, parts, rtol=1e-7, atol=1e-9 * whole.max())


@SETTINGS
@given(dose_list=doses, p=params, k=st.floats(0.01, 100))
def test_dose_proportionality(two_cmt_mass, dose_list, p, k):
    base = _run(two_cmt_mass, dose_list, p)["C"].values
    scaled = _run(two_cmt_mass, [(t, a * k, c, d) for t, a, c, d in dose_list], p)["C"].values
    np.testing.assert_allclose(scaled, k * base, rtol=1e-7, atol=1e-9 * k * base.max())


@SETTINGS
@given(dose_list=doses, p=params)
def test_mass_balance_and_non_negativity(two_cmt_mass, dose_list, p):
    ds = _run(two_cmt_mass, dose_list, p)
    t = ds["time"].values
    given_by = np.zeros_like(t)
    for td, amt, _, dur in dose_list:
        given_by += amt * (np.clip((t - td) / dur, 0, 1) if dur else (t >= td))
    total = sum(ds[s].values for s in ("depot", "central", "periph", "elim"))
    np.testing.assert_allclose(total, given_by, rtol=1e-8, atol=1e-9)
    for s in ("depot", "central", "periph", "elim", "C"):
        assert np.all(ds[s].values >= -1e-12 * total.max())


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=params, tau=st.sampled_from([6.0, 12.0, 24.0]), dur=st.sampled_from([0.0, 1.0, 30.0]))
def test_ss1_is_the_limit_of_repeated_doses(two_cmt_mass, p, tau, dur):
    # enough doses for the slowest eigenvalue to have decayed to < 1e-10
    k = np.linalg.eigvals(np.array([[-(p["CL"] + p["Q"]) / p["V1"], p["Q"] / p["V2"]],
                                    [p["Q"] / p["V1"], -p["Q"] / p["V2"]]])).real
    n = int(np.ceil(23.0 / (min(-k.max(), p["KA"]) * tau))) + 1
    t0 = n * tau
    rate = 100.0 / dur if dur else 0.0
    grid = t0 + np.linspace(0, tau, 13)
    rows = [(1, t0, 1, 100.0, 2, rate, tau, 0, 1)]
    rows += [(2, 0.0, 1, 100.0, 2, rate, tau, n)]
    rows += [(i, float(t), 0, 0, 2) for i in (1, 2) for t in grid]
    frame = pd.DataFrame([dict(zip(COLS, r, strict=False)) for r in rows]).fillna(0)
    frame = frame.sort_values(["ID", "TIME", "EVID"], ascending=[True, True, False])
    data = pkpd.read_nonmem(frame, model=two_cmt_mass.model)
    ds = pkpd.simulate(two_cmt_mass, data, params={k_: [v, v] for k_, v in p.items()},
                       **TIGHT)
    ds = ds.where(ds["evid"] == 0, drop=True)
    c = ds["C"].values
    ids = ds["id"].values
    np.testing.assert_allclose(c[ids == 1], c[ids == 2], rtol=2e-6)
