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


def _run_startup(code: str, env: dict[str, str]) -> dict[str, float] | str:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=900)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "wall": wall}


def startup_times(spec: workloads.WorkloadSpec) -> dict[str, object]:
    """Start-up in fresh processes: import + load_model + compile + first simulate (N = 1).

    cold: empty PKPD_CACHE_DIR and NUMBA_CACHE_DIR; warm: both filled by the cold start;
    new model: NUMBA_CACHE_DIR filled (the engine is cached) but an empty PKPD_CACHE_DIR (the
    model's kernels are generated and compiled)."""
    eta = workloads.cohort(spec.key, 1).eta[0].tolist()
    code = _STARTUP.format(name=spec.library_name, eta=eta, columns=list(spec.eta_names),
                           output=spec.outputs[0])
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="pkpd-bench-") as tmp:
        env = {**os.environ, "PKPD_CACHE_DIR": str(Path(tmp, "pkpd")),
               "NUMBA_CACHE_DIR": str(Path(tmp, "numba"))}
        for label, extra in (("cold", {}), ("warm", {}),
                             ("new model", {"PKPD_CACHE_DIR": str(Path(tmp, "pkpd-new"))})):
            out[label] = _run_startup(code, {**env, **extra})
            if isinstance(out[label], str):
                break
    return out


def import_time() -> float | str:
    """Cumulative import time of ``pkpd`` (s) from ``python -X importtime -c 'import pkpd'``,
    median of 3 fresh processes."""
    times = []
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import pkpd"],
                              capture_output=True, text=True, timeout=120)
        for line in proc.stderr.splitlines():
            parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
            if len(parts) == 3 and parts[2] == "pkpd":
                times.append(int(parts[1]) * 1e-6)
        if not times:
            return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return statistics.median(times)


