"""Kernel timing: M1 and M2 at N = 10^4 on one thread, per subject and per output point.

Usage::

    python benchmarks/profile_kernel.py [--n 10000] [--repeats 5]

Sets ``PKPD_NUM_THREADS=1`` before importing pkpd, simulates each workload of
``bench/WORKLOAD.md`` once untimed (compilation or cache loading), then prints the median of
``--repeats`` runs as microseconds per subject and nanoseconds per output point (one point = one
subject at one of the 337 output times, all outputs of the model). For comparing kernel changes;
it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ["PKPD_NUM_THREADS"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="subjects (default 10^4)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (median)")
    args = parser.parse_args(argv)

    import pkpd

    regimen = pkpd.Regimen.repeat(pkpd.Dose("500 mg", into="depot"), every="12 h", count=14)
    print(f"pkpd {pkpd.__version__}, PKPD_NUM_THREADS=1, N={args.n}, "
          f"{workloads.TIMES.size} output times, median of {args.repeats}")
    print(f"{'model':<6}{'us/subject':>12}{'ns/point':>10}{'subjects/s':>12}")
    for key in ("M1", "M2"):
        spec = workloads.WORKLOADS[key]
        model = pkpd.load_model(spec.library_name)
        frame = workloads.cohort(key, args.n).frame()

        def run(frame=frame, model=model) -> None:
            pkpd.simulate(model, regimen, params=frame, times=workloads.TIMES,
                          rtol=1e-6, atol=1e-9)

        run(frame.iloc[:1])
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        t = statistics.median(times)
        print(f"{key:<6}{t / args.n * 1e6:>12.2f}{t / (args.n * workloads.TIMES.size) * 1e9:>10.1f}"
              f"{args.n / t:>12,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
