"""``pkpd simulate``: one patient's concentrations for a regimen, typical or with variability."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._common import (
    MODEL_HELP,
    Formatter,
    add_patient_args,
    check_dataset_path,
    load,
    make_patient,
    patient_items,
    summary_line,
    working,
    write_dataset,
    wrote,
)

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

#: The prediction band printed and plotted with ``--n`` (lower, upper percentile).
BAND = (5.0, 95.0)

EPILOG = """\
examples:
  pkpd simulate two_cmt_oral --regimen "500 mg PO q12h x 14" --times "0..168 h by 0.5 h" \\
      --plot cp.png
  pkpd simulate vancomycin_goti2018 --patient WT=82kg,CRCL=55mL/min \\
      --regimen "1 g IV over 1 h q12h for 7 days" --times "0..168 h by 1 h"
  pkpd simulate vancomycin_goti2018 --patient WT=82kg,CRCL=55mL/min \\
      --regimen "1 g IV over 1 h q12h for 7 days" --n 1000 --seed 1 --plot band.png --out sim.nc

Without --n the patient's typical prediction is printed; with --n, that many replicates with
between-subject variability and residual error (the median and 5th-95th percentiles are
printed; the plot shows the bands). --out saves every value: .nc (netCDF, read with
xarray.open_dataset), .csv or .zarr."""


def add_parser(sub: Any) -> None:
    s = sub.add_parser(
        "simulate", help="simulate a regimen for one patient (typical, or --n replicates)",
        formatter_class=Formatter, epilog=EPILOG,
        description="Simulate a dosing regimen for one patient: print the predictions at "
                    "every --every-th output time and the peak of each output, optionally "
                    "save a plot and the full result.")
    s.add_argument("model", help=MODEL_HELP)
    s.add_argument("--regimen", required=True, metavar="TEXT",
                   help="regimen text, e.g. '500 mg PO q12h x 14' or "
                        "'1 g IV over 1 h q12h for 7 days'")
    s.add_argument("--times", default="0..168 h by 0.5 h", metavar="RANGE",
                   help="output times (default: %(default)s)")
    add_patient_args(s)
    s.add_argument("--n", type=int, metavar="N",
                   help="replicates with between-subject variability and residual error")
    s.add_argument("--seed", type=int, default=1, metavar="N",
                   help="random seed of --n (default: 1)")
    s.add_argument("--every", type=int, default=12, metavar="N",
                   help="print every N-th output time (default: %(default)s)")
    s.add_argument("--plot", metavar="FILE.png", help="save a concentration-time plot")
    s.add_argument("--out", metavar="FILE", help="save the result: .nc, .csv or .zarr")
    s.add_argument("--csv", metavar="FILE.csv", help="save the result as CSV (as --out x.csv)")
    s.set_defaults(run=run)


def _outputs(ds: xr.Dataset) -> list[str]:
    return [str(v) for v in ds.data_vars if not str(v).endswith("_obs")]


def _label(ds: xr.Dataset, name: str) -> str:
    unit = ds[name].attrs.get("units")
    return f"{name} ({unit})" if unit else name


def _print_typical(ds: xr.Dataset, every: int, unit: str) -> None:
    frame = ds.squeeze("id", drop=True).to_dataframe()
    names = list(frame.columns)
    print(f"{'time (' + unit + ')':>12}" + "".join(f"{_label(ds, n):>18}" for n in names))
    for t, row in frame.iloc[::every].iterrows():
        print(f"{t:12.4g}" + "".join(f"{v:18.6g}" for v in row))
    for name in names:
        col = frame[name]
        print(f"{name}: Cmax {col.max():.6g} {ds[name].attrs.get('units', '')} at "
              f"{col.idxmax():g} {unit}; last {col.iloc[-1]:.6g}")


def _print_band(ds: xr.Dataset, every: int, unit: str, n: int) -> None:
    lo, hi = BAND
    names = _outputs(ds)
    stacked = {name: ds[name].stack(replicate=("id", "sample")).transpose("time", "replicate")
               for name in names}
    print(f"{n} replicates (between-subject variability; median and {lo:g}th-{hi:g}th "
          "percentiles)")
    header = f"{'time (' + unit + ')':>12}"
    for name in names:
        header += (f"{_label(ds, name) + ' median':>22}" f"{'P' + format(lo, 'g'):>12}"
                   f"{'P' + format(hi, 'g'):>12}")
    print(header)
    import numpy as np

    q = {name: np.percentile(da.to_numpy(), [50.0, lo, hi], axis=1)
         for name, da in stacked.items()}
    times = ds["time"].to_numpy()
    for k in range(0, len(times), every):
        print(f"{times[k]:12.4g}" + "".join(
            f"{q[name][0, k]:22.6g}{q[name][1, k]:12.6g}{q[name][2, k]:12.6g}"
            for name in names))
    for name in names:
        peaks = stacked[name].max("time").to_numpy()
        med, plo, phi = np.percentile(peaks, [50.0, lo, hi])
        print(f"{name}: Cmax median {med:.6g} {ds[name].attrs.get('units', '')} "
              f"(P{lo:g} {plo:.6g}, P{hi:g} {phi:.6g})")


def run(args: argparse.Namespace) -> int:
    from ..errors import PkpdError
    from ..simulation import simulate

    if args.n is not None and args.n < 1:
        raise PkpdError(f"--n {args.n}: must be a positive number of replicates")
    if args.every < 1:
        raise PkpdError(f"--every {args.every}: must be at least 1")
    check_dataset_path(args.out)
    if args.csv is not None and not args.csv.lower().endswith(".csv"):
        raise PkpdError(f"--csv {args.csv!r}: expected a name ending in .csv")
    model = load(args.model)
    patient = make_patient(patient_items(args.patient, args.cov))
    if args.n is None:
        ds = simulate(model, args.regimen, patient, times=args.times)
    else:
        with working(f"simulating {args.n} replicates"):
            ds = simulate(model, args.regimen, patient, times=args.times, n=args.n,
                          seed=args.seed)
    unit = model.time_unit
    print(f"model {model.name}: {summary_line(model.description)}")
    print(f"regimen: {args.regimen}")
    if patient is not None:
        print("patient: " + ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                                      for k, v in patient.covariates.items()))
    if args.n is None:
        _print_typical(ds, args.every, unit)
    else:
        _print_band(ds, args.every, unit, args.n)
    for path in (args.out, args.csv):
        if path:
            write_dataset(ds, path)
            wrote(path)
    if args.plot:
        from ..plot import concentration_time

        variables = _outputs(ds) if args.n is not None else None
        concentration_time(ds, variables=variables, title=f"{model.name}: {args.regimen}",
                           doses=args.regimen, path=args.plot)
        wrote(args.plot)
    return 0
