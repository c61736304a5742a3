"""Run the standard workloads M1 and M2 with pkpd and the baselines, side by side.

Usage::

    python benchmarks/run.py                 # N = 1, 10^3, 10^4, 10^5, 10^6 (about 20 min)
    python benchmarks/run.py --quick         # smoke run, N = 1, 100
    python benchmarks/run.py --sizes 1,1000 --models M2 --no-startup --no-memory

Prints Markdown tables (subjects per second, ratios, accuracy, start-up times, peak memory, the
targets with pass/fail) and writes them to ``benchmarks/results/latest.md``. See
``benchmarks/README.md`` for the meaning of each column.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baselines  # noqa: E402
import workloads  # noqa: E402

RTOL, ATOL = 1e-6, 1e-9
LAST_SIZE_SECONDS = 60.0      # a size whose run takes longer is the last one run
PROJECTED_LIMIT = 180.0       # a size projected to take longer is not run
SINGLE_RUN_SECONDS = 20.0     # one run only if a run takes longer


@dataclass
class ToolResult:
    name: str
    note: str = ""                                            # why it was not run
    first_call: float | None = None                           # setup + first call (s)
    rate: dict[int, float | None] = field(default_factory=dict)   # N -> subjects/s (None: extrap.)
    err: tuple[float, float] | None = None


def time_sizes(run: Callable[[int], object], sizes: list[int], repeats: int,
               log: Callable[[str], None]) -> dict[int, float | None]:
    """Subjects per second at each size, following the WORKLOAD.md timing protocol."""
    rates: dict[int, float | None] = {}
    per_subject: float | None = None
    stop = False
    for n in sizes:
        if stop or (per_subject is not None and per_subject * n > PROJECTED_LIMIT):
            rates[n] = None
            stop = True
            continue
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run(n)
            runs.append(time.perf_counter() - t0)
            if runs[-1] > SINGLE_RUN_SECONDS:
                break
        median = statistics.median(runs)
        rates[n] = n / median
        per_subject = median / n
        log(f"    N={n}: {median:.4g} s ({len(runs)} run(s))")
        stop = median > LAST_SIZE_SECONDS
    return rates


def measure(name: str, make: Callable[[], Callable | str], key: str, sizes: list[int],
            cohorts: dict[int, workloads.Cohort], ref: dict, repeats: int,
            log: Callable[[str], None]) -> ToolResult:
    """Setup + first call (N = 1), accuracy, then the timing protocol over ``sizes``.

    ``make`` builds the tool (imports, model build, compilation...) and returns a function
    cohort -> outputs, or a note saying why the tool is not available."""
    log(f"  {name}")
    t0 = time.perf_counter()
    try:
        fn = make()
        if isinstance(fn, str):
            log(f"    {fn}")
            return ToolResult(name, note=fn)
        fn(cohorts[1])
    except Exception as exc:  # an optional peer or an incomplete API: report, go on
        note = f"not available ({type(exc).__name__}: {exc})"
        log(f"    {note}")
        return ToolResult(name, note=note)
    result = ToolResult(name, first_call=time.perf_counter() - t0)
    result.err = baselines.errors(fn(workloads.accuracy_cohort(key)), ref)
    result.rate = time_sizes(lambda n: fn(cohorts[n]), sizes, repeats, log)
    return result


# --------------------------------------------------------------------------------------------
# pkpd
# --------------------------------------------------------------------------------------------

def pkpd_runner(spec: workloads.WorkloadSpec) -> Callable[[], Callable]:
    """A factory of the function cohort -> outputs calling pkpd's public API."""

    def make() -> Callable[[workloads.Cohort], dict[str, np.ndarray]]:
        import pkpd

        model = pkpd.load_model(spec.library_name)
        regimen = pkpd.Regimen.repeat(pkpd.Dose(f"{workloads.DOSE_AMOUNT:g} mg", into="depot"),
                                      every=f"{workloads.DOSE_INTERVAL:g} h",
                                      count=workloads.DOSE_COUNT)
        if note := _check_typical_values(model, spec):
            raise RuntimeError(note)

        def run(cohort: workloads.Cohort) -> dict[str, np.ndarray]:
            ds = pkpd.simulate(model, regimen, params=cohort.frame(), times=workloads.TIMES,
                               rtol=RTOL, atol=ATOL)
            return {name: np.asarray(ds[name].transpose("id", "time").values, dtype=float)
                    for name in spec.outputs}

        return run

    return make


