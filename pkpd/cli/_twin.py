"""``pkpd twin``: individualise a model on one patient's levels (MAP) and recommend a dose."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Any

from ..errors import PkpdError
from ._common import (
    DATA_HELP,
    MODEL_HELP,
    Formatter,
    add_patient_args,
    load,
    make_patient,
    patient_items,
    print_frame,
    read_data,
    working,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..dosing import Target
    from ..model import Model

#: The default regimen of a recommendation lasts this many days; its last day is evaluated.
DAYS = 4

EPILOG = f"""\
examples:
  pkpd twin theophylline.csv theophylline_1cmt --id 3
  pkpd twin theophylline.csv theophylline_1cmt --id 3 --target "AUC24 200-300 mg*h/L"
  pkpd twin patient.csv vancomycin_goti2018 --patient AGE=68,SEX=M,WT=92kg,SCR=1.4mg/dL \\
      --target "AUC24 400-600 mg*h/L" --start "48 h"

The subject's doses, levels and covariates come from the dataset (--id selects the subject
when it holds several); --patient adds or overrides covariates. The estimates (etas with
their posterior SD), the individual parameters and the fit of each level are printed.

--target "KIND LOW-HIGH [UNIT]" asks for the regimen of a clinical grid (doses 250 mg to 3 g,
every 6, 8, 12 or 24 h) that brings this patient into the window: KIND is AUC24 (AUC over
the last 24 h; AUC12 etc. likewise), trough or peak. By default each candidate is
"{{dose}} ROUTE every {{interval}} for {DAYS} days" (an IV model: over 1 h) evaluated on its
last day; --template and --window change both, --start continues the dose history instead.
The probability of target attainment comes from --draws posterior draws."""

_TARGET = re.compile(r"^\s*(?P<kind>auc(?P<over>\d+(?:\.\d+)?)?|trough|peak)\s+"
                     r"(?P<low>[0-9.eE+]+)\s*-\s*(?P<high>[0-9.eE+]+)\s*(?P<unit>.*?)\s*$",
                     re.IGNORECASE)


def add_parser(sub: Any) -> None:
    t = sub.add_parser(
        "twin", help="individualise a model on one patient's levels and recommend a dose",
        formatter_class=Formatter, epilog=EPILOG,
        description="Fit a model to one subject's doses and levels (maximum a posteriori: "
                    "the population model as prior) and, with a target, recommend a regimen.")
    t.add_argument("data", help=DATA_HELP)
    t.add_argument("model", help=MODEL_HELP)
    t.add_argument("--id", help="the subject's ID in the dataset (needed when it holds several)")
    add_patient_args(t)
    t.add_argument("--method", choices=("map", "ml"), default="map",
                   help="map: posterior mode (default); ml: likelihood alone")
    t.add_argument("--lloq", type=float, metavar="VALUE",
                   help="lower limit of quantification (output units)")
    t.add_argument("--target", metavar="'KIND LOW-HIGH [UNIT]'",
                   help="exposure target, e.g. 'AUC24 400-600 mg*h/L', 'trough 10-15 mg/L'")
    t.add_argument("--auc", metavar="LOW-HIGH",
                   help="an AUC target in mg*h/L over --over (older spelling of --target)")
    t.add_argument("--over", default="24 h", metavar="DURATION",
                   help="the AUC duration of --auc (default: 24 h)")
    t.add_argument("--template", metavar="TEXT",
                   help="regimen template with {dose} and {interval}, e.g. "
                        "'{dose} IV over 1 h every {interval} for 4 days'")
    t.add_argument("--window", metavar="START,END",
                   help="the evaluation window, e.g. '120 h,144 h' (default: the last day of "
                        "the default template's regimen)")
    t.add_argument("--start", metavar="TIME",
                   help="start the regimen after the dose history at this time, e.g. '48 h'")
    t.add_argument("--draws", type=int, default=500, metavar="N",
                   help="posterior draws for the probability of target attainment "
                        "(default: %(default)s; 0: none)")
    t.add_argument("--seed", type=int, default=1, metavar="N",
                   help="seed of the draws (default: 1)")
    t.set_defaults(run=run)


def parse_target(text: str) -> tuple[Target, str]:
    """A target of ``"AUC24 400-600 mg*h/L"``, ``"trough 10-15 mg/L"``, ``"peak 20-40"``, and
    its name for the report."""
    from ..dosing import AUC, Peak, Trough

    m = _TARGET.match(text)
    if m is None:
        raise PkpdError(f"--target {text!r}: expected KIND LOW-HIGH [UNIT] with KIND AUC24, "
                        "trough or peak, e.g. 'AUC24 400-600 mg*h/L'")
    try:
        low, high = float(m["low"]), float(m["high"])
    except ValueError:
        raise PkpdError(f"--target {text!r}: LOW-HIGH must be two numbers") from None
    kind, unit = m["kind"].lower(), m["unit"] or None
    if kind.startswith("auc"):
        over = f"{m['over'] or 24} h"
        return AUC(low, high, unit=unit or "mg*h/L", over=over), f"AUC{m['over'] or 24}"
    cls = Trough if kind == "trough" else Peak
    return cls(low, high, unit=unit), kind


def _template(model: Model) -> str:
    routes = list(getattr(model, "routes", {}) or {})
    if "IV" in routes or not routes:
        return f"{{dose}} IV over 1 h every {{interval}} for {DAYS} days"
    return f"{{dose}} {routes[0]} every {{interval}} for {DAYS} days"


def _window(args: argparse.Namespace, time_unit: str) -> tuple[str, str]:
    if args.window:
        start, sep, end = args.window.partition(",")
        if not sep or not start.strip() or not end.strip():
            raise PkpdError(f"--window {args.window!r}: expected START,END, e.g. '120 h,144 h'")
        return start.strip(), end.strip()
    if args.template:
        raise PkpdError("--template needs --window START,END, e.g. --window '120 h,144 h'")
    from ..units import convert

    offset = convert(args.start, time_unit, what="--start") if args.start else 0.0
    day = convert("1 day", time_unit, what="--window")
    return (f"{offset + (DAYS - 1) * day:g} {time_unit}", f"{offset + DAYS * day:g} {time_unit}")


def _subject(data: Any, wanted: str | None) -> Any:
    if wanted is None:
        if len(data.ids) > 1:
            shown = ", ".join(str(i) for i in data.ids[:10])
            raise PkpdError(f"the dataset holds {len(data.ids)} subjects (IDs {shown}"
                            f"{', ...' if len(data.ids) > 10 else ''}): choose one with --id")
        return data
    for i in data.ids:
        if str(i) == wanted or (isinstance(i, int | float) and _number(wanted) == i):
            return data.subject(i)
    return data.subject(wanted)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def run(args: argparse.Namespace) -> int:
    from ..dosing import AUC, optimise
    from ..estimation import fit_individual

    if args.auc and args.target:
        raise PkpdError("give either --target or --auc, not both")
    if args.auc and not args.window:
        raise PkpdError("--auc LOW-HIGH needs --window START,END, e.g. --auc 400-600 "
                        "--window '120 h,144 h'")
    model = load(args.model)
    data = _subject(read_data(args.data, model=model), args.id)
    patient = make_patient(patient_items(args.patient, args.cov))
    with working("individual fit"):
        fit = fit_individual(model, data, patient=patient, method=args.method, lloq=args.lloq)
    ident = f" ID {data.ids[0]}" if args.id is not None else ""
    print(f"model {model.name}{ident}: {args.method.upper()} fit of {len(fit.predictions)} "
          f"level(s), OFV {fit.ofv:.3f} ({fit.gradient} gradient, {fit.elapsed * 1000:.0f} ms)")
    print(fit.summary().round(4).to_string())
    print("individual: " + ", ".join(f"{k} = {v:.4g}" for k, v in fit.individual.items()))
    cols = [c for c in ("TIME", "OUTPUT", "DV", "PRED", "IPRED", "IWRES") if c in fit.predictions]
    print_frame(fit.predictions[cols], index=False)
    if not (args.target or args.auc):
        return 0
    if args.auc:
        low, _, high = args.auc.partition("-")
        try:
            target: Any = AUC(float(low), float(high), over=args.over)
        except ValueError:
            raise PkpdError(f"--auc {args.auc!r}: expected two numbers, e.g. 400-600") from None
        label = "AUC"
    else:
        target, label = parse_target(args.target)
    template = args.template or _template(model)
    window = _window(args, model.time_unit)
    if args.draws < 0:
        raise PkpdError(f"--draws {args.draws}: must be 0 or more")
    with working("dose search"):
        rec = optimise(model, target, template=template, window=window, patient=patient,
                       fit=fit, n=args.draws, seed=args.seed, start=args.start)
    unit = getattr(target, "unit", None) or ""
    band = f", 90 % band {rec.band[0]:.4g}-{rec.band[1]:.4g}" if rec.band else ""
    pta = f", PTA {rec.pta:.2f}" if rec.pta is not None else ""
    print(f"target: {label} {target.low:g}-{target.high:g} {unit}".rstrip()
          + f" over {window[0]} to {window[1]}")
    print(f"recommended: {rec.regimen_text}" + (f" (from {args.start})" if args.start else ""))
    print(f"predicted {label} {rec.predicted:.4g}{band}{pta}")
    return 0
