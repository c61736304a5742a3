"""Posterior draws of a fitted subject (FitResult.posterior): SIR and MCMC against the exact
posterior computed by quadrature on a grid, with the model's closed form written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pkpd
from pkpd.errors import EstimationError
from pkpd.estimation import fit_individual

CL, V, DOSE = 4.0, 40.0, 1000.0
OMEGA = np.array([[0.09, 0.03], [0.03, 0.16]])       # eta_CL, eta_V
PROP = 0.25
TIMES = np.array([1.0, 6.0])
LEVELS = np.array([30.0, 9.5])


def _model() -> pkpd.Model:
    import sympy as sp

    mb = pkpd.ModelBuilder("test_posterior_1cmt", time_unit="h")
    (central,) = mb.states(central="mg")
    TVCL, TVV = mb.parameters(TVCL=f"{CL} L/h", TVV=f"{V} L")
    e_cl, e_v = mb.omega_block(["eta_CL", "eta_V"], OMEGA.tolist())
    cl = mb.derive("CL", TVCL * sp.exp(e_cl), unit="L/h")
    v = mb.derive("V", TVV * sp.exp(e_v), unit="L")
    mb.ode(central, -cl / v * central)
    mb.output("C", central / v, unit="mg/L")
    mb.route("IV", "central")
    mb.error("C", proportional=PROP)
    return mb.build()


@pytest.fixture(scope="module")
def fit() -> pkpd.FitResult:
    data = pd.DataFrame({"ID": 1, "TIME": [0.0, *TIMES], "AMT": [DOSE, 0, 0],
                         "EVID": [1, 0, 0], "CMT": 1, "DV": [np.nan, *LEVELS],
                         "MDV": [1, 0, 0]})
    return fit_individual(_model(), data)


@pytest.fixture(scope="module")
def exact() -> dict[str, np.ndarray]:
    """Posterior moments by quadrature: the density exp(-OFV/2) on a 400 x 400 grid."""
    g = np.linspace(-2.0, 2.0, 400)
    e_cl, e_v = np.meshgrid(g, g, indexing="ij")
    cl, v = CL * np.exp(e_cl), V * np.exp(e_v)
    ofv = np.zeros_like(e_cl)
    for t, y in zip(TIMES, LEVELS, strict=True):
        f = DOSE / v * np.exp(-cl / v * t)
        sd = PROP * f
        ofv += ((y - f) / sd) ** 2 + 2 * np.log(sd)
    eta = np.stack([e_cl, e_v], axis=-1)
    ofv += np.einsum("...i,ij,...j->...", eta, np.linalg.inv(OMEGA), eta)
    w = np.exp(-0.5 * (ofv - ofv.min()))
    w /= w.sum()
    assert w[0].sum() + w[-1].sum() + w[:, 0].sum() + w[:, -1].sum() < 1e-8   # grid wide enough
    mean = np.array([(w * e_cl).sum(), (w * e_v).sum()])
    d = eta - mean
    cov = np.einsum("abi,abj,ab->ij", d, d, w)
    return {"mean": mean, "cov": cov}


def _moments(draws: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    x = draws[["eta_CL", "eta_V"]].to_numpy()
    return x.mean(axis=0), np.cov(x.T)


@pytest.mark.parametrize(("method", "tol"), [("sir", 0.06), ("mcmc", 0.12)])
def test_draws_match_the_exact_posterior(fit, exact, method, tol) -> None:
    """Means within ``tol`` posterior SDs and SDs within ``tol`` relative (Monte Carlo error
    with the fixed seed; about 4 standard errors), correlation within 0.05."""
    post = fit.posterior(4000, method=method, seed=11)
    mean, cov = _moments(post.etas)
    sd_exact = np.sqrt(np.diag(exact["cov"]))
    np.testing.assert_array_less(np.abs(mean - exact["mean"]), tol * sd_exact)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), sd_exact, rtol=tol)
    corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    corr_exact = exact["cov"][0, 1] / np.prod(sd_exact)
    assert corr == pytest.approx(corr_exact, abs=0.05)
    if method == "sir":
        assert post.diagnostics["ess"] > 1000
    else:
        assert 0.15 < post.diagnostics["acceptance"] < 0.6
        assert max(post.diagnostics["rhat_eta_CL"], post.diagnostics["rhat_eta_V"]) < 1.05
    assert set(post.params) == {"eta_CL", "eta_V"} and len(post.params["eta_CL"]) == 4000


def test_laplace_is_the_normal_at_the_mode(fit, exact) -> None:
    """The Laplace draws are centred on the mode; the exact posterior mean differs from the
    mode here (a skewed posterior), which SIR recovers and the Laplace draws do not."""
    laplace = fit.posterior(20000, method="laplace", seed=2)
    mode = np.array([fit.etas["eta_CL"], fit.etas["eta_V"]])
    mean, cov = _moments(laplace.etas)
    np.testing.assert_allclose(mean, mode, atol=0.01)
    np.testing.assert_allclose(cov, fit.covariance.to_numpy(), rtol=0.05, atol=1e-4)
    sir_mean, _ = _moments(fit.posterior(4000, method="sir", seed=3).etas)
    assert np.abs(sir_mean - exact["mean"]).max() < np.abs(mode - exact["mean"]).max()


def test_summary_and_errors(fit) -> None:
    post = fit.posterior(500, method="sir", seed=1)
    table = post.summary()
    assert list(table.columns) == ["mean", "sd", "q05", "median", "q95"]
    assert (table["q05"] < table["median"]).all() and (table["median"] < table["q95"]).all()
    with pytest.raises(EstimationError, match="method='nuts'; valid"):
        fit.posterior(10, method="nuts")
    with pytest.raises(EstimationError, match="positive integer"):
        fit.posterior(0)
    with pytest.raises(EstimationError, match="at least twice"):
        fit.posterior(1000, method="sir", proposals=1500)
    assert fit.sample(7, seed=1, method="sir")["eta_V"].shape == (7,)


def test_predict_a_new_regimen(fit) -> None:
    """Individual prediction and band of another regimen, against the closed form evaluated
    at the estimates and at the same posterior draws."""
    t = np.linspace(0.5, 48.0, 40)
    ds = fit.predict("500 mg IV q24h x 2", times=t, n=300, seed=5, method="sir")

    def conc(e_cl: np.ndarray, e_v: np.ndarray) -> np.ndarray:
        cl, v = CL * np.exp(e_cl)[:, None], V * np.exp(e_v)[:, None]
        k = cl / v
        return 500 / v * (np.exp(-k * t) + np.where(t >= 24, np.exp(-k * (t - 24)), 0.0))

    point = conc(np.array([fit.etas["eta_CL"]]), np.array([fit.etas["eta_V"]]))[0]
    np.testing.assert_allclose(ds["C"].to_numpy(), point, rtol=1e-8)
    draws = fit.sample(300, seed=5, method="sir")
    c = conc(draws["eta_CL"], draws["eta_V"])
    band = ds["C_band"]
    assert band.dims == ("quantile", "time")
    np.testing.assert_allclose(band.sel(quantile=0.05), np.quantile(c, 0.05, axis=0), rtol=1e-7)
    np.testing.assert_allclose(band.sel(quantile=0.95), np.quantile(c, 0.95, axis=0), rtol=1e-7)
    assert "C_band" not in fit.predict("500 mg IV", times=t, n=0)


def test_predict_continues_the_dose_history(fit) -> None:
    """With start=, the fitted dose (1000 mg at 0 h) is followed by the new regimen: the same
    prediction as the whole history written as one regimen (closed form here)."""
    t = np.linspace(0.5, 60.0, 50)
    ds = fit.predict("500 mg IV q24h x 2", times=t, start="12 h", n=0)
    cl, v = CL * np.exp(fit.etas["eta_CL"]), V * np.exp(fit.etas["eta_V"])
    k = cl / v
    c = sum(amt / v * np.where(t >= t0, np.exp(-k * (t - t0)), 0.0)
            for amt, t0 in ((DOSE, 0.0), (500.0, 12.0), (500.0, 36.0)))
    np.testing.assert_allclose(ds["C"].to_numpy(), c, rtol=1e-8)
    banded = fit.predict("500 mg IV q24h x 2", times=t, start="12 h", n=50, seed=1)
    assert banded["C_band"].shape == (3, len(t))
    with pytest.raises(pkpd.DataError, match="before the last dose of the history"):
        fit.predict("500 mg IV", times=t, start=-1.0, n=0)


def test_predict_with_an_event_table_and_a_band(fit) -> None:
    """A one-subject EventTable (e.g. the fitted dose history) serves every posterior draw:
    the band equals the one of the same regimen given as text."""
    t = np.linspace(0.5, 48.0, 20)
    table = pkpd.Regimen.parse("500 mg IV q24h x 2").to_events(_model())
    ds = fit.predict(table, times=t, n=40, seed=3)
    text = fit.predict("500 mg IV q24h x 2", times=t, n=40, seed=3)
    np.testing.assert_array_equal(ds["C_band"].to_numpy(), text["C_band"].to_numpy())
    np.testing.assert_array_equal(ds["C"].to_numpy(), text["C"].to_numpy())


def test_summary_table(fit) -> None:
    table = fit.summary(level=0.9)
    assert list(table.index) == ["eta_CL", "eta_V"]
    row = table.loc["eta_CL"]
    assert row["estimate"] == fit.etas["eta_CL"] and row["se"] == fit.se["eta_CL"]
    assert row["upper"] - row["estimate"] == pytest.approx(1.6448536 * fit.se["eta_CL"])
    assert table.attrs["individual"]["CL"] == pytest.approx(CL * np.exp(fit.etas["eta_CL"]))
    with pytest.raises(EstimationError, match="level"):
        fit.summary(level=1.5)
