"""The team's performance goals: every row measured in one run, printed with met yes/no.

Usage::

    python benchmarks/goals.py            # the whole table (about 5-10 min on 2 cores)
    python benchmarks/goals.py --quick    # smaller cohorts and fewer repeats (smoke run)
    python benchmarks/goals.py --readme   # also rewrite the table in README.md
    python benchmarks/goals.py --readme-only   # copy the last run's table into README.md

Each figure is measured now, in this run, and each speed goal is a ratio against a baseline
measured in the same process (never a timed test). Start-up is measured in fresh processes (the
cold rows with ``PKPD_CACHE_DIR`` and ``NUMBA_CACHE_DIR`` pointed at empty temporary folders);
the speed and fit rows run in a fresh worker process each (``--worker``), with the thread count
set before pkpd is imported. The table goes to stdout and to ``benchmarks/results/goals.md``;
progress goes to stderr. See ``benchmarks/README.md`` for how each row is measured.
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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workloads  # noqa: E402

RESULTS = HERE / "results" / "goals.md"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# workers: one fresh process per measurement, JSON on the last line of stdout
# --------------------------------------------------------------------------------------------

def _median_rate(fn: Callable[[], object], n: int, repeats: int) -> float:
    """Subjects per second: n / median wall time of ``repeats`` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return n / statistics.median(times)


def worker_m1(n: int, repeats: int) -> dict:
    """M1 at N subjects: pkpd (thread count from the environment) vs the numpy closed form."""
    import baselines
    import run

    cohort = workloads.cohort("M1", n)
    pk = run.pkpd_runner(workloads.M1)()
    err = baselines.errors(pk(workloads.accuracy_cohort("M1")),
                           baselines.m1_reference(workloads.accuracy_cohort("M1")))
    return {"n": n, "threads": _threads(),
            "pkpd": _median_rate(lambda: pk(cohort), n, repeats),
            "closed": _median_rate(lambda: baselines.m1_closed_form(cohort), n, repeats),
            "pkpd_err": err}


def worker_m2(n: int, repeats: int) -> dict:
    """M2 at N subjects: pkpd vs numbalsoda DOP853, errors of both vs the DOP853 1e-12 reference."""
    import baselines
    import run

    out: dict = {"n": n, "threads": _threads()}
    acc = workloads.accuracy_cohort("M2")
    ref = baselines.m2_reference(acc)
    cohort = workloads.cohort("M2", n)
    pk = run.pkpd_runner(workloads.M2)()
    out["pkpd_err"] = baselines.errors(pk(acc), ref)
    out["pkpd"] = _median_rate(lambda: pk(cohort), n, repeats)
    peer = baselines.numbalsoda_dop853("M2")
    if isinstance(peer, str):
        out["numbalsoda"] = peer
    else:
        out["numbalsoda_err"] = baselines.errors(peer(acc), ref)
        out["numbalsoda"] = _median_rate(lambda: peer(cohort), n, repeats)
    return out


def worker_fit(repeats: int) -> dict:
    """Warm ``fit_individual`` (MAP, default gradient) of one patient, bundled 1-compartment
    oral model ``theophylline_1cmt``, one 320 mg dose, four levels; ``fit.timed`` warms up."""
    import fit
    import numpy as np
    import pandas as pd

    import pkpd

    cm = pkpd.compile_model(pkpd.load_model("theophylline_1cmt"))
    doses = pd.DataFrame({"ID": 1, "TIME": [0.0], "AMT": 320.0, "EVID": 1, "CMT": 1,
                          "DV": np.nan, "MDV": 1})
    obs = pd.DataFrame({"ID": 1, "TIME": [1.0, 3.5, 7.0, 24.0], "AMT": 0.0, "EVID": 0,
                        "CMT": 2, "DV": [6.1, 8.2, 6.9, 2.3], "MDV": 0})
    data = pkpd.read_nonmem(pd.concat([doses, obs]).reset_index(drop=True), model=cm.model)
    times, result = fit.timed(lambda: pkpd.fit_individual(cm, data), repeats)
    return {"median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times),
            "max_ms": 1e3 * max(times), "repeats": repeats,
            "evaluations": result.n_evaluations}