def _check_typical_values(model: object, spec: workloads.WorkloadSpec) -> str:
    values = {p.name: p.value for p in getattr(model, "parameters", ())}
    wrong = [f"{k}={values[k]} (workload: {v})" for k, v in spec.typical.items()
             if k in values and not np.isclose(values[k], v, rtol=1e-12)]
    return ("typical values differ from WORKLOAD.md: " + ", ".join(wrong)) if wrong else ""


_STARTUP = textwrap.dedent("""
    import json, time
    t0 = time.perf_counter()
    import pkpd
    t1 = time.perf_counter()
    import numpy as np, pandas as pd
    model = pkpd.load_model({name!r})
    t2 = time.perf_counter()
    regimen = pkpd.Regimen.repeat(pkpd.Dose("500 mg", into="depot"), every="12 h", count=14)
    frame = pd.DataFrame([{eta!r}], columns={columns!r})
    ds = pkpd.simulate(model, regimen, params=frame, times=0.5 * np.arange(337),
                       rtol=1e-6, atol=1e-9)
    np.asarray(ds[{output!r}])
    t3 = time.perf_counter()
    print(json.dumps({{"import": t1 - t0, "load": t2 - t1, "simulate": t3 - t2,
                      "total": t3 - t0}}))
""")


def startup_times(spec: workloads.WorkloadSpec) -> dict[str, object]:
    """Cold start (empty caches) and warm start (same caches again), each in a fresh process."""
    eta = workloads.cohort(spec.key, 1).eta[0].tolist()
    code = _STARTUP.format(name=spec.library_name, eta=eta, columns=list(spec.eta_names),
                           output=spec.outputs[0])
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="pkpd-bench-") as tmp:
        env = {**os.environ, "PKPD_CACHE_DIR": str(Path(tmp, "pkpd")),
               "NUMBA_CACHE_DIR": str(Path(tmp, "numba"))}
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                  text=True, timeout=900)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                out[label] = "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
                break
            out[label] = {**json.loads(proc.stdout.strip().splitlines()[-1]), "wall": wall}
    return out


