"""Recovery of known population parameters by FOCE-I from data simulated outside pkpd.

The data are made here with numpy: etas drawn from the true omega, concentrations from the
closed forms of :mod:`pkpd.testing.analytic` (independent of the engine; one compartment with
first-order absorption, two compartments after an IV bolus), residual error added, 100
subjects. The estimates must fall within
3.5 standard errors (the fit's own sandwich SEs) of the true values: for the ~10 parameters of
a fit, a chance exceedance has probability < 0.5 % if the estimator is unbiased and its SEs
right, so a failure points at the estimator. Omegas are also compared with the sample
covariance of the etas actually drawn (what the data can tell), within 3.5 SE.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pkpd
from pkpd.testing import analytic

pytestmark = pytest.mark.slow

N = 100
Z = 3.5


def dataset(times: np.ndarray, conc: np.ndarray, dose: float, obs_cmt: int) -> pd.DataFrame:
    rows = []
    for i, levels in enumerate(conc, start=1):
        rows.append({"ID": i, "TIME": 0.0, "AMT": dose, "EVID": 1, "CMT": 1, "DV": np.nan,
                     "MDV": 1})
        rows += [{"ID": i, "TIME": t, "AMT": 0.0, "EVID": 0, "CMT": obs_cmt, "DV": y,
                  "MDV": 0} for t, y in zip(times, levels, strict=True)]
    return pd.DataFrame(rows)


def check(fit: pkpd.PopulationFit, true: dict[str, float], drawn: dict[str, float]) -> None:
    assert fit.success, fit.status
    assert fit.covariance_status.startswith("ok"), fit.covariance_status
    table = fit.summary()
    for name, value in true.items():
        se = table.loc[name, "se"]
        assert abs(table.loc[name, "estimate"] - value) < Z * se, (name, table.loc[name], value)
    for name, value in drawn.items():
        se = table.loc[name, "se"]
        assert abs(table.loc[name, "estimate"] - value) < Z * se, (name, table.loc[name], value)


# ---------------------------------------------------------------------------------------------
# one compartment, first-order absorption, block omega on CL and V, combined error
# ---------------------------------------------------------------------------------------------

ORAL = {"TVKA": 1.2, "TVCL": 4.0, "TVV": 40.0, "omega(eta_KA)": 0.16, "omega(eta_CL)": 0.09,
        "omega(eta_CL,eta_V)": 0.045, "omega(eta_V)": 0.0625, "CP.additive": 0.1,
        "CP.proportional": 0.1}


@pytest.fixture(scope="module")
def oral_model() -> pkpd.Model:
    mb = pkpd.ModelBuilder("one_cmt_oral_block", time_unit="h")
    mb.states(depot="mg", central="mg")
    mb.parameters(TVKA="1.2 1/h", TVCL="4 L/h", TVV="40 L")
    mb.etas(eta_KA=0.16)
    mb.omega_block(["eta_CL", "eta_V"], [[0.09, 0.045], [0.045, 0.0625]])
    mb.derive("KA", "TVKA * exp(eta_KA)")
    mb.derive("CL", "TVCL * exp(eta_CL)")
    mb.derive("V", "TVV * exp(eta_V)")
    mb.ode("depot", "-KA * depot")
    mb.ode("central", "KA * depot - CL / V * central")
    mb.output("CP", "central / V", unit="mg/L")
    mb.route("PO", "depot")
    mb.error("CP", additive=0.1, proportional=0.1)
    return mb.build()


def oral_data(times: np.ndarray, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    omega = np.array([[0.16, 0, 0], [0, 0.09, 0.045], [0, 0.045, 0.0625]])
    eta = rng.multivariate_normal(np.zeros(3), omega, N)
    ka, cl, v = 1.2 * np.exp(eta[:, 0]), 4.0 * np.exp(eta[:, 1]), 40.0 * np.exp(eta[:, 2])
    f = analytic.one_cmt_oral(times, [(0.0, 400.0)], cl[:, None], v[:, None], ka[:, None])
    y = f + np.hypot(0.1, 0.1 * f) * rng.standard_normal(f.shape)
    return dataset(times, y, 400.0, 2), eta


def drawn_omega(eta: np.ndarray, names: list[str]) -> dict[str, float]:
    cov = np.cov(eta.T)
    out = {}
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            out[pkpd.model.omega_name(a, b) if i <= j else "skip"] = cov[i, j]
    out.pop("skip", None)
    return out


START = {"TVKA": 0.8, "TVCL": 6.0, "TVV": 30.0, "omega(eta_KA)": 0.3, "omega(eta_CL)": 0.2,
         "omega(eta_CL,eta_V)": 0.0, "omega(eta_V)": 0.2, "CP.additive": 0.2,
         "CP.proportional": 0.2}


@pytest.mark.parametrize(("design", "times"), [
    ("rich", np.array([0.5, 1, 2, 3, 4, 6, 8, 12, 24])),
    ("sparse", np.array([1.0, 4.0, 12.0])),
])
def test_one_compartment_oral_with_block_omega(oral_model, design, times):
    data, eta = oral_data(times, seed=1)
    fit = pkpd.fit_population(oral_model, data, "focei", initial=START)
    drawn = {k: v for k, v in drawn_omega(eta, ["eta_KA", "eta_CL", "eta_V"]).items()
             if k in ORAL}
    check(fit, ORAL, drawn)
    assert fit.n_subjects == N and fit.n_obs == N * len(times)
    # the fitted model carries its estimates and simulates them
    assert fit.model.parameter_layout.values["TVCL"] == pytest.approx(fit.estimates["TVCL"])
    # per-subject etas are the modes: correlated with the etas drawn
    assert np.corrcoef(fit.etas["eta_CL"], eta[:, 1])[0, 1] > 0.9
    assert list(fit.history.columns[:3]) == ["iteration", "ofv", "gradient_norm"]
    assert fit.history["ofv"].iloc[-1] <= fit.history["ofv"].iloc[0]


# ---------------------------------------------------------------------------------------------
# two compartments, IV bolus, diagonal omega, proportional error
# ---------------------------------------------------------------------------------------------

TWO = {"TVCL": 5.0, "TVV1": 20.0, "TVQ": 8.0, "TVV2": 50.0, "omega(eta_CL)": 0.09,
       "omega(eta_V1)": 0.04, "omega(eta_V2)": 0.09, "CP.proportional": 0.12}


@pytest.fixture(scope="module")
def two_cmt_model() -> pkpd.Model:
    mb = pkpd.ModelBuilder("two_cmt_bolus", time_unit="h")
    mb.states(central="mg", periph="mg")
    mb.parameters(TVCL="5 L/h", TVV1="20 L", TVQ="8 L/h", TVV2="50 L")
    mb.etas(eta_CL=0.09, eta_V1=0.04, eta_V2=0.09)
    mb.derive("CL", "TVCL * exp(eta_CL)")
    mb.derive("V1", "TVV1 * exp(eta_V1)")
    mb.derive("V2", "TVV2 * exp(eta_V2)")
    mb.ode("central", "-(CL + TVQ) / V1 * central + TVQ / V2 * periph")
    mb.ode("periph", "TVQ / V1 * central - TVQ / V2 * periph")
    mb.output("CP", "central / V1", unit="mg/L")
    mb.error("CP", proportional=0.12)
    return mb.build()


def test_two_compartment_bolus(two_cmt_model):
    rng = np.random.default_rng(5)
    times = np.array([0.25, 0.5, 1, 2, 4, 6, 8, 12, 24, 36])
    eta = rng.multivariate_normal(np.zeros(3), np.diag([0.09, 0.04, 0.09]), N)
    cl, v1, v2 = (typical * np.exp(eta[:, [k]]) for k, typical in enumerate((5.0, 20.0, 50.0)))
    conc = analytic.two_cmt_bolus(times, [(0.0, 500.0)], cl, v1, 8.0, v2)
    y = conc * (1 + 0.12 * rng.standard_normal(conc.shape))
    data = dataset(times, y, 500.0, 1)
    start = {"TVCL": 3.0, "TVV1": 30.0, "TVQ": 5.0, "TVV2": 30.0, "omega(eta_CL)": 0.2,
             "omega(eta_V1)": 0.2, "omega(eta_V2)": 0.2, "CP.proportional": 0.2}
    fit = pkpd.fit_population(two_cmt_model, data, "focei", initial=start)
    drawn = {f"omega({e})": float(np.var(eta[:, k], ddof=1))
             for k, e in enumerate(["eta_CL", "eta_V1", "eta_V2"])}
    check(fit, TWO, drawn)
