"""What every part of the engine shares: option and status codes, the compile decorators,
the layout of the work arrays, and the small inlined helpers of the hot loops."""

from __future__ import annotations

import numba as nb
import numpy as np

from .._abi import ptr

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


_jit = nb.njit(cache=True, nogil=True)
# small helpers are inlined where they are called (no separate compilation)
_inline = nb.njit(cache=True, nogil=True, inline="always")


@_jit
def _int(x):
    """x as a plain int64: a call with an integer constant would otherwise compile the callee
    once more for that literal value."""
    return np.int64(x)


@_jit
def _bool(x):
    """x as a plain boolean: a variable that starts as a constant ``False`` is typed as that
    literal first, and every jitted function it reaches would be compiled twice."""
    return bool(x)


@_inline
def _fevalp(rhs, t, yp, qp, rp, dyp, n):
    """dy = f(t, y) + rates, on pointers (the hot-loop form)."""
    rhs(t, yp, qp, dyp)
    for i in range(n):
        dyp[i] += rp[i]


@_inline
def _feval(rhs, t, y, q, rates, dy):
    _fevalp(rhs, t, ptr(y), ptr(q), ptr(rates), ptr(dy), y.shape[0])


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
def _fail(status, code, t, state, r):
    status[0] = code
    status[1] = t
    status[2] = state
    status[3] = r
