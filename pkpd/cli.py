"""The ``pkpd`` command line.

``pkpd models``
    list the bundled models.
``pkpd simulate MODEL --regimen TEXT --times RANGE [--cov NAME=VALUE ...] [--plot FILE]``
    simulate one subject (typical values, or covariates given with ``--cov``), print the
    predictions and a short exposure summary, optionally save a plot (PNG) and a CSV.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .errors import PkpdError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pkpd", description="PK/PD simulation from the command line")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list the bundled models")
    s = sub.add_parser("simulate", help="simulate a dosing regimen for one subject")
    s.add_argument("model", help="name of a bundled model or path to a model file (.toml)")
    s.add_argument("--regimen", required=True,
                   help="regimen text, e.g. '500 mg PO q12h x 14'")
    s.add_argument("--times", default="0..168 h by 0.5 h",
                   help="output times, e.g. '0..168 h by 0.5 h' (default)")
    s.add_argument("--cov", action="append", default=[], metavar="NAME=VALUE",
                   help="a covariate, e.g. --cov WT='82 kg' (repeatable)")
    s.add_argument("--every", type=int, default=12,
                   help="print every N-th output time (default 12)")
    s.add_argument("--plot", metavar="FILE.png", help="save a concentration-time plot")
    s.add_argument("--csv", metavar="FILE.csv", help="save all predictions as CSV")
    return p


def _simulate(args: argparse.Namespace) -> int:
    import numpy as np

    from .library import load_model
    from .simulation import simulate

    model = load_model(args.model)
    patients = None
    if args.cov:
        patients = {}
        for item in args.cov:
            name, sep, value = item.partition("=")
            if not sep:
                raise PkpdError(f"--cov {item!r}: expected NAME=VALUE, e.g. WT='82 kg'")
            patients[name.strip()] = np.array([value.strip()], dtype=object)
    ds = simulate(model, args.regimen, patients, times=args.times)
    frame = ds.squeeze("id", drop=True).to_dataframe()
    unit = model.time_unit
    print(f"model {model.name}: {model.description}")
    print(f"regimen: {args.regimen}")
    shown = frame.iloc[:: max(args.every, 1)]
    header = f"{'time (' + unit + ')':>12}" + "".join(
        f"{name + ' (' + ds[name].attrs['units'] + ')':>18}" for name in frame.columns)
    print(header)
    for t, row in shown.iterrows():
        print(f"{t:12.4g}" + "".join(f"{v:18.6g}" for v in row))
    for name in frame.columns:
        col = frame[name]
        print(f"{name}: Cmax {col.max():.6g} {ds[name].attrs['units']} at {col.idxmax():g} {unit}; "
              f"last {col.iloc[-1]:.6g}")
    if args.csv:
        frame.to_csv(args.csv)
        print(f"wrote {args.csv}")
    if args.plot:
        from .plot import concentration_time

        concentration_time(ds, title=f"{model.name}: {args.regimen}", path=args.plot)
        print(f"wrote {args.plot}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (1 with a message on bad input)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "models":
            from .library import list_models

            for name in list_models():
                print(name)
            return 0
        return _simulate(args)
    except PkpdError as exc:
        print(f"pkpd: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
