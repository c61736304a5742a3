"""The ``pkpd`` command line.

``pkpd models [--tag TAG]``
    list the bundled models with their tags and a one-line summary.
``pkpd show MODEL``
    print a model: what it is, its source, parameters with units, covariates, variability,
    equations, outputs, dosing and residual error.
``pkpd simulate MODEL --regimen TEXT --times RANGE [--cov NAME=VALUE ...] [--plot FILE]``
    simulate one subject (typical values, or covariates given with ``--cov``), print the
    predictions and a short exposure summary, optionally save a plot (PNG) and a CSV.
``pkpd fit MODEL DATA.csv [--cov NAME=VALUE ...] [--auc LOW-HIGH --template TEXT --window A,B]``
    individualise the model to one patient's doses and levels (a NONMEM-format CSV): print
    the estimates and predictions; with a target, recommend a regimen (``--start`` continues
    the dose history).
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
    m = sub.add_parser("models", help="list the bundled models",
                       description="List the bundled models: name, tags and a one-line summary.",
                       epilog="examples:\n  pkpd models\n  pkpd models --tag pbpk",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("--tag", help="only models with this tag (structural, drug, pbpk, "
                                 "paediatric, pk, pd, tmdd, tdm, reference)")
    w = sub.add_parser("show", help="print a model's summary (equations, parameters, source)")
    w.add_argument("model", help="name of a bundled model or path to a model file (.toml)")
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
    f = sub.add_parser("fit", help="individualise a model to one patient's levels (MAP)")
    f.add_argument("model", help="name of a bundled model or path to a model file (.toml)")
    f.add_argument("data", help="the patient's doses and levels, a NONMEM-format CSV")
    f.add_argument("--cov", action="append", default=[], metavar="NAME=VALUE",
                   help="a covariate or patient measure, e.g. --cov AGE=68 --cov SCR='1.4 "
                        "mg/dL' (repeatable; CrCL and others are derived)")
    f.add_argument("--method", choices=("map", "ml"), default="map")
    f.add_argument("--lloq", type=float, help="lower limit of quantification (output units)")
    f.add_argument("--auc", metavar="LOW-HIGH",
                   help="recommend a regimen for this AUC window, e.g. 400-600")
    f.add_argument("--template", default="{dose} IV over 1 h every {interval} for 4 days",
                   help="regimen template of the recommendation (default: %(default)s)")
    f.add_argument("--window", metavar="START,END",
                   help="the evaluation window of the AUC target, e.g. '120 h,144 h'")
    f.add_argument("--over", default="24 h", help="the AUC duration (default: %(default)s)")
    f.add_argument("--start", help="start the recommended regimen after the dose history at "
                                   "this time, e.g. '48 h'")
    f.add_argument("--draws", type=int, default=500,
                   help="posterior draws for the probability of target attainment")
    return p


def _covariates(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise PkpdError(f"--cov {item!r}: expected NAME=VALUE, e.g. WT='82 kg'")
        out[name.strip()] = value.strip()
    return out


def _fit(args: argparse.Namespace) -> int:
    from .dosing import AUC, optimise
    from .estimation import fit_individual
    from .io.nonmem import read_nonmem
    from .library import load_model
    from .patient import Patient

    model = load_model(args.model)
    data = read_nonmem(args.data, model=model)
    covs = _covariates(args.cov)
    known = {k: covs.pop(k) for k in ("WT", "HT", "AGE", "SEX", "SCR", "CRCL") if k in covs}
    patient = Patient(**known, **covs) if (known or covs) else None
    fit = fit_individual(model, data, patient=patient, method=args.method, lloq=args.lloq)
    print(f"model {model.name}: {args.method.upper()} fit of {len(fit.predictions)} level(s), "
          f"OFV {fit.ofv:.3f} ({fit.gradient} gradient, {fit.elapsed * 1000:.0f} ms)")
    print(fit.summary().round(4).to_string())
    print("individual: " + ", ".join(f"{k} = {v:.4g}" for k, v in fit.individual.items()))
    cols = [c for c in ("TIME", "OUTPUT", "DV", "PRED", "IPRED", "IWRES") if c in fit.predictions]
    print(fit.predictions[cols].round(4).to_string(index=False))
    if args.auc:
        low, sep, high = args.auc.partition("-")
        if not sep or not args.window:
            raise PkpdError("--auc LOW-HIGH needs --window START,END, e.g. --auc 400-600 "
                            "--window '120 h,144 h'")
        start, sep, end = args.window.partition(",")
        if not sep:
            raise PkpdError(f"--window {args.window!r}: expected START,END, e.g. '120 h,144 h'")
        try:
            target = AUC(float(low), float(high), over=args.over)
        except ValueError:
            raise PkpdError(f"--auc {args.auc!r}: expected two numbers, e.g. 400-600") from None
        rec = optimise(model, target, template=args.template, window=(start, end),
                       patient=patient, fit=fit, n=args.draws, seed=1, start=args.start)
        band = f", 90 % band {rec.band[0]:.4g}-{rec.band[1]:.4g}" if rec.band else ""
        pta = f", PTA {rec.pta:.2f}" if rec.pta is not None else ""
        print(f"recommended: {rec.regimen_text}"
              + (f" (from {args.start})" if args.start else ""))
        print(f"predicted AUC {rec.predicted:.4g}{band}{pta}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import numpy as np

    from .library import load_model
    from .simulation import simulate

    model = load_model(args.model)
    patients = None
    if args.cov:
        patients = {k: np.array([v], dtype=object) for k, v in _covariates(args.cov).items()}
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
            from .library import catalog

            entries = catalog(args.tag)
            width = max((len(e.name) for e in entries), default=0)
            for e in entries:
                print(f"{e.name:<{width}}  {e.summary}  [{', '.join(e.tags)}]")
            return 0
        if args.command == "show":
            from .library import load_model

            print(load_model(args.model).summary())
            return 0
        if args.command == "fit":
            return _fit(args)
        return _simulate(args)
    except PkpdError as exc:
        print(f"pkpd: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
