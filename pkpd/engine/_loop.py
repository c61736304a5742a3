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

import numba as nb
import numpy as np
from numba import types

from .._abi import KERNEL_TYPE, ptr
from ._advance import _advance
from ._common import (
    _BOLUS,
    _INF_END,
    _INF_START,
    _NSLOT,
    _WK_ROWS,
    ERR_DOSE,
    ERR_PARAM,
    METHOD_DOPRI5,
    METHOD_ROSENBROCK,
    OK,
    OPT_METHOD,
    OPT_NSENS,
    _bool,
    _emit,
    _fail,
    _int,
    _jit,
)
from ._exact import _lin_setup
from ._queue import _next_pending, _pop, _push
from ._sens import _sens_jump, _sens_payload
from ._steady import _ss_dose


@_jit
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


@_jit
def _cov_equal(q, cov_slot, rcov, r):
    for j in range(cov_slot.shape[0]):
        if q[cov_slot[j]] != rcov[r, j]:
            return False
    return True


@_jit
def _subject(rhs, jac, derive, outputs, dosing, init, solver, steady, sens, lo, hi, row_base,
             rtime, revid, ramt, rcmt, rrate, rii, rss, rout, rcov, cov_slot, cov_nocb, rocc,
             bov_slot, bov_val, bov_base, q, opts, out, states, want_states, status, ws, y, rates,
             active, attrs, obuf, xss, tmpn, pend, ssres, sbuf):
    """Simulate one subject: records lo..hi-1, outputs in rows row_base + rout[r].

    Between-occasion etas (q slots ``bov_slot``) take the values of row ``bov_base + occasion``
    of ``bov_val``, the occasion of each record in ``rocc`` (LOCF: an occasion's values hold
    from its first record on)."""
    n = y.shape[0]
    ncov = cov_slot.shape[0]
    wk, hst, diag, piv, la, lin, ist, xw = ws
    k3 = (rhs, jac, outputs)
    wsx = (wk, hst, diag, piv, la, lin, ist, xw, rtime, rout, obuf, out, states)
    pt, pk, pc, pv, px, npend = pend
    ym, f0, f1, xs, xe, xp = sbuf
    n_sens = int(opts[OPT_NSENS])
    nb = n // (n_sens + 1)
    k_bolus = _int(_BOLUS)
    k_start = _int(_INF_START)
    k_end = _int(_INF_END)
    no = _bool(False)
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
    if solver is None:
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
            if solver is None:
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
            st = _advance(rhs, jac, outputs, solver, t, tstop, y, q, rates, opts, wk, hst, diag,
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
            if sens is not None:
                _sens_jump(rhs, t, y, q, rates, c, val if kind == _BOLUS else 0.0, xp,
                           kind == _INF_END and active[c] <= 0, nb, n_sens, ym, f0, f1)
            hst[0] = 0.0
            continue
        # at the record: its own covariate values (and occasion)
        bov_changed = _set_cov(q, bov_slot, bov_val, bov_base + rocc[r])
        if _set_cov(q, cov_slot, rcov, r) or bov_changed:
            derive(t, ptr(y), ptr(q), ptr(q))
            hst[0] = 0.0
            if solver is None:
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
            if sens is not None:
                _sens_payload(c, amt, eff, rate, dur, rate_r, attrs, n, nb, n_sens, xs, xe)
            # steady state: compiled only into the variant for records with SS (``steady`` an
            # integer; the caller passes None when no record has SS)
            if steady is not None:
                if ss == 1 or ss == 2:
                    st, pend2 = _ss_dose(k3, solver, ss, c, eff, rate, dur, ii, lag, t, y, q,
                                         rates, active, xss, tmpn, opts, wsx, ssres,
                                         (pt, pk, pc, pv, px, npend), k_bolus, k_start,
                                         k_end, xs, xe, nb, n_sens)
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
                        if sens is not None:
                            _sens_jump(rhs, t, y, q, rates, c, eff, xs, no, nb, n_sens, ym,
                                       f0, f1)
                    else:
                        pt, pk, pc, pv, px = _push(pt, pk, pc, pv, px, npend, t + lag, k_bolus,
                                                   c, eff, xs)
                else:
                    if lag == 0.0:
                        rates[c] += rate
                        active[c] += 1
                        if sens is not None:
                            _sens_jump(rhs, t, y, q, rates, c, 0.0, xs, no, nb, n_sens, ym,
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


def run_signature(exact: bool, steady: bool, sens: bool) -> types.Type:
    """The signature :func:`run` is compiled for.

    ``solver`` is None for exact stepping, the integer 0 (typed as that literal) for the ODE
    solver (see :mod:`pkpd.engine._advance`); ``steady`` is None when no record has SS, an
    integer otherwise; ``sens`` is None for a model without forward sensitivities, an integer
    otherwise. numba drops the branches a variant cannot take, so each of the eight variants
    contains only the code it runs."""
    kt = KERNEL_TYPE
    # numba prunes ``x is None`` when x is typed None or as a literal, not as a plain int64
    solver = types.none if exact else types.IntegerLiteral(0)
    ss = types.int64 if steady else types.none
    sn = types.int64 if sens else types.none
    return types.void(kt, kt, kt, kt, kt, kt, types.int64, types.int64, solver, ss, sn,
                      types.int64, types.int64, _I1, _I1, _I1, _A1, _I1, _A1, _I1, _A1, _A1, _I1,
                      _I1, _A2, _I1, _I1, _I1, _I1, _A2, types.int64, _A2, _A1, _A2, _A2,
                      types.int64, _A2)


@nb.njit(cache=True, nogil=True)
def run(rhs, jac, derive, outputs, dosing, init, n_state, n_out, solver, steady, sens,
        s_first, s_stop, subj_lo, subj_hi, row_base, rtime, revid, ramt, rcmt, rrate, rii, rss,
        rout, rcov, cov_slot, cov_nocb, rocc, bov_slot, bov_val, n_occ, qin, opts, out, states,
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
        _subject(rhs, jac, derive, outputs, dosing, init, solver, steady, sens, subj_lo[s],
                 subj_hi[s], row_base[s], rtime, revid, ramt, rcmt, rrate, rii, rss, rout,
                 rcov, cov_slot, cov_nocb, rocc, bov_slot, bov_val, s * n_occ, q, opts, out,
                 states, want_states, status[s],
                 ws, y, rates, active, attrs, obuf, xss, tmpn, pend, ssres, sbuf)
