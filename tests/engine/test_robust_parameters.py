"""Parameters out of their physical range: extreme covariates, and volumes or clearances that a
covariate equation makes negative.

Before the check in ``simulate``: with ``CL = TVCL * (1 + THETA * (WT - 70))`` and the same
for V, a 40 kg subject (factor -0.5) got CL = -2.5 L/h and V = -25 L, a positive rate constant
and negative concentrations (-2.39 mg/L at 1 h), without a word; at 50 kg (factor 0) V = 0 and
the engine stopped with "non-finite state" without naming V.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pkpd
from pkpd.errors import DataError


def _linear_wt() -> pkpd.Model:
    mb = pkpd.ModelBuilder("robust_linear_wt", time_unit="h",
                           description="one compartment, CL and V linear in weight")
    depot, central = mb.states(depot="mg", central="mg")
    TVCL, TVV, KA, THETA, DCL = mb.parameters(TVCL="5 L/h", TVV="50 L", KA="1 1/h",
                                              THETA="0.05", DCL="-1 L/h")
    (WT,) = mb.covariates(WT={"unit": "kg", "default": 70.0})
    CL = mb.derive("CL", TVCL * (1 + THETA * (WT - 70)) + DCL, unit="L/h")
    V = mb.derive("V", TVV * (1 + THETA * (WT - 70)), unit="L")
    mb.ode(depot, -KA * depot)
    mb.ode(central, KA * depot - CL / V * central)
    mb.output("C", central / V, unit="mg/L")
    mb.route("PO", "depot")
    return mb.build()


@pytest.fixture(scope="module")
def linear_wt() -> pkpd.CompiledModel:
    return pkpd.compile_model(_linear_wt())


def bateman(t: np.ndarray, dose: float, cl: float, v: float, ka: float) -> np.ndarray:
    k = cl / v
    return dose * ka / (v * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t))


def test_negative_clearance_from_a_covariate_equation(linear_wt) -> None:
    """WT 40 kg: CL = 5 (1 - 1.5) - 1 = -3.5 L/h. The subject (ID 7, the second) and CL are
    named; DCL = -1 L/h, a model parameter used only in the CL equation, is a shift of either
    sign and is not refused itself."""
    patients = pd.DataFrame({"ID": [3, 7], "WT": [80.0, 40.0]})
    with pytest.raises(DataError, match=r"subject 7: clearance CL = -3\.5 L/h .*must not be "
                                        r"negative; CL = "):
        pkpd.simulate(linear_wt, "100 mg PO", patients, times=[1.0, 24.0])
    # the first subject alone: CL = 7.5 - 1 = 6.5 L/h, V = 75 L, against the Bateman function
    ds = pkpd.simulate(linear_wt, "100 mg PO", patients.iloc[:1], times=[1.0, 24.0])
    np.testing.assert_allclose(ds["C"].values[0], bateman(np.array([1.0, 24.0]), 100.0, 6.5,
                                                          75.0, 1.0), rtol=1e-9)


def test_zero_or_negative_volume(linear_wt) -> None:
    """WT 50 kg (DCL 0): V = 0 (before: "non-finite state" without naming V); a TVV given negative
    in params: V < 0 for every subject, the first named."""
    with pytest.raises(DataError, match=r"subject 1: volume V = 0 L .*must be positive"):
        pkpd.simulate(linear_wt, "100 mg PO", {"WT": [50.0]}, params={"DCL": [0.0]},
                      times=[1.0])
    with pytest.raises(DataError, match=r"subject 1: volume V = -50 L"):
        pkpd.simulate(linear_wt, "100 mg PO", params={"TVV": [-50.0, -40.0],
                                                      "DCL": [0.0, 0.0]}, times=[1.0])


def test_time_varying_covariate_names_the_record(linear_wt) -> None:
    """A dataset whose weight falls to 30 kg at 24 h: CL = 5 (1 - 2) - 1 = -6 L/h from that
    record on; the subject, the time and the record's covariates are named."""
    frame = pd.DataFrame({"ID": [1, 1, 1, 2, 2], "TIME": [0.0, 12.0, 24.0, 0.0, 24.0],
                          "EVID": [1, 0, 0, 1, 0], "AMT": [100.0, 0, 0, 100.0, 0],
                          "CMT": 1, "DV": 0.0, "WT": [70.0, 70.0, 70.0, 70.0, 30.0]})
    data = pkpd.read_nonmem(frame, covariates=["WT"])
    with pytest.raises(DataError, match=r"subject 2: clearance CL = -6 L/h at time 24 "
                                        r"\(record covariates WT = 30\)"):
        pkpd.simulate(linear_wt, data)


def test_extreme_weight(linear_wt) -> None:
    """A weight of 1e6 kg is refused where patients are checked (pkpd.Patient: plausible
    range 0.3-400 kg). In a plain table given to simulate no range is imposed: a positive
    weight gives positive parameters and the closed-form answer; a weight that makes a
    clearance negative is refused as above."""
    with pytest.raises(DataError, match=r"WT = 1e\+06 kg is outside 0\.3-400 kg"):
        pkpd.Patient(WT=1e6)
    ds = pkpd.simulate(linear_wt, "100 mg PO", {"WT": [1e6]}, times=[1.0, 24.0])
    factor = 1 + 0.05 * (1e6 - 70)
    np.testing.assert_allclose(ds["C"].values[0], bateman(np.array([1.0, 24.0]), 100.0,
                                                          5.0 * factor - 1.0, 50.0 * factor,
                                                          1.0), rtol=1e-9)
    with pytest.raises(DataError, match=r"clearance CL = -250014 L/h"):
        pkpd.simulate(linear_wt, "100 mg PO", {"WT": [-1e6]}, times=[1.0])
