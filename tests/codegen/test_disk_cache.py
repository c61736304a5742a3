"""A second process loads every kernel from numba's disk cache without compiling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import json, sys
import pkpd
from pkpd.codegen import compile_model
cm = compile_model(pkpd.load_model(sys.argv[1]))
stats = {}
for name in ("rhs", "jac", "derive", "outputs", "dosing", "init"):
    s = getattr(cm, name).dispatcher.stats
    stats[name] = [sum(s.cache_hits.values()), sum(s.cache_misses.values())]
print(json.dumps(stats))
"""


def run(cache: Path, model: str) -> dict[str, list[int]]:
    env = {**os.environ, "PKPD_CACHE_DIR": str(cache)}
    env.pop("NUMBA_CACHE_DIR", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, model], env=env, capture_output=True,
                          text=True, timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_second_process_hits_the_disk_cache(tmp_path: Path) -> None:
    first = run(tmp_path, "mm_indirect_response")
    assert all(hits == 0 and misses == 1 for hits, misses in first.values()), first
    source_files = list(tmp_path.glob("m_*.py"))
    assert len(source_files) == 1
    mtime = source_files[0].stat().st_mtime_ns
    second = run(tmp_path, "mm_indirect_response")
    assert all(hits == 1 and misses == 0 for hits, misses in second.values()), second
    assert source_files[0].stat().st_mtime_ns == mtime       # the module file is not rewritten
