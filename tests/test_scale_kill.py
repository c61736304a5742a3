"""A cohort run killed mid-way (SIGKILL, as the kernel's out-of-memory killer or a batch
scheduler would) resumes from its zarr store and ends equal to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import pkpd

ROOT = Path(__file__).resolve().parents[1]
N, CHUNK = 3000, 50           # 60 chunks
REGIMEN, TIMES = "500 mg PO q12h x 14", "0..168 h by 0.5 h"

SCRIPT = textwrap.dedent("""
    import sys
    import pkpd
    from tests.test_scale_kill import cohort
    n, chunk, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    pkpd.simulate_to_zarr(path, "two_cmt_oral", {regimen!r}, cohort(n), times={times!r},
                          chunks=chunk, n=2, seed=2024)
""").format(regimen=REGIMEN, times=TIMES)


def cohort(n: int) -> pd.DataFrame:
    """The virtual cohort (ID, WT) of both runs."""
    rng = np.random.default_rng(11)
    return pd.DataFrame({"ID": np.arange(1, n + 1), "WT": rng.uniform(45.0, 120.0, n)})


def _done(path: Path) -> np.ndarray | None:
    try:
        with xr.open_zarr(path, consolidated=False) as store:
            return store["_chunk_done"].values.copy()
    except Exception:   # not written yet, or being written: look again
        return None


@pytest.mark.slow
def test_killed_cohort_run_resumes_to_the_uninterrupted_result(tmp_path) -> None:
    path = tmp_path / "cohort.zarr"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(N), str(CHUNK), str(path)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    try:
        while True:
            done = _done(path)
            if done is not None and done.sum() >= 3:
                os.kill(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None:
                raise AssertionError("the run ended before it was killed: "
                                     + proc.stderr.read().decode()[-2000:])
            if time.monotonic() > deadline:
                raise AssertionError("no chunk finished within 300 s")
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed = _done(path)
    assert killed is not None and 3 <= killed.sum() < len(killed), killed

    resumed = pkpd.simulate_to_zarr(path, "two_cmt_oral", REGIMEN, cohort(N), times=TIMES,
                                    chunks=CHUNK, n=2, seed=2024)
    whole = pkpd.simulate("two_cmt_oral", REGIMEN, cohort(N), times=TIMES, n=2, seed=2024)
    for name in whole.data_vars:
        np.testing.assert_array_equal(resumed[name].values, whole[name].values, err_msg=name)
    with xr.open_zarr(path, consolidated=False) as store:
        assert store["_chunk_done"].values.all()
