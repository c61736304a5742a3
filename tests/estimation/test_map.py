"""Individual fits (pkpd.estimation.fit_individual) against independent references: a hand-written
objective on a scipy solve_ivp integration of the same ODEs, noise-free data, a hand-computed
M3 term, and the frequentist coverage of the Laplace intervals over a simulated cohort."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import minimize
from scipy.stats import norm

import pkpd
from pkpd.codegen import CompiledModel
from pkpd.estimation import FitResult, fit_individual
from pkpd.library import model_path

# models/two_cmt_oral.toml, written out again by hand for the reference computations
TYPICAL = {"KA": 1.0, "CL": 5.0, "V1": 50.0, "Q": 8.0, "V2": 100.0}
ETAS = ("eta_KA", "eta_CL", "eta_V1", "eta_Q", "eta_V2")
OMEGA = np.diag([0.16, 0.09, 0.0625, 0.04, 0.04])          # in the order of ETAS
ADD, PROP = 0.05, 0.1                                        # CP error: combined, variances add
DOSE, DOSE_TIMES = 500.0, (0.0, 12.0)                        # 500 mg PO q12h
SAMPLE_TIMES = (2.0, 6.0, 11.5, 23.5)
Z90 = norm.ppf(0.95)


@pytest.fixture(scope="module")
def cm() -> CompiledModel:
    return pkpd.compile_model(pkpd.load_model("two_cmt_oral"))


def dataset(levels: np.ndarray, times: tuple[float, ...] = SAMPLE_TIMES, ident: int = 1,
            **extra: np.ndarray) -> pd.DataFrame:
    """NONMEM records of one subject: the doses, then the levels (CMT 2 = central)."""
    doses = pd.DataFrame({"ID": ident, "TIME": DOSE_TIMES, "AMT": DOSE, "EVID": 1, "CMT": 1,
                          "DV": np.nan, "MDV": 1})
    obs = pd.DataFrame({"ID": ident, "TIME": times, "AMT": 0.0, "EVID": 0, "CMT": 2,
                        "DV": levels, "MDV": 0, **extra})
    return pd.concat([doses, obs]).sort_values("TIME", kind="stable").reset_index(drop=True)


def reference_cp(eta: np.ndarray, times: tuple[float, ...] = SAMPLE_TIMES) -> np.ndarray:
    """CP at ``times`` by scipy (LSODA, rtol 1e-10), the ODEs written here by hand."""
    ka, cl, v1, q, v2 = (TYPICAL[p] * np.exp(e) for p, e in zip(TYPICAL, eta, strict=True))

    def rhs(t: float, a: np.ndarray) -> list[float]:
        depot, central, periph = a
        return [-ka * depot, ka * depot - (cl + q) / v1 * central + q / v2 * periph,
                q / v1 * central - q / v2 * periph]

    state = np.zeros(3)
    out = []
    bounds = [*DOSE_TIMES, max(times) + 1.0]
    for start, stop in itertools.pairwise(bounds):
        state[0] += DOSE
        inside = [t for t in times if start <= t < stop]
        sol = solve_ivp(rhs, (start, stop), state, method="LSODA", rtol=1e-10, atol=1e-12,
                        t_eval=[*inside, stop])
        out += list(sol.y[1, :-1] / v1)
        state = sol.y[:, -1].copy()
    return np.array(out)


def reference_objective(eta: np.ndarray, levels: np.ndarray) -> float:
    """-2 log posterior written out: combined error (variances add) and the omega prior."""
    f = reference_cp(eta)
    sd = np.sqrt(ADD**2 + (PROP * f) ** 2)
    return float(np.sum(((levels - f) / sd) ** 2 + 2 * np.log(sd)) + eta @ np.linalg.solve(
        OMEGA, eta))


def noisy_levels(f: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return f + np.sqrt(ADD**2 + (PROP * f) ** 2) * rng.standard_normal(f.shape)


def fitted(fit: FitResult) -> np.ndarray:
    return np.array([fit.etas[e] for e in ETAS])


# --------------------------------------------------------------------------------------------
# one patient against a brute-force reference
# --------------------------------------------------------------------------------------------

TRUE_ETA = np.array([0.3, -0.25, 0.2, 0.1, -0.1])


@pytest.fixture(scope="module")
def patient_levels() -> np.ndarray:
    return noisy_levels(reference_cp(TRUE_ETA), np.random.default_rng(7))


def test_map_matches_brute_force_nelder_mead(cm: CompiledModel, patient_levels: np.ndarray
                                             ) -> None:
    fit = fit_individual(cm, dataset(patient_levels))
    ref = minimize(reference_objective, np.zeros(5), args=(patient_levels,),
                   method="Nelder-Mead",
                   options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 20_000,
                            "maxfev": 20_000, "adaptive": True})
    assert ref.success, ref.message
    np.testing.assert_allclose(fitted(fit), ref.x, atol=1e-4)
    # and scipy's BFGS with its own numerical gradient on the same scipy-solved objective
    bfgs = minimize(reference_objective, np.zeros(5), args=(patient_levels,), method="BFGS")
    np.testing.assert_allclose(fitted(fit), bfgs.x, atol=1e-4)
    # the objectives differ by the constant n log(2 pi) only where both omit it: here neither
    assert fit.ofv == pytest.approx(ref.fun, abs=1e-6)
    # Laplace covariance: inverse of half a central-difference Hessian of the reference
    h, n = 1e-3, 5
    e = np.eye(n) * h
    hess = np.array([[(reference_objective(ref.x + e[i] + e[j], patient_levels)
                       - reference_objective(ref.x + e[i] - e[j], patient_levels)
                       - reference_objective(ref.x - e[i] + e[j], patient_levels)
                       + reference_objective(ref.x - e[i] - e[j], patient_levels)) / (4 * h * h)
                      for j in range(n)] for i in range(n)])
    cov = np.linalg.inv(hess / 2)
    got = fit.covariance.loc[list(ETAS), list(ETAS)].to_numpy()
    np.testing.assert_allclose(got, cov, rtol=2e-3, atol=1e-5)
    assert fit.se["eta_CL"] == pytest.approx(np.sqrt(cov[1, 1]), rel=2e-3)
    assert fit.shrinkage["eta_CL"] == pytest.approx(np.sqrt(cov[1, 1] / OMEGA[1, 1]), rel=2e-3)
    # predictions and derived individual parameters at the estimates, from the reference
    np.testing.assert_allclose(fit.predictions["IPRED"], reference_cp(ref.x), rtol=1e-6)
    np.testing.assert_allclose(fit.predictions["PRED"], reference_cp(np.zeros(5)), rtol=1e-6)
    ipred = reference_cp(ref.x)
    np.testing.assert_allclose(fit.predictions["IWRES"],
                               (patient_levels - ipred) / np.sqrt(ADD**2 + (PROP * ipred) ** 2),
                               rtol=1e-4, atol=1e-6)
    for k, (name, typical) in enumerate(TYPICAL.items()):
        assert fit.individual[name] == pytest.approx(typical * np.exp(ref.x[k]), rel=1e-4)
    assert fit.success and fit.n_evaluations > 0 and fit.elapsed > 0


def test_ml_matches_brute_force_without_prior(cm: CompiledModel) -> None:
    times = (0.5, 1.0, 2.0, 4.0, 6.0, 9.0, 11.5, 14.0, 18.0, 23.5)
    eta = np.array([0.2, 0.4, -0.3, 0.0, 0.0])
    levels = reference_cp(eta, times)          # noise free: the ML estimate is close to eta,
    estimate = ["eta_KA", "eta_CL", "eta_V1"]  # not equal (the 2 log sd term depends on eta)

    def objective(x: np.ndarray) -> float:
        f = reference_cp(np.r_[x, 0.0, 0.0], times)
        sd = np.sqrt(ADD**2 + (PROP * f) ** 2)
        return float(np.sum(((levels - f) / sd) ** 2 + 2 * np.log(sd)))

    fit = fit_individual(cm, dataset(levels, times), method="ml", estimate=estimate)
    ref = minimize(objective, np.zeros(3), method="Nelder-Mead",
                   options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 20_000, "adaptive": True})
    assert ref.success, ref.message
    assert set(fit.etas) == set(estimate)
    np.testing.assert_allclose([fit.etas[e] for e in estimate], ref.x, atol=1e-4)
    np.testing.assert_allclose(ref.x, eta[:3], atol=0.05)
    assert fit.ofv == pytest.approx(ref.fun, abs=1e-6)
    # adding the prior pulls the estimate towards zero in the prior's metric: MAP minimises
    # L + P and ML minimises L, so P(map) <= P(ml)
    fit_map = fit_individual(cm, dataset(levels, times), estimate=estimate)
    x_map = np.array([fit_map.etas[e] for e in estimate])
    precision = np.linalg.inv(OMEGA[:3, :3])
    assert x_map @ precision @ x_map < ref.x @ precision @ ref.x


def test_exponential_error_works_on_the_log_scale(tmp_path: Path,
                                                  patient_levels: np.ndarray) -> None:
    text = model_path("two_cmt_oral").read_text()
    text = text.replace("CP = { proportional = 0.1, additive = 0.05 }",
                        "CP = { exponential = 0.2 }")
    text = text.replace('name = "two_cmt_oral"', 'name = "two_cmt_oral_exp"')
    assert "exponential" in text and "two_cmt_oral_exp" in text
    path = tmp_path / "two_cmt_oral_exp.toml"
    path.write_text(text)
    fit = fit_individual(pkpd.load_model(path), dataset(patient_levels))
    eta = fitted(fit)
    f = reference_cp(eta)
    by_hand = np.sum(((np.log(patient_levels) - np.log(f)) / 0.2) ** 2 + 2 * np.log(0.2))
    assert fit.ofv == pytest.approx(by_hand + eta @ np.linalg.solve(OMEGA, eta), abs=1e-6)
    np.testing.assert_allclose(fit.predictions["IWRES"],
                               (np.log(patient_levels) - np.log(f)) / 0.2, rtol=1e-5)
    # a stationary point of the hand objective
    grad = [(reference_objective_exp(eta + d, patient_levels)
             - reference_objective_exp(eta - d, patient_levels)) / 2e-5
            for d in np.eye(5) * 1e-5]
    np.testing.assert_allclose(grad, 0.0, atol=2e-3)


def reference_objective_exp(eta: np.ndarray, levels: np.ndarray) -> float:
    f = reference_cp(eta)
    return float(np.sum(((np.log(levels) - np.log(f)) / 0.2) ** 2)
                 + eta @ np.linalg.solve(OMEGA, eta))


# --------------------------------------------------------------------------------------------
# BLQ (M3)
# --------------------------------------------------------------------------------------------


def test_blq_m3_term_and_direction(cm: CompiledModel, patient_levels: np.ndarray) -> None:
    dropped = fit_individual(cm, dataset(patient_levels[:3], SAMPLE_TIMES[:3]))
    ipred_23 = reference_cp(fitted(dropped))[-1]   # its prediction at 23.5 h
    lloq = 0.6 * ipred_23
    levels = np.r_[patient_levels[:3], 0.5 * lloq]           # reported below the LLOQ
    fit = fit_individual(cm, dataset(levels), lloq=lloq)
    assert fit.predictions["BLQ"].tolist() == [False, False, False, True]
    assert fit.predictions["IPRED"].iloc[-1] < ipred_23      # pulled below the limit
    assert fit.etas["eta_CL"] > dropped.etas["eta_CL"]       # by a faster clearance

    # the objective at the optimum, recomputed by hand from the reported predictions
    f = reference_cp(fitted(fit))
    np.testing.assert_allclose(fit.predictions["IPRED"], f, rtol=1e-6)
    sd = np.sqrt(ADD**2 + (PROP * f) ** 2)
    observed = np.sum(((levels[:3] - f[:3]) / sd[:3]) ** 2 + 2 * np.log(sd[:3]))
    m3 = -2 * np.log(norm.cdf((lloq - f[3]) / sd[3]))
    eta = fitted(fit)
    assert fit.ofv == pytest.approx(observed + m3 + eta @ np.linalg.solve(OMEGA, eta), abs=1e-6)
    assert np.isnan(fit.predictions["IWRES"].iloc[-1])

    # a BLQ flag column with the LLOQ in DV is the same censoring
    flagged = dataset(np.r_[patient_levels[:3], lloq], BLQ=np.array([0, 0, 0, 1]))
    fit_flag = fit_individual(cm, flagged)
    np.testing.assert_allclose(fitted(fit_flag), fitted(fit), atol=1e-6)


# --------------------------------------------------------------------------------------------
# a simulated cohort: coverage of the Laplace intervals, shrinkage
# --------------------------------------------------------------------------------------------

N_COHORT = 40


@pytest.fixture(scope="module")
def cohort(cm: CompiledModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True etas drawn from omega, MAP estimates and standard errors of 40 virtual patients."""
    rng = np.random.default_rng(20240601)
    true = rng.multivariate_normal(np.zeros(5), OMEGA, size=N_COHORT)
    frames = [dataset(np.zeros(4), ident=i + 1) for i in range(N_COHORT)]
    sim = pkpd.simulate(cm, pkpd.read_nonmem(pd.concat(frames, ignore_index=True)),
                        params={e: true[:, k] for k, e in enumerate(ETAS)})
    cp = sim["CP"].to_numpy()[sim["evid"].to_numpy() == 0].reshape(N_COHORT, 4)
    np.testing.assert_allclose(cp[0], reference_cp(true[0]), rtol=1e-6)  # the engine is right
    levels = noisy_levels(cp, rng)
    fits = [fit_individual(cm, dataset(levels[i], ident=i + 1)) for i in range(N_COHORT)]
    est = np.array([fitted(f) for f in fits])
    se = np.array([[f.se[e] for e in ETAS] for f in fits])
    return true, est, se


