"""Report: pkpd against NONMEM 7.5 on the nmtests dosing and time-varying covariate suites.

Usage::

    python validation/nonmem_conformance.py [--shared ../shared] [--out report.md]

Reads each input dataset with :func:`pkpd.read_nonmem`, simulates it with the bundled model
``one_cmt_oral_nm`` and writes, per scenario, the number of records and the largest relative
and absolute differences from NONMEM's own output (NONMEM prints 5 significant digits, so
agreement means a relative difference below 1e-4, or an absolute one below 1e-3 near zero).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd

import pkpd

ROOT = Path(__file__).resolve().parents[1]


def compare(shared: Path) -> pd.DataFrame:
    """One row per scenario: records, max relative and absolute difference, pass/fail."""
    suite = shared / "conformance" / "nmtests"
    cm = pkpd.compile_model(pkpd.load_model("one_cmt_oral_nm"))
    rows = []
    key = pd.read_csv(suite / "dosing_1001-run-key.csv").set_index("ID")["descr"]
    cases = [("dosing_1001.csv", "dosing_1001-nm.csv", ["LAGT", "BIOAV", "RAT2", "DUR2"]),
             ("tv_2001.csv", "tv_2001-nm.csv", ["WT", "LAGT", "BIOAV", "RAT2", "DUR2"])]
    for data_file, ref_file, covs in cases:
        data = pkpd.read_nonmem(suite / data_file, model=cm.model, covariates=covs)
        ds = pkpd.simulate(cm, data, rtol=1e-10, atol=1e-12)
        ref = pd.read_csv(suite / ref_file)
        for i in np.unique(ref.ID):
            mine = ds["CP"].values[ds["id"].values == i]
            theirs = ref.CP.to_numpy()[ref.ID.to_numpy() == i]
            diff = np.abs(mine - theirs)
            rel = np.where(np.abs(theirs) > 0, diff / np.maximum(np.abs(theirs), 1e-300), 0.0)
            ok = bool(np.all(diff <= np.maximum(1e-4 * np.abs(theirs), 1e-3)))
            label = key.get(i, "") if data_file.startswith("dosing") else \
                "time-varying covariate (WT on every record, NOCB)"
            rows.append({"suite": data_file.removesuffix(".csv"), "ID": int(i),
                         "scenario": label, "records": len(theirs),
                         "max_rel_diff": float(rel[np.abs(theirs) > 1e-3].max(initial=0.0)),
                         "max_abs_diff": float(diff.max()), "pass": ok})
    return pd.DataFrame(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path,
                        default=Path(os.environ.get("PKPD_SHARED_DIR", ROOT.parent / "shared")))
    parser.add_argument("--out", type=Path, default=ROOT / "validation" / "reports" /
                        "nonmem_conformance.md")
    args = parser.parse_args()
    table = compare(args.shared)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    passed = int(table["pass"].sum())
    lines = [f"# NONMEM conformance (pkpd {pkpd.__version__})", "",
             f"{passed} of {len(table)} scenarios agree with NONMEM on every record.", "",
             "| suite | ID | scenario | records | max rel diff | max abs diff | pass |",
             "| --- | ---: | --- | ---: | ---: | ---: | --- |"]
    lines += [f"| {r.suite} | {r.ID} | {r.scenario} | {r.records} | {r.max_rel_diff:.2e} | "
              f"{r.max_abs_diff:.2e} | {'yes' if r['pass'] else 'NO'} |"
              for _, r in table.iterrows()]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:3]))
    print(f"report: {args.out}")
    return 0 if passed == len(table) else 1


if __name__ == "__main__":
    raise SystemExit(main())
