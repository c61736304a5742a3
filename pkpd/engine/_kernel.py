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
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba import prange, types

KERNEL_SIG = types.void(types.float64, types.float64[::1], types.float64[::1],
                        types.float64[::1])
_KT = types.FunctionType(KERNEL_SIG)

# option vector layout
OPT_RTOL, OPT_ATOL, OPT_METHOD, OPT_MAXSTEPS, OPT_SSMAXIT, OPT_HMAX, OPT_N = 0, 1, 2, 3, 4, 5, 6
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

_jit = nb.njit(cache=True, fastmath=False, nogil=True)


@_jit
def _feval(rhs, t, y, q, rates, dy):
    rhs(t, y, q, dy)
    for i in range(y.shape[0]):
        dy[i] += rates[i]


@_jit
def _err_norm(err, y0, y1, rtol, atol):
    n = y0.shape[0]
    s = 0.0
    for i in range(n):
        sc = atol + rtol * max(abs(y0[i]), abs(y1[i]))
        e = err[i] / sc
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


@_jit
def _integrate(rhs, jac, t0, t1, y, q, rates, opts, wk, hst, diag):
    """Integrate ``y`` in place from t0 to t1 with constant inputs ``rates``.

    ``hst`` holds [last step size, method in use (1 dopri5, 2 rosenbrock), stiffness counter,
    steps taken]. ``diag`` receives [time, state index] on failure. Returns a status code.
    """
    if t1 <= t0:
        return OK
    n = y.shape[0]
    rtol = opts[OPT_RTOL]
    atol = opts[OPT_ATOL]
    maxsteps = int(opts[OPT_MAXSTEPS])
    hmax = opts[OPT_HMAX]
    k1 = wk[0]
    k2 = wk[1]
    k3 = wk[2]
    k4 = wk[3]
    k5 = wk[4]
    k6 = wk[5]
    k7 = wk[6]
    ys = wk[7]
    yn = wk[8]
    er = wk[9]
    ft = wk[10]
    jm = wk[11]  # n*n (flat, first n*n entries used)
    piv = np.empty(n, dtype=np.int64)
    span = t1 - t0
    t = t0
    h = hst[0]
    method = int(hst[1])
    _feval(rhs, t, y, q, rates, k1)
    for i in range(n):
        if not math.isfinite(k1[i]) or not math.isfinite(y[i]):
            diag[0] = t
            diag[1] = i
            return ERR_NONFINITE
    if h <= 0.0:
        h = _initial_step(rhs, t, t1, y, q, rates, k1, ys, k2, rtol, atol,
                          5.0 if method == METHOD_DOPRI5 else 4.0)
    hmin = 1e-13 * max(abs(t0), abs(t1), span)
    nsteps = 0
    hprop = h
    while t < t1:
        if nsteps >= maxsteps:
            diag[0] = t
            diag[1] = -1
            return ERR_MAXSTEPS
        hprop = min(h, hmax)
        h = hprop
        last = False
        if t + 1.01 * h >= t1:
            h = t1 - t
            last = True
        if h < hmin and not last:
            diag[0] = t
            worst = 0
            for i in range(n):
                if abs(y[i]) > abs(y[worst]):
                    worst = i
            diag[1] = worst
            return ERR_UNDERFLOW
        nsteps += 1
        if method == METHOD_DOPRI5:
            for i in range(n):
                ys[i] = y[i] + h * _A21 * k1[i]
            _feval(rhs, t + _C2 * h, ys, q, rates, k2)
            for i in range(n):
                ys[i] = y[i] + h * (_A31 * k1[i] + _A32 * k2[i])
            _feval(rhs, t + _C3 * h, ys, q, rates, k3)
            for i in range(n):
                ys[i] = y[i] + h * (_A41 * k1[i] + _A42 * k2[i] + _A43 * k3[i])
            _feval(rhs, t + _C4 * h, ys, q, rates, k4)
            for i in range(n):
                ys[i] = y[i] + h * (_A51 * k1[i] + _A52 * k2[i] + _A53 * k3[i] + _A54 * k4[i])
            _feval(rhs, t + _C5 * h, ys, q, rates, k5)
            for i in range(n):
                ys[i] = y[i] + h * (_A61 * k1[i] + _A62 * k2[i] + _A63 * k3[i] + _A64 * k4[i]
                                    + _A65 * k5[i])
            _feval(rhs, t + h, ys, q, rates, k6)
            for i in range(n):
                yn[i] = y[i] + h * (_B1 * k1[i] + _B3 * k3[i] + _B4 * k4[i] + _B5 * k5[i]
                                    + _B6 * k6[i])
            _feval(rhs, t + h, yn, q, rates, k7)
            for i in range(n):
                er[i] = h * (_E1 * k1[i] + _E3 * k3[i] + _E4 * k4[i] + _E5 * k5[i]
                             + _E6 * k6[i] + _E7 * k7[i])
            order = 5.0
        else:
            # Rosenbrock 4(3), Shampine's A-stable parameters: (1/(g h) - J) g_i = ...
            jac(t, y, q, jm)
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
                h *= 0.25
                continue
            for i in range(n):
                k2[i] = k1[i] + h * _RC1X * ft[i]
            _lu_solve(jm, n, piv, k2)                                  # g1
            for i in range(n):
                ys[i] = y[i] + _RA21 * k2[i]
            _feval(rhs, t + _RA2X * h, ys, q, rates, k6)
            for i in range(n):
                k3[i] = k6[i] + h * _RC2X * ft[i] + _RC21 * k2[i] / h
            _lu_solve(jm, n, piv, k3)                                  # g2
            for i in range(n):
                ys[i] = y[i] + _RA31 * k2[i] + _RA32 * k3[i]
            _feval(rhs, t + _RA3X * h, ys, q, rates, k6)
            for i in range(n):
                k4[i] = k6[i] + h * _RC3X * ft[i] + (_RC31 * k2[i] + _RC32 * k3[i]) / h
            _lu_solve(jm, n, piv, k4)                                  # g3
            for i in range(n):
                k5[i] = (k6[i] + h * _RC4X * ft[i]
                         + (_RC41 * k2[i] + _RC42 * k3[i] + _RC43 * k4[i]) / h)
            _lu_solve(jm, n, piv, k5)                                  # g4
            for i in range(n):
                yn[i] = y[i] + _RB1 * k2[i] + _RB2 * k3[i] + _RB3 * k4[i] + _RB4 * k5[i]
                er[i] = _RE1 * k2[i] + _RE2 * k3[i] + _RE4 * k5[i]
            _feval(rhs, t + h, yn, q, rates, k7)
            order = 4.0
        finite = True
        for i in range(n):
            if not (math.isfinite(yn[i]) and math.isfinite(er[i])):
                finite = False
        if not finite:
            h *= 0.25
            if h < hmin:
                diag[0] = t
                for i in range(n):
                    if not math.isfinite(yn[i]):
                        diag[1] = i
                        break
                return ERR_NONFINITE
            continue
        en = _err_norm(er, y, yn, rtol, atol)
        if en <= 1.0:
            # accepted
            if method == METHOD_DOPRI5 and int(opts[OPT_METHOD]) == METHOD_AUTO:
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
            t = t1 if last else t + h
            for i in range(n):
                y[i] = yn[i]
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
def _advance_pattern(rhs, jac, y, q, c, rate_hi, rate_lo, rem, p0, p1, opts, wk, hst, diag,
                     rates):
    """Integrate over phases [p0, p1] of a dosing period whose input into ``c`` is ``rate_hi``
    on phases [0, rem) and ``rate_lo`` on [rem, II)."""
    n = y.shape[0]
    for i in range(n):
        rates[i] = 0.0
    st = OK
    if p0 < rem:
        e = min(p1, rem)
        rates[c] = rate_hi
        hst[0] = 0.0
        st = _integrate(rhs, jac, p0, e, y, q, rates, opts, wk, hst, diag)
        if st != OK:
            return st
        p0 = e
    if p1 > p0:
        rates[c] = rate_lo
        hst[0] = 0.0
        st = _integrate(rhs, jac, p0, p1, y, q, rates, opts, wk, hst, diag)
    return st