def test_laplace_intervals_cover_the_truth(cohort: tuple[np.ndarray, ...]) -> None:
    true, est, se = cohort
    covered = np.abs(est - true) <= Z90 * se
    # 200 nominal-90 % intervals: a binomial count has SD sqrt(200 * 0.9 * 0.1) = 4.2, so 0.75
    # (150) and 0.97 (194) are 7 and 3.3 SDs from 180. Both bounds leave room for the Laplace
    # approximation of a nonlinear model; intervals of 5 etas of one patient are not independent.
    assert 0.75 <= covered.mean() <= 0.97, covered.mean(axis=0)
    assert covered.mean(axis=0).min() >= 0.6   # no eta systematically missed


def test_map_estimates_shrink_towards_zero(cohort: tuple[np.ndarray, ...]) -> None:
    true, est, se = cohort
    prior_sd = np.sqrt(np.diag(OMEGA))
    # shrinkage: the spread of the estimates is less than that of the true etas
    assert np.all(est.std(axis=0) < true.std(axis=0))
    # posterior SD below the prior SD on average (for one patient the Laplace SD may exceed
    # the prior SD slightly: the data part of the Hessian need not be positive at the mode)
    assert np.all((se / prior_sd).mean(axis=0) < 1)
    assert np.all(se / prior_sd < 1.2)
    # for a linear-Gaussian model Var(eta_hat) + E[posterior variance] = omega; allow for the
    # sampling error of 40 patients (relative SD of a variance ~ 0.23) and the nonlinearity
    total = est.var(axis=0) + (se**2).mean(axis=0)
    np.testing.assert_allclose(total / np.diag(OMEGA), 1.0, atol=0.35)
    # the best-informed eta (CL, from the trough levels) tracks the truth
    assert np.corrcoef(est[:, 1], true[:, 1])[0, 1] > 0.7
    slope = np.polyfit(true[:, 1], est[:, 1], 1)[0]
    assert 0.3 < slope < 1.05


