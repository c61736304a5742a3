"""The numeric core: event loop with NONMEM semantics and ODE integrators, all in numba.

Everything here is compiled once, for a fixed signature, and cached on disk. A model reaches
the engine as six first-class kernels with one common signature ``kernel(t, y, q, out)``
(see :mod:`pkpd.codegen`), so a new model never recompiles the engine.

Records of one subject (already sorted, ADDL already expanded) are processed in order. Between
two records the state is integrated piecewise: the integrator stops at every pending event (a
lagged dose arriving, an infusion starting or ending) and at every record. Event kinds:

- EVID 0 observation, 2 other: nothing happens to the state; a prediction is written if asked.
- EVID 1 dose: bolus (RATE 0), zero-order infusion (RATE > 0, duration F*AMT/RATE), modelled
  rate (RATE -1: rate from the model, duration F*AMT/rate) or modelled duration (RATE -2: rate
  F*AMT/duration). The dose arrives after the compartment's lag time. SS = 1 replaces the state
  by the periodic steady state of the dose repeated every II (then gives the dose); SS = 2 adds
  that steady state to the current state (superposition, exact for linear models). SS = 1 with
  AMT 0, RATE > 0 and II 0 sets the state to the steady state of a constant infusion at RATE;
  as in NONMEM, the infusion does not continue after the record.
- EVID 3 reset: states to their initial values; infusions and pending lagged doses cancelled.
- EVID 4 reset and dose.

A pending event due at the same time as a record is applied before the record (a dose before
an observation at the same time).

Models with forward sensitivities (``opts[OPT_NSENS] > 0``, see
:func:`pkpd.model.with_sensitivities`) carry the sensitivity states after the model's own; at
each dose arrival and infusion start or end the engine applies their jumps (derivatives of the
dose, and ``(f(tau-) - f(tau+)) dtau/dw`` for times moved by the lag or the duration), stored
with each pending event; a steady-state dose gives the steady state of the sensitivities too.
"""

from __future__ import annotations

import math
import warnings

import numba as nb
import numpy as np
from numba import types
from numba.core.errors import NumbaExperimentalFeatureWarning

from .._abi import KERNEL_TYPE, at, ptr

_KT = KERNEL_TYPE

# option vector layout
OPT_RTOL, OPT_ATOL, OPT_METHOD, OPT_MAXSTEPS, OPT_SSMAXIT, OPT_HMAX, OPT_NSENS, OPT_N = (
    0, 1, 2, 3, 4, 5, 6, 7)
# methods
METHOD_AUTO, METHOD_DOPRI5, METHOD_ROSENBROCK = 0, 1, 2
# status codes
OK, ERR_UNDERFLOW, ERR_NONFINITE, ERR_MAXSTEPS, ERR_SS, ERR_DOSE, ERR_PARAM, ERR_SINGULAR = (
    0, 1, 2, 3, 4, 5, 6, 7)
STATUS_COLS = 5  # code, time, state index, record index, steady-state residual

# pending event kinds
_BOLUS, _INF_START, _INF_END = 1, 2, 3

# Dormand-Prince 5(4) tableau
_C2, _C3, _C4, _C5 = 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0
_A21 = 1.0 / 5.0
_A31, _A32 = 3.0 / 40.0, 9.0 / 40.0
_A41, _A42, _A43 = 44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0
_A51, _A52, _A53, _A54 = 19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0
_A61, _A62, _A63, _A64, _A65 = (9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0,
                                -5103.0 / 18656.0)
_B1, _B3, _B4, _B5, _B6 = 35.0 / 384.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0
_E1, _E3, _E4, _E5, _E6, _E7 = (71.0 / 57600.0, -71.0 / 16695.0, 71.0 / 1920.0,
                                -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0)
# Rosenbrock 4(3) with Shampine's parameters (Shampine, ACM TOMS 8:93-113, 1982), A-stable
_RG = 0.5
_RA21, _RA31, _RA32 = 2.0, 48.0 / 25.0, 6.0 / 25.0
_RC21, _RC31, _RC32 = -8.0, 372.0 / 25.0, 12.0 / 5.0
_RC41, _RC42, _RC43 = -112.0 / 125.0, -54.0 / 125.0, -2.0 / 5.0
_RB1, _RB2, _RB3, _RB4 = 19.0 / 9.0, 1.0 / 2.0, 25.0 / 108.0, 125.0 / 108.0
_RE1, _RE2, _RE4 = 17.0 / 54.0, 7.0 / 36.0, 125.0 / 108.0
_RC1X, _RC2X, _RC3X, _RC4X = 1.0 / 2.0, -3.0 / 2.0, 121.0 / 50.0, 29.0 / 250.0
_RA2X, _RA3X = 1.0, 3.0 / 5.0

# The kernels reach the engine as first-class functions, a numba feature it still labels
# experimental; the warning at each compilation says nothing to a user of this package.
warnings.filterwarnings("ignore", message="First-class function type feature is experimental",
                        category=NumbaExperimentalFeatureWarning)

_jit = nb.njit(cache=True, nogil=True)
# small helpers are inlined where they are called (no separate compilation)
_inline = nb.njit(cache=True, nogil=True, inline="always")


@_jit
def _int(x):
    """x as a plain int64: a call with an integer constant would otherwise compile the callee
    once more for that literal value."""
    return np.int64(x)


@_inline
def _fevalp(rhs, t, yp, qp, rp, dyp, n):
    """dy = f(t, y) + rates, on pointers (the hot-loop form)."""
    rhs(t, yp, qp, dyp)
    for i in range(n):
        dyp[i] += rp[i]


@_inline
def _feval(rhs, t, y, q, rates, dy):
    _fevalp(rhs, t, ptr(y), ptr(q), ptr(rates), ptr(dy), y.shape[0])


@_inline
def _err_norm(erp, y0p, y1p, n, rtol, atol):
    s = 0.0
    for i in range(n):
        sc = atol + rtol * max(abs(y0p[i]), abs(y1p[i]))
        e = erp[i] / sc
        s += e * e
    return math.sqrt(s / n)


@_jit
def _initial_step(rhs, t0, t1, y, q, rates, f0, y1, f1, rtol, atol, order):
    """Hairer, Norsett & Wanner (1993), II.4: starting step size."""
    n = y.shape[0]
    d0 = 0.0
    d1 = 0.0
    for i in range(n):
        sc = atol + rtol * abs(y[i])
        d0 += (y[i] / sc) ** 2
        d1 += (f0[i] / sc) ** 2
    d0 = math.sqrt(d0 / n)
    d1 = math.sqrt(d1 / n)
    span = t1 - t0
    if d0 < 1e-5 or d1 < 1e-5:
        h0 = 1e-6
    else:
        h0 = 0.01 * d0 / d1
    h0 = min(h0, span)
    for i in range(n):
        y1[i] = y[i] + h0 * f0[i]
    _feval(rhs, t0 + h0, y1, q, rates, f1)
    d2 = 0.0
    for i in range(n):
        sc = atol + rtol * abs(y[i])
        d2 += ((f1[i] - f0[i]) / sc) ** 2
    d2 = math.sqrt(d2 / n) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (order + 1.0))
    return min(100.0 * h0, h1, span)


@_jit
def _lu_factor(a, n, piv):
    """In-place LU with partial pivoting of the row-major n x n matrix ``a``; False if singular."""
    for k in range(n):
        p = k
        amax = abs(a[k * n + k])
        for i in range(k + 1, n):
            v = abs(a[i * n + k])
            if v > amax:
                amax = v
                p = i
        piv[k] = p
        if amax == 0.0 or not math.isfinite(amax):
            return False
        if p != k:
            for j in range(n):
                tmp = a[k * n + j]
                a[k * n + j] = a[p * n + j]
                a[p * n + j] = tmp
        inv = 1.0 / a[k * n + k]
        for i in range(k + 1, n):
            a[i * n + k] *= inv
            f = a[i * n + k]
            if f != 0.0:
                for j in range(k + 1, n):
                    a[i * n + j] -= f * a[k * n + j]
    return True


