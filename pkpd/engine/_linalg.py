"""Dense linear algebra on row-major flat arrays: LU with partial pivoting, matrix product
and the matrix exponential (Pade (6, 6) with scaling and squaring)."""

from __future__ import annotations

import math

from ._common import _jit


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


# Pade (6, 6) coefficients for the matrix exponential (scaling and squaring)
_C0, _CP1, _CP2, _CP3, _CP4, _CP5, _CP6 = (1.0, 1.0 / 2.0, 5.0 / 44.0, 1.0 / 66.0, 1.0 / 792.0,
                                           1.0 / 15840.0, 1.0 / 665280.0)


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