def test_sample_draws_from_the_laplace_approximation(cm: CompiledModel,
                                                     patient_levels: np.ndarray) -> None:
    fit = fit_individual(cm, dataset(patient_levels), params={"TVKA": 1.0})
    draws = fit.sample(20_000, seed=3)
    assert set(draws) == {*ETAS, "TVKA"}
    x = np.column_stack([draws[e] for e in ETAS])
    cov = fit.covariance.loc[list(ETAS), list(ETAS)].to_numpy()
    np.testing.assert_allclose(x.mean(axis=0), fitted(fit), atol=4 * np.sqrt(cov.max() / 20_000))
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.05 * cov.max())
    again = fit.sample(20_000, seed=3)
    assert all(np.array_equal(draws[k], again[k]) for k in draws)
    # ready for simulate: posterior band for 10 draws
    band = pkpd.simulate(cm, "500 mg PO q12h x 2", params={k: v[:10] for k, v in draws.items()},
                         times=[2.0, 23.5])
    assert band["CP"].shape == (10, 2)


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


def test_two_subjects_is_an_error(cm: CompiledModel) -> None:
    two = pd.concat([dataset(np.ones(4), ident=1), dataset(np.ones(4), ident=2)])
    with pytest.raises(pkpd.EstimationError, match="2 subjects"):
        fit_individual(cm, two)