@_jit
def _lu_solve(a, n, piv, b):
    for k in range(n):
        p = piv[k]
        if p != k:
            tmp = b[k]
            b[k] = b[p]
            b[p] = tmp
    for i in range(n):
        s = b[i]
        for j in range(i):
            s -= a[i * n + j] * b[j]
        b[i] = s
    for i in range(n - 1, -1, -1):
        s = b[i]
        for j in range(i + 1, n):
            s -= a[i * n + j] * b[j]
        b[i] = s / a[i * n + i]


# Dense output of Dormand-Prince 5(4): y(t + x h) = y + h * sum_i k_i * (P_i1 x + ... + P_i4 x^4),
# the continuous extension of Shampine (Math. Comp. 46:135-150, 1986), fourth order.
_P10, _P11, _P12, _P13 = (1.0, -8048581381.0 / 2820520608.0, 8663915743.0 / 2820520608.0,
                          -12715105075.0 / 11282082432.0)
_P31, _P32, _P33 = (131558114200.0 / 32700410799.0, -68118460800.0 / 10900136933.0,
                    87487479700.0 / 32700410799.0)
_P41, _P42, _P43 = (-1754552775.0 / 470086768.0, 14199869525.0 / 1410260304.0,
                    -10690763975.0 / 1880347072.0)
_P51, _P52, _P53 = (127303824393.0 / 49829197408.0, -318862633887.0 / 49829197408.0,
                    701980252875.0 / 199316789632.0)
_P61, _P62, _P63 = (-282668133.0 / 205662961.0, 2019193451.0 / 616988883.0,
                    -1453857185.0 / 822651844.0)
_P71, _P72, _P73 = (40617522.0 / 29380423.0, -110615467.0 / 29380423.0,
                    69997945.0 / 29380423.0)

# Pade (6, 6) coefficients for the matrix exponential (scaling and squaring)
_C0, _CP1, _CP2, _CP3, _CP4, _CP5, _CP6 = (1.0, 1.0 / 2.0, 5.0 / 44.0, 1.0 / 66.0, 1.0 / 792.0,
                                           1.0 / 15840.0, 1.0 / 665280.0)

# work rows of ``wk``: DP5 stages k1..k7 in rows 0-6, then:
_YS, _YN, _ER, _FT, _YD, _ZERO, _JM = 7, 8, 9, 10, 11, 12, 13
_WK_ROWS = 14
# linear cache: rows of ``lin`` = slots; columns [h, has_G, E (n*n), G (n*n)]
_NSLOT = 6


@_inline
def _emit(outputs, t, yp, qp, obp, outp, stp, want_states, row, n, n_out):
    """Write the outputs (and states) of the state at yp into row ``row`` (pointers)."""
    outputs(t, yp, qp, obp)
    for k in range(n_out):
        outp[row * n_out + k] = obp[k]
    if want_states == 1:
        for i in range(n):
            stp[row * n + i] = yp[i]


@_inline
def _dp5_stages(rhs, t, h, y, q, r, k1, k2, k3, k4, k5, k6, k7, ys, yn, er, n):
    """Stages 2..7 of Dormand-Prince from k1 = f(t, y), on pointers: the new state in yn, the
    error estimate in er, f(t+h, yn) in k7."""
    for i in range(n):
        ys[i] = y[i] + h * _A21 * k1[i]
    _fevalp(rhs, t + _C2 * h, ys, q, r, k2, n)
    for i in range(n):
        ys[i] = y[i] + h * (_A31 * k1[i] + _A32 * k2[i])
    _fevalp(rhs, t + _C3 * h, ys, q, r, k3, n)
    for i in range(n):
        ys[i] = y[i] + h * (_A41 * k1[i] + _A42 * k2[i] + _A43 * k3[i])
    _fevalp(rhs, t + _C4 * h, ys, q, r, k4, n)
    for i in range(n):
        ys[i] = y[i] + h * (_A51 * k1[i] + _A52 * k2[i] + _A53 * k3[i] + _A54 * k4[i])
    _fevalp(rhs, t + _C5 * h, ys, q, r, k5, n)
    for i in range(n):
        ys[i] = y[i] + h * (_A61 * k1[i] + _A62 * k2[i] + _A63 * k3[i] + _A64 * k4[i]
                            + _A65 * k5[i])
    _fevalp(rhs, t + h, ys, q, r, k6, n)
    for i in range(n):
        yn[i] = y[i] + h * (_B1 * k1[i] + _B3 * k3[i] + _B4 * k4[i] + _B5 * k5[i]
                            + _B6 * k6[i])
    _fevalp(rhs, t + h, yn, q, r, k7, n)
    for i in range(n):
        er[i] = h * (_E1 * k1[i] + _E3 * k3[i] + _E4 * k4[i] + _E5 * k5[i]
                     + _E6 * k6[i] + _E7 * k7[i])


@_inline
def _dp5_dense(y, k1, k3, k4, k5, k6, k7, h, x, yd, n):
    """yd = the DP5 continuous extension at fraction x of the step from y (pointers)."""
    x2 = x * x
    x3 = x2 * x
    b1 = _P10 * x + _P11 * x2 + _P12 * x3 + _P13 * x3 * x
    b3 = (_P31 + _P32 * x + _P33 * x2) * x2
    b4 = (_P41 + _P42 * x + _P43 * x2) * x2
    b5 = (_P51 + _P52 * x + _P53 * x2) * x2
    b6 = (_P61 + _P62 * x + _P63 * x2) * x2
    b7 = (_P71 + _P72 * x + _P73 * x2) * x2
    for i in range(n):
        yd[i] = y[i] + h * (b1 * k1[i] + b3 * k3[i] + b4 * k4[i] + b5 * k5[i] + b6 * k6[i]
                            + b7 * k7[i])


@_jit
def _ros_stages(rhs, jac, t, h, y, q, rates, wk, piv):
    """Rosenbrock 4(3) step from k1 = f(t, y) in wk[0]: new state in wk[_YN], error estimate in
    wk[_ER], f(t+h, y_new) in wk[6]. False if the iteration matrix is singular."""
    n = y.shape[0]
    k1 = wk[0]
    g1, g2, g3, g4, fs, k7 = wk[1], wk[2], wk[3], wk[4], wk[5], wk[6]
    ys = wk[_YS]
    yn = wk[_YN]
    er = wk[_ER]
    ft = wk[_FT]
    jm = wk[_JM]
    jac(t, ptr(y), ptr(q), ptr(jm))
    # explicit time derivative by a forward difference (zero for autonomous models)
    dt = 1e-7 * max(abs(t), 1.0)
    _feval(rhs, t + dt, y, q, rates, ft)
    for i in range(n):
        ft[i] = (ft[i] - k1[i]) / dt
    ig = 1.0 / (_RG * h)
    for i in range(n):
        for j in range(n):
            jm[i * n + j] = -jm[i * n + j]
        jm[i * n + i] += ig
    if not _lu_factor(jm, n, piv):
        return False
    for i in range(n):
        g1[i] = k1[i] + h * _RC1X * ft[i]
    _lu_solve(jm, n, piv, g1)
    for i in range(n):
        ys[i] = y[i] + _RA21 * g1[i]
    _feval(rhs, t + _RA2X * h, ys, q, rates, fs)
    for i in range(n):
        g2[i] = fs[i] + h * _RC2X * ft[i] + _RC21 * g1[i] / h
    _lu_solve(jm, n, piv, g2)
    for i in range(n):
        ys[i] = y[i] + _RA31 * g1[i] + _RA32 * g2[i]
    _feval(rhs, t + _RA3X * h, ys, q, rates, fs)
    for i in range(n):
        g3[i] = fs[i] + h * _RC3X * ft[i] + (_RC31 * g1[i] + _RC32 * g2[i]) / h
    _lu_solve(jm, n, piv, g3)
    for i in range(n):
        g4[i] = fs[i] + h * _RC4X * ft[i] + (_RC41 * g1[i] + _RC42 * g2[i] + _RC43 * g3[i]) / h
    _lu_solve(jm, n, piv, g4)
    for i in range(n):
        yn[i] = y[i] + _RB1 * g1[i] + _RB2 * g2[i] + _RB3 * g3[i] + _RB4 * g4[i]
        er[i] = _RE1 * g1[i] + _RE2 * g2[i] + _RE4 * g4[i]
    _feval(rhs, t + h, yn, q, rates, k7)
    return True


