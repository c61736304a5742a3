"""The ``pkpd`` command line.

``pkpd models [--tag TAG]``, ``pkpd show MODEL``
    the bundled model library (:mod:`pkpd.cli._library`).
``pkpd simulate MODEL --regimen TEXT [--patient WT=82kg,...] [--n N] [--plot F] [--out F]``
    one patient's predictions, typical or with variability (:mod:`pkpd.cli._simulate`).
``pkpd fit DATA.csv MODEL [--method focei|saem] [--out DIR] [--checkpoint FILE]``
    population estimation with diagnostics, GOF and VPC plots (:mod:`pkpd.cli._fit`).
``pkpd twin DATA.csv MODEL --id ID [--target "AUC24 400-600 mg*h/L"]``
    one subject's individual (MAP) fit and a dose recommendation (:mod:`pkpd.cli._twin`).
``pkpd nca DATA.csv [--out FILE.csv]``
    non-compartmental analysis (:mod:`pkpd.cli._nca`).
``pkpd vpc DATA.csv MODEL [--n N] [--plot F] [--estimates F]``
    visual predictive check (:mod:`pkpd.cli._vpc`).
``pkpd validate [--out DIR] [--data DIR] [--group G ...] [--quick]``
    installation and operational qualification, a dated report (:mod:`pkpd.cli._validate`).

Exit status: 0 success, 1 bad input (a message ``pkpd: error: ...`` on stderr, no
traceback), 2 a usage error (from argparse).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import PkpdError
from . import _fit, _library, _nca, _simulate, _twin, _validate, _vpc
from ._common import Formatter, is_model_name

__all__ = ["main"]

EPILOG = """\
examples:
  pkpd models --tag tdm
  pkpd simulate two_cmt_oral --regimen "500 mg PO q12h x 14" --times "0..168 h by 0.5 h" \\
      --plot cp.png
  pkpd simulate vancomycin_goti2018 --patient WT=82kg,CRCL=55mL/min \\
      --regimen "1 g IV over 1 h q12h for 7 days" --n 1000 --seed 1 --plot band.png
  pkpd fit theophylline.csv theophylline_1cmt --out theo_fit
  pkpd twin theophylline.csv theophylline_1cmt --id 3 --target "AUC24 200-300 mg*h/L"
  pkpd nca theophylline.csv --out nca.csv
  pkpd vpc theophylline.csv theophylline_1cmt --n 500 --plot vpc.png
  pkpd validate --data /path/to/shared --out qualification

`pkpd COMMAND --help` describes each command. Exit status: 0 success, 1 bad input,
2 usage error."""


def parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    p = argparse.ArgumentParser(
        prog="pkpd", formatter_class=Formatter, epilog=EPILOG,
        description="PK/PD models from the command line: simulate a patient, fit a population, "
                    "individualise and dose, NCA and VPC.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _library.add_parsers(sub)
    _simulate.add_parser(sub)
    _fit.add_parser(sub)
    _twin.add_parser(sub)
    _nca.add_parser(sub)
    _vpc.add_parser(sub)
    _validate.add_parser(sub)
    return p


def _old_fit_order(argv: list[str]) -> list[str]:
    """``pkpd fit MODEL DATA.csv ...`` (the individual fit before ``pkpd twin``) becomes
    ``pkpd twin DATA.csv MODEL ...`` with a note on stderr."""
    if (len(argv) >= 3 and argv[0] == "fit" and not argv[1].startswith("-")
            and argv[2].lower().endswith(".csv") and not argv[1].lower().endswith(".csv")
            and is_model_name(argv[1])):
        print("pkpd: note: `pkpd fit MODEL DATA.csv` (one patient's individual fit) is "
              "deprecated: it is now `pkpd twin DATA.csv MODEL`; `pkpd fit DATA.csv MODEL` "
              "fits a population", file=sys.stderr)
        return ["twin", argv[2], argv[1], *argv[3:]]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (1 with a message on bad input, 2 on a
    usage error)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser().parse_args(_old_fit_order(args_list))
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else 2
    except PkpdError as exc:
        print(f"pkpd: error: {exc}", file=sys.stderr)
        return 1
    try:
        return int(args.run(args))
    except BrokenPipeError:  # the reader went away (`pkpd nca data.csv | head`): stop quietly
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except PkpdError as exc:
        print(f"pkpd: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        name = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        print(f"pkpd: error:{name} {exc.strerror or exc}", file=sys.stderr)
        return 1
