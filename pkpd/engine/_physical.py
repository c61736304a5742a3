"""Physical signs of the individual parameters before a simulation: volumes positive,
clearances not negative.

A covariate equation such as ``CL = TVCL * (1 + THETA * (WT - 70))`` turns negative for a
light enough subject. The integrators do not mind: a negative clearance makes the amounts
grow, and a negative volume with a negative clearance gives a positive rate constant and
negative concentrations, all finite. :func:`check_signs` evaluates the model's parameters for
every subject (at each record's covariates and occasion) and names the first one out of
sign. The parameters checked are the derived parameters, and the model parameters the equations
use directly, whose unit is a volume (``L``, ``mL``, ...; must be > 0) or a volume per time (a
clearance or flow; must be >= 0); NaN fails both. :func:`pkpd.simulate` calls it; the
estimation objective, which calls the engine itself, does not.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numba as nb
import numpy as np
from numba import types

from .._abi import KERNEL_TYPE, ptr
from ..errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from ..codegen import CompiledModel

__all__ = ["check_signs", "signed_parameters"]

#: model hash -> (q slots, names, units, strictly positive)
_SIGNED: dict[str, tuple[np.ndarray, tuple[str, ...], tuple[str, ...], np.ndarray]] = {}


def signed_parameters(compiled: CompiledModel
                      ) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...], np.ndarray]:
    """The q slots, names and units of the volumes and clearances of a model, and whether
    each must be strictly positive (volumes) or only not negative (clearances, flows)."""
    model = compiled.model
    found = _SIGNED.get(model.hash)
    if found is not None:
        return found
    from ..units import parse_unit

    volume = parse_unit("L").dimensionality
    flow = parse_unit("L/h").dimensionality
    # model parameters only where the equations use them as they are: a parameter used only
    # in a derived equation may be a shift of either sign (CL = TVCL + DCL * SEX)
    used = set()
    for expr in (*model.odes, *(o.expr for o in model.outputs)):
        used |= {str(x) for x in expr.free_symbols}
    slots, names, units, strict = [], [], [], []
    for item in (*(p for p in model.parameters if p.name in used), *model.derived):
        try:
            dim = parse_unit(item.unit).dimensionality
        except Exception:   # a unit pint cannot read is no volume
            continue
        if dim in (volume, flow):
            slots.append(compiled.layout.index(item.name))
            names.append(item.name)
            units.append(item.unit)
            strict.append(dim == volume)
    found = (np.array(slots, dtype=np.int64), tuple(names), tuple(units),
             np.array(strict, dtype=np.bool_))
    _SIGNED[model.hash] = found
    return found


def _first_out_of_sign(derive, q, n_state, cov_slot, cov, time, subj_lo, subj_hi,
                       occasion, bov_slot, bov_values, n_occ, slots,
                       strict):  # pragma: no cover - compiled
    """(subject, record, index into slots, value) of the first parameter out of sign, or
    subject -1."""
    y = np.zeros(max(n_state, 1))
    qs = np.empty(q.shape[1])
    n_cov = cov_slot.shape[0]
    n_bov = bov_slot.shape[0]
    for s in range(q.shape[0]):
        lo = subj_lo[s]
        hi = subj_hi[s]
        for j in range(q.shape[1]):
            qs[j] = q[s, j]
        # parameters change only with the covariates or the occasion: without either, the
        # first record stands for all
        last = hi if (n_cov > 0 or n_bov > 0) else min(hi, lo + 1)
        for r in range(lo, last):
            for j in range(n_cov):
                qs[cov_slot[j]] = cov[r, j]
            if n_bov > 0:
                row = s * n_occ + occasion[r]
                for j in range(n_bov):
                    qs[bov_slot[j]] = bov_values[row, j]
            derive(time[r], ptr(y), ptr(qs), ptr(qs))
            for k in range(slots.shape[0]):
                v = qs[slots[k]]
                if v != v or v < 0.0 or (strict[k] and v == 0.0):
                    return float(s), float(r), float(k), v
    return -1.0, -1.0, -1.0, 0.0


@functools.cache
def _compiled() -> Any:
    """:func:`_first_out_of_sign` compiled on first use (from numba's disk cache when there),
    so that importing the engine compiles nothing."""
    signature = types.UniTuple(types.float64, 4)(
        KERNEL_TYPE, types.float64[:, ::1], types.int64, types.int64[::1],
        types.float64[:, ::1], types.float64[::1], types.int64[::1], types.int64[::1],
        types.int64[::1], types.int64[::1], types.float64[:, ::1], types.int64,
        types.int64[::1], types.boolean[::1])
    return nb.njit(signature, cache=True, nogil=True)(_first_out_of_sign)


def check_signs(compiled: CompiledModel, prep: object, q: np.ndarray, cov_slot: np.ndarray,
                *, ids: np.ndarray, cov_names: tuple[str, ...] = (),
                occasion: np.ndarray | None = None, bov_slot: np.ndarray | None = None,
                bov_values: np.ndarray | None = None) -> None:
    """Raise DataError if a volume of a subject is not positive or a clearance negative.

    ``prep`` is the :class:`pkpd.engine.Prepared` of the run and ``q`` its parameter matrix
    (one row per subject run); ``cov_names`` name the columns of ``prep.cov`` in the message.

    Raises
    ------
    DataError
        Naming the subject, the parameter, its value and equation, the time and the
        covariates of the record.
    """
    slots, names, units, strict = signed_parameters(compiled)
    if len(slots) == 0 or q.shape[0] == 0:
        return
    if bov_slot is None or len(bov_slot) == 0:
        occasion = np.zeros(len(prep.time), dtype=np.int64)  # type: ignore[attr-defined]
        bov_slot = np.zeros(0, dtype=np.int64)
        bov_values = np.zeros((q.shape[0], 0))
    assert bov_values is not None and occasion is not None
    n_occ = max(1, len(bov_values) // max(q.shape[0], 1))
    s, r, k, value = _compiled()(
        compiled.derive, np.ascontiguousarray(q, dtype=float), compiled.n_state,
        np.ascontiguousarray(cov_slot, dtype=np.int64),
        np.ascontiguousarray(prep.cov, dtype=float),  # type: ignore[attr-defined]
        np.ascontiguousarray(prep.time, dtype=float),  # type: ignore[attr-defined]
        np.ascontiguousarray(prep.subj_lo, dtype=np.int64),  # type: ignore[attr-defined]
        np.ascontiguousarray(prep.subj_hi, dtype=np.int64),  # type: ignore[attr-defined]
        np.ascontiguousarray(occasion, dtype=np.int64),
        np.ascontiguousarray(bov_slot, dtype=np.int64),
        np.ascontiguousarray(bov_values, dtype=float), n_occ, slots, strict)
    if s < 0:
        return
    s, r, k = int(s), int(r), int(k)
    name = names[k]
    kind = "volume" if strict[k] else "clearance"
    rule = "must be positive" if strict[k] else "must not be negative"
    model = compiled.model
    eq = next((f"; {name} = {d.expr}" for d in model.derived if d.name == name), "")
    covs = ", ".join(f"{c} = {v:g}" for c, v in zip(
        cov_names, prep.cov[r], strict=False))  # type: ignore[attr-defined]
    given = f" (record covariates {covs})" if covs else ""
    raise DataError(
        f"subject {ids[s]}: {kind} {name} = {value:g} {units[k]} at time "
        f"{float(prep.time[r]):g}{given}: a {kind} {rule}{eq}; "  # type: ignore[attr-defined]
        f"check the covariates and parameters of this subject")
