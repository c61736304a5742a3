"""Exposure metrics from exact accumulators, per dosing interval, and target attainment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pkpd
from pkpd.results import exposure, per_interval, target_attainment


@pytest.fixture(scope="module")
def two_cmt():
    return pkpd.compile_model(pkpd.load_model("two_cmt_oral"))


def test_auc_at_steady_state_is_dose_over_clearance(two_cmt):
    # an SS=1 dose puts the system at steady state: AUC over one interval = F*Dose/CL exactly
    frame = pd.DataFrame({"ID": [1] * 3, "TIME": [0.0, 0.0, 12.0], "EVID": [1, 0, 0],
                          "AMT": [500.0, 0, 0], "CMT": [1, 2, 2], "SS": [1, 0, 0],
                          "II": [12.0, 0, 0]})
    data = pkpd.read_nonmem(frame, model=two_cmt.model)
    etas = {"eta_CL": [0.25], "eta_V1": [0.1], "eta_KA": [-0.3], "eta_Q": [0.0],
            "eta_V2": [0.2]}
    ds = pkpd.simulate(two_cmt, data, params=etas, times=[0.0, 12.0], auc=True)
    m = exposure(ds["CP"], accumulator=ds["AUC_CP"])
    assert float(m["auc"][0]) == pytest.approx(500 / (5 * np.exp(0.25)), rel=1e-8)
    assert m["auc"].attrs["units"] == "(mg/L)*h"


def test_exact_auc_against_the_closed_form_integral():
    # one compartment IV bolus: AUC(0..t) = D/CL (1 - exp(-k t))
    mb = pkpd.ModelBuilder("auc_test", time_unit="h")
    central, = mb.states(central="mg")
    mb.parameters(CL="2 L/h", V="20 L")
    mb.ode(central, "-CL/V*central")
    mb.output("C", "central/V", unit="mg/L")
    mb.route("IV", "central")
    ds = pkpd.simulate(mb.build(), "100 mg IV", times=[0.0, 3.0, 7.5, 30.0], auc=["C"])
    t = ds["time"].values
    np.testing.assert_allclose(ds["AUC_C"].values[0], 50 * (1 - np.exp(-0.1 * t)), rtol=1e-12)
    exact = exposure(ds["C"], start=3.0, end=30.0, accumulator=ds["AUC_C"])["auc"]
    trapezoid = exposure(ds["C"], start=3.0, end=30.0)["auc"]
    ref = 50 * (np.exp(-0.3) - np.exp(-3.0))
    assert float(exact[0]) == pytest.approx(ref, rel=1e-12)
    assert abs(float(trapezoid[0]) - ref) > 1.0   # a coarse grid misses the curvature


def test_per_interval_metrics_approach_steady_state(two_cmt):
    ds = pkpd.simulate(two_cmt, "500 mg PO q12h x 30", times="0..360 h by 0.25 h", auc=True)
    m = per_interval(ds["CP"], "12 h", accumulator=ds["AUC_CP"], threshold=5.0)
    assert m.sizes["interval"] == 30
    auc = m["auc"].sel(id=1).values
    assert np.all(np.diff(auc) > 0) and auc[-1] == pytest.approx(100.0, rel=1e-3)
    trough = m["cmin"].sel(id=1).values
    assert np.all(np.diff(trough[1:]) > 0)
    assert np.all(m["time_above"].values <= 12.0 + 1e-9)


def test_probability_of_target_attainment(two_cmt):
    ds = pkpd.simulate(two_cmt, "500 mg PO q12h x 14", times="144..156 h by 0.5 h", n=2000,
                       seed=4, auc=True, variability=("iiv",))
    auc = exposure(ds["CP"], accumulator=ds["AUC_CP"])["auc"]
    pta = target_attainment(auc, above=80.0, below=120.0)
    direct = float(((auc >= 80) & (auc <= 120)).mean())
    assert float(pta) == pytest.approx(direct)
    assert 0.0 < float(pta) < 1.0
    assert float(target_attainment(auc, above="0 mg*h/L")) == 1.0
    with pytest.raises(pkpd.PkpdError):
        target_attainment(auc)
