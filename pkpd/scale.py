"""Scale out: one simulation chunked over subjects, lazily (dask) or streamed to zarr.

Each chunk of subjects is one call of :func:`pkpd.simulate` on that slice of the subject tables
(and, for a dataset, of its subjects' records). A subject's result does not depend on the chunk
it falls in, so a chunked run equals the in-process one bit for bit. The chunks run wherever dask
runs them: threads of this process, or the workers of a ``dask.distributed`` cluster (the
compiled model pickles as its model and a worker loads the kernels from the disk cache).

* :func:`simulate_chunked` returns the result as a dask-backed ``xarray.Dataset``: nothing is
  computed until asked for, and the task graph holds one simulation task per chunk with that
  chunk's slice of the tables, never the results.
* :func:`simulate_to_zarr` writes the result into a zarr store one chunk at a time, marking each
  finished chunk in the store, so that an interrupted run resumes where it stopped.

Sampled cohorts (``n=``, ``seed=``) chunk the same way: every draw (etas, occasion etas,
residual errors) comes from a random stream keyed by the seed, the source and the block of
1024 subjects the subject is in (:mod:`pkpd._sampling`), never from one sequential generator.
The seed is fixed once for the whole run, and each chunk gets the streams positioned at its
first subject (:meth:`pkpd._sampling.Streams.at`), so a subject draws the same numbers in any
chunk, whatever the chunk size (a multiple of the block or not), the order the chunks run in or
the number of threads: chunked equals unchunked bit for bit here too.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from ._plan import as_compiled, parse_times, table_columns
from ._provenance import data_record
from ._sampling import Streams
from .errors import DataError, PkpdError
from .simulation import simulate

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import xarray as xr

    from .codegen import CompiledModel
    from .events import EventTable
    from .model import Model

__all__ = ["simulate_chunked", "simulate_to_zarr"]

#: keyword arguments passed through to :func:`pkpd.simulate`
_OPTIONS = ("outputs", "states", "solver", "rtol", "atol", "max_steps", "auc", "n", "seed",
            "variability", "uncertainty", "occasions")
#: store attribute holding the fingerprint of the run that wrote it
_FINGERPRINT = "pkpd_run"
#: store variable marking each finished chunk (1 once the chunk's data is written)
_DONE, _CHUNK = "_chunk_done", "_chunk"



# -- the plan of a chunked run ---------------------------------------------------------------

def _slice_table(table: Any, a: int, b: int) -> Any:
    """Rows ``a:b`` of a subject table (a view where possible)."""
    import pandas as pd

    if table is None:
        return None
    if isinstance(table, pd.DataFrame):
        return table.iloc[a:b]
    return {k: np.atleast_1d(np.asarray(v))[a:b] for k, v in table.items()}


def _slice_events(table: EventTable, a: int, b: int) -> EventTable:
    """Subjects ``a:b`` of an event table (views of its arrays)."""
    r0, r1 = int(table.offsets[a]), int(table.offsets[b])
    per_subject = ("ids", "offsets", "cov_names", "cov_interp")
    records = {f.name: getattr(table, f.name)[r0:r1] for f in fields(table)
               if f.name not in per_subject}
    return replace(table, ids=table.ids[a:b], offsets=table.offsets[a:b + 1] - r0, **records)


def _digest(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        if isinstance(part, np.ndarray) and part.dtype.kind in "biufcmM":
            h.update(f"{part.dtype}{part.shape}".encode())
            h.update(np.ascontiguousarray(part).data)
        elif isinstance(part, np.ndarray):
            h.update(f"{part.dtype}{part.shape}".encode())
            h.update("\x1f".join(map(repr, part.tolist())).encode())
        else:
            h.update(repr(part).encode())
        h.update(b"\x1e")
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class _ChunkPlan:
    """Everything a chunked run needs, checked up front; the chunks are cut from it."""

    compiled: CompiledModel
    events: Any  # a regimen (text, Regimen, Dose) given to everyone, or an EventTable
    dataset: bool
    patients: Any
    params: Any
    n: int
    ids: np.ndarray
    times: np.ndarray
    chunks: int
    options: dict[str, Any]

    @cached_property
    def bounds(self) -> list[tuple[int, int]]:
        """First and last + 1 subject of each chunk."""
        return [(a, min(a + self.chunks, self.n)) for a in range(0, self.n, self.chunks)]

    def args(self, a: int, b: int) -> tuple[Any, Any, Any]:
        """The events, patients and params of subjects ``a:b``."""
        events = _slice_events(self.events, a, b) if self.dataset else self.events
        return events, _slice_table(self.patients, a, b), _slice_table(self.params, a, b)

    def chunk_options(self, a: int) -> dict[str, Any]:
        """The options of the chunk starting at subject ``a``: when sampling, the random
        streams positioned at its first subject (:meth:`pkpd._sampling.Streams.at`)."""
        if self.options.get("n") is None:
            return self.options
        return self.options | {"seed": self.options["seed"].at(a)}

    def where(self, k: int) -> str:
        a, b = self.bounds[k]
        return (f"subjects {a + 1}..{b} of {self.n} (chunk {k + 1} of {len(self.bounds)}; "
                f"rows and subjects in the message count from the chunk's first subject)")

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the run: equal fingerprints give equal results."""
        def table_digest(table: Any) -> str | None:
            if table is None:
                return None
            cols, _, ids = table_columns(table, "table")
            if ids is not None:
                cols["ID"] = ids
            return _digest(*[x for name in sorted(cols) for x in (name, cols[name])])

        if self.dataset:
            ev = self.events
            events = _digest(ev.cov_names, ev.cov_interp,
                             *[getattr(ev, f.name) for f in fields(ev)
                               if f.name not in ("cov_names", "cov_interp")])
        else:
            events = _digest(type(self.events).__name__, self.events)
        return {
            "model": self.compiled.model.name,
            "model_hash": self.compiled.model.hash,
            "pkpd_version": __version__,
            "n_subjects": self.n,
            "chunks": self.chunks,
            "times": _digest(self.times),
            "ids": _digest(self.ids),
            "events": events,
            "patients": table_digest(self.patients),
            "params": table_digest(self.params),
            "options": json.dumps(self.options, sort_keys=True, default=repr),
        }


