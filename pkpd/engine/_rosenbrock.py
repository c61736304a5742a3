"""Rosenbrock 4(3) (Shampine 1982): one step with an analytic Jacobian, for stiff problems."""

from __future__ import annotations

from .._abi import ptr
from ._common import _ER, _FT, _JM, _YN, _YS, _feval, _jit
from ._linalg import _lu_factor, _lu_solve

# Rosenbrock 4(3) with Shampine's parameters (Shampine, ACM TOMS 8:93-113, 1982), A-stable
_RG = 0.5
_RA21, _RA31, _RA32 = 2.0, 48.0 / 25.0, 6.0 / 25.0
_RC21, _RC31, _RC32 = -8.0, 372.0 / 25.0, 12.0 / 5.0
_RC41, _RC42, _RC43 = -112.0 / 125.0, -54.0 / 125.0, -2.0 / 5.0
_RB1, _RB2, _RB3, _RB4 = 19.0 / 9.0, 1.0 / 2.0, 25.0 / 108.0, 125.0 / 108.0
_RE1, _RE2, _RE4 = 17.0 / 54.0, 7.0 / 36.0, 125.0 / 108.0
_RC1X, _RC2X, _RC3X, _RC4X = 1.0 / 2.0, -3.0 / 2.0, 121.0 / 50.0, 29.0 / 250.0
_RA2X, _RA3X = 1.0, 3.0 / 5.0


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
