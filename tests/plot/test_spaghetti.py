"""Spaghetti plots: one line per curve with the curve's values (each checked against the
closed form of a one-compartment IV bolus at its clearance), the median of all curves on top,
colours from a continuous covariate (colour map and colour bar) or a categorical one (one
colour and legend entry per value)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pkpd
from pkpd.errors import DataError
from pkpd.plot import spaghetti
from tests.plot._images import by_gid, check_png, one

TIMES = np.arange(0.0, 24.0 + 1e-9, 0.5)
N = 12


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def cohort() -> xr.Dataset:
    """12 subjects of known clearance (no sampling) on 100 mg IV at 0 and 12 h, with their
    weight and sex as coordinates."""
    cm = pkpd.compile_model(pkpd.load_model("one_cmt"))
    cl = np.linspace(2.0, 9.0, N)
    ds = pkpd.simulate(cm, "100 mg IV q12h x 2", params={"TVCL": cl}, times=TIMES)
    return ds.assign_coords(WT=("id", np.linspace(45.0, 120.0, N), {"units": "kg"}),
                            SEX=("id", np.arange(N) % 2), CL=("id", cl))


def bolus(t: np.ndarray, cl: float, v: float = 50.0, dose: float = 100.0) -> np.ndarray:
    return sum(np.where(t >= td, dose / v * np.exp(-cl / v * (t - td)), 0.0) for td in (0, 12))


def test_curves_and_median(cohort, tmp_path):
    path = tmp_path / "spaghetti.png"
    fig = spaghetti(cohort, "CP", doses="100 mg IV q12h x 2", title="12 subjects", path=path)
    check_png(path, tuple(fig.get_size_inches()))
    ax = fig.axes[0]
    lines = by_gid(ax, "individual")
    assert len(lines) == N
    for line, cl in zip(lines, cohort["CL"].values, strict=True):
        np.testing.assert_array_equal(line.get_xdata(), TIMES)
        np.testing.assert_allclose(line.get_ydata(), bolus(TIMES, cl), rtol=1e-6, atol=1e-9)
    median = one(ax, "median")
    np.testing.assert_allclose(median.get_ydata(), np.median(cohort["CP"].values, axis=0),
                               rtol=1e-13)
    assert median.get_zorder() > max(ln.get_zorder() for ln in lines)      # on top
    np.testing.assert_array_equal(one(ax, "doses").get_xdata(), [0.0, 12.0])
    assert ax.get_ylabel() == "CP (mg/L)" and ax.get_xlabel() == "time (h)"
    assert ax.get_title() == "12 subjects"


def test_coloured_by_a_continuous_covariate(cohort, tmp_path):
    path = tmp_path / "wt.png"
    fig = spaghetti(cohort, "CP", color_by="WT", cmap="viridis", path=path)
    check_png(path, tuple(fig.get_size_inches()))
    ax, bar = fig.axes
    assert bar.get_ylabel() == "WT (kg)"
    wt = cohort["WT"].values
    norm = mpl.colors.Normalize(wt.min(), wt.max())
    for line, w in zip(by_gid(ax, "individual"), wt, strict=True):
        np.testing.assert_allclose(mpl.colors.to_rgb(line.get_color()),
                                   mpl.colormaps["viridis"](norm(w))[:3], atol=1e-12)


def test_coloured_by_a_categorical_covariate(cohort):
    fig = spaghetti(cohort, "CP", color_by="SEX", log=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    colours = [mpl.colors.to_rgb(ln.get_color()) for ln in by_gid(ax, "individual")]
    sex = cohort["SEX"].values
    for value in (0, 1):
        assert len({colours[i] for i in np.flatnonzero(sex == value)}) == 1
    assert colours[0] != colours[1]
    labels = fig.legends[0].get_texts()
    assert [t.get_text() for t in labels][:2] == ["SEX = 0", "SEX = 1"]


@pytest.mark.parametrize("form", ["array", "dict", "series"])
def test_covariate_given_as_values(cohort, form):
    wt = cohort["WT"].values
    ids = cohort["id"].values
    given = {"array": wt, "dict": dict(zip(ids, wt, strict=True)),
             "series": pd.Series(wt, index=ids)}[form]
    ref = spaghetti(cohort, "CP", color_by="WT")
    fig = spaghetti(cohort, "CP", color_by=given)
    for a, b in zip(by_gid(fig.axes[0], "individual"), by_gid(ref.axes[0], "individual"),
                    strict=True):
        assert mpl.colors.to_rgba(a.get_color()) == mpl.colors.to_rgba(b.get_color())


def test_samples_and_max_curves():
    """With a sample dimension every (id, sample) curve counts; at most ``max_curves`` are
    drawn, the median is over all; a per-subject covariate is repeated over its samples."""
    t = np.arange(5.0)
    rng = np.random.default_rng(4)
    values = rng.lognormal(size=(3, 20, 5))
    ds = xr.Dataset({"CP": (("id", "sample", "time"), values, {"units": "mg/L"})},
                    coords={"id": [1, 2, 3], "time": ("time", t, {"units": "h"}),
                            "GROUP": ("id", ["a", "b", "b"])})
    fig = spaghetti(ds, "CP", color_by="GROUP", max_curves=30)
    ax = fig.axes[0]
    lines = by_gid(ax, "individual")
    assert len(lines) == 30
    np.testing.assert_allclose(one(ax, "median").get_ydata(),
                               np.median(values.reshape(60, 5), axis=0), rtol=1e-13)
    flat = values.reshape(60, 5)
    picked = np.unique(np.linspace(0, 59, 30).round().astype(int))
    for line, i in zip(lines, picked, strict=True):
        np.testing.assert_array_equal(line.get_ydata(), flat[i])
    group = np.repeat(["a", "b", "b"], 20)
    colour = {g: {mpl.colors.to_rgb(ln.get_color()) for ln, i in zip(lines, picked,
                                                                     strict=True)
                  if group[i] == g} for g in "ab"}
    assert len(colour["a"]) == 1 and len(colour["b"]) == 1 and colour["a"] != colour["b"]


def test_observed_and_target(cohort):
    obs = pd.DataFrame({"TIME": [1.0, 13.0], "DV": [1.5, 2.2]})
    fig = spaghetti(cohort, "CP", observed=obs, target=(1.0, 2.0))
    ax = fig.axes[0]
    np.testing.assert_array_equal(one(ax, "observed").get_offsets(), obs.to_numpy())
    assert len(by_gid(ax, "target")) == 1


def test_bad_arguments(cohort):
    with pytest.raises(DataError, match="not in the result"):
        spaghetti(cohort, "XX")
    with pytest.raises(DataError, match="color_by"):
        spaghetti(cohort, "CP", color_by="AGE")
    with pytest.raises(DataError, match="values for"):
        spaghetti(cohort, "CP", color_by=[1.0, 2.0])
    with pytest.raises(DataError, match="max_curves"):
        spaghetti(cohort, "CP", max_curves=0)
