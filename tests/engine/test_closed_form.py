"""The engine against closed-form solutions (relative error < 1e-6 at rtol = 1e-8)."""

from __future__ import annotations

import numpy as np
import pytest

import pkpd
from pkpd.testing import analytic

TOL = {"rtol": 1e-8, "atol": 1e-12}


def _rel_err(x, ref):
    x, ref = np.asarray(x), np.asarray(ref)
    mask = np.abs(ref) > 1e-12 * np.abs(ref).max()
    return float(np.max(np.abs(x[mask] - ref[mask]) / np.abs(ref[mask])))


@pytest.mark.parametrize("solver", ["auto", "dopri5", "rosenbrock"])
def test_one_cmt_iv_bolus(one_cmt_iv, solver):
    regimen = pkpd.Regimen.repeat(pkpd.Dose("100 mg", into="IV"), every="8 h", count=4)
    t = np.arange(0, 48.0, 0.25)
    ds = pkpd.simulate(one_cmt_iv, regimen, times=t, solver=solver, **TOL)
    ref = analytic.one_cmt_bolus(t, [(8.0 * i, 100.0) for i in range(4)], CL=2.0, V=20.0)
    assert _rel_err(ds["C"].values[0], ref) < 1e-6


def test_one_cmt_infusion_across_observation_times(one_cmt_iv):
    # 1.3 h infusions: observations every 0.25 h fall inside and outside each infusion
    regimen = pkpd.Regimen.repeat(pkpd.Dose("120 mg", into="central", duration="1.3 h"),
                                  every="6 h", count=3)
    t = np.arange(0, 30.0, 0.25)
    ds = pkpd.simulate(one_cmt_iv, regimen, times=t, **TOL)
    ref = analytic.one_cmt_infusion(t, [(6.0 * i, 120.0, 1.3) for i in range(3)], CL=2.0, V=20.0)
    assert _rel_err(ds["C"].values[0], ref) < 1e-6


@pytest.mark.parametrize("ka", [1.2, 0.1, 0.1 + 1e-7])
def test_one_cmt_oral_with_lag_and_bioavailability(one_cmt_oral, ka):
    # ka = CL/V = 0.1 is the removable singularity of the Bateman function
    regimen = pkpd.Regimen.repeat(pkpd.Dose("250 mg", into="PO"), every="12 h", count=3)
    t = np.arange(0, 48.0, 0.1)
    ds = pkpd.simulate(one_cmt_oral, regimen, params={"KA": [ka]}, times=t, **TOL)
    ref = analytic.one_cmt_oral(t, [(12.0 * i, 250.0) for i in range(3)], CL=2.0, V=20.0, KA=ka,
                                F=0.7, lag=0.75)
    assert _rel_err(ds["C"].values[0], ref) < 1e-6
    assert np.all(ds["C"].values[0][t <= 0.75] == 0.0)


def test_two_cmt_oral_bundled_model(two_cmt_oral):
    regimen = pkpd.Regimen.parse("500 mg PO q12h x 14")
    t = np.arange(0, 168.5, 0.5)
    etas = {"eta_CL": [0.1, -0.2], "eta_V1": [0.0, 0.3], "eta_KA": [-0.4, 0.2],
            "eta_Q": [0.05, 0.0], "eta_V2": [0.0, -0.1]}
    ds = pkpd.simulate(two_cmt_oral, regimen, params=etas, times=t, **TOL)
    doses = [(12.0 * i, 500.0) for i in range(14)]
    for s in range(2):
        p = {k: np.exp(v[s]) for k, v in etas.items()}
        ref = analytic.two_cmt_oral(t, doses, CL=5 * p["eta_CL"], V1=50 * p["eta_V1"],
                                    Q=8 * p["eta_Q"], V2=100 * p["eta_V2"], KA=1.0 * p["eta_KA"])
        assert _rel_err(ds["CP"].values[s], ref) < 1e-6


def test_weight_covariate_scales_clearance(two_cmt_oral):
    t = np.arange(0, 48.0, 1.0)
    ds = pkpd.simulate(two_cmt_oral, "500 mg PO q12h x 4", {"WT": ["100 kg", "154.3 lb"]},
                       times=t, **TOL)
    ref = analytic.two_cmt_oral(t, [(12.0 * i, 500.0) for i in range(4)],
                                CL=5 * (100 / 70) ** 0.75, V1=50 * 100 / 70,
                                Q=8 * (100 / 70) ** 0.75, V2=100 * 100 / 70, KA=1.0)
    assert _rel_err(ds["CP"].values[0], ref) < 1e-6
    # unit invariance: 154.3 lb is 69.99 kg, not 154.3 kg
    assert ds["CP"].values[1].max() > ds["CP"].values[0].max()
