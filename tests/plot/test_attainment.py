"""Target-attainment plots: one curve per regimen whose points are the fraction of the cohort
in the target window (checked against the fraction computed here and against the lognormal
closed form of the probability), the line at the required probability, the breakpoint in the
legend, and tables of PTA given by the caller."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import norm

import pkpd
from pkpd.errors import DataError
from pkpd.plot import target_attainment
from tests.plot._images import check_png, one

MICS = np.array([0.125, 0.25, 0.5, 1.0, 2.0, 4.0])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def lognormal_pta(mu: float, sigma: float, threshold: np.ndarray) -> np.ndarray:
    """P(X >= threshold) for log X ~ N(mu, sigma^2)."""
    return norm.sf((np.log(threshold) - mu) / sigma)


def test_pta_against_mic_from_a_cohort(tmp_path):
    rng = np.random.default_rng(11)
    n = 4000
    auc = {"1 g q12h": rng.lognormal(np.log(500.0), 0.3, n),
           "2 g q12h": rng.lognormal(np.log(1000.0), 0.3, n)}
    path = tmp_path / "pta_mic.png"
    mics = MICS[::-1]
    fig = target_attainment(auc, mic=mics, above=400, x_unit="mg/L", path=path)
    np.testing.assert_array_equal(mics, [4, 2, 1, 0.5, 0.25, 0.125])   # the caller's, as given
    check_png(path, tuple(fig.get_size_inches()))
    ax = fig.axes[0]
    for name, mu in (("1 g q12h", np.log(500.0)), ("2 g q12h", np.log(1000.0))):
        line = one(ax, f"pta {name}")
        np.testing.assert_array_equal(line.get_xdata(), MICS)          # sorted
        p = np.asarray(line.get_ydata())
        np.testing.assert_array_equal(p, [np.mean(auc[name] / m >= 400) for m in MICS])
        exact = lognormal_pta(mu, 0.3, 400 * MICS)
        assert np.all(np.abs(p - exact) <= 4 * np.sqrt(exact * (1 - exact) / n) + 1e-12)
    # breakpoints: PTA >= 90 % up to MIC 0.5 (1 g; exact PTA at 1 mg/L is 0.77) and 1 mg/L
    # (2 g; exact 0.99 at 1 and 0.23 at 2 mg/L)
    labels = ax.get_legend_handles_labels()[1]
    assert "1 g q12h (≥ 90 % up to MIC 0.5 mg/L)" in labels
    assert "2 g q12h (≥ 90 % up to MIC 1 mg/L)" in labels
    level = one(ax, "level")
    np.testing.assert_array_equal(level.get_ydata(), [0.9, 0.9])
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "MIC (mg/L)"


@pytest.fixture(scope="module")
def auc_by_dose() -> tuple[xr.DataArray, np.ndarray, np.ndarray]:
    """AUC0-480 h of 300 one-compartment subjects (etas on CL drawn here, given as fixed
    etas) after single IV doses; with CL = 5 exp(eta) L/h and V = 50 L the AUC is dose / CL
    (the remainder after 480 h is exp(-48) of it at most)."""
    cm = pkpd.compile_model(pkpd.load_model("one_cmt"))
    eta = np.random.default_rng(5).normal(0.0, 0.3, 300)
    cl = 5.0 * np.exp(eta)
    doses = np.array([50.0, 100.0, 200.0, 400.0])
    runs = [pkpd.simulate(cm, f"{d:g} mg IV", params={"eta_CL": eta}, times=[0.0, 480.0],
                          auc=True)["AUC_CP"].isel(time=-1, drop=True) for d in doses]
    auc = xr.concat(runs, dim="dose").assign_coords(dose=("dose", doses, {"units": "mg"}))
    np.testing.assert_allclose(auc.values, doses[:, None] / cl[None, :], rtol=1e-6)
    return auc, doses, cl


def test_pta_against_dose_from_simulated_auc(auc_by_dose, tmp_path):
    auc, doses, cl = auc_by_dose
    path = tmp_path / "pta_dose.png"
    fig = target_attainment(auc, above=20.0, level=0.8, path=path)
    check_png(path, tuple(fig.get_size_inches()))
    ax = fig.axes[0]
    line = one(ax, "pta PTA")
    np.testing.assert_array_equal(line.get_xdata(), doses)
    # independent: AUC = dose / CL >= 20 where CL <= dose / 20
    expected = [np.mean(cl <= d / 20.0) for d in doses]
    np.testing.assert_array_equal(line.get_ydata(), expected)
    exact = norm.cdf(np.log(doses / 20.0 / 5.0) / 0.3)
    assert np.all(np.abs(np.asarray(expected) - exact) <= 4 * np.sqrt(exact * (1 - exact)
                                                                       / 300) + 1e-12)
    assert ax.get_xlabel() == "dose (mg)" and ax.get_xscale() == "linear"
    np.testing.assert_array_equal(one(ax, "level").get_ydata(), [0.8, 0.8])
    assert any(lab.endswith("(≥ 80 % from dose 200 mg)")
               for lab in ax.get_legend_handles_labels()[1])


def test_a_window_and_regimens_as_a_dimension(auc_by_dose):
    auc, doses, cl = auc_by_dose
    both = xr.concat([auc, 2 * auc], dim="regimen").assign_coords(regimen=["q24h", "q12h"])
    fig = target_attainment(both, above=15.0, below=45.0)
    ax = fig.axes[0]
    for k, name in enumerate(("q24h", "q12h")):
        value = (k + 1) * doses[:, None] / cl[None, :]
        expected = np.mean((value >= 15.0) & (value <= 45.0), axis=1)
        np.testing.assert_allclose(one(ax, f"pta {name}").get_ydata(), expected, rtol=1e-12)


def test_nested_mapping_and_nan_counts_as_not_attained():
    metric = {"A": {10.0: [1.0, 2.0, np.nan, 4.0], 5.0: [0.5, 0.5, 3.0, 3.0]}}
    fig = target_attainment(metric, above=2.0)
    line = one(fig.axes[0], "pta A")
    np.testing.assert_array_equal(line.get_xdata(), [5.0, 10.0])
    np.testing.assert_array_equal(line.get_ydata(), [0.5, 0.5])


def test_a_table_given_by_the_caller(tmp_path):
    table = pd.DataFrame({"MIC": [1, 0.5, 2, 1, 0.5, 2],
                          "pta": [0.92, 0.99, 0.40, 0.99, 1.0, 0.93],
                          "regimen": ["1 g"] * 3 + ["2 g"] * 3})
    path = tmp_path / "table.png"
    fig = target_attainment(table, x_unit="mg/L", path=path, title="PTA table")
    check_png(path, tuple(fig.get_size_inches()))
    ax = fig.axes[0]
    a, b = one(ax, "pta 1 g"), one(ax, "pta 2 g")
    np.testing.assert_array_equal(a.get_xdata(), [0.5, 1, 2])
    np.testing.assert_array_equal(a.get_ydata(), [0.99, 0.92, 0.40])
    np.testing.assert_array_equal(b.get_ydata(), [1.0, 0.99, 0.93])
    labels = ax.get_legend_handles_labels()[1]
    assert "1 g (≥ 90 % up to MIC 1 mg/L)" in labels
    assert "2 g" in labels                    # above 90 % everywhere: no breakpoint shown
    assert ax.get_title() == "PTA table"


@settings(max_examples=20, deadline=None)
@given(arrays(np.float64, 25, elements=st.floats(1e-3, 1e4)),
       st.lists(st.floats(0.01, 64.0), min_size=2, max_size=6, unique=True),
       st.floats(1.0, 1000.0))
def test_pta_against_mic_is_the_fraction_and_never_rises(metric, mics, above):
    """For any cohort, the curve is the fraction with metric / MIC >= target at each MIC,
    and it does not increase with the MIC."""
    fig = target_attainment({"A": metric}, mic=mics, above=above)
    line = one(fig.axes[0], "pta A")
    m = np.sort(mics)
    np.testing.assert_array_equal(line.get_xdata(), m)
    p = np.asarray(line.get_ydata())
    np.testing.assert_array_equal(p, [np.count_nonzero(metric / x >= above) / 25 for x in m])
    assert np.all(np.diff(p) <= 0)
    plt.close(fig)


def test_bad_arguments():
    with pytest.raises(DataError, match="fractions"):
        target_attainment(pd.DataFrame({"dose": [1, 2], "pta": [50, 95]}))
    with pytest.raises(DataError, match="columns"):
        target_attainment(pd.DataFrame({"x": [1, 2], "p": [0.5, 0.9]}))
    with pytest.raises(DataError, match="above"):
        target_attainment({"A": np.ones(3)}, mic=[1.0])
    with pytest.raises(DataError, match="positive"):
        target_attainment({"A": np.ones(3)}, mic=[0.0, 1.0], above=1)
    with pytest.raises(DataError, match="level"):
        target_attainment({"A": np.ones(3)}, mic=[1.0], above=1, level=90)
