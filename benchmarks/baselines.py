"""Baselines run in the same process as pkpd: numpy closed form, scipy solve_ivp, optional peers.

Every function takes a :class:`workloads.Cohort` and returns ``{output name: (N, 337) array}``
on the standard grid, with the output names of pkpd's library models (M1: CP; M2: C, R).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from itertools import pairwise

import numpy as np
from scipy.integrate import solve_ivp
from workloads import DOSE_AMOUNT, DOSE_TIMES, TIMES, Cohort

from pkpd.testing import analytic

Outputs = dict[str, np.ndarray]

# pieces of the piecewise integration: [t_k, t_{k+1}) between doses, the last one closed at 168 h;
# a dose at t_k is given before the observation at t_k
_BOUNDS = [*DOSE_TIMES.tolist(), float(TIMES[-1])]
_PIECES = [(lo, hi, np.flatnonzero((TIMES >= lo) & ((TIMES < hi) if k < len(DOSE_TIMES) - 1
                                                    else (TIMES <= hi))))
           for k, (lo, hi) in enumerate(pairwise(_BOUNDS))]


# --------------------------------------------------------------------------------------------
# M1: numpy closed form (the formula of WORKLOAD.md) and the stable reference
# --------------------------------------------------------------------------------------------

#: subjects per block of the closed form: bounds its (block x 337) temporaries at large N
CLOSED_FORM_BLOCK = 10_000


def m1_closed_form(cohort: Cohort) -> Outputs:
    """The tri-exponential of WORKLOAD.md, vectorised over subjects x times, a loop over doses.

    Subjects are taken in blocks of :data:`CLOSED_FORM_BLOCK` (one block up to N = 10^4), so that
    the temporaries stay small at N = 10^6."""
    conc = np.empty((cohort.n, TIMES.size))
    for lo in range(0, cohort.n, CLOSED_FORM_BLOCK):
        rows = slice(lo, lo + CLOSED_FORM_BLOCK)
        KA, CL, V1, Q, V2 = (cohort.column(p)[rows] for p in ("KA", "CL", "V1", "Q", "V2"))
        k10, k12, k21 = CL / V1, Q / V1, Q / V2
        s, p = k10 + k12 + k21, k10 * k21
        root = np.sqrt(s * s - 4.0 * p)
        a, b = 0.5 * (s + root), 0.5 * (s - root)
        scale = DOSE_AMOUNT * KA / V1
        ca = scale * (k21 - a) / ((KA - a) * (b - a))
        cb = scale * (k21 - b) / ((KA - b) * (a - b))
        ck = scale * (k21 - KA) / ((a - KA) * (b - KA))
        block = conc[rows]
        block[:] = 0.0
        for td in DOSE_TIMES:
            first = np.searchsorted(TIMES, td)
            s_ = TIMES[first:] - td
            block[:, first:] += (ca * np.exp(-a * s_) + cb * np.exp(-b * s_)
                                 + ck * np.exp(-KA * s_))
    return {"CP": conc}


def m1_reference(cohort: Cohort) -> Outputs:
    """Accuracy reference for M1: :func:`pkpd.testing.analytic.two_cmt_oral` (expm1 form)."""
    doses = [(float(t), DOSE_AMOUNT) for t in DOSE_TIMES]
    c = cohort.column
    return {"CP": analytic.two_cmt_oral(TIMES, doses, c("CL"), c("V1"), c("Q"), c("V2"),
                                        c("KA"))}


# --------------------------------------------------------------------------------------------
# plain Python right-hand sides
# --------------------------------------------------------------------------------------------

def m1_rhs(t: float, y: np.ndarray, KA: float, CL: float, V1: float, Q: float,
           V2: float) -> list[float]:
    ad, ac, ap = y
    return [-KA * ad,
            KA * ad - (CL / V1) * ac - (Q / V1) * ac + (Q / V2) * ap,
            (Q / V1) * ac - (Q / V2) * ap]


def m2_rhs(t: float, y: np.ndarray, KA: float, V: float, VMAX: float, KM: float, KIN: float,
           KOUT: float, IMAX: float, IC50: float) -> list[float]:
    ad, ac, r = y
    c = ac / V
    return [-KA * ad,
            KA * ad - VMAX * c / (KM + c),
            KIN * (1.0 - IMAX * c / (IC50 + c)) - KOUT * r]


M1_ARGS = ("KA", "CL", "V1", "Q", "V2")
M2_ARGS = ("KA", "V", "VMAX", "KM", "KIN", "KOUT", "IMAX", "IC50")


def piecewise(rhs: Callable, y0: np.ndarray, args: tuple, method: str, rtol: float,
              atol: float) -> np.ndarray:
    """Integrate one subject dose to dose (restarting at each dose); states on the grid."""
    y = np.array(y0, dtype=float)
    out = np.empty((y.size, TIMES.size))
    for lo, hi, idx in _PIECES:
        y[0] += DOSE_AMOUNT
        t_eval = TIMES[idx]
        if t_eval[-1] != hi:
            t_eval = np.append(t_eval, hi)
        sol = solve_ivp(rhs, (lo, hi), y, method=method, t_eval=t_eval, args=args,
                        rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"solve_ivp {method} failed: {sol.message}")
        out[:, idx] = sol.y[:, : idx.size]
        y = sol.y[:, -1].copy()
    return out


def _scipy_cohort(cohort: Cohort, model: str, method: str, rtol: float, atol: float) -> Outputs:
    names = M1_ARGS if model == "M1" else M2_ARGS
    rhs = m1_rhs if model == "M1" else m2_rhs
    outs = {k: np.empty((cohort.n, TIMES.size))
            for k in (("CP",) if model == "M1" else ("C", "R"))}
    for i in range(cohort.n):
        p = cohort.subject(i)
        args = tuple(p[n] for n in names)
        y0 = [0.0, 0.0, 0.0] if model == "M1" else [0.0, 0.0, p["KIN"] / p["KOUT"]]
        y = piecewise(rhs, np.array(y0), args, method, rtol, atol)
        if model == "M1":
            outs["CP"][i] = y[1] / p["V1"]
        else:
            outs["C"][i] = y[1] / p["V"]
            outs["R"][i] = y[2]
    return outs


def scipy_lsoda(model: str) -> Callable[[Cohort], Outputs]:
    """The scipy baseline: solve_ivp LSODA, rtol 1e-6, atol 1e-9, one subject at a time."""
    return lambda cohort: _scipy_cohort(cohort, model, "LSODA", 1e-6, 1e-9)


def m2_reference(cohort: Cohort) -> Outputs:
    """Accuracy reference for M2: solve_ivp DOP853, rtol = atol = 1e-12, piecewise."""
    return _scipy_cohort(cohort, "M2", "DOP853", 1e-12, 1e-12)


# --------------------------------------------------------------------------------------------
# optional peer: numbalsoda DOP853 called from a numba loop over subjects
# --------------------------------------------------------------------------------------------

def numbalsoda_dop853(model: str) -> Callable[[Cohort], Outputs] | str:
    """The numbalsoda peer, or a note saying why it is not available."""
    try:
        import numba as nb
        from numbalsoda import dop853, lsoda_sig
    except ImportError as exc:
        return not_installed("numbalsoda", exc)

    if model == "M1":
        @nb.cfunc(lsoda_sig)
        def rhs(t, u, du, p):  # pragma: no cover - compiled
            ka, cl, v1, q, v2 = p[0], p[1], p[2], p[3], p[4]
            du[0] = -ka * u[0]
            du[1] = ka * u[0] - (cl / v1) * u[1] - (q / v1) * u[1] + (q / v2) * u[2]
            du[2] = (q / v1) * u[1] - (q / v2) * u[2]
        names, out_names = M1_ARGS, ("CP",)
    else:
        @nb.cfunc(lsoda_sig)
        def rhs(t, u, du, p):  # pragma: no cover - compiled
            ka, v, vmax, km, kin, kout, imax, ic50 = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
            c = u[1] / v
            du[0] = -ka * u[0]
            du[1] = ka * u[0] - vmax * c / (km + c)
            du[2] = kin * (1.0 - imax * c / (ic50 + c)) - kout * u[2]
        names, out_names = M2_ARGS, ("C", "R")

    address = rhs.address
    is_m1 = model == "M1"
    ends = np.array([hi for _, hi, _ in _PIECES])
    first = np.array([idx[0] for _, _, idx in _PIECES])
    count = np.array([idx.size for _, _, idx in _PIECES])

    @nb.njit
    def loop(params, times, y0s):  # pragma: no cover - compiled
        n = params.shape[0]
        c_out = np.empty((n, times.size))
        r_out = np.empty((n, times.size))
        for i in range(n):
            p = params[i].copy()
            y = y0s[i].copy()
            for k in range(ends.size):
                y[0] += 500.0
                m = count[k]
                t_eval = times[first[k]: first[k] + m].copy()  # starts at the dose time
                if t_eval[m - 1] != ends[k]:
                    t_eval = np.append(t_eval, ends[k])
                usol, ok = dop853(address, y, t_eval, data=p, rtol=1e-6, atol=1e-9)
                if not ok:
                    raise RuntimeError("numbalsoda dop853 failed")
                vol = p[2] if is_m1 else p[1]
                for j in range(m):
                    c_out[i, first[k] + j] = usol[j, 1] / vol
                    r_out[i, first[k] + j] = usol[j, 2]
                y = usol[-1].copy()
        return c_out, r_out

    def run(cohort: Cohort) -> Outputs:
        params = np.column_stack([cohort.params[n] for n in names])
        y0s = np.zeros((cohort.n, 3))
        if not is_m1:
            y0s[:, 2] = cohort.params["KIN"] / cohort.params["KOUT"]
        c, r = loop(params, TIMES, y0s)
        return dict(zip(out_names, (c, r), strict=False))

    return run


def not_installed(package: str, exc: ImportError) -> str:
    """Why an optional peer is missing: the import error, and a missing build tool if any."""
    note = f"not installed (import failed: {exc})"
    if package == "numbalsoda" and not any(shutil.which(c) for c in ("gfortran", "f95", "flang")):
        note += ("; `pip install numbalsoda` builds it from source, which needs a Fortran "
                 "compiler, and none is on PATH")
    return note


# --------------------------------------------------------------------------------------------
# optional peer: libroadrunner (LLVM-compiled SBML, CVODE), the doses as SBML events
# --------------------------------------------------------------------------------------------

#: states and right-hand sides of the SBML models (C of M2 written out as Ac/V)
_RR_ODES = {
    "M1": {"Ad": "-KA*Ad", "Ac": "KA*Ad - CL/V1*Ac - Q/V1*Ac + Q/V2*Ap", "Ap": "Q/V1*Ac - Q/V2*Ap"},
    "M2": {"Ad": "-KA*Ad", "Ac": "KA*Ad - VMAX*(Ac/V)/(KM + Ac/V)",
           "R": "KIN*(1 - IMAX*(Ac/V)/(IC50 + Ac/V)) - KOUT*R"},
}
_MATH = '<math xmlns="http://www.w3.org/1998/Math/MathML">{}</math>'
_TIME = ('<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">'
         "time</csymbol>")


def _sbml(model: str) -> str:
    """SBML Level 3 of M1 or M2: parameters with rate rules, one event per dose after t = 0."""
    import sympy as sp
    from sympy.printing.mathml import mathml

    names = M1_ARGS if model == "M1" else M2_ARGS
    odes = _RR_ODES[model]
    # digit-free stand-ins: sympy's MathML printer renders a name such as IC50 as a subscript
    stand_in = {n: f"zz{chr(97 + i)}" for i, n in enumerate((*names, *odes))}
    symbols = {n: sp.Symbol(z) for n, z in stand_in.items()}

    def math(rhs: str) -> str:
        text = mathml(sp.parse_expr(rhs, local_dict=symbols), printer="content")
        for n, z in stand_in.items():
            text = text.replace(f"<ci>{z}</ci>", f"<ci>{n}</ci>")
        return _MATH.format(text)

    params = [f'<parameter id="{n}" value="1" constant="true"/>' for n in names]
    params += [f'<parameter id="{s}" value="0" constant="false"/>' for s in odes]
    rules = [f'<rateRule variable="{s}">{math(rhs)}</rateRule>' for s, rhs in odes.items()]
    events = [f'<event id="dose{k}" useValuesFromTriggerTime="true">'
              '<trigger initialValue="true" persistent="true">'
              + _MATH.format(f"<apply><geq/>{_TIME}<cn>{td:g}</cn></apply>") + "</trigger>"
              '<listOfEventAssignments><eventAssignment variable="Ad">'
              + _MATH.format(f"<apply><plus/><ci>Ad</ci><cn>{DOSE_AMOUNT:g}</cn></apply>")
              + "</eventAssignment></listOfEventAssignments></event>"
              for k, td in enumerate(DOSE_TIMES[1:], start=1)]
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1">'
            f'<model id="{model}"><listOfParameters>{"".join(params)}</listOfParameters>'
            f'<listOfRules>{"".join(rules)}</listOfRules>'
            f'<listOfEvents>{"".join(events)}</listOfEvents></model></sbml>')


def roadrunner_cvode(model: str) -> Callable[[Cohort], Outputs] | str:
    """The libroadrunner peer (CVODE, rtol 1e-6, atol 1e-9), or a note saying why it is missing.

    Building the runner (SBML parsing and LLVM compilation) happens here, so that the caller
    times it with the first call. Per subject: reset, set the parameters and the initial state
    (the t = 0 dose in the depot), simulate 0..168 h on the 337-point grid; the later doses are
    SBML events at 12, 24, ..., 156 h, where CVODE restarts."""
    try:
        import roadrunner
    except ImportError as exc:
        return not_installed("libroadrunner", exc)

    rr = roadrunner.RoadRunner(_sbml(model))
    rr.integrator = "cvode"
    rr.integrator.relative_tolerance = 1e-6
    rr.integrator.absolute_tolerance = 1e-9
    names = M1_ARGS if model == "M1" else M2_ARGS
    states = list(_RR_ODES[model])
    rr.timeCourseSelections = ["time", "Ac", *(["R"] if model == "M2" else [])]
    ids = [*names, *states]

    def run(cohort: Cohort) -> Outputs:
        n = cohort.n
        first = np.empty((n, TIMES.size))
        second = np.empty((n, TIMES.size))
        for i in range(n):
            p = cohort.subject(i)
            y0 = {"Ad": DOSE_AMOUNT, "Ac": 0.0, "Ap": 0.0,
                  "R": p.get("KIN", 0.0) / p.get("KOUT", 1.0)}
            rr.reset()
            rr.setValues(ids, [p[k] for k in names] + [y0[s] for s in states])
            res = rr.simulate(0.0, float(TIMES[-1]), TIMES.size)
            if i == 0 and not np.array_equal(res[:, 0], TIMES):
                raise RuntimeError("libroadrunner output grid differs from the workload grid")
            first[i] = res[:, 1] / (p["V1"] if model == "M1" else p["V"])
            if model == "M2":
                second[i] = res[:, 2]
        return {"CP": first} if model == "M1" else {"C": first, "R": second}

    return run


# --------------------------------------------------------------------------------------------
# error metric of WORKLOAD.md
# --------------------------------------------------------------------------------------------

def errors(x: Outputs, ref: Outputs) -> tuple[float, float]:
    """(max rel err over t > 0, max over subjects/outputs of the scaled err)."""
    rel, scaled = 0.0, 0.0
    for name, r in ref.items():
        diff = np.abs(np.asarray(x[name], dtype=float) - r)
        rel = max(rel, float(np.max(diff[:, TIMES > 0] / np.abs(r[:, TIMES > 0]))))
        scaled = max(scaled, float(np.max(np.max(diff, axis=1) / np.max(np.abs(r), axis=1))))
    return rel, scaled