@_jit
def _period_map(rhs, jac, x, q, c, bolus, rate_hi, rate_lo, rem, ii, opts, wk, hst, diag,
                rates, out):
    """out = state one period after the phase-0 state x (bolus given at phase 0)."""
    for i in range(x.shape[0]):
        out[i] = x[i]
    out[c] += bolus
    return _advance_pattern(rhs, jac, out, q, c, rate_hi, rate_lo, rem, 0.0, ii, opts, wk,
                            hst, diag, rates)


@_jit
def _steady_state(rhs, jac, x, q, c, bolus, rate, dur, ii, opts, wk, hst, diag, ssres):
    """Periodic steady state of a dose repeated every ``ii``: x (in: start guess, out: the state
    just before a dose arrives). Newton's method on P(x) - x with a finite-difference Jacobian
    of the period map P (one step for a linear model). Constant infusion when ii == 0 (Newton
    on f(x) + r = 0 with the analytic Jacobian).

    States that no state depends on (a zero column of the Jacobian, e.g. an accumulator of the
    eliminated amount or of AUC) have no steady state; they are left out of the system and
    keep their value."""
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
    jac(0.0, x, q, a)
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
            jac(0.0, x, q, a)
            for ii_ in range(m):
                gr[ii_] = g[act[ii_]]
                for jj in range(m):
                    a[ii_ * m + jj] = a[act[ii_] * n + act[jj]]
            if not _lu_factor(a, m, piv):
                diag[1] = -1
                return ERR_SINGULAR
            _lu_solve(a, m, piv, gr)
            conv = True
            for ii_ in range(m):
                i = act[ii_]
                x[i] -= gr[ii_]
                if abs(gr[ii_]) > 1e-3 * (atol + rtol * abs(x[i])):
                    conv = False
            if conv:
                ssres[0] = 0.0
                return OK
        diag[1] = -1
        return ERR_SS
    if dur > 0.0:
        mm = math.floor(dur / ii + 1e-12)
        rem = dur - mm * ii
        if rem < 1e-12 * ii:
            rem = 0.0
        rate_hi = (mm + 1.0) * rate
        rate_lo = mm * rate
    else:
        rem = 0.0
        rate_hi = 0.0
        rate_lo = 0.0
    for it in range(maxit):
        st = _period_map(rhs, jac, x, q, c, bolus, rate_hi, rate_lo, rem, ii, opts, wk, hst,
                         diag, rates, px)
        if st != OK:
            return st
        conv = True
        res = 0.0
        for ii_ in range(m):
            i = act[ii_]
            g[i] = px[i] - x[i]
            sc = atol + rtol * abs(px[i])
            res = max(res, abs(g[i]) / sc)
            if abs(g[i]) > sc:
                conv = False
        ssres[0] = res
        if conv:
            for ii_ in range(m):
                x[act[ii_]] = px[act[ii_]]
            return OK
        # Jacobian of P by finite differences (exact for a linear model)
        for jj in range(m):
            j = act[jj]
            dj = max(1e-4 * abs(px[j]), 1e-4 * max(bolus, rate * ii, 1.0))
            for i in range(n):
                xd[i] = x[i]
            xd[j] += dj
            st = _period_map(rhs, jac, xd, q, c, bolus, rate_hi, rate_lo, rem, ii, opts, wk,
                             hst, diag, rates, pxd)
            if st != OK:
                return st
            for ii_ in range(m):
                a[ii_ * m + jj] = (pxd[act[ii_]] - px[act[ii_]]) / dj
        for ii_ in range(m):
            a[ii_ * m + ii_] -= 1.0
            gr[ii_] = g[act[ii_]]
        if not _lu_factor(a, m, piv):
            diag[1] = -1
            return ERR_SINGULAR
        _lu_solve(a, m, piv, gr)
        small = True
        for ii_ in range(m):
            i = act[ii_]
            x[i] -= gr[ii_]
            if abs(gr[ii_]) > atol + rtol * abs(x[i]):
                small = False
        if small and it > 0:
            return OK
    diag[1] = -1
    return ERR_SS


