"""Fits on data that cannot identify some parameters end with a clear status naming them.

Two cases whose truth is known without the fit:

* ``theophylline_1cmt`` (oral absorption, KA) fitted to doses given straight into the central
  compartment: no prediction depends on KA (checked below by simulating with two KA), so
  TVKA and omega(eta_KA) are not identifiable, and only they;
* one subject's levels sampled only long after an oral dose (exp(-KA t) below 1e-15): the
  levels are ``A exp(-k t)`` with ``k = CL/V`` and ``A = F D KA / (V (KA - k))``: two numbers
  for three parameters, the flat direction (d log CL, d log V, d log KA) = (-r, -r, 1) with
  ``r = k / (KA - k)``, almost pure KA.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import pkpd
from pkpd.errors import PkpdWarning
from pkpd.estimation._identifiability import identification
from pkpd.testing.datasets import simulated_oral

MODEL = "theophylline_1cmt"
TIMES = [0.5, 1, 2, 4, 8, 12, 24]
LATE = [24.0, 30.0, 36.0, 48.0]


def _into_central(n: int = 12, seed: int = 3) -> pd.DataFrame:
    """Subjects dosed 320 mg straight into the central compartment, as a NONMEM table."""
    cp = pkpd.simulate(MODEL, "320 mg into central", times=TIMES, n=n, seed=seed)["CP_obs"]
    k = len(TIMES) + 1
    frame = pd.DataFrame({"ID": np.repeat(np.arange(1, n + 1), k),
                          "TIME": np.tile([0.0, *TIMES], n),
                          "AMT": np.tile([320.0] + [0.0] * len(TIMES), n),
                          "EVID": np.tile([1] + [0] * len(TIMES), n), "CMT": 2})
    frame["DV"] = np.column_stack([np.zeros(n), cp[0].values]).ravel()
    return frame


@pytest.fixture(scope="module")
def compiled() -> pkpd.CompiledModel:
    return pkpd.compile_model(pkpd.load_model(MODEL))


def test_data_without_absorption_leave_ka_unidentified(compiled: pkpd.CompiledModel) -> None:
    # the truth: without a dose into the depot, the predictions do not depend on KA at all
    cps = [pkpd.simulate(compiled, "320 mg into central", times=TIMES,
                         params={"TVKA": ka, "eta_KA": eta})["CP"].values
           for ka, eta in ((1.5, 0.0), (0.2, 0.5))]
    np.testing.assert_allclose(*cps, rtol=1e-9)
    frame = _into_central()
    with pytest.warns(PkpdWarning, match=r"not identifiable: TVKA, omega\(eta_KA\)"):
        fit = pkpd.fit_population(compiled, frame)
    assert not fit.success
    assert "not identifiable: TVKA, omega(eta_KA)" in fit.status
    assert fit.details["identification"]["not_identifiable"] == ["TVKA", "omega(eta_KA)"]
    assert len(fit.warnings) == 1 and "condition number" in fit.warnings[0]
    # the identified parameters are still estimated (simulated: CL 2.8 L/h, V 32 L)
    assert abs(fit.estimates["TVCL"] / 2.8 - 1) < 0.2
    assert abs(fit.estimates["TVV"] / 32 - 1) < 0.2


def test_data_with_absorption_identify_everything(compiled: pkpd.CompiledModel) -> None:
    frame = simulated_oral(MODEL, 320, times=TIMES)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PkpdWarning)
        fit = pkpd.fit_population(compiled, frame)
    assert fit.success and fit.warnings == []
    assert fit.details["identification"]["not_identifiable"] == []
    assert 1 < fit.details["identification"]["condition_number"] < 1e6


def test_variance_collapsed_to_zero_is_reported_not_a_crash(
        compiled: pkpd.CompiledModel) -> None:
    """Late levels only, twenty subjects: omega(eta_V) goes to 0, where the objective is flat
    in its log (this used to end in a LinAlgError from the correlation matrix)."""
    frame = simulated_oral(MODEL, 320, times=LATE, n=20)
    with pytest.warns(PkpdWarning, match="not identifiable"):
        fit = pkpd.fit_population(compiled, frame)
    flagged = fit.details["identification"]["not_identifiable"]
    at_zero = [n for n in fit.estimated if n.startswith("omega(") and fit.estimates[n] < 1e-8]
    assert flagged == at_zero == ["omega(eta_V)"]
    assert not fit.success and "omega(eta_V) = " in fit.status
    assert "a variance at its bound 0" in fit.warnings[0]
    assert np.isfinite(fit.ofv) and fit.condition_number == np.inf


def test_late_levels_do_not_separate_ka(compiled: pkpd.CompiledModel) -> None:
    dv = pkpd.simulate(compiled, "320 mg PO", times=LATE)["CP"].values[0]
    with pytest.warns(PkpdWarning, match=r"not identifiable: eta_KA \("):
        fit = pkpd.fit_individual(compiled, "320 mg PO", levels={"TIME": LATE, "DV": dv},
                                  method="ml", check=False)
    assert not fit.success and "not identifiable: eta_KA (" in fit.message
    with pytest.raises(pkpd.EstimationError, match="not identifiable: eta_KA"):
        pkpd.fit_individual(compiled, "320 mg PO", levels={"TIME": LATE, "DV": dv},
                            method="ml")
    # with the absorption phase sampled, the same fit is determined
    early = pkpd.simulate(compiled, "320 mg PO", times=TIMES)["CP"].values[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", PkpdWarning)
        ok = pkpd.fit_individual(compiled, "320 mg PO", levels={"TIME": TIMES, "DV": early},
                                 method="ml")
    assert ok.success


def test_flat_direction_of_the_late_levels_is_the_analytic_one() -> None:
    """The closed form of the one-compartment oral model, differenced in (log CL, log V,
    log KA): the flat direction found is (-r, -r, 1), r = k / (KA - k)."""
    cl, v, ka, dose = 2.8, 32.0, 1.5, 320.0
    t = np.array(LATE)

    def conc(p: np.ndarray) -> np.ndarray:
        c, vv, a = np.exp(p)
        k = c / vv
        return dose * a / (vv * (a - k)) * (np.exp(-k * t) - np.exp(-a * t))

    p0, h = np.log([cl, v, ka]), 1e-6
    jac = np.column_stack([(conc(p0 + h * e) - conc(p0 - h * e)) / (2 * h)
                           for e in np.eye(3)])
    found = identification(jac.T @ jac, ["CL", "V", "KA"])
    assert found.names == ("KA",)
    k = cl / v
    r = k / (ka - k)
    truth = np.array([-r, -r, 1.0]) / np.sqrt(1 + 2 * r * r)
    (direction,) = found.directions
    assert abs(abs(direction @ truth) - 1) < 1e-6