def import_time() -> float | str:
    """Cumulative import time of ``pkpd`` (s) from ``python -X importtime -c 'import pkpd'``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import pkpd"],
                          capture_output=True, text=True, timeout=120)
    for line in proc.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == "pkpd":
            return int(parts[1]) * 1e-6
    return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------

def _fmt_rate(v: float | None) -> str:
    if v is None:
        return "extrap."
    return f"{v:,.0f}".replace(",", " ") if v >= 10 else f"{v:.3g}"


def _fmt_time(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v * 1e3:.3g} ms" if v < 1 else f"{v:.3g} s"


def _fmt_ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or b is None else f"{a / b:.3g}x"


def model_table(spec: workloads.WorkloadSpec, sizes: list[int], results: list[ToolResult],
                pkpd_result: ToolResult | None, title: str) -> list[str]:
    head = ["tool", "setup + first call", *[f"N={n}" for n in sizes], "max rel err",
            "scaled err"]
    lines = [f"### {spec.key}: {title} (subjects per second)", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    rows = [*results, *([pkpd_result] if pkpd_result else [])]
    for r in rows:
        if r.note and not r.rate:
            lines.append(f"| {r.name} | {r.note} |" + " |" * (len(head) - 2))
            continue
        err = ["", ""] if r.err is None else [f"{r.err[0]:.2e}", f"{r.err[1]:.2e}"]
        cells = [r.name + (f" ({r.note})" if r.note else ""), _fmt_time(r.first_call),
                 *[_fmt_rate(r.rate.get(n)) for n in sizes], *err]
        lines.append("| " + " | ".join(cells) + " |")
    if pkpd_result and pkpd_result.rate:
        for r in results:
            if r.rate:
                cells = [f"ratio pkpd / {r.name}", "",
                         *[_fmt_ratio(pkpd_result.rate.get(n), r.rate.get(n)) for n in sizes],
                         "", ""]
                lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,1000,10000",
                        help="comma-separated cohort sizes (default: 1,1000,10000)")
    parser.add_argument("--quick", action="store_true", help="smoke run with N = 1, 100")
    parser.add_argument("--models", default="M1,M2", help="workloads to run (default: M1,M2)")
    parser.add_argument("--no-startup", action="store_true",
                        help="skip the import / cold-start / warm-start subprocesses")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "latest.md",
                        help="where to write the Markdown table")
    args = parser.parse_args(argv)
    sizes = [1, 100] if args.quick else sorted({int(s) for s in args.sizes.split(",")})
    if 1 not in sizes:
        sizes = [1, *sizes]
    keys = [k.strip().upper() for k in args.models.split(",")]

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    workloads.check_cohorts()
    report = ["# pkpd benchmark: standard workloads", "",
              f"{time.strftime('%Y-%m-%d %H:%M')}, Python {platform.python_version()}, "
              f"numpy {np.__version__}, scipy {scipy.__version__}, {os.cpu_count()} cores, "
              f"rtol {RTOL:g}, atol {ATOL:g}, 14 doses of 500 mg, 337 outputs per subject. "
              "Subjects per second = N / median wall time; `extrap.` = not run (projected > "
              f"{PROJECTED_LIMIT:.0f} s), not a measurement.", ""]
    titles = {"M1": "linear two-compartment, first-order absorption",
              "M2": "Michaelis-Menten elimination + indirect response"}

    startup_rows = []
    for key in keys:
        spec = workloads.WORKLOADS[key]
        log(f"{key}: drawing cohorts")
        cohorts = {n: workloads.cohort(key, n) for n in sizes}
        acc = workloads.accuracy_cohort(key)
        if key == "M1":
            ref = baselines.m1_reference(acc)
            tools = [("numpy closed form", baselines.m1_closed_form, 5)]
        else:
            log("  tight DOP853 reference (21 subjects)")
            ref = baselines.m2_reference(acc)
            tools = []
        tools.append(("scipy solve_ivp LSODA (Python RHS)", baselines.scipy_lsoda(key), 3))
        results = []
        for name, fn, repeats in tools:
            results.append(measure(name, fn, key, sizes, cohorts, ref, repeats, log))
        peer = baselines.numbalsoda_dop853(key)
        name = "numbalsoda DOP853 (numba loop)"
        if isinstance(peer, str):
            results.append(ToolResult(name, note=peer))
        else:
            results.append(measure(name, peer, key, sizes, cohorts, ref, 3, log))

        run, note = pkpd_runner(spec)
        if run is None:
            pk = ToolResult("pkpd", note=note)
            log(f"  pkpd: {note}")
        else:
            try:
                pk = measure("pkpd", run, key, sizes, cohorts, ref, 3, log)
                pk.note = note
            except Exception as exc:
                pk = ToolResult("pkpd", note=f"not available ({type(exc).__name__}: {exc})")
                log(f"  pkpd: {pk.note}")
            if pk.rate and not args.no_startup:
                log("  pkpd start-up (cold, warm)")
                startup_rows.append((key, startup_times(spec)))
        report += model_table(spec, sizes, results, pk, titles[key])

    if startup_rows:
        imp = import_time()
        report += ["### pkpd start-up (fresh processes)", "",
                   f"`import pkpd`: {_fmt_time(imp) if isinstance(imp, float) else imp} "
                   "(cumulative, `python -X importtime`).", "",
                   "| model | cold start | warm start | warm: import / load / simulate N=1 |",
                   "| --- | --- | --- | --- |"]
        for key, st in startup_rows:
            cells = []
            for label in ("cold", "warm"):
                v = st.get(label, "not run")
                cells.append(_fmt_time(v["total"]) if isinstance(v, dict) else str(v))
            w = st.get("warm")
            cells.append(" / ".join(_fmt_time(w[k]) for k in ("import", "load", "simulate"))
                         if isinstance(w, dict) else "")
            report.append(f"| {key} | " + " | ".join(cells) + " |")
        report.append("")

    text = "\n".join(report)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    log(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