def worker_chunking(n: int) -> dict:
    """Same seed, same cohort for any chunking: the sampled run of ``memory.py sampled`` (M1,
    ``Population.virtual("adult").sample(n, seed=1)``, IIV and RUV with ``n=1, seed=1``) stored
    with one chunk, chunks of 4096 (multiples of the 1024-subject sampling blocks) and of 3001
    (not aligned with them); CP and CP_obs compared bit for bit."""
    import numpy as np

    import pkpd

    model = pkpd.load_model(workloads.M1.library_name)
    regimen = pkpd.Regimen.repeat(pkpd.Dose("500 mg", into="depot"), every="12 h", count=14)
    frame = pkpd.Population.virtual("adult").sample(n, seed=1)
    stores: dict[int, dict[str, np.ndarray]] = {}
    with tempfile.TemporaryDirectory(prefix="pkpd-goals-") as tmp:
        for chunks in (n, 4096, 3001):
            ds = pkpd.simulate_to_zarr(Path(tmp, f"c{chunks}.zarr"), model, regimen,
                                       patients=frame, times=workloads.TIMES, chunks=chunks,
                                       rtol=1e-6, atol=1e-9, n=1, seed=1)
            stores[chunks] = {k: np.asarray(ds[k].values) for k in ("CP", "CP_obs")}
    same = {str(c): all(np.array_equal(stores[n][k], stores[c][k], equal_nan=True)
                        for k in stores[n]) for c in (4096, 3001)}
    return {"n": n, "same": same, "identical": all(same.values())}


def _threads() -> str:
    return os.environ.get("PKPD_NUM_THREADS") or os.environ.get("NUMBA_NUM_THREADS") \
        or f"all ({os.cpu_count()})"


