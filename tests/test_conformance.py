"""NONMEM's own output for 29 dosing scenarios and a time-varying covariate case.

Each input dataset is read with :func:`pkpd.read_nonmem`, simulated with the bundled model
``one_cmt_oral_nm`` (ADVAN2 TRANS2 with the conformance suite's lag, bioavailability and
modelled rate/duration) and compared record by record with NONMEM: relative difference below
1e-4 (NONMEM prints 5 significant digits), absolute below 1e-3 near zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pkpd

N_SCENARIOS = 29


@pytest.fixture(scope="module")
def nm_model():
    return pkpd.compile_model(pkpd.load_model("one_cmt_oral_nm"))


@pytest.fixture(scope="module")
def suite(shared_dir):
    return shared_dir / "conformance" / "nmtests"


@pytest.fixture(scope="module")
def dosing_result(nm_model, suite):
    data = pkpd.read_nonmem(suite / "dosing_1001.csv", model=nm_model.model,
                            covariates=["LAGT", "BIOAV", "RAT2", "DUR2"])
    ds = pkpd.simulate(nm_model, data, rtol=1e-10, atol=1e-12)
    ref = pd.read_csv(suite / "dosing_1001-nm.csv")
    return ds, ref


def test_the_suite_has_every_scenario(suite):
    key = pd.read_csv(suite / "dosing_1001-run-key.csv")
    assert list(key.ID) == list(range(1, N_SCENARIOS + 1))


def _assert_match(pred, ref, label):
    pred = np.asarray(pred, dtype=float)
    ref = np.asarray(ref, dtype=float)
    assert pred.shape == ref.shape, f"{label}: {pred.shape} records vs NONMEM {ref.shape}"
    tol = np.maximum(1e-4 * np.abs(ref), 1e-3)
    bad = np.flatnonzero(~(np.abs(pred - ref) <= tol))
    assert not len(bad), (f"{label}: {len(bad)} records differ, first at index {bad[0]}: "
                          f"pkpd {pred[bad[0]]} vs NONMEM {ref[bad[0]]}")


@pytest.mark.parametrize("scenario", range(1, N_SCENARIOS + 1))
def test_dosing_scenario_matches_nonmem(dosing_result, scenario):
    ds, ref = dosing_result
    mine = ds["CP"].values[ds["id"].values == scenario]
    theirs = ref.loc[ref.ID == scenario]
    np.testing.assert_array_equal(ds["time"].values[ds["id"].values == scenario], theirs.TIME)
    _assert_match(mine, theirs.CP, f"scenario {scenario}")


def test_time_varying_covariate_matches_nonmem(nm_model, suite):
    data = pkpd.read_nonmem(suite / "tv_2001.csv", model=nm_model.model,
                            covariates=["WT", "LAGT", "BIOAV", "RAT2", "DUR2"])
    ds = pkpd.simulate(nm_model, data, rtol=1e-10, atol=1e-12)
    ref = pd.read_csv(suite / "tv_2001-nm.csv")
    _assert_match(ds["CP"].values, ref.CP, "time-varying covariate")
