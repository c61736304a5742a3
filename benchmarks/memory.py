"""Peak memory of a large pkpd run, measured in this (fresh) process.

Usage::

    python benchmarks/memory.py zarr --n 1000000 --chunks 100000   # simulate_to_zarr, M1
    python benchmarks/memory.py memory --n 100000                  # in-memory simulate, M1
    python benchmarks/memory.py sampled --n 1000000 --chunks 100000  # sampled cohort to zarr

Simulates the M1 workload of ``bench/WORKLOAD.md`` (337 output times) and prints one JSON line:
peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) before and after the run,
the wall time of the run and, for ``zarr`` and ``sampled``, the size of the store, which is
written under /tmp and deleted afterwards.

``sampled`` is the virtual-cohort form of M1: ``--n`` virtual adults
(``pkpd.Population.virtual("adult").sample(n, seed=1)``) as ``patients``, with IIV (the model's
omega) and residual error drawn chunk by chunk (``n=1, seed=1``): the store holds ``CP`` and
``CP_obs``. The covariates are sampled before ``rss_before`` is taken.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib if sys.platform == "darwin" else kib * 1024


def _in_small_child(argv: list[str]) -> int:
    """Run the measurement in a child of this (small) process.

    Linux carries the parent's peak RSS over fork + exec into the child's ``ru_maxrss``; a
    benchmark process holding large cohorts would inflate the figure. This process is small,
    so its child starts with an honest ``ru_maxrss``."""
    proc = subprocess.run([sys.executable, __file__, "--worker", *argv], check=False)
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("zarr", "memory", "sampled"))
    parser.add_argument("--n", type=int, default=1_000_000, help="subjects (default 10^6)")
    parser.add_argument("--chunks", type=int, default=100_000, help="subjects per zarr chunk")
    parser.add_argument("--dir", default="/tmp", help="parent folder of the temporary store")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.worker:
        return _in_small_child(sys.argv[1:] if argv is None else argv)

    import numpy as np

    import pkpd

    spec = workloads.M1
    model = pkpd.load_model(spec.library_name)
    regimen = pkpd.Regimen.repeat(pkpd.Dose("500 mg", into="depot"), every="12 h", count=14)
    if args.mode == "sampled":
        frame = pkpd.Population.virtual("adult").sample(args.n, seed=1)
        sampling: dict[str, object] = {"n": 1, "seed": 1}
    else:
        frame = workloads.cohort("M1", args.n).frame()
        sampling = {}
    # compile / load the kernels outside the measured run
    first = {"patients" if sampling else "params": frame.iloc[:1]}
    pkpd.simulate(model, regimen, **first, times=workloads.TIMES, rtol=1e-6, atol=1e-9)
    result: dict[str, object] = {"mode": args.mode, "n": args.n, "rss_before": peak_rss()}
    if args.mode == "memory":
        t0 = time.perf_counter()
        ds = pkpd.simulate(model, regimen, params=frame, times=workloads.TIMES,
                           rtol=1e-6, atol=1e-9)
        result["wall"] = time.perf_counter() - t0
        result["check"] = float(np.asarray(ds[spec.outputs[0]])[-1000:, -1].mean())
    else:
        folder = Path(tempfile.mkdtemp(prefix="pkpd-mem-", dir=args.dir))
        tables = ({"patients": frame} if sampling else {"params": frame})
        try:
            t0 = time.perf_counter()
            ds = pkpd.simulate_to_zarr(folder / "run.zarr", model, regimen, **tables,
                                       times=workloads.TIMES, chunks=args.chunks,
                                       rtol=1e-6, atol=1e-9, **sampling)
            result["wall"] = time.perf_counter() - t0
            result["chunks"] = args.chunks
            result["check"] = float(ds[spec.outputs[0]][-1000:, ..., -1].mean().compute())
            if sampling:
                result["check_obs"] = float(ds[f"{spec.outputs[0]}_obs"][-1000:, ..., -1]
                                            .mean().compute())
            result["store_bytes"] = sum(f.stat().st_size for f in folder.rglob("*")
                                        if f.is_file())
            del ds
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    result["peak_rss"] = peak_rss()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