@_inline
def _next_emit(ri, rb, routp):
    while ri < rb and routp[ri] < 0:
        ri += 1
    return ri


@_inline
def _segment_pointers(y, q, rates, obuf, out, states, rtime, rout):
    """Pointers to the arrays a segment between two stops works on: state, parameters,
    inputs, output buffer, outputs, states written, record times and output rows."""
    return (ptr(y), ptr(q), ptr(rates), ptr(obuf), ptr(out), ptr(states), ptr(rtime),
            ptr(rout))


@_inline
def _integrate(rhs, jac, outputs, t0, t1, y, q, rates, opts, wk, hst, diag, piv, ra, rb,
               rtime, rout, row_base, obuf, out, states, want_states):
    """Integrate ``y`` in place from t0 to t1 with constant inputs ``rates``.

    Records ra..rb-1 (times in [t0, t1)) get their outputs on the way: from the continuous
    extension with Dormand-Prince, by landing on their times with the Rosenbrock method.
    ``hst`` holds [step size to try next, method in use, stiffness counter, steps taken];
    ``diag`` receives [time, state index] on failure. Returns a status code. The step loop
    works on pointers (no reference counting).
    """
    n = y.shape[0]
    n_out = obuf.shape[0]
    if t1 <= t0:
        return OK
    w = wk.shape[1]
    wp = ptr(wk)
    k1 = at(wp, 0)
    k2 = at(wp, w)
    k3 = at(wp, 2 * w)
    k4 = at(wp, 3 * w)
    k5 = at(wp, 4 * w)
    k6 = at(wp, 5 * w)
    k7 = at(wp, 6 * w)
    ys = at(wp, _YS * w)
    yn = at(wp, _YN * w)
    er = at(wp, _ER * w)
    yd = at(wp, _YD * w)
    yp, qp, rp, obp, outp, stp, rtp, rop = _segment_pointers(y, q, rates, obuf, out, states,
                                                             rtime, rout)
    ri = _next_emit(ra, rb, rop)
    rtol = opts[OPT_RTOL]
    atol = opts[OPT_ATOL]
    maxsteps = int(opts[OPT_MAXSTEPS])
    hmax = opts[OPT_HMAX]
    auto = int(opts[OPT_METHOD]) == METHOD_AUTO
    t = t0
    h = hst[0]
    method = int(hst[1])
    _fevalp(rhs, t, yp, qp, rp, k1, n)
    for i in range(n):
        if not math.isfinite(k1[i]) or not math.isfinite(yp[i]):
            diag[0] = t
            diag[1] = i
            return ERR_NONFINITE
    if h <= 0.0:
        h = _initial_step(rhs, t, t1, y, q, rates, wk[0], wk[_YS], wk[_YN], rtol, atol,
                          5.0 if method == METHOD_DOPRI5 else 4.0)
    hmin = 1e-13 * max(abs(t0), abs(t1), t1 - t0)
    nsteps = 0
    hprop = h
    while t < t1:
        # outputs due now (only the Rosenbrock path lands on them)
        while ri < rb and rtp[ri] <= t:
            _emit(outputs, t, yp, qp, obp, outp, stp, want_states, row_base + rop[ri], n,
                  n_out)
            ri = _next_emit(ri + 1, rb, rop)
        if nsteps >= maxsteps:
            diag[0] = t
            diag[1] = -1
            return ERR_MAXSTEPS
        target = t1
        if method != METHOD_DOPRI5 and ri < rb and rtp[ri] < t1:
            target = rtp[ri]
        hprop = min(h, hmax)
        h = hprop
        last = False
        if t + 1.01 * h >= target:
            h = target - t
            last = True
        if h < hmin and not last:
            diag[0] = t
            worst = 0
            for i in range(n):
                if abs(yp[i]) > abs(yp[worst]):
                    worst = i
            diag[1] = worst
            return ERR_UNDERFLOW
        nsteps += 1
        if method == METHOD_DOPRI5:
            _dp5_stages(rhs, t, h, yp, qp, rp, k1, k2, k3, k4, k5, k6, k7, ys, yn, er, n)
            order = 5.0
        else:
            if not _ros_stages(rhs, jac, t, h, y, q, rates, wk, piv):
                h *= 0.25
                continue
            order = 4.0
        finite = True
        for i in range(n):
            if not (math.isfinite(yn[i]) and math.isfinite(er[i])):
                finite = False
        if not finite:
            h *= 0.25
            if h < hmin:
                diag[0] = t
                diag[1] = 0
                for i in range(n):
                    if not math.isfinite(yn[i]):
                        diag[1] = i
                        break
                return ERR_NONFINITE
            continue
        en = _err_norm(er, yp, yn, n, rtol, atol)
        if en <= 1.0:
            if method == METHOD_DOPRI5 and auto:
                # Hairer's stiffness test: h * |lambda| estimate beyond the stability boundary
                num = 0.0
                den = 0.0
                for i in range(n):
                    num += (k7[i] - k6[i]) ** 2
                    den += (yn[i] - ys[i]) ** 2
                if den > 0.0 and h * math.sqrt(num / den) > 3.25:
                    hst[2] += 1.0
                    if hst[2] >= 15.0:
                        method = METHOD_ROSENBROCK
                        hst[1] = METHOD_ROSENBROCK
                else:
                    hst[2] = max(0.0, hst[2] - 1.0)
            tn = target if last else t + h
            if method == METHOD_DOPRI5:
                # outputs inside this step, from the continuous extension
                while ri < rb and rtp[ri] < tn:
                    _dp5_dense(yp, k1, k3, k4, k5, k6, k7, h, (rtp[ri] - t) / h, yd, n)
                    _emit(outputs, rtp[ri], yd, qp, obp, outp, stp, want_states,
                          row_base + rop[ri], n, n_out)
                    ri = _next_emit(ri + 1, rb, rop)
            t = tn
            for i in range(n):
                yp[i] = yn[i]
                k1[i] = k7[i]
            fac = 0.9 * en ** (-1.0 / order) if en > 0.0 else 5.0
            if last:
                h = max(hprop, h * min(5.0, max(0.2, fac)))
            else:
                h = h * min(5.0, max(0.2, fac))
        else:
            h = h * max(0.1, 0.9 * en ** (-1.0 / order))
    hst[0] = h
    hst[3] += nsteps
    return OK


@_jit
def _matmul(a, b, c, m):
    """c = a @ b for m x m row-major matrices (c distinct from a and b). Row by row, skipping
    zeros of ``a``: the matrices of models with sensitivities are mostly zero blocks."""
    for i in range(m):
        r = i * m
        for j in range(m):
            c[r + j] = 0.0
        for k in range(m):
            f = a[r + k]
            if f != 0.0:
                rb = k * m
                for j in range(m):
                    c[r + j] += f * b[rb + j]


