"""Population fits: wall time of FOCE-I and SAEM on theophylline (12 subjects, 132 levels;
../shared/data/theophylline.csv) and of FOCE-I on 100 simulated subjects (one compartment,
oral, block omega, combined error, 9 levels each), warm (kernels compiled and cached).

Usage::

    python benchmarks/population.py [--repeat 3] [--no-large] [--no-nlme]

Prints a markdown table and one JSON line: for each fit the median and range of the wall time
(covariance step included), outer iterations, time per iteration, engine calls and subject
solves; and, as the baseline measured in the same run, R's nlme fitting the same theophylline
model (closed form, maximum likelihood, Lindstrom-Bates) through ``Rscript``, both its own fit
time and the wall time of the whole R process. The data folder is found as in the tests
(``PKPD_SHARED_DIR``, default ``../shared`` next to the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import pkpd
from pkpd.testing import analytic

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PKPD_SHARED_DIR", ROOT.parent / "shared"))


def large_problem() -> tuple[pkpd.Model, pd.DataFrame, dict[str, float]]:
    """100 subjects simulated with numpy (the closed form of pkpd.testing.analytic), as in
    the recovery tests."""
    mb = pkpd.ModelBuilder("one_cmt_oral_block", time_unit="h")
    mb.states(depot="mg", central="mg")
    mb.parameters(TVKA="1.2 1/h", TVCL="4 L/h", TVV="40 L")
    mb.etas(eta_KA=0.16)
    mb.omega_block(["eta_CL", "eta_V"], [[0.09, 0.045], [0.045, 0.0625]])
    mb.derive("KA", "TVKA * exp(eta_KA)")
    mb.derive("CL", "TVCL * exp(eta_CL)")
    mb.derive("V", "TVV * exp(eta_V)")
    mb.ode("depot", "-KA * depot")
    mb.ode("central", "KA * depot - CL / V * central")
    mb.output("CP", "central / V", unit="mg/L")
    mb.route("PO", "depot")
    mb.error("CP", additive=0.1, proportional=0.1)
    model = mb.build()
    rng = np.random.default_rng(1)
    times = np.array([0.5, 1, 2, 3, 4, 6, 8, 12, 24])
    eta = rng.multivariate_normal(np.zeros(3), np.asarray(model.omega), 100)
    ka, cl, v = 1.2 * np.exp(eta[:, 0]), 4.0 * np.exp(eta[:, 1]), 40.0 * np.exp(eta[:, 2])
    f = analytic.one_cmt_oral(times, [(0.0, 400.0)], cl[:, None], v[:, None], ka[:, None])
    y = f + np.hypot(0.1, 0.1 * f) * rng.standard_normal(f.shape)
    rows = []
    for i in range(100):
        rows.append({"ID": i + 1, "TIME": 0.0, "AMT": 400.0, "EVID": 1, "CMT": 1,
                     "DV": np.nan, "MDV": 1})
        rows += [{"ID": i + 1, "TIME": t, "AMT": 0.0, "EVID": 0, "CMT": 2, "DV": c, "MDV": 0}
                 for t, c in zip(times, y[i], strict=True)]
    start = {"TVKA": 0.8, "TVCL": 6.0, "TVV": 30.0, "omega(eta_KA)": 0.3,
             "omega(eta_CL)": 0.2, "omega(eta_CL,eta_V)": 0.0, "omega(eta_V)": 0.2,
             "CP.additive": 0.2, "CP.proportional": 0.2}
    return model, pd.DataFrame(rows), start


def measure(name: str, fit_once, repeat: int) -> dict:
    fit_once()                                  # warm-up: compile and cache the kernels
    times, fit = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        fit = fit_once()
        times.append(time.perf_counter() - t0)
    iterations = len(fit.history) - 1
    median = statistics.median(times)
    print(f"  {name}: {median:.2f} s, OFV {fit.ofv:.3f}, {fit.status}", file=sys.stderr)
    return {"fit": name, "median_s": median, "min_s": min(times), "max_s": max(times),
            "iterations": iterations, "ms_per_iteration": 1e3 * median / max(iterations, 1),
            "engine_calls": fit.details["n_simulations"],
            "subject_solves": fit.details["n_subject_solves"], "ofv": fit.ofv,
            "success": fit.success, "subjects": fit.n_subjects, "observations": fit.n_obs}


def nlme_baseline() -> dict | None:
    script = ROOT / "validation" / "references" / "nlme_theophylline.R"
    try:
        t0 = time.perf_counter()
        out = subprocess.run(["Rscript", str(script), str(SHARED / "data" / "theophylline.csv")],
                             capture_output=True, text=True, timeout=300, check=True)
        wall = time.perf_counter() - t0
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"  nlme: not run ({exc})", file=sys.stderr)
        return None
    ref = json.loads(out.stdout)["diagonal"]
    return {"fit": "theophylline nlme (R, closed form, ML)", "median_s": ref["seconds"],
            "process_s": wall, "ofv": ref["ofv_nonmem_scale"], "iterations": ref["n_iterations"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-large", action="store_true")
    parser.add_argument("--no-nlme", action="store_true")
    args = parser.parse_args()
    cm = pkpd.compile_model(pkpd.load_model("theophylline_1cmt"))
    data = pkpd.read_nonmem(SHARED / "data" / "theophylline.csv", model=cm.model)
    rows = [measure("theophylline FOCE-I", lambda: pkpd.fit_population(cm, data, "focei"),
                    args.repeat),
            measure("theophylline SAEM (500 iterations)",
                    lambda: pkpd.fit_population(cm, data, "saem", seed=1), args.repeat)]
    if not args.no_large:
        model, frame, start = large_problem()
        big = pkpd.compile_model(model)
        rows.append(measure("100 subjects FOCE-I", lambda: pkpd.fit_population(
            big, frame, "focei", initial=start), max(1, args.repeat - 2)))
    if not args.no_nlme:
        ref = nlme_baseline()
        if ref is not None:
            rows.append(ref)
    print("| fit | wall time (median) | iterations | per iteration | engine calls | OFV |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        per = f"{r['ms_per_iteration']:.0f} ms" if "ms_per_iteration" in r else "–"
        print(f"| {r['fit']} | {r['median_s']:.2f} s | {r.get('iterations', '–')} | {per} | "
              f"{r.get('engine_calls', '–')} | {r['ofv']:.3f} |")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
