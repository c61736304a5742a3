"""Small simulated NONMEM-format datasets for examples and tests.

Examples
--------
>>> from pkpd.testing.datasets import simulated_oral
>>> frame = simulated_oral()
>>> frame.shape, list(frame.columns)
((80, 6), ['ID', 'TIME', 'AMT', 'EVID', 'CMT', 'DV'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["simulated_oral"]


def simulated_oral(model: str = "theophylline_1cmt", dose: float = 320.0,
                   times: Sequence[float] = (0.5, 1, 2, 4, 8, 12, 24), n: int = 10,
                   seed: int = 1, covariates: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Subjects simulated from ``model`` (between-subject variability and residual error,
    output ``CP_obs``), one oral dose of ``dose`` mg each into CMT 1, observed in CMT 2, as a
    NONMEM-format table: per subject a dose record at time 0 (DV 0) and one observation per
    time of ``times``.

    Parameters
    ----------
    covariates : mapping, optional
        Extra columns, one value per subject (repeated on each of its records).
    """
    import pandas as pd

    import pkpd

    t = [float(x) for x in times]
    k = len(t) + 1
    cp = pkpd.simulate(model, f"{dose:g} mg PO", times=t, n=n, seed=seed)["CP_obs"]
    frame = pd.DataFrame({
        "ID": np.repeat(np.arange(1, n + 1), k), "TIME": np.tile([0, *t], n),
        "AMT": np.tile([dose] + [0] * len(t), n), "EVID": np.tile([1] + [0] * len(t), n),
        "CMT": np.tile([1] + [2] * len(t), n)})
    for name, values in (covariates or {}).items():
        frame[name] = np.repeat(np.asarray(values), k)
    frame["DV"] = np.column_stack([np.zeros(n), cp[0].values]).ravel()
    return frame
