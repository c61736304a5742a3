"""fit_individual finds the optimum and says so: one start reaches the best of several starts
and of an independent Nelder-Mead minimisation on the simulated nlmixr2 one-compartment
infusion data (steady-state doses included); fits at the optimum of objectives of ~1,000 are
successful; no RuntimeWarning leaves a fit; fits that cannot converge say so. And the
minimiser (pkpd.estimation._optimise) on its own: Rosenbrock's function, iteration limits,
the trust-region step.

The typical values TVCL = 4 L/h and TVV = 70 L are the geometric means of the individual ML
fits of all 120 subjects (4.0 and 71.5); omega 0.09 on both etas, proportional error 0.2
(0.05 for objectives of 750-1,700).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize, rosen, rosen_der, rosen_hess
from scipy.special import lambertw

import pkpd
from pkpd.codegen import CompiledModel
from pkpd.estimation._individual import _problem
from pkpd.estimation._optimise import GTOL, _trust_step, minimise, scaled_gradient


def infusion_model(proportional: float) -> CompiledModel:
    mb = pkpd.ModelBuilder(f"infusion_1cpt_prop{proportional:g}", time_unit="h")
    (central,) = mb.states(central="mg")
    mb.parameters(TVCL="4 L/h", TVV="70 L")
    mb.etas(eta_CL=0.09, eta_V=0.09)
    mb.derive("CL", "TVCL * exp(eta_CL)")
    mb.derive("V", "TVV * exp(eta_V)")
    mb.ode(central, "-CL / V * central")
    mb.output("CP", "central / V", unit="mg/L")
    mb.route("IV", central)
    mb.error("CP", proportional=proportional)
    return pkpd.compile_model(mb.build())


@pytest.fixture(scope="module")
def cm() -> CompiledModel:
    return infusion_model(0.2)


@pytest.fixture(scope="module")
def cm_tight() -> CompiledModel:
    return infusion_model(0.05)


@pytest.fixture(scope="module")
def frame(shared_dir) -> pd.DataFrame:
    return pd.read_csv(shared_dir / "data" / "infusion_1cpt.csv")


def subject(cm: CompiledModel, frame: pd.DataFrame, ident: int):
    return pkpd.read_nonmem(frame[frame.ID == ident], model=cm.model)


def nelder_mead(cm: CompiledModel, data, method: str, x0: np.ndarray) -> float:
    """The lowest objective found by scipy's Nelder-Mead (values only) from x0."""
    problem = _problem(cm, data, patient=None, params=None, outputs=None, method=method,
                       estimate=None, lloq=None, gradient="exact")
    with np.errstate(all="ignore"):
        res = minimize(lambda x: problem.objective(x[None, :])[0], x0, method="Nelder-Mead",
                       options={"xatol": 1e-10, "fatol": 1e-12, "maxfev": 5000,
                                "adaptive": True})
    return float(res.fun)


# --------------------------------------------------------------------------------------------
# the optimum from one start
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["map", "ml"])
@pytest.mark.parametrize("ident", [29, 1, 6, 40, 72, 120])
def test_one_start_reaches_the_best_objective(cm, frame, ident, method) -> None:
    data = subject(cm, frame, ident)
    one = pkpd.fit_individual(cm, data, method=method, gradient="exact")
    many = pkpd.fit_individual(cm, data, method=method, gradient="exact", starts=5, seed=1)
    best = min(many.ofv, nelder_mead(cm, data, method, np.zeros(2)))
    assert one.success and one.message.startswith(("converged", "BFGS stopped short")), \
        one.message
    assert one.ofv <= best + 1e-6 * abs(best)
    assert one.ofv == pytest.approx(many.ofv, rel=1e-6)


def test_subject_29_stall_is_resumed_by_newton_steps(cm, frame) -> None:
    """BFGS's first secant update on subject 29 points ~8,000 times too far along the valley
    of CL and V (predictions of zero: the objective overflows); its line search gives up
    (scipy's "precision loss") at OFV 424.45 (ML) / 429.18 (MAP). The trust-region Newton
    steps go on to the optimum, 423.2768 / 427.7626."""
    data = subject(cm, frame, 29)
    for method, optimum in (("ml", 423.276839), ("map", 427.762646)):
        fit = pkpd.fit_individual(cm, data, method=method)
        assert fit.success, fit.message
        assert "line search failed" in fit.message and "trust-region Newton" in fit.message
        assert fit.ofv == pytest.approx(optimum, abs=1e-5)
        assert fit.ofv == pytest.approx(nelder_mead(cm, data, method, np.zeros(2)), rel=1e-9)
    fd = pkpd.fit_individual(cm, data, method="ml", gradient="fd")
    assert fd.success and fd.ofv == pytest.approx(423.276839, abs=1e-5)


@pytest.mark.parametrize(("method", "ident"),
                         [("map", 69), ("map", 80), ("ml", 21), ("ml", 64)])
def test_fit_at_the_optimum_of_a_large_objective_is_successful(cm_tight, frame, method,
                                                               ident) -> None:
    """Objectives of 750-1,400: rounding leaves gradients of ~1e-4 at the optimum, which the
    absolute tolerance of before (1e-4) called failures; the relative criterion does not."""
    data = subject(cm_tight, frame, ident)
    fit = pkpd.fit_individual(cm_tight, data, method=method)
    assert fit.ofv > 700
    assert fit.success and fit.message.startswith("converged"), fit.message
    x = np.array(list(fit.etas.values()))
    assert fit.ofv == pytest.approx(nelder_mead(cm_tight, data, method, x), rel=1e-9)
    assert np.all(np.isfinite(fit.covariance.to_numpy()))


