"""The compiled engine and the model kernels load from disk in a new process: no compilation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import json, time
t0 = time.perf_counter()
import pkpd
ds = pkpd.simulate("two_cmt_oral", "500 mg PO q12h x 14", times="0..168 h by 0.5 h")
elapsed = time.perf_counter() - t0
from pkpd.engine import _loop
from pkpd.codegen import compile_model
cm = compile_model(pkpd.load_model("two_cmt_oral"))
stats = {"engine": [sum(_loop.run.stats.cache_hits.values()),
                    sum(_loop.run.stats.cache_misses.values())]}
for name in ("rhs", "jac", "derive", "outputs", "dosing", "init"):
    s = getattr(cm, name).dispatcher.stats
    stats[name] = [sum(s.cache_hits.values()), sum(s.cache_misses.values())]
print(json.dumps({"stats": stats, "seconds": elapsed, "cp": float(ds["CP"].max())}))
"""


def _run(cache: Path) -> dict:
    env = {**os.environ, "PKPD_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_second_process_compiles_nothing(tmp_path: Path) -> None:
    first = _run(tmp_path)
    second = _run(tmp_path)
    assert all(hits == 1 and misses == 0 for hits, misses in second["stats"].values()), second
    assert second["cp"] == first["cp"]
    print(f"import to first result: first process {first['seconds']:.2f} s, "
          f"second {second['seconds']:.2f} s")
