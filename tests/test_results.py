"""Quantiles over subjects and exposure metrics, on numpy- and dask-backed results."""

from __future__ import annotations

import dask
import numpy as np
import pytest
import xarray as xr

import pkpd
from pkpd.results import exposure, quantiles
from pkpd.scale import simulate_chunked
from pkpd.units import convert

REGIMEN = "500 mg PO q12h x 4"
TIMES = "0..60 h by 0.5 h"


@pytest.fixture(scope="module")
def cohort() -> tuple[xr.Dataset, xr.Dataset]:
    """The same cohort in memory and chunked (dask)."""
    cm = pkpd.compile_model(pkpd.load_model("two_cmt_oral"))
    rng = np.random.default_rng(5)
    params = {"eta_CL": rng.normal(0, 0.3, 40), "eta_KA": rng.normal(0, 0.4, 40)}
    ref = pkpd.simulate(cm, REGIMEN, params=params, times=TIMES)
    lazy = simulate_chunked(cm, REGIMEN, params=params, times=TIMES, chunks=7)
    return ref, lazy


@pytest.fixture(scope="module")
def bolus() -> tuple[xr.Dataset, dict[str, np.ndarray]]:
    """One-compartment IV bolus of 100 mg, finely sampled, two subjects."""
    cm = pkpd.compile_model(pkpd.load_model("one_cmt_oral_nm"))
    params = {"TVCL": np.array([1.1, 2.5]), "TVV": np.array([20.0, 35.0])}
    ds = pkpd.simulate(cm, "100 mg IV", params=params, times="0..240 h by 0.05 h")
    return ds, params


def test_quantiles_dask_equals_numpy_and_stays_lazy(cohort):
    ref, lazy = cohort
    q = (0.05, 0.5, 0.95)
    lazy_q = quantiles(lazy["CP"], q)
    assert dask.is_dask_collection(lazy_q)
    eager_q = quantiles(ref["CP"], q)
    assert eager_q.dims == ("quantile", "time") and eager_q.attrs["units"] == "mg/L"
    xr.testing.assert_allclose(lazy_q.compute(), eager_q, rtol=1e-14, atol=0)
    # independent reference: numpy's quantile over subjects
    np.testing.assert_allclose(eager_q.values, np.quantile(ref["CP"].values, q, axis=0),
                               rtol=1e-13, atol=0)


def test_quantiles_over_time_and_bad_input():
    da = xr.DataArray(np.arange(12.0).reshape(3, 4), dims=("id", "time")).chunk({"id": 1})
    np.testing.assert_allclose(quantiles(da, 0.5, dim="time").values, [1.5, 5.5, 9.5])
    with pytest.raises(pkpd.DataError, match="'subject'"):
        quantiles(da, dim="subject")
    with pytest.raises(pkpd.DataError, match="probabilities"):
        quantiles(da, q=(0.5, 95))


def test_exposure_dask_equals_numpy_and_stays_lazy(cohort):
    ref, lazy = cohort
    kwargs = {"start": "36 h", "end": 48.0, "threshold": "6 mg/L"}
    lazy_e = exposure(lazy["CP"], **kwargs)
    assert all(dask.is_dask_collection(lazy_e[v]) for v in lazy_e.data_vars)
    eager_e = exposure(ref["CP"], **kwargs)
    computed = lazy_e.compute()
    xr.testing.assert_identical(computed, eager_e)
    for v in eager_e.data_vars:
        np.testing.assert_array_equal(computed[v].values, eager_e[v].values)
    assert eager_e.attrs == {"start": 36.0, "end": 48.0}
    assert {v: eager_e[v].attrs["units"] for v in eager_e.data_vars} == {
        "cmax": "mg/L", "tmax": "h", "cmin": "mg/L", "auc": "mg/L*h", "time_above": "h"}


