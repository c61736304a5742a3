"""Validation report: pkpd against NONMEM 7.5 on the nmtests dosing and time-varying covariate
suites.

Usage::

    python validation/nonmem_conformance.py [--shared DIR] [--out FOLDER]

Reads each input dataset with :func:`pkpd.read_nonmem`, simulates it with the bundled model
``one_cmt_oral_nm`` and compares every record with NONMEM's own output. Writes
``validation/reports/nonmem_conformance/report.md`` (one row per scenario: records, the largest
relative and absolute differences, pass) with a figure of the differences, and prints the
agreement. NONMEM prints 5 significant digits, so agreement means a relative difference below
1e-4, or an absolute one below 1e-3 near zero. Exits with 1 if a scenario disagrees.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from _report import REPORTS, Report, print_table, shared_dir

import pkpd
from pkpd._provenance import file_sha256
from pkpd.qualification import NONMEM_ABS_TOL as ABS_TOL
from pkpd.qualification import NONMEM_REL_TOL as REL_TOL
from pkpd.qualification import compare_nonmem


def compare(shared: Path) -> pd.DataFrame:
    """One row per scenario: records, max relative and absolute difference, pass/fail (the
    comparison of the qualification checks, :func:`pkpd.qualification.compare_nonmem`)."""
    return compare_nonmem(shared).drop(columns="figure")


def figure(table: pd.DataFrame):
    """The largest relative difference of each scenario (log scale) against the tolerance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
    x = np.arange(len(table))
    rel = table["max_rel_diff"].clip(lower=1e-16)
    colors = np.where(table["pass"], "tab:blue", "tab:red")
    ax.scatter(x, rel, c=colors, zorder=3)
    ax.axhline(REL_TOL, color="0.2", ls="--", lw=1, label=f"tolerance {REL_TOL:g}")
    ax.set_yscale("log")
    ax.set_ylim(min(rel.min(), REL_TOL) / 100, REL_TOL * 100)
    ax.grid(True, axis="y", which="major", alpha=0.4)
    ax.set_xticks(x, [f"{s.split('_')[0][:2]}{i}" for s, i in zip(table["suite"], table["ID"],
                                                                     strict=True)],
                  rotation=90, fontsize=7)
    ax.set_xlabel("scenario (do = dosing_1001, tv = tv_2001; number = ID)")
    ax.set_ylabel("largest relative difference")
    ax.set_title("pkpd against NONMEM 7.5 output: largest relative difference per scenario")
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def write_report(table: pd.DataFrame, out: Path, shared: Path | None = None) -> Path:
    """Write ``out/report.md`` and its figure; return the report's path. With ``shared`` the
    Provenance section also names the suite's data files and their sha256."""
    passed = int(table["pass"].sum())
    report = Report("NONMEM conformance: pkpd against NONMEM 7.5 (nmtests)", out)
    report.record("model", pkpd.load_model("one_cmt_oral_nm"))
    if shared is not None:
        suite = shared / "conformance" / "nmtests"
        for name in ("dosing_1001.csv", "dosing_1001-nm.csv", "tv_2001.csv", "tv_2001-nm.csv"):
            report.record(name, {"data_source": str(suite / name),
                                 "data_sha256": file_sha256(suite / name)})
    report.text(
        f"**{passed} of {len(table)} scenarios agree with NONMEM on every record** "
        f"(relative difference below {REL_TOL:g}, or absolute below {ABS_TOL:g} near zero: "
        "NONMEM prints 5 significant digits). Datasets and NONMEM 7.5 output from the nmtests "
        "suite (`shared/conformance/nmtests`); pkpd simulates each dataset with the bundled "
        "model `one_cmt_oral_nm` (ADVAN2 TRANS2 with lag time, bioavailability and modelled "
        "rate or duration) at rtol 1e-10.")
    report.figure(figure(table), "differences.png",
                  "Largest relative difference of each scenario over its records (dashed: "
                  "tolerance, the rounding of NONMEM's 5 printed digits)")
    shown = table.assign(**{"pass": table["pass"].map({True: "yes", False: "NO"})})
    report.table(shown, floatfmt=".2e", index=False)
    worst = table.loc[table["max_rel_diff"].idxmax()]
    report.text(
        f"The largest relative difference over all records is {worst['max_rel_diff']:.2e} "
        f"({worst['suite']} ID {worst['ID']}: {worst['scenario']}), the largest absolute one "
        f"{table['max_abs_diff'].max():.2e}: at the rounding of NONMEM's printed output.")
    return report.write()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=None,
                        help="folder holding conformance/ (default: $PKPD_SHARED_DIR or "
                             "../shared)")
    parser.add_argument("--out", type=Path, default=REPORTS / "nonmem_conformance")
    args = parser.parse_args()
    table = compare(shared_dir(args.shared))
    path = write_report(table, args.out, shared_dir(args.shared))
    passed = int(table["pass"].sum())
    print_table("largest differences from NONMEM per scenario",
                table[["suite", "ID", "records", "max_rel_diff", "max_abs_diff", "pass"]]
                .set_index(["suite", "ID"]), floatfmt=".2e")
    print(f"\n{passed} of {len(table)} scenarios agree with NONMEM on every record; "
          f"largest relative difference {table['max_rel_diff'].max():.2e}")
    print(f"report: {path}")
    return 0 if passed == len(table) else 1


if __name__ == "__main__":
    raise SystemExit(main())