def test_no_observations_is_an_error(cm: CompiledModel) -> None:
    frame = dataset(np.ones(4))
    frame.loc[frame.EVID == 0, "MDV"] = 1
    with pytest.raises(pkpd.EstimationError, match="no observations"):
        fit_individual(cm, frame)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"method": "bayes"}, "method"),
    ({"outputs": {2: "AUC"}}, "not an output"),
    ({"outputs": {1: "CP"}}, "no output given for CMT 2"),
    ({"params": {"XYZ": 1.0}}, "not a parameter"),
    ({"estimate": ["eta_CL"], "params": {"eta_CL": 0.1}}, "both estimated and fixed"),
])
def test_bad_arguments_are_named(cm: CompiledModel, kwargs: dict, match: str) -> None:
    with pytest.raises(pkpd.EstimationError, match=match):
        fit_individual(cm, dataset(np.ones(4)), **kwargs)


def test_dose_history_and_levels_give_the_same_fit(cm: CompiledModel,
                                                   patient_levels: np.ndarray) -> None:
    """A regimen and a table of levels is the same fit as the NONMEM records."""
    ref = fit_individual(cm, dataset(patient_levels))
    fit = fit_individual(cm, "500 mg PO q12h x 2",
                         levels={"TIME": [f"{t} h" for t in SAMPLE_TIMES], "DV": patient_levels})
    np.testing.assert_allclose(fitted(fit), fitted(ref), atol=1e-10)
    assert fit.ofv == pytest.approx(ref.ofv, abs=1e-9)
    named = fit_individual(cm, pkpd.Regimen.parse("500 mg PO q12h x 2"),
                           levels=pd.DataFrame({"time": SAMPLE_TIMES, "dv": patient_levels,
                                                "output": "CP"}))
    np.testing.assert_allclose(fitted(named), fitted(ref), atol=1e-10)


