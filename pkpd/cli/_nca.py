"""``pkpd nca``: non-compartmental analysis of a dataset."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import DATA_HELP, Formatter, data_file, print_frame, write_csv, wrote

#: The columns printed (all of them go to --out).
SHOWN = ("ID", "dose", "Cmax", "Tmax", "AUClast", "AUCinf_obs", "lambda_z", "half_life",
         "CL_F", "Vz_F", "CL", "Vz")

EPILOG = """\
examples:
  pkpd nca theophylline.csv
  pkpd nca theophylline.csv --out nca.csv
  pkpd nca trial.csv --auc-method linear --conc-unit mg/L --dose-unit mg

Doses and levels come from the dataset's dose (EVID 1) and observation rows; lambda_z is the
adjusted-R2 best fit of the terminal phase, AUC by the linear-up/log-down trapezoids unless
--auc-method linear. --out writes every column (AUCinf, MRT, extrapolated %, dose-normalised
values, notes)."""


def add_parser(sub: Any) -> None:
    n = sub.add_parser(
        "nca", help="non-compartmental analysis (Cmax, AUC, half-life, CL/F) per subject",
        formatter_class=Formatter, epilog=EPILOG,
        description="Non-compartmental analysis of every subject (and dosing interval) of a "
                    "NONMEM-format dataset.")
    n.add_argument("data", help=DATA_HELP)
    n.add_argument("--out", metavar="FILE.csv", help="write the full table as CSV")
    n.add_argument("--auc-method", choices=("linear-up/log-down", "linear"),
                   default="linear-up/log-down", help="trapezoids (default: %(default)s)")
    n.add_argument("--route", choices=("extravascular", "iv-bolus", "iv-infusion"),
                   help="route of the doses (default: from the dataset)")
    n.add_argument("--conc-unit", help="unit of DV, e.g. mg/L")
    n.add_argument("--dose-unit", help="unit of AMT, e.g. mg")
    n.add_argument("--time-unit", default="h", help="unit of TIME (default: h)")
    n.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..noncompartmental import nca

    table = nca(str(data_file(args.data)), auc_method=args.auc_method, route=args.route,
                time_unit=args.time_unit, conc_unit=args.conc_unit, dose_unit=args.dose_unit)
    print_frame(table[[c for c in SHOWN if c in table.columns]], index=False)
    if args.out:
        write_csv(table, args.out, index=False)
        wrote(args.out)
    return 0
