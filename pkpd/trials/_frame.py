"""A table of published summaries (one row per published value) to typed arms and rows
(internal)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from ._spec import PublishedSummary, TrialArm, is_missing

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["FRAME_COLUMNS", "summaries_from_frame"]

#: Columns of a summary table (``value`` may also be text with a unit).
FRAME_COLUMNS: dict[str, str] = {
    "group": "arm name (required)",
    "regimen": "regimen text (required; the same on every row of a group)",
    "n": "subjects per trial in the group (required; a row's own n may be smaller)",
    "statistic": "see STATISTICS (required)",
    "value": "published value (required)",
    "unit": "unit of value",
    "output": "model output (default: the first)",
    "time": "nominal time (e.g. '2 h' or a number in the model time unit)",
    "metric": "cmax, cmin, tmax, trough, auc, cavg",
    "start": "window start", "end": "window end",
    "after": "first dose (default), last dose, end of last infusion",
    "threshold": "level of a fraction above / below",
    "label": "row name",
}


def summaries_from_frame(frame: pd.DataFrame, *, population: Any = None
                         ) -> tuple[tuple[TrialArm, ...], tuple[PublishedSummary, ...]]:
    """Read a table of published summaries, one row per published value.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns (case-insensitive) as in :data:`FRAME_COLUMNS`: ``group``, ``regimen``,
        ``n``, ``statistic``, ``value`` are required; ``unit``, ``output``, ``time``,
        ``metric``, ``start``, ``end``, ``after``, ``threshold``, ``label`` optional (empty
        cells mean "not given").
    population : Population, Patient, mapping or DataFrame, or a dict of them by group
        The subjects (see :class:`TrialArm`); a dict keyed by every group name gives each
        group its own.

    Returns
    -------
    (tuple of TrialArm, tuple of PublishedSummary)
        One arm per group (``n`` the largest of the group's rows), one summary per row.

    Raises
    ------
    DataError
        Missing columns, unknown columns, or a group whose rows disagree on the regimen (the
        message names the row, counted from 1).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"group": ["A"], "regimen": ["1 g IV over 1 h"], "n": [10],
    ...                    "statistic": ["mean"], "value": [20.0], "unit": ["mg/L"],
    ...                    "time": ["2 h"]})
    >>> arms, rows = summaries_from_frame(df)
    >>> arms[0].name, rows[0].time
    ('A', '2 h')
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"summaries: expected a pandas DataFrame, got {type(frame).__name__}")
    cols = {str(c).strip().lower(): c for c in frame.columns}
    unknown = [str(c) for k, c in cols.items() if k not in FRAME_COLUMNS]
    if unknown:
        raise DataError(f"summaries: unknown column(s) {', '.join(map(repr, unknown))}; valid: "
                        f"{', '.join(FRAME_COLUMNS)}")
    missing = [k for k in ("group", "regimen", "n", "statistic", "value") if k not in cols]
    if missing:
        raise DataError(f"summaries: missing column(s) {', '.join(missing)}; a table needs "
                        "group, regimen, n, statistic and value")
    records = frame.rename(columns={c: k for k, c in cols.items()}).to_dict("records")
    groups: dict[str, tuple[str, int, int]] = {}
    rows = []
    for i, rec in enumerate(records, start=1):
        rec = {k: (None if is_missing(v) else v) for k, v in rec.items()}
        group = rec["group"]
        if group is None:
            raise DataError(f"summaries row {i}: the group is missing")
        group = str(group)
        try:
            n = int(rec["n"])
            if n != rec["n"]:
                raise ValueError
        except (TypeError, ValueError):
            raise DataError(f"summaries row {i}: n = {rec['n']!r} is not a whole number of "
                            "subjects") from None
        regimen = rec["regimen"]
        if group in groups and groups[group][0] != regimen:
            raise DataError(f"summaries row {i}: group {group!r} has regimen {regimen!r} here "
                            f"but {groups[group][0]!r} in row {groups[group][2]}")
        prev = groups.get(group)
        groups[group] = (regimen, max(n, prev[1]) if prev else n, prev[2] if prev else i)
        rows.append(PublishedSummary(
            group=group, statistic=rec["statistic"], value=rec["value"], unit=rec.get("unit"),
            output=rec.get("output"), time=rec.get("time"), metric=rec.get("metric"),
            start=rec.get("start"), end=rec.get("end"), after=rec.get("after") or "first dose",
            n=n, threshold=rec.get("threshold"), label=rec.get("label")))
    if isinstance(population, Mapping) and population and set(population) == set(groups):
        pops = dict(population)
    else:
        pops = {g: population for g in groups}
    arms = tuple(TrialArm(g, r, n, pops[g]) for g, (r, n, _) in groups.items())
    return arms, tuple(rows)