@pytest.mark.parametrize(("levels", "kwargs", "match"), [
    ({"TIME": [2.0]}, {}, "DV missing"),
    ({"TIME": [2.0], "DV": [1.0], "CONC": [1.0]}, {}, "unknown column"),
    ({"TIME": [2.0], "DV": [1.0], "OUTPUT": ["AUC"]}, {}, "not outputs of model"),
    ({"TIME": [2.0], "DV": [1.0], "OUTPUT": ["CP"]}, {"outputs": {1: "CP"}}, "give one"),
    ({"TIME": ["2 kg"], "DV": [1.0]}, {}, "levels TIME row 1"),
])
def test_bad_levels_are_named(cm: CompiledModel, levels: dict, kwargs: dict, match: str) -> None:
    with pytest.raises(pkpd.PkpdError, match=match):
        fit_individual(cm, "500 mg PO", levels=levels, **kwargs)


def test_fit_subjects_fits_each_subject_of_a_dataset(cm: CompiledModel) -> None:
    rng = np.random.default_rng(11)
    etas = rng.multivariate_normal(np.zeros(5), OMEGA, size=6)
    frame = pd.concat([dataset(noisy_levels(reference_cp(e), rng), ident=i + 1)
                       for i, e in enumerate(etas)], ignore_index=True)
    fits = pkpd.fit_subjects(cm, frame)
    assert list(fits.table["ID"]) == [1, 2, 3, 4, 5, 6] and fits.table["success"].all()
    one = fit_individual(cm, frame[frame.ID == 4])
    np.testing.assert_allclose(fitted(fits.results[4]), fitted(one), atol=1e-12)
    assert fits.table.loc[3, "eta_CL"] == pytest.approx(one.etas["eta_CL"])
    sd = fits.table["eta_CL"].std(ddof=1)
    assert fits.shrinkage["eta_CL"] == pytest.approx(1 - sd / np.sqrt(OMEGA[1, 1]))
    ml = pkpd.fit_subjects(cm, frame, method="ml", estimate=["eta_CL", "eta_V1"], check=False)
    assert np.isnan(ml.shrinkage["eta_CL"]) and "eta_KA" not in ml.table
    with pytest.raises(pkpd.EstimationError, match="come from the dataset"):
        pkpd.fit_subjects(cm, frame, patient={"WT": 70})


