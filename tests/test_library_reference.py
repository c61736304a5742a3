"""The reference models of the library (the test, benchmark and validation models) against
closed forms; the models of the other suites are tested where they are used
(two_cmt_oral: tests/engine, theophylline_1cmt and warfarin_*: tests/estimation and the
validation scripts, one_cmt_oral_nm: the NONMEM conformance suite)."""

from __future__ import annotations

import numpy as np
import pytest

import pkpd
from pkpd.testing import analytic


@pytest.fixture(scope="module")
def infusion() -> pkpd.CompiledModel:
    return pkpd.compile_model(pkpd.load_model("infusion_1cmt"))


def test_infusion_1cmt_against_the_closed_form(infusion: pkpd.CompiledModel) -> None:
    # 60 mg (= 60 000 ug) over 1 h daily for 5 days, then 120 mg over 2 h; a patient with CL
    # and V away from the typical values (etas given)
    eta_cl, eta_v = 0.3, -0.2
    t = np.arange(0.0, 140.0, 0.25)
    ds = pkpd.simulate(infusion, "60 mg IV over 1 h q24h x 5, then 120 mg IV over 2 h",
                       params={"eta_CL": [eta_cl], "eta_V": [eta_v]}, times=t)
    doses = [(24.0 * i, 60_000.0, 1.0) for i in range(5)] + [(120.0, 120_000.0, 2.0)]
    ref = analytic.one_cmt_infusion(t, doses, CL=4.95 * np.exp(eta_cl), V=90.0 * np.exp(eta_v))
    got = ds["CP"].values[0]
    assert ds["CP"].attrs["units"] == "ug/L"
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9 * ref.max())
