"""``pkpd models`` and ``pkpd show``: the bundled model library."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import MODEL_HELP, Formatter, load

TAGS = "structural, drug, pbpk, paediatric, pk, pd, tmdd, tdm, reference"


def add_parsers(sub: Any) -> None:
    m = sub.add_parser(
        "models", help="list the bundled models", formatter_class=Formatter,
        description="List the bundled models: name, a one-line summary and tags.",
        epilog="examples:\n  pkpd models\n  pkpd models --tag pbpk\n  pkpd models --tag tdm")
    m.add_argument("--tag", help=f"only models with this tag ({TAGS})")
    m.set_defaults(run=run_models)
    s = sub.add_parser(
        "show", help="print a model: equations, parameters, source", formatter_class=Formatter,
        description="Print a model: what it is, its source, parameters with units, covariates, "
                    "variability, equations, outputs, dosing routes and residual error.",
        epilog="examples:\n  pkpd show vancomycin_goti2018\n  pkpd show my_model.toml")
    s.add_argument("model", help=MODEL_HELP)
    s.set_defaults(run=run_show)


def run_models(args: argparse.Namespace) -> int:
    from ..library import catalog

    entries = catalog(args.tag)
    width = max((len(e.name) for e in entries), default=0)
    for e in entries:
        print(f"{e.name:<{width}}  {e.summary}  [{', '.join(e.tags)}]")
    return 0


def run_show(args: argparse.Namespace) -> int:
    print(load(args.model).summary())
    return 0
