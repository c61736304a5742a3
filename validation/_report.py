"""What every validation script shares: where the shared data and the reports live, a
Markdown report with figures, and the comparison of estimates with an independent reference
(printed and written as a table of relative differences)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import pkpd

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "validation" / "reports"


def shared_dir(given: Path | None = None) -> Path:
    """The shared data folder: ``given``, ``$PKPD_SHARED_DIR`` or ``../shared``."""
    path = given or Path(os.environ.get("PKPD_SHARED_DIR", ROOT.parent / "shared"))
    if not (path / "data").is_dir():
        raise SystemExit(f"shared data not found at {path} (give --shared or set "
                         "PKPD_SHARED_DIR to the folder holding data/)")
    return path


def markdown_table(df: pd.DataFrame, floatfmt: str = ".4g", index: bool = True) -> str:
    """A pandas DataFrame as a Markdown table (numbers with ``floatfmt``)."""
    frame = df.reset_index() if index else df
    cols = [str(c) for c in frame.columns]

    def cell(v: Any) -> str:
        if isinstance(v, bool | np.bool_):
            return "yes" if v else "no"
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else format(float(v), floatfmt)
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(" --- " for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def compare(estimates: Mapping[str, float], reference: Mapping[str, float],
            se: Mapping[str, float] | None = None, *, label: str = "reference") -> pd.DataFrame:
    """One row per parameter in both: pkpd's estimate, the reference, the relative difference
    (%) and, with ``se``, the difference in standard errors of pkpd's estimate."""
    rows = []
    for name, ref in reference.items():
        if name not in estimates:
            continue
        est = float(estimates[name])
        row = {"parameter": name, "pkpd": est, label: float(ref),
               "rel_diff_%": 100.0 * (est - ref) / abs(ref) if ref != 0 else float("nan")}
        if se is not None:
            s = se.get(name, float("nan"))
            row["diff_in_SE"] = (est - ref) / s if s and np.isfinite(s) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows).set_index("parameter")


def estimates_table(fits: Mapping[str, Any]) -> pd.DataFrame:
    """Estimates, SE and RSE (%) of population fits side by side: one row per parameter, the
    columns ``<label> estimate``, ``<label> SE``, ``<label> RSE %`` for each ``label: fit``."""
    cols: dict[str, pd.Series] = {}
    for label, fit in fits.items():
        est = pd.Series(fit.estimates, dtype=float)
        cols[f"{label} estimate"] = est
        cols[f"{label} SE"] = pd.Series(fit.se, dtype=float).reindex(est.index)
        cols[f"{label} RSE %"] = pd.Series(fit.rse, dtype=float).reindex(est.index)
    return pd.DataFrame(cols).rename_axis("parameter")


def median_range(df: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """``median (min-max)`` and n of ``columns`` (column -> label with unit) of ``df``."""
    rows = []
    for col, label in columns.items():
        x = pd.to_numeric(df[col], errors="coerce").dropna()
        rows.append({"parameter": label, "n": len(x),
                     "median (range)": f"{x.median():.4g} ({x.min():.4g}-{x.max():.4g})"
                     if len(x) else ""})
    return pd.DataFrame(rows).set_index("parameter")


def print_table(title: str, df: pd.DataFrame, floatfmt: str = ".4g") -> None:
    """Print a titled Markdown table (the scripts' console output)."""
    print(f"\n{title}\n{markdown_table(df, floatfmt)}")


@dataclass
class Report:
    """A Markdown report with figures, written to ``folder/report.md``."""

    title: str
    folder: Path
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.lines = [f"# {self.title}", "",
                      f"pkpd {pkpd.__version__}; numpy {np.__version__}; pandas "
                      f"{pd.__version__}.", ""]

    def heading(self, text: str, level: int = 2) -> None:
        self.lines += ["#" * level + " " + text, ""]

    def text(self, text: str) -> None:
        self.lines += [text, ""]

    def table(self, df: pd.DataFrame, floatfmt: str = ".4g", index: bool = True) -> None:
        self.lines += [markdown_table(df, floatfmt, index), ""]

    def figure(self, fig: Any, name: str, caption: str) -> Path:
        """Save a matplotlib figure (or take an existing PNG path) as ``name`` in the folder."""
        path = self.folder / name
        if isinstance(fig, str | Path):
            path = Path(fig)
        else:
            import matplotlib.pyplot as plt

            fig.savefig(path, dpi=120)
            plt.close(fig)
        self.lines += [f"![{caption}]({path.name})", "", f"*{caption}*", ""]
        return path

    def write(self) -> Path:
        path = self.folder / "report.md"
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text("\n".join(self.lines).rstrip() + "\n")
        tmp.replace(path)
        return path
