"""Invariances of NCA on random profiles: dose proportionality, time shift, time unit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pkpd.noncompartmental import nca

from .frames import nonmem, table

SCALE_FREE = ("Tmax", "Tlast", "lambda_z", "half_life", "lambda_z_n_points", "lambda_z_adj_r2",
              "CL_F", "Vz_F", "MRT", "AUC_pct_extrap_obs", "Cmax_D", "AUClast_D", "AUCinf_D")
SCALED = ("Cmax", "Clast", "AUClast", "AUCall", "AUCinf_obs", "AUCinf_pred", "AUMCinf_obs")


@st.composite
def profiles(draw):
    """4-12 samples on a 0.25-h grid (exact in binary) with positive concentrations."""
    n = draw(st.integers(4, 12))
    steps = draw(st.lists(st.integers(1, 24), min_size=n, max_size=n))
    t = 0.25 * np.cumsum(steps)
    c = np.array(draw(st.lists(st.floats(0.05, 100.0), min_size=n, max_size=n)))
    return t, c


def same(a: float, b: float, rel: float = 1e-9) -> bool:
    if isinstance(a, float | np.floating) and math.isnan(a):
        return math.isnan(b)
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def run(t, c, dose, **kw) -> pd.Series:
    return nca(table(t, c), dose=dose, route="extravascular", **kw).iloc[0]


@settings(max_examples=30, deadline=None)
@given(profiles(), st.sampled_from([0.01, 0.3, 7.0, 1000.0]),
       st.sampled_from(["linear", "linear-up/log-down"]))
def test_dose_proportionality(profile, factor, method):
    """Concentrations and dose times c: areas and Cmax times c; CL, half-life unchanged."""
    t, c = profile
    a = run(t, c, 10.0, auc_method=method)
    b = run(t, c * factor, 10.0 * factor, auc_method=method)
    for col in SCALED:
        assert same(b[col], a[col] * factor), col
    for col in SCALE_FREE:
        assert same(b[col], a[col], rel=1e-7), col
    assert (a["lambda_z_note"] == "") == (b["lambda_z_note"] == "")


@settings(max_examples=15, deadline=None)
@given(profiles(), st.integers(1, 400))
def test_time_shift(profile, half_hours):
    """The same profile after a dose at TIME s (a NONMEM dataset) gives the same parameters."""
    t, c = profile
    shift = 0.5 * half_hours
    base = nca(nonmem([{"ID": 1, "TIME": 0.0, "AMT": 10.0, "CMT": 1}],
                      [(1, x, y) for x, y in zip(t, c, strict=True)])).iloc[0]
    moved = nca(nonmem([{"ID": 1, "TIME": shift, "AMT": 10.0, "CMT": 1}],
                       [(1, shift + x, y) for x, y in zip(t, c, strict=True)])).iloc[0]
    assert moved["start"] == shift and base["start"] == 0
    for col in (*SCALED, *SCALE_FREE):
        assert same(moved[col], base[col], rel=1e-9), col


@settings(max_examples=20, deadline=None)
@given(profiles())
def test_time_unit(profile):
    """Hours to minutes: times and areas x60, lambda_z and clearance /60, volumes unchanged."""
    t, c = profile
    h = run(t, c, 10.0, conc_unit="mg/L", dose_unit="mg")
    m = run(t * 60, c, 10.0, time_unit="min", conc_unit="mg/L", dose_unit="mg")
    for col in ("Tmax", "Tlast", "half_life", "MRT", "AUClast", "AUCinf_obs"):
        assert same(m[col], h[col] * 60), col
    assert same(m["AUMCinf_obs"], h["AUMCinf_obs"] * 3600)
    for col in ("lambda_z", "CL_F"):
        assert same(m[col], h[col] / 60), col
    assert same(m["Vz_F"], h["Vz_F"])
    assert same(m["lambda_z_n_points"], h["lambda_z_n_points"])