def _chunk_plan(model: Any, events: Any, patients: Any, params: Any, times: Any, chunks: Any,
                options: dict[str, Any]) -> _ChunkPlan:
    from .events import EventTable
    from .io.nonmem import NonmemData

    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {', '.join(unknown)}; the simulation "
                        f"options are {', '.join(_OPTIONS)}")
    if isinstance(chunks, bool) or not isinstance(chunks, int | np.integer) or chunks < 1:
        raise DataError(f"chunks: expected a positive whole number of subjects per chunk, "
                        f"got {chunks!r}")
    cm = as_compiled(model)
    if isinstance(events, NonmemData):
        events = events.events
    dataset = isinstance(events, EventTable)
    if dataset:
        events.check(cm.model)

    n, ids = None, None
    for what, table in (("params", params), ("patients", patients)):
        if table is not None:
            _, rows, tab_ids = table_columns(table, what)
            if n is not None and rows != n:
                raise DataError(f"params has {n} rows but patients has {rows}")
            n, ids = rows, (tab_ids if tab_ids is not None else ids)
    if dataset:
        if n is not None and n != events.n_subjects:
            raise DataError(f"the dataset has {events.n_subjects} subjects but params/patients "
                            f"have {n} rows")
        n, ids = events.n_subjects, np.asarray(events.ids)
    n = 1 if n is None else n
    if n == 0:
        raise DataError("params/patients: no subjects (the tables have no rows)")
    ids = np.arange(1, n + 1) if ids is None else np.asarray(ids)
    options = dict(options)
    if options.get("n") is not None:
        # one root for all chunks, fixed now (a Generator or None is drawn from once)
        options["seed"] = Streams.of(options.get("seed"))
    return _ChunkPlan(compiled=cm, events=events, dataset=dataset, patients=patients,
                      params=params, n=n, ids=ids, times=parse_times(times, cm.model.time_unit),
                      chunks=int(chunks), options=options)


def _template(plan: _ChunkPlan) -> xr.Dataset:
    """Simulate the first subject: checks the inputs (columns, units, options) at call time and
    gives the variables, their attributes and dtypes."""
    events, patients, params = plan.args(0, 1)
    ds = simulate(plan.compiled, events, patients, params=params, times=plan.times,
                  **plan.chunk_options(0))
    # a property of all subjects that is not known before they run
    ds.attrs.pop("steady_state_max_residual", None)
    return ds


