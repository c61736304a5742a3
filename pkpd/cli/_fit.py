"""``pkpd fit``: population estimation on a dataset, with diagnostics, GOF and VPC plots."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..errors import PkpdError
from ._common import (
    DATA_HELP,
    MODEL_HELP,
    Formatter,
    iteration_progress,
    load,
    out_dir,
    print_frame,
    read_data,
    working,
    write_csv,
    wrote,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..estimation import PopulationFit

#: How each method is named in what is printed.
LABELS = {"focei": "FOCE-I", "foce": "FOCE", "fo": "FO", "saem": "SAEM"}

EPILOG = """\
examples:
  pkpd fit theophylline.csv theophylline_1cmt
  pkpd fit theophylline.csv theophylline_1cmt --method saem --out theo_fit
  pkpd fit trial.csv my_model.toml --out fit --n-sim 1000 --vpc-n 500

Prints the objective, the estimates with their standard errors and RSE (%), and with --out
writes into that folder:
  estimates.csv     one row per parameter: kind, estimate, se, rse, fixed
  etas.csv          each subject's conditional modes (empirical Bayes estimates)
  diagnostics.csv   one row per observation: PRED, IPRED, WRES, CWRES, IWRES, NPDE ...
  gof.png           goodness-of-fit plots
  vpc.png, vpc.csv  visual predictive check and its table
estimates.csv can be given to `pkpd vpc --estimates`. (The individual fit of one patient,
formerly `pkpd fit MODEL DATA.csv`, is `pkpd twin DATA.csv MODEL`.)"""


def add_parser(sub: Any) -> None:
    f = sub.add_parser(
        "fit", help="population fit (FOCE-I or SAEM) with diagnostics and plots",
        formatter_class=Formatter, epilog=EPILOG,
        description="Estimate a population model (thetas, omegas, sigmas) from a NONMEM-format "
                    "dataset; initial values, bounds and fixed parameters come from the model "
                    "file.")
    f.add_argument("data", help=DATA_HELP)
    f.add_argument("model", help=MODEL_HELP)
    f.add_argument("--method", choices=("focei", "saem", "foce", "fo"), default="focei",
                   help="estimation method (default: %(default)s)")
    f.add_argument("--out", metavar="DIR", help="write estimates, diagnostics and plots here")
    f.add_argument("--lloq", type=float, metavar="VALUE", help="lower limit of quantification (M3)")
    f.add_argument("--n-sim", type=int, default=500, metavar="N",
                   help="simulations for NPDE (default: %(default)s)")
    f.add_argument("--vpc-n", type=int, default=500, metavar="N",
                   help="replicates of the VPC (default: %(default)s)")
    f.add_argument("--seed", type=int, default=1, metavar="N", help="random seed (default: 1)")
    f.add_argument("--checkpoint", metavar="FILE",
                   help="save the fit's state after every iteration to FILE and resume from it "
                        "when it exists (an interrupted fit continues where it stopped)")
    f.set_defaults(run=run)


def population_fit(model_name: str, data_path: str, method: str, lloq: float | None,
                   seed: int, checkpoint: str | None = None) -> PopulationFit:
    """The fit of ``pkpd fit`` and ``pkpd vpc`` (progress bar on a terminal)."""
    from ..estimation import fit_population

    model = load(model_name)
    data = read_data(data_path, model=model)
    with iteration_progress(f"{LABELS.get(method, method)} fit") as report:
        return fit_population(model, data, method=method, lloq=lloq, seed=seed,
                              progress=report, checkpoint=checkpoint)


def summary(fit: PopulationFit) -> pd.DataFrame:
    """The estimates table: kind, estimate, SE, RSE (%), fixed."""
    return fit.summary()


def print_fit(fit: PopulationFit) -> None:
    print(f"model {fit.model.name}: {LABELS.get(fit.method, fit.method)} fit, "
          f"{fit.n_subjects} subjects, {fit.n_obs} observations")
    print(f"OFV {fit.ofv:.4f} ({fit.ofv_method})")
    print(f"{fit.status}; covariance: {fit.covariance_status}; {fit.runtime:.1f} s")
    table = summary(fit).rename(columns={"rse": "rse_%"})
    print_frame(table)


def run(args: argparse.Namespace) -> int:
    for name in ("n_sim", "vpc_n"):
        if getattr(args, name) < 1:
            raise PkpdError(f"--{name.replace('_', '-')} {getattr(args, name)}: must be "
                            "positive")
    fit = population_fit(args.model, args.data, args.method, args.lloq, args.seed,
                         args.checkpoint)
    print_fit(fit)
    if not args.out:
        return 0
    from ..diagnostics import diagnose, vpc
    from ..plot import gof
    from ..plot import vpc as plot_vpc

    folder = out_dir(args.out)
    write_csv(summary(fit), folder / "estimates.csv")
    write_csv(fit.etas, folder / "etas.csv")
    with working("diagnostics"):
        d = diagnose(fit, n_sim=args.n_sim, seed=args.seed)
    write_csv(d.table, folder / "diagnostics.csv", index=False)
    if "sd" in d.shrinkage:
        print("shrinkage (SD, %): " + ", ".join(f"{k} {v:.1f}" for k, v in
                                                d.shrinkage["sd"].items()))
    gof(d, path=folder / "gof.png", title=f"{fit.model.name} ({fit.method})")
    with working(f"VPC ({args.vpc_n} replicates)"):
        v = vpc(fit, n=args.vpc_n, seed=args.seed)
    write_csv(v.table, folder / "vpc.csv", index=False)
    plot_vpc(v, path=folder / "vpc.png", title=f"{fit.model.name}: VPC")
    for name in ("estimates.csv", "etas.csv", "diagnostics.csv", "gof.png", "vpc.csv",
                 "vpc.png"):
        wrote(folder / name)
    return 0