@_jit
def _push(pt, pk, pc, pv, np_, time, kind, cmt, val):
    """Append a pending event; arrays grow by doubling. Returns the (possibly new) arrays."""
    k = np_[0]
    if k >= pt.shape[0]:
        m = 2 * pt.shape[0]
        pt2 = np.empty(m)
        pk2 = np.empty(m, dtype=np.int64)
        pc2 = np.empty(m, dtype=np.int64)
        pv2 = np.empty(m)
        pt2[:k] = pt[:k]
        pk2[:k] = pk[:k]
        pc2[:k] = pc[:k]
        pv2[:k] = pv[:k]
        pt, pk, pc, pv = pt2, pk2, pc2, pv2
    pt[k] = time
    pk[k] = kind
    pc[k] = cmt
    pv[k] = val
    np_[0] = k + 1
    return pt, pk, pc, pv


@_jit
def _next_pending(pt, np_):
    """Index of the earliest pending event (first pushed among equal times), or -1."""
    best = -1
    for k in range(np_[0]):
        if best < 0 or pt[k] < pt[best]:
            best = k
    return best


@_jit
def _pop(pt, pk, pc, pv, np_, k):
    # keep insertion order among the rest (shift left) so that ties stay first-in first-out
    m = np_[0]
    for j in range(k, m - 1):
        pt[j] = pt[j + 1]
        pk[j] = pk[j + 1]
        pc[j] = pc[j + 1]
        pv[j] = pv[j + 1]
    np_[0] = m - 1