def _with_data_record(template: xr.Dataset, events: Any) -> xr.Dataset:
    """The template's attrs with the dataset's file and sha256 (the template simulates a slice
    of the dataset's records, which no longer knows its file)."""
    if getattr(events, "sha256", None) is not None:
        template.attrs.update(data_record(events))
    return template


def _run_chunk(compiled: CompiledModel, events: Any, patients: Any, params: Any,
               times: np.ndarray, options: dict[str, Any], names: list[str],
               where: str) -> tuple[np.ndarray, ...]:
    """Simulate one chunk; the arrays of the variables ``names``."""
    try:
        ds = simulate(compiled, events, patients, params=params, times=times, **options)
    except PkpdError as exc:
        exc.add_note(f"while simulating {where}")
        raise
    return tuple(ds[v].values for v in names)


def _lazy(plan: _ChunkPlan, template: xr.Dataset, token: str) -> xr.Dataset:
    import dask
    import dask.array as da
    import xarray as xr

    names = list(template.data_vars)
    parts: dict[str, list[Any]] = {v: [] for v in names}
    for k, (a, b) in enumerate(plan.bounds):
        task = dask.delayed(_run_chunk, pure=True, nout=len(names))(
            plan.compiled, *plan.args(a, b), plan.times, plan.chunk_options(a), names,
            plan.where(k), dask_key_name=f"pkpd-simulate-{token}-{k}")
        for j, v in enumerate(names):
            var = template[v]
            parts[v].append(da.from_delayed(task[j], shape=(b - a, *var.shape[1:]),
                                            dtype=var.dtype, meta=np.empty((0,) * var.ndim,
                                                                           var.dtype)))
    data_vars = {v: (template[v].dims, da.concatenate(parts[v], axis=0), template[v].attrs)
                 for v in names}
    # "id" for all subjects; "time" (and "sample" when sampling) as in the template
    coords: dict[str, Any] = {c: template[c] for c in template.coords if c != "id"}
    coords["id"] = ("id", plan.ids, template["id"].attrs)
    return xr.Dataset(data_vars, coords=coords, attrs=dict(template.attrs))


def simulate_chunked(
    model: Model | CompiledModel | str,
    events: Any,
    patients: pd.DataFrame | Mapping[str, Any] | None = None,
    *,
    params: pd.DataFrame | Mapping[str, Any] | None = None,
    times: Any,
    chunks: int,
    **kwargs: Any,
) -> xr.Dataset:
    """:func:`pkpd.simulate`, chunked over subjects into a lazy, dask-backed Dataset.

    Parameters
    ----------
    model, events, patients, params, times
        As for :func:`pkpd.simulate` (``times`` is required).
    chunks : int
        Subjects per chunk. Each chunk is one task calling :func:`pkpd.simulate` on its
        subjects; all times of a subject are in one chunk.
    **kwargs
        ``outputs``, ``states``, ``solver``, ``rtol``, ``atol``, ``max_steps``, ``auc``,
        ``occasions`` and the sampling options ``n``, ``seed``, ``variability`` and
        ``uncertainty`` of :func:`pkpd.simulate`. With ``n`` the variables have dims ``(id,
        sample, time)``, chunked over ``id`` only, and each subject's draws depend only on the
        seed and its index in the cohort (see :func:`pkpd.simulate`): the same seed gives the
        same cohort for any ``chunks``. A Generator (or None) as ``seed`` is drawn from once,
        at call time, for all chunks.

    Returns
    -------
    xarray.Dataset
        The variables, coordinates and attributes of :func:`pkpd.simulate`, with dask arrays
        chunked ``(chunks, all times)``; computing it gives, subject for subject, the numbers
        of the in-process simulation bit for bit. Runs on the active dask scheduler (a
        ``dask.distributed`` Client if one is active). The attribute
        ``steady_state_max_residual``, which depends on every subject, is not set.

    Raises
    ------
    ModelError, RegimenError, DataError, UnitError
        At call time: an invalid model, options, times or table columns, and table sizes that
        do not agree (the first subject is simulated to check the inputs). A bad value in a
        later row raises when its chunk is computed, with a note naming the chunk.

    Examples
    --------
    >>> import numpy as np, pkpd
    >>> eta = {"eta_CL": np.random.default_rng(1).normal(0, 0.3, 1_000)}
    >>> ds = simulate_chunked("two_cmt_oral", "500 mg PO q12h x 14", params=eta,
    ...                       times="0..168 h by 1 h", chunks=500)
    >>> ds["CP"].chunks                    # nothing is simulated until a value is asked for
    ((500, 500), (169,))
    >>> mean = ds["CP"].mean("id").compute()

    A virtual cohort of 100 000 patients with IIV and residual error drawn chunk by chunk
    (not run in the test suite: far too many subjects for an example there):

    >>> adults = pkpd.Population.virtual("adult").sample(100_000, seed=1)  # doctest: +SKIP
    >>> ds = simulate_chunked("two_cmt_oral", "500 mg PO q12h x 14", adults, n=1, seed=1,
    ...                       times="0..168 h by 1 h", chunks=20_000)  # doctest: +SKIP
    """
    plan = _chunk_plan(model, events, patients, params, times, chunks, kwargs)
    template = _with_data_record(_template(plan), events)
    return _lazy(plan, template, _digest(plan.fingerprint()))


