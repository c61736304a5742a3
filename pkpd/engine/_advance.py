"""One contract in front of the solvers: advance the state between two stops.

Every solver module offers the same operation, "integrate ``y`` in place from ``t0`` to ``t1``
with constant inputs ``rates``, writing the outputs of records ``ra..rb-1`` on the way, and
return a status code": :func:`pkpd.engine._exact._lin_advance` (exact stepping of a linear
model) and :func:`pkpd.engine._ode._integrate` (Dormand-Prince 5(4), switching to Rosenbrock
4(3) when the problem turns stiff).

The solver is chosen by the *type* of the argument ``solver``, not by its value: ``None`` means
exact stepping, the literal integer 0 the ODE solver. Numba removes the branch that cannot be
taken before it types the function (dead-branch pruning, which needs the argument typed as None
or as a literal), so an engine compiled for a linear model contains no ODE
integrator and one compiled for a nonlinear model no matrix exponential: each compiles only
what it runs (see :func:`pkpd.engine._loop.run`).
"""

from __future__ import annotations

from ._common import OK, _int, _jit
from ._exact import _lin_advance
from ._ode import _integrate


@_jit
def _advance(rhs, jac, outputs, solver, t0, t1, y, q, rates, opts, wk, hst, diag, piv, la,
             lin, ist, xw, ra, rb, rtime, rout, row_base, obuf, out, states, want_states):
    """Advance from t0 to t1 with the solver selected by the type of ``solver``."""
    if solver is None:
        st = _lin_advance(outputs, t0, t1, y, q, rates, wk, la, lin, ist, xw, piv, ra, rb,
                          rtime, rout, row_base, obuf, out, states, want_states)
        if st != OK:
            diag[0] = t1
            diag[1] = -1
    else:
        st = _integrate(rhs, jac, outputs, t0, t1, y, q, rates, opts, wk, hst, diag, piv, ra,
                        rb, rtime, rout, row_base, obuf, out, states, want_states)
    return st


@_jit
def _adv(k, solver, t0, t1, y, q, rates, opts, ws):
    """_advance without outputs; k = (rhs, jac, outputs), ws = the work arrays."""
    wk, hst, diag, piv, la, lin, ist, xw, rtime, rout, obuf, out, states = ws
    zero = _int(0)
    return _advance(k[0], k[1], k[2], solver, t0, t1, y, q, rates, opts, wk, hst, diag, piv,
                    la, lin, ist, xw, zero, zero, rtime, rout, zero, obuf, out, states, zero)