def memory_runs(log: Callable[[str], None]) -> dict[str, dict | str]:
    """benchmarks/memory.py in fresh processes: zarr N = 10^6 (chunks 10^5), in memory N = 10^5."""
    out: dict[str, dict | str] = {}
    for label, args in (("zarr", ["zarr", "--n", "1000000", "--chunks", "100000"]),
                        ("memory", ["memory", "--n", "100000"])):
        log(f"  memory: {' '.join(args)}")
        proc = subprocess.run([sys.executable, str(HERE / "memory.py"), *args],
                              capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            out[label] = "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
        else:
            out[label] = json.loads(proc.stdout.strip().splitlines()[-1])
        log(f"    {out[label]}")
    return out


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


def _fmt_n(n: int) -> str:
    return f"10^{len(str(n)) - 1}" if n >= 1000 and str(n).strip("0") == "1" else str(n)


def model_table(spec: workloads.WorkloadSpec, sizes: list[int], results: list[ToolResult],
                pkpd_result: ToolResult, title: str) -> list[str]:
    head = ["tool", "setup + first call", *[f"N={_fmt_n(n)}" for n in sizes], "max rel err",
            "scaled err"]
    lines = [f"### {spec.key}: {title} (subjects per second)", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in [*results, pkpd_result]:
        if not r.rate:
            lines.append(f"| {r.name} | {r.note} |" + " |" * (len(head) - 2))
            continue
        err = ["", ""] if r.err is None else [f"{r.err[0]:.2e}", f"{r.err[1]:.2e}"]
        cells = [r.name, _fmt_time(r.first_call), *[_fmt_rate(r.rate.get(n)) for n in sizes],
                 *err]
        lines.append("| " + " | ".join(cells) + " |")
    if pkpd_result.rate:
        for r in results:
            if r.rate:
                cells = [f"ratio pkpd / {r.name}", "",
                         *[_fmt_ratio(pkpd_result.rate.get(n), r.rate.get(n)) for n in sizes],
                         "", ""]
                lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


@dataclass
class Target:
    what: str
    goal: str
    value: str
    ok: bool | None          # None: not measured / not applicable


def speed_targets(key: str, pk: ToolResult, peer: ToolResult, factor: float, sizes: list[int],
                  label: str, fallback_last: bool = False) -> list[Target]:
    """pkpd rate / peer rate >= factor at each N >= 10^4 (10^3 for fallback) where pkpd ran.

    With ``fallback_last``, a size the peer did not run is compared with the peer's measured
    rate at its largest measured size (said so in the row)."""
    rows = []
    peer_sizes = [n for n in sizes if peer.rate.get(n) is not None]
    for n in [n for n in sizes if n >= (1000 if fallback_last else 10_000)]:
        what = f"{key} speed N={_fmt_n(n)}: pkpd / {label}"
        mine, theirs, how = pk.rate.get(n), peer.rate.get(n), ""
        if mine is None:
            rows.append(Target(what, f">= {factor:g}x", "pkpd not run at this N (extrap.)", None))
            continue
        if theirs is None and fallback_last and peer_sizes:
            last = peer_sizes[-1]
            theirs, how = peer.rate[last], f" ({label} rate measured at N={_fmt_n(last)})"
        if theirs is None:
            rows.append(Target(what, f">= {factor:g}x", f"{label} not run at this N (extrap.)",
                               None))
            continue
        ratio = mine / theirs
        rows.append(Target(what, f">= {factor:g}x",
                           f"{ratio:.3g}x ({_fmt_rate(mine)} vs {_fmt_rate(theirs)}/s){how}",
                           ratio >= factor))
    return rows


def targets_table(tools: dict[str, dict[str, ToolResult]], sizes: list[int],
                  startup: dict[str, dict], imp: float | str | None,
                  memory: dict[str, dict | str] | None) -> list[str]:
    rows: list[Target] = []
    if "M1" in tools:
        t = tools["M1"]
        rows += speed_targets("M1", t["pkpd"], t["closed"], 20.0, sizes, "numpy closed form")
        err = t["pkpd"].err
        rows.append(Target("M1 max rel err of pkpd vs closed form", "<= 1e-10",
                           "not measured" if err is None else f"{err[0]:.2e}",
                           None if err is None else err[0] <= 1e-10))
    if "M2" in tools:
        t = tools["M2"]
        if t["numbalsoda"].rate:
            rows += speed_targets("M2", t["pkpd"], t["numbalsoda"], 2.0, sizes,
                                  "numbalsoda DOP853")
        else:
            n = 10_000
            mine = t["pkpd"].rate.get(n)
            context = (f"; pkpd at N=10^4: {_fmt_rate(mine)}/s = {mine / 6100:.3g}x that figure"
                       if mine else "")
            rows.append(Target("M2 speed: pkpd / numbalsoda DOP853", ">= 2x",
                               "numbalsoda not installed here; WORKLOAD's figure 6 100/s on this "
                               "machine kind used as context, not a measurement" + context, None))
        rows += speed_targets("M2", t["pkpd"], t["scipy"], 100.0, sizes,
                              "scipy solve_ivp LSODA", fallback_last=True)
        err = t["pkpd"].err
        rows.append(Target("M2 max rel err of pkpd vs DOP853 1e-12", "< 1e-5",
                           "not measured" if err is None else f"{err[0]:.2e}",
                           None if err is None else err[0] < 1e-5))
    if imp is not None:
        rows.append(Target("`import pkpd` (cumulative, -X importtime)", "< 0.5 s",
                           _fmt_time(imp) if isinstance(imp, float) else imp,
                           imp < 0.5 if isinstance(imp, float) else False))
    for key, st in startup.items():
        for label, goal, limit in (("cold", "< 10 s", 10.0), ("new model", "(none)", None),
                                   ("warm", "< 1 s", 1.0)):
            v = st.get(label, "not run")
            value = _fmt_time(v["total"]) if isinstance(v, dict) else str(v)
            ok = (v["total"] < limit if isinstance(v, dict) else False) if limit else None
            rows.append(Target(f"{key} {label} start (fresh process, N=1)", goal, value, ok))
    if memory:
        z = memory.get("zarr")
        value = (f"{z['peak_rss'] / 2**30:.2f} GiB, {z['wall']:.1f} s" if isinstance(z, dict)
                 else str(z))
        rows.append(Target("peak RSS, simulate_to_zarr M1 N=10^6 (chunks 10^5)", "< 2 GB", value,
                           z["peak_rss"] < 2e9 if isinstance(z, dict) else False))
    lines = ["### Targets (ratios measured in this run)", "",
             "| target | goal | measured | pass |", "| --- | --- | --- | --- |"]
    for r in rows:
        verdict = "–" if r.ok is None else ("pass" if r.ok else "**FAIL**")
        lines.append(f"| {r.what} | {r.goal} | {r.value} | {verdict} |")
    return [*lines, ""]


def startup_table(startup: dict[str, dict], imp: float | str) -> list[str]:
    lines = ["### pkpd start-up (fresh processes, first simulate with N = 1)", "",
             f"`import pkpd`: {_fmt_time(imp) if isinstance(imp, float) else imp} "
             "(cumulative, `python -X importtime`, median of 3).", "",
             "| model | start | total | import / load_model / simulate N=1 | process wall |",
             "| --- | --- | --- | --- | --- |"]
    for key, st in startup.items():
        for label in ("cold", "new model", "warm"):
            v = st.get(label, "not run")
            if isinstance(v, dict):
                split = " / ".join(_fmt_time(v[k]) for k in ("import", "load", "simulate"))
                lines.append(f"| {key} | {label} | {_fmt_time(v['total'])} | {split} | "
                             f"{_fmt_time(v['wall'])} |")
            else:
                lines.append(f"| {key} | {label} | {v} | | |")
    return [*lines, ""]


def memory_table(memory: dict[str, dict | str]) -> list[str]:
    lines = ["### pkpd peak memory (fresh processes, M1, 337 output times)", "",
             "| run | peak RSS | RSS before the run | wall time of the run | note |",
             "| --- | --- | --- | --- | --- |"]
    for label, title in (("zarr", "simulate_to_zarr N=10^6, chunks of 10^5"),
                         ("memory", "in-memory simulate N=10^5")):
        v = memory.get(label, "not run")
        if isinstance(v, dict):
            note = (f"store {v['store_bytes'] / 2**30:.2f} GiB on disk (deleted)"
                    if "store_bytes" in v else "")
            lines.append(f"| {title} | {v['peak_rss'] / 2**30:.2f} GiB | "
                         f"{v['rss_before'] / 2**30:.2f} GiB | {_fmt_time(v['wall'])} | {note} |")
        else:
            lines.append(f"| {title} | {v} | | | |")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,1000,10000,100000,1000000",
                        help="comma-separated cohort sizes (default: 1,1000,10000,100000,1000000)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run with N = 1, 100 (no start-up, no memory runs)")
    parser.add_argument("--models", default="M1,M2", help="workloads to run (default: M1,M2)")
    parser.add_argument("--no-startup", action="store_true",
                        help="skip the import / cold / new-model / warm start subprocesses")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak-memory subprocesses (benchmarks/memory.py)")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "latest.md",
                        help="where to write the Markdown report")
    args = parser.parse_args(argv)
    sizes = [1, 100] if args.quick else sorted({int(s) for s in args.sizes.split(",")})
    if 1 not in sizes:
        sizes = [1, *sizes]
    keys = [k.strip().upper() for k in args.models.split(",")]

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    workloads.check_cohorts()
    threads = os.environ.get("PKPD_NUM_THREADS") or os.environ.get("NUMBA_NUM_THREADS") \
        or str(os.cpu_count())
    report = ["# pkpd benchmark: standard workloads", "",
              f"{time.strftime('%Y-%m-%d %H:%M')}, Python {platform.python_version()}, "
              f"numpy {np.__version__}, scipy {scipy.__version__}, {os.cpu_count()} cores, "
              f"rtol {RTOL:g}, atol {ATOL:g}, 14 doses of 500 mg, 337 outputs per subject. "
              "Subjects per second = N / median wall time (median of 5 runs for the closed "
              "form, 3 otherwise, 1 if a run takes > 20 s); `extrap.` = not run (projected > "
              f"{PROJECTED_LIMIT:.0f} s, or a smaller size took > {LAST_SIZE_SECONDS:.0f} s), "
              f"not a measurement. pkpd runs on {threads} thread(s); the baselines and peers "
              "are single-threaded.", ""]
    titles = {"M1": "linear two-compartment, first-order absorption",
              "M2": "Michaelis-Menten elimination + indirect response"}

    startup: dict[str, dict] = {}
    tools: dict[str, dict[str, ToolResult]] = {}
    for key in keys:
        spec = workloads.WORKLOADS[key]
        log(f"{key}: drawing cohorts")
        cohorts = {n: workloads.cohort(key, n) for n in sizes}
        acc = workloads.accuracy_cohort(key)
        if key == "M1":
            ref = baselines.m1_reference(acc)
        else:
            log("  tight DOP853 reference (21 subjects)")
            ref = baselines.m2_reference(acc)
        plan: list[tuple[str, str, Callable, int]] = []
        if key == "M1":
            plan.append(("closed", "numpy closed form", lambda: baselines.m1_closed_form, 5))
        plan += [
            ("scipy", "scipy solve_ivp LSODA (Python RHS)",
             lambda key=key: baselines.scipy_lsoda(key), 3),
            ("numbalsoda", "numbalsoda DOP853 (numba loop)",
             lambda key=key: baselines.numbalsoda_dop853(key), 3),
            ("roadrunner", "libroadrunner CVODE (SBML events)",
             lambda key=key: baselines.roadrunner_cvode(key), 3),
            ("pkpd", "pkpd", pkpd_runner(spec), 3),
        ]
        tools[key] = {tag: measure(name, make, key, sizes, cohorts, ref, repeats, log)
                      for tag, name, make, repeats in plan}
        peers = [r for tag, r in tools[key].items() if tag != "pkpd"]
        report += model_table(spec, sizes, peers, tools[key]["pkpd"], titles[key])
        if tools[key]["pkpd"].rate and not (args.no_startup or args.quick):
            log("  pkpd start-up (cold, warm, new model)")
            startup[key] = startup_times(spec)
        del cohorts

    imp = None
    if startup:
        imp = import_time()
        report += startup_table(startup, imp)
    memory = None
    if not (args.no_memory or args.quick):
        log("pkpd peak memory")
        memory = memory_runs(log)
        report += memory_table(memory)
    report += targets_table(tools, sizes, startup, imp, memory)

    text = "\n".join(report)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    log(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
