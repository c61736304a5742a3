"""Reference checks: the engine against independent closed forms and a scipy solve.

Every reference here is computed without the simulation engine: the closed forms of
:mod:`pkpd.testing.analytic` (numpy only), a Lambert-W solution of Michaelis-Menten elimination
(:func:`scipy.special.lambertw`), and a Radau solve with :func:`scipy.integrate.solve_ivp` of
equations written out below. The parameter values are given to the simulation explicitly, so a
changed model file changes neither side of a comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..testing import analytic
from ._registry import Check, Context, Measured, register

#: Tolerances of the engine's exact (matrix exponential) and adaptive (ODE) solutions.
EXACT = {"rtol": 1e-12, "atol": 1e-14}
ODE = {"rtol": 1e-10, "atol": 1e-12}
LINEAR_TOL = 1e-8
ODE_TOL = 1e-6

#: The parameters given to each model (typical values; etas stay 0).
PARAMS: dict[str, dict[str, float]] = {
    "one_cmt": {"TVKA": 1.3, "TVCL": 4.0, "TVV": 40.0},
    "two_cmt": {"TVKA": 1.1, "TVCL": 5.0, "TVV1": 30.0, "TVQ": 10.0, "TVV2": 60.0},
    "three_cmt": {"TVKA": 0.9, "TVCL": 5.0, "TVV1": 20.0, "TVQ2": 15.0, "TVV2": 40.0,
                  "TVQ3": 2.0, "TVV3": 150.0},
}
CLOSED = {"one_cmt": (analytic.one_cmt_bolus, analytic.one_cmt_infusion, analytic.one_cmt_oral),
          "two_cmt": (analytic.two_cmt_bolus, analytic.two_cmt_infusion, analytic.two_cmt_oral),
          "three_cmt": (analytic.three_cmt_bolus, analytic.three_cmt_infusion,
                        analytic.three_cmt_oral)}
#: Per route: (single-dose text, its doses), (multiple-dose text, its doses).
REGIMENS = {
    "bolus": (("250 mg IV", [(0.0, 250.0)]),
              ("100 mg IV q8h x 4", [(8.0 * i, 100.0) for i in range(4)])),
    "infusion": (("250 mg IV over 1 h", [(0.0, 250.0, 1.0)]),
                 ("100 mg IV over 2 h q12h x 3", [(12.0 * i, 100.0, 2.0) for i in range(3)])),
    "oral": (("250 mg PO", [(0.0, 250.0)]),
             ("100 mg PO q12h x 5", [(12.0 * i, 100.0) for i in range(5)])),
}
TIMES = np.arange(0.0, 72.0, 0.25)


def rel_err(x: np.ndarray, ref: np.ndarray, floor: float = 1e-9) -> float:
    """Largest relative error where the reference is above ``floor`` times its maximum."""
    x, ref = np.asarray(x, dtype=float), np.asarray(ref, dtype=float)
    if x.shape != ref.shape:
        return math.inf
    mask = np.abs(ref) > floor * np.abs(ref).max()
    return float(np.max(np.abs(x[mask] - ref[mask]) / np.abs(ref[mask])))


def _disposition(model: str) -> dict[str, float]:
    """Closed-form keyword arguments (CL, V or V1, Q, ...) from the typical values."""
    return {k.removeprefix("TV"): v for k, v in PARAMS[model].items() if k != "TVKA"}


def _simulate(ctx: Context, model: str, events: Any, times: Any = None, **kw: Any) -> Any:
    from ..simulation import simulate

    params = {k: [v] for k, v in PARAMS[model].items()}
    return simulate(ctx.compiled(model), events, params=params, times=times, **EXACT, **kw)


def _linear(model: str, route: str) -> Callable[[Context], Measured]:
    def run(ctx: Context) -> Measured:
        bolus, infusion, oral = CLOSED[model]
        disp = _disposition(model)
        errors = []
        for text, doses in REGIMENS[route]:
            cp = _simulate(ctx, model, text, TIMES)["CP"].values[0]
            if route == "bolus":
                ref = bolus(TIMES, doses, **disp)
            elif route == "infusion":
                ref = infusion(TIMES, doses, **disp)
            else:
                ref = oral(TIMES, doses, **disp, KA=PARAMS[model]["TVKA"])
            errors.append(rel_err(cp, ref))
        return Measured(max(errors), f"single dose {errors[0]:.2e}, multiple doses "
                                     f"{errors[1]:.2e} ({len(TIMES)} times, 0-72 h)")
    return run


def _ss_frame(cmt: int, amt: float, rate: float, tau: float, s: np.ndarray) -> Any:
    """A NONMEM table: one SS=1 dose at 24 h, then observations at 24 h + s."""
    import pandas as pd

    rows = [{"ID": 1, "TIME": 24.0, "EVID": 1, "AMT": amt, "CMT": cmt, "RATE": rate,
             "II": tau, "ADDL": 0, "SS": 1}]
    rows += [{"ID": 1, "TIME": 24.0 + si, "EVID": 0, "AMT": 0.0, "CMT": 2, "RATE": 0.0,
              "II": 0.0, "ADDL": 0, "SS": 0} for si in s]
    return pd.DataFrame(rows)


def _steady_state(route: str) -> Callable[[Context], Measured]:
    def run(ctx: Context) -> Measured:
        from ..io.nonmem import read_nonmem

        p = PARAMS["one_cmt"]
        tau, amt, duration = 12.0, 200.0, 2.0
        s = np.arange(0.0, tau, 0.25)
        cmt, rate = {"bolus": (2, 0.0), "infusion": (2, amt / duration),
                     "oral": (1, 0.0)}[route]
        cm = ctx.compiled("one_cmt")
        data = read_nonmem(_ss_frame(cmt, amt, rate, tau, s), model=cm.model)
        cp = _simulate(ctx, "one_cmt", data)["CP"].values
        cp = cp[-len(s):] if cp.ndim == 1 else cp[0, -len(s):]
        if route == "bolus":
            ref = analytic.one_cmt_bolus_ss(s, amt, tau, p["TVCL"], p["TVV"])
        elif route == "infusion":
            ref = analytic.one_cmt_infusion_ss(s, amt, tau, duration, p["TVCL"], p["TVV"])
        else:
            ref = analytic.one_cmt_oral_ss(s, amt, tau, p["TVCL"], p["TVV"], p["TVKA"])
        return Measured(rel_err(cp, ref), f"{amt:g} mg every {tau:g} h (SS=1), "
                                          f"{len(s)} times over one interval")
    return run


def _mass_balance(ctx: Context) -> Measured:
    """two_cmt, oral doses: amounts in the body = dose - CL * integral of C (closed form)."""
    from scipy.integrate import quad

    model, p = "two_cmt", PARAMS["two_cmt"]
    text, doses = REGIMENS["oral"][1]
    t = np.arange(0.0, 72.0, 2.0)
    ds = _simulate(ctx, model, text, t, states=True)
    body = sum(ds[s].values[0] for s in ("depot", "central", "periph"))
    disp = _disposition(model)

    def conc(x: float) -> float:
        return float(analytic.two_cmt_oral(np.array([x]), doses, **disp, KA=p["TVKA"])[0])

    given = np.array([sum(a for td, a in doses if td <= ti) for ti in t])
    breaks = [td for td, _ in doses]
    eliminated = np.array([p["TVCL"] * quad(conc, 0.0, ti, points=[b for b in breaks if b < ti]
                                            or None, epsabs=1e-12, epsrel=1e-12, limit=200)[0]
                           if ti > 0 else 0.0 for ti in t])
    err = float(np.max(np.abs(body - (given - eliminated))) / sum(a for _, a in doses))
    return Measured(err, "depot + central + peripheral against the doses given minus "
                         "CL x integral of the closed-form concentration (scipy quad)")


def _mm_lambert(ctx: Context) -> Measured:
    """one_cmt_mm, IV boluses at 0 and 12 h, against the Lambert-W solution."""
    from scipy.special import lambertw

    from ..simulation import simulate

    v, vmax, km = 45.0, 18.0, 2.5
    t = np.arange(0.0, 36.0, 0.25)
    params = {"TVV": [v], "TVVMAX": [vmax], "TVKM": [km]}
    cp = simulate(ctx.compiled("one_cmt_mm"), "500 mg IV q12h x 2", params=params, times=t,
                  **ODE)["CP"].values[0]

    def bolus(s: np.ndarray, c0: float) -> np.ndarray:
        # dC/dt = -(VMAX/V) C / (KM + C):  C = KM W((c0/KM) exp((c0 - VMAX/V s)/KM))
        arg = np.log(c0 / km) + (c0 - vmax / v * s) / km
        return km * np.real(lambertw(np.exp(arg)))

    c12 = bolus(np.array([12.0]), 500.0 / v)[0]
    ref = np.where(t < 12.0, bolus(t, 500.0 / v), bolus(t - 12.0, c12 + 500.0 / v))
    return Measured(rel_err(cp, ref), "500 mg IV at 0 and 12 h, 144 times over 36 h")


def _mm_radau(ctx: Context) -> Measured:
    """one_cmt_mm, oral doses every 8 h, against scipy's Radau on the written-out equations."""
    from scipy.integrate import solve_ivp

    from ..simulation import simulate

    ka, v, vmax, km, tau, amt = 1.2, 45.0, 18.0, 2.5, 8.0, 400.0
    t = np.arange(0.0, 32.0, 0.5)
    params = {"TVKA": [ka], "TVV": [v], "TVVMAX": [vmax], "TVKM": [km]}
    cp = simulate(ctx.compiled("one_cmt_mm"), f"{amt:g} mg PO q{tau:g}h x 4", params=params,
                  times=t, **ODE)["CP"].values[0]

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        c = y[1] / v
        return np.array([-ka * y[0], ka * y[0] - vmax * c / (km + c)])

    y, ref = np.zeros(2), np.empty_like(t)
    for k in range(4):
        y[0] += amt
        lo, hi = tau * k, tau * (k + 1)
        sel = (t >= lo) & (t < hi)
        sol = solve_ivp(rhs, (lo, hi), y, method="Radau", t_eval=np.append(t[sel], hi),
                        rtol=1e-11, atol=1e-11)
        ref[sel] = sol.y[1, :-1] / v
        y = sol.y[:, -1].copy()
    return Measured(rel_err(cp, ref), "400 mg PO every 8 h x 4, 64 times over 32 h; Radau "
                                      "rtol 1e-11")


for _model in ("one_cmt", "two_cmt", "three_cmt"):
    for _route in ("bolus", "infusion", "oral"):
        register(Check(f"{_model} {_route}", "reference",
                       f"{_model}, {_route}, single and multiple doses, against the closed form "
                       f"(pkpd.testing.analytic)", "max relative error", LINEAR_TOL,
                       _linear(_model, _route)))
for _route in ("bolus", "infusion", "oral"):
    register(Check(f"one_cmt {_route} steady state", "reference",
                   f"one_cmt, {_route} at steady state (SS=1), against the closed form",
                   "max relative error", LINEAR_TOL, _steady_state(_route)))
register(Check("two_cmt mass balance", "reference",
               "two_cmt, oral doses: amount in the body against dose minus amount eliminated",
               "max error / total dose", 1e-8, _mass_balance))
register(Check("one_cmt_mm Lambert W", "reference",
               "one_cmt_mm (Michaelis-Menten), IV boluses, against the Lambert-W solution",
               "max relative error", ODE_TOL, _mm_lambert))
register(Check("one_cmt_mm Radau", "reference",
               "one_cmt_mm, oral doses, against scipy solve_ivp (Radau)", "max relative error",
               ODE_TOL, _mm_radau))
