"""Forward sensitivities (pkpd.model.with_sensitivities) against closed forms and against
central finite differences of the model without them."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import pkpd
from pkpd.errors import ModelError
from pkpd.events import EventTable
from pkpd.model import sensitivity_name, with_sensitivities

# observation times off any dose, arrival or infusion end of the scenarios below
TIMES = 0.11 + 0.37 * np.arange(80)


def _dosing_model() -> pkpd.Model:
    """Oral dose with eta-dependent F and lag; IV doses with F, lag, modelled rate and
    modelled duration, all depending on etas; weight as a covariate."""
    mb = pkpd.ModelBuilder("test_sens_dosing", time_unit="h")
    depot, central, periph = mb.states(depot="mg", central="mg", periph="mg")
    TVCL, TVV, TVKA, TVF, TVLAG, TVD, TVR, Q, V2 = mb.parameters(
        TVCL="3 L/h", TVV="30 L", TVKA="1.1 1/h", TVF=0.6, TVLAG="0.5 h", TVD="1.5 h",
        TVR="80 mg/h", Q="4 L/h", V2="60 L")
    e_cl, e_v, e_ka, e_f, e_lag, e_d = mb.etas(eta_CL=0.1, eta_V=0.1, eta_KA=0.2, eta_F=0.2,
                                               eta_LAG=0.1, eta_D=0.1)
    (WT,) = mb.covariates(WT={"unit": "kg", "default": 70.0})
    CL = mb.derive("CL", TVCL * (WT / 70) ** 0.75 * sp.exp(e_cl), unit="L/h")
    V = mb.derive("V", TVV * (WT / 70) * sp.exp(e_v), unit="L")
    KA = mb.derive("KA", TVKA * sp.exp(e_ka), unit="1/h")
    F = mb.derive("F", 1 / (1 + (1 - TVF) / TVF * sp.exp(-e_f)), unit="1")
    FC = mb.derive("FC", 0.9 * sp.exp(e_f / 3), unit="1")
    LAG = mb.derive("LAG", TVLAG * sp.exp(e_lag), unit="h")
    D = mb.derive("D", TVD * sp.exp(e_d), unit="h")
    R = mb.derive("R", TVR * sp.exp(-e_d), unit="mg/h")
    mb.ode(depot, -KA * depot)
    mb.ode(central, KA * depot - (CL + Q) / V * central + Q / V2 * periph)
    mb.ode(periph, Q / V * central - Q / V2 * periph)
    mb.dosing(depot, F=F, lag=LAG)
    mb.dosing(central, F=FC, lag=LAG / 4, rate=R, duration=D)
    mb.output("C", central / V, unit="mg/L")
    mb.output("P", periph, unit="mg")
    mb.route("PO", "depot")
    mb.route("IV", "central")
    return mb.build()


def _events(rate_records: bool = True) -> EventTable:
    """One subject's doses (time, amount, compartment, RATE): oral, IV bolus, given-rate,
    modelled-rate and modelled-duration infusions, overlapping; predicted at ``TIMES``."""
    doses = [(0.0, 100.0, 1, 0.0), (3.0, 50.0, 2, 0.0), (6.0, 200.0, 2, -2.0),
             (6.5, 150.0, 2, 40.0), (12.0, 120.0, 2, -1.0), (14.0, 80.0, 1, 0.0)]
    if not rate_records:
        doses = [d for d in doses if d[3] == 0.0]
    time, amt, cmt, rate = (np.array(c) for c in zip(*doses, strict=True))
    n = len(doses)
    return EventTable(ids=np.array([1]), offsets=np.array([0, n]), time=time,
                      evid=np.ones(n, int), amt=amt, cmt=cmt.astype(int), rate=rate,
                      ii=np.zeros(n), addl=np.zeros(n, int), ss=np.zeros(n, int),
                      output=np.zeros(n, bool), cov=np.zeros((n, 0)), cov_names=(),
                      cov_interp=())


@pytest.fixture(scope="module")
def dosing_models() -> tuple[pkpd.CompiledModel, pkpd.CompiledModel]:
    m = _dosing_model()
    return pkpd.compile_model(m), pkpd.compile_model(with_sensitivities(m))


def _finite_differences(cm: pkpd.CompiledModel, events, point: dict[str, float],
                        wrt: list[str], outputs: list[str], h: float = 1e-5,
                        **kw) -> dict[str, np.ndarray]:
    """Central differences of each output with respect to each name (one simulate call).

    NaN where the output is not differentiable within the step: where a dose arrival or an
    infusion end moved by the step crosses the output time, the forward and backward
    differences disagree at first order (a kink) instead of at second order, and so do the
    central differences with steps h and h/2 (a crossing near the end of the step leaves the
    first test a small disagreement but moves the second at first order)."""
    k = 1 + 4 * len(wrt)
    params = {name: np.full(k, v) for name, v in point.items()}
    for j, w in enumerate(wrt):
        params.setdefault(w, np.full(k, cm.q_template[cm.layout.index(w)]))
        params[w][1 + 4 * j: 5 + 4 * j] += np.array([h, -h, h / 2, -h / 2])
    table = _tile(events, k)
    ds = pkpd.simulate(cm, table, params=params, outputs=outputs, **kw)
    out = {}
    for o in outputs:
        v = ds[o].to_numpy()
        for j, w in enumerate(wrt):
            fwd, bwd = (v[1 + 4 * j] - v[0]) / h, (v[0] - v[2 + 4 * j]) / h
            half = (v[3 + 4 * j] - v[4 + 4 * j]) / h
            big = max(np.abs(fwd).max(), np.abs(bwd).max(), 1e-3)
            # the solver's error (rtol 1e-12) over the step, with a margin of 100: the noise floor
            noise = 1e-7 * np.abs(v[0]).max()
            kink = (np.abs(fwd - bwd) > 1e-2 * big) | \
                (np.abs((fwd + bwd) / 2 - half) > 1e-4 * big + noise)
            # Richardson's extrapolation of the central differences with steps h and h/2:
            # O(h^4), where the O(h^2) error of one of them can reach 1e-5 of the slope
            out[sensitivity_name(o, w)] = np.where(kink, np.nan, (4 * half - (fwd + bwd) / 2) / 3)
    return out


def _assert_matches(ds, ref: dict[str, np.ndarray], atol: float, label: str = "") -> None:
    """Sensitivities equal to the differences where the output is differentiable (at most 2
    kinked output times per sensitivity), within ``atol`` times the largest sensitivity of
    the same output (the scale of the differences' own error)."""
    scale: dict[str, float] = {}
    for name, fd in ref.items():
        output = name.split("__d_")[0]
        scale[output] = max(scale.get(output, 1e-3), float(np.nanmax(np.abs(fd))))
    for name, fd in ref.items():
        ok = np.isfinite(fd)
        assert (~ok).sum() <= 2, f"{label} {name}: {(~ok).sum()} kinks"
        np.testing.assert_allclose(ds[name].to_numpy()[0][ok], fd[ok],
                                   atol=atol * scale[name.split("__d_")[0]],
                                   err_msg=f"{label} {name}")


def _tile(t: EventTable, k: int) -> EventTable:
    n = t.n_records
    return EventTable(ids=np.arange(1, k + 1), offsets=np.arange(k + 1) * n,
                      **{a: np.tile(getattr(t, a), k) for a in
                         ("time", "evid", "amt", "cmt", "rate", "ii", "addl", "ss", "output")},
                      cov=np.tile(t.cov, (k, 1)), cov_names=t.cov_names,
                      cov_interp=t.cov_interp)


def test_structure() -> None:
    m = _dosing_model()
    s = with_sensitivities(m, ["eta_CL", "TVKA", "WT"])
    assert s.sensitivities == ("eta_CL", "TVKA", "WT")
    assert s.n_state == 4 * m.n_state
    assert s.state_names[3:6] == tuple(sensitivity_name(x, "eta_CL") for x in m.state_names)
    assert sensitivity_name("C", "WT") in s.output_names
    assert s.hash != m.hash and s.hash == with_sensitivities(m, ["eta_CL", "TVKA", "WT"]).hash


def test_one_compartment_bolus_closed_form(one_cmt_iv: pkpd.CompiledModel) -> None:
    """C = D/V exp(-CL t / V): dC/dCL = -t/V C, dC/dV = C (CL t / V - 1) / V."""
    cs = pkpd.compile_model(with_sensitivities(one_cmt_iv.model, ["CL", "V"]))
    t = np.linspace(0.5, 24, 48)
    for solver in ("exact", "dopri5"):
        ds = pkpd.simulate(cs, "100 mg IV", times=t, solver=solver, rtol=1e-10, atol=1e-12)
        cl, v = 2.0, 20.0
        c = 100 / v * np.exp(-cl * t / v)
        np.testing.assert_allclose(ds["C"][0], c, rtol=1e-9)
        np.testing.assert_allclose(ds["d_C__d_CL"][0], -t / v * c, rtol=1e-8)
        np.testing.assert_allclose(ds["d_C__d_V"][0], c * (cl * t / v - 1) / v, rtol=1e-8,
                                   atol=1e-10)


@settings(max_examples=12, deadline=None)
@given(etas=st.lists(st.floats(-0.6, 0.6), min_size=6, max_size=6),
       wt=st.floats(40.0, 120.0))
def test_doses_lag_f_and_infusions_match_finite_differences(dosing_models, etas, wt) -> None:
    """Bolus with F and lag, given-rate, modelled-rate and modelled-duration infusions with
    F and lag, overlapping: every sensitivity (etas and the weight covariate) agrees with
    central differences of the model without sensitivities (exact stepping in both)."""
    cm, cs = dosing_models
    point = dict(zip(cm.model.etas, etas, strict=True)) | {"WT": wt}
    wrt = list(cs.model.sensitivities)
    ev = _events()
    ds = pkpd.simulate(cs, ev, params={k: [v] for k, v in point.items()}, times=TIMES)
    ref = _finite_differences(cm, ev, point, wrt, ["C", "P"], times=TIMES)
    _assert_matches(ds, ref, 2e-6)


def test_covariate_sensitivity(dosing_models) -> None:
    """d/dWT with WT not among the sensitivities' defaults: through CL and V."""
    cm, _ = dosing_models
    cs = pkpd.compile_model(with_sensitivities(cm.model, ["WT", "TVCL"]))
    ev = _events(rate_records=False)
    ds = pkpd.simulate(cs, ev, params={"WT": [81.0]}, times=TIMES)
    ref = _finite_differences(cm, ev, {"WT": 81.0}, ["WT", "TVCL"], ["C"], h=1e-4,
                              times=TIMES)
    _assert_matches(ds, ref, 1e-6)


def test_adaptive_solver_agrees_with_exact(dosing_models) -> None:
    _, cs = dosing_models
    ev = _events()
    point = {"eta_CL": [0.2], "eta_LAG": [-0.3], "eta_D": [0.25], "eta_F": [0.4]}
    exact = pkpd.simulate(cs, ev, params=point, solver="exact", times=TIMES)
    dopri = pkpd.simulate(cs, ev, params=point, solver="dopri5", rtol=1e-10, atol=1e-12,
                          times=TIMES)
    for name in cs.model.output_names:
        a, b = exact[name].to_numpy(), dopri[name].to_numpy()
        np.testing.assert_allclose(b, a, atol=1e-7 * max(np.abs(a).max(), 1e-3), err_msg=name)


@pytest.fixture(scope="module")
def mm_models() -> tuple[pkpd.CompiledModel, pkpd.CompiledModel]:
    m = pkpd.load_model("mm_indirect_response")
    return pkpd.compile_model(m), pkpd.compile_model(with_sensitivities(m, [*m.etas, "KIN"]))


@settings(max_examples=6, deadline=None)
@given(etas=st.lists(st.floats(-0.5, 0.5), min_size=5, max_size=5))
def test_nonlinear_model_matches_finite_differences(mm_models, etas) -> None:
    """Michaelis-Menten elimination and an indirect response (adaptive solver), including a
    parameter in an initial condition (R(0) = KIN/KOUT)."""
    cm, cs = mm_models
    point = dict(zip(cm.model.etas, etas, strict=True))
    events = "100 mg PO q12h x 3"
    kw = {"times": TIMES[TIMES < 30], "rtol": 1e-11, "atol": 1e-12}
    ds = pkpd.simulate(cs, events, params={k: [v] for k, v in point.items()}, **kw)
    table = pkpd.Regimen.parse(events).to_events(cm.model)
    ref = _finite_differences(cm, table, point | {"KIN": 10.0}, list(cs.model.sensitivities),
                              ["C", "R"], h=1e-5, **kw)
    _assert_matches(ds, ref, 1e-5)


def _records(rows: list[tuple[float, float, int, float, float, int]]) -> EventTable:
    """Dose records (time, amount, compartment, RATE, II, SS), one subject."""
    time, amt, cmt, rate, ii, ss = (np.array(c) for c in zip(*rows, strict=True))
    n = len(rows)
    return EventTable(ids=np.array([1]), offsets=np.array([0, n]), time=time,
                      evid=np.ones(n, int), amt=amt, cmt=cmt.astype(int), rate=rate, ii=ii,
                      addl=np.zeros(n, int), ss=ss.astype(int), output=np.zeros(n, bool),
                      cov=np.zeros((n, 0)), cov_names=(), cov_interp=())


# steady-state scenarios: (time, amount, compartment, RATE, II, SS)
STEADY_STATE = {
    "oral, F and lag": [(0.0, 100.0, 1, 0.0, 12.0, 1), (12.0, 100.0, 1, 0.0, 0.0, 0)],
    "oral, lag longer than II": [(0.0, 100.0, 1, 0.0, 0.4, 1)],
    "IV bolus then SS=2 oral": [(0.0, 50.0, 2, 0.0, 0.0, 0), (2.0, 100.0, 1, 0.0, 8.0, 2)],
    "given-rate infusion": [(0.0, 150.0, 2, 40.0, 8.0, 1)],
    "given-rate infusion longer than II": [(0.0, 300.0, 2, 40.0, 6.0, 1)],
    "modelled duration": [(0.0, 200.0, 2, -2.0, 12.0, 1), (12.0, 200.0, 2, -2.0, 0.0, 0)],
    "modelled rate": [(0.0, 120.0, 2, -1.0, 12.0, 1)],
    "constant infusion": [(0.0, 0.0, 2, 25.0, 0.0, 1)],
}


@pytest.mark.parametrize("scenario", sorted(STEADY_STATE))
@settings(max_examples=4, deadline=None)
@given(etas=st.lists(st.floats(-0.5, 0.5), min_size=6, max_size=6))
def test_steady_state_doses_match_finite_differences(dosing_models, scenario, etas) -> None:
    """SS=1 and SS=2 doses (bolus with F and lag, lag longer than II, given-rate, modelled-rate
    and modelled-duration infusions, overlapping infusions, constant infusion): the
    sensitivities of the periodic steady state agree with central differences."""
    cm, cs = dosing_models
    point = dict(zip(cm.model.etas, etas, strict=True))
    ev = _records(STEADY_STATE[scenario])
    # tight tolerances: the steady state is solved to them, and differences amplify its error
    # (step 1e-3: a short II makes the period map nearly the identity, and Newton's solution
    # ill-conditioned; the O(h^2) error is ~1e-7 relative)
    kw = {"times": TIMES[:60], "rtol": 1e-12, "atol": 1e-14}
    ds = pkpd.simulate(cs, ev, params={k: [v] for k, v in point.items()}, **kw)
    ref = _finite_differences(cm, ev, point, list(cs.model.sensitivities), ["C", "P"], h=1e-3,
                              **kw)
    _assert_matches(ds, ref, 2e-6, scenario)


def test_nonlinear_steady_state(mm_models) -> None:
    """Michaelis-Menten steady state (Newton to the tolerance) with its sensitivities."""
    cm, cs = mm_models
    point = {"eta_VMAX": 0.2, "eta_KM": -0.1, "eta_V": 0.1, "eta_KA": 0.0, "eta_IC50": 0.0}
    ev = _records([(0.0, 100.0, 1, 0.0, 12.0, 1)])
    kw = {"times": TIMES[TIMES < 12], "rtol": 1e-11, "atol": 1e-12}
    ds = pkpd.simulate(cs, ev, params={k: [v] for k, v in point.items()}, **kw)
    ref = _finite_differences(cm, ev, point | {"KIN": 10.0}, list(cs.model.sensitivities),
                              ["C", "R"], h=1e-4, **kw)
    _assert_matches(ds, ref, 1e-5)


def test_errors() -> None:
    m = _dosing_model()
    with pytest.raises(ModelError, match="valid: the etas, parameters and covariates"):
        with_sensitivities(m, ["eta_nope"])
    with pytest.raises(ModelError, match="already has sensitivities"):
        with_sensitivities(with_sensitivities(m, ["eta_CL"]))
    with pytest.raises(ModelError, match="sensitivity states"):
        pkpd.model.with_auc(with_sensitivities(m, ["eta_CL"]), ["C"])
    with pytest.raises(ModelError, match="must be between-occasion etas"):
        with_sensitivities(m, ["eta_CL"], per_occasion=["eta_CL"])
