"""The cells of a NONMEM-format table before they mean anything: the raw text of each cell
with its row number in the file (comment lines and blank lines dropped, the header checked),
numbers parsed with NONMEM's missing-value marks, and the list of problems that ends in one
:class:`~pkpd.errors.DataError` naming every row. Internal to :mod:`pkpd.io.nonmem`."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["MAX_LISTED", "Problems", "parse_numeric", "read_raw"]

#: Problems listed in one error message at most.
MAX_LISTED = 20


class Problems:
    """Collects (row, column, reason) for a single DataError listing them all."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows
        self.items: list[tuple[int, str, str]] = []

    def add(self, mask: Any, column: str, reason: Any) -> None:
        """Record ``reason`` (a string, or a function of the record index) where ``mask``."""
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)):
            self.items.append((int(self.rows[i]), column,
                               reason(int(i)) if callable(reason) else reason))

    def raise_if_any(self, label: str, what_rows: str) -> None:
        if not self.items:
            return
        items = sorted(self.items)
        lines = [f"row {r}, column {c}: {msg}" for r, c, msg in items[:MAX_LISTED]]
        if len(items) > MAX_LISTED:
            lines.append(f"... and {len(items) - MAX_LISTED} more")
        raise DataError(f"{label}: {len(items)} problem(s) ({what_rows}):\n  "
                        + "\n  ".join(lines))


def read_raw(source: Any, problems_label: str) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Raw cells (object) and row numbers, comment lines dropped; header = row 1."""
    if isinstance(source, pd.DataFrame):
        raw = source.astype(object).copy()
        raw.columns = [str(c) for c in raw.columns]
        rows = np.arange(len(raw), dtype=np.int64) + 2
        what = "row = position in the DataFrame + 2, the header being row 1"
    else:
        path = Path(os.fspath(source))
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise DataError(f"cannot read NONMEM dataset {path}: {exc}") from None
        reader = csv.reader(io.StringIO(text), skipinitialspace=True)
        header: list[str] | None = None
        records: list[list[str]] = []
        numbers: list[int] = []
        too_long: list[str] = []
        for fields in reader:
            line = reader.line_num
            if header is None:
                header = [f.strip() for f in fields]
                continue
            if not fields or all(not f.strip() for f in fields):
                continue
            if fields[0].strip().startswith(("#", "C")):
                continue
            if len(fields) > len(header):
                too_long.append(f"row {line}: {len(fields)} fields, the header has "
                                f"{len(header)}")
                continue
            records.append([f.strip() for f in fields] + [""] * (len(header) - len(fields)))
            numbers.append(line)
        if header is None:
            raise DataError(f"{path}: the file is empty (expected a header line with ID, TIME)")
        if too_long:
            raise DataError(f"{path}: rows with more fields than the header:\n  "
                            + "\n  ".join(too_long[:MAX_LISTED]))
        raw = pd.DataFrame(records, columns=header, dtype=object)
        rows = np.asarray(numbers, dtype=np.int64)
        what = "row = line number in the file, the header being line 1"
    upper = [c.strip().upper() for c in raw.columns]
    dup = sorted({c for c in upper if upper.count(c) > 1})
    if dup:
        raise DataError(f"{problems_label}: columns {dup} appear more than once (names are "
                        "case-insensitive)")
    if "ROW" in upper:
        raise DataError(f"{problems_label}: a column is named ROW, which the reader uses for "
                        "the original row number; rename it")
    raw.columns = upper
    for req in ("ID", "TIME"):
        if req not in upper:
            raise DataError(f"{problems_label}: required column {req} is missing (columns: "
                            f"{upper})")
    return raw.reset_index(drop=True), rows, what


def parse_numeric(col: pd.Series, missing: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values with NaN for missing or bad, missing mask, bad mask) of one raw column."""
    tokens = {"", ".", missing}

    def clean(v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip()
            return np.nan if v in tokens else v
        return v

    cleaned = col.map(clean)
    is_missing = cleaned.isna().to_numpy()
    values = np.array(pd.to_numeric(cleaned, errors="coerce"), dtype=float)
    bad = ~is_missing & ~np.isfinite(values)
    values[bad] = np.nan
    return values, is_missing, bad
