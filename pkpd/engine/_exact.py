"""The exact solver of linear models: matrix exponentials, cached per step length."""

from __future__ import annotations

import math

from .._abi import at, ptr
from ._common import (
    _FT,
    _YS,
    _ZERO,
    ERR_NONFINITE,
    OK,
    _bool,
    _emit,
    _inline,
    _jit,
    _next_emit,
    _segment_pointers,
)
from ._linalg import _expm


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
    need_g = _bool(False)
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