# --------------------------------------------------------------------------------------------
# no warnings, no overflow
# --------------------------------------------------------------------------------------------

def test_no_runtime_warning_leaves_a_fit(cm, cm_tight, frame) -> None:
    """Random starts at twice the prior SD and line searches far along the valley: the
    objective overflows there (a RuntimeWarning from the finite-difference gradient of
    subjects 49 and 31 before), and the engine's matrix exponential of a steady-state dose
    raises OverflowError at non-finite rates (subjects 9 and 12 before); neither leaves the
    fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for model, ident, method, gradient in ((cm, 29, "ml", "exact"), (cm, 49, "map", "fd"),
                                               (cm_tight, 31, "ml", "fd"),
                                               (cm_tight, 9, "ml", "exact"),
                                               (cm_tight, 12, "map", "exact")):
            fit = pkpd.fit_individual(model, subject(model, frame, ident), method=method,
                                      gradient=gradient, starts=5, seed=1)
            assert fit.success and np.isfinite(fit.ofv), fit.message


# --------------------------------------------------------------------------------------------
# fits that cannot converge say so
# --------------------------------------------------------------------------------------------

def test_unidentifiable_ml_fit_says_so(cm, frame) -> None:
    """One level, CL and V estimated by ML: any pair giving the best prediction fits (a valley
    of optima); the gradient vanishes but the Hessian is singular."""
    one = frame[frame.ID == 29]
    one = pd.concat([one[one.EVID == 1].iloc[:1], one[one.EVID == 0].iloc[3:4]])
    data = pkpd.read_nonmem(one, model=cm.model)
    fit = pkpd.fit_individual(cm, data, method="ml", check=False)
    assert not fit.success
    assert "not positive definite" in fit.message and "not all determined" in fit.message
    assert np.isnan(fit.covariance.to_numpy()).all()
    with pytest.raises(pkpd.EstimationError, match="not positive definite"):
        pkpd.fit_individual(cm, data, method="ml")
    # the prior determines both, and V alone is determined by the level
    assert pkpd.fit_individual(cm, data, method="map").success
    assert pkpd.fit_individual(cm, data, method="ml", estimate=["eta_V"]).success


def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
    return float(rosen(x)), rosen_der(x)


def test_minimise_rosenbrock() -> None:
    x0 = np.array([-1.2, 1.0, -0.5, 0.8])
    res = minimise(fun, x0, rosen_hess)
    assert res.converged and res.message.startswith("converged (BFGS")
    np.testing.assert_allclose(res.x, 1.0, atol=1e-5)
    assert scaled_gradient(res.x, res.fun, res.jac) <= GTOL
    # BFGS stopped after 3 iterations: Newton steps finish
    res = minimise(fun, x0, rosen_hess, maxiter=3)
    assert res.converged and "after 3 iterations" in res.message
    assert "trust-region Newton" in res.message
    np.testing.assert_allclose(res.x, 1.0, atol=1e-5)
    # neither has iterations enough
    res = minimise(fun, x0, rosen_hess, maxiter=3, newton_maxiter=2)
    assert not res.converged and res.message.endswith("not converged")
    assert "2 trust-region Newton steps without meeting a criterion" in res.message
    # at the optimum already; not finite at the start
    assert minimise(fun, np.ones(4), rosen_hess).nit == 0
    res = minimise(lambda x: (np.inf, np.zeros(2)), np.zeros(2), rosen_hess)
    assert not res.converged and "not finite" in res.message


def test_minimise_keeps_warnings_and_overflow_inside() -> None:
    def steep(x: np.ndarray) -> tuple[float, np.ndarray]:
        if x[0] > 30:
            raise OverflowError
        e = np.exp(np.exp(x))            # overflows (RuntimeWarning) beyond x ~ 6.5
        return float(np.sum(e - 3 * x)), e * np.exp(x) - 3

    def hess(x: np.ndarray) -> np.ndarray:
        e = np.exp(x)
        return np.diag(np.exp(e) * e * (1 + e))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = minimise(steep, np.array([-3.0, 2.0]), hess)
    assert res.converged, res.message
    np.testing.assert_allclose(res.x, np.log(np.real(lambertw(3.0))), atol=1e-6)


def test_trust_region_step() -> None:
    lam = np.array([1.0, 4.0])
    vec = np.eye(2)
    a = np.array([-1.0, -2.0])
    np.testing.assert_allclose(_trust_step(lam, vec, a, 10.0), [1.0, 0.5])   # Newton
    step = _trust_step(lam, vec, a, 0.5)                                     # on the boundary
    assert np.linalg.norm(step) == pytest.approx(0.5) and np.all(step > 0)
    step = _trust_step(np.array([-2.0, 1.0]), vec, a, 0.5)                   # indefinite
    assert np.linalg.norm(step) == pytest.approx(0.5) and step[0] > 0
    step = _trust_step(np.array([-2.0, 1.0]), vec, np.array([0.0, -1.0]), 3.0)  # hard case
    # the lowest point of the other direction (1/3), the eigenvector of -2 filling the radius
    np.testing.assert_allclose(step, [np.sqrt(9 - 1 / 9), 1 / 3])
