"""Dormand-Prince 5(4): the stages of one step and the continuous extension (dense output)."""

from __future__ import annotations

from ._common import _fevalp, _inline

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
