"""Pending events of one subject (lagged doses, infusion starts and ends), kept by time."""

from __future__ import annotations

import numpy as np

from ._common import _inline, _jit


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
        # element loops: slice assignment would compile numba's general broadcasting code
        for i in range(k):
            pt2[i] = pt[i]
            pk2[i] = pk[i]
            pc2[i] = pc[i]
            pv2[i] = pv[i]
            for j in range(px.shape[1]):
                px2[i, j] = px[i, j]
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
