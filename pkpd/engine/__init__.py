"""Numeric engine: event handling with NONMEM semantics and numba ODE integrators.

Defaults for pharmacokinetic work live here, in one place:

- ``rtol = 1e-6`` and ``atol = 1e-9`` (in each state's unit, e.g. mg): scipy's default
  ``rtol=1e-3`` is far too loose for concentrations spanning several orders of magnitude.
- ``solver = "auto"``: exact stepping (matrix exponential, no tolerance involved) for a model
  that is linear in its states with constant coefficients between events; otherwise
  Dormand-Prince 5(4) with dense output and Hairer's stiffness test, a subject whose
  integration turns stiff continuing with the Rosenbrock method RODAS4 (order 4(3), stiffly
  accurate, analytic Jacobian).
- ``max_steps = 100_000`` per interval between two records (outputs or events), not per run.

The engine itself (the event loop :mod:`pkpd.engine._loop` and the solver modules behind
:mod:`pkpd.engine._advance`) is compiled per variant (exact stepping or ODE solver, with or
without SS records, with or without forward sensitivities) when first needed, and cached on
disk (:mod:`pkpd.engine._entry`); the Python side here only
prepares arrays (ADDL expansion, output requests, covariates of inserted records) and turns
failure codes into :class:`pkpd.SolverError`.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import PkpdError, SolverError

if TYPE_CHECKING:  # pragma: no cover
    from ..codegen import CompiledModel
    from ..events import EventTable

__all__ = ["DEFAULT_ATOL", "DEFAULT_MAX_STEPS", "DEFAULT_RTOL", "SOLVERS", "Prepared",
           "prepare", "run", "uses_exact_stepping"]

DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-9
DEFAULT_MAX_STEPS = 100_000
DEFAULT_SS_MAX_ITER = 50
SOLVERS = {"auto": 0, "dopri5": 1, "rosenbrock": 2, "exact": 0}

_MESSAGES = {
    1: "step size underflow (the problem may be stiff or the parameters extreme)",
    2: "non-finite state or derivative (NaN or inf; check parameters and covariates)",
    3: "too many steps between two records (max_steps={max_steps}): raise max_steps, loosen "
       "rtol (now {rtol:g}; the steps grow about tenfold per factor 1e-4 of rtol) or, if the "
       "model is stiff, use solver 'rosenbrock'",
    4: "steady state did not converge",
    5: "modelled infusion rate or duration is not a positive finite number",
    6: "bioavailability or lag time is negative or not finite",
    7: "steady state does not exist (singular system: a state without elimination?)",
}


@dataclass(frozen=True)
class Prepared:
    """Records ready for the kernel: sorted, ADDL expanded, output requests inserted.

    Subject ``s`` runs records ``subj_lo[s]:subj_hi[s]`` and record ``r`` writes its outputs
    to row ``row_base[s] + out_row[r]`` (``out_row`` -1: none). Subjects may share records: a
    regimen given to everyone is lowered once.
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
    subj_lo: np.ndarray
    subj_hi: np.ndarray
    row_base: np.ndarray


_IMPLIED, _DATA, _REQUEST = 0, 1, 2


