"""Orchestration: from a model, dosing events and subjects to an ``xarray.Dataset``.

One path for one subject or millions: the subjects' parameter vectors are stacked into a matrix,
the events are lowered once (:mod:`pkpd._plan`), and the compiled engine runs every subject in a
single parallel numba call. :mod:`pkpd.scale` runs the same simulation chunked over subjects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from ._plan import as_compiled, parse_times, plan
from ._provenance import provenance
from .errors import SolverError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

    from .codegen import CompiledModel
    from .model import Model

__all__ = ["parse_times", "simulate"]


def simulate(
    model: Model | CompiledModel | str,
    events: Any,
    patients: pd.DataFrame | Mapping[str, Any] | None = None,
    *,
    params: pd.DataFrame | Mapping[str, Any] | None = None,
    times: Any = None,
    outputs: Sequence[str] | None = None,
    states: bool = False,
    solver: str = "auto",
    rtol: float | None = None,
    atol: float | None = None,
    max_steps: int | None = None,
    n: int | None = None,
    seed: int | np.random.SeedSequence | np.random.Generator | None = None,
    variability: Sequence[str] = ("iiv", "bov", "ruv"),
    uncertainty: Any = None,
    auc: bool | Sequence[str] = False,
    occasions: Any = None,
) -> xr.Dataset:
    """Simulate a model for one or many subjects.

    Parameters
    ----------
    model : Model, CompiledModel or str
        The model, its compiled form, or the name/path of a model file (see
        :func:`pkpd.load_model`).
    events : Regimen, str, Dose, NonmemData, EventTable or None
        A regimen (or regimen text such as ``"500 mg PO q12h x 14"``) given to every subject,
        or a NONMEM-format dataset (each subject its own records and covariates). ``None``:
        no dose, the model from its initial conditions (baselines, untreated tumour growth,
        disease progression); ``times`` must then be given.
    patients : DataFrame or dict of arrays, optional
        One row per subject, columns = covariates of the model. Numbers are read in the
        covariate's declared unit; strings or pint quantities are converted (``"82 kg"``).
        Columns the model does not use are ignored (a virtual population describes more
        than one model needs).
    params : DataFrame or dict of arrays, optional
        One row per subject, columns = model parameters (typical values), etas or covariates.
        Anything not given takes its typical value (etas 0, covariates their default).
    times : array, Quantity or str, optional
        Output times (in the model time unit if plain numbers), e.g. ``"0..168 h by 0.5 h"``.
        Without ``times`` a dataset is predicted at each of its records (as NONMEM's table).
    outputs : sequence of str, optional
        The outputs to return (default: all of the model's outputs).
    states : bool
        Also return the amount in every state.
    solver : {"auto", "exact", "dopri5", "rosenbrock"}
        Integration method (see :mod:`pkpd.engine`): "auto" steps a linear model exactly
        (matrix exponential) and integrates a nonlinear one with Dormand-Prince, switching to
        Rosenbrock when it turns stiff.
    rtol, atol : float, optional
        Tolerances (defaults 1e-6 and 1e-9, in each state's unit).
    max_steps : int, optional
        Largest number of steps between two records.
    n : int, optional
        Samples per subject: draw the sources of ``variability`` ``n`` times and add a
        ``sample`` dimension (dims ``(id, sample, time)``; needs ``times``). Without ``n``
        nothing is sampled (typical values, or the etas given in ``params``).
    seed : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Source of randomness for the samples. Every draw comes from a stream of its own,
        keyed by the seed, the source (uncertainty, etas, occasion etas, residual error) and
        the block of 1024 subjects the subject is in (see :mod:`pkpd._sampling`): a subject's
        draws depend only on the seed and its index in the cohort, so the same seed gives the
        same cohort on every machine, with any number of threads and chunked in any way
        (:func:`pkpd.simulate_chunked`, :func:`pkpd.simulate_to_zarr`), bit for bit. An int
        or a SeedSequence is the root of the streams; a Generator gives one integer drawn
        from it (so it moves on, and two calls with it draw two cohorts); None draws fresh
        entropy. The attribute ``seed`` of the result records the root. (Since this scheme
        was introduced a seed gives other numbers than with the earlier single sequential
        generator.)
    variability : sequence of {"iiv", "bov", "ruv", "uncertainty"}
        What is sampled (see :mod:`pkpd.variability`): between-subject variability (etas from
        the model's omega; etas given in ``params`` stay fixed), between-occasion variability
        (the model's occasion etas, drawn anew for each occasion), residual error (adds a
        variable ``<output>_obs`` for each output with an error model), parameter
        uncertainty (needs ``uncertainty``).
    uncertainty : mapping or DataFrame, optional
        ``{"names": [...], "cov": matrix}`` of the estimates, or a table of bootstrap
        estimates (see :func:`pkpd.variability.sample_thetas`).
    occasions : sequence of times, or str, optional
        For a model with between-occasion etas: the start times of the occasions of a regimen
        (e.g. ``["0 h", "24 h", "48 h"]``), or the name of the dataset column that numbers
        them (e.g. ``"OCC"``). An occasion holds from its first record on. Without it a
        subject has one occasion.
    auc : bool or sequence of str
        Add, for these outputs (True: all), an accumulator ``AUC_<output>`` integrated with
        the state: the exact area under the curve from the first record to each output time
        (see :func:`pkpd.results.exposure`).

    Returns
    -------
    xarray.Dataset
        With ``times``: dims ``(id, time)``. Without (dataset records): dim ``record`` with
        coordinates ``id``, ``time`` and ``evid`` per record. One variable per output (and per
        state if ``states``); every variable and coordinate has a ``units`` attribute, so
        ``ds.pint.quantify()`` (pint-xarray) gives quantities.

    Raises
    ------
    ModelError, RegimenError, DataError, UnitError
        Invalid input, naming the offending item; DataError also for a subject whose volume
        (a parameter in L, mL, ...) is not positive or whose clearance (L/h, ...) is
        negative, e.g. through a covariate equation, naming the subject and the parameter.
    SolverError
        If integration fails for a subject (named, with the time and state), or an output
        (or a state returned) is not a finite number: the subject, time and output of the
        first one are named (e.g. an output ``exp(x)`` overflowing, or a division by a state
        that reaches zero).

    See Also
    --------
    pkpd.simulate_chunked : The same chunked over subjects, as a lazy dask-backed Dataset.
    pkpd.simulate_to_zarr : The same written to a zarr store chunk by chunk, resumable.

    Examples
    --------
    >>> import pkpd
    >>> ds = pkpd.simulate("two_cmt_oral", "500 mg PO q12h x 14", times="0..168 h by 1 h")
    >>> float(ds["CP"].sel(time=12.0).squeeze()) > 0
    True
    """
    if auc:
        from .model import with_auc

        base = as_compiled(model).model
        model = with_auc(base, list(base.output_names) if auc is True else list(auc))
    import xarray as xr

    from . import engine
    from .engine._physical import check_signs

    p = plan(model, events, patients, params=params, times=times, outputs=outputs, n=n,
             seed=seed, variability=variability, uncertainty=uncertainty, occasions=occasions)
    cm, m, prep, table, out_times = p.cm, p.cm.model, p.prep, p.table, p.out_times
    ids, n_sub, n_smp, streams, wanted = p.ids, p.n_sub, p.n_smp, p.streams, p.wanted
    check_signs(cm, prep, p.q, p.cov_slot, ids=p.ids_run,
                cov_names=tuple(table.cov_names[:len(p.cov_slot)]), **p.occ_args)
    out, st, status = engine.run(
        cm, prep, p.q, p.cov_slot, p.cov_nocb, ids=p.ids_run,
        rtol=engine.DEFAULT_RTOL if rtol is None else rtol,
        atol=engine.DEFAULT_ATOL if atol is None else atol,
        solver=solver, max_steps=engine.DEFAULT_MAX_STEPS if max_steps is None else max_steps,
        want_states=states, **p.occ_args)

    picked = [cm.output_names.index(o) for o in wanted]
    checked = out if picked == list(range(cm.n_out)) else out[:, picked]
    # a sum is not finite if any term is not (or if it overflows: then look closer); it costs
    # less than np.isfinite, which allocates a mask of the size of the outputs
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(checked.sum()) and (st is None or np.isfinite(st.sum()))
    if not finite:
        _raise_nonfinite(checked, tuple(wanted), st, p, cm)

    time_attrs = {"units": m.time_unit, "long_name": "time"}
    attrs = {"model": m.name, "model_hash": m.hash, "pkpd_version": __version__,
             "solver": solver, "rtol": float(rtol or engine.DEFAULT_RTOL),
             "atol": float(atol or engine.DEFAULT_ATOL)}
    if np.any(status[:, 4] > 0):
        attrs["steady_state_max_residual"] = float(status[:, 4].max())

    if n is not None:
        shape: tuple[int, ...] = (n_sub, n_smp, len(out_times))
        dims: tuple[str, ...] = ("id", "sample", "time")
        coords: dict[str, Any] = {"id": ids, "sample": np.arange(n_smp),
                                  "time": ("time", out_times, time_attrs)}
        attrs["variability"] = ",".join(variability)
        attrs["seed"] = streams.describe() if streams is not None else ""
    elif out_times is not None:
        shape = (n_sub, len(out_times))
        dims = ("id", "time")
        coords = {"id": ids, "time": ("time", out_times, time_attrs)}
    else:
        shape = (prep.n_rows,)
        dims = ("record",)
        sel = np.flatnonzero(table.output)
        subj = np.repeat(np.arange(n_sub), np.diff(table.offsets))[sel]
        coords = {"id": ("record", ids[subj]),
                  "time": ("record", table.time[sel], time_attrs),
                  "evid": ("record", table.evid[sel])}
    data_vars: dict[str, Any] = {}
    for o in wanted:
        k = cm.output_names.index(o)
        unit = m.outputs[k].unit
        data_vars[o] = (dims, out[:, k].reshape(shape), {"units": unit, "long_name": o})
        if streams is not None and "ruv" in variability and o in m.error:
            from ._sampling import RUV
            from .variability import residual_with

            f, obs = out[:, k].reshape(shape), np.empty(shape)
            for a, b, eps in streams.normals_by_block(RUV, n_sub, (n_smp, len(out_times)), k):
                obs[a:b] = residual_with(f[a:b], m.error[o], eps)
            data_vars[f"{o}_obs"] = (dims, obs, {"units": unit, "long_name": f"{o} observed "
                                                 "(with residual error)"})
    if st is not None:
        for k, s in enumerate(m.states):
            if s.name in cm.output_names:
                continue  # an output that is this state itself (the only name allowed twice)
            data_vars[s.name] = (dims, st[:, k].reshape(shape),
                                 {"units": s.unit, "long_name": f"amount in {s.name}"})
    data = events if hasattr(events, "sha256") else None   # a NONMEM dataset: its file
    return xr.Dataset(data_vars, coords=coords, attrs={**provenance(m, data=data), **attrs})


def _raise_nonfinite(out: np.ndarray, names: tuple[str, ...], st: np.ndarray | None, p: Any,
                     cm: CompiledModel) -> None:
    """SolverError naming the subject, time and output (or state) of the first non-finite
    value of a run, in subject then time order (none if all are finite: a sum overflowed).

    Only :func:`simulate` checks: the estimation objective calls the engine itself and sees
    inf or NaN as a failed evaluation, which it must be able to reject."""
    n_t = len(p.out_times) if p.out_times is not None else None
    bad_out = np.flatnonzero(~np.isfinite(out).all(axis=1))
    bad_st = (np.flatnonzero(~np.isfinite(st).all(axis=1)) if st is not None
              else np.zeros(0, dtype=np.int64))
    if not (len(bad_out) or len(bad_st)):
        return
    row = int(min(bad_out[0] if len(bad_out) else out.shape[0],
                  bad_st[0] if len(bad_st) else out.shape[0]))
    if len(bad_out) and bad_out[0] == row:
        k = int(np.flatnonzero(~np.isfinite(out[row]))[0])
        kind, name, value = "output", names[k], float(out[row, k])
    else:
        assert st is not None
        k = int(np.flatnonzero(~np.isfinite(st[row]))[0])
        kind, name, value = "state", cm.state_names[k], float(st[row, k])
    if n_t is not None:
        per_subject = n_t * p.n_smp
        subject = p.ids[row // per_subject]
        time = float(p.out_times[row % n_t])
        sample = f" (sample {(row % per_subject) // n_t})" if p.streams is not None else ""
    else:
        table = p.table
        sel = np.flatnonzero(table.output)[row]
        subj = int(np.searchsorted(table.offsets, sel, side="right") - 1)
        subject, time, sample = p.ids[subj], float(table.time[sel]), ""
    n_bad = len(np.union1d(bad_out, bad_st))
    more = f"; not finite at {n_bad - 1} other (subject, time) points too" if n_bad > 1 else ""
    raise SolverError(
        f"subject {subject}{sample} at time {time:g}: {kind} '{name}' is {value} (not a "
        f"finite number: an overflow or a division by zero in the model's equations? check "
        f"the parameters and covariates of this subject{more})",
        subject=subject, time=time, state=name)