@_jit
def _expm(x, m, out, xw, piv):
    """out = exp(x) for the m x m row-major matrix x, by scaling and squaring with the (6, 6)
    Pade approximant (Moler & Van Loan, SIAM Review 45:3-49, 2003). ``x`` is overwritten."""
    mm = m * m
    norm = 0.0
    for j in range(m):
        col = 0.0
        for i in range(m):
            col += abs(x[i * m + j])
        norm = max(norm, col)
    s = 0
    if norm > 0.5:
        s = math.ceil(math.log2(norm / 0.5))
    scale = 2.0 ** (-s)
    for k in range(mm):
        x[k] *= scale
    x2 = xw[0]
    x4 = xw[1]
    x6 = xw[2]
    u = xw[3]
    v = xw[4]
    tmp = xw[5]
    _matmul(x, x, x2, m)
    _matmul(x2, x2, x4, m)
    _matmul(x4, x2, x6, m)
    for k in range(mm):
        tmp[k] = _CP3 * x2[k] + _CP5 * x4[k]
        v[k] = _CP2 * x2[k] + _CP4 * x4[k] + _CP6 * x6[k]
    for i in range(m):
        tmp[i * m + i] += _CP1
        v[i * m + i] += _C0
    _matmul(x, tmp, u, m)
    # solve (V - U) R = (V + U), column by column
    den = xw[6]
    for k in range(mm):
        den[k] = v[k] - u[k]
        out[k] = v[k] + u[k]
    _lu_factor(den, m, piv)
    col = xw[7]
    for j in range(m):
        for i in range(m):
            col[i] = out[i * m + j]
        _lu_solve(den, m, piv, col)
        for i in range(m):
            out[i * m + j] = col[i]
    for _ in range(s):
        _matmul(out, out, tmp, m)
        for k in range(mm):
            out[k] = tmp[k]


@_jit
def _lin_setup(rhs, jac, t, y, q, wk, la, ist):
    """Linear model dy/dt = A y + c (+ inputs): A from the Jacobian, c = f(0); clears the cache
    of matrix exponentials (parameters changed)."""
    n = y.shape[0]
    z = wk[_ZERO]
    for i in range(n):
        z[i] = 0.0
    jac(t, ptr(z), ptr(q), ptr(la))
    c = wk[_FT]
    rhs(t, ptr(z), ptr(q), ptr(c))
    for i in range(n):
        la[n * n + i] = c[i]
    ist[0] = 0
    ist[1] = 0


@_jit
def _lin_fill(k, h, n, la, lin, xw, piv, need_g):
    """Fill cache slot k for step h: E = exp(A h), and G = int_0^h exp(A s) ds if need_g."""
    if lin[k, 0] != h:
        lin[k, 0] = h
        lin[k, 1] = 0.0
        x = xw[8]
        for i in range(n * n):
            x[i] = la[i] * h
        e = lin[k, 2:2 + n * n]
        _expm(x, n, e, xw, piv)
    if need_g and lin[k, 1] == 0.0:
        # exp([[A h, I h], [0, 0]]) = [[E, G], [0, I]]
        m = 2 * n
        x = xw[8]
        for i in range(m * m):
            x[i] = 0.0
        for i in range(n):
            for j in range(n):
                x[i * m + j] = la[i * n + j] * h
            x[i * m + n + i] = h
        big = xw[9]
        _expm(x, m, big, xw, piv)
        for i in range(n):
            for j in range(n):
                lin[k, 2 + n * n + i * n + j] = big[i * m + n + j]
        lin[k, 1] = 1.0


@_jit
def _lin_slot(h, n, la, lin, ist, xw, piv, need_g):
    """Cache slot holding E = exp(A h) (and G = int_0^h exp(A s) ds if need_g), filling a
    slot (round robin) when this step length is not cached yet."""
    k = -1
    for j in range(ist[0]):
        if lin[j, 0] == h:
            k = j
            break
    if k < 0:
        k = ist[1]
        ist[1] = (k + 1) % lin.shape[0]
        ist[0] = min(ist[0] + 1, lin.shape[0])
        lin[k, 0] = math.nan
    _lin_fill(k, h, n, la, lin, xw, piv, need_g)
    return k


@_inline
def _lin_apply(k, y, rp, n, lap, lp, lw, tmp, wnz):
    """y <- E y (+ G (c + rates) if wnz) with the matrices of cache slot k (pointers)."""
    e = at(lp, k * lw + 2)
    g = at(lp, k * lw + 2 + n * n)
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += e[i * n + j] * y[j]
        if wnz:
            for j in range(n):
                s += g[i * n + j] * (lap[n * n + j] + rp[j])
        tmp[i] = s
    for i in range(n):
        y[i] = tmp[i]


@_inline
def _lin_find(h, lp, lw, istp, need_g, k_last):
    """The cache slot for step h (the last one used is tried first), or -1 if it must be
    filled (absent, or G needed and missing)."""
    k = -1
    if k_last >= 0 and lp[k_last * lw] == h:
        k = k_last
    else:
        for j in range(istp[0]):
            if lp[j * lw] == h:
                k = j
                break
    if k >= 0 and need_g and lp[k * lw + 1] == 0.0:
        return -1
    return k


@_inline
def _lin_advance(outputs, t0, t1, y, q, rates, wk, la, lin, ist, xw, piv, ra, rb, rtime, rout,
                 row_base, obuf, out, states, want_states):
    """Exact stepping from t0 to t1, writing the outputs of records ra..rb-1 on the way."""
    n = y.shape[0]
    n_out = obuf.shape[0]
    yp, qp, rp, obp, outp, stp, rtp, rop = _segment_pointers(y, q, rates, obuf, out, states,
                                                             rtime, rout)
    lap = ptr(la)
    lp = ptr(lin)
    lw = lin.shape[1]
    istp = ptr(ist)
    tmp = at(ptr(wk), _YS * wk.shape[1])
    t = t0
    ri = _next_emit(ra, rb, rop)
    # inputs are constant over the segment: is the input term (c + rates) needed at all?
    need_g = False
    for i in range(n):
        if lap[n * n + i] + rp[i] != 0.0:
            need_g = True
    k = -1
    while True:
        last = ri >= rb
        tr = t1 if last else rtp[ri]
        if tr > t:
            h = tr - t
            k = _lin_find(h, lp, lw, istp, need_g, k)
            if k < 0:
                k = _lin_slot(h, n, la, lin, ist, xw, piv, need_g)
            _lin_apply(k, yp, rp, n, lap, lp, lw, tmp, need_g)
            t = tr
        if last:
            break
        _emit(outputs, t, yp, qp, obp, outp, stp, want_states, row_base + rop[ri], n, n_out)
        ri = _next_emit(ri + 1, rb, rop)
    for i in range(n):
        if not math.isfinite(yp[i]):
            return ERR_NONFINITE
    return OK


@_inline
def _advance(rhs, jac, outputs, linear, t0, t1, y, q, rates, opts, wk, hst, diag, piv, la,
             lin, ist, xw, ra, rb, rtime, rout, row_base, obuf, out, states, want_states):
    """Advance from t0 to t1: exact stepping for a linear model, else the ODE integrator."""
    if linear:
        st = _lin_advance(outputs, t0, t1, y, q, rates, wk, la, lin, ist, xw, piv, ra, rb,
                          rtime, rout, row_base, obuf, out, states, want_states)
        if st != OK:
            diag[0] = t1
            diag[1] = -1
        return st
    return _integrate(rhs, jac, outputs, t0, t1, y, q, rates, opts, wk, hst, diag, piv, ra, rb,
                      rtime, rout, row_base, obuf, out, states, want_states)


@_jit
def _adv(k, linear, t0, t1, y, q, rates, opts, ws):
    """_advance without outputs; k = (rhs, jac, outputs), ws = the work arrays."""
    wk, hst, diag, piv, la, lin, ist, xw, rtime, rout, obuf, out, states = ws
    zero = _int(0)
    return _advance(k[0], k[1], k[2], linear, t0, t1, y, q, rates, opts, wk, hst, diag, piv,
                    la, lin, ist, xw, zero, zero, rtime, rout, zero, obuf, out, states, zero)


