"""``pkpd validate``: installation and operational qualification of this installation."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import Formatter

EPILOG = """\
examples:
  pkpd validate --data /path/to/shared --out qualification
  pkpd validate --group installation --group reference
  pkpd validate --quick

Groups: installation (versions, platform, kernel cache, every bundled model loads), reference
(the engine against closed forms, a mass balance and a scipy Radau solve), conformance
(NONMEM 7.5's output for 29 dosing scenarios and a time-varying covariate: needs --data),
estimation (an individual fit with a known answer; the theophylline FOCE-I fit against R's
nlme: needs --data).

Writes qualification-YYYYMMDDTHHMMSSZ.md and .json into --out: the verdict, the date (UTC), the
pkpd version and where it is installed, the machine and versions, a table per group (check,
figure, tolerance, result, time) and the failures with their messages. The verdict is PASSED
only when every check ran and passed; it is INCOMPLETE when a check did not run (no data
folder, --group, --quick) and FAILED when one failed. Exit status: 0 PASSED, 1 FAILED or
INCOMPLETE."""


def add_parser(sub: Any) -> None:
    v = sub.add_parser(
        "validate", help="qualify this installation: reference checks and a dated report",
        formatter_class=Formatter, epilog=EPILOG,
        description="Installation and operational qualification: run the reference checks on "
                    "this installation and write a dated report (Markdown and JSON).")
    v.add_argument("--out", metavar="DIR", default=".",
                   help="folder of the report (default: the current folder)")
    v.add_argument("--data", metavar="DIR",
                   help="the shared data folder holding conformance/ and data/ (default: "
                        "$PKPD_SHARED_DIR; without it those checks are not run)")
    v.add_argument("--group", metavar="G", nargs="+", action="extend", dest="groups",
                   help="run only these groups (installation, reference, conformance, "
                        "estimation); the others are reported as not run")
    v.add_argument("--quick", action="store_true",
                   help="leave out the slow checks (the theophylline population fit); they "
                        "are reported as not run")
    v.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..qualification import CheckResult, qualify, registered

    total = len(registered())
    done = 0

    def progress(result: CheckResult) -> None:
        nonlocal done
        done += 1
        figure = "" if result.value is None else f"  {result.value:.3g}"
        limit = "" if result.tolerance is None or result.value is None else \
            f" (tolerance {result.tolerance:.3g})"
        print(f"[{done}/{total}] {result.status:<7} {result.group}: {result.name}{figure}"
              f"{limit}  {result.seconds:.2f} s", file=sys.stderr)

    report = qualify(args.out, data=args.data, groups=args.groups, quick=args.quick,
                     progress=progress)
    print(f"report: {report.markdown}")
    print(f"        {report.json}")
    print(report.verdict_line)
    return 0 if report.verdict == "PASSED" else 1
