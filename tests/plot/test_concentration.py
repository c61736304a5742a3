"""Concentration-time plots: the PNG is rendered, and the figure shows the data given: the
median and percentile bands of the curves, the observed levels, the dose times, the target
window, the units and the log axis. The curves themselves are checked against the closed form
of a one-compartment IV bolus, C(t) = sum over doses of D / V exp(-CL / V (t - t_dose))."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import pkpd
from pkpd.errors import DataError
from pkpd.plot import concentration_time
from tests.plot._images import by_gid, check_png, one, polygon_matches

TIMES = np.arange(0.0, 36.0 + 1e-9, 0.5)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def one_cmt():
    return pkpd.compile_model(pkpd.load_model("one_cmt"))


@pytest.fixture(scope="module")
def cohort(one_cmt) -> xr.Dataset:
    """40 virtual patients (IIV only) on 100 mg IV bolus every 12 h, 3 doses."""
    return pkpd.simulate(one_cmt, "100 mg IV q12h x 3", times=TIMES, n=40, seed=7,
                         variability=("iiv",))


def bolus(t: np.ndarray, dose: float, cl: float, v: float, dose_times) -> np.ndarray:
    """Closed form of a one-compartment model after IV boluses (superposition)."""
    c = np.zeros_like(t)
    for td in dose_times:
        c += np.where(t >= td, dose / v * np.exp(-cl / v * (t - td)), 0.0)
    return c


def test_png_median_and_bands_of_a_cohort(cohort, tmp_path):
    path = tmp_path / "ct.png"
    fig = concentration_time(cohort, variables="CP", title="cohort", path=path,
                             bands=[(5, 95), (25, 75)])
    check_png(path, tuple(fig.get_size_inches()))
    ax = fig.axes[0]
    y = cohort["CP"].values.reshape(-1, len(TIMES))     # (id, sample) flattened
    assert y.shape == (40, len(TIMES))
    median = one(ax, "median")
    np.testing.assert_array_equal(median.get_xdata(), TIMES)
    np.testing.assert_allclose(median.get_ydata(), np.median(y, axis=0), rtol=1e-13)
    for lo, hi in ((5, 95), (25, 75)):
        band = one(ax, f"band {lo}-{hi}")
        polygon_matches(band, TIMES, np.percentile(y, lo, axis=0),
                        np.percentile(y, hi, axis=0))
    assert by_gid(ax, "individual") == []          # bands only, by default from 5 curves


def test_custom_bands_and_individual_curves(cohort):
    fig = concentration_time(cohort, variables=["CP"], bands=[(10, 90)], individual=True)
    ax = fig.axes[0]
    y = cohort["CP"].values.reshape(-1, len(TIMES))
    polygon_matches(one(ax, "band 10-90"), TIMES, np.percentile(y, 10, axis=0),
                    np.percentile(y, 90, axis=0))
    assert by_gid(ax, "band 5-95") == []
    lines = by_gid(ax, "individual")
    assert len(lines) == 40
    for line, curve in zip(lines, y, strict=True):
        np.testing.assert_array_equal(line.get_ydata(), curve)


def test_one_subject_is_the_closed_form(one_cmt):
    """A single subject at typical values: one line, equal to the closed form (CL 5 L/h,
    V 50 L of models/one_cmt.toml); axis labels carry the units of the result."""
    ds = pkpd.simulate(one_cmt, "100 mg IV q12h x 3", times=TIMES)
    fig = concentration_time(ds)
    ax = fig.axes[0]
    line = one(ax, "prediction")
    np.testing.assert_allclose(line.get_ydata(), bolus(TIMES, 100.0, 5.0, 50.0, (0, 12, 24)),
                               rtol=1e-6, atol=1e-9)
    assert ax.get_ylabel() == "CP (mg/L)"
    assert ax.get_xlabel() == "time (h)"
    assert ax.get_yscale() == "linear"


def test_few_subjects_one_line_each_as_before(one_cmt, tmp_path):
    """Three patients (the command line's use): one coloured, labelled line per subject,
    each the closed form at its clearance."""
    cls = [3.0, 5.0, 8.0]
    ds = pkpd.simulate(one_cmt, "100 mg IV q12h x 3", params={"TVCL": cls}, times=TIMES)
    path = tmp_path / "three.png"
    fig = concentration_time(ds, title="three patients", path=path)
    check_png(path, tuple(fig.get_size_inches()))
    ax = fig.axes[0]
    lines = by_gid(ax, "individual")
    assert [ln.get_label() for ln in lines] == ["ID 1", "ID 2", "ID 3"]
    for line, cl in zip(lines, cls, strict=True):
        np.testing.assert_allclose(line.get_ydata(), bolus(TIMES, 100, cl, 50, (0, 12, 24)),
                                   rtol=1e-6, atol=1e-9)
    assert by_gid(ax, "median") == []
    assert fig._suptitle.get_text() == "three patients"
    # each subject's levels in the colour of its line
    obs = pd.DataFrame({"ID": [3, 1, 3], "TIME": [2.0, 4.0, 14.0], "DV": [1.0, 1.5, 1.2]})
    fig = concentration_time(ds, observed=obs)
    lines = by_gid(fig.axes[0], "individual")
    points = one(fig.axes[0], "observed").get_facecolors()
    for k, subject in enumerate(obs["ID"]):
        np.testing.assert_allclose(points[k], mpl.colors.to_rgba(lines[subject - 1].get_color()))


def test_observed_points_per_id_and_blq(cohort):
    obs = pd.DataFrame({"ID": [1, 1, 2, 2, 3], "TIME": [1.0, 11.5, 13.0, 23.5, 30.0],
                        "DV": [1.7, 0.6, 2.1, 0.9, 0.05], "BLQ": [0, 0, 0, 0, 1],
                        "LLOQ": [0.1] * 5})
    fig = concentration_time(cohort, variables="CP", observed=obs)
    ax = fig.axes[0]
    pts = one(ax, "observed")
    np.testing.assert_array_equal(pts.get_offsets(), obs[["TIME", "DV"]].to_numpy()[:4])
    colours = pts.get_facecolors()
    assert len(colours) == 4
    np.testing.assert_array_equal(colours[0], colours[1])          # same subject
    assert not np.array_equal(colours[1], colours[2])              # another subject
    blq = one(ax, "BLQ")
    np.testing.assert_array_equal(blq.get_offsets(), [[30.0, 0.1]])   # drawn at the LLOQ


def test_observed_of_a_nonmem_dataset_by_output(one_cmt, tmp_path):
    """A dataset's observations (MDV 1 rows and doses left out); with states the amounts get
    their own panel, in mg, and the levels only the CP panel (their OUTPUT)."""
    csv = tmp_path / "d.csv"
    csv.write_text("ID,TIME,AMT,EVID,CMT,DV,MDV\n1,0,100,1,2,,1\n1,2,0,0,2,1.5,0\n"
                   "1,8,0,0,2,0.8,0\n1,12,100,1,2,,1\n1,20,0,0,2,1.1,0\n")
    data = pkpd.read_nonmem(csv, model=one_cmt.model)
    ds = pkpd.simulate(one_cmt, "100 mg IV q12h x 3", times=TIMES, n=10, seed=1,
                       variability=("iiv",), states=True)
    frame = data.observations.assign(OUTPUT="CP")
    fig = concentration_time(ds, variables=["CP", "central"], observed=frame, doses=data)
    ax_cp, ax_amount = fig.axes[:2]
    np.testing.assert_array_equal(one(ax_cp, "observed").get_offsets(),
                                  [[2.0, 1.5], [8.0, 0.8], [20.0, 1.1]])
    assert by_gid(ax_amount, "observed") == []
    assert ax_amount.get_ylabel() == "central (mg)"
    for ax in (ax_cp, ax_amount):
        np.testing.assert_array_equal(one(ax, "doses").get_xdata(), [0.0, 12.0])
    # without an OUTPUT column the levels go on the first panel only
    fig = concentration_time(ds, variables=["CP", "central"], observed=data)
    assert len(by_gid(fig.axes[0], "observed")) == 1 and by_gid(fig.axes[1], "observed") == []


@pytest.mark.parametrize(("doses", "starts", "ends"), [
    ("100 mg IV over 1 h q12h x 3", [0, 12, 24], [1, 13, 25]),
    ("100 mg IV q12h x 3", [0, 12, 24], [0, 12, 24]),
    ([0, "0.5 d", "24 h"], [0, 12, 24], [0, 12, 24]),
    (np.array([6.0, 18.0]), [6, 18], [6, 18]),
])
def test_dose_markers_at_the_dose_times(cohort, doses, starts, ends):
    fig = concentration_time(cohort, variables="CP", doses=doses)
    ax = fig.axes[0]
    np.testing.assert_allclose(one(ax, "doses").get_xdata(), starts)
    infusions = by_gid(ax, "infusions")
    if np.array_equal(starts, ends):
        assert infusions == []
    else:
        segs = np.array(one(ax, "infusions").get_segments())
        np.testing.assert_allclose(segs[:, :, 0], np.c_[starts, ends])


def test_dose_markers_from_records_with_addl_and_from_attributes(cohort):
    table = pkpd.EventTable(ids=[1], offsets=[0, 1], time=[0.0], evid=[1], amt=[100.0],
                            cmt=[2], rate=[50.0], ii=[12.0], addl=[2], ss=[0])
    fig = concentration_time(cohort, variables="CP", doses=table)
    np.testing.assert_allclose(one(fig.axes[0], "doses").get_xdata(), [0, 12, 24])
    segs = np.array(one(fig.axes[0], "infusions").get_segments())
    np.testing.assert_allclose(segs[:, :, 0], [[0, 2], [12, 14], [24, 26]])   # 100 / 50 h
    tagged = cohort.assign_attrs(dose_times=[0.0, 12.0, 24.0])
    fig = concentration_time(tagged, variables="CP")
    np.testing.assert_allclose(one(fig.axes[0], "doses").get_xdata(), [0, 12, 24])
    fig = concentration_time(cohort, variables="CP")
    assert by_gid(fig.axes[0], "doses") == []


def test_log_axis_and_target_window(one_cmt, tmp_path):
    ds = pkpd.simulate(one_cmt, "100 mg PO q12h x 3", times=TIMES, n=30, seed=2,
                       variability=("iiv",))
    path = tmp_path / "log.png"
    fig = concentration_time(ds, variables="CP", log=True, target=(0.5, 1.5), path=path)
    check_png(path, tuple(fig.get_size_inches()))
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    med = one(ax, "median").get_ydata()
    assert np.isnan(med[0])                       # oral: 0 at time 0, not shown on a log axis
    y = ds["CP"].values.reshape(-1, len(TIMES))
    np.testing.assert_allclose(med[1:], np.median(y, axis=0)[1:], rtol=1e-13)
    lo, hi = ax.get_ylim()
    assert 0 < lo < np.percentile(y[:, 1:], 5, axis=0).min() and hi > y.max() / 2
    span = one(ax, "target")
    ys = span.get_path().transformed(span.get_patch_transform()).vertices[:, 1]
    np.testing.assert_allclose(sorted(set(np.round(ys, 12))), [0.5, 1.5])
    assert "target 0.5 - 1.5 mg/L" in ax.get_legend_handles_labels()[1]


def test_target_given_as_quantities_is_converted(cohort):
    fig = concentration_time(cohort, variables="CP", target=("500 ug/L", "1.5 mg/L"))
    span = one(fig.axes[0], "target")
    ys = span.get_path().transformed(span.get_patch_transform()).vertices[:, 1]
    np.testing.assert_allclose(sorted(set(np.round(ys, 12))), [0.5, 1.5])


def test_open_target_is_a_line(cohort):
    fig = concentration_time(cohort, variables="CP", target=(1.0, None))
    line = one(fig.axes[0], "target")
    np.testing.assert_array_equal(line.get_ydata(), [1.0, 1.0])
    assert line.get_label() == "≥ target 1 mg/L"


def test_posterior_prediction_dataset():
    """A result of FitResult.predict: the individual prediction and its band."""
    t = np.linspace(0, 24, 49)
    c = 2.0 * np.exp(-0.1 * t)
    ds = xr.Dataset({"CP": ("time", c, {"units": "mg/L"}),
                     "CP_band": (("quantile", "time"), np.vstack([0.8 * c, c, 1.3 * c]),
                                 {"units": "mg/L"})},
                    coords={"time": ("time", t, {"units": "h"}),
                            "quantile": [0.05, 0.5, 0.95]})
    fig = concentration_time(ds)
    assert len(fig.axes) == 1                      # the band is not a panel of its own
    ax = fig.axes[0]
    np.testing.assert_array_equal(one(ax, "prediction").get_ydata(), c)
    polygon_matches(one(ax, "band 5-95"), t, 0.8 * c, 1.3 * c)


@settings(max_examples=15, deadline=None)
@given(arrays(np.float64, (7, 6), elements=st.floats(0.0, 100.0)))
def test_median_and_band_are_numpy_percentiles(values):
    """For any curves, the median line is numpy's median and the band's vertices numpy's
    percentiles."""
    t = np.arange(6.0)
    ds = xr.Dataset({"E": (("id", "time"), values, {"units": "%"})},
                    coords={"time": ("time", t, {"units": "h"})})
    fig = concentration_time(ds, bands=[(5, 95)])
    ax = fig.axes[0]
    np.testing.assert_allclose(one(ax, "median").get_ydata(), np.median(values, axis=0),
                               rtol=1e-12, atol=1e-12)
    polygon_matches(one(ax, "band 5-95"), t, np.percentile(values, 5, axis=0),
                    np.percentile(values, 95, axis=0), rtol=1e-9)
    plt.close(fig)


def test_bad_arguments(cohort):
    with pytest.raises(DataError, match="band"):
        concentration_time(cohort, bands=[(95, 5)])
    with pytest.raises(DataError, match="not in the result"):
        concentration_time(cohort, variables="XX")
    with pytest.raises(DataError, match="target"):
        concentration_time(cohort, target=(1, 2, 3))
    with pytest.raises(DataError, match="TIME"):
        concentration_time(cohort, observed=pd.DataFrame({"DV": [1.0]}))


def test_a_time_without_values_is_left_out_silently():
    """A time where every curve is NaN (e.g. a log axis at an oral dose's time 0) has no
    median or band there, and no warning is printed (the command line's stderr stays
    empty)."""
    import warnings

    values = np.random.default_rng(0).lognormal(size=(6, 4))
    values[:, 0] = np.nan
    ds = xr.Dataset({"E": (("id", "time"), values)}, coords={"time": np.arange(4.0)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = concentration_time(ds, log=True)
    med = one(fig.axes[0], "median").get_ydata()
    assert np.isnan(med[0])
    np.testing.assert_allclose(med[1:], np.median(values[:, 1:], axis=0), rtol=1e-13)