@_jit
def _advance_pattern(k, linear, y, q, c, rate_hi, rate_lo, rem, p0, p1, opts, ws, rates, sp, nb,
                     p):
    """Advance over phases [p0, p1] of a dosing period whose input into ``c`` is ``rate_hi``
    on phases [0, rem) and ``rate_lo`` on [rem, II).

    With sensitivities (``p`` > 0 quantities, ``nb`` base states), ``sp`` holds per quantity
    k: ``[jump at phase 0 | input of S(c, k) on [0, rem) | on [rem, II) | jump at rem]``
    (see :func:`_ss_pattern`); the jump at phase 0 is the caller's."""
    hst = ws[1]
    for i in range(y.shape[0]):
        rates[i] = 0.0
    st = OK
    if p0 < rem:
        e = min(p1, rem)
        rates[c] = rate_hi
        for kk in range(p):
            rates[nb + kk * nb + c] = sp[p + kk]
        hst[0] = 0.0
        st = _adv(k, linear, p0, e, y, q, rates, opts, ws)
        if st != OK:
            return st
        if e < p1:
            for kk in range(p):      # the last infusion of the period ends at phase rem
                y[nb + kk * nb + c] += sp[3 * p + kk]
        p0 = e
    if p1 > p0:
        rates[c] = rate_lo
        for kk in range(p):
            rates[nb + kk * nb + c] = sp[2 * p + kk]
        hst[0] = 0.0
        st = _adv(k, linear, p0, p1, y, q, rates, opts, ws)
    return st


@_jit
def _period_map(k, linear, x, q, c, bolus, rate_hi, rate_lo, rem, ii, opts, ws, rates, res, sp,
                nb, p):
    """res = state one period after the phase-0 state x (bolus given at phase 0)."""
    for i in range(x.shape[0]):
        res[i] = x[i]
    res[c] += bolus
    for kk in range(p):
        res[nb + kk * nb + c] += sp[kk]
    return _advance_pattern(k, linear, res, q, c, rate_hi, rate_lo, rem, 0.0, ii, opts, ws,
                            rates, sp, nb, p)


@_inline
def _pattern(rate, dur, ii):
    """(rem, rate_hi, rate_lo): m = floor(dur/ii) infusions overlap everywhere, one more on
    phases [0, rem) of the period."""
    if dur <= 0.0:
        return 0.0, 0.0, 0.0
    m = math.floor(dur / ii + 1e-12)
    rem = dur - m * ii
    if rem < 1e-12 * ii:
        rem = 0.0
    return rem, (m + 1.0) * rate, m * rate


@_jit
def _steady_state(k, linear, x, q, c, bolus, rate, dur, ii, opts, ws, ssres, sp, nb, p):
    """Periodic steady state of a dose repeated every ``ii``: x (in: start guess, out: the state
    just before a dose arrives). Newton's method on P(x) - x with a finite-difference Jacobian
    of the period map P (one step for a linear model, whose P is affine). Constant infusion
    when ii == 0 (Newton on f(x) + r = 0 with the analytic Jacobian).

    States that no state depends on (a zero column of the Jacobian, e.g. an accumulator of the
    eliminated amount or of AUC) have no steady state; they are left out of the system and
    keep their value.

    With sensitivity states (``p`` > 0, pattern ``sp``, see :func:`_advance_pattern`) the
    steady state of the whole system includes that of the sensitivities: the fixed point of
    ``S = dP/dy S + dP/dw``, the implicit-function derivative of the steady state."""
    rhs = k[0]
    jac = k[1]
    diag = ws[2]
    n = x.shape[0]
    rates = np.zeros(n)
    px = np.empty(n)
    pxd = np.empty(n)
    xd = np.empty(n)
    g = np.empty(n)
    gr = np.empty(n)
    a = np.empty(n * n)
    piv = np.empty(n, dtype=np.int64)
    rtol = opts[OPT_RTOL]
    atol = opts[OPT_ATOL]
    maxit = int(opts[OPT_SSMAXIT])
    # the states that take part: a non-zero column of the Jacobian
    jac(0.0, ptr(x), ptr(q), ptr(a))
    act = np.empty(n, dtype=np.int64)
    m = 0
    for j in range(n):
        used = False
        for i in range(n):
            if a[i * n + j] != 0.0:
                used = True
        if used:
            act[m] = j
            m += 1
    if ii <= 0.0:
        rates[c] = rate
        for _ in range(maxit):
            _feval(rhs, 0.0, x, q, rates, g)
            jac(0.0, ptr(x), ptr(q), ptr(a))
            for i_ in range(m):
                gr[i_] = g[act[i_]]
                for j_ in range(m):
                    a[i_ * m + j_] = a[act[i_] * n + act[j_]]
            if not _lu_factor(a, m, piv):
                diag[1] = -1
                return ERR_SINGULAR
            _lu_solve(a, m, piv, gr)
            conv = True
            # a thousandth of the tolerance, but not below what rounding allows
            floor = 0.0
            for i_ in range(m):
                floor = max(floor, 1e-13 * abs(x[act[i_]]))
            for i_ in range(m):
                i = act[i_]
                x[i] -= gr[i_]
                if abs(gr[i_]) > max(1e-3 * (atol + rtol * abs(x[i])), floor):
                    conv = False
            if conv:
                ssres[0] = 0.0
                return OK
        diag[1] = -1
        return ERR_SS
    rem, rate_hi, rate_lo = _pattern(rate, dur, ii)
    for it in range(maxit):
        st = _period_map(k, linear, x, q, c, bolus, rate_hi, rate_lo, rem, ii, opts, ws, rates,
                         px, sp, nb, p)
        if st != OK:
            return st
        conv = True
        res = 0.0
        for i_ in range(m):
            i = act[i_]
            g[i] = px[i] - x[i]
            sc = atol + rtol * abs(px[i])
            res = max(res, abs(g[i]) / sc)
            if abs(g[i]) > sc:
                conv = False
        ssres[0] = res
        if conv:
            for i_ in range(m):
                x[act[i_]] = px[act[i_]]
            return OK
        # Jacobian of P by finite differences (exact for a linear model)
        for j_ in range(m):
            j = act[j_]
            dj = max(1e-4 * abs(px[j]), 1e-4 * max(bolus, rate * ii, 1.0))
            for i in range(n):
                xd[i] = x[i]
            xd[j] += dj
            st = _period_map(k, linear, xd, q, c, bolus, rate_hi, rate_lo, rem, ii, opts, ws,
                             rates, pxd, sp, nb, p)
            if st != OK:
                return st
            for i_ in range(m):
                a[i_ * m + j_] = (pxd[act[i_]] - px[act[i_]]) / dj
        for i_ in range(m):
            a[i_ * m + i_] -= 1.0
            gr[i_] = g[act[i_]]
        if not _lu_factor(a, m, piv):
            diag[1] = -1
            return ERR_SINGULAR
        _lu_solve(a, m, piv, gr)
        small = True
        for i_ in range(m):
            i = act[i_]
            x[i] -= gr[i_]
            if abs(gr[i_]) > atol + rtol * abs(x[i]):
                small = False
        if small and it > 0:
            return OK
    diag[1] = -1
    return ERR_SS


@_jit
def _push(pt, pk, pc, pv, px, np_, time, kind, cmt, val, xrow):
    """Append a pending event with its sensitivity jump data ``xrow`` (row of ``px``); arrays
    grow by doubling. Returns the (possibly new) arrays."""
    k = np_[0]
    if k >= pt.shape[0]:
        m = 2 * pt.shape[0]
        pt2 = np.empty(m)
        pk2 = np.empty(m, dtype=np.int64)
        pc2 = np.empty(m, dtype=np.int64)
        pv2 = np.empty(m)
        px2 = np.empty((m, px.shape[1]))
        pt2[:k] = pt[:k]
        pk2[:k] = pk[:k]
        pc2[:k] = pc[:k]
        pv2[:k] = pv[:k]
        px2[:k] = px[:k]
        pt, pk, pc, pv, px = pt2, pk2, pc2, pv2, px2
    pt[k] = time
    pk[k] = kind
    pc[k] = cmt
    pv[k] = val
    for j in range(px.shape[1]):
        px[k, j] = xrow[j]
    np_[0] = k + 1
    return pt, pk, pc, pv, px


