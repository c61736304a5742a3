"""Numeric engine: event handling with NONMEM semantics and numba ODE integrators.

Defaults for pharmacokinetic work live here, in one place:

- ``rtol = 1e-6`` and ``atol = 1e-9`` (in each state's unit, e.g. mg): scipy's default
  ``rtol=1e-3`` is far too loose for concentrations spanning several orders of magnitude.
- ``solver = "auto"``: Dormand-Prince 5(4) with Hairer's stiffness test; a subject whose
  integration turns stiff continues with the Rosenbrock 4(3) method (analytic Jacobian).
- ``max_steps = 100_000`` per interval between two records.

The engine itself (:mod:`pkpd.engine._kernel`) is compiled once for a fixed signature and cached
on disk; the Python side here only prepares arrays (ADDL expansion, output requests, covariates
of inserted records) and turns failure codes into :class:`pkpd.SolverError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SolverError

if TYPE_CHECKING:  # pragma: no cover
    from ..codegen import CompiledModel
    from ..events import EventTable

__all__ = ["DEFAULT_ATOL", "DEFAULT_MAX_STEPS", "DEFAULT_RTOL", "SOLVERS", "Prepared",
           "prepare", "run"]

DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-9
DEFAULT_MAX_STEPS = 100_000
DEFAULT_SS_MAX_ITER = 50
SOLVERS = {"auto": 0, "dopri5": 1, "rosenbrock": 2}

_MESSAGES = {
    1: "step size underflow (the problem may be stiff or the parameters extreme)",
    2: "non-finite state or derivative (NaN or inf; check parameters and covariates)",
    3: "too many steps between two records (raise max_steps or check for stiffness)",
    4: "steady state did not converge",
    5: "modelled infusion rate or duration is not a positive finite number",
    6: "bioavailability or lag time is negative or not finite",
    7: "steady state does not exist (singular system: a state without elimination?)",
}


@dataclass(frozen=True)
class Prepared:
    """Records ready for the kernel: sorted, ADDL expanded, output requests inserted.

    ``out_row[r]`` is the row of the output arrays that record ``r`` writes (-1: none).
    """

    offsets: np.ndarray
    time: np.ndarray
    evid: np.ndarray
    amt: np.ndarray
    cmt: np.ndarray
    rate: np.ndarray
    ii: np.ndarray
    ss: np.ndarray
    out_row: np.ndarray
    cov: np.ndarray
    n_rows: int


_IMPLIED, _DATA, _REQUEST = 0, 1, 2


def prepare(table: EventTable, out_times: np.ndarray | None = None) -> Prepared:
    """Expand ADDL, insert output requests at ``out_times`` and order the records.

    With ``out_times`` every subject gets one output row per time (row ``s*n_times + j``) and
    the table's own records write none; without, every record with ``table.output`` True
    writes one row, numbered in table order.

    Order at equal times within a subject: implied (ADDL) doses, then the table's records in
    their own order, then inserted output requests, so a dose is applied before an observation
    at the same time. Implied doses falling at or after a later reset (EVID 3/4) of the same
    subject are dropped, as the reset cancels them. Covariates of inserted records follow each
    covariate's rule: NOCB takes the next table record's value, LOCF the previous one's.
    """
    n_sub = len(table.offsets) - 1
    n_rec = len(table.time)
    subj = np.repeat(np.arange(n_sub), np.diff(table.offsets))
    seq = np.arange(n_rec)

    # ADDL expansion
    src = np.flatnonzero((table.addl > 0) & np.isin(table.evid, (1, 4)))
    counts = table.addl[src].astype(np.int64)
    rep = np.repeat(src, counts)
    k = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1).astype(float)
    imp_time = table.time[rep] + k * table.ii[rep]
    imp_subj = subj[rep]
    # drop implied doses at/after a later reset of the same subject
    resets = np.flatnonzero(np.isin(table.evid, (3, 4)))
    if len(resets) and len(rep):
        keep = np.ones(len(rep), dtype=bool)
        for r in resets:
            hit = (imp_subj == subj[r]) & (rep < r) & (imp_time >= table.time[r])
            keep &= ~hit
        rep, imp_time, imp_subj = rep[keep], imp_time[keep], imp_subj[keep]

    n_imp = len(rep)
    if out_times is not None:
        out_times = np.asarray(out_times, dtype=float)
        n_t = len(out_times)
        req_subj = np.repeat(np.arange(n_sub), n_t)
        req_time = np.tile(out_times, n_sub)
        req_row = np.arange(n_sub * n_t)
        data_row = np.full(n_rec, -1)
        n_rows = n_sub * n_t
    else:
        req_subj = np.zeros(0, dtype=np.int64)
        req_time = np.zeros(0)
        req_row = np.zeros(0, dtype=np.int64)
        data_row = np.where(table.output, np.cumsum(table.output) - 1, -1)
        n_rows = int(table.output.sum())
    n_req = len(req_time)

    all_subj = np.concatenate([subj, imp_subj, req_subj])
    all_time = np.concatenate([table.time, imp_time, req_time])
    all_cls = np.concatenate([np.full(n_rec, _DATA), np.full(n_imp, _IMPLIED),
                              np.full(n_req, _REQUEST)])
    all_seq = np.concatenate([seq, rep, np.arange(n_req)])
    order = np.lexsort((all_seq, all_cls, all_time, all_subj))

    def pick(data: np.ndarray, implied: np.ndarray, request_value: float) -> np.ndarray:
        return np.concatenate([data, implied, np.full(n_req, request_value, dtype=data.dtype)]
                              )[order]

    evid = pick(table.evid, np.ones(n_imp, dtype=table.evid.dtype), 2)
    amt = pick(table.amt, table.amt[rep], 0.0)
    cmt = pick(table.cmt, table.cmt[rep], 0)
    rate = pick(table.rate, table.rate[rep], 0.0)
    ii = pick(table.ii, table.ii[rep], 0.0)
    ss = pick(table.ss, np.zeros(n_imp, dtype=table.ss.dtype), 0)
    out_row = np.concatenate([data_row, np.full(n_imp, -1), req_row])[order]

    n_cov = table.cov.shape[1]
    cov = np.concatenate([table.cov, np.full((n_imp + n_req, n_cov), np.nan)])[order]
    if n_cov and (n_imp + n_req):
        import pandas as pd

        frame = pd.DataFrame(cov)
        groups = all_subj[order]
        for j, rule in enumerate(table.cov_interp):
            col = frame[j].groupby(groups)
            first, second = (col.bfill, col.ffill) if rule == "nocb" else (col.ffill, col.bfill)
            filled = first()
            frame[j] = filled.fillna(second()) if filled.isna().any() else filled
        cov = frame.to_numpy(dtype=float)

    offsets = np.zeros(n_sub + 1, dtype=np.int64)
    np.cumsum(np.bincount(all_subj, minlength=n_sub), out=offsets[1:])
    return Prepared(
        offsets=offsets,
        time=np.ascontiguousarray(all_time[order], dtype=float),
        evid=np.ascontiguousarray(evid, dtype=np.int64),
        amt=np.ascontiguousarray(amt, dtype=float),
        cmt=np.ascontiguousarray(cmt, dtype=np.int64),
        rate=np.ascontiguousarray(rate, dtype=float),
        ii=np.ascontiguousarray(ii, dtype=float),
        ss=np.ascontiguousarray(ss, dtype=np.int64),
        out_row=np.ascontiguousarray(out_row, dtype=np.int64),
        cov=np.ascontiguousarray(cov, dtype=float).reshape(len(order), n_cov),
        n_rows=n_rows,
    )


def run(compiled: CompiledModel, prep: Prepared, q: np.ndarray, cov_slot: np.ndarray,
        cov_nocb: np.ndarray, *, ids: np.ndarray, rtol: float = DEFAULT_RTOL,
        atol: float = DEFAULT_ATOL, solver: str = "auto", max_steps: int = DEFAULT_MAX_STEPS,
        want_states: bool = False) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Run the compiled kernels over every subject in one parallel numba call.

    Returns ``(outputs, states, status)``: outputs ``(n_rows, n_out)``, states
    ``(n_rows, n_state)`` or None, and per subject ``status`` (code, time, state, record,
    largest steady-state residual relative to the tolerance).

    Raises
    ------
    SolverError
        For the first subject whose integration failed, naming it, the time and the state.
    """
    from . import _kernel

    if solver not in SOLVERS:
        raise SolverError(f"unknown solver {solver!r}; valid: {', '.join(SOLVERS)}")
    if not (rtol > 0 and atol > 0):
        raise SolverError(f"rtol and atol must be positive (got rtol={rtol}, atol={atol})")
    n_sub = len(prep.offsets) - 1
    opts = np.array([rtol, atol, SOLVERS[solver], max_steps, DEFAULT_SS_MAX_ITER, np.inf])
    out = np.full((prep.n_rows, compiled.n_out), np.nan)
    states = np.full((prep.n_rows if want_states else 0, compiled.n_state), np.nan)
    status = np.zeros((n_sub, _kernel.STATUS_COLS))
    _kernel.run(compiled.rhs, compiled.jac, compiled.derive, compiled.outputs, compiled.dosing,
                compiled.init, compiled.n_state, compiled.n_out, prep.offsets, prep.time,
                prep.evid, prep.amt, prep.cmt, prep.rate, prep.ii, prep.ss, prep.out_row,
                prep.cov, np.ascontiguousarray(cov_slot, dtype=np.int64),
                np.ascontiguousarray(cov_nocb, dtype=np.int64),
                np.ascontiguousarray(q, dtype=float), opts, out, states,
                1 if want_states else 0, status)
    failed = np.flatnonzero(status[:, 0] != 0)
    if len(failed):
        s = int(failed[0])
        code, time, state = int(status[s, 0]), float(status[s, 1]), int(status[s, 2])
        name = compiled.state_names[state] if 0 <= state < compiled.n_state else None
        where = f", state '{name}'" if name else ""
        more = f" ({len(failed) - 1} other subjects failed too)" if len(failed) > 1 else ""
        raise SolverError(
            f"subject {ids[s]} at time {time:g}{where}: {_MESSAGES.get(code, code)}{more}",
            subject=ids[s], time=time, state=name)
    return out, (states if want_states else None), status
