"""Visual predictive checks (pkpd.vpc) against closed forms.

The reference model: one compartment after an IV bolus with log-normal IIV on CL only and a
negligible residual error, so a concentration at time t, C = D/V exp(-CL t/V), is a monotone
function of CL and its distribution is known (scipy.stats.lognorm). With N subjects sampled
at the same time, the percentile p of a replicate (R's type 7, p (N - 1) an integer k) is the
order statistic k + 1 of N draws: its probability F_C(C_(k+1)) follows Beta(k + 1, N - k).
So the quantiles over the replicates (sim_lo, sim_median, sim_hi) are known in closed form
too, and are checked on the probability scale within the binomial Monte Carlo error of n
replicates. The observed data are drawn here with numpy, not with the engine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import pkpd
from pkpd.diagnostics._vpc import percentiles

TVCL, TVV, OMEGA = 2.0, 20.0, 0.09            # L/h, L, variance of eta_CL
TIMES = np.array([0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0])
N_SUB = 101                                     # p (N - 1) is an integer for p = 0.05, 0.5, 0.95
N_SIM = 400
LEVELS = np.array([0.025, 0.5, 0.975])          # ci = 0.95
KEY = ["stratum", "output", "bin", "kind", "quantile"]


def model(name: str, *, eta_v: bool, **error: float) -> pkpd.CompiledModel:
    mb = pkpd.ModelBuilder(name, time_unit="h")
    mb.states(central="mg")
    mb.parameters(TVCL=f"{TVCL} L/h", TVV=f"{TVV} L")
    mb.etas(eta_CL=OMEGA, **({"eta_V": 0.04} if eta_v else {}))
    mb.derive("CL", "TVCL * exp(eta_CL)")
    mb.derive("V", "TVV * exp(eta_V)" if eta_v else "TVV")
    mb.ode("central", "-CL / V * central")
    mb.output("CP", "central / V", unit="mg/L")
    mb.route("IV", "central")
    mb.error("CP", **error)
    return pkpd.compile_model(mb.build())


@pytest.fixture(scope="module")
def exact() -> pkpd.CompiledModel:
    """IIV on CL only, residual SD 1e-4 mg/L: the closed form holds."""
    return model("vpc_iv_exact", eta_v=False, additive=1e-4)


@pytest.fixture(scope="module")
def noisy() -> pkpd.CompiledModel:
    """IIV on CL and V, 10 % proportional error: bins are not all alike."""
    return model("vpc_iv_noisy", eta_v=True, proportional=0.1)


def dataset(doses: np.ndarray, times: np.ndarray, dv: np.ndarray, **cols: np.ndarray
            ) -> pd.DataFrame:
    """Doses (one per subject, TIME 0) and levels ``dv`` at ``times`` (both (n_sub, n_t))."""
    rows = []
    for i, dose in enumerate(doses):
        extra = {k: v[i] for k, v in cols.items()}
        rows.append({"ID": i + 1, "TIME": 0.0, "AMT": dose, "EVID": 1, "CMT": 1,
                     "DV": np.nan, "MDV": 1, **extra})
        rows += [{"ID": i + 1, "TIME": t, "AMT": 0.0, "EVID": 0, "CMT": 1, "DV": y,
                  "MDV": 0, **extra} for t, y in zip(times[i], dv[i], strict=True)]
    return pd.DataFrame(rows)


def draw(rng: np.random.Generator, doses: np.ndarray, times: np.ndarray, *,
         eta_v: bool = False, prop: float = 0.0, cl: float = TVCL) -> np.ndarray:
    n = len(doses)
    clearance = cl * np.exp(np.sqrt(OMEGA) * rng.standard_normal(n))
    volume = TVV * np.exp(0.2 * rng.standard_normal(n) if eta_v else np.zeros(n))
    conc = doses[:, None] / volume[:, None] * np.exp(-(clearance / volume)[:, None] * times)
    return conc * (1 + prop * rng.standard_normal(conc.shape))


def cdf(c: np.ndarray, t: float, scale: float) -> np.ndarray:
    """P(C(t) <= c) for C = scale exp(-CL t / V) (scale = D/V), CL log-normal."""
    cl = TVV / t * np.log(scale / np.asarray(c, dtype=float))
    return stats.lognorm.sf(cl, s=np.sqrt(OMEGA), scale=TVCL)


def quantile(p: float, t: float, scale: float) -> float:
    """The p quantile of C(t): CL at its 1 - p quantile."""
    cl = stats.lognorm.ppf(1 - p, s=np.sqrt(OMEGA), scale=TVCL)
    return scale * np.exp(-cl * t / TVV)


def check_band(rows: pd.DataFrame, n_sub: int, scale_of: dict[float, float]) -> None:
    """sim_lo, sim_median, sim_hi against the Beta law of the order statistic, on the
    probability scale, within 4 binomial SEs of N_SIM replicates."""
    for _, r in rows.iterrows():
        t, p = r["time"], r["quantile"]
        k = round(p * (n_sub - 1))
        assert abs(p * (n_sub - 1) - k) < 1e-9
        sims = np.array([r["sim_lo"], r["sim_median"], r["sim_hi"]])
        got = stats.beta.cdf(cdf(sims, t, scale_of[t]), k + 1, n_sub - k)
        tol = 4 * np.sqrt(LEVELS * (1 - LEVELS) / N_SIM) + 0.005
        assert np.all(np.abs(got - LEVELS) < tol), (t, p, got)
        true = quantile(p, t, scale_of[t])
        assert r["sim_lo"] < true < r["sim_hi"]
        assert abs(r["sim_median"] - true) < 0.1 * (r["sim_hi"] - r["sim_lo"])


@pytest.fixture(scope="module")
def design_data() -> pd.DataFrame:
    rng = np.random.default_rng(20240611)
    doses = np.full(N_SUB, 100.0)
    times = np.tile(TIMES, (N_SUB, 1))
    return dataset(doses, times, draw(rng, doses, times))


def test_simulated_percentiles_match_the_closed_form(exact, design_data):
    v = pkpd.vpc(exact, design_data, n=N_SIM, seed=3)
    pct = v.table[v.table["kind"] == "percentile"]
    assert sorted(pct["time"].unique()) == TIMES.tolist()       # one bin per sampling time
    assert (pct["n_obs"] == N_SUB).all()
    assert len(pct) == len(TIMES) * 3 and not (v.table["kind"] == "blq").any()
    check_band(pct, N_SUB, {t: 100.0 / TVV for t in TIMES})


def test_true_model_inside_misspecified_outside(noisy):
    rng = np.random.default_rng(7)
    n_sub = 80
    doses = np.full(n_sub, 100.0)
    times = np.tile(TIMES, (n_sub, 1))
    data = dataset(doses, times, draw(rng, doses, times, eta_v=True, prop=0.1))
    ok = pkpd.vpc(noisy, data, n=N_SIM, seed=1)
    bad = pkpd.vpc(noisy, data, n=N_SIM, seed=1, params={"TVCL": 2 * TVCL})
    rows = len(TIMES) * 3
    assert len(ok.table) == len(bad.table) == rows
    assert ok.table["outside"].sum() <= 0.25 * rows     # about 5 % expected; bins correlate
    assert bad.table["outside"].sum() >= 0.5 * rows
    # the observed percentiles are those of the data (numpy), whatever the model
    for _, r in ok.table.iterrows():
        sel = np.isclose(data["TIME"], r["time"]) & (data["EVID"] == 0)
        assert r["observed"] == pytest.approx(np.quantile(data.loc[sel, "DV"], r["quantile"]))
    s = bad.summary()
    assert set(s.columns) >= {"n_bins", "n_outside"} and (s["n_bins"] == len(TIMES)).all()


def test_pred_correction_without_pred_variability_changes_nothing(noisy, design_data):
    plain = pkpd.vpc(noisy, design_data, n=100, seed=5)
    pc = pkpd.vpc(noisy, design_data, n=100, seed=5, pred_corrected=True)
    cols = ["observed", "sim_lo", "sim_median", "sim_hi"]
    np.testing.assert_allclose(pc.table[cols].to_numpy(), plain.table[cols].to_numpy(),
                               rtol=1e-12)
    assert pc.pred_corrected and not plain.pred_corrected


def test_pred_correction_pools_dose_groups(exact):
    rng = np.random.default_rng(11)
    doses = np.r_[np.full(51, 100.0), np.full(50, 300.0)]
    times = np.tile(TIMES, (N_SUB, 1))
    data = dataset(doses, times, draw(rng, doses, times))
    pc = pkpd.vpc(exact, data, n=N_SIM, seed=2, pred_corrected=True)
    # PRED = D/V exp(-TVCL t/V); its median in each bin is that of the 100 mg group (51 of
    # 101 subjects), so every corrected level is a level after 100 mg
    pred = doses[:, None] / TVV * np.exp(-TVCL / TVV * times)
    pred_bin = np.median(pred, axis=0)
    pct = pc.table[pc.table["kind"] == "percentile"]
    check_band(pct, N_SUB, {t: 100.0 / TVV for t in TIMES})
    obs = pc.observed.sort_values(["ID", "TIME"])
    dv = data.loc[data["EVID"] == 0, "DV"].to_numpy().reshape(N_SUB, -1)
    np.testing.assert_allclose(obs["DV"].to_numpy(), (dv * pred_bin / pred).ravel(),
                               rtol=1e-6)
    # uncorrected, the pooled 95th percentile is far above that of one dose group
    plain = pkpd.vpc(exact, data, n=N_SIM, seed=2)
    hi = plain.table[plain.table["quantile"] == 0.95]
    assert (hi["sim_lo"].to_numpy() > 2 * np.array([quantile(0.95, t, 100 / TVV)
                                                     for t in hi["time"]])).all()


def test_blq_fraction_and_censored_percentiles(exact):
    rng = np.random.default_rng(5)
    doses = np.full(N_SUB, 100.0)
    times = np.tile(TIMES, (N_SUB, 1))
    dv = draw(rng, doses, times)
    lloq = quantile(0.5, 6.0, 100 / TVV)          # half the levels at 6 h are below it
    data = dataset(doses, times, dv)
    v = pkpd.vpc(exact, data, n=N_SIM, seed=4, lloq=lloq)
    blq = v.table[v.table["kind"] == "blq"].set_index("time")
    assert len(blq) == len(TIMES)
    np.testing.assert_allclose(blq["lloq"], lloq)
    for j, t in enumerate(TIMES):
        count = int((dv[:, j] < lloq).sum())
        assert blq.loc[t, "observed"] == pytest.approx(count / N_SUB)
        true = float(cdf(lloq, t, 100 / TVV))
        if 0.01 < true < 0.99:                      # else too rare to see in N levels
            assert blq.loc[t, "sim_lo"] <= true <= blq.loc[t, "sim_hi"]
        assert abs(blq.loc[t, "sim_median"] - true) < 0.05
    pct = v.table[v.table["kind"] == "percentile"]
    assert pct["below_lloq"].any() and not pct["below_lloq"].all()
    for _, r in pct.iterrows():
        j = int(np.flatnonzero(TIMES == r["time"])[0])
        if r["below_lloq"]:
            assert np.isnan(r["observed"])
            assert np.quantile(dv[:, j], r["quantile"]) < lloq
        else:                                       # above the LLOQ: the plain percentile
            assert r["observed"] == pytest.approx(np.quantile(dv[:, j], r["quantile"]))
        true = quantile(r["quantile"], r["time"], 100 / TVV)
        if true < 0.9 * lloq:                       # clearly below: the simulated one too
            assert np.isnan(r["sim_median"]) and np.isnan(r["sim_lo"])
        if true > 1.1 * lloq:
            assert r["sim_lo"] < true < r["sim_hi"]
    assert v.observed["BLQ"].sum() == int((dv < lloq).sum())


def test_stratified_by_covariate_and_dose(exact):
    rng = np.random.default_rng(8)
    n_sub = 60
    doses = np.where(np.arange(n_sub) % 3 == 0, 300.0, 100.0)
    sex = (np.arange(n_sub) % 2).astype(float)
    times = np.tile(TIMES, (n_sub, 1))
    data = dataset(doses, times, draw(rng, doses, times), SEX=sex)
    v = pkpd.vpc(exact, data, n=50, seed=1, stratify="SEX")
    assert v.stratify == "SEX" and set(v.table["stratum"]) == {0.0, 1.0}
    for s in (0.0, 1.0):
        rows = v.table[v.table["stratum"] == s]
        assert len(rows) == len(TIMES) * 3
        assert rows.groupby("quantile")["n_obs"].sum().eq(len(TIMES) * n_sub / 2).all()
        assert (s, "CP") in v.bins
    d = pkpd.vpc(exact, data, n=50, seed=1, stratify="dose")
    assert set(d.table["stratum"]) == {100.0, 300.0}
    n300 = d.table[(d.table["stratum"] == 300.0) & (d.table["quantile"] == 0.5)]
    assert n300["n_obs"].sum() == 20 * len(TIMES)
    assert (d.observed.groupby("ID")["stratum"].first().to_numpy() == doses).all()


def test_given_edges_and_automatic_clusters(exact):
    rng = np.random.default_rng(9)
    n_sub = 40
    doses = np.full(n_sub, 100.0)
    nominal = np.tile(TIMES, (n_sub, 1))
    times = nominal * (1 + rng.uniform(-0.05, 0.05, nominal.shape))     # +- 5 % windows
    data = dataset(doses, times, draw(rng, doses, times))
    auto = pkpd.vpc(exact, data, n=20, seed=1)
    obs = auto.observed.sort_values(["ID", "TIME"])
    assert (obs["bin"] >= 0).all()
    per_bin = pd.Series(nominal.ravel()).groupby(obs["bin"].to_numpy()).nunique()
    assert len(per_bin) == len(TIMES) and (per_bin == 1).all()   # a cluster per bin
    assert "cluster" in auto.binning
    edges = [0.0, 1.5, 5.0, 10.0]
    given = pkpd.vpc(exact, data, n=20, seed=1, bins=edges)
    np.testing.assert_array_equal(given.bins[("all", "CP")], edges)
    pct = given.table[given.table["quantile"] == 0.5]
    assert pct["time_lo"].tolist() == edges[:-1] and pct["time_hi"].tolist() == edges[1:]
    inside = (times >= 0) & (times <= 10)
    assert pct["n_obs"].sum() == inside.sum()
    assert (given.observed["bin"] == -1).sum() == (~inside).sum()
    assert "left out" in given.binning
    three = pkpd.vpc(exact, data, n=20, seed=1, bins=3)
    assert len(three.bins[("all", "CP")]) == 4


def test_seeds_reproducible(exact, design_data):
    a = pkpd.vpc(exact, design_data, n=50, seed=12)
    b = pkpd.vpc(exact, design_data, n=50, seed=12)
    c = pkpd.vpc(exact, design_data, n=50, seed=13)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not np.allclose(a.table["sim_median"], c.table["sim_median"])


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"stratify": "NOPE"}, "stratify"),
    ({"bins": [0.0, 2.0, 1.0]}, "bins"),
    ({"bins": "weird"}, "bins"),
    ({"quantiles": (0.05, 1.2)}, "quantiles"),
    ({"quantiles": (0.0, 0.5)}, "quantiles"),
    ({"n": 0}, "n = 0"),
    ({"ci": 1.5}, "ci"),
    ({"output": "PCA"}, "output"),
])
def test_bad_input(exact, design_data, kwargs, name):
    with pytest.raises(pkpd.EstimationError, match=name):
        pkpd.vpc(exact, design_data, **kwargs)


def test_percentiles_are_numpy_quantiles_without_censoring():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 17))
    probs = np.array([0.05, 0.3, 0.5, 0.95])
    got = percentiles(x, np.zeros_like(x, dtype=bool), probs)
    np.testing.assert_allclose(got, np.quantile(x, probs, axis=1).T, rtol=1e-12)


def test_theophylline(shared_dir):
    v = pkpd.vpc("theophylline_1cmt", shared_dir / "data" / "theophylline.csv", n=200,
                 seed=1)
    assert v.observed["ID"].nunique() == 12 and len(v.observed) == 132
    assert (v.observed["bin"] >= 0).all()
    med = v.table[v.table["quantile"] == 0.5]
    assert med["n_obs"].sum() == 132
    assert len(med) >= 5 and med["time"].is_monotonic_increasing
    edges = v.bins[("all", "CP")]
    assert edges[0] == 0.0 and edges[-1] == v.observed["TIME"].max()
    assert np.isfinite(med[["observed", "sim_lo", "sim_hi"]].to_numpy()).all()