@_inline
def _next_pending(pt, np_):
    """Index of the earliest pending event (first pushed among equal times), or -1."""
    best = -1
    for k in range(np_[0]):
        if best < 0 or pt[k] < pt[best]:
            best = k
    return best


@_inline
def _pop(pt, pk, pc, pv, px, np_, k, xrow):
    """Remove pending event k, copying its sensitivity jump data into ``xrow``."""
    for i in range(px.shape[1]):
        xrow[i] = px[k, i]
    # keep insertion order among the rest (shift left) so that ties stay first-in first-out
    m = np_[0]
    for j in range(k, m - 1):
        pt[j] = pt[j + 1]
        pk[j] = pk[j + 1]
        pc[j] = pc[j + 1]
        pv[j] = pv[j + 1]
        for i in range(px.shape[1]):
            px[j, i] = px[j + 1, i]
    np_[0] = m - 1


@_inline
def _fail(status, code, t, state, r):
    status[0] = code
    status[1] = t
    status[2] = state
    status[3] = r


@_jit
def _ss_pattern(rate, dur, ii, xs, xe, p, sp):
    """The sensitivity pattern ``sp`` of a steady-state dose (see :func:`_advance_pattern`)
    from its jump data ``xs``, ``xe`` (:func:`_sens_payload`): a bolus jumps by AMT dF/dw at
    each arrival; m or m + 1 overlapping infusions feed dR/dw each, and the last one ends at
    phase rem, moved by dD/dw (a jump of rate * dD/dw)."""
    rem, _, rlo = _pattern(rate, dur, ii)
    m = rlo / rate if rate > 0.0 else 0.0
    for k in range(p):
        if rate == 0.0:
            sp[k] = xs[k]
            sp[p + k] = 0.0
            sp[2 * p + k] = 0.0
            sp[3 * p + k] = 0.0
        else:
            d_rate = xs[2 * p + k]
            sp[k] = 0.0
            sp[p + k] = (m + 1.0) * d_rate
            sp[2 * p + k] = m * d_rate
            sp[3 * p + k] = xe[k] + xs[k] if rem > 0.0 else 0.0


@_jit
def _ss_dose(k3, linear, ss, c, eff, rate, dur, ii, lag, t, y, q, rates, active, xss, tmpn, opts,
             wsx, ssres, pend, k_bolus, k_start, k_end, xs, xe, nb, p):
    """A steady-state dose (SS 1 or 2): the state at the dose time, the infusions of the past
    series still running and the past doses still to arrive (lag longer than II). Returns the
    status and the pending-event arrays.

    With sensitivities (``p`` > 0; jump data ``xs``, ``xe`` of the dose), the sensitivity
    states get their steady state too, the past doses their jumps, and the lag time moves the
    whole periodic pattern: ``dy(t)/dlag = -(f(y(t)) + input(t))``."""
    n = y.shape[0]
    hst = wsx[1]
    pt, pk, pc, pv, px, npend = pend
    sp = np.zeros(4 * p)
    _ss_pattern(rate, dur, ii, xs, xe, p, sp)
    if ss == 1:
        npend[0] = 0
        for i in range(n):
            rates[i] = 0.0
            active[i] = 0
            xss[i] = y[i]
    else:
        for i in range(n):
            xss[i] = 0.0
    constant = ii <= 0.0
    bolus = eff if rate == 0.0 else 0.0
    st = _steady_state(k3, linear, xss, q, c, bolus, rate,
                       dur if not constant else 0.0, ii, opts, wsx, ssres, sp, nb, p)
    if st != OK:
        return st, (pt, pk, pc, pv, px, npend)
    if constant:
        # as NONMEM does: the state is set to the steady state of the infusion, and
        # the infusion does not go on (AMT is 0: nothing more is given)
        for i in range(n):
            y[i] = xss[i] if ss == 1 else y[i] + xss[i]
    else:
        # xss: phase-0 state (just before an arrival). Doses of the past series were
        # given at t - k*ii and arrive at t - k*ii + lag, k = 1, 2, ...
        kstar = max(1, math.ceil(lag / ii - 1e-12))
        phase = kstar * ii - lag
        rem, rhi, rlo = _pattern(rate, dur, ii)
        xss[c] += bolus
        for kk in range(p):
            xss[nb + kk * nb + c] += sp[kk]
        hst[0] = 0.0
        if phase > 0.0:
            st = _advance_pattern(k3, linear, xss, q, c, rhi, rlo, rem, 0.0, phase,
                                  opts, wsx, tmpn, sp, nb, p)
            if st != OK:
                return st, (pt, pk, pc, pv, px, npend)
        if p > 0:
            # the lag shifts the pattern: S -= (f(y) + input) dlag/dw on the model's states
            f = np.zeros(n)
            k3[0](t, ptr(xss), ptr(q), ptr(f))
            f[c] += rhi if phase < rem else rlo
            for kk in range(p):
                d_lag = xs[p + kk] if rate == 0.0 else -xs[kk] / rate
                if d_lag != 0.0:
                    for i in range(nb):
                        xss[nb + kk * nb + i] -= f[i] * d_lag
        for i in range(n):
            y[i] = xss[i] if ss == 1 else y[i] + xss[i]
        # past doses still to arrive, and past infusions still running
        for kk in range(1, kstar):
            a = t - kk * ii + lag
            if rate == 0.0:
                pt, pk, pc, pv, px = _push(pt, pk, pc, pv, px, npend, a, k_bolus, c, eff, xs)
            else:
                pt, pk, pc, pv, px = _push(pt, pk, pc, pv, px, npend, a, k_start, c,
                                           rate, xs)
                pt, pk, pc, pv, px = _push(pt, pk, pc, pv, px, npend, a + dur, k_end,
                                           c, rate, xe)
        if rate > 0.0:
            kk = kstar
            while True:
                a = t - kk * ii + lag
                if a + dur <= t + 1e-12 * max(1.0, abs(t)):
                    break
                rates[c] += rate
                active[c] += 1
                for j in range(p):
                    rates[nb + j * nb + c] += xs[2 * p + j]
                pt, pk, pc, pv, px = _push(pt, pk, pc, pv, px, npend, a + dur, k_end,
                                           c, rate, xe)
                kk += 1
    return OK, (pt, pk, pc, pv, px, npend)


@_jit
def _sens_payload(c, amt, eff, rate, dur, rate_r, attrs, n, nb, p, xs, xe):
    """Jumps of the sensitivity states at a dose (models with sensitivities, see
    :func:`pkpd.model.with_sensitivities`): ``nb`` base states, ``p`` quantities w; state
    ``nb + k*nb + i`` holds d y_i / d w_k, and the dosing attributes of state ``nb + k*nb + c``
    hold dF_c/dw_k, dlag_c/dw_k, drate_c/dw_k and dduration_c/dw_k.

    ``xs`` (at the arrival: bolus or infusion start) and ``xe`` (at the infusion end) receive
    ``[jump of S(c, k) | dlag/dw_k for the f(y-) - f(y+) term of a bolus | change of the input
    rate of S(c, k)]``. With arrival time tau(w) and a jump or rate change there, the
    sensitivity jumps by the derivative of the jump plus ``(f(tau-) - f(tau+)) dtau/dw``."""
    for k in range(p):
        j = nb + k * nb + c
        d_f = attrs[j]
        d_lag = attrs[n + j]
        if rate == 0.0:
            xs[k] = amt * d_f
            xs[p + k] = d_lag
            xs[2 * p + k] = 0.0
            continue
        if rate_r > 0.0:            # given rate: duration F*AMT/RATE
            d_rate = 0.0
            d_dur = amt * d_f / rate
        elif rate_r == -1.0:        # modelled rate: duration F*AMT/rate
            d_rate = attrs[2 * n + j]
            d_dur = (amt * d_f - dur * d_rate) / rate
        else:                       # modelled duration: rate F*AMT/duration
            d_dur = attrs[3 * n + j]
            d_rate = (amt * d_f - rate * d_dur) / dur
        xs[k] = -rate * d_lag
        xs[p + k] = 0.0
        xs[2 * p + k] = d_rate
        xe[k] = rate * (d_lag + d_dur)
        xe[p + k] = 0.0
        xe[2 * p + k] = -d_rate


