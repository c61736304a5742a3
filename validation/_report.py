"""What every validation script shares: where the shared data and the reports live, a
Markdown report with figures, and the comparison of estimates with an independent reference
(printed and written as a table of relative differences)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
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


def residual_summary(diag: Any) -> pd.DataFrame:
    """Mean and SD of each residual of :meth:`pkpd.Diagnostics.summary` (rows) by output
    (columns ``<output> mean``, ``<output> SD``)."""
    s = diag.summary()
    order = s.columns.get_level_values(0).unique()
    parts = {out: s.loc[out].unstack().reindex(order) for out in s.index}
    t = pd.concat(parts, axis=1)
    t.columns = [f"{o} {'SD' if c == 'std' else c}" for o, c in t.columns]
    return t.rename_axis("residual")


def npde_calibration(diag: Any) -> pd.DataFrame:
    """Per output: SD of NPDE, SD of the normal quantiles of PD (the same discrepancies without
    decorrelation), and the SD of NPDE under the model: 1 when the decorrelation's moments come
    from independent replicates (``npde_moments="independent"``, the default); when they come
    from the same K replicates the observation is ranked among, a new draw whitened by a sample
    covariance of K draws of p levels has variance ``(K - 1)(K + 1) / (K (K - p - 2))`` per
    level on average (Hotelling), not 1."""
    from scipy.special import ndtri

    t = diag.table
    rows = {}
    for out, g in t.groupby("OUTPUT"):
        p = g.groupby("ID")["NPDE"].transform("count").to_numpy(dtype=float)
        k = float(diag.n_sim)
        infl = np.where(k - p - 2 > 0, (k - 1) * (k + 1) / (k * np.maximum(k - p - 2, 1.0)),
                        np.nan)
        if getattr(diag, "npde_moments", "same") == "independent":
            infl = np.ones_like(p)
        rows[out] = {"SD of NPDE": g["NPDE"].std(), "SD of ndtri(PD)": ndtri(g["PD"]).std(),
                     "levels per subject (median)": float(np.median(p)),
                     "expected SD under the model": float(np.sqrt(np.nanmean(infl)))}
    return pd.DataFrame(rows).T.rename_axis("output")


def npde_paragraphs(diag: Any) -> tuple[pd.DataFrame, str]:
    """The NPDE calibration table (:func:`npde_calibration`) and a sentence reading it: do the
    NPDE tests reject, and is the SD of NPDE what the decorrelation alone gives?"""
    cal = npde_calibration(diag)
    tests = diag.npde_tests["p_value"]
    parts = []
    for out, row in cal.iterrows():
        sd, sd_pd, expected = row["SD of NPDE"], row["SD of ndtri(PD)"], row[
            "expected SD under the model"]
        verdict = ("close to what the model gives" if abs(sd - expected) <= 0.03
                   else "not what the model gives")
        how = ("decorrelated with moments from independent replicates"
               if getattr(diag, "npde_moments", "same") == "independent" else
               f"decorrelated with a covariance estimated from the same {diag.n_sim} "
               "replicates")
        parts.append(
            f"{out}: SD of NPDE {sd:.3f} against {expected:.3f} expected under the model "
            f"({row['levels per subject (median)']:.0f} levels per subject, {how}; "
            f"{verdict}); without decorrelation the normal quantiles of PD have SD "
            f"{sd_pd:.3f}.")
    rejected = [k for k, v in tests.items() if np.isfinite(v) and v < 0.05]
    lead = ("The NPDE tests reject at 5 %: " + ", ".join(
        f"{k} (p = {tests[k]:.2g})" for k in rejected) + ". " if rejected
            else "The NPDE tests do not reject at 5 %. ")
    return cal, lead + " ".join(parts)


def focei_objective(model: Any, data: Any, values: Mapping[str, float]) -> float:
    """pkpd's FOCE-I objective of ``model`` and ``data`` at parameter ``values`` (layout names;
    the others at the model's values): to compare objectives at another program's estimates."""
    from pkpd.estimation._population import setup

    problem = setup(model, data, "focei", outputs=None, lloq=None, params=None, initial=None)
    return float(problem.evaluate_values([{**problem.transform.values, **values}]).ofv[0])


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and its wall time in seconds."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


@dataclass
class Report:
    """A Markdown report with figures, written to ``folder/report.md``."""

    title: str
    folder: Path
    lines: list[str] = field(default_factory=list)
    records: dict[str, dict[str, str]] = field(default_factory=dict)

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

            from pkpd._atomic import atomic_path

            with atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=120, format=path.suffix.lstrip(".") or "png")
            plt.close(fig)
        self.lines += [f"![{caption}]({path.name})", "", f"*{caption}*", ""]
        return path

    def plot(self, fn_name: str, obj: Any, name: str, caption: str, **kwargs: Any) -> Path | None:
        """Draw ``pkpd.plot.<fn_name>(obj, path=folder/name, **kwargs)`` into the report, or
        say that this version of pkpd has no such plot (None then)."""
        fn = getattr(pkpd.plot, fn_name, None)
        if fn is None:
            self.text(f"*(No figure: `pkpd.plot.{fn_name}` is not available in this version.)*")
            return None
        path = self.folder / name
        fn(obj, path=path, **kwargs)
        return self.figure(path, name, caption)

    def record(self, label: str, result: Any, *, seed: Any = None) -> None:
        """Add the provenance of a result (a Dataset's attrs, a fit's, diagnostics' or VPC's
        ``provenance``, a NONMEM dataset, a model with the ``seed`` of the run, or a record as
        a mapping) to the report's "Provenance" section under ``label``."""
        from pkpd._provenance import data_record, provenance

        rec = getattr(result, "provenance", None)
        if rec is None and isinstance(result, Mapping):   # a record given as it is
            rec = {str(k): str(v) for k, v in result.items()}
        if rec is None and hasattr(result, "sha256"):   # a dataset read by read_nonmem
            rec = data_record(result)
        if rec is None and hasattr(result, "attrs"):
            rec = {k: str(v) for k, v in result.attrs.items()}
        if rec is None:
            rec = provenance(result, seed=seed)
        self.records[label] = dict(rec)

    def provenance_lines(self) -> list[str]:
        """The "Provenance" section: the run's versions, platform and UTC time, then the
        model and data of each recorded result."""
        from pkpd._provenance import provenance

        run = provenance()
        lines = ["## Provenance", "", "| key | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in run.items()]
        lines.append("")
        keys = ("model", "model_hash", "model_source", "model_file_sha256", "data_source",
                "data_sha256", "method", "seed")
        for label, rec in self.records.items():
            shown = {k: rec[k].replace(f"{ROOT}{os.sep}", "") for k in keys if rec.get(k)}
            lines += [f"**{label}**: " + "; ".join(f"{k} `{v}`" for k, v in shown.items()), ""]
        return lines

    def write(self) -> Path:
        from pkpd._atomic import write_text_atomic

        lines = [*self.lines, *self.provenance_lines()]
        return write_text_atomic(self.folder / "report.md", "\n".join(lines).rstrip() + "\n")


@dataclass
class Result:
    """What a validation script's ``run`` made: the fits, the comparison tables, the report, its
    figures, wall times by step and any scalar checks the script computed."""

    fits: dict[str, Any]
    comparisons: dict[str, pd.DataFrame]
    report: Path
    figures: list[Path] = field(default_factory=list)
    runtimes: dict[str, float] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)


def command_line(run: Callable[..., Any], doc: str, out: Path, quick_help: str) -> None:
    """The command line every validation script shares: ``[--shared DIR] [--out FOLDER]
    [--quick]``, then ``run(shared, out, quick=...)``."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=None,
                        help="folder holding data/ (default: $PKPD_SHARED_DIR or ../shared)")
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    args = parser.parse_args()
    run(shared_dir(args.shared), args.out, quick=args.quick)