def run_worker(args: list[str], env: dict[str, str] | None = None,
               timeout: float = 900) -> dict | str:
    """``goals.py --worker ...`` in a fresh process; its JSON, or a note saying why it failed."""
    proc = subprocess.run([sys.executable, __file__, "--worker", *args],
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# start-up: fresh processes through benchmarks/startup.py when present, else run.py's script
# --------------------------------------------------------------------------------------------

def _starter(spec: workloads.WorkloadSpec) -> tuple[str, Callable[[dict[str, str]], dict | str]]:
    """How one fresh process is started and timed, and a note saying which script it runs.

    With ``benchmarks/startup.py``: its ``_once`` (import pkpd, ``load_model`` of the bundled
    model, ``simulate`` of the typical patient on the WORKLOAD grid; the in-process times).
    Without it: ``run.py``'s start-up script (the same steps for subject 1)."""
    if (HERE / "startup.py").exists():
        import startup as st

        def once(env: dict[str, str]) -> dict | str:
            try:
                return st._once(spec.library_name, env)
            except SystemExit as exc:
                return "failed: " + (str(exc).strip().splitlines() or ["?"])[-1]

        return "benchmarks/startup.py", once
    import run

    eta = workloads.cohort(spec.key, 1).eta[0].tolist()
    code = run._STARTUP.format(name=spec.library_name, eta=eta, columns=list(spec.eta_names),
                               output=spec.outputs[0])
    return "run.py's start-up script", lambda env: run._run_startup(code, env)


def _timed(once: Callable[[dict[str, str]], dict | str], env: dict[str, str]) -> dict | str:
    t0 = time.perf_counter()
    r = once(env)
    if isinstance(r, dict):
        r = {**r, "wall": time.perf_counter() - t0}
    return r


def startup(spec: workloads.WorkloadSpec, cold_runs: int, warm_runs: int) -> dict:
    """Fresh-process start-up (import pkpd + load_model + first simulate of one patient) of
    ``spec``'s bundled model.

    cold: each run with its own empty ``PKPD_CACHE_DIR`` and ``NUMBA_CACHE_DIR`` (none when
    ``cold_runs`` is 0); warm: the caches left by the last cold run (without cold runs: the
    usual caches, filled by one untimed run). "total" is timed inside the process from before
    ``import pkpd``; "wall" adds the interpreter start. Medians over the runs; the split of the
    last run is kept."""
    how, once = _starter(spec)
    out: dict = {"how": how}

    def summary(runs: list[dict]) -> dict:
        return {"total": statistics.median(r["total"] for r in runs),
                "wall": statistics.median(r["wall"] for r in runs),
                "runs": [r["total"] for r in runs], "split": runs[-1]}

    with tempfile.TemporaryDirectory(prefix="pkpd-goals-") as tmp:
        env = dict(os.environ)
        cold = []
        for k in range(cold_runs):
            env = {**os.environ, "PKPD_CACHE_DIR": str(Path(tmp, f"pkpd{k}")),
                   "NUMBA_CACHE_DIR": str(Path(tmp, f"numba{k}"))}
            r = _timed(once, env)
            if isinstance(r, str):
                return {**out, "cold": r, "warm": r}
            cold.append(r)
        out["cold"] = summary(cold) if cold else "not measured (--no-cold or --quick)"
        if not cold:
            env = dict(os.environ)                   # the usual caches, as startup.py's warm rows
            r = _timed(once, env)                    # fill the caches, untimed
            if isinstance(r, str):
                return {**out, "warm": r}
        warm = []
        for _ in range(warm_runs):
            r = _timed(once, env)
            if isinstance(r, str):
                return {**out, "warm": r}
            warm.append(r)
        out["warm"] = summary(warm)
    return out


def import_wall(runs: int) -> dict:
    """``python -c 'import pkpd'``: fresh-process wall time, median of ``runs``, and the
    cumulative import time of pkpd from ``-X importtime`` (``run.import_time``)."""
    import run

    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import pkpd"], check=True)
        walls.append(time.perf_counter() - t0)
    return {"importtime": run.import_time(), "wall": statistics.median(walls)}


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------

@dataclass
class Row:
    figure: str
    measured: str
    goal: str
    met: bool | None   # None: not measured


def _t(v: float) -> str:
    return f"{v * 1e3:.3g} ms" if v < 1 else f"{v:.3g} s"


def _rate(v: float) -> str:
    return f"{v:,.0f}".replace(",", " ")


def _verdict(met: bool | None) -> str:
    return "not measured" if met is None else ("yes" if met else "**no**")


def memory_run(mode: str, n: int, chunks: int) -> dict | str:
    """``benchmarks/memory.py <mode>`` in a fresh (small) process: peak RSS and wall time of
    ``simulate_to_zarr`` of M1 ("zarr": the WORKLOAD cohort; "sampled": virtual adults with IIV
    and residual error drawn chunk by chunk)."""
    if mode not in (HERE / "memory.py").read_text():
        return f"not measured: benchmarks/memory.py has no {mode!r} mode"
    proc = subprocess.run([sys.executable, str(HERE / "memory.py"), mode, "--n", str(n),
                           "--chunks", str(chunks)], capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: N = 10^3, no cold start, 10^5-subject zarr runs")
    parser.add_argument("--no-cold", action="store_true",
                        help="skip the cold starts (minutes each: the engine is compiled)")
    parser.add_argument("--output", type=Path, default=RESULTS,
                        help="where to write the Markdown table (default results/goals.md)")
    parser.add_argument("--readme", action="store_true",
                        help="also replace the goals table in the repository's README.md")
    parser.add_argument("--readme-only", action="store_true",
                        help="measure nothing: copy the table of the last run (--output) into "
                             "README.md")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.readme_only:
        update_readme(HERE.parent / "README.md", args.output.read_text())
        return 0

    if args.worker:
        kind, *rest = args.worker
        result = {"m1": lambda: worker_m1(int(rest[0]), int(rest[1])),
                  "m2": lambda: worker_m2(int(rest[0]), int(rest[1])),
                  "fit": lambda: worker_fit(int(rest[0])),
                  "chunking": lambda: worker_chunking(int(rest[0]))}[kind]()
        print(json.dumps(result))
        return 0

    quick = args.quick
    n_speed = 1_000 if quick else 10_000
    n_big, chunks = (100_000, 10_000) if quick else (1_000_000, 100_000)
    cold_runs = 0 if (quick or args.no_cold) else 1
    warm_runs = 3 if quick else 5
    n_chunking = 5_000 if quick else 20_000
    workloads.check_cohorts()
    started = time.perf_counter()
    rows: list[Row] = []

    # --- speed ------------------------------------------------------------------------------
    for threads, label, factor in ((None, "all cores", 20.0), ("1", "one thread", 10.0)):
        log(f"M1 N={n_speed}, {label}")
        m1 = run_worker(["m1", str(n_speed), "5"],
                        {"PKPD_NUM_THREADS": threads} if threads else None)
        log(f"  {m1}")
        what = f"M1, N = {_rate(n_speed)}, {label}, pkpd / numpy closed form"
        if isinstance(m1, str):
            rows.append(Row(what, m1, f">= {factor:g}x", None))
            continue
        ratio = m1["pkpd"] / m1["closed"]
        rows.append(Row(what, f"{ratio:.3g}x ({_rate(m1['pkpd'])} vs {_rate(m1['closed'])} "
                              "subjects/s)", f">= {factor:g}x", ratio >= factor))
        if threads is None:
            e = m1["pkpd_err"][0]
            rows.append(Row("M1 max rel err of pkpd vs the closed form (21 subjects)",
                            f"{e:.2e}", "< 1e-10", e < 1e-10))
    log(f"M2 N={n_speed}, one thread (with the DOP853 1e-12 reference)")
    m2 = run_worker(["m2", str(n_speed), "3"], {"PKPD_NUM_THREADS": "1"})
    log(f"  {m2}")
    what = f"M2, N = {_rate(n_speed)}, one thread, pkpd / numbalsoda DOP853"
    if isinstance(m2, str):
        rows.append(Row(what, m2, ">= 2x", None))
    else:
        if isinstance(m2["numbalsoda"], str):
            rows.append(Row(what, f"numbalsoda {m2['numbalsoda']}; pkpd "
                                  f"{_rate(m2['pkpd'])} subjects/s", ">= 2x", None))
        else:
            ratio = m2["pkpd"] / m2["numbalsoda"]
            ne = m2["numbalsoda_err"][0]
            rows.append(Row(what, f"{ratio:.3g}x ({_rate(m2['pkpd'])} vs "
                                  f"{_rate(m2['numbalsoda'])} subjects/s; numbalsoda max rel "
                                  f"err {ne:.2e})", ">= 2x", ratio >= 2.0))
        e = m2["pkpd_err"][0]
        rows.append(Row("M2 max rel err of pkpd vs DOP853 rtol = atol = 1e-12 (21 subjects)",
                        f"{e:.2e}", "< 1e-5", e < 1e-5))

    # --- memory and large cohorts -----------------------------------------------------------
    log(f"memory.py zarr --n {n_big} --chunks {chunks}")
    z = memory_run("zarr", n_big, chunks)
    log(f"  {z}")
    what = (f"M1 cohort of {_rate(n_big)} chunked to zarr ({_rate(chunks)} a chunk): "
            "peak RSS")
    if isinstance(z, dict):
        rows.append(Row(what, f"{z['peak_rss'] / 2**30:.2f} GiB (before the run "
                              f"{z['rss_before'] / 2**30:.2f} GiB; run {z['wall']:.1f} s, store "
                              f"{z['store_bytes'] / 2**30:.2f} GiB)", "< 2 GB",
                        z["peak_rss"] < 2e9))
    else:
        rows.append(Row(what, z, "< 2 GB", None))
    log(f"memory.py sampled --n {n_big} --chunks {chunks}")
    smp = memory_run("sampled", n_big, chunks)
    log(f"  {smp}")
    log(f"chunking: {n_chunking} sampled subjects at three chunkings")
    chk = run_worker(["chunking", str(n_chunking)])
    log(f"  {chk}")
    what = (f"{_rate(n_big)} virtual adults, IIV and RUV sampled, chunked ({_rate(chunks)} a "
            "chunk) to zarr; same seed at other chunkings")
    goal = "works; same seed, same cohort for any chunking"
    parts: list[str] = []
    works = same = None
    if isinstance(smp, dict):
        parts.append(f"works: {smp['wall']:.1f} s, peak RSS {smp['peak_rss'] / 2**30:.2f} GiB, "
                     f"store {smp['store_bytes'] / 2**30:.2f} GiB")
        works = True
    else:
        parts.append(str(smp))
        works = None if smp.startswith("not measured") else False
    if isinstance(chk, dict):
        parts.append(f"{_rate(chk['n'])} subjects stored with 1 chunk, chunks of 4 096 and of "
                     f"3 001: CP and CP_obs {'identical' if chk['identical'] else 'DIFFER'} "
                     "bit for bit")
        same = chk["identical"]
    else:
        parts.append(f"chunking check {chk}")
    met = False if False in (works, same) else (True if works and same else None)
    rows.append(Row(what, "; ".join(parts), goal, met))

    # --- fit --------------------------------------------------------------------------------
    log("fit_individual")
    f = run_worker(["fit", "10" if quick else "20"])
    log(f"  {f}")
    what = "`fit_individual` warm, 1-cmt oral (theophylline_1cmt), 4 levels, MAP"
    if isinstance(f, dict):
        rows.append(Row(what, f"{f['median_ms']:.3g} ms (median of {f['repeats']}; "
                              f"{f['min_ms']:.3g}-{f['max_ms']:.3g} ms; "
                              f"{f['evaluations']} evaluations)", "< 5 ms",
                        f["median_ms"] < 5.0))
    else:
        rows.append(Row(what, f, "< 5 ms", None))

    srows: list[Row] = []
    # --- start-up ---------------------------------------------------------------------------
    st: dict[str, dict] = {}
    for key in ("M1", "M2"):
        log(f"start-up {key}: {cold_runs} cold + {warm_runs} warm fresh processes")
        st[key] = startup(workloads.WORKLOADS[key], cold_runs, warm_runs)
        log(f"  {st[key]}")
    for key, label, limit in (("M1", "linear (two_cmt_oral)", 10.0),
                              ("M2", "nonlinear (mm_indirect_response)", 20.0)):
        v = st[key].get("cold", "not run")
        what = f"cold start, {label}: empty caches, new process, import + load + first simulate"
        if isinstance(v, dict):
            s = v["split"]
            srows.append(Row(f"{what} (median of {len(v['runs'])})",
                            f"{_t(v['total'])} (load {_t(s['load'])}, simulate "
                            f"{_t(s['simulate'])}; process wall {_t(v['wall'])})",
                            f"< {limit:g} s", v["total"] < limit))
        else:
            srows.append(Row(what, str(v), f"< {limit:g} s", None))
    for key, label in (("M1", "two_cmt_oral"), ("M2", "mm_indirect_response")):
        v = st[key].get("warm", "not run")
        what = f"warm start, {label}: new process, import + load + simulate one patient"
        if isinstance(v, dict):
            s = v["split"]
            srows.append(Row(f"{what} (median of {len(v['runs'])})",
                            f"{_t(v['total'])} (import {_t(s['import'])}, load {_t(s['load'])}, "
                            f"simulate {_t(s['simulate'])}; process wall {_t(v['wall'])})",
                            "< 1 s", v["total"] < 1.0))
        else:
            srows.append(Row(what, str(v), "< 1 s", None))
    log("import pkpd")
    imp = import_wall(5)
    log(f"  {imp}")
    it = imp["importtime"]
    srows.append(Row("`import pkpd` (cumulative, `-X importtime`, median of 3)",
                    f"{_t(it)} (process wall incl. interpreter, median of 5: {_t(imp['wall'])})"
                    if isinstance(it, float) else str(it),
                    "< 0.5 s", it < 0.5 if isinstance(it, float) else None))

    rows = [*srows, *rows]

    # --- report -----------------------------------------------------------------------------
    import numpy as np

    header = [
        "# pkpd performance goals", "",
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}, Python {platform.python_version()}, numpy "
        f"{np.__version__}, {os.cpu_count()} cores{', --quick' if quick else ''}; "
        f"whole run {time.perf_counter() - started:.0f} s. Ratios are measured in the same "
        "process; start-up in fresh processes. See benchmarks/README.md.", "",
        "| figure | measured now | goal | met |", "| --- | --- | --- | --- |"]
    lines = [*header, *(f"| {r.figure} | {r.measured} | {r.goal} | {_verdict(r.met)} |"
                        for r in rows)]
    if isinstance(st.get("M1", {}).get("cold"), dict):
        lines += ["", "Cold start is measured with empty caches in an existing environment "
                  "(the install itself is not timed)."]
    text = "\n".join(lines)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    log(f"written to {args.output}")
    if args.readme:
        update_readme(HERE.parent / "README.md", text)
        log("README.md updated")
    return 0


README_START = "<!-- goals.py --readme: start -->"
README_END = "<!-- goals.py --readme: end -->"


def update_readme(readme: Path, table: str) -> None:
    """Replace the text between the two goals markers of ``readme`` with ``table`` (its title
    line dropped: the README has its own heading)."""
    text = readme.read_text()
    try:
        head, rest = text.split(README_START, 1)
        _, tail = rest.split(README_END, 1)
    except ValueError:
        msg = f"{readme} lacks the markers {README_START!r} and {README_END!r}"
        raise SystemExit(msg) from None
    body = table.split("\n", 2)[2] if table.startswith("# ") else table
    readme.write_text(f"{head}{README_START}\n{body.strip()}\n{README_END}{tail}")


if __name__ == "__main__":
    raise SystemExit(main())
