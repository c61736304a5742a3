"""Between-occasion variability: occasion etas drawn per occasion, applied from the occasion's
first record on (LOCF)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pkpd
from pkpd._sampling import BOV, IIV, Streams, correlate


def _model(occasion_eta: bool):
    mb = pkpd.ModelBuilder("bov_test" if occasion_eta else "bov_reference", time_unit="h")
    central, = mb.states(central="mg")
    mb.parameters(TVCL="2 L/h", V="20 L")
    if occasion_eta:
        mb.etas(eta_CL=0.09, eta_occ=0.04)
        mb.occasion("eta_occ")
        mb.derive("CL", "TVCL*exp(eta_CL + eta_occ)")
    else:  # the same model with the occasion factor as a covariate
        mb.etas(eta_CL=0.09)
        mb.covariates(FOCC={"unit": "1", "default": 1.0})
        mb.derive("CL", "TVCL*exp(eta_CL)*FOCC")
    mb.ode(central, "-CL/V*central")
    mb.output("C", "central/V", unit="mg/L")
    mb.route("IV", "central")
    return pkpd.compile_model(mb.build())


@pytest.fixture(scope="module")
def bov():
    return _model(True)


def test_occasion_etas_match_a_covariate_formulation(bov):
    reference = _model(False)
    starts = [0.0, 24.0, 48.0]
    times = np.arange(0.0, 72.0, 0.5)
    regimen = "100 mg IV q12h x 6"
    ds = pkpd.simulate(bov, regimen, times=times, n=3, seed=11, occasions=starts,
                       variability=("iiv", "bov"))
    # redraw the same numbers from their streams (pkpd._sampling; seeded draws come from one
    # stream per source and block of subjects, not from one sequential generator): the etas
    # of subject 0's block, and its occasion etas, occasion by occasion
    streams = Streams.of(11)
    z = streams.normals(IIV, 1, (3, 2))[0]
    etas = correlate(z, pkpd.variability.omega_factor(bov.model.omega))
    occ = np.stack([0.2 * streams.normals(BOV, 1, (3, 1), j)[0, :, 0] for j in range(3)],
                   axis=1)                                  # (sample, occasion)
    for k in range(3):
        rows = [{"ID": 1, "TIME": t0, "EVID": 2, "AMT": 0.0, "CMT": 1,
                 "FOCC": float(np.exp(occ[k, j]))} for j, t0 in enumerate(starts)]
        rows += [{"ID": 1, "TIME": 12.0 * d, "EVID": 1, "AMT": 100.0, "CMT": 1,
                  "FOCC": float(np.exp(occ[k, int(12.0 * d // 24)]))} for d in range(6)]
        frame = pd.DataFrame(rows).sort_values(["TIME", "EVID"], ascending=[True, False],
                                               kind="stable")
        data = pkpd.read_nonmem(frame, locf=["FOCC"])
        ref = pkpd.simulate(reference, data, params={"eta_CL": [etas[k, 0]]}, times=times)
        np.testing.assert_allclose(ds["C"].values[0, k], ref["C"].values[0], rtol=1e-12)


def test_occasion_eta_variance_and_independence(bov):
    ds = pkpd.simulate(bov, "100 mg IV q24h x 2", times=[23.0, 47.0], n=4000, seed=3,
                       occasions=["0 h", "24 h"], variability=("bov",))
    # one dose per occasion, no IIV: the log-ratio of the trough to the typical trough is
    # -CL/V * 23 h, so log(CL) per occasion is recoverable
    c = ds["C"].values[0]
    k1 = -np.log(c[:, 0] / 5.0) / 23.0
    log_cl = np.log(k1 * 20.0 / 2.0)
    assert np.var(log_cl) == pytest.approx(0.04, rel=0.1)
    assert abs(np.mean(log_cl)) < 4 * 0.2 / np.sqrt(4000)


def test_occasions_from_a_dataset_column(bov):
    frame = pd.DataFrame({"ID": [1] * 6, "TIME": [0.0, 0.0, 12.0, 24.0, 24.0, 36.0],
                          "EVID": [1, 0, 0, 1, 0, 0], "AMT": [100.0, 0, 0, 100.0, 0, 0],
                          "CMT": 1, "OCC": [1, 1, 1, 2, 2, 2]})
    data = pkpd.read_nonmem(frame)
    by_column = pkpd.simulate(bov, data, times=[6.0, 30.0], n=50, seed=5, occasions="OCC",
                              variability=("bov",))
    by_times = pkpd.simulate(bov, data, times=[6.0, 30.0], n=50, seed=5, occasions=[0.0, 24.0],
                             variability=("bov",))
    np.testing.assert_array_equal(by_column["C"].values, by_times["C"].values)
    with pytest.raises(pkpd.DataError, match="OCC2"):
        pkpd.simulate(bov, data, times=[6.0], n=2, seed=5, occasions="OCC2")


def test_occasions_need_occasion_etas():
    cm = _model(False)
    with pytest.raises(pkpd.DataError, match="between-occasion"):
        pkpd.simulate(cm, "100 mg IV", times=[1.0], occasions=[0.0, 24.0])
