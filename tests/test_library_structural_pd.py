"""Structural PD models of the library against independent references.

Each model is compiled once per module and compared with references that do not use pkpd's
engine: closed-form one-compartment concentrations (:mod:`pkpd.testing.analytic`) pushed
through the Emax formulas, closed forms of the effect-site concentration and of the Claret
tumour size after IV boluses, or tight scipy ``solve_ivp`` solves (Radau or LSODA, rtol 1e-10,
atol 1e-12) of the equations written out again here (Dayneka et al. 1993, Simeoni et al. 2004,
Claret et al. 2009). Properties are checked with hypothesis.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

import pkpd
from pkpd.testing import analytic

# the PK of the Emax and link models is linear: "auto" steps it exactly (matrix exponential),
# so those comparisons hold to 1e-10; the nonlinear models are integrated at these tolerances
TOL = {"rtol": 1e-10, "atol": 1e-12}
SCIPY_TOL = {"method": "Radau", "rtol": 1e-10, "atol": 1e-12}
FAST = settings(max_examples=12, deadline=None)

Array = NDArray[np.float64]
Rhs = Callable[[float, Array], Array]


def _compiled(name: str) -> pkpd.CompiledModel:
    return pkpd.compile_model(pkpd.load_model(name))


@pytest.fixture(scope="module")
def emax_direct() -> pkpd.CompiledModel:
    return _compiled("emax_direct")


@pytest.fixture(scope="module")
def sigmoid_emax() -> pkpd.CompiledModel:
    return _compiled("sigmoid_emax")


@pytest.fixture(scope="module")
def effect_compartment() -> pkpd.CompiledModel:
    return _compiled("effect_compartment")


@pytest.fixture(scope="module")
def idr() -> dict[int, pkpd.CompiledModel]:
    return {k: _compiled(f"indirect_response_{k}") for k in (1, 2, 3, 4)}


@pytest.fixture(scope="module")
def simeoni() -> pkpd.CompiledModel:
    return _compiled("tumour_growth_simeoni")


def _rel_err(x: Array, ref: Array) -> float:
    """Largest error relative to the reference, or to its peak where it is below 1e-6 of it.

    The second part covers the tails (a concentration decaying to 1e-15 of its peak between
    doses), where the absolute tolerance of either solver dominates.
    """
    x, ref = np.asarray(x, dtype=float), np.asarray(ref, dtype=float)
    peak = np.abs(ref).max()
    mask = np.abs(ref) > 1e-6 * peak
    rel = float(np.max(np.abs(x[mask] - ref[mask]) / np.abs(ref[mask])))
    return max(rel, float(np.max(np.abs(x - ref))) / peak)


def _solve_with_doses(rhs: Rhs, y0: Array, doses: list[tuple[float, int, float]],
                      t: Array, method: str = "Radau") -> Array:
    """Solve ``rhs`` piecewise between bolus doses ``(time, state index, amount)``.

    A dose at time ``td`` is added before the output at ``td``. Returns shape
    ``(n_states, n_times)``.
    """
    out = np.full((len(y0), len(t)), np.nan)
    y = np.asarray(y0, dtype=float).copy()
    bounds = sorted({float(t[0]), float(t[-1])} | {d[0] for d in doses if d[0] < t[-1]})
    for a, b in itertools.pairwise(bounds):
        for td, idx, amount in doses:
            if td == a:
                y[idx] += amount
        mask = (t >= a) & ((t <= b) if b == bounds[-1] else (t < b))
        t_eval = np.unique(np.append(t[mask], b))
        sol = solve_ivp(rhs, (a, b), y, t_eval=t_eval, **{**SCIPY_TOL, "method": method})
        assert sol.success, sol.message
        out[:, mask] = sol.y[:, : int(mask.sum())]
        y = sol.y[:, -1].copy()
    assert not np.isnan(out).any()
    return out


# --- direct Emax and sigmoid Emax -----------------------------------------------------------

ETAS_DIRECT = {"eta_CL": [0.2, -0.1], "eta_V": [-0.1, 0.15], "eta_KA": [0.3, -0.4],
               "eta_E0": [0.1, -0.2], "eta_EMAX": [-0.05, 0.1], "eta_EC50": [0.25, -0.3]}


def _individual(model: pkpd.CompiledModel, s: int, etas: dict[str, list[float]]
                ) -> dict[str, float]:
    """Typical value times exp(eta) for every ``TV<NAME>`` of the model (subject ``s``)."""
    out = {}
    for name, value in ((q.name, q.value) for q in model.model.parameters):
        if name.startswith("TV"):
            out[name[2:]] = value * float(np.exp(etas.get(f"eta_{name[2:]}", [0.0, 0.0])[s]))
        else:
            out[name] = value
    return out


@pytest.mark.parametrize("route", ["PO", "IV"])
def test_emax_direct_against_closed_form(emax_direct: pkpd.CompiledModel, route: str) -> None:
    t = np.arange(0.0, 72.0, 0.25)
    ds = pkpd.simulate(emax_direct, f"200 mg {route} q12h x 5", params=ETAS_DIRECT, times=t,
                       **TOL)
    doses = [(12.0 * i, 200.0) for i in range(5)]
    for s in range(2):
        p = _individual(emax_direct, s, ETAS_DIRECT)
        if route == "PO":
            cp = analytic.one_cmt_oral(t, doses, CL=p["CL"], V=p["V"], KA=p["KA"])
        else:
            cp = analytic.one_cmt_bolus(t, doses, CL=p["CL"], V=p["V"])
        effect = p["E0"] + p["EMAX"] * cp / (p["EC50"] + cp)
        assert _rel_err(ds["CP"].values[s], cp) < 1e-10
        assert _rel_err(ds["E"].values[s], effect) < 1e-10
    assert ds["E"].attrs["units"] in ("percent", "%")


@FAST
@given(dose=st.floats(1.0, 5000.0), gamma=st.floats(0.5, 6.0), ec50=st.floats(0.05, 20.0))
def test_sigmoid_emax_against_closed_form(sigmoid_emax: pkpd.CompiledModel, dose: float,
                                          gamma: float, ec50: float) -> None:
    t = np.arange(0.0, 48.0, 0.5)
    ds = pkpd.simulate(sigmoid_emax, f"{dose} mg PO", times=t,
                       params={"GAMMA": [gamma], "TVEC50": [ec50], "eta_KA": [0.2]}, **TOL)
    cp = analytic.one_cmt_oral(t, [(0.0, dose)], CL=5.0, V=50.0, KA=np.exp(0.2))
    effect = 10.0 + 80.0 * cp**gamma / (ec50**gamma + cp**gamma)
    assert _rel_err(ds["CP"].values[0], cp) < 1e-10
    # the Hill term amplifies the relative error of CP by at most gamma
    assert np.max(np.abs(ds["E"].values[0] - effect)) < 80.0 * gamma * 1e-10


def test_sigmoid_emax_with_gamma_one_is_emax_direct(sigmoid_emax: pkpd.CompiledModel,
                                                     emax_direct: pkpd.CompiledModel) -> None:
    t = np.arange(0.0, 48.0, 1.0)
    a = pkpd.simulate(sigmoid_emax, "300 mg PO q12h x 3", params={"GAMMA": [1.0]}, times=t, **TOL)
    b = pkpd.simulate(emax_direct, "300 mg PO q12h x 3", times=t, **TOL)
    assert _rel_err(a["E"].values, b["E"].values) < 1e-10


def test_sigmoid_emax_half_effect_at_ec50(sigmoid_emax: pkpd.CompiledModel) -> None:
    """An IV bolus of EC50*V puts CP = EC50 at time 0: E = E0 + EMAX/2 whatever GAMMA."""
    for gamma in (0.7, 2.5, 5.0):
        ds = pkpd.simulate(sigmoid_emax, "100 mg IV", params={"GAMMA": [gamma]},
                           times=[0.0, 1.0], **TOL)
        assert ds["E"].values[0, 0] == pytest.approx(10.0 + 40.0, rel=1e-12)


# --- effect compartment (Sheiner et al. 1979) -----------------------------------------------

def _ce_bolus(t: Array, dose: float, V: float, K: float, KE0: float) -> Array:
    """Effect-site concentration after an IV bolus (Sheiner et al. 1979, KE0 != K)."""
    return dose / V * KE0 / (KE0 - K) * (np.exp(-K * t) - np.exp(-KE0 * t))


@pytest.mark.parametrize("eta_ke0", [0.0, -1.5, 1.2])
def test_effect_site_concentration_after_bolus(effect_compartment: pkpd.CompiledModel,
                                               eta_ke0: float) -> None:
    t = np.arange(0.0, 48.0, 0.1)
    etas = {"eta_KE0": [eta_ke0], "eta_CL": [0.1], "eta_V": [-0.2], "eta_EC50": [0.3],
            "eta_E0": [0.1], "eta_EMAX": [-0.1]}
    ds = pkpd.simulate(effect_compartment, "150 mg IV", params=etas, times=t, states=True,
                       **TOL)
    CL, V, ke0 = 5.0 * np.exp(0.1), 50.0 * np.exp(-0.2), 0.5 * np.exp(eta_ke0)
    ce = _ce_bolus(t, 150.0, V, CL / V, ke0)
    assert _rel_err(ds["CE"].values[0], ce) < 1e-10
    assert _rel_err(ds["CP"].values[0], analytic.one_cmt_bolus(t, [(0.0, 150.0)], CL, V)) < 1e-10
    ec50, e0, emax = 1.0 * np.exp(0.3), 10.0 * np.exp(0.1), 80.0 * np.exp(-0.1)
    effect = e0 + emax * (ce / ec50) ** 2 / (1 + (ce / ec50) ** 2)
    assert np.max(np.abs(ds["E"].values[0] - effect)) < 1e-8
    # the effect-site peak of the closed form, t* = ln(KE0/K)/(KE0 - K)
    k = CL / V
    t_star = np.log(ke0 / k) / (ke0 - k)
    fine = pkpd.simulate(effect_compartment, "150 mg IV", params=etas, states=True,
                         times=t_star + np.array([-1e-3, 0.0, 1e-3]), **TOL)["CE"].values[0]
    assert fine[1] > fine[0] and fine[1] > fine[2]


def test_effect_compartment_superposition(effect_compartment: pkpd.CompiledModel) -> None:
    """CE is linear in the dose: repeated boluses are the sum of the single-dose closed forms."""
    t = np.arange(0.0, 60.0, 0.5)
    ds = pkpd.simulate(effect_compartment, "100 mg IV q8h x 4", times=t, states=True, **TOL)
    ce = sum(np.where(t >= td, _ce_bolus(np.maximum(t - td, 0.0), 100.0, 50.0, 0.1, 0.5), 0.0)
             for td in (0.0, 8.0, 16.0, 24.0))
    assert _rel_err(ds["CE"].values[0], ce) < 1e-10


@FAST
@given(dose=st.floats(10.0, 2000.0), eta_ka=st.floats(-1.0, 1.0), eta_ke0=st.floats(-1.5, 1.5))
def test_effect_peaks_after_concentration(effect_compartment: pkpd.CompiledModel, dose: float,
                                          eta_ka: float, eta_ke0: float) -> None:
    """Hysteresis: the effect peaks after CP, and at equal CP it is larger on the falling limb."""
    t = np.arange(0.0, 96.0, 0.05)
    ds = pkpd.simulate(effect_compartment, f"{dose} mg PO", times=t, states=True,
                       params={"eta_KA": [eta_ka], "eta_KE0": [eta_ke0]}, **TOL)
    cp, ce, e = ds["CP"].values[0], ds["CE"].values[0], ds["E"].values[0]
    i_cp, i_e = int(np.argmax(cp)), int(np.argmax(e))
    assert t[i_e] > t[i_cp]
    assert int(np.argmax(ce)) == i_e  # E is increasing in CE
    # CE rises while CE < CP and peaks where the curves cross: CE(tmax_e) = CP(tmax_e)
    assert abs(ce[i_e] - cp[i_e]) < 0.02 * cp[i_cp]
    # counter-clockwise loop: at equal CP the effect is larger on the falling limb (a direct
    # effect would give equal values); crossing times interpolated on the monotone limbs
    for level in (0.3 * cp[i_cp], 0.6 * cp[i_cp], 0.9 * cp[i_cp]):
        t_up = np.interp(level, cp[: i_cp + 1], t[: i_cp + 1])
        t_down = np.interp(level, cp[i_cp:][::-1], t[i_cp:][::-1])
        assert np.interp(t_down, t, e) > np.interp(t_up, t, e)


# --- indirect responses (Dayneka, Garg, Jusko 1993) -----------------------------------------

def _idr_rhs(kind: int, p: dict[str, float]) -> Rhs:
    """The PK and the indirect response of type ``kind``, written from Dayneka et al. 1993."""
    def rhs(_t: float, y: Array) -> Array:
        depot, central, r = y
        c = central / p["V"]
        if kind in (1, 2):
            h = 1.0 - p["IMAX"] * c / (p["IC50"] + c)
        else:
            h = 1.0 + p["EMAX"] * c / (p["EC50"] + c)
        kin = p["KIN"] * (h if kind in (1, 3) else 1.0)
        kout = p["KOUT"] * (h if kind in (2, 4) else 1.0)
        return np.array([-p["KA"] * depot, p["KA"] * depot - p["CL"] / p["V"] * central,
                         kin - kout * r])
    return rhs


ETAS_IDR = {"eta_CL": [0.15, -0.2], "eta_V": [0.1, -0.1], "eta_KA": [-0.3, 0.4],
            "eta_KIN": [0.2, -0.15], "eta_KOUT": [-0.25, 0.3], "eta_IC50": [0.3, -0.4],
            "eta_EC50": [0.3, -0.4]}


@pytest.mark.parametrize("kind", [1, 2, 3, 4])
@pytest.mark.parametrize("route", ["PO", "IV"])
def test_indirect_response_against_scipy(idr: dict[int, pkpd.CompiledModel], kind: int,
                                         route: str) -> None:
    model = idr[kind]
    etas = {k: v for k, v in ETAS_IDR.items() if k[4:] in _individual(model, 0, {})}
    t = np.arange(0.0, 168.0, 0.5)
    ds = pkpd.simulate(model, f"150 mg {route} q24h x 3", params=etas, times=t, **TOL)
    into = 0 if route == "PO" else 1
    for s in range(2):
        p = _individual(model, s, etas)
        y0 = np.array([0.0, 0.0, p["KIN"] / p["KOUT"]])
        ref = _solve_with_doses(_idr_rhs(kind, p), y0, [(24.0 * i, into, 150.0)
                                                        for i in range(3)], t)
        assert _rel_err(ds["CP"].values[s], ref[1] / p["V"]) < 1e-7
        assert _rel_err(ds["R"].values[s], ref[2]) < 1e-8
        assert ds["R"].values[s, 0] == pytest.approx(p["KIN"] / p["KOUT"], rel=1e-12)


@pytest.mark.parametrize("kind", [1, 2, 3, 4])
def test_indirect_response_stays_at_baseline_without_drug(idr: dict[int, pkpd.CompiledModel],
                                                          kind: int) -> None:
    """Before the only dose (at 1000 h) R stays at KIN/KOUT for any KIN and KOUT."""
    t = np.arange(0.0, 500.0, 5.0)
    etas = {"eta_KIN": [0.0, 0.5, -0.7], "eta_KOUT": [0.0, -0.6, 0.9]}
    ds = pkpd.simulate(idr[kind], "100 mg PO at 1000 h", params=etas, times=t, **TOL)
    r0 = 10.0 * np.exp(np.array(etas["eta_KIN"])) / (0.1 * np.exp(np.array(etas["eta_KOUT"])))
    assert np.max(np.abs(ds["R"].values / r0[:, None] - 1.0)) < 1e-10


# Dayneka et al. 1993: types I and IV lower the response, II and III raise it
DIRECTION = {1: -1.0, 2: 1.0, 3: 1.0, 4: -1.0}


@pytest.mark.parametrize("kind", [1, 2, 3, 4])
@FAST
@given(dose=st.floats(0.5, 1e5), strength=st.floats(0.05, 1.0), eta_kout=st.floats(-1.0, 1.0))
def test_indirect_response_properties(idr: dict[int, pkpd.CompiledModel], kind: int,
                                      dose: float, strength: float, eta_kout: float) -> None:
    """Direction, return to baseline long after the dose, no negative response."""
    model = idr[kind]
    cap = {"IMAX": strength} if kind in (1, 2) else {"EMAX": 10.0 * strength}
    t = np.concatenate([np.arange(0.0, 200.0, 1.0), [2000.0]])
    ds = pkpd.simulate(model, f"{dose} mg PO", times=t, **TOL,
                       params={"eta_KOUT": [eta_kout], **{k: [v] for k, v in cap.items()}})
    r = ds["R"].values[0]
    r0 = 10.0 / (0.1 * np.exp(eta_kout))
    sign = DIRECTION[kind]
    assert np.all(sign * (r - r0) >= -1e-8 * r0)
    assert np.max(sign * (r - r0)) > 0.0
    assert np.all(r > 0.0)
    # about 20 turnover half-lives and 280 PK half-lives later the response is at baseline
    assert abs(r[-1] / r0 - 1.0) < 1e-5
    # types I and II with IMAX <= 1: the response is bounded by R0*(1 - IMAX) and R0/(1 - IMAX)
    if kind == 1:
        assert r.min() >= r0 * (1.0 - strength) * (1 - 1e-9)
    if kind == 2 and strength < 1.0:
        assert r.max() <= r0 / (1.0 - strength) * (1 + 1e-9)


# --- tumour growth inhibition (Simeoni et al. 2004) -----------------------------------------

def _simeoni_rhs(p: dict[str, float]) -> Rhs:
    """Equations 1-5 of Simeoni et al. 2004 with a one-compartment oral/IV PK, PSI = 20."""
    def rhs(_t: float, y: Array) -> Array:
        depot, central, x1, x2, x3, x4 = y
        c = central / p["V"]
        w = x1 + x2 + x3 + x4
        growth = p["LAMBDA0"] * x1 / (1.0 + (p["LAMBDA0"] / p["LAMBDA1"] * w) ** 20) ** 0.05
        return np.array([-p["KA"] * depot, p["KA"] * depot - p["CL"] / p["V"] * central,
                         growth - p["K2"] * c * x1, p["K2"] * c * x1 - p["K1"] * x2,
                         p["K1"] * (x2 - x3), p["K1"] * (x3 - x4)])
    return rhs


ETAS_SIMEONI = {"eta_CL": [0.1, -0.2], "eta_V": [-0.1, 0.1], "eta_KA": [0.2, -0.3],
                "eta_W0": [0.3, -0.2], "eta_LAMBDA0": [0.1, -0.1], "eta_LAMBDA1": [-0.2, 0.15],
                "eta_K1": [0.2, -0.3], "eta_K2": [-0.3, 0.4]}


# ("PO", "auto") switches to Rosenbrock inside the run (Hairer's stiffness test): the outputs
# inside the step where the switch fires come from the Dormand-Prince continuous extension.
@pytest.mark.parametrize(("route", "solver"), [
    ("IV", "auto"), ("IV", "dopri5"), ("IV", "rosenbrock"), ("PO", "dopri5"), ("PO", "rosenbrock"),
    ("PO", "auto")])
def test_simeoni_against_scipy(simeoni: pkpd.CompiledModel, route: str, solver: str) -> None:
    t = np.arange(0.0, 45.0, 0.25)
    ds = pkpd.simulate(simeoni, f"0.6 mg {route} q4d x 3", params=ETAS_SIMEONI, times=t,
                       states=True, solver=solver, **TOL)
    doses = [(4.0 * i, 0.6) for i in range(3)]
    into = 0 if route == "PO" else 1
    for s in range(2):
        p = _individual(simeoni, s, ETAS_SIMEONI)
        assert p["PSI"] == 20.0
        if route == "PO":
            cp = analytic.one_cmt_oral(t, doses, CL=p["CL"], V=p["V"], KA=p["KA"])
        else:
            cp = analytic.one_cmt_bolus(t, doses, CL=p["CL"], V=p["V"])
        assert _rel_err(ds["CP"].values[s], cp) < 1e-6
        y0 = np.array([0.0, 0.0, p["W0"], 0.0, 0.0, 0.0])
        ref = _solve_with_doses(_simeoni_rhs(p), y0, [(td, into, a) for td, a in doses], t)
        assert _rel_err(ds["W"].values[s], ref[2:].sum(axis=0)) < 1e-7
        # each cell population to 1e-8 of the largest weight (the damaged stages decay to
        # the solvers' atol, so a relative error means little there)
        peak = ref[2:].sum(axis=0).max()
        for i, name in enumerate(("X1", "X2", "X3", "X4")):
            assert np.max(np.abs(ds[name].values[s] - ref[2 + i])) < 1e-8 * peak


def test_simeoni_unperturbed_growth(simeoni: pkpd.CompiledModel) -> None:
    """Without drug: exponential at LAMBDA0 while W is small, linear at LAMBDA1 when large."""
    t = np.arange(0.0, 60.0, 0.5)
    etas = {"eta_LAMBDA0": [0.0, 0.2], "eta_LAMBDA1": [0.0, -0.3], "eta_W0": [0.0, -0.5]}
    ds = pkpd.simulate(simeoni, "0.6 mg IV at 1000 d", params=etas, times=t, **TOL)
    for s in range(2):
        lam0 = 0.273 * np.exp(etas["eta_LAMBDA0"][s])
        lam1 = 0.814 * np.exp(etas["eta_LAMBDA1"][s])
        w = ds["W"].values[s]
        # exponential phase: W(t) = W0*exp(LAMBDA0*t) while LAMBDA0*W/LAMBDA1 << 1
        early = w < 0.2 * lam1 / lam0
        assert early.sum() > 5
        w0 = 0.05 * np.exp(etas["eta_W0"][s])
        assert _rel_err(w[early], w0 * np.exp(lam0 * t[early])) < 1e-8
        # linear phase: dW/dt = LAMBDA1 once LAMBDA0*W/LAMBDA1 >> 1 (here > 3)
        late = np.flatnonzero(w > 3.0 * lam1 / lam0)
        assert late.size > 5
        slopes = np.diff(w[late]) / np.diff(t[late])
        assert np.max(np.abs(slopes / lam1 - 1.0)) < 1e-8
    # and the same against scipy (X2..X4 stay empty)
    p = _individual(simeoni, 0, {})
    ref = _solve_with_doses(_simeoni_rhs(p), np.array([0, 0, 0.05, 0, 0, 0.0]), [], t)
    assert _rel_err(ds["W"].values[0], ref[2]) < 1e-7


@FAST
@given(dose=st.floats(0.01, 2.0), factor=st.floats(1.1, 5.0))
def test_simeoni_higher_dose_smaller_tumour(simeoni: pkpd.CompiledModel, dose: float,
                                            factor: float) -> None:
    t = np.arange(0.0, 40.0, 1.0)
    regimens = [f"{dose} mg IV q4d x 3", f"{dose * factor} mg IV q4d x 3"]
    low, high = (pkpd.simulate(simeoni, r, times=t, **TOL)["W"].values[0] for r in regimens)
    assert np.all(high[1:] < low[1:])
    assert np.all(high > 0.0)
    # the drug never makes the tumour larger than without it (the growth term is unchanged)
    free = 0.05 * np.exp(0.273 * t)
    assert np.all(low[t < 8] <= free[t < 8] * (1 + 1e-9))


# --- tumour size with resistance (Claret et al. 2009) ---------------------------------------

@pytest.fixture(scope="module")
def claret() -> pkpd.CompiledModel:
    return _compiled("tumour_growth_claret")


def _claret_bolus(t: Array, doses: list[tuple[float, float]], p: dict[str, float]) -> Array:
    """Closed form after IV boluses: ln(Y/Y0) = KL*t - KD*int_0^t exp(-LAMBDA*s)*CP(s) ds.

    For a bolus D at td the integral is D/V*exp(-LAMBDA*td)*(1 - exp(-(K+LAMBDA)(t-td)))/(K+
    LAMBDA), K = CL/V, for t >= td.
    """
    k, lam = p["CL"] / p["V"], p["LAMBDA"]
    integral = np.zeros_like(t)
    for td, amount in doses:
        s = np.maximum(t - td, 0.0)
        integral += np.where(t >= td, amount / p["V"] * np.exp(-lam * td)
                             * -np.expm1(-(k + lam) * s) / (k + lam), 0.0)
    return p["Y0"] * np.exp(p["KL"] * t - p["KD"] * integral)


ETAS_CLARET = {"eta_CL": [0.2, -0.3], "eta_V": [-0.1, 0.2], "eta_KA": [0.3, -0.2],
               "eta_Y0": [0.4, -0.5], "eta_KL": [-0.3, 0.5], "eta_KD": [0.2, -0.4],
               "eta_LAMBDA": [0.5, -0.6]}


def test_claret_against_closed_form(claret: pkpd.CompiledModel) -> None:
    t = np.arange(0.0, 200.0, 0.5)
    doses = [(7.0 * i, 3000.0) for i in range(12)]
    ds = pkpd.simulate(claret, "3000 mg IV q7d x 12", params=ETAS_CLARET, times=t, **TOL)
    for s in range(2):
        p = _individual(claret, s, ETAS_CLARET)
        assert _rel_err(ds["CP"].values[s],
                        analytic.one_cmt_bolus(t, doses, CL=p["CL"], V=p["V"])) < 1e-6
        assert _rel_err(ds["Y"].values[s], _claret_bolus(t, doses, p)) < 1e-8


def test_claret_oral_against_scipy(claret: pkpd.CompiledModel) -> None:
    t = np.arange(0.0, 90.0, 0.25)
    ds = pkpd.simulate(claret, "4000 mg PO q3d x 20", params=ETAS_CLARET, times=t, **TOL)
    for s in range(2):
        p = _individual(claret, s, ETAS_CLARET)

        def rhs(time: float, y: Array, p: dict[str, float] = p) -> Array:
            depot, central, size = y
            decline = p["KD"] * np.exp(-p["LAMBDA"] * time) * central / p["V"]
            return np.array([-p["KA"] * depot, p["KA"] * depot - p["CL"] / p["V"] * central,
                             (p["KL"] - decline) * size])

        ref = _solve_with_doses(rhs, np.array([0.0, 0.0, p["Y0"]]),
                                [(3.0 * i, 0, 4000.0) for i in range(20)], t, "LSODA")
        assert _rel_err(ds["Y"].values[s], ref[2]) < 1e-8


def test_claret_growth_without_drug_and_resistance(claret: pkpd.CompiledModel) -> None:
    """No drug: Y0*exp(KL*t). Under treatment: a nadir, then regrowth as the effect fades."""
    t = np.arange(0.0, 365.0, 1.0)
    ds = pkpd.simulate(claret, "1000 mg PO at 1000 d", times=t, **TOL)
    assert _rel_err(ds["Y"].values[0], 80.0 * np.exp(0.005 * t)) < 1e-9
    y = pkpd.simulate(claret, "1000 mg PO q12h x 730", times=t, **TOL)["Y"].values[0]
    nadir = int(np.argmin(y))
    assert 0 < nadir < len(t) - 1 and y[-1] > y[0]
    # at the nadir KL = KD*exp(-LAMBDA*t)*CP on average: CP averages (dose rate)/CL = 10 mg/L
    # once at steady state, so t_nadir = ln(KD*10/KL)/LAMBDA = ln(4)/0.02 = 69.3 d
    assert abs(t[nadir] - np.log(0.002 * 10.0 / 0.005) / 0.02) < 2.0


@FAST
@given(dose=st.floats(10.0, 5000.0), factor=st.floats(1.1, 5.0))
def test_claret_higher_dose_smaller_tumour(claret: pkpd.CompiledModel, dose: float,
                                           factor: float) -> None:
    t = np.arange(0.0, 60.0, 1.0)
    low, high = (pkpd.simulate(claret, f"{d} mg PO q1d x 60", times=t, **TOL)["Y"].values[0]
                 for d in (dose, dose * factor))
    assert np.all(high[1:] < low[1:]) and np.all(high > 0.0)


# --- documentation of the files ---------------------------------------------------------------

MODELS = ["emax_direct", "sigmoid_emax", "effect_compartment", "indirect_response_1",
          "indirect_response_2", "indirect_response_3", "indirect_response_4",
          "tumour_growth_simeoni", "tumour_growth_claret"]


@pytest.mark.parametrize("name", MODELS)
def test_model_files_are_documented(name: str) -> None:
    model = pkpd.load_model(name)
    meta = model.metadata
    assert model.name == name
    assert meta["source"] and meta["references"] and meta["doi"]
    assert "illustrative" in meta["status"]
    entry = next(e for e in pkpd.library.catalog() if e.name == name)
    assert {"structural", "pk", "pd"} <= set(entry.tags)
    assert len(entry.summary) <= 90 and not entry.summary.endswith("...")
    # a residual error model on every output, and CP in mg/L
    assert set(model.error) == {o.name for o in model.outputs}
    assert {o.name: o.unit for o in model.outputs}["CP"] in ("mg/L", "milligram / liter")
    assert {"PO", "IV"} <= set(model.routes)