# -- streaming to zarr ------------------------------------------------------------------------

def _open(path: Path) -> xr.Dataset:
    import xarray as xr

    return xr.open_zarr(path, consolidated=False, decode_times=False, decode_timedelta=False)


def _stored_fingerprint(path: Path) -> dict[str, Any] | None:
    """The fingerprint of an existing store, None if ``path`` is empty; DataError if it is
    something else than a store written by :func:`simulate_to_zarr`."""
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return None
    try:
        text = _open(path).attrs[_FINGERPRINT]
        return dict(json.loads(text))
    except Exception:
        raise DataError(f"{path}: exists but is not a store written by simulate_to_zarr; "
                        "give a new or empty path") from None


def _write_chunk(path: str, k: int, a: int, b: int, compiled: CompiledModel, events: Any,
                 patients: Any, params: Any, times: np.ndarray, options: dict[str, Any],
                 names: list[str], dims: list[tuple[str, ...]], where: str) -> int:
    """Simulate chunk ``k`` (subjects ``a:b``), write it into its region, then mark it done."""
    import xarray as xr

    arrays = _run_chunk(compiled, events, patients, params, times, options, names, where)
    data = xr.Dataset({v: (d, x) for v, d, x in zip(names, dims, arrays, strict=True)})
    data.to_zarr(path, mode="r+", region={"id": slice(a, b)}, consolidated=False)
    done = xr.Dataset({_DONE: ((_CHUNK,), np.ones(1, np.int8))})
    done.to_zarr(path, mode="r+", region={_CHUNK: slice(k, k + 1)}, consolidated=False)
    return k


def _parallel_slots() -> int | None:
    """Worker threads of the active ``dask.distributed`` Client, None without one."""
    try:
        from distributed import get_client

        return max(1, sum(get_client().nthreads().values()))
    except (ImportError, ValueError):
        return None