@_jit
def _subject(rhs, jac, derive, outputs, dosing, init, n, n_out, lo, hi, rtime, revid, ramt,
             rcmt, rrate, rii, rss, rout, rcov, cov_slot, cov_nocb, q, opts, out, states,
             want_states, status):
    ncov = cov_slot.shape[0]
    y = np.zeros(n)
    rates = np.zeros(n)
    active = np.zeros(n, dtype=np.int64)
    attrs = np.empty(4 * n)
    obuf = np.empty(n_out)
    wk = np.zeros((12, max(n * n, n)))
    hst = np.zeros(4)
    hst[1] = METHOD_DOPRI5 if int(opts[OPT_METHOD]) != METHOD_ROSENBROCK else METHOD_ROSENBROCK
    diag = np.zeros(2)
    ssres = np.zeros(1)
    xss = np.empty(n)
    pt = np.empty(8)
    pk = np.empty(8, dtype=np.int64)
    pc = np.empty(8, dtype=np.int64)
    pv = np.empty(8)
    npend = np.zeros(1, dtype=np.int64)
    status[0] = OK
    if hi <= lo:
        return
    # covariates of the first record, initial state at the first record's time
    for j in range(ncov):
        q[cov_slot[j]] = rcov[lo, j]
    derive(rtime[lo], y, q, q)
    init(rtime[lo], y, q, y)
    t = rtime[lo]
    for r in range(lo, hi):
        tr = rtime[r]
        # covariates in force over (t, tr]: NOCB takes this record's value, LOCF the previous one
        changed = False
        for j in range(ncov):
            v = rcov[r, j] if (cov_nocb[j] == 1 or r == lo) else rcov[r - 1, j]
            if q[cov_slot[j]] != v:
                q[cov_slot[j]] = v
                changed = True
        if changed:
            derive(t, y, q, q)
            hst[0] = 0.0
        # integrate to tr through the pending events that fall due up to and including tr
        while True:
            k = _next_pending(pt, npend)
            if k < 0 or pt[k] > tr:
                break
            st = _integrate(rhs, jac, t, pt[k], y, q, rates, opts, wk, hst, diag)
            if st != OK:
                status[0] = st
                status[1] = diag[0]
                status[2] = diag[1]
                status[3] = r
                return
            t = max(t, pt[k])
            kind = pk[k]
            c = pc[k]
            val = pv[k]
            _pop(pt, pk, pc, pv, npend, k)
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
            hst[0] = 0.0
        st = _integrate(rhs, jac, t, tr, y, q, rates, opts, wk, hst, diag)
        if st != OK:
            status[0] = st
            status[1] = diag[0]
            status[2] = diag[1]
            status[3] = r
            return
        t = max(t, tr)
        # at the record: its own covariate values
        changed = False
        for j in range(ncov):
            v = rcov[r, j]
            if q[cov_slot[j]] != v:
                q[cov_slot[j]] = v
                changed = True
        if changed:
            derive(t, y, q, q)
            hst[0] = 0.0
        ev = revid[r]
        if ev == 3 or ev == 4:
            init(t, y, q, y)
            for i in range(n):
                rates[i] = 0.0
                active[i] = 0
            npend[0] = 0
            hst[0] = 0.0
        if ev == 1 or ev == 4:
            c = rcmt[r] - 1
            dosing(t, y, q, attrs)
            f = attrs[c]
            lag = attrs[n + c]
            amt = ramt[r]
            rate_r = rrate[r]
            if not (math.isfinite(f) and math.isfinite(lag)) or f < 0.0 or lag < 0.0:
                status[0] = ERR_PARAM
                status[1] = t
                status[2] = c
                status[3] = r
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
                    status[0] = ERR_DOSE
                    status[1] = t
                    status[2] = c
                    status[3] = r
                    return
                dur = eff / rate
            elif rate_r == -2.0:
                dur = attrs[3 * n + c]
                if not (dur > 0.0 and math.isfinite(dur)):
                    status[0] = ERR_DOSE
                    status[1] = t
                    status[2] = c
                    status[3] = r
                    return
                rate = eff / dur
            ss = rss[r]
            ii = rii[r]
            if ss == 1 or ss == 2:
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
                st = _steady_state(rhs, jac, xss, q, c, bolus, rate, dur if not constant
                                   else 0.0, ii, opts, wk, hst, diag, ssres)
                status[4] = max(status[4], ssres[0])
                if st != OK:
                    status[0] = st
                    status[1] = t
                    status[2] = diag[1]
                    status[3] = r
                    return
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
                    if dur > 0.0:
                        m = math.floor(dur / ii + 1e-12)
                        rem = dur - m * ii
                        if rem < 1e-12 * ii:
                            rem = 0.0
                        rhi = (m + 1.0) * rate
                        rlo = m * rate
                    else:
                        rem = 0.0
                        rhi = 0.0
                        rlo = 0.0
                    tmp = np.zeros(n)
                    xss[c] += bolus
                    hst[0] = 0.0
                    if phase > 0.0:
                        st = _advance_pattern(rhs, jac, xss, q, c, rhi, rlo, rem, 0.0, phase,
                                              opts, wk, hst, diag, tmp)
                        if st != OK:
                            status[0] = st
                            status[1] = t
                            status[2] = diag[1]
                            status[3] = r
                            return
                    for i in range(n):
                        y[i] = xss[i] if ss == 1 else y[i] + xss[i]
                    # past doses still to arrive, and past infusions still running
                    for kk in range(1, kstar):
                        a = t - kk * ii + lag
                        if rate == 0.0:
                            pt, pk, pc, pv = _push(pt, pk, pc, pv, npend, a, _BOLUS, c, eff)
                        else:
                            pt, pk, pc, pv = _push(pt, pk, pc, pv, npend, a, _INF_START, c,
                                                   rate)
                            pt, pk, pc, pv = _push(pt, pk, pc, pv, npend, a + dur, _INF_END,
                                                   c, rate)
                    if rate > 0.0:
                        kk = kstar
                        while True:
                            a = t - kk * ii + lag
                            if a + dur <= t + 1e-12 * max(1.0, abs(t)):
                                break
                            rates[c] += rate
                            active[c] += 1
                            pt, pk, pc, pv = _push(pt, pk, pc, pv, npend, a + dur, _INF_END,
                                                   c, rate)
                            kk += 1
                hst[0] = 0.0
            # the dose of this record
            if amt > 0.0:
                if rate == 0.0:
                    if lag == 0.0:
                        y[c] += eff
                    else:
                        pt, pk, pc, pv = _push(pt, pk, pc, pv, npend, t + lag, _BOLUS, c, eff)
                else:
                    if lag == 0.0:
                        rates[c] += rate
                        active[c] += 1
                    else:
                        pt, pk, pc, pv = _push(pt, pk, pc, pv, npend, t + lag, _INF_START, c,
                                               rate)
                    pt, pk, pc, pv = _push(pt, pk, pc, pv, npend, t + lag + dur, _INF_END, c,
                                           rate)
            hst[0] = 0.0
        row = rout[r]
        if row >= 0:
            outputs(t, y, q, obuf)
            for k in range(n_out):
                out[row, k] = obuf[k]
            if want_states == 1:
                for i in range(n):
                    states[row, i] = y[i]
    status[0] = OK