# --------------------------------------------------------------------------------------------
# between-occasion etas
# --------------------------------------------------------------------------------------------

BOV_TIMES = (2.0, 10.0, 23.0, 26.0, 34.0, 47.0)
BOV_PROP = 0.1


@pytest.fixture(scope="module")
def bov_model() -> CompiledModel:
    from dataclasses import replace

    mb = pkpd.ModelBuilder("test_fit_bov", time_unit="h")
    (central,) = mb.states(central="mg")
    mb.parameters(TVCL="2 L/h", V="20 L")
    mb.etas(eta_CL=0.09, eta_occ=0.04)
    mb.occasion("eta_occ")
    mb.derive("CL", "TVCL*exp(eta_CL + eta_occ)")
    mb.ode(central, "-CL/V*central")
    mb.output("C", "central/V", unit="mg/L")
    mb.route("IV", "central")
    return pkpd.compile_model(replace(mb.build(), error={"C": {"proportional": BOV_PROP}}))


def bov_cp(eta_cl: float, occ: tuple[float, float]) -> np.ndarray:
    """Closed form: 100 mg IV at 0 h (occasion 1) and 24 h (occasion 2)."""
    k1, k2 = (2.0 * np.exp(eta_cl + o) / 20.0 for o in occ)
    t = np.array(BOV_TIMES)
    first = 100 / 20 * np.exp(-k1 * t)
    second = (100 * np.exp(-k1 * 24) + 100) / 20 * np.exp(-k2 * (t - 24))
    return np.where(t < 24, first, second)


def bov_objective(x: np.ndarray, levels: np.ndarray, per_occasion: bool) -> float:
    eta_cl, occ = x[0], ((x[1], x[2]) if per_occasion else (x[1], x[1]))
    f = bov_cp(eta_cl, occ)
    sd = BOV_PROP * f
    prior = x[0] ** 2 / 0.09 + sum(o**2 for o in x[1:]) / 0.04
    return float(np.sum(((levels - f) / sd) ** 2 + 2 * np.log(sd)) + prior)