@_jit
def _sens_jump(rhs, t, y, q, rates, c, eff, x, stopped, nb, p, ym, f0, f1):
    """Apply the sensitivity jumps ``x`` (see :func:`_sens_payload`) of a dose of ``eff`` into
    state c that has just been given (``y`` is the state after it); ``stopped``: the last
    infusion into c ended (its sensitivity inputs drop to 0)."""
    n = y.shape[0]
    lagged = False
    for k in range(p):
        j = nb + k * nb + c
        y[j] += x[k]
        rates[j] = 0.0 if stopped else rates[j] + x[2 * p + k]
        if x[p + k] != 0.0:
            lagged = True
    if lagged and eff != 0.0:
        for i in range(n):
            ym[i] = y[i]
        ym[c] -= eff
        rhs(t, ptr(ym), ptr(q), ptr(f0))
        rhs(t, ptr(y), ptr(q), ptr(f1))
        for k in range(p):
            d = x[p + k]
            if d != 0.0:
                for i in range(nb):
                    y[nb + k * nb + i] += (f0[i] - f1[i]) * d


@_inline
def _noref(a):
    """A view of the C-contiguous array ``a`` that carries no reference count (valid while
    ``a`` lives)."""
    return nb.carray(ptr(a), a.shape)


@_inline
def _set_cov(q, cov_slot, rcov, r):
    """Put row r of ``rcov`` into the q slots ``cov_slot`` (a record's covariates, or a
    subject's between-occasion etas); True if any changed."""
    changed = False
    for j in range(cov_slot.shape[0]):
        v = rcov[r, j]
        if q[cov_slot[j]] != v:
            q[cov_slot[j]] = v
            changed = True
    return changed


@_inline
def _cov_equal(q, cov_slot, rcov, r):
    for j in range(cov_slot.shape[0]):
        if q[cov_slot[j]] != rcov[r, j]:
            return False
    return True


@_jit
def _subject(rhs, jac, derive, outputs, dosing, init, linear, lo, hi, row_base, rtime, revid,
             ramt, rcmt, rrate, rii, rss, rout, rcov, cov_slot, cov_nocb, rocc, bov_slot,
             bov_val, bov_base, q, opts, out, states, want_states, status, ws, y, rates, active,
             attrs, obuf, xss, tmpn, pend, ssres, sbuf):
    """Simulate one subject: records lo..hi-1, outputs in rows row_base + rout[r].

    Between-occasion etas (q slots ``bov_slot``) take the values of row ``bov_base + occasion``
    of ``bov_val``, the occasion of each record in ``rocc`` (LOCF: an occasion's values hold
    from its first record on)."""
    # views without reference counting: every array handed on in the loop below would
    # otherwise cost atomic reference-count updates at each call
    y = _noref(y)
    rates = _noref(rates)
    active = _noref(active)
    attrs = _noref(attrs)
    obuf = _noref(obuf)
    xss = _noref(xss)
    tmpn = _noref(tmpn)
    q = _noref(q)
    out = _noref(out)
    states = _noref(states)
    status = _noref(status)
    rtime = _noref(rtime)
    revid = _noref(revid)
    ramt = _noref(ramt)
    rcmt = _noref(rcmt)
    rrate = _noref(rrate)
    rii = _noref(rii)
    rss = _noref(rss)
    rout = _noref(rout)
    rcov = _noref(rcov)
    cov_slot = _noref(cov_slot)
    cov_nocb = _noref(cov_nocb)
    rocc = _noref(rocc)
    bov_slot = _noref(bov_slot)
    bov_val = _noref(bov_val)
    opts = _noref(opts)
    ssres = _noref(ssres)
    n = y.shape[0]
    ncov = cov_slot.shape[0]
    wk, hst, diag, piv, la, lin, ist, xw = ws
    wk = _noref(wk)
    hst = _noref(hst)
    diag = _noref(diag)
    piv = _noref(piv)
    la = _noref(la)
    lin = _noref(lin)
    ist = _noref(ist)
    xw = _noref(xw)
    k3 = (rhs, jac, outputs)
    wsx = (wk, hst, diag, piv, la, lin, ist, xw, rtime, rout, obuf, out, states)
    pt, pk, pc, pv, px, npend = pend
    ym, f0, f1, xs, xe, xp = sbuf
    ym = _noref(ym)
    f0 = _noref(f0)
    f1 = _noref(f1)
    xs = _noref(xs)
    xe = _noref(xe)
    xp = _noref(xp)
    n_sens = int(opts[OPT_NSENS])
    nb = n // (n_sens + 1)
    k_bolus = _int(_BOLUS)
    k_start = _int(_INF_START)
    k_end = _int(_INF_END)
    for i in range(status.shape[0]):
        status[i] = 0.0
    if hi <= lo:
        return
    for i in range(n):
        y[i] = 0.0
        rates[i] = 0.0
        active[i] = 0
    npend[0] = 0
    hst[0] = 0.0
    hst[1] = METHOD_ROSENBROCK if int(opts[OPT_METHOD]) == METHOD_ROSENBROCK else METHOD_DOPRI5
    hst[2] = 0.0
    t = rtime[lo]
    _set_cov(q, cov_slot, rcov, lo)
    _set_cov(q, bov_slot, bov_val, bov_base + rocc[lo])
    derive(t, ptr(y), ptr(q), ptr(q))
    init(t, ptr(y), ptr(q), ptr(y))
    if linear:
        _lin_setup(rhs, jac, t, y, q, wk, la, ist)
    r = lo
    while r < hi:
        tr = rtime[r]
        # covariates in force over (t, tr]: NOCB takes this record's value, LOCF the previous one
        changed = False
        for j in range(ncov):
            v = rcov[r, j] if (cov_nocb[j] == 1 or r == lo) else rcov[r - 1, j]
            if q[cov_slot[j]] != v:
                q[cov_slot[j]] = v
                changed = True
        if _set_cov(q, bov_slot, bov_val, bov_base + rocc[r - 1 if r > lo else lo]):
            changed = True
        if changed:
            derive(t, ptr(y), ptr(q), ptr(q))
            hst[0] = 0.0
            if linear:
                _lin_setup(rhs, jac, t, y, q, wk, la, ist)
        # The next segment: across a run of records that change nothing (observations, other
        # events, same covariates), taking their outputs on the way, up to the next
        # discontinuity; otherwise up to the next pending event or this record.
        kp = _next_pending(pt, npend)
        tstop = tr
        rb = r
        r2 = r
        while r2 < hi and (revid[r2] == 0 or revid[r2] == 2) and _cov_equal(
                q, cov_slot, rcov, r2) and _cov_equal(q, bov_slot, bov_val, bov_base + rocc[r2]):
            r2 += 1
        if r2 > r:
            # stop at the next record that changes something; if its interval needs other
            # covariate values (NOCB), stop at the last record before it
            tp = rtime[r2] if r2 < hi else rtime[hi - 1]
            if r2 < hi:
                for j in range(ncov):
                    v = rcov[r2, j] if cov_nocb[j] == 1 else rcov[r2 - 1, j]
                    if q[cov_slot[j]] != v:
                        tp = rtime[r2 - 1]
            if kp >= 0 and pt[kp] < tp:
                tp = pt[kp]
            while rb < r2 and rtime[rb] < tp:
                rb += 1
            if rb > r:
                tstop = tp
        if rb == r and kp >= 0 and pt[kp] <= tr:
            tstop = pt[kp]
        if tstop > t:
            st = _advance(rhs, jac, outputs, linear, t, tstop, y, q, rates, opts, wk, hst, diag,
                          piv, la, lin, ist, xw, r, rb, rtime, rout, row_base, obuf, out,
                          states, want_states)
            if st != OK:
                _fail(status, st, diag[0], diag[1], r)
                return
            t = tstop
        if rb > r:
            r = rb
            continue
        if kp >= 0 and pt[kp] <= t:
            # a pending event falls due (before a record at the same time)
            kind = pk[kp]
            c = pc[kp]
            val = pv[kp]
            _pop(pt, pk, pc, pv, px, npend, kp, xp)
            if kind == _BOLUS:
                y[c] += val
            elif kind == _INF_START:
                rates[c] += val
                active[c] += 1
            else:
                active[c] -= 1
                rates[c] = 0.0 if active[c] <= 0 else rates[c] - val
                if active[c] < 0:
                    active[c] = 0
            if n_sens > 0:
                _sens_jump(rhs, t, y, q, rates, c, val if kind == _BOLUS else 0.0, xp,
                           kind == _INF_END and active[c] <= 0, nb, n_sens, ym, f0, f1)
            hst[0] = 0.0
            continue
        # at the record: its own covariate values (and occasion)
        bov_changed = _set_cov(q, bov_slot, bov_val, bov_base + rocc[r])
        if _set_cov(q, cov_slot, rcov, r) or bov_changed:
            derive(t, ptr(y), ptr(q), ptr(q))
            hst[0] = 0.0
            if linear:
                _lin_setup(rhs, jac, t, y, q, wk, la, ist)
        ev = revid[r]
        if ev == 3 or ev == 4:
            init(t, ptr(y), ptr(q), ptr(y))
            for i in range(n):
                rates[i] = 0.0
                active[i] = 0
            npend[0] = 0
            hst[0] = 0.0
        if ev == 1 or ev == 4:
            c = rcmt[r] - 1
            dosing(t, ptr(y), ptr(q), ptr(attrs))
            f = attrs[c]
            lag = attrs[n + c]
            amt = ramt[r]
            rate_r = rrate[r]
            if not (math.isfinite(f) and math.isfinite(lag)) or f < 0.0 or lag < 0.0:
                _fail(status, ERR_PARAM, t, c, r)
                return
            eff = f * amt
            rate = 0.0
            dur = 0.0
            if rate_r > 0.0:
                rate = rate_r
                dur = eff / rate
            elif rate_r == -1.0:
                rate = attrs[2 * n + c]
                if not (rate > 0.0 and math.isfinite(rate)):
                    _fail(status, ERR_DOSE, t, c, r)
                    return
                dur = eff / rate
            elif rate_r == -2.0:
                dur = attrs[3 * n + c]
                if not (dur > 0.0 and math.isfinite(dur)):
                    _fail(status, ERR_DOSE, t, c, r)
                    return
                rate = eff / dur
            ss = rss[r]
            ii = rii[r]
            if n_sens > 0:
                _sens_payload(c, amt, eff, rate, dur, rate_r, attrs, n, nb, n_sens, xs, xe)
            if ss == 1 or ss == 2:
                st, pend2 = _ss_dose(k3, linear, ss, c, eff, rate, dur, ii, lag, t, y, q, rates,
                                     active, xss, tmpn, opts, wsx, ssres,
                                     (pt, pk, pc, pv, px, npend), k_bolus, k_start, k_end,
                                     xs, xe, nb, n_sens)
                pt, pk, pc, pv, px, npend = pend2
                status[4] = max(status[4], ssres[0])
                if st != OK:
                    _fail(status, st, t, diag[1], r)
                    return
                hst[0] = 0.0
            # the dose of this record
            if amt > 0.0:
                if rate == 0.0:
                    if lag == 0.0:
                        y[c] += eff
                        if n_sens > 0:
                            _sens_jump(rhs, t, y, q, rates, c, eff, xs, False, nb, n_sens, ym,
                                       f0, f1)
                    else:
                        pt, pk, pc, pv, px = _push(pt, pk, pc, pv, px, npend, t + lag, k_bolus,
                                                   c, eff, xs)
                else:
                    if lag == 0.0:
                        rates[c] += rate
                        active[c] += 1
                        if n_sens > 0:
                            _sens_jump(rhs, t, y, q, rates, c, 0.0, xs, False, nb, n_sens, ym,
                                       f0, f1)
                    else:
                        pt, pk, pc, pv, px = _push(pt, pk, pc, pv, px, npend, t + lag, k_start,
                                                   c, rate, xs)
                    pt, pk, pc, pv, px = _push(pt, pk, pc, pv, px, npend, t + lag + dur, k_end,
                                               c, rate, xe)
            hst[0] = 0.0
        if rout[r] >= 0:
            _emit(outputs, t, ptr(y), ptr(q), ptr(obuf), ptr(out), ptr(states),
                  want_states, row_base + rout[r], n, obuf.shape[0])
        r += 1


