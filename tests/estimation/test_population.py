"""Population estimation (pkpd.fit_population): the FO/FOCE/FOCE-I objective against
independent computations of the marginal likelihood, and the fitter's behaviour.

References computed here, without pkpd:
- a model linear in its eta with additive error: each subject's observations are exactly
  multivariate normal, ``y ~ N(f0, omega 1 1' + sigma^2 I)``, so FO, FOCE and FOCE-I all equal
  the exact -2 log likelihood (numpy, closed form);
- a one-compartment IV bolus with exponential IIV on clearance and proportional error: the
  marginal likelihood of each subject by adaptive quadrature over eta
  (:func:`scipy.integrate.quad`) of the closed-form concentrations; the Laplace approximation
  (FOCE-I) must be close, its error shrinking with the number of levels per subject.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad

import pkpd
from pkpd import EstimationError
from pkpd.estimation._population import setup

DOSE = 100.0
TIMES = np.array([0.5, 1.0, 2.0, 4.0, 8.0, 12.0])


def frame(dv: np.ndarray, times: np.ndarray = TIMES) -> pd.DataFrame:
    """A NONMEM dataset: one IV bolus of DOSE at 0, then the levels ``dv`` (subjects x times)."""
    rows = []
    for i, levels in enumerate(dv, start=1):
        rows.append({"ID": i, "TIME": 0.0, "AMT": DOSE, "EVID": 1, "CMT": 1, "DV": np.nan,
                     "MDV": 1})
        rows += [{"ID": i, "TIME": t, "AMT": 0.0, "EVID": 0, "CMT": 1, "DV": y, "MDV": 0}
                 for t, y in zip(times, levels, strict=True)]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# linear in eta: exact
# ---------------------------------------------------------------------------------------------

CL, V, TVB, OMEGA_B, SIGMA = 2.0, 20.0, 1.5, 0.3, 0.4


@pytest.fixture(scope="module")
def baseline_model() -> pkpd.Model:
    mb = pkpd.ModelBuilder("bolus_with_baseline", time_unit="h")
    mb.states(central="mg")
    mb.parameters(TVCL=f"{CL} L/h", TVV=f"{V} L", TVB=TVB,
                  CUNIT={"value": 1.0, "unit": "mg/L", "fixed": True})
    mb.etas(eta_B=OMEGA_B)
    mb.derive("B", "(TVB + eta_B) * CUNIT", unit="mg/L")
    mb.ode("central", "-TVCL / TVV * central")
    mb.output("CP", "central / TVV + B", unit="mg/L")
    mb.error("CP", additive=SIGMA)
    return mb.build()


def exact_linear(dv: np.ndarray, cl: float, v: float, b: float, omega: float,
                 sigma: float) -> np.ndarray:
    """-2 log L of each subject without the n log 2 pi constant (closed form)."""
    f0 = DOSE / v * np.exp(-cl / v * TIMES) + b
    cov = omega * np.ones((len(TIMES), len(TIMES))) + sigma**2 * np.eye(len(TIMES))
    _, logdet = np.linalg.slogdet(cov)
    r = dv - f0
    return logdet + np.einsum("ij,jk,ik->i", r, np.linalg.inv(cov), r)


@pytest.fixture(scope="module")
def baseline_data() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    eta = rng.normal(0.0, np.sqrt(OMEGA_B), (8, 1))
    f = DOSE / V * np.exp(-CL / V * TIMES) + TVB + eta
    return frame(f + rng.normal(0.0, SIGMA, f.shape))


@pytest.mark.parametrize("method", ["focei", "foce", "fo"])
@pytest.mark.parametrize("point", [
    {},
    {"TVCL": 2.6, "TVB": 1.1, "omega(eta_B)": 0.8, "CP.additive": 0.25},
])
def test_objective_is_exact_for_a_model_linear_in_eta(baseline_model, baseline_data, method,
                                                      point):
    problem = setup(baseline_model, baseline_data, method, outputs=None, lloq=None,
                    params=None, initial=None)
    values = {**problem.transform.values, **point}
    ev = problem.evaluate_values([values])
    dv = baseline_data.loc[baseline_data.EVID == 0, "DV"].to_numpy().reshape(-1, len(TIMES))
    ref = exact_linear(dv, values["TVCL"], values["TVV"], values["TVB"],
                       values["omega(eta_B)"], values["CP.additive"])
    np.testing.assert_allclose(ev.subject[0], ref, rtol=1e-7, atol=1e-7)
    assert ev.ofv[0] == pytest.approx(ref.sum(), rel=1e-8)


def test_fit_maximises_the_exact_likelihood(baseline_model, baseline_data):
    """The FOCE-I optimum is the maximum of the exact likelihood (scipy on the closed form)."""
    from scipy.optimize import minimize

    dv = baseline_data.loc[baseline_data.EVID == 0, "DV"].to_numpy().reshape(-1, len(TIMES))

    def total(x: np.ndarray) -> float:
        cl, b, omega, sigma = np.exp(x)
        return float(exact_linear(dv, cl, V, b, omega, sigma).sum())

    ref = minimize(total, np.log([CL, TVB, OMEGA_B, SIGMA]), method="Nelder-Mead",
                   options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20_000})
    fit = pkpd.fit_population(baseline_model, baseline_data, params={"TVV": V},
                              covariance=None)
    assert fit.success, fit.status
    assert fit.ofv == pytest.approx(ref.fun, abs=1e-5)
    est = np.log([fit.estimates[n] for n in ("TVCL", "TVB", "omega(eta_B)", "CP.additive")])
    # the objective is flat to 1e-5 within ~1e-3 of the optimum (curvature ~ n subjects)
    np.testing.assert_allclose(est, ref.x, atol=2e-3)
    assert "TVV" not in fit.estimated and fit.estimates["TVV"] == V
    assert "CUNIT" not in fit.estimated


@pytest.mark.parametrize("lloq", [2.5, 3.0])
def test_censored_levels_m3_against_quadrature(baseline_model, baseline_data, lloq):
    """Beal's M3 in FOCE-I: the marginal likelihood of each subject with censored levels by
    quadrature over its eta (observed levels: normal densities, censored: normal CDFs at the
    LLOQ). Measured largest difference 0.0015 (the Laplace approximation with the curvature of
    the censored terms)."""
    from scipy.stats import norm

    dv = baseline_data.loc[baseline_data.EVID == 0, "DV"].to_numpy().reshape(-1, len(TIMES))
    censored = dv < lloq
    assert 4 <= censored.sum() <= 10
    problem = setup(baseline_model, baseline_data, "focei", outputs=None, lloq=lloq,
                    params=None, initial=None)
    ev = problem.evaluate_values([problem.transform.values])
    f0 = DOSE / V * np.exp(-CL / V * TIMES) + TVB
    ref = []
    for levels, cens in zip(dv, censored, strict=True):
        def density(eta: float, levels: np.ndarray = levels, cens: np.ndarray = cens) -> float:
            log_lik = np.where(cens, norm.logcdf((lloq - f0 - eta) / SIGMA),
                               norm.logpdf(levels, f0 + eta, SIGMA) + 0.5 * np.log(2 * np.pi))
            return float(np.exp(log_lik.sum() + norm.logpdf(eta, 0.0, np.sqrt(OMEGA_B))))

        value, _ = quad(density, -5.0, 5.0, epsabs=0, epsrel=1e-12, limit=200)
        ref.append(-2.0 * np.log(value))
    np.testing.assert_allclose(ev.subject[0], ref, atol=0.005)
    # subjects without censored levels: exact (the model is linear in eta)
    exact = ~censored.any(axis=1)
    np.testing.assert_allclose(ev.subject[0][exact], np.array(ref)[exact], atol=1e-7)


# ---------------------------------------------------------------------------------------------
# nonlinear in eta: Laplace against quadrature
# ---------------------------------------------------------------------------------------------

OMEGA_CL, PROP = 0.09, 0.15


@pytest.fixture(scope="module")
def bolus_model() -> pkpd.Model:
    mb = pkpd.ModelBuilder("bolus_iiv_cl", time_unit="h")
    mb.states(central="mg")
    mb.parameters(TVCL=f"{CL} L/h", TVV=f"{V} L")
    mb.etas(eta_CL=OMEGA_CL)
    mb.derive("CL", "TVCL * exp(eta_CL)")
    mb.ode("central", "-CL / TVV * central")
    mb.output("CP", "central / TVV", unit="mg/L")
    mb.error("CP", proportional=PROP)
    return mb.build()


def marginal_by_quadrature(levels: np.ndarray, times: np.ndarray) -> float:
    """-2 log of the marginal likelihood of one subject, without the n log 2 pi constant."""
    def density(eta: float) -> float:
        f = DOSE / V * np.exp(-CL * np.exp(eta) / V * times)
        sd = PROP * f
        log_lik = -0.5 * np.sum(((levels - f) / sd) ** 2) - np.sum(np.log(sd))
        log_prior = -0.5 * eta**2 / OMEGA_CL - 0.5 * np.log(2 * np.pi * OMEGA_CL)
        return float(np.exp(log_lik + log_prior + scale))

    scale = 0.0
    scale = -np.log(density(0.0))    # keeps the integrand near 1; undone below
    sd = np.sqrt(OMEGA_CL)
    value, _ = quad(density, -12 * sd, 12 * sd, epsabs=0, epsrel=1e-12, limit=400)
    return -2.0 * (np.log(value) - scale)


def focei_by_hand(levels: np.ndarray, times: np.ndarray) -> tuple[float, float]:
    """NONMEM's FOCE-I objective of one subject written out for this model (numpy, scipy's
    scalar minimiser for the mode): returns (objective, mode)."""
    from scipy.optimize import minimize_scalar

    def pred(e: float) -> np.ndarray:
        return DOSE / V * np.exp(-CL * np.exp(e) / V * times)

    def inner(e: float) -> float:
        f = pred(e)
        return float(np.sum(((levels - f) / (PROP * f)) ** 2 + 2 * np.log(PROP * f))
                     + e * e / OMEGA_CL)

    mode = minimize_scalar(inner, bounds=(-3, 3), method="bounded",
                           options={"xatol": 1e-12}).x
    f = pred(mode)
    g = -f * CL * np.exp(mode) / V * times          # d f / d eta
    var = (PROP * f) ** 2
    d_var = 2 * PROP**2 * f * g                     # d V / d eta
    info = np.sum(g * g / var + 0.5 * d_var**2 / var**2) + 1 / OMEGA_CL
    return inner(mode) + np.log(OMEGA_CL) + np.log(info), mode


@pytest.mark.parametrize("n_levels", [3, 12, 48])
def test_focei_objective_and_the_marginal_likelihood(bolus_model, n_levels):
    rng = np.random.default_rng(11)
    times = np.linspace(0.5, 16.0, n_levels)
    eta = rng.normal(0.0, np.sqrt(OMEGA_CL), (6, 1))
    f = DOSE / V * np.exp(-CL * np.exp(eta) / V * times)
    dv = f * (1 + PROP * rng.standard_normal(f.shape))
    problem = setup(bolus_model, frame(dv, times), "focei", outputs=None, lloq=None,
                    params=None, initial=None)
    ev = problem.evaluate_values([problem.transform.values])
    by_hand = [focei_by_hand(levels, times) for levels in dv]
    # the FOCE-I formula, exactly
    np.testing.assert_allclose(ev.subject[0], [b[0] for b in by_hand], atol=1e-6)
    np.testing.assert_allclose(ev.etas[0, :, 0], [b[1] for b in by_hand], atol=1e-6)
    # and an approximation of the exact marginal likelihood whose error shrinks as the levels
    # grow (Laplace with the expected information): measured largest errors per subject
    # 0.25 (3 levels), 0.070 (12), 0.038 (48); the bounds leave 1.5x that
    exact = np.array([marginal_by_quadrature(levels, times) for levels in dv])
    tol = {3: 0.37, 12: 0.105, 48: 0.057}[n_levels]
    np.testing.assert_allclose(ev.subject[0], exact, atol=tol)


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------

def test_bad_input_is_refused_with_a_clear_error(baseline_model, baseline_data):
    with pytest.raises(EstimationError, match="method='laplace'"):
        pkpd.fit_population(baseline_model, baseline_data, "laplace")
    with pytest.raises(EstimationError, match="needs several"):
        pkpd.fit_population(baseline_model, baseline_data[baseline_data.ID == 1])
    with pytest.raises(EstimationError, match="not parameters"):
        pkpd.fit_population(baseline_model, baseline_data, initial={"CL": 1.0})
    with pytest.raises(EstimationError, match="covariance="):
        pkpd.fit_population(baseline_model, baseline_data, covariance="hessian")
    with pytest.raises(EstimationError, match="within its bounds"):
        pkpd.fit_population(baseline_model, baseline_data, initial={"TVCL": -1.0})
    no_etas = pkpd.ModelBuilder("no_etas", time_unit="h")
    no_etas.states(central="mg")
    no_etas.parameters(K="0.1 1/h")
    no_etas.ode("central", "-K * central")
    no_etas.output("A", "central", unit="mg")
    no_etas.error("A", additive=0.1)
    with pytest.raises(EstimationError, match="no etas"):
        pkpd.fit_population(no_etas.build(), baseline_data)


# ---------------------------------------------------------------------------------------------
# covariance step
# ---------------------------------------------------------------------------------------------

def _hessian(fun, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = len(x)
    out = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * h[i], np.eye(n)[j] * h[j]
            out[i, j] = (fun(x + ei + ej) - fun(x + ei - ej) - fun(x - ei + ej)
                         + fun(x - ei - ej)) / (4 * h[i] * h[j])
    return (out + out.T) / 2


@pytest.mark.parametrize("kind", ["r", "sandwich", "s"])
def test_covariance_step_matches_the_exact_likelihood(baseline_model, baseline_data, kind):
    """Standard errors from the closed-form likelihood of the linear model: R = the Hessian of
    -2 log L in the parameters (central differences), S = the cross-product of the subjects'
    gradients; covariance 2 R^-1, R^-1 S R^-1 or 4 S^-1."""
    dv = baseline_data.loc[baseline_data.EVID == 0, "DV"].to_numpy().reshape(-1, len(TIMES))
    fit = pkpd.fit_population(baseline_model, baseline_data, params={"TVV": V},
                              covariance=kind)
    names = ["TVCL", "TVB", "omega(eta_B)", "CP.additive"]
    x = np.array([fit.estimates[n] for n in names])

    def per_subject(p: np.ndarray) -> np.ndarray:
        return exact_linear(dv, p[0], V, p[1], p[2], p[3])

    h = 1e-4 * x
    r = _hessian(lambda p: per_subject(p).sum(), x, h)
    grads = np.array([(per_subject(x + np.eye(4)[k] * h[k])
                       - per_subject(x - np.eye(4)[k] * h[k])) / (2 * h[k]) for k in range(4)])
    s = grads @ grads.T
    r_inv = np.linalg.inv(r)
    cov = {"r": 2 * r_inv, "sandwich": r_inv @ s @ r_inv, "s": 4 * np.linalg.inv(s)}[kind]
    assert fit.covariance_status == f"ok ({kind})"
    got = fit.covariance.loc[names, names].to_numpy()
    np.testing.assert_allclose(np.sqrt(np.diag(got)), np.sqrt(np.diag(cov)), rtol=0.02)
    np.testing.assert_allclose(fit.correlation.loc[names, names].to_numpy(),
                               cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov))), atol=0.02)
    for n in names:
        assert fit.rse[n] == pytest.approx(100 * fit.se[n] / abs(fit.estimates[n]))


def test_progress_lines_and_failed_covariance_are_reported(baseline_model, baseline_data):
    lines: list[str] = []
    fit = pkpd.fit_population(baseline_model, baseline_data, progress=lines.append,
                              covariance=None)
    assert lines and lines[0].startswith("iteration    0  OFV") and "|gradient|" in lines[0]
    assert len(lines) == len(fit.history)
    assert fit.covariance_status == "not requested" and fit.se == {}
    fit = pkpd.fit_population(baseline_model, baseline_data, maxiter=3)
    assert not fit.success and "maximum of 3 iterations" in fit.status


def test_unidentified_parameter_fails_the_covariance_step(baseline_data):
    """CL = TVCL * FR: only the product is identified, the R matrix is singular."""
    mb = pkpd.ModelBuilder("ridge", time_unit="h")
    mb.states(central="mg")
    mb.parameters(TVCL=f"{CL} L/h", FR=1.0, TVV=f"{V} L")
    mb.etas(eta_CL=0.09)
    mb.derive("CL", "TVCL * FR * exp(eta_CL)")
    mb.ode("central", "-CL / TVV * central")
    mb.output("CP", "central / TVV", unit="mg/L")
    mb.error("CP", additive=0.4)
    data = baseline_data.assign(DV=baseline_data.DV - TVB)
    fit = pkpd.fit_population(mb.build(), data, covariance="r")
    assert fit.covariance_status.startswith("failed: the R matrix is not positive definite")
    assert fit.se == {} and fit.covariance is None and np.isnan(fit.condition_number)
    assert np.isfinite(fit.ofv) and fit.status