def test_exposure_of_iv_bolus_against_closed_forms(bolus):
    ds, params = bolus
    cp = ds["CP"]
    e = exposure(cp, threshold="500 ug/L")
    dose, cl, v = 100.0, params["TVCL"], params["TVV"]  # mg, L/h, L
    k, h, horizon = cl / v, 0.05, 240.0
    # AUC(0..T) = Dose/CL * (1 - exp(-kT)); the trapezoid over a grid of step h sums a
    # geometric series: it is the exact area times (kh/2) / tanh(kh/2) ~ 1 + (kh)^2/12
    auc = np.array([convert(f"{a} {e['auc'].attrs['units']}", "mg*h/L") for a in e["auc"].values])
    exact = dose / cl * (1 - np.exp(-k * horizon))
    np.testing.assert_allclose(auc, exact, rtol=(h * k).max() ** 2 / 12 * 1.01)
    np.testing.assert_allclose(auc, exact * (k * h / 2) / np.tanh(k * h / 2), rtol=1e-8)
    # the bolus is in before the observation at time 0: maximum D/V at 0, minimum at the end
    cmax = [convert(f"{c} {cp.attrs['units']}", "mg/L") for c in e["cmax"].values]
    np.testing.assert_allclose(cmax, dose / v, rtol=1e-9)
    np.testing.assert_array_equal(e["tmax"].values, [0.0, 0.0])
    cmin = [convert(f"{c} {cp.attrs['units']}", "mg/L") for c in e["cmin"].values]
    np.testing.assert_allclose(cmin, dose / v * np.exp(-k * horizon), rtol=1e-4, atol=1e-7)
    # C(t) = D/V exp(-kt) is above 0.5 mg/L until ln(D/V / 0.5) / k; the chord of the convex
    # curve crosses later by at most h^2 k / 8, the solver's tolerance adds ~1e-6/k
    crossing = np.log(dose / v / 0.5) / k
    np.testing.assert_allclose(e["time_above"].values, crossing, atol=1e-4)


def test_exposure_of_piecewise_linear_curves_is_exact():
    t = xr.DataArray([0.0, 1.0, 2.0, 3.0, 4.0], dims="time", attrs={"units": "h"})
    c = xr.DataArray([[0.0, 10.0, 0.0, 0.0, 4.0],      # a triangle, then a rise
                      [6.0, 6.0, 6.0, 6.0, 6.0],       # flat above the level
                      [5.0, 5.0, 5.0, 5.0, 5.0],       # flat at the level: not above it
                      [1.0, 2.0, np.nan, 2.0, 1.0]],   # a missing value
                     dims=("id", "time"), coords={"id": [1, 2, 3, 4], "time": t},
                     attrs={"units": "mg/L"})
    for da in (c, c.chunk({"id": 2})):
        e = exposure(da, threshold=5.0).compute()
        np.testing.assert_array_equal(e["time_above"].values, [1.0, 4.0, 0.0, np.nan])
        np.testing.assert_array_equal(e["auc"].values, [12.0, 24.0, 20.0, np.nan])
        np.testing.assert_array_equal(e["cmax"].values, [10.0, 6.0, 5.0, np.nan])
        np.testing.assert_array_equal(e["tmax"].values, [1.0, 0.0, 0.0, np.nan])
        np.testing.assert_array_equal(e["cmin"].values, [0.0, 6.0, 5.0, np.nan])
        # a window on grid points: the rise from 3 h to 4 h only
        w = exposure(da, start="180 min", end=4, threshold="3000 ug/L").compute()
        np.testing.assert_array_equal(w["auc"].values, [2.0, 6.0, 5.0, 1.5])
        np.testing.assert_array_equal(w["time_above"].values, [0.25, 1.0, 1.0, 0.0])


def test_exposure_bad_input():
    t = xr.DataArray([0.0, 1.0, 2.0], dims="time", attrs={"units": "h"})
    c = xr.DataArray([[1.0, 2.0, 3.0]], dims=("id", "time"), coords={"time": t},
                     attrs={"units": "mg/L"})
    with pytest.raises(pkpd.DataError, match="at least two"):
        exposure(c, start=1.5)
    with pytest.raises(pkpd.UnitError, match="start"):
        exposure(c, start="3 kg")
    with pytest.raises(pkpd.UnitError, match="threshold"):
        exposure(c, threshold="2 h")
    with pytest.raises(pkpd.DataError, match="'time'"):
        exposure(c.rename(time="t"))