def test_between_occasion_etas_per_occasion_and_as_one(bov_model: CompiledModel) -> None:
    rng = np.random.default_rng(2)
    levels = bov_cp(0.2, (0.15, -0.15)) * (1 + BOV_PROP * rng.standard_normal(6))
    doses = pd.DataFrame({"ID": 1, "TIME": [0.0, 24.0], "AMT": 100.0, "EVID": 1, "CMT": 1,
                          "DV": np.nan, "MDV": 1})
    obs = pd.DataFrame({"ID": 1, "TIME": BOV_TIMES, "AMT": 0.0, "EVID": 0, "CMT": 1,
                        "DV": levels, "MDV": 0})
    data = pd.concat([doses, obs]).sort_values("TIME", kind="stable").reset_index(drop=True)
    options = {"method": "Nelder-Mead",
               "options": {"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20_000, "maxfev": 20_000}}

    per = fit_individual(bov_model, data, occasions=[0.0, 24.0])
    assert list(per.etas) == ["eta_CL", "eta_occ[1]", "eta_occ[2]"]
    assert per.gradient == "exact" and per.model_etas == {"eta_CL": per.etas["eta_CL"]}
    ref = minimize(bov_objective, np.zeros(3), args=(levels, True), **options)
    np.testing.assert_allclose(list(per.etas.values()), ref.x, atol=1e-4)
    assert per.ofv == pytest.approx(ref.fun, abs=1e-6)
    assert per.individual["CL"] == pytest.approx(2.0 * np.exp(ref.x[0] + ref.x[1]), rel=1e-4)
    # the posterior draws for a future occasion carry the subject's eta only
    assert set(per.sample(5, seed=1)) == {"eta_CL"}
    assert per.predict("100 mg IV", times=[1.0], n=0)["C"].size == 1

    one = fit_individual(bov_model, data)        # the occasion eta as one value throughout
    ref1 = minimize(bov_objective, np.zeros(2), args=(levels, False), **options)
    np.testing.assert_allclose([one.etas["eta_CL"], one.etas["eta_occ"]], ref1.x, atol=1e-4)

    fd = fit_individual(bov_model, data, occasions=[0.0, 24.0], gradient="fd")
    np.testing.assert_allclose(list(fd.etas.values()), list(per.etas.values()), atol=1e-5)
    np.testing.assert_allclose(list(fd.se.values()), list(per.se.values()), rtol=2e-3)
    # the per-occasion gradient against central differences of the objective
    from pkpd.estimation._individual import _problem

    problem = _problem(bov_model, data, patient=None, params=None, outputs=None,
                       method="map", estimate=None, lloq=None, gradient="exact",
                       occasions=[0.0, 24.0])
    objective = problem.objective
    for x in (np.array([0.1, -0.2, 0.3]), np.array([-0.3, 0.25, -0.1])):
        _, grad = objective.values_and_gradients(x[None, :])
        eye = np.eye(3) * 1e-6
        fd_grad = (objective(x + eye) - objective(x - eye)) / 2e-6
        np.testing.assert_allclose(grad[0], fd_grad, rtol=1e-5, atol=1e-6)
    with pytest.raises(pkpd.EstimationError, match="no between-occasion etas"):
        fit_individual("two_cmt_oral", dataset(np.ones(4)), occasions=[0.0, 12.0])


def test_more_starts_find_the_better_of_two_optima() -> None:
    """Two levels of a one-compartment oral model, KA alone estimated by ML: the objective
    has two local minima in eta_KA (found here on a grid with the closed form); the fit from
    eta = 0 stops in the worse one, extra starts find the better one."""
    mb = pkpd.ModelBuilder("test_two_optima", time_unit="h")
    depot, central = mb.states(depot="mg", central="mg")
    mb.parameters(TVKA="1.5 1/h", CL="2.8 L/h", V="32 L")
    mb.etas(eta_KA=0.4)
    mb.derive("KA", "TVKA * exp(eta_KA)")
    mb.ode(depot, "-KA * depot")
    mb.ode(central, "KA * depot - CL / V * central")
    mb.output("CP", "central / V", unit="mg/L")
    mb.route("PO", depot)
    mb.error("CP", additive=0.5)
    cm2 = pkpd.compile_model(mb.build())
    levels = {"TIME": [0.5, 6.0], "DV": [4.0, 2.0]}

    eta = np.linspace(-5, 3, 80_001)
    ka, ke = 1.5 * np.exp(eta), 2.8 / 32
    f = [320 * ka / (32 * (ka - ke)) * (np.exp(-ke * t) - np.exp(-ka * t)) for t in (0.5, 6)]
    ofv = ((4.0 - f[0]) / 0.5) ** 2 + ((2.0 - f[1]) / 0.5) ** 2 + 2 * 2 * np.log(0.5)
    d = np.diff(ofv)
    minima = np.flatnonzero((d[:-1] < 0) & (d[1:] > 0)) + 1
    assert len(minima) == 2
    best, other = sorted(minima, key=lambda i: ofv[i])

    one = fit_individual(cm2, "320 mg PO", levels=levels, method="ml")
    many = fit_individual(cm2, "320 mg PO", levels=levels, method="ml", starts=8, seed=1)
    assert one.etas["eta_KA"] == pytest.approx(eta[other], abs=1e-3)
    assert many.etas["eta_KA"] == pytest.approx(eta[best], abs=1e-3)
    assert many.ofv == pytest.approx(ofv[best], abs=1e-6) and many.ofv < one.ofv - 1
    with pytest.raises(pkpd.EstimationError, match="starts"):
        fit_individual(cm2, "320 mg PO", levels=levels, starts=0)