def prepare(table: EventTable, out_times: np.ndarray | None = None, *,
            n_subjects: int | None = None) -> Prepared:
    """Expand ADDL, insert output requests at ``out_times`` and order the records.

    With ``n_subjects`` and a one-subject ``table``, the records are prepared once and shared
    by ``n_subjects`` subjects (each with its own output rows).

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
        cov = np.array(frame, dtype=float)

    offsets = np.zeros(n_sub + 1, dtype=np.int64)
    np.cumsum(np.bincount(all_subj, minlength=n_sub), out=offsets[1:])
    if n_subjects is not None and n_sub == 1:
        subj_lo = np.zeros(n_subjects, dtype=np.int64)
        subj_hi = np.full(n_subjects, offsets[1], dtype=np.int64)
        row_base = np.arange(n_subjects, dtype=np.int64) * n_rows
        n_rows *= n_subjects
    else:
        subj_lo = offsets[:-1].copy()
        subj_hi = offsets[1:].copy()
        row_base = np.zeros(n_sub, dtype=np.int64)
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
        subj_lo=subj_lo,
        subj_hi=subj_hi,
        row_base=row_base,
    )


def n_threads() -> int:
    """Threads used for a cohort: ``$PKPD_NUM_THREADS``, else numba's thread count (which
    follows ``$NUMBA_NUM_THREADS`` and defaults to the number of cores)."""
    value = os.environ.get("PKPD_NUM_THREADS")
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise PkpdError(f"PKPD_NUM_THREADS={value!r}: expected a whole number of threads "
                            "(e.g. 1, 2, 8)") from None
    import numba

    return max(1, numba.config.NUMBA_NUM_THREADS)


def _blocks(n_sub: int, threads: int) -> np.ndarray:
    """Block boundaries: one block per thread, none smaller than 64 subjects."""
    n_blk = max(1, min(threads, n_sub // 64))
    return np.linspace(0, n_sub, n_blk + 1).round().astype(np.int64)


#: model hash -> whether the model is linear with constant coefficients (decided once per model:
#: the symbolic test costs more than a one-subject engine call)
_LINEAR: dict[str, bool] = {}


def uses_exact_stepping(compiled: CompiledModel, solver: str) -> bool:
    """Whether ``solver`` runs ``compiled`` by exact (matrix exponential) stepping.

    That is the case for ``"auto"`` and ``"exact"`` when the model is linear in its states with
    constant coefficients between events: the Jacobian does not depend on the states
    (decided symbolically) and the right-hand side does not depend on time explicitly.
    """
    if solver not in SOLVERS:
        raise SolverError(f"unknown solver {solver!r}; valid: {', '.join(SOLVERS)}")
    model = compiled.model
    linear = _LINEAR.get(model.hash)
    if linear is None:
        linear = _LINEAR[model.hash] = bool(
            compiled.is_linear and not any(ode.has(model.t) for ode in model.odes))
    if solver == "exact" and not linear:
        raise SolverError(f"solver 'exact' needs a linear model with constant coefficients; "
                          f"model '{model.name}' is not (use 'auto', 'dopri5' or 'rosenbrock')")
    return linear and solver in ("auto", "exact")


def run(compiled: CompiledModel, prep: Prepared, q: np.ndarray, cov_slot: np.ndarray,
        cov_nocb: np.ndarray, *, ids: np.ndarray, rtol: float = DEFAULT_RTOL,
        atol: float = DEFAULT_ATOL, solver: str = "auto", max_steps: int = DEFAULT_MAX_STEPS,
        want_states: bool = False, occasion: np.ndarray | None = None,
        bov_slot: np.ndarray | None = None, bov_values: np.ndarray | None = None
        ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Run the compiled kernels over every subject in one parallel numba call.

    Between-occasion variability: ``occasion`` gives each prepared record its occasion index
    (0..n_occ-1), ``bov_slot`` the q slots of the occasion etas, and ``bov_values`` their
    values, row ``s * n_occ + occasion`` for subject ``s`` (shape ``(n_subjects * n_occ,
    n_bov)``).

    Returns ``(outputs, states, status)``: outputs ``(n_rows, n_out)``, states
    ``(n_rows, n_state)`` or None, and per subject ``status`` (code, time, state, record,
    largest steady-state residual relative to the tolerance).

    Raises
    ------
    SolverError
        For the first subject whose integration failed, naming it, the time and the state.
    """
    from . import _common, _entry

    linear = uses_exact_stepping(compiled, solver)
    steady = bool(np.any(prep.ss != 0))
    sens = len(compiled.model.sensitivities) > 0
    engine = _entry.compiled_run(linear, steady, sens)
    if not (rtol > 0 and atol > 0):
        raise SolverError(f"rtol and atol must be positive (got rtol={rtol}, atol={atol})")
    n_sub = len(prep.subj_lo)
    opts = np.array([rtol, atol, SOLVERS[solver], max_steps, DEFAULT_SS_MAX_ITER, np.inf,
                     len(compiled.model.sensitivities)])
    out = np.empty((prep.n_rows, compiled.n_out))
    states = np.empty((prep.n_rows if want_states else 0, compiled.n_state))
    status = np.zeros((n_sub, _common.STATUS_COLS))
    if bov_slot is None or len(bov_slot) == 0:
        occasion = np.zeros(len(prep.time), dtype=np.int64)
        bov_slot = np.zeros(0, dtype=np.int64)
        bov_values = np.zeros((n_sub, 0))
    n_occ = len(bov_values) // n_sub
    args = (prep.subj_lo, prep.subj_hi, prep.row_base, prep.time, prep.evid, prep.amt,
            prep.cmt, prep.rate, prep.ii, prep.ss, prep.out_row, prep.cov,
            np.ascontiguousarray(cov_slot, dtype=np.int64),
            np.ascontiguousarray(cov_nocb, dtype=np.int64),
            np.ascontiguousarray(occasion, dtype=np.int64),
            np.ascontiguousarray(bov_slot, dtype=np.int64),
            np.ascontiguousarray(bov_values, dtype=float), n_occ,
            np.ascontiguousarray(q, dtype=float), opts, out, states, 1 if want_states else 0,
            status)
    kernels = (compiled.rhs, compiled.jac, compiled.derive, compiled.outputs, compiled.dosing,
               compiled.init, compiled.n_state, compiled.n_out, None if linear else 0,
               0 if steady else None, 0 if sens else None)
    bounds = _blocks(n_sub, n_threads())
    try:
        if len(bounds) == 2:
            engine(*kernels, 0, n_sub, *args)
        else:
            # the kernel releases the GIL: one thread per block of subjects, each writing its
            # rows
            with ThreadPoolExecutor(max_workers=len(bounds) - 1) as pool:
                list(pool.map(lambda b: engine(*kernels, b[0], b[1], *args),
                              itertools.pairwise(bounds)))
    except ArithmeticError as exc:
        # e.g. the matrix exponential of infinite rates (parameters overflowing to inf)
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise SolverError(f"arithmetic error in the engine ({what}): parameter values outside "
                          "the range of float64 (an eta or parameter so large that a rate "
                          "overflows?)") from None
    failed = np.flatnonzero(status[:, 0] != 0)
    if len(failed):
        s = int(failed[0])
        code, time, state = int(status[s, 0]), float(status[s, 1]), int(status[s, 2])
        name = compiled.state_names[state] if 0 <= state < compiled.n_state else None
        where = f", state '{name}'" if name else ""
        more = f" ({len(failed) - 1} other subjects failed too)" if len(failed) > 1 else ""
        what = str(_MESSAGES.get(code, code)).format(max_steps=int(max_steps), rtol=rtol)
        raise SolverError(
            f"subject {ids[s]} at time {time:g}{where}: {what}{more}",
            subject=ids[s], time=time, state=name)
    return out, (states if want_states else None), status
