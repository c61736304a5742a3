"""The ODE solver: adaptive Dormand-Prince 5(4) that switches a subject to the Rosenbrock
method RODAS4 when Hairer's stiffness test fires.

The step budget ``max_steps`` counts the steps since the last record written (or the start of
the segment), so a long segment between two doses with many outputs is not cut short: the
budget guards against a solver stuck between two records, not against long horizons.
"""

from __future__ import annotations

import math

from .._abi import at, ptr
from ._common import (
    _ER,
    _YD,
    _YN,
    _YS,
    ERR_MAXSTEPS,
    ERR_NONFINITE,
    ERR_UNDERFLOW,
    METHOD_AUTO,
    METHOD_DOPRI5,
    METHOD_ROSENBROCK,
    OK,
    OPT_ATOL,
    OPT_HMAX,
    OPT_MAXSTEPS,
    OPT_METHOD,
    OPT_RTOL,
    _emit,
    _feval,
    _fevalp,
    _inline,
    _jit,
    _next_emit,
    _segment_pointers,
)
from ._dopri5 import _dp5_dense, _dp5_stages
from ._rosenbrock import _ros_stages


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


@_inline
def _integrate(rhs, jac, outputs, t0, t1, y, q, rates, opts, wk, hst, diag, piv, ra, rb,
               rtime, rout, row_base, obuf, out, states, want_states):
    """Integrate ``y`` in place from t0 to t1 with constant inputs ``rates``.

    Records ra..rb-1 (times in [t0, t1)) get their outputs on the way: from the continuous
    extension with Dormand-Prince, by landing on their times with the Rosenbrock method.
    ``hst`` holds [step size to try next, method in use, stiffness counter, steps taken];
    ``diag`` receives [time, state index] on failure. At most ``max_steps`` steps between two
    records written (ERR_MAXSTEPS otherwise). Returns a status code. The step loop
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
        # Hairer's estimate can fall below the smallest step when a state is just above the
        # absolute tolerance and its derivative large (an infusion starting on a residue of
        # 1e-18 mg gave 6e-16 h at t = 12 h): start from 100 smallest steps instead, the error
        # test reduces it if needed
        h = max(h, 100.0 * (1e-14 * abs(t) + 1e-300))
    nsteps = 0      # steps since the last record (the max_steps budget)
    total = 0       # steps of this segment before the last record
    hprop = h
    while t < t1:
        # outputs due now (only the Rosenbrock path lands on them)
        while ri < rb and rtp[ri] <= t:
            _emit(outputs, t, yp, qp, obp, outp, stp, want_states, row_base + rop[ri], n,
                  n_out)
            ri = _next_emit(ri + 1, rb, rop)
            total += nsteps
            nsteps = 0
        if nsteps >= maxsteps:
            diag[0] = t
            diag[1] = -1
            return ERR_MAXSTEPS
        target = t1
        if method != METHOD_DOPRI5 and ri < rb and rtp[ri] < t1:
            target = rtp[ri]
        # smallest step: some 45 units in the last place of the time (relative to the time,
        # not to the span: a binding layer right after a dose at t = 0 may need steps of
        # 1e-12 days or less in a 42-day segment); max_steps bounds the steps taken
        hmin = 1e-14 * abs(t) + 1e-300
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
            stepped = method    # the method of this step (the stiffness test may switch)
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
            if stepped == METHOD_DOPRI5:
                # outputs inside this step, from the continuous extension
                while ri < rb and rtp[ri] < tn:
                    _dp5_dense(yp, k1, k3, k4, k5, k6, k7, h, (rtp[ri] - t) / h, yd, n)
                    _emit(outputs, rtp[ri], yd, qp, obp, outp, stp, want_states,
                          row_base + rop[ri], n, n_out)
                    ri = _next_emit(ri + 1, rb, rop)
                    total += nsteps
                    nsteps = 0
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
    hst[3] += total + nsteps
    return OK
