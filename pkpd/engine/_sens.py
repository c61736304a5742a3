"""Jumps of the forward-sensitivity states at doses."""

from __future__ import annotations

from .._abi import ptr
from ._common import _jit


@_jit
def _sens_payload(c, amt, eff, rate, dur, rate_r, attrs, n, nb, p, xs, xe):
    """Jumps of the sensitivity states at a dose (models with sensitivities, see
    :func:`pkpd.model.with_sensitivities`): ``nb`` base states, ``p`` quantities w; state
    ``nb + k*nb + i`` holds d y_i / d w_k, and the dosing attributes of state ``nb + k*nb + c``
    hold dF_c/dw_k, dlag_c/dw_k, drate_c/dw_k and dduration_c/dw_k.

    ``xs`` (at the arrival: bolus or infusion start) and ``xe`` (at the infusion end) receive
    ``[jump of S(c, k) | dlag/dw_k for the f(y-) - f(y+) term of a bolus | change of the input
    rate of S(c, k)]``. With arrival time tau(w) and a jump or rate change there, the
    sensitivity jumps by the derivative of the jump plus ``(f(tau-) - f(tau+)) dtau/dw``."""
    for k in range(p):
        j = nb + k * nb + c
        d_f = attrs[j]
        d_lag = attrs[n + j]
        if rate == 0.0:
            xs[k] = amt * d_f
            xs[p + k] = d_lag
            xs[2 * p + k] = 0.0
            continue
        if rate_r > 0.0:            # given rate: duration F*AMT/RATE
            d_rate = 0.0
            d_dur = amt * d_f / rate
        elif rate_r == -1.0:        # modelled rate: duration F*AMT/rate
            d_rate = attrs[2 * n + j]
            d_dur = (amt * d_f - dur * d_rate) / rate
        else:                       # modelled duration: rate F*AMT/duration
            d_dur = attrs[3 * n + j]
            d_rate = (amt * d_f - rate * d_dur) / dur
        xs[k] = -rate * d_lag
        xs[p + k] = 0.0
        xs[2 * p + k] = d_rate
        xe[k] = rate * (d_lag + d_dur)
        xe[p + k] = 0.0
        xe[2 * p + k] = -d_rate


@_jit
def _sens_jump(rhs, t, y, q, rates, c, eff, x, stopped, nb, p, ym, f0, f1):
    """Apply the sensitivity jumps ``x`` (see :func:`_sens_payload`) of a dose of ``eff`` into
    state c that has just been given (``y`` is the state after it); ``stopped``: the last
    infusion into c ended (its sensitivity inputs drop to 0)."""
    n = y.shape[0]
    lagged = False
    for k in range(p):
        j = nb + k * nb + c
        y[j] += x[k]
        rates[j] = 0.0 if stopped else rates[j] + x[2 * p + k]
        if x[p + k] != 0.0:
            lagged = True
    if lagged and eff != 0.0:
        for i in range(n):
            ym[i] = y[i]
        ym[c] -= eff
        rhs(t, ptr(ym), ptr(q), ptr(f0))
        rhs(t, ptr(y), ptr(q), ptr(f1))
        for k in range(p):
            d = x[p + k]
            if d != 0.0:
                for i in range(nb):
                    y[nb + k * nb + i] += (f0[i] - f1[i]) * d
