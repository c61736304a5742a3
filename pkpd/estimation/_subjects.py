"""Individual fits of each subject of a dataset (:func:`fit_subjects`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EstimationError
from ._individual import fit_individual
from ._results import SubjectFits

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..codegen import CompiledModel
    from ..io.nonmem import NonmemData
    from ..model import Model

__all__ = ["fit_subjects"]


def fit_subjects(model: Model | CompiledModel | str, data: NonmemData | pd.DataFrame | str,
                 *, check: bool = True, **options: Any) -> SubjectFits:
    """Fit every subject of a dataset with :func:`fit_individual` (same ``options``).

    Parameters
    ----------
    model : Model, CompiledModel or str
    data : NonmemData, pandas.DataFrame or path
        A NONMEM-format dataset with any number of subjects.
    check : bool
        Raise at the first subject that fails (default); with False, record the error or the
        unconverged result and go on.
    **options
        Passed to :func:`fit_individual` (``method``, ``outputs``, ``lloq``, ``estimate``,
        ``params``, ``gradient``; not ``patient``: covariates come from the dataset).

    Returns
    -------
    SubjectFits

    Examples
    --------
    Ten subjects simulated from ``theophylline_1cmt`` (between-subject variability and
    residual error), one 320 mg oral dose each, as a NONMEM-format table:

    >>> import pkpd
    >>> from pkpd.testing.datasets import simulated_oral
    >>> frame = simulated_oral("theophylline_1cmt", 320, times=[0.5, 1, 2, 4, 8, 12, 24])
    >>> fits = pkpd.fit_subjects("theophylline_1cmt", frame)
    >>> fits.table[["ID", "success", "n_obs"]].head(3).to_dict("list")
    {'ID': [1, 2, 3], 'success': [True, True, True], 'n_obs': [7, 7, 7]}
    """
    import os

    import pandas as pd

    from .._plan import as_compiled
    from ..errors import PkpdError
    from ..io.nonmem import read_nonmem

    if "patient" in options or "levels" in options:
        raise EstimationError("fit_subjects: covariates and levels come from the dataset; "
                              "patient= and levels= are for fit_individual")
    cm = as_compiled(model)
    if isinstance(data, pd.DataFrame | str | os.PathLike):
        data = read_nonmem(data, model=cm.model)
    results: dict[Any, Any] = {}
    rows = []
    for ident in data.ids:
        try:
            fit = fit_individual(cm, data.subject(ident), check=check, **options)
        except PkpdError as exc:
            if check:
                raise EstimationError(f"subject {ident}: {exc}") from exc
            results[ident] = exc
            rows.append({"ID": ident, "success": False})
            continue
        results[ident] = fit
        row: dict[str, Any] = {"ID": ident, "success": fit.success, "ofv": fit.ofv,
                               "n_obs": len(fit.predictions)}
        row.update(fit.etas)
        row.update({f"se_{e}": v for e, v in fit.se.items()})
        row.update(fit.individual)
        rows.append(row)
    table = pd.DataFrame(rows)
    m = cm.model
    shrinkage: dict[str, float] = {}
    for i, e in enumerate(m.etas):
        if e not in table:
            continue
        ok = table["success"].astype(bool)
        sd = float(table.loc[ok, e].std(ddof=1)) if ok.sum() > 1 else float("nan")
        omega = float(m.omega[i, i]) if m.omega is not None else float("nan")
        map_fit = options.get("method", "map") == "map"
        shrinkage[e] = 1.0 - sd / np.sqrt(omega) if map_fit and omega > 0 else float("nan")
    settings = {k: options.get(k) for k in ("outputs", "lloq", "params")}
    return SubjectFits(results, table, shrinkage, data=data, settings=settings)
