"""``pkpd vpc``: visual predictive check of a model on a dataset (after a fit, or at given
estimates)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..errors import DataError, PkpdError
from ._common import (
    DATA_HELP,
    MODEL_HELP,
    Formatter,
    data_file,
    load,
    print_frame,
    read_data,
    working,
    write_csv,
    wrote,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Model

EPILOG = """\
examples:
  pkpd vpc theophylline.csv theophylline_1cmt --n 500 --plot vpc.png
  pkpd vpc theophylline.csv theophylline_1cmt --estimates theo_fit/estimates.csv --pc
  pkpd vpc theophylline.csv theophylline_1cmt --at-model-values --plot prior_vpc.png

By default the model is first fitted to the data (--method, FOCE-I) and the dataset's design
(every subject's doses, observation times and covariates) is simulated --n times with the
estimates; --estimates reads them from the estimates.csv of `pkpd fit --out` instead (columns
name and estimate), and --at-model-values uses the model file's own values. Printed per time
bin: the observed 5th, 50th and 95th percentiles and the simulated median with its 95 %
interval; '*' marks an observed percentile outside the interval."""


def add_parser(sub: Any) -> None:
    v = sub.add_parser(
        "vpc", help="visual predictive check (observed vs simulated percentiles)",
        formatter_class=Formatter, epilog=EPILOG,
        description="Visual predictive check: the observed percentiles of each time bin "
                    "against those of replicates of the dataset simulated with the model.")
    v.add_argument("data", help=DATA_HELP)
    v.add_argument("model", help=MODEL_HELP)
    v.add_argument("--n", type=int, default=500, metavar="N",
                   help="replicates (default: %(default)s)")
    v.add_argument("--seed", type=int, default=1, metavar="N", help="random seed (default: 1)")
    v.add_argument("--plot", metavar="FILE.png", help="save the VPC plot")
    v.add_argument("--out", metavar="FILE.csv", help="save the VPC table")
    v.add_argument("--pc", action="store_true", help="prediction-corrected VPC")
    v.add_argument("--stratify", metavar="COLUMN", help="one VPC per value of this column")
    v.add_argument("--log", action="store_true", help="log concentration axis")
    source = v.add_mutually_exclusive_group()
    source.add_argument("--estimates", metavar="FILE.csv",
                        help="estimates of a previous fit (estimates.csv of pkpd fit --out)")
    source.add_argument("--at-model-values", action="store_true",
                        help="simulate at the model file's values (no fit)")
    v.add_argument("--method", choices=("focei", "saem", "foce", "fo"), default="focei",
                   help="method of the fit when neither option above is given "
                        "(default: %(default)s)")
    v.set_defaults(run=run)


def model_with_estimates(model: Model, path: str) -> Model:
    """``model`` with the values of an estimates CSV (columns ``name`` and ``estimate``)."""
    import pandas as pd

    frame = pd.read_csv(data_file(path, "--estimates"))
    missing = {"name", "estimate"} - set(frame.columns)
    if missing:
        raise DataError(f"--estimates {path!r}: no column(s) {', '.join(sorted(missing))}; "
                        "expected the estimates.csv written by `pkpd fit --out`")
    values = {str(k): float(v) for k, v in zip(frame["name"], frame["estimate"], strict=True)}
    return model.parameter_layout.apply(model, values)


def run(args: argparse.Namespace) -> int:
    from ..diagnostics import vpc

    if args.n < 1:
        raise PkpdError(f"--n {args.n}: must be a positive number of replicates")
    if args.estimates or args.at_model_values:
        model = load(args.model)
        if args.estimates:
            model = model_with_estimates(model, args.estimates)
        data = read_data(args.data, model=model)
        subject: Any = model
        source = f"estimates of {args.estimates}" if args.estimates else "the model's values"
    else:
        from ._fit import population_fit

        subject = population_fit(args.model, args.data, args.method, None, args.seed)
        data = None
        source = f"{subject.ofv_method} fit, OFV {subject.ofv:.4f}"
    with working(f"VPC ({args.n} replicates)"):
        result = vpc(subject, data, n=args.n, seed=args.seed, pred_corrected=args.pc,
                     stratify=args.stratify)
    name = getattr(subject, "name", None) or subject.model.name
    print(f"model {name}: VPC of {args.n} replicates at {source}"
          + (" (prediction-corrected)" if args.pc else ""))
    _print(result.table)
    if args.out:
        write_csv(result.table, args.out, index=False)
        wrote(args.out)
    if args.plot:
        from ..plot import vpc as plot_vpc

        plot_vpc(result, path=args.plot, log=args.log, title=f"{name}: VPC")
        wrote(args.plot)
    return 0


def _print(table: Any) -> None:
    t = table[table["kind"] == "percentile"] if "kind" in table else table
    keys = [c for c in ("stratum", "output", "bin", "time", "n_obs") if c in t]
    wide = t.pivot_table(index=keys, columns="quantile", values="observed", sort=True)
    wide.columns = [f"obs P{100 * q:g}" for q in wide.columns]
    mid = t[t["quantile"] == 0.5].set_index(keys)[["sim_lo", "sim_median", "sim_hi"]]
    mid.columns = ["sim P50 lo", "sim P50", "sim P50 hi"]
    flag = t.groupby(keys, sort=True)["outside"].any().map({True: "*", False: ""})
    out = wide.join(mid).assign(outside=flag).reset_index()
    print_frame(out, index=False)
