"""SAEM (``pkpd.fit_population(method="saem")``) against FOCE-I on the theophylline dataset,
its reproducibility, the numerical M-step of thetas that are not mu-referenced, and the
detection of mu-referencing.

The reference is the FOCE-I fit of the same model to the same data, computed here. SAEM
maximises the exact likelihood (up to its Monte Carlo error) and FOCE-I the Laplace
approximation of it, so the two optima differ, but by a small fraction of a standard error
for a well-determined model: the tolerances are in units of FOCE-I's standard errors.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import pkpd
from pkpd import EstimationError
from pkpd.estimation._saem import mu_references

from .theophylline import theophylline_model


def test_saem_agrees_with_focei(theo_saem, theo_focei):
    # Tolerances in FOCE-I standard errors: the two methods maximise different approximations
    # of the same likelihood, and SAEM's estimates carry Monte Carlo error; on these data the
    # differences stayed below 0.2 SE (thetas, sigma) and 0.25 SE (omegas) for seeds 1-6.
    # Half an SE for thetas and sigma and one SE for omegas (estimated far less precisely,
    # RSE 40-55 %) are differences no analysis would act on, yet a fit that misses the
    # optimum (or confuses a variance with an SD) exceeds them many times over.
    assert theo_focei.success and theo_focei.se, theo_focei.status
    for name in theo_focei.estimated:
        tol = (1.0 if name.startswith("omega(") else 0.5) * theo_focei.se[name]
        assert abs(theo_saem.estimates[name] - theo_focei.estimates[name]) < tol, name
    # FOCE-I's objective at the SAEM estimates: not below its minimum (beyond the optimiser's
    # tolerance) and within 1 point of it (the FOCE-I surface is flat near the optimum)
    assert theo_focei.ofv - 0.01 < theo_saem.ofv < theo_focei.ofv + 1.0
    assert theo_saem.covariance_status.startswith("ok"), theo_saem.covariance_status
    assert set(theo_saem.se) == set(theo_focei.se)


def test_saem_result(theo_saem):
    d = theo_saem.details
    assert theo_saem.method == "saem" and theo_saem.success
    assert theo_saem.ofv_method == d["ofv_method"] == \
        "FOCE-I (Laplace, interaction) evaluated at the SAEM estimates"
    assert d["saem"] is True
    assert d["mu_referenced"] == {"eta_KA": "TVKA", "eta_CL": "TVCL", "eta_V": "TVV"}
    assert d["numerical"] == [] and d["closed_form_sigmas"] == ["CP.additive"]
    assert d["iterations"] == (300, 200)
    assert d["chains"] == 5            # 2 raised to ceil(50 / 12 subjects)
    acc = d["acceptance"]
    assert 0.0 < acc["prior"] < 1.0
    assert 0.3 < acc["random_walk"] < 0.5
    assert all(0.3 < r < 0.5 for r in acc["componentwise"].values())
    h = theo_saem.history
    assert list(h["iteration"]) == list(range(501))
    assert h["ofv"].isna().all() and h["gradient_norm"].isna().all()
    assert h.iloc[0]["TVCL"] == 2.8
    assert h.iloc[-1]["TVCL"] == pytest.approx(theo_saem.estimates["TVCL"], rel=1e-12)
    assert theo_saem.etas.shape == (12, 3)


def test_same_seed_same_fit(theo_cm, theo_data):
    lines: list[str] = []
    short = {"burn": 50, "em": 30}
    a = pkpd.fit_population(theo_cm, theo_data, "saem", seed=7, saem=short, covariance=None,
                            progress=lines.append)
    b = pkpd.fit_population(theo_cm, theo_data, "saem", seed=np.random.default_rng(7),
                            saem=short, covariance=None)
    c = pkpd.fit_population(theo_cm, theo_data, "saem", seed=8, saem=short, covariance=None)
    assert a.estimates == b.estimates and a.ofv == b.ofv
    pd.testing.assert_frame_equal(a.history, b.history)
    assert a.estimates["TVCL"] != c.estimates["TVCL"]
    assert len(a.history) == 81 and a.details["iterations"] == (50, 30)
    assert len(lines) == 4            # iterations 25, 50, 75 and the last (80)
    assert lines[0].startswith("saem iteration   25/80 (exploration)") and "TVCL=" in lines[0]
    assert lines[-1].startswith("saem iteration   80/80 (smoothing)")


def test_numerical_m_step(theo_data):
    # V without IIV (TVV not mu-referenced) and an estimated allometric exponent (WT_CL, in
    # the expression of CL next to the mu-referenced TVCL): both take the numerical M-step.
    # Half the iterations of the default; the tolerance is one FOCE-I SE (across seeds 1-5
    # the largest difference was 0.5 SE, for WT_CL, whose RSE is 80 %).
    cm = pkpd.compile_model(theophylline_model(eta_v=False, allometric=True))
    ref = pkpd.fit_population(cm, theo_data, "focei", covariance="r")
    fit = pkpd.fit_population(cm, theo_data, "saem", seed=1, saem={"burn": 100, "em": 100},
                              covariance=None)
    assert fit.details["mu_referenced"] == {"eta_KA": "TVKA", "eta_CL": "TVCL"}
    assert fit.details["numerical"] == ["TVV", "WT_CL"]
    assert ref.se, ref.covariance_status
    for name in ref.estimated:
        assert abs(fit.estimates[name] - ref.estimates[name]) < ref.se[name], name
    assert ref.ofv - 0.01 < fit.ofv < ref.ofv + 1.0


def test_numerical_sigmas(theo_data):
    # a combined error model has no closed-form M-step: both sigmas go the numerical way
    cm = pkpd.compile_model(theophylline_model(error={"additive": 0.5, "proportional": 0.1}))
    fit = pkpd.fit_population(cm, theo_data, "saem", seed=2, saem={"burn": 30, "em": 20},
                              covariance=None)
    assert fit.details["numerical"] == ["CP.additive", "CP.proportional"]
    assert fit.details["closed_form_sigmas"] == []
    first = fit.history.iloc[0]
    for s in ("CP.additive", "CP.proportional"):
        assert np.isfinite(fit.estimates[s]) and fit.estimates[s] != first[s]
    assert 0.1 < fit.estimates["CP.additive"] < 0.6
    assert 0.05 < fit.estimates["CP.proportional"] < 0.25


def test_mu_references():
    mb = pkpd.ModelBuilder("forms", time_unit="h")
    central, effect = mb.states(central="mg", effect="1")
    mb.parameters(TVCL="2 L/h", TVV="20 L", TVQ="1 L/h", TVE0={"value": 5.0, "lower": -np.inf},
                  TVK={"value": 0.5, "unit": "1/h", "lower": 0.1, "upper": 2.0}, TVR=0.3,
                  WT_CL=0.75)
    mb.covariates(WT="kg")
    mb.etas(eta_CL=0.1, eta_V=0.1, eta_Q=0.1, eta_E0=0.2, eta_K=0.1, eta_R=0.1)
    mb.derive("CL", "TVCL * (WT / 70) ** WT_CL * exp(eta_CL)")    # theta * h * exp(eta)
    mb.derive("V", "exp(log(TVV) + eta_V)")                        # the same, written out
    mb.derive("Q", "TVQ * exp(eta_Q) * TVR")         # TVR elsewhere too: TVQ is, TVR is not
    mb.derive("E0", "TVE0 + eta_E0")                              # additive, unbounded
    mb.derive("K", "TVK * exp(eta_K)")                            # bounded: not log form
    mb.derive("R", "TVR * exp(eta_R)")                            # TVR also in Q
    mb.ode(central, "-(CL + Q) / V * central")
    mb.ode(effect, "K * (E0 + R - effect)")
    mb.output("CP", "central / V", unit="mg/L")
    mb.output("E", "effect")
    mb.error("CP", additive=0.1)
    model = mb.build()
    layout = model.parameter_layout
    thetas = layout.select("theta", estimated=True)
    got = mu_references(model, thetas, model.etas)
    assert got == {"eta_CL": ("TVCL", True), "eta_V": ("TVV", True), "eta_Q": ("TVQ", True),
                   "eta_E0": ("TVE0", False)}
    # a theta in no equation cannot be estimated by either route
    stray = SimpleNamespace(name="TVX", lower=0.0, upper=np.inf)
    with pytest.raises(EstimationError, match="TVX enters none of the model's equations"):
        mu_references(model, [*thetas, stray], model.etas)


@pytest.mark.parametrize(("options", "match"), [
    ({"burn": -1}, "burn = -1 must be an integer >= 0"),
    ({"em": 0}, "em = 0 must be an integer >= 1"),
    ({"chains": 1.5}, "chains = 1.5 must be an integer >= 1"),
    ({"iterations": 100}, "unknown option.*iterations.*valid: burn, em, chains"),
])
def test_bad_options(theo_cm, theo_data, options, match):
    with pytest.raises(EstimationError, match=match):
        pkpd.fit_population(theo_cm, theo_data, "saem", saem=options)


def test_solver_failures_reject_proposals(theo_cm, theo_data, monkeypatch):
    # a solver that fails whenever an eta exceeds the largest of the starting chains' by 0.5
    # (wild proposals): those moves are withdrawn and retried, or rejected; the fit goes on
    from pkpd.errors import SolverError
    from pkpd.estimation._batch import BatchPredictor

    original = BatchPredictor.predict
    failures: list[tuple[int, ...]] = []
    limit: dict[str, float] = {}

    def flaky(self, thetas, etas):
        limit.setdefault("eta", float(np.abs(etas).max()) + 0.5)   # first call: the start
        if np.abs(etas).max() > limit["eta"]:
            failures.append(etas.shape)
            raise SolverError("integration failed (test)")
        return original(self, thetas, etas)

    monkeypatch.setattr(BatchPredictor, "predict", flaky)
    fit = pkpd.fit_population(theo_cm, theo_data, "saem", seed=3, saem={"burn": 20, "em": 10},
                              covariance=None)
    assert failures
    assert all(np.isfinite(v) for v in fit.estimates.values())
    assert 0.0 < fit.details["acceptance"]["prior"] < 1.0
