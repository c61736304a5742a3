"""Fixtures of the diagnostics tests: a one-compartment IV bolus model with log-normal
between-subject variability on CL and V and combined residual error, whose predictions and
their derivatives by the etas have closed forms, and datasets simulated from it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pkpd

DOSE = 100.0
TIMES = np.array([0.5, 1.0, 2.0, 4.0, 8.0, 12.0])
TRUE = {"TVCL": 2.0, "TVV": 20.0, "omega_CL": 0.09, "omega_V": 0.04, "add": 0.05, "prop": 0.1}


def bolus_model(tvcl: float = TRUE["TVCL"]) -> pkpd.Model:
    mb = pkpd.ModelBuilder("diag_bolus", time_unit="h")
    mb.states(central="mg")
    mb.parameters(TVCL=f"{tvcl} L/h", TVV=f"{TRUE['TVV']} L")
    mb.etas(eta_CL=TRUE["omega_CL"], eta_V=TRUE["omega_V"])
    mb.derive("CL", "TVCL * exp(eta_CL)")
    mb.derive("V", "TVV * exp(eta_V)")
    mb.ode("central", "-CL / V * central")
    mb.output("CP", "central / V", unit="mg/L")
    mb.route("IV", "central")
    mb.error("CP", additive=TRUE["add"], proportional=TRUE["prop"])
    return mb.build()


def design_frame(n_subjects: int, dv: np.ndarray | None = None) -> pd.DataFrame:
    """A NONMEM dataset: one bolus of DOSE at 0 and levels at TIMES per subject."""
    rows = []
    k = 0
    for i in range(1, n_subjects + 1):
        rows.append({"ID": i, "TIME": 0.0, "AMT": DOSE, "DV": np.nan, "EVID": 1, "MDV": 1,
                     "CMT": 1})
        for t in TIMES:
            rows.append({"ID": i, "TIME": t, "AMT": 0.0,
                         "DV": 1.0 if dv is None else dv[k], "EVID": 0, "MDV": 0, "CMT": 1})
            k += 1
    return pd.DataFrame(rows)


def closed_form(cl: np.ndarray, v: np.ndarray, t: np.ndarray) -> np.ndarray:
    return DOSE / v * np.exp(-cl / v * t)


@pytest.fixture(scope="session")
def bolus_cm() -> pkpd.CompiledModel:
    return pkpd.compile_model(bolus_model())


@pytest.fixture(scope="session")
def bolus_data(bolus_cm) -> pd.DataFrame:
    """40 subjects simulated from the model with independent numpy code (closed form)."""
    rng = np.random.default_rng(20261202)
    n = 40
    cl = TRUE["TVCL"] * np.exp(rng.normal(0, np.sqrt(TRUE["omega_CL"]), n))
    v = TRUE["TVV"] * np.exp(rng.normal(0, np.sqrt(TRUE["omega_V"]), n))
    f = closed_form(cl[:, None], v[:, None], TIMES[None, :])
    sd = np.hypot(TRUE["add"], TRUE["prop"] * f)
    dv = f + sd * rng.standard_normal(f.shape)
    return design_frame(n, dv.ravel())


@pytest.fixture(scope="session")
def bolus_fit(bolus_cm, bolus_data) -> pkpd.PopulationFit:
    return pkpd.fit_population(bolus_cm, bolus_data, "focei", covariance=None)
