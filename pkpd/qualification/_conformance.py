"""Conformance checks: pkpd against NONMEM 7.5 on the nmtests suites (shared data folder).

:func:`compare_nonmem` reads each input dataset of ``conformance/nmtests`` with
:func:`pkpd.read_nonmem`, simulates it with the bundled model ``one_cmt_oral_nm`` and compares
every record with NONMEM's own output: one row per scenario (29 dosing scenarios and the
time-varying covariate case). NONMEM prints 5 significant digits, so a record agrees when its
difference is at most ``max(1e-4 |NONMEM|, 1e-3)``. The same table feeds the qualification
checks (one per scenario) and ``validation/nonmem_conformance.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._registry import Check, Context, Measured, NotRun, register

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["ABS_TOL", "N_DOSING", "REL_TOL", "compare_nonmem"]

REL_TOL = 1e-4
ABS_TOL = 1e-3
N_DOSING = 29
MODEL = "one_cmt_oral_nm"
TV_LABEL = "time-varying covariate (WT on every record, NOCB)"
#: (input, NONMEM output, covariate columns) of each suite.
CASES = (("dosing_1001.csv", "dosing_1001-nm.csv", ("LAGT", "BIOAV", "RAT2", "DUR2")),
         ("tv_2001.csv", "tv_2001-nm.csv", ("WT", "LAGT", "BIOAV", "RAT2", "DUR2")))


def compare_nonmem(shared: str | Path, compiled: Any = None) -> pd.DataFrame:
    """pkpd against NONMEM's output, one row per scenario of the nmtests suites.

    Parameters
    ----------
    shared : path
        The shared data folder (holding ``conformance/nmtests``).
    compiled : CompiledModel, optional
        ``one_cmt_oral_nm`` compiled (compiled here if not given).

    Returns
    -------
    pandas.DataFrame
        Columns ``suite``, ``ID``, ``scenario``, ``records``, ``max_rel_diff`` (over records
        above ``ABS_TOL``), ``max_abs_diff``, ``figure`` (the largest difference divided by
        ``max(|NONMEM|, ABS_TOL / REL_TOL)``: at most ``REL_TOL`` when every record agrees)
        and ``pass``.

    Raises
    ------
    FileNotFoundError
        If a file of the suite is missing.
    """
    import pandas as pd

    from ..codegen import compile_model
    from ..io.nonmem import read_nonmem
    from ..library import load_model
    from ..simulation import simulate

    suite = Path(shared) / "conformance" / "nmtests"
    cm = compiled if compiled is not None else compile_model(load_model(MODEL))
    key = pd.read_csv(suite / "dosing_1001-run-key.csv").set_index("ID")["descr"]
    rows = []
    for data_file, ref_file, covs in CASES:
        data = read_nonmem(suite / data_file, model=cm.model, covariates=list(covs))
        ds = simulate(cm, data, rtol=1e-10, atol=1e-12)
        ref = pd.read_csv(suite / ref_file)
        ids = ds["id"].values
        for i in np.unique(ref.ID):
            mine = ds["CP"].values[ids == i]
            theirs = ref.CP.to_numpy()[ref.ID.to_numpy() == i]
            if mine.shape != theirs.shape:
                diff = np.full(max(len(theirs), 1), np.inf)
                scaled = diff
            else:
                diff = np.abs(mine - theirs)
                scaled = diff / np.maximum(np.abs(theirs), ABS_TOL / REL_TOL)
            big = np.abs(theirs) > ABS_TOL
            rel = diff[big] / np.abs(theirs[big]) if mine.shape == theirs.shape else diff
            label = key.get(i, "") if data_file.startswith("dosing") else TV_LABEL
            rows.append({"suite": data_file.removesuffix(".csv"), "ID": int(i),
                         "scenario": label, "records": len(theirs),
                         "max_rel_diff": float(rel.max(initial=0.0)),
                         "max_abs_diff": float(diff.max()),
                         "figure": float(scaled.max()),
                         "pass": bool(scaled.max() <= REL_TOL)})
    return pd.DataFrame(rows)


def _table(ctx: Context) -> pd.DataFrame:
    shared = ctx.shared("conformance", "nmtests")
    return ctx.memo("nmtests", lambda: compare_nonmem(shared.parents[1], ctx.compiled(MODEL)))


def _scenario(suite: str, scenario: int) -> Callable[[Context], Measured]:
    def run(ctx: Context) -> Measured:
        table = _table(ctx)
        row = table[(table["suite"] == suite) & (table["ID"] == scenario)]
        if row.empty:
            raise NotRun(f"{suite} has no scenario ID {scenario} in the data folder")
        r = row.iloc[0]
        return Measured(float(r["figure"]),
                        f"{r['scenario']}: {r['records']} records, largest relative difference "
                        f"{r['max_rel_diff']:.2e}, absolute {r['max_abs_diff']:.2e}")
    return run


_COMPARES = "one_cmt_oral_nm against NONMEM 7.5's output (nmtests), record by record: {}"
_FIGURE = "max |pkpd - NONMEM| / max(|NONMEM|, 10)"
for _i in range(1, N_DOSING + 1):
    register(Check(f"nmtests dosing {_i}", "conformance",
                   _COMPARES.format(f"dosing scenario {_i}"), _FIGURE, REL_TOL,
                   _scenario("dosing_1001", _i)))
register(Check("nmtests time-varying covariate", "conformance", _COMPARES.format(TV_LABEL),
               _FIGURE, REL_TOL, _scenario("tv_2001", 1)))
