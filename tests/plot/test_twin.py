"""The patient-twin plot: from a fit of one_cmt (IV boluses) to three levels, the individual
prediction is the closed form C(t) = sum D / V exp(-CL / V (t - t_dose)) at the estimated CL
and V; the posterior band holds the percentiles of the closed form over the posterior draws;
the prior band those of an independent Monte Carlo of the population (etas from omega); the
measured levels, dose times and the start of a new regimen are where they were given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pkpd
from pkpd.errors import DataError
from pkpd.plot import twin
from tests.plot._images import by_gid, check_png, one, polygon_matches

# models/one_cmt.toml: TVCL 5 L/h, TVV 50 L, omega eta_CL 0.09, eta_V 0.04
TVCL, TVV, OMEGA_CL, OMEGA_V = 5.0, 50.0, 0.09, 0.04
LEVELS = pd.DataFrame({"TIME": [1.0, 6.0, 20.0], "DV": [1.6, 0.9, 1.1]})


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fit(tmp_path_factory):
    """The MAP fit of a patient with 100 mg IV boluses at 0 and 12 h and three levels."""
    cm = pkpd.compile_model(pkpd.load_model("one_cmt"))
    csv = tmp_path_factory.mktemp("twin") / "patient.csv"
    csv.write_text("ID,TIME,AMT,EVID,CMT,DV,MDV\n1,0,100,1,2,,1\n1,1,0,0,2,1.6,0\n"
                   "1,6,0,0,2,0.9,0\n1,12,100,1,2,,1\n1,20,0,0,2,1.1,0\n")
    data = pkpd.read_nonmem(csv, model=cm.model)
    result = pkpd.fit_individual(cm, data)
    assert result.success
    return result


def bolus(t: np.ndarray, cl: np.ndarray | float, v: np.ndarray | float,
          dose_times, dose: float = 100.0) -> np.ndarray:
    """Closed form for one CL, V (shape of t) or many (rows)."""
    cl, v = np.atleast_1d(cl)[:, None], np.atleast_1d(v)[:, None]
    c = sum(np.where(t >= td, dose / v * np.exp(-cl / v * (t - td)), 0.0) for td in dose_times)
    return c[0] if c.shape[0] == 1 else c


def test_history_prior_and_posterior(fit, tmp_path):
    times = np.linspace(0.0, 24.0, 97)
    n, seed = 2000, 3
    path = tmp_path / "twin.png"
    fig = twin(fit, times=times, n=n, seed=seed, target=(1.0, 2.0), path=path)
    check_png(path, tuple(fig.get_size_inches()))
    ax = fig.axes[0]
    # the individual prediction at the estimates
    cl, v = fit.individual["CL"], fit.individual["V"]
    np.testing.assert_allclose(one(ax, "posterior").get_ydata(),
                               bolus(times, cl, v, (0, 12)), rtol=1e-6, atol=1e-9)
    # the posterior band: percentiles over the same draws, each curve by the closed form
    draws = fit.sample(n, seed)
    curves = bolus(times, TVCL * np.exp(draws["eta_CL"]), TVV * np.exp(draws["eta_V"]),
                   (0, 12))
    polygon_matches(one(ax, "posterior band"), times, np.percentile(curves, 5, axis=0),
                    np.percentile(curves, 95, axis=0), rtol=1e-5)
    # the prior band: against 200 000 patients of the population drawn here
    rng = np.random.default_rng(0)
    eta = rng.multivariate_normal([0, 0], np.diag([OMEGA_CL, OMEGA_V]), 200_000)
    pick = np.array([4, 24, 80])                                # 1, 6 and 20 h
    pop = bolus(times[pick], TVCL * np.exp(eta[:, 0]), TVV * np.exp(eta[:, 1]), (0, 12))
    verts = np.concatenate([p.vertices for p in one(ax, "prior band").get_paths()])
    for i, t in zip(pick, times[pick], strict=True):
        at = np.sort(np.unique(verts[verts[:, 0] == t, 1]))
        ref = np.percentile(pop[:, list(pick).index(i)], [5, 95])
        np.testing.assert_allclose(at, ref, rtol=0.06)
    med = one(ax, "prior median").get_ydata()[pick]
    np.testing.assert_allclose(med, np.median(pop, axis=0), rtol=0.03)
    # the levels, the doses, the target, the labels
    np.testing.assert_array_equal(one(ax, "observed").get_offsets(), LEVELS.to_numpy())
    np.testing.assert_array_equal(one(ax, "doses").get_xdata(), [0.0, 12.0])
    assert len(by_gid(ax, "target")) == 1
    assert ax.get_ylabel() == "CP (mg/L)" and ax.get_xlabel() == "time (h)"
    assert "3 levels" in ax.get_title()


def test_new_regimen_after_the_history(fit):
    fig = twin(fit, regimen="100 mg IV q12h x 4", start="24 h", times="0..72 h by 0.5 h",
               n=200, seed=1, log=True)
    ax = fig.axes[0]
    t = np.arange(0.0, 72.0 + 1e-9, 0.5)
    dose_times = (0, 12, 24, 36, 48, 60)
    np.testing.assert_allclose(one(ax, "posterior").get_ydata(),
                               bolus(t, fit.individual["CL"], fit.individual["V"], dose_times),
                               rtol=1e-6)
    np.testing.assert_array_equal(one(ax, "doses").get_xdata(), dose_times)
    np.testing.assert_array_equal(one(ax, "start").get_xdata(), [24.0, 24.0])
    assert ax.get_yscale() == "log"


def test_regimen_from_time_zero_and_default_times(fit):
    fig = twin(fit, regimen="100 mg IV q24h x 2", n=100, seed=2)
    ax = fig.axes[0]
    line = one(ax, "posterior")
    t = np.asarray(line.get_xdata())
    assert t[0] == 0.0 and t[-1] == pytest.approx(1.2 * 24.0) and len(t) == 400
    np.testing.assert_allclose(line.get_ydata(),
                               bolus(t, fit.individual["CL"], fit.individual["V"], (0, 24)),
                               rtol=1e-6, atol=1e-9)


def test_prior_and_posterior_datasets(tmp_path):
    t = np.linspace(0.0, 24.0, 25)
    rng = np.random.default_rng(9)
    prior_y = 2.0 * np.exp(-np.outer(5 * rng.lognormal(0, 0.3, 300), t) / 50)
    post_y = 2.0 * np.exp(-np.outer(3 * rng.lognormal(0, 0.05, 300), t) / 50)
    coords = {"time": ("time", t, {"units": "h"})}
    prior = xr.Dataset({"CP": (("sample", "time"), prior_y, {"units": "mg/L"})}, coords=coords)
    post = xr.Dataset({"CP": (("sample", "time"), post_y, {"units": "mg/L"})}, coords=coords)
    path = tmp_path / "datasets.png"
    fig = twin(prior, post, observed=LEVELS, doses=[0.0], level=0.8, path=path)
    check_png(path, tuple(fig.get_size_inches()))
    ax = fig.axes[0]
    polygon_matches(one(ax, "prior band"), t, np.percentile(prior_y, 10, axis=0),
                    np.percentile(prior_y, 90, axis=0))
    polygon_matches(one(ax, "posterior band"), t, np.percentile(post_y, 10, axis=0),
                    np.percentile(post_y, 90, axis=0))
    np.testing.assert_allclose(one(ax, "posterior").get_ydata(), np.median(post_y, axis=0),
                               rtol=1e-13)
    np.testing.assert_allclose(one(ax, "prior median").get_ydata(),
                               np.median(prior_y, axis=0), rtol=1e-13)


def test_bad_arguments(fit):
    ds = xr.Dataset({"CP": (("sample", "time"), np.ones((3, 2)))}, coords={"time": [0.0, 1.0]})
    with pytest.raises(DataError, match="both"):
        twin(ds)
    with pytest.raises(DataError, match="fit alone"):
        twin(fit, ds)
    with pytest.raises(DataError, match="start"):
        twin(fit, start="24 h")
    with pytest.raises(DataError, match="level"):
        twin(ds, ds, level=90)