def simulate_to_zarr(
    path: str | os.PathLike[str],
    model: Model | CompiledModel | str,
    events: Any,
    patients: pd.DataFrame | Mapping[str, Any] | None = None,
    *,
    params: pd.DataFrame | Mapping[str, Any] | None = None,
    times: Any,
    chunks: int,
    resume: bool = True,
    overwrite: bool = False,
    **kwargs: Any,
) -> xr.Dataset:
    """Simulate chunk by chunk into a zarr store, resuming an interrupted run.

    The store's layout (variables, coordinates, attributes, zarr chunks of ``chunks`` subjects)
    is written first; then each chunk is simulated, written into its region and only then
    marked done in the store (variable ``_chunk_done``). With a ``dask.distributed`` Client
    active, as many chunks as the cluster has threads run at a time on its workers (which
    write into the store, so ``path`` must be reachable from them); without one, the chunks
    run one after another in this process. Either way at most a few chunks are in memory.

    Parameters
    ----------
    path : str or os.PathLike
        A local folder (created, or an existing store of this function).
    model, events, patients, params, times, chunks, **kwargs
        As for :func:`simulate_chunked`.
    resume : bool
        If the store exists, compute only its missing chunks, after checking that it belongs
        to the same run: the fingerprint stored in its attribute ``pkpd_run`` (model and its
        hash, package version, number of subjects and their ids, chunk size, a hash of the
        times, of the events and of each subject table, and the options, the seed's root
        entropy included) must match. To resume a sampled run give the same ``seed``: an int,
        a SeedSequence or a Generator in the same state (``seed=None`` draws fresh entropy, so
        such a run cannot be resumed).
    overwrite : bool
        Replace an existing store of this function (takes precedence over ``resume``).

    Returns
    -------
    xarray.Dataset
        The store opened lazily, as :func:`simulate_chunked` would return it.

    Raises
    ------
    DataError
        If the store exists and ``resume`` is false (without ``overwrite``), if it was written
        by a different run (naming what differs), or if ``path`` holds something else.
    ModelError, RegimenError, UnitError, SolverError
        As :func:`pkpd.simulate`; a failed chunk leaves the finished ones in place.

    Examples
    --------
    Four subjects in two chunks, written to a store in the current folder; a second call finds
    every chunk done and only opens the store. The values are those of :func:`pkpd.simulate`:

    >>> import numpy as np, pkpd
    >>> etas = {"eta_CL": [0.0, 0.1, -0.1, 0.2]}
    >>> ds = pkpd.simulate_to_zarr("run.zarr", "one_cmt", "100 mg PO", params=etas,
    ...                            times="0..24 h by 6 h", chunks=2)
    >>> ds["CP"].shape, ds["CP"].chunks
    ((4, 5), ((2, 2), (5,)))
    >>> again = pkpd.simulate_to_zarr("run.zarr", "one_cmt", "100 mg PO", params=etas,
    ...                               times="0..24 h by 6 h", chunks=2)
    >>> direct = pkpd.simulate("one_cmt", "100 mg PO", params=etas, times="0..24 h by 6 h")
    >>> bool(np.array_equal(again["CP"].values, direct["CP"].values))
    True
    """
    import dask

    path = Path(path)
    plan = _chunk_plan(model, events, patients, params, times, chunks, kwargs)
    fingerprint = plan.fingerprint()
    stored = _stored_fingerprint(path)
    if stored is not None and not overwrite:
        if not resume:
            raise DataError(f"{path}: a store exists already; pass resume=True to complete it "
                            "or overwrite=True to replace it")
        differ = [f"{key} (store {stored.get(key)!r}, this run {fingerprint.get(key)!r})"
                  for key in sorted(set(stored) | set(fingerprint))
                  if stored.get(key) != fingerprint.get(key)]
        if differ:
            raise DataError(f"{path}: the store was written by a different run and cannot be "
                            f"resumed; differs in: {'; '.join(differ)}. Use another path or "
                            "overwrite=True")
    if stored is None or overwrite:
        template = _with_data_record(_template(plan), events)
        layout = _lazy(plan, template, _digest(fingerprint))
        layout[_DONE] = ((_CHUNK,), np.zeros(len(plan.bounds), np.int8))
        layout.attrs[_FINGERPRINT] = json.dumps(fingerprint, sort_keys=True)
        layout.to_zarr(path, mode="w", compute=False, consolidated=False,
                       encoding={_DONE: {"chunks": (1,)}})

    store = _open(path)
    names = [v for v in store.data_vars if v != _DONE]
    dims = [store[v].dims for v in names]
    todo = np.flatnonzero(store[_DONE].values == 0).tolist()
    slots = _parallel_slots()
    token = _digest(fingerprint)
    for i in range(0, len(todo), slots or 1):
        tasks = [dask.delayed(_write_chunk, pure=False)(
            str(path), k, *plan.bounds[k], plan.compiled, *plan.args(*plan.bounds[k]),
            plan.times, plan.chunk_options(plan.bounds[k][0]), names, dims, plan.where(k),
            dask_key_name=f"pkpd-zarr-{token}-{k}") for k in todo[i:i + (slots or 1)]]
        dask.compute(*tasks, scheduler=None if slots else "synchronous")

    out = _open(path).drop_vars(_DONE)
    out.attrs.pop(_FINGERPRINT, None)
    return out