_A1 = types.float64[::1]
_I1 = types.int64[::1]
_A2 = types.float64[:, ::1]
_RUN_SIG = types.void(_KT, _KT, _KT, _KT, _KT, _KT, types.int64, types.int64, types.int64,
                      types.int64, types.int64, _I1, _I1, _I1, _A1, _I1, _A1, _I1, _A1, _A1,
                      _I1, _I1, _A2, _I1, _I1, _I1, _I1, _A2, types.int64, _A2, _A1, _A2, _A2,
                      types.int64, _A2)


@nb.njit(_RUN_SIG, cache=True, nogil=True)
def run(rhs, jac, derive, outputs, dosing, init, n_state, n_out, linear, s_first, s_stop,
        subj_lo, subj_hi, row_base, rtime, revid, ramt, rcmt, rrate, rii, rss, rout, rcov,
        cov_slot, cov_nocb, rocc, bov_slot, bov_val, n_occ, qin, opts, out, states,
        want_states, status):  # pragma: no cover
    """Simulate subjects s_first..s_stop-1: subject s runs records subj_lo[s]..subj_hi[s]-1
    (subjects may share records) and writes outputs to rows row_base[s] + rout[r].

    The work arrays are allocated once per call. The function releases the GIL: the caller
    runs blocks of subjects in parallel threads, each writing its own rows."""
    n = n_state
    wk = np.zeros((_WK_ROWS, max(n * n, n)))
    hst = np.zeros(4)
    diag = np.zeros(2)
    piv = np.zeros(2 * n, dtype=np.int64)
    la = np.zeros(n * n + n)
    lin = np.zeros((_NSLOT, 2 + 2 * n * n))
    ist = np.zeros(2, dtype=np.int64)
    xw = np.zeros((10, 4 * n * n))
    ws = (wk, hst, diag, piv, la, lin, ist, xw)
    y = np.zeros(n)
    rates = np.zeros(n)
    active = np.zeros(n, dtype=np.int64)
    attrs = np.zeros(4 * n)
    obuf = np.zeros(n_out)
    xss = np.zeros(n)
    tmpn = np.zeros(n)
    ssres = np.zeros(1)
    n_sens = int(opts[OPT_NSENS])
    pend = (np.zeros(16), np.zeros(16, dtype=np.int64), np.zeros(16, dtype=np.int64),
            np.zeros(16), np.zeros((16, 3 * n_sens)), np.zeros(1, dtype=np.int64))
    sbuf = (np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(3 * n_sens), np.zeros(3 * n_sens),
            np.zeros(3 * n_sens))
    q = np.zeros(qin.shape[1])
    for s in range(s_first, s_stop):
        for j in range(q.shape[0]):
            q[j] = qin[s, j]
        _subject(rhs, jac, derive, outputs, dosing, init, linear == 1, subj_lo[s],
                 subj_hi[s], row_base[s], rtime, revid, ramt, rcmt, rrate, rii, rss, rout,
                 rcov, cov_slot, cov_nocb, rocc, bov_slot, bov_val, s * n_occ, q, opts, out,
                 states, want_states, status[s],
                 ws, y, rates, active, attrs, obuf, xss, tmpn, pend, ssres, sbuf)