_F8 = types.float64
_A1 = types.float64[::1]
_I1 = types.int64[::1]
_A2 = types.float64[:, ::1]
_I2 = types.int64[:, ::1]
_RUN_SIG = types.void(_KT, _KT, _KT, _KT, _KT, _KT, types.int64, types.int64,
                      _I1, _A1, _I1, _A1, _I1, _A1, _A1, _I1, _I1, _A2, _I1, _I1, _A2,
                      _A1, _A2, _A2, types.int64, _A2)


@nb.njit(_RUN_SIG, parallel=True, cache=True, nogil=True)
def run(rhs, jac, derive, outputs, dosing, init, n_state, n_out, offsets, rtime, revid, ramt,
        rcmt, rrate, rii, rss, rout, rcov, cov_slot, cov_nocb, qin, opts, out, states,
        want_states, status):  # pragma: no cover - compiled
    """Simulate every subject (parallel over subjects). See the module docstring."""
    nsub = offsets.shape[0] - 1
    for s in prange(nsub):
        q = qin[s].copy()
        _subject(rhs, jac, derive, outputs, dosing, init, n_state, n_out, offsets[s],
                 offsets[s + 1], rtime, revid, ramt, rcmt, rrate, rii, rss, rout, rcov,
                 cov_slot, cov_nocb, q, opts, out, states, want_states, status[s])
