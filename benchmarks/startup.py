"""Start-up time of a new process: import, warm load + simulate, cold first simulate.

Each figure is the median wall time of several fresh Python processes, measured inside the
process with ``time.perf_counter`` from before ``import pkpd`` to the end of the step. "Warm"
runs use the usual caches (``$PKPD_CACHE_DIR`` and numba's), filled by one untimed run first;
"cold" runs point ``PKPD_CACHE_DIR`` and ``NUMBA_CACHE_DIR`` at fresh temporary folders, so
that the model is built, lowered and compiled from scratch (the engine too: minutes).

Usage::

    python benchmarks/startup.py [--runs 5] [--cold-runs 1] [--no-cold]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MODELS = {"two_cmt_oral": "linear", "mm_indirect_response": "nonlinear"}
REGIMEN = "500 mg PO q12h x 14"
TIMES = "0..168 h by 0.5 h"

SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
import pkpd
t1 = time.perf_counter()
out = {"import": t1 - t0}
if sys.argv[1]:
    model = pkpd.load_model(sys.argv[1])
    t2 = time.perf_counter()
    pkpd.simulate(model, sys.argv[2], times=sys.argv[3])
    t3 = time.perf_counter()
    out.update(load=t2 - t1, simulate=t3 - t2, total=t3 - t0,
               sympy="sympy" in sys.modules, pint="pint" in sys.modules)
print(json.dumps(out))
"""


def _once(model: str, env: dict[str, str]) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, model, REGIMEN, TIMES], env=env,
                          capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main(argv: list[str] | None = None) -> None:
    """Print a table of start-up times (seconds, median of fresh processes)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="warm processes per row")
    ap.add_argument("--cold-runs", type=int, default=1, help="cold processes per model")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold rows")
    args = ap.parse_args(argv)

    env = dict(os.environ)
    rows: list[tuple[str, dict[str, float], str]] = []
    imports = [_once("", env) for _ in range(args.runs)]
    rows.append(("import pkpd", {"import": _median(imports, "import")}, ""))
    for model, kind in MODELS.items():
        _once(model, env)                      # fill the caches
        runs = [_once(model, env) for _ in range(args.runs)]
        med = {k: _median(runs, k) for k in ("import", "load", "simulate", "total")}
        mods = ",".join(m for m in ("sympy", "pint") if runs[-1][m]) or "-"
        rows.append((f"warm {model} ({kind})", med, mods))
    if not args.no_cold:
        for model, kind in MODELS.items():
            runs = []
            for _ in range(args.cold_runs):
                with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
                    runs.append(_once(model, {**env, "PKPD_CACHE_DIR": a,
                                              "NUMBA_CACHE_DIR": b}))
            med = {k: _median(runs, k) for k in ("import", "load", "simulate", "total")}
            rows.append((f"cold {model} ({kind})", med, ""))

    print(f"{'step':<40}{'import':>9}{'load':>9}{'simulate':>10}{'total':>9}  imported")
    for name, med, mods in rows:
        cells = [f"{med[k]:9.3f}" if k in med else f"{'':>9}" for k in ("import", "load")]
        sim = f"{med['simulate']:10.3f}" if "simulate" in med else f"{'':>10}"
        tot = f"{med['total']:9.3f}" if "total" in med else f"{'':>9}"
        print(f"{name:<40}{''.join(cells)}{sim}{tot}  {mods}")


if __name__ == "__main__":
    main()
