"""pkpd.diagnose: the residuals against formulas written out here with the closed form of the
model and of its derivatives by the etas, NPDE calibrated on data simulated from the model (and
not on data from another model), replicates against a numpy Monte Carlo of the closed form,
shrinkage against its definition, and the table joined to the dataset rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import pkpd
from pkpd.diagnostics._design import design_from_model

from .conftest import DOSE, TIMES, TRUE, bolus_model, closed_form, design_frame


def _expected_residuals(fit: pkpd.PopulationFit, data) -> dict[str, np.ndarray]:
    """WRES, CWRES, IWRES from the closed form: f = D/V exp(-CL/V t), df/deta_CL = -k t f,
    df/deta_V = (k t - 1) f, residual variance add^2 + (prop f)^2."""
    est = fit.estimates
    omega = np.array([[est["omega(eta_CL)"], 0.0], [0.0, est["omega(eta_V)"]]])
    add, prop = est["CP.additive"], est["CP.proportional"]
    out = {"WRES": [], "CWRES": [], "IWRES": [], "PRED": [], "IPRED": []}
    obs = data[data.EVID == 0]
    for sid, rows in obs.groupby("ID", sort=False):
        t, y = rows.TIME.to_numpy(), rows.DV.to_numpy()
        eta = fit.etas.loc[sid, ["eta_CL", "eta_V"]].to_numpy(dtype=float)
        for name, e in (("WRES", np.zeros(2)), ("CWRES", eta)):
            cl, v = est["TVCL"] * np.exp(e[0]), est["TVV"] * np.exp(e[1])
            k = cl / v
            f = closed_form(cl, v, t)
            g = np.column_stack([-k * t * f, (k * t - 1.0) * f])
            cov = g @ omega @ g.T + np.diag(add**2 + (prop * f) ** 2)
            w, vec = np.linalg.eigh(cov)
            out[name].append(vec @ np.diag(w ** -0.5) @ vec.T @ (y - (f - g @ e)))
            if name == "CWRES":
                out["IWRES"].append((y - f) / np.hypot(add, prop * f))
                out["IPRED"].append(f)
            else:
                out["PRED"].append(f)
    return {k: np.concatenate(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def bolus_diag(bolus_fit) -> pkpd.Diagnostics:
    return pkpd.diagnose(bolus_fit, n_sim=1000, seed=3)


def test_residuals_match_the_closed_form(bolus_fit, bolus_data, bolus_diag):
    expected = _expected_residuals(bolus_fit, bolus_data)
    table = bolus_diag.table
    for name in ("PRED", "IPRED"):
        np.testing.assert_allclose(table[name], expected[name], rtol=1e-6)
    for name in ("WRES", "CWRES", "IWRES"):
        np.testing.assert_allclose(table[name], expected[name], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(table.RES, table.DV - table.PRED)
    np.testing.assert_allclose(table.IRES, table.DV - table.IPRED)


def test_table_is_joined_to_the_dataset_rows(bolus_data, bolus_diag):
    table = bolus_diag.table
    obs = bolus_data[bolus_data.EVID == 0]
    assert len(table) == len(obs) == 240
    # ROW is the line of the dataset as a file, the header being line 1 (read_nonmem)
    np.testing.assert_array_equal(table.ROW.to_numpy(), obs.index.to_numpy() + 2)
    np.testing.assert_array_equal(table.DV.to_numpy(), obs.DV.to_numpy())
    np.testing.assert_array_equal(table.TIME.to_numpy(), obs.TIME.to_numpy())
    assert list(bolus_diag.etas.columns) == ["eta_CL", "eta_V"]
    ds = bolus_diag.to_xarray()
    assert ds.sizes["obs"] == 240 and ds["DV"].attrs["units"] == "mg/L"


def test_shrinkage_follows_its_definition(bolus_fit, bolus_diag):
    etas = bolus_fit.etas
    for e in ("eta_CL", "eta_V"):
        omega = bolus_fit.estimates[f"omega({e})"]
        sd = np.std(etas[e], ddof=1)
        assert bolus_diag.shrinkage.loc[e, "sd"] == pytest.approx(100 * (1 - sd / np.sqrt(omega)))
        assert bolus_diag.shrinkage.loc[e, "variance"] == pytest.approx(
            100 * (1 - sd**2 / omega))
    iwres = bolus_diag.table.IWRES
    assert bolus_diag.shrinkage.loc["CP", "sd"] == pytest.approx(100 * (1 - np.std(iwres,
                                                                                    ddof=1)))
    # six levels per subject inform CL and V: little shrinkage
    assert (bolus_diag.shrinkage.loc[["eta_CL", "eta_V"], "sd"] < 30).all()


def test_cwres_and_npde_are_standard_normal_under_the_true_model(bolus_diag):
    """Data simulated from the model (independent numpy code): CWRES and NPDE about N(0, 1)."""
    table = bolus_diag.table
    for name in ("CWRES", "NPDE"):
        x = table[name].to_numpy()
        assert abs(x.mean()) < 0.2, name
        assert 0.8 < x.std() < 1.2, name
        assert stats.kstest(x, "norm").pvalue > 0.01, name
    assert bolus_diag.npde_tests.loc["global", "p_value"] > 0.01


def test_npde_detect_a_misspecified_model(bolus_cm, bolus_data):
    """The same data under a model with twice the clearance: the NPDE are shifted."""
    wrong = pkpd.diagnose(None, model=bolus_model(tvcl=2 * TRUE["TVCL"]), data=bolus_data,
                          n_sim=500, seed=3)
    assert wrong.table.NPDE.mean() > 0.5
    assert wrong.npde_tests.loc["global", "p_value"] < 1e-6
    assert wrong.table.CWRES.isna().all() and wrong.table.IPRED.isna().all()


def test_replicates_match_a_numpy_monte_carlo(bolus_cm):
    design = design_from_model(bolus_cm, design_frame(3))
    pred, obs = design.replicates(4000, seed=11)
    assert pred.shape == obs.shape == (4000, 3 * len(TIMES))
    rng = np.random.default_rng(5)
    cl = TRUE["TVCL"] * np.exp(rng.normal(0, np.sqrt(TRUE["omega_CL"]), 200_000))
    v = TRUE["TVV"] * np.exp(rng.normal(0, np.sqrt(TRUE["omega_V"]), 200_000))
    for j, t in enumerate(TIMES):
        ref = closed_form(cl, v, t)
        sim = pred[:, j]
        for q in (0.05, 0.5, 0.95):
            assert np.quantile(sim, q) == pytest.approx(np.quantile(ref, q), rel=0.05)
    # residual error: (obs - pred) / sd(pred) is standard normal
    z = (obs - pred) / np.hypot(TRUE["add"], TRUE["prop"] * pred)
    assert abs(z.mean()) < 0.02 and z.std() == pytest.approx(1.0, abs=0.02)
    # the same seed gives the same replicates
    again, _ = design.replicates(4000, seed=11)
    np.testing.assert_array_equal(pred, again)
    # the subjects of one replicate differ (etas drawn per subject)
    assert not np.allclose(pred[0, : len(TIMES)], pred[0, len(TIMES): 2 * len(TIMES)])


def test_individual_fits_are_diagnosed(bolus_cm, bolus_data):
    subjects = pkpd.fit_subjects(bolus_cm, bolus_data[bolus_data.ID <= 5])
    d = pkpd.diagnose(subjects, n_sim=200, seed=1)
    assert len(d.table) == 5 * len(TIMES) and d.method == "map"
    first = subjects.results[1]
    np.testing.assert_allclose(d.table.IPRED[: len(TIMES)], first.predictions.IPRED, rtol=1e-8)
    one = pkpd.diagnose(first, n_sim=200, seed=1)
    np.testing.assert_allclose(one.table.CWRES, d.table.CWRES[: len(TIMES)], rtol=1e-8)
    np.testing.assert_allclose(one.table.IWRES, first.predictions.IWRES, rtol=1e-8)


def test_bad_arguments_raise(bolus_fit):
    with pytest.raises(pkpd.EstimationError, match="n_sim"):
        pkpd.diagnose(bolus_fit, n_sim=-1)
    with pytest.raises(pkpd.EstimationError, match="model= and data="):
        pkpd.diagnose(None)
    with pytest.raises(pkpd.EstimationError, match="come from the fit"):
        pkpd.diagnose(bolus_fit, lloq=0.1)
    with pytest.raises(pkpd.EstimationError, match="PopulationFit"):
        pkpd.diagnose("not a fit")


@pytest.mark.slow
def test_theophylline(shared_dir):
    data = shared_dir / "data" / "theophylline.csv"
    fit = pkpd.fit_population("theophylline_1cmt", data, covariance=None)
    d = pkpd.diagnose(fit, n_sim=500, seed=1)
    assert len(d.table) == 132 and d.etas.shape[0] == 12
    assert {"WT", "DOSE_MGKG"} <= set(d.table.columns) and "WT" in d.etas
    assert abs(d.table.CWRES.mean()) < 0.3 and 0.7 < d.table.CWRES.std() < 1.3
    np.testing.assert_allclose(d.table.IPRED, fit.predictions.IPRED, rtol=1e-6)
    assert DOSE > 0  # the module constants are shared with conftest


def test_npde_stay_standard_normal_on_rich_profiles(bolus_cm):
    """40 levels per subject and 100 replicates: with the decorrelation's moments from
    independent replicates the NPDE keep SD 1; estimated from the ranked replicates (the npde
    package's way) they are over-dispersed by about sqrt(1 + 40/100)."""
    times = np.linspace(0.25, 12.0, 40)
    rng = np.random.default_rng(8)
    n = 30
    cl = TRUE["TVCL"] * np.exp(rng.normal(0, np.sqrt(TRUE["omega_CL"]), n))
    v = TRUE["TVV"] * np.exp(rng.normal(0, np.sqrt(TRUE["omega_V"]), n))
    f = closed_form(cl[:, None], v[:, None], times[None, :])
    dv = f + np.hypot(TRUE["add"], TRUE["prop"] * f) * rng.standard_normal(f.shape)
    rows = []
    for i in range(n):
        rows.append({"ID": i + 1, "TIME": 0.0, "AMT": DOSE, "DV": np.nan, "EVID": 1, "MDV": 1,
                     "CMT": 1})
        rows += [{"ID": i + 1, "TIME": t, "AMT": 0.0, "DV": dv[i, j], "EVID": 0, "MDV": 0,
                  "CMT": 1} for j, t in enumerate(times)]
    data = pd.DataFrame(rows)
    sd = {m: pkpd.diagnose(None, model=bolus_cm, data=data, n_sim=100, seed=4,
                           npde_moments=m).table.NPDE.std() for m in ("independent", "same")}
    assert 0.92 < sd["independent"] < 1.08
    assert sd["same"] > 1.1
    with pytest.raises(pkpd.EstimationError, match="npde_moments"):
        pkpd.diagnose(None, model=bolus_cm, data=data, npde_moments="other")
