"""Steady state of a periodic dosing pattern (SS = 1 and SS = 2 doses)."""

from __future__ import annotations

import math

import numpy as np

from .._abi import ptr
from ._advance import _adv
from ._common import (
    ERR_SINGULAR,
    ERR_SS,
    OK,
    OPT_ATOL,
    OPT_RTOL,
    OPT_SSMAXIT,
    _feval,
    _inline,
    _int,
    _jit,
)
from ._linalg import _lu_factor, _lu_solve
from ._queue import _push


@_jit
def _advance_pattern(k, solver, y, q, c, rate_hi, rate_lo, rem, p0, p1, opts, ws, rates, sp, nb,
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
        st = _adv(k, solver, p0, e, y, q, rates, opts, ws)
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
        st = _adv(k, solver, p0, p1, y, q, rates, opts, ws)
    return st


@_jit
def _period_map(k, solver, x, q, c, bolus, rate_hi, rate_lo, rem, ii, opts, ws, rates, res, sp,
                nb, p):
    """res = state one period after the phase-0 state x (bolus given at phase 0)."""
    for i in range(x.shape[0]):
        res[i] = x[i]
    res[c] += bolus
    for kk in range(p):
        res[nb + kk * nb + c] += sp[kk]
    return _advance_pattern(k, solver, res, q, c, rate_hi, rate_lo, rem, 0.0, ii, opts, ws,
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
def _steady_state(k, solver, x, q, c, bolus, rate, dur, ii, opts, ws, ssres, sp, nb, p):
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
    m = _int(0)
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
        st = _period_map(k, solver, x, q, c, bolus, rate_hi, rate_lo, rem, ii, opts, ws, rates,
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
            st = _period_map(k, solver, xd, q, c, bolus, rate_hi, rate_lo, rem, ii, opts, ws,
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
def _ss_dose(k3, solver, ss, c, eff, rate, dur, ii, lag, t, y, q, rates, active, xss, tmpn, opts,
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
    st = _steady_state(k3, solver, xss, q, c, bolus, rate,
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
            st = _advance_pattern(k3, solver, xss, q, c, rhi, rlo, rem, 0.0, phase,
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
