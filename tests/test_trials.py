"""pkpd.trials: published summaries against replicate simulated trials.

The references are independent of the code under test: a one-compartment IV bolus model
(C = D/V exp(-CL/V t), log-normal IIV on CL and V) whose summaries have closed forms (the
geometric mean of n log-normal values is log-normal with variance omega/n; the sample variance
of normal values follows a chi-square law; a fraction of subjects above the median is
binomial) or are computed by a numpy Monte Carlo written here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import pkpd
from pkpd.errors import DataError, UnitError
from pkpd.trials import PublishedSummary, TrialArm, compare_published, summaries_from_frame

DOSE, TVCL, TVV, OM_CL, OM_V, PROP = 100.0, 5.0, 50.0, 0.09, 0.04, 0.1
Z95 = stats.norm.ppf(0.95)


@pytest.fixture(scope="module")
def bolus() -> pkpd.CompiledModel:
    mb = pkpd.ModelBuilder("trials_bolus", time_unit="h")
    mb.states(central="mg")
    mb.parameters(TVCL=f"{TVCL} L/h", TVV=f"{TVV} L")
    mb.covariates(WT={"unit": "kg", "default": 70})
    mb.etas(eta_CL=OM_CL, eta_V=OM_V)
    mb.derive("CL", "TVCL * exp(eta_CL)")
    mb.derive("V", "TVV * (WT / 70) * exp(eta_V)")
    mb.ode("central", "-CL / V * central")
    mb.output("CP", "central / V", unit="mg/L")
    mb.route("IV", "central")
    mb.error("CP", proportional=PROP)
    return pkpd.compile_model(mb.build())


def arm(n: int = 8, regimen: str = "100 mg IV", population=None) -> TrialArm:
    return TrialArm("A", regimen, n=n, population=population)


def one(cm, row: PublishedSummary, *, n: int = 8, trials: int = 2000, seed: int = 1,
        variability=("iiv",), regimen: str = "100 mg IV", population=None):
    res = compare_published(cm, [row], [arm(n, regimen, population)], n_trials=trials,
                            seed=seed, variability=variability)
    return res, res.table.iloc[0]


# ------------------------------------------------------------------ closed forms


def test_geometric_mean_at_dose_time_is_lognormal(bolus):
    """At t = 0, C_i = D/V exp(-eta_V): the geometric mean of n is D/V exp(N(0, omega_V/n))."""
    n = 8
    _, r = one(bolus, PublishedSummary("A", "geometric mean", 2.0, unit="mg/L", time=0), n=n)
    sd = math.sqrt(OM_V / n)
    assert r["sim_median"] == pytest.approx(DOSE / TVV, rel=0.015)
    assert r["lo_90"] == pytest.approx(DOSE / TVV * math.exp(-Z95 * sd), rel=0.015)
    assert r["hi_90"] == pytest.approx(DOSE / TVV * math.exp(Z95 * sd), rel=0.015)
    z975 = stats.norm.ppf(0.975)
    assert r["hi_95"] == pytest.approx(DOSE / TVV * math.exp(z975 * sd), rel=0.02)
    # the observed value placed at the true median ranks near 50 %
    assert r["percentile"] == pytest.approx(50.0, abs=4.0)
    assert bool(r["inside_90"]) and r["n_valid"] == 2000


def test_auc_geometric_mean_is_dose_over_clearance(bolus):
    """AUC(0-inf) = D/CL_i (the window of 400 h holds all of it): log-normal, omega_CL/n."""
    n = 6
    _, r = one(bolus, PublishedSummary("A", "geometric mean", 20.0, unit="mg*h/L", metric="auc",
                                       start=0, end="400 h"), n=n)
    sd = math.sqrt(OM_CL / n)
    assert r["unit"] == "mg/L*h"
    assert r["sim_median"] == pytest.approx(DOSE / TVCL, rel=0.02)
    assert r["lo_90"] == pytest.approx(DOSE / TVCL * math.exp(-Z95 * sd), rel=0.02)
    assert r["hi_90"] == pytest.approx(DOSE / TVCL * math.exp(Z95 * sd), rel=0.02)


def test_residual_error_only_sd_follows_chi_square(bolus):
    """Without IIV, y_i = 2 (1 + 0.1 eps_i): (n-1) s^2 / 0.2^2 ~ chi2(n - 1)."""
    n = 10
    sigma = PROP * DOSE / TVV
    _, r = one(bolus, PublishedSummary("A", "sd", 0.2, unit="mg/L", time=0), n=n,
               variability=("ruv",))
    q = stats.chi2(n - 1)
    assert r["sim_median"] == pytest.approx(sigma * math.sqrt(q.median() / (n - 1)), rel=0.03)
    assert r["lo_90"] == pytest.approx(sigma * math.sqrt(q.ppf(0.05) / (n - 1)), rel=0.04)
    assert r["hi_90"] == pytest.approx(sigma * math.sqrt(q.ppf(0.95) / (n - 1)), rel=0.04)


def test_geometric_cv_and_fraction_above(bolus):
    n = 10
    rows = [PublishedSummary("A", "geometric cv%", 20.0, time=0),
            PublishedSummary("A", "fraction above", 0.5, threshold="2 mg/L", time=0)]
    res = compare_published(bolus, rows, [arm(n)], n_trials=2000, seed=3, variability=("iiv",))
    gcv, frac = res.table.iloc[0], res.table.iloc[1]
    # log C_i ~ N(., omega_V): s^2 (n-1)/omega ~ chi2(n-1); gcv = 100 sqrt(exp(s^2) - 1)
    s2 = OM_V * stats.chi2(n - 1).median() / (n - 1)
    assert gcv["unit"] == "%" and gcv["sim_median"] == pytest.approx(
        100 * math.sqrt(math.expm1(s2)), rel=0.03)
    # P(C_i > D/V) = 1/2: the fraction above of n subjects is Binomial(n, 1/2) / n
    b = stats.binom(n, 0.5)
    assert frac["sim_median"] == 0.5
    # (sample quantiles of a discrete law: within one subject of the binomial's)
    assert abs(frac["lo_90"] - b.ppf(0.05) / n) <= 0.1 + 1e-9
    assert abs(frac["hi_90"] - b.ppf(0.95) / n) <= 0.1 + 1e-9
    assert frac["percentile"] == pytest.approx(50, abs=15)


# ------------------------------------------------------------------ numpy Monte Carlo


def _mc_concentrations(rng, trials, n, times, doses=(0.0,)):
    """C(t) of one-compartment bolus doses by superposition, IIV on CL and V."""
    eta = rng.standard_normal((trials, n, 2)) * np.sqrt([OM_CL, OM_V])
    cl = TVCL * np.exp(eta[..., 0])
    v = TVV * np.exp(eta[..., 1])
    t = np.asarray(times, dtype=float)
    c = np.zeros((trials, n, len(t)))
    for td in doses:
        dt = t - td
        c += np.where(dt >= 0, DOSE / v[..., None] * np.exp(-(cl / v)[..., None]
                                                             * np.clip(dt, 0, None)), 0.0)
    return c


def test_mean_concentration_matches_numpy_monte_carlo(bolus):
    n = 6
    ref = _mc_concentrations(np.random.default_rng(11), 20000, n, [2.0])[:, :, 0].mean(axis=1)
    _, r = one(bolus, PublishedSummary("A", "mean", 1.5, unit="mg/L", time="2 h"), n=n)
    assert r["sim_median"] == pytest.approx(np.median(ref), rel=0.02)
    assert r["lo_90"] == pytest.approx(np.quantile(ref, 0.05), rel=0.03)
    assert r["hi_90"] == pytest.approx(np.quantile(ref, 0.95), rel=0.03)
    assert r["percentile"] == pytest.approx(100 * np.mean(ref < 1.5), abs=3.0)


def test_multiple_dose_metrics_match_numpy_monte_carlo(bolus):
    """q12h x 4: Cmax, trough and Tmax of the last interval, measured from the last dose."""
    n = 5
    t = np.array([36.0, 48.0])
    c = _mc_concentrations(np.random.default_rng(12), 20000, n, t, doses=(0, 12, 24, 36))
    rows = [PublishedSummary("A", "median", 3.0, unit="mg/L", metric="cmax", start=0,
                             end="12 h", after="last dose"),
            PublishedSummary("A", "mean", 1.0, unit="mg/L", metric="trough", start=0,
                             end="12 h", after="last dose"),
            PublishedSummary("A", "max", 0.0, unit="h", metric="tmax", start=0, end="12 h",
                             after="last dose")]
    res = compare_published(bolus, rows, [arm(n, "100 mg IV q12h x 4")], n_trials=2000,
                            seed=4, variability=("iiv",))
    cmax, trough, tmax = (res.table.iloc[i] for i in range(3))
    ref_cmax = np.median(c[:, :, 0], axis=1)
    ref_trough = c[:, :, 1].mean(axis=1)
    assert cmax["sim_median"] == pytest.approx(np.median(ref_cmax), rel=0.02)
    assert cmax["hi_90"] == pytest.approx(np.quantile(ref_cmax, 0.95), rel=0.03)
    assert trough["sim_median"] == pytest.approx(np.median(ref_trough), rel=0.03)
    assert trough["lo_90"] == pytest.approx(np.quantile(ref_trough, 0.05), rel=0.04)
    assert tmax["sim_median"] == 0.0 and tmax["hi_95"] == 0.0   # a bolus peaks at its dose


# ------------------------------------------------------------------ behaviour


def test_far_outside_gives_zero_coverage(bolus):
    rows = [PublishedSummary("A", "mean", 20.0, unit="mg/L", time=0),
            PublishedSummary("A", "mean", 0.02, unit="mg/L", time=0)]
    res = compare_published(bolus, rows, [arm()], n_trials=200, seed=1, variability=("iiv",))
    assert res.coverage == 0.0 and res.coverages[0.95] == 0.0
    assert res.table["percentile"].tolist() == [100.0, 0.0]
    assert res.table["rel_diff"].iloc[0] == pytest.approx(
        res.table["sim_median"].iloc[0] / 20.0 - 1)
    text = res.summary()
    assert "coverage: 0 %" in text and "NO" in text


@pytest.mark.parametrize(("value", "unit"), [(2.0, "ug/mL"), ("2 mg/L", None),
                                               (2000.0, "ng/mL"), ("0.002 g/L", None)])
def test_units_are_converted(bolus, value, unit):
    base = compare_published(bolus, [PublishedSummary("A", "mean", 2.0, unit="mg/L", time=0)],
                             [arm()], n_trials=100, seed=5)
    res = compare_published(bolus, [PublishedSummary("A", "mean", value, unit=unit, time=0)],
                            [arm()], n_trials=100, seed=5)
    pd.testing.assert_frame_equal(res.table, base.table)


def test_unit_mismatch_names_the_row(bolus):
    rows = [PublishedSummary("A", "mean", 2.0, unit="mg/L", time=0),
            PublishedSummary("A", "mean", 2.0, unit="mg", time=0)]
    with pytest.raises(UnitError, match=r"summary row 2 .*mg.*"):
        compare_published(bolus, rows, [arm()], n_trials=50)
    with pytest.raises(UnitError, match=r"summary row 1.*needs a unit"):
        compare_published(bolus, [PublishedSummary("A", "mean", 2.0, time=0)], [arm()],
                          n_trials=50)
    with pytest.raises(UnitError, match=r"summary row 1.*time"):
        compare_published(bolus, [PublishedSummary("A", "mean", 2.0, unit="mg/L",
                                                   time="2 mg")], [arm()], n_trials=50)


def test_seed_reproducibility(bolus):
    row = [PublishedSummary("A", "mean", 2.0, unit="mg/L", time="1 h")]
    a = compare_published(bolus, row, [arm()], n_trials=100, seed=7)
    b = compare_published(bolus, row, [arm()], n_trials=100, seed=7)
    c = compare_published(bolus, row, [arm()], n_trials=100, seed=8)
    np.testing.assert_array_equal(a.simulated, b.simulated)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not np.array_equal(a.simulated, c.simulated)


def test_population_and_fixed_covariates(bolus):
    """Subjects of 140 kg have twice the volume: the geometric mean at t = 0 halves."""
    row = PublishedSummary("A", "geometric mean", 1.0, unit="mg/L", time=0)
    _, fixed = one(bolus, row, population={"WT": "140 kg"}, trials=1000)
    _, table = one(bolus, row, population=pkpd.Population.from_table({"WT": [140.0]}),
                   trials=1000)
    _, frame = one(bolus, row, population=pd.DataFrame({"WT": [140.0, 140.0]}), trials=1000)
    for r in (fixed, table, frame):
        assert r["sim_median"] == pytest.approx(DOSE / (2 * TVV), rel=0.02)


def test_frame_input_equals_typed_rows(bolus):
    df = pd.DataFrame({
        "Group": ["A", "A", "B"], "regimen": ["100 mg IV", "100 mg IV", "200 mg IV"],
        "n": [8, 6, 4], "statistic": ["mean", "p95", "mean"], "value": [2.0, 3.0, "4 mg/L"],
        "unit": ["mg/L", "mg/L", None], "time": ["1 h", 1.0, None],
        "metric": [None, None, "cmax"], "start": [None, None, 0], "end": [None, None, "12 h"]})
    arms, rows = summaries_from_frame(df)
    assert [(a.name, a.n) for a in arms] == [("A", 8), ("B", 4)]
    assert rows[1].n == 6 and rows[2].metric == "cmax"
    res = compare_published(bolus, df, n_trials=100, seed=2)
    typed = compare_published(bolus, list(rows), list(arms), n_trials=100, seed=2)
    pd.testing.assert_frame_equal(res.table, typed.table)
    assert res.table["n"].tolist() == [8, 6, 4]


@pytest.mark.parametrize(("row", "message"), [
    (PublishedSummary("A", "average-ish", 1, unit="mg/L", time=0), "unknown statistic"),
    (PublishedSummary("B", "mean", 1, unit="mg/L", time=0), "no trial arm named 'B'"),
    (PublishedSummary("A", "mean", 1, unit="mg/L", time=0, output="CE"), "output 'CE'"),
    (PublishedSummary("A", "mean", 1, unit="mg/L"), "neither"),
    (PublishedSummary("A", "mean", 1, unit="mg/L", time=0, metric="cmax"), "both"),
    (PublishedSummary("A", "mean", 1, unit="mg/L", metric="peak", start=0, end=1),
     "unknown metric"),
    (PublishedSummary("A", "mean", 1, unit="mg/L", metric="cmax", start=0), "needs a window"),
    (PublishedSummary("A", "mean", 1, unit="mg/L", metric="cmax", start=5, end=1), "start < end"),
    (PublishedSummary("A", "mean", 1, unit="mg/L", time=0, n=9), r"1\.\.8"),
    (PublishedSummary("A", "fraction above", 0.5, time=0), "needs a `threshold`"),
    (PublishedSummary("A", "fraction above", 1.5, threshold=1, time=0), "0..1"),
    (PublishedSummary("A", "mean", 1, unit="mg/L", time=0, threshold=1), "only used"),
    (PublishedSummary("A", "mean", 1, unit="mg/L", time=0, after="dinner"), "after="),
    (PublishedSummary("A", "p150", 1, unit="mg/L", time=0), "not in 0..100"),
    (PublishedSummary("A", "mean", None, unit="mg/L", time=0), "missing"),
])
def test_bad_rows_raise_naming_the_row(bolus, row, message):
    with pytest.raises(DataError, match=message) as info:
        compare_published(bolus, [PublishedSummary("A", "mean", 1, unit="mg/L", time=0), row],
                          [arm()], n_trials=50)
    assert "summary row 2" in str(info.value)


def test_bad_options_and_tables(bolus):
    row = [PublishedSummary("A", "mean", 1, unit="mg/L", time=0)]
    for kwargs, message in [({"n_trials": 5}, "n_trials"), ({"levels": (1.2,)}, "levels"),
                            ({"variability": ("uncertainty",)}, "not supported"),
                            ({"grid": 1}, "grid")]:
        with pytest.raises(DataError, match=message):
            compare_published(bolus, row, [arm()], **kwargs)
    with pytest.raises(DataError, match="arms"):
        compare_published(bolus, row)
    with pytest.raises(DataError, match="n must be an integer"):
        TrialArm("A", "100 mg IV", n=0)
    with pytest.raises(pkpd.RegimenError, match="trial arm 'A'"):
        compare_published(bolus, row, [TrialArm("A", "100 mg IV q", n=3)])
    with pytest.raises(DataError, match="population"):
        compare_published(bolus, row, [arm(population=42)], n_trials=20)
    with pytest.raises(DataError, match="missing column"):
        summaries_from_frame(pd.DataFrame({"group": ["A"], "value": [1.0]}))
    with pytest.raises(DataError, match="unknown column"):
        summaries_from_frame(pd.DataFrame({"group": ["A"], "dose": [1.0]}))
    with pytest.raises(DataError, match="row 2: group 'A' has regimen"):
        summaries_from_frame(pd.DataFrame({
            "group": ["A", "A"], "regimen": ["1 mg IV", "2 mg IV"], "n": [3, 3],
            "statistic": ["mean"] * 2, "value": [1.0, 1.0]}))


@pytest.fixture(scope="module")
def reference(bolus):
    row = [PublishedSummary("A", "mean", 1.0, unit="mg/L", time="3 h")]
    return compare_published(bolus, row, [arm()], n_trials=200, seed=9)


@settings(max_examples=25, deadline=None)
@given(value=st.floats(0.01, 5.0))
def test_percentile_rank_and_inside_flag(bolus, reference, value):
    """The rank is the share of simulated statistics below the value; inside <=> in [lo, hi];
    the simulation does not depend on the published value."""
    res = compare_published(bolus, [PublishedSummary("A", "mean", value, unit="mg/L",
                                                     time="3 h")], [arm()], n_trials=200, seed=9)
    s = res.simulated[0]
    np.testing.assert_array_equal(s, reference.simulated[0])
    r = res.table.iloc[0]
    assert r["percentile"] == pytest.approx(100 * (np.mean(s < value) + 0.5 * np.mean(s == value)))
    assert bool(r["inside_90"]) == bool(r["lo_90"] <= value <= r["hi_90"])
    assert r["lo_95"] <= r["lo_90"] <= r["sim_median"] <= r["hi_90"] <= r["hi_95"]


def test_plot(bolus, tmp_path):
    from pkpd.plot import published_comparison

    rows = [PublishedSummary("A", "mean", 2.0, unit="mg/L", time=0),
            PublishedSummary("A", "mean", 9.0, unit="mg/L", time="2 h"),
            PublishedSummary("A", "geometric mean", 20.0, unit="mg*h/L", metric="auc", start=0,
                             end="48 h")]
    res = compare_published(bolus, rows, [arm()], n_trials=100, seed=1)
    fig = published_comparison(res)
    assert [ax.get_title() for ax in fig.axes] == ["A", "A"]
    assert fig.axes[0].get_ylabel() == "mean (mg/L)"
    assert fig.axes[1].get_ylabel() == "geometric mean (mg/L*h)"
    path = tmp_path / "trials.png"
    published_comparison(res, path=path, log=True)
    assert path.stat().st_size > 10_000


def test_validation_script_runs(tmp_path):
    """validation/published_summaries.py end to end on few trials (the report is the full run)."""
    import argparse
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "validation" / "published_summaries.py"
    spec = importlib.util.spec_from_file_location("published_summaries", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    main, sens, info = module.study(n_trials=40, n=10, seed=2)
    assert main.table["observed"].tolist() == [63.0, 23.0, 8.0, 49.0, 19.0, 10.0]
    assert len(sens) == 5 and info["crcl_median"] <= 150
    args = argparse.Namespace(trials=40, n=10, seed=2)
    text = module.report(main, sens, info, args, tmp_path).read_text()
    assert "83ea3faf-fedd-4725-911f-d71a23ec5d5e" in text and "Coverage" in text
    assert (tmp_path / "published_summaries.png").exists()
