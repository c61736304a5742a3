"""Population data assembly: every subject of a NONMEM dataset read once, their observations
with error models and censoring in one set of arrays, and the records flagged for output."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EstimationError
from ._data import Observations, fixed_values, observations

if TYPE_CHECKING:  # pragma: no cover
    from ..codegen import CompiledModel
    from ..events import EventTable
    from ..io.nonmem import NonmemData

__all__ = ["PopulationData", "population_data"]


@dataclass(frozen=True)
class PopulationData:
    """The subjects of a dataset, ready for population estimation.

    Attributes
    ----------
    data : NonmemData
        The dataset (subjects without observations are simulated but add nothing).
    obs : Observations
        Every observation of every subject, subject by subject.
    table : EventTable
        The records, ``output`` True on the observation records.
    ids : numpy.ndarray
        The subjects fitted (those with observations).
    starts : numpy.ndarray
        Subject ``i``'s observations are ``obs`` rows ``starts[i]:starts[i + 1]``.
    rows : numpy.ndarray
        Subject ``i``'s position among the subjects of ``table``.
    fixed : dict
        Values given in ``params=`` (model units).
    dropped : tuple
        Subjects without observations (they add nothing to the likelihood).
    """

    data: NonmemData
    obs: Observations
    table: EventTable
    ids: np.ndarray
    starts: np.ndarray
    rows: np.ndarray
    fixed: dict[str, float]
    dropped: tuple[Any, ...]

    @property
    def n_subjects(self) -> int:
        return len(self.ids)

    @property
    def n_obs(self) -> int:
        return len(self.obs.dv)

    def per_subject(self, values: np.ndarray, axis: int = -1) -> np.ndarray:
        """Sums of ``values`` over each subject's observations (along ``axis``)."""
        return np.add.reduceat(values, self.starts[:-1], axis=axis)


def population_data(cm: CompiledModel, data: Any, *, outputs: Mapping[Any, str] | None,
                    lloq: float | str | None, params: Mapping[str, Any] | None,
                    minimum: int = 2) -> PopulationData:
    """Read and check a dataset for :func:`pkpd.fit_population` (which needs ``minimum``
    subjects with observations; diagnostics of one subject need one)."""
    import os

    import pandas as pd

    from ..io.nonmem import NonmemData, read_nonmem

    if isinstance(data, pd.DataFrame | str | os.PathLike):
        data = read_nonmem(data, model=cm.model)
    if not isinstance(data, NonmemData):
        raise EstimationError(f"data: expected a NonmemData (pkpd.read_nonmem), a DataFrame or "
                              f"a file in NONMEM format, got {type(data).__name__}")
    with_obs = set(data.observations["ID"].tolist())
    dropped = tuple(i for i in data.ids if i not in with_obs)
    if len(data.ids) - len(dropped) < minimum:
        raise EstimationError(f"data: {len(data.ids) - len(dropped)} subject(s) with "
                              "observations; population estimation needs several (fit one "
                              "subject with fit_individual)" if minimum > 1 else
                              "data: no subject has observations")
    obs = observations(cm, data, outputs, lloq)
    given, _ = fixed_values(cm, data, params, None)
    ids = obs.frame["ID"].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    fitted = ids[starts]
    if len(set(fitted.tolist())) != len(fitted):
        raise EstimationError("data: the observations of a subject are not contiguous; sort "
                              "the dataset by ID and TIME")
    order = {v: k for k, v in enumerate(data.ids.tolist())}
    rows = np.array([order[i] for i in fitted.tolist()], dtype=np.int64)
    rec = np.isin(data.frame["ROW"].to_numpy(), data.observations["ROW"].to_numpy())
    table = replace(data.events, output=rec)
    return PopulationData(data, obs, table, fitted, np.append(starts, len(ids)), rows,
                          given, dropped)

