"""The exact gradient of the individual objective (forward sensitivities) against central
differences of the objective itself, for every residual error form and censored levels; fits
with exact and finite-difference gradients agree."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import pkpd
from pkpd.codegen import CompiledModel
from pkpd.errors import EstimationError
from pkpd.estimation import fit_individual
from pkpd.estimation._individual import _problem

LEVELS = np.array([4.1, 3.0, 1.2, 0.3])     # the last one below the LLOQ of 0.5
TIMES = (2.0, 6.0, 11.5, 23.5)
ERRORS = {
    "combined, variances add": {"proportional": 0.1, "additive": 0.05},
    "combined, SDs add": {"proportional": 0.1, "additive": 0.05, "form": "sd"},
    "power": {"proportional": 0.2, "power": 0.6},
    "proportional": {"proportional": 0.15},
    "additive": {"additive": 0.2},
    "exponential": {"exponential": 0.2},
}


def frame(levels: np.ndarray = LEVELS, times: tuple[float, ...] = TIMES) -> pd.DataFrame:
    doses = pd.DataFrame({"ID": 1, "TIME": [0.0, 12.0], "AMT": 500.0, "EVID": 1, "CMT": 1,
                          "DV": np.nan, "MDV": 1})
    obs = pd.DataFrame({"ID": 1, "TIME": times, "AMT": 0.0, "EVID": 0, "CMT": 2, "DV": levels,
                        "MDV": 0})
    return pd.concat([doses, obs]).sort_values("TIME", kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def models() -> dict[str, CompiledModel]:
    base = pkpd.load_model("two_cmt_oral")
    return {name: pkpd.compile_model(replace(base, error={"CP": spec}))
            for name, spec in ERRORS.items()}


@settings(max_examples=10, deadline=None)
@given(etas=st.lists(st.floats(-0.8, 0.8), min_size=5, max_size=5),
       error=st.sampled_from(sorted(ERRORS)), method=st.sampled_from(["map", "ml"]))
def test_exact_gradient_matches_central_differences(models, etas, error, method) -> None:
    """Linear model stepped exactly: the objective is smooth to rounding, so central
    differences (step 1e-5) are accurate to about 1e-8 relative."""
    problem = _problem(models[error], frame(), patient=None, params=None, outputs=None,
                       method=method, estimate=None, lloq=0.5, gradient="exact")
    objective = problem.objective
    assert objective.obs.censored.sum() == 1
    x = np.array(etas)
    value, grad = objective.values_and_gradients(x[None, :])
    h = 1e-5
    eye = np.eye(len(x)) * h
    plus = objective(x + eye)
    minus = objective(x - eye)
    fd = (plus - minus) / (2 * h)
    assert value[0] == pytest.approx(objective(x[None, :])[0], rel=1e-12)
    np.testing.assert_allclose(grad[0], fd, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(fd).max()))


def test_exact_and_finite_difference_fits_agree(models) -> None:
    cm = models["combined, variances add"]
    exact = fit_individual(cm, frame(), lloq=0.5)
    fd = fit_individual(cm, frame(), lloq=0.5, gradient="fd")
    assert exact.gradient == "exact" and fd.gradient == "fd"
    for e in exact.etas:
        assert exact.etas[e] == pytest.approx(fd.etas[e], abs=1e-4)
        assert exact.se[e] == pytest.approx(fd.se[e], rel=2e-3)
    assert exact.ofv == pytest.approx(fd.ofv, abs=1e-7)
    # the exact gradient needs fewer subject evaluations than 2 n + 1 per gradient
    assert exact.n_evaluations < fd.n_evaluations


def test_nonlinear_model_fit_with_exact_gradient() -> None:
    """Michaelis-Menten PK and an indirect response, both observed (adaptive solver): the
    exact-gradient fit reaches the optimum of the finite-difference fit."""
    m = pkpd.load_model("mm_indirect_response")
    m = replace(m, error={"C": {"proportional": 0.1, "additive": 0.02},
                          "R": {"additive": 2.0}})
    cm = pkpd.compile_model(m)
    truth = {"eta_VMAX": -0.2, "eta_KM": 0.1, "eta_V": 0.15, "eta_KA": 0.0, "eta_IC50": 0.3}
    times = np.array([1.0, 4.0, 8.0, 23.0])
    ds = pkpd.simulate(cm, "200 mg PO q12h x 2", params={k: [v] for k, v in truth.items()},
                       times=times, rtol=1e-10, atol=1e-12)
    rng = np.random.default_rng(3)
    c = ds["C"].to_numpy()[0] * (1 + 0.1 * rng.standard_normal(4))
    r = ds["R"].to_numpy()[0] + 2.0 * rng.standard_normal(4)
    doses = pd.DataFrame({"ID": 1, "TIME": [0.0, 12.0], "AMT": 200.0, "EVID": 1, "CMT": 1,
                          "DV": np.nan, "MDV": 1, "DVID": np.nan})
    obs = pd.DataFrame({"ID": 1, "TIME": np.r_[times, times], "AMT": 0.0, "EVID": 0,
                        "CMT": 2, "DV": np.r_[c, r], "MDV": 0, "DVID": [1] * 4 + [2] * 4})
    data = pd.concat([doses, obs]).sort_values("TIME", kind="stable").reset_index(drop=True)
    exact = fit_individual(cm, data, outputs={1: "C", 2: "R"})
    fd = fit_individual(cm, data, outputs={1: "C", 2: "R"}, gradient="fd")
    assert exact.gradient == "exact" and exact.success
    assert exact.ofv <= fd.ofv + 1e-6
    for e in exact.etas:
        assert exact.etas[e] == pytest.approx(fd.etas[e], abs=2e-3)
        assert exact.se[e] == pytest.approx(fd.se[e], rel=2e-2)


def test_steady_state_records_get_the_exact_gradient(models) -> None:
    """A dose at steady state (SS=1): the sensitivities of the periodic steady state give the
    same fit as finite differences."""
    cm = models["combined, variances add"]
    ss = frame()
    ss["SS"] = 0
    ss["II"] = 0.0
    ss.loc[0, ["SS", "II"]] = [1, 12.0]
    exact = fit_individual(cm, ss)
    fd = fit_individual(cm, ss, gradient="fd")
    assert exact.gradient == "exact" and exact.success
    for e in exact.etas:
        assert exact.etas[e] == pytest.approx(fd.etas[e], abs=1e-4)
        assert exact.se[e] == pytest.approx(fd.se[e], rel=2e-3)


def test_gradient_option_errors(models) -> None:
    cm = models["combined, variances add"]
    with pytest.raises(EstimationError, match="gradient='nope'; valid"):
        fit_individual(cm, frame(), gradient="nope")
    # a bioavailability that depends on a state has no sensitivities: finite differences
    mb = pkpd.ModelBuilder("test_state_dependent_f", time_unit="h")
    depot, central = mb.states(depot="mg", central="mg")
    TVCL, V, KA, A50 = mb.parameters(TVCL="5 L/h", V="50 L", KA="1 1/h", A50="1000 mg")
    (eta,) = mb.etas(eta_CL=0.09)
    cl = mb.derive("CL", TVCL * sp.exp(eta), unit="L/h")
    mb.ode(depot, -KA * depot)
    mb.ode(central, KA * depot - cl / V * central)
    mb.dosing(depot, F=1 / (1 + central / A50))
    mb.output("CP", central / V, unit="mg/L")
    mb.route("PO", depot)
    mb.error("CP", proportional=0.1, additive=0.05)
    model = mb.build()
    with pytest.raises(EstimationError, match="depending on states"):
        fit_individual(model, frame(), gradient="exact")
    fit = fit_individual(model, frame())
    assert fit.gradient == "fd" and fit.success
