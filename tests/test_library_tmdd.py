"""Target-mediated drug disposition templates against independent references.

``tmdd_full`` (Mager and Jusko 2001), ``tmdd_qss`` and ``tmdd_mm`` (Gibiansky et al. 2008) against
scipy solves of equations written here independently of the model files (the QSS free drug found
by root finding, not by the closed-form root of the files), the approximations against the full
model where their assumptions hold, and the mass balance of the full model.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

import pkpd
from tests.test_library_structural_pk import reference_solve, rel_err

TOL = {"rtol": 1e-10, "atol": 1e-12, "solver": "rosenbrock", "max_steps": 200_000}
# typical values of the three files (per day, nmol, L)
CL, V1, Q, V2, KA, F = 0.2, 3.0, 0.5, 2.5, 0.3, 0.7
KON, KOFF, KINT, KDEG, R0 = 10.0, 1.0, 0.5, 0.2, 5.0
KSS = 0.15  # tmdd_qss: (KOFF + KINT)/KON of the full model's values
VMAX, KM = 2.5, 0.15  # tmdd_mm: KINT*R0 and KSS
Rhs = Callable[[float, np.ndarray, np.ndarray], np.ndarray]


@pytest.fixture(scope="module")
def compiled() -> dict[str, pkpd.CompiledModel]:
    return {n: pkpd.compile_model(pkpd.load_model(n)) for n in ("tmdd_full", "tmdd_qss",
                                                                 "tmdd_mm")}


def full_rhs(kon: float = KON, koff: float = KOFF, kint: float = KINT, kdeg: float = KDEG,
             r0: float = R0) -> Rhs:
    """Mager-Jusko: y = depot, free central amount, peripheral amount, R, RC (nM)."""
    def rhs(_t: float, y: np.ndarray, rate: np.ndarray) -> np.ndarray:
        depot, a, p, r, rc = y
        c = a / V1
        bind = kon * c * r - koff * rc
        return np.array([
            rate[0] - KA * depot,
            rate[1] + KA * depot - CL * c - Q * c + Q / V2 * p - bind * V1,
            Q * c - Q / V2 * p,
            kdeg * r0 - kdeg * r - bind,
            bind - kint * rc,
        ])
    return rhs


def qss_free(ctot: float, rtot: float, kss: float) -> float:
    """Free drug C with C + rtot C/(kss + C) = ctot, by root finding."""
    if ctot <= 0.0:
        return 0.0
    return brentq(lambda c: c + rtot * c / (kss + c) - ctot, 0.0, ctot, xtol=1e-15, rtol=1e-14)


def qss_rhs(kss: float = KSS, kint: float = KINT, kdeg: float = KDEG, r0: float = R0) -> Rhs:
    """Gibiansky QSS: y = depot, total central amount, peripheral amount, RTOT (nM)."""
    def rhs(_t: float, y: np.ndarray, rate: np.ndarray) -> np.ndarray:
        depot, atot, p, rtot = y
        c = qss_free(atot / V1, rtot, kss)
        occupied = rtot * c / (kss + c)
        return np.array([
            rate[0] - KA * depot,
            rate[1] + KA * depot - (CL + Q) * c + Q / V2 * p - kint * occupied * V1,
            Q * c - Q / V2 * p,
            kdeg * r0 - kdeg * rtot - (kint - kdeg) * occupied,
        ])
    return rhs


def mm_rhs(vmax: float = VMAX, km: float = KM) -> Rhs:
    """Gibiansky MM: y = depot, central amount, peripheral amount."""
    def rhs(_t: float, y: np.ndarray, rate: np.ndarray) -> np.ndarray:
        depot, a, p = y
        c = a / V1
        return np.array([rate[0] - KA * depot,
                         rate[1] + KA * depot - (CL + Q) * c + Q / V2 * p
                         - vmax * c / (km + c) * V1,
                         Q * c - Q / V2 * p])
    return rhs


# regimen text, boluses (time d, state, amount nmol), infusions (start, state, amount, duration)
CASES = {
    "IV bolus": ("500 nmol IV", [(0.0, 1, 500.0)], []),
    "IV infusion": ("200 nmol IV over 12 h", [], [(0.0, 1, 200.0, 0.5)]),
    "SC weekly": ("300 nmol SC q7d x 3", [(7.0 * i, 0, F * 300.0) for i in range(3)], []),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_full_model_matches_scipy(compiled, case: str) -> None:
    text, boluses, infusions = CASES[case]
    t = np.linspace(0.0, 42.0, 169)
    ds = pkpd.simulate(compiled["tmdd_full"], text, times=t, **TOL)
    ref = reference_solve(full_rhs(), [0.0, 0.0, 0.0, R0, 0.0], t, boluses=boluses,
                          infusions=infusions, method="Radau")
    assert rel_err(ds["C"].values[0], ref[:, 1] / V1, floor=1e-9) < 1e-6
    assert rel_err(ds["R"].values[0], ref[:, 3]) < 1e-6
    assert rel_err(ds["RC"].values[0], ref[:, 4], floor=1e-9) < 1e-6
    assert rel_err(ds["RTOT"].values[0], ref[:, 3] + ref[:, 4]) < 1e-6


@pytest.mark.parametrize("case", sorted(CASES))
def test_qss_model_matches_scipy(compiled, case: str) -> None:
    text, boluses, infusions = CASES[case]
    t = np.linspace(0.0, 42.0, 85)
    ds = pkpd.simulate(compiled["tmdd_qss"], text, times=t, **TOL)
    ref = reference_solve(qss_rhs(), [0.0, 0.0, 0.0, R0], t, boluses=boluses,
                          infusions=infusions, method="Radau")
    free = np.array([qss_free(a / V1, r, KSS) for a, r in zip(ref[:, 1], ref[:, 3], strict=True)])
    assert rel_err(ds["C"].values[0], free, floor=1e-9) < 1e-6
    assert rel_err(ds["CTOT"].values[0], ref[:, 1] / V1, floor=1e-9) < 1e-6
    assert rel_err(ds["RTOT"].values[0], ref[:, 3]) < 1e-6
    assert rel_err(ds["RC"].values[0], ref[:, 1] / V1 - free, floor=1e-9) < 1e-6


@pytest.mark.parametrize("case", sorted(CASES))
def test_mm_model_matches_scipy(compiled, case: str) -> None:
    text, boluses, infusions = CASES[case]
    t = np.linspace(0.0, 42.0, 169)
    ds = pkpd.simulate(compiled["tmdd_mm"], text, times=t, **TOL)
    ref = reference_solve(mm_rhs(), [0.0, 0.0, 0.0], t, boluses=boluses, infusions=infusions,
                          method="Radau")
    assert rel_err(ds["C"].values[0], ref[:, 1] / V1, floor=1e-9) < 1e-6


@pytest.mark.parametrize("text", ["500 nmol IV", "50 nmol IV", "300 nmol SC q7d x 3"])
def test_qss_approaches_full_model_when_binding_is_fast(compiled, text: str) -> None:
    """KON, KOFF x 10 and x 1000 at the same KSS: the difference shrinks in proportion.

    Measured largest relative differences of C (where C > 1e-3 nM) at x 10 / x 1000: 6e-7 / 6e-9
    after 500 nmol IV, 2.3e-2 / 2.4e-4 after 50 nmol IV, 8.6e-2 / 9.3e-4 for 300 nmol SC weekly
    (during absorption), i.e. proportional to 1/KON. The initial binding layer after an IV bolus
    (at t = 0 the full model has not bound yet) is left out.
    """
    t = np.linspace(0.0, 42.0, 169)[1:]
    errs = []
    for fast in (10.0, 1000.0):
        kon, koff = KON * fast, KOFF * fast
        full = pkpd.simulate(compiled["tmdd_full"], text, times=t,
                             params={"TVKON": [kon], "TVKOFF": [koff]}, **TOL)
        qss = pkpd.simulate(compiled["tmdd_qss"], text, times=t,
                            params={"TVKSS": [(koff + KINT) / kon]}, **TOL)
        c_full, c_qss = full["C"].values[0], qss["C"].values[0]
        keep = c_full > 1e-3
        errs.append(float(np.max(np.abs(c_qss[keep] / c_full[keep] - 1.0))))
        assert rel_err(qss["RTOT"].values[0], full["RTOT"].values[0]) < 20.0 / kon
    assert errs[1] < 1.5e-3
    assert errs[1] < errs[0] / 30.0


@pytest.mark.parametrize(("text", "tol"), [("500 nmol IV", 5e-4), ("50 nmol IV", 5e-3),
                                           ("300 nmol SC q7d x 3", 2e-2)])
def test_mm_approaches_full_model_when_target_is_low(compiled, text: str, tol: float) -> None:
    """KDEG = KINT (constant total target), fast binding (x 1000), R0 = 0.05 and 0.005 nM.

    Measured largest relative differences of C (where C > 1e-3 nM) at R0 = 0.05 / 0.005 nM:
    3.0e-4 / 3.0e-5 after 500 nmol IV, 3.1e-3 / 3.0e-4 after 50 nmol IV, 9.5e-3 / 9.5e-4 for
    300 nmol SC weekly (early in the absorption, where the bound fraction R0/C is largest):
    proportional to R0. The bound ``tol`` applies at R0 = 0.05 nM.
    """
    t = np.linspace(0.0, 42.0, 169)
    kon, koff = KON * 1000.0, KOFF * 1000.0
    errs = []
    for r0 in (0.05, 0.005):
        full = pkpd.simulate(compiled["tmdd_full"], text, times=t, **TOL,
                             params={"TVKON": [kon], "TVKOFF": [koff], "TVKDEG": [KINT],
                                     "TVR0": [r0]})
        mm = pkpd.simulate(compiled["tmdd_mm"], text, times=t, **TOL,
                           params={"TVVMAX": [KINT * r0], "TVKM": [(koff + KINT) / kon]})
        c_full, c_mm = full["C"].values[0], mm["C"].values[0]
        keep = c_full > 1e-3
        errs.append(float(np.max(np.abs(c_mm[keep] / c_full[keep] - 1.0))))
        assert np.max(np.abs(full["RTOT"].values[0] / r0 - 1.0)) < 1e-9  # total target constant
    assert errs[0] < tol
    assert errs[1] < errs[0] / 5.0


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dose=st.floats(1.0, 2000.0), sc=st.booleans(), kint=st.floats(0.05, 5.0),
       kon=st.floats(0.1, 100.0), r0=st.floats(0.5, 50.0))
def test_full_model_mass_balance(compiled, dose: float, sc: bool, kint: float, kon: float,
                                 r0: float) -> None:
    """Depot + free + peripheral + complex + eliminated (CL AUC_C + KINT V1 AUC_RC) = dose."""
    t = np.linspace(0.0, 56.0, 57)
    ds = pkpd.simulate(compiled["tmdd_full"], f"{dose!r} nmol {'SC' if sc else 'IV'}", times=t,
                       params={"TVKINT": [kint], "TVKON": [kon], "TVR0": [r0]}, states=True,
                       auc=["C", "RC"], **TOL)
    g = {k: ds[k].values[0] for k in ("depot", "central", "periph", "RC", "AUC_C", "AUC_RC")}
    total = (g["depot"] + g["central"] + g["periph"] + g["RC"] * V1 + CL * g["AUC_C"]
             + kint * V1 * g["AUC_RC"])
    given_dose = dose * (F if sc else 1.0)
    assert np.max(np.abs(total / given_dose - 1.0)) < 1e-7
    for name in ("C", "R", "RC"):
        assert np.all(ds[name].values >= -1e-12 * dose)


@pytest.mark.parametrize("name", ["tmdd_full", "tmdd_qss", "tmdd_mm"])
def test_population_simulation(compiled, name: str) -> None:
    cm = compiled[name]
    assert {"structural", "pk", "tmdd"} <= set(cm.model.metadata["tags"].split("; "))
    assert set(cm.model.routes) == {"SC", "IV"}
    ds = pkpd.simulate(cm, "300 nmol SC q7d x 2", times="0..21 d by 1 d", n=20, seed=2)
    c = ds["C"].values
    assert c.shape == (1, 20, 22) and np.all(np.isfinite(ds["C_obs"].values))
    assert np.all(c[..., 1:] > 0) and np.std(c[..., -1]) > 0
    assert math.isfinite(float(c.mean()))
