"""Checkpoint and resume of population fits (fit_population(..., checkpoint=path)).

A fit is started in a subprocess and killed (SIGKILL) once its checkpoint holds at least two
iterations; resumed in this process, it must end where an uninterrupted fit with the same seed
ends: the same OFV and estimates, bit for bit (the checkpoint holds the optimiser's whole
state).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import pkpd
from pkpd.errors import EstimationError
from pkpd.testing.datasets import simulated_oral

MODEL = "theophylline_1cmt"
SAEM = {"burn": 40, "em": 30}


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = simulated_oral(MODEL, 320, times=[0.5, 1, 2, 4, 8, 12, 24])
    path = tmp_path_factory.mktemp("ckpt") / "data.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def compiled() -> pkpd.CompiledModel:
    return pkpd.compile_model(pkpd.load_model(MODEL))


def _iterations(path: Path) -> int:
    """Iterations recorded by a running fit's checkpoint (0 when not there or not yet)."""
    try:
        payload = path.read_text().partition("\n")[2]
        body = json.loads(payload)
    except (OSError, ValueError):
        return 0
    if body["phase"] != "running":
        return 0
    state = body["state"]
    return int(state["iteration"]) if "iteration" in state else len(state["history"]) - 1


def _kill_after(path: Path, data: Path, method: str, k: int) -> None:
    """Run the fit in a subprocess (each save slowed down, so that it is caught running) and
    SIGKILL it once the checkpoint records ``k`` iterations."""
    script = textwrap.dedent(f"""
        import time
        import pkpd
        from pkpd.estimation import _checkpoint
        save = _checkpoint.Checkpoint.save
        def slow(self, phase, state):
            save(self, phase, state)
            time.sleep(0.3)
        _checkpoint.Checkpoint.save = slow
        pkpd.fit_population({MODEL!r}, {str(data)!r}, {method!r}, seed=7, saem={SAEM!r},
                            checkpoint={str(path)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while _iterations(path) < k:
            if proc.poll() is not None:
                raise AssertionError("the fit ended before it was killed: "
                                     + proc.stderr.read().decode()[-2000:])
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize("method", ["focei", "saem"])
def test_killed_fit_resumes_to_the_uninterrupted_estimates(
        tmp_path: Path, data_csv: Path, compiled: pkpd.CompiledModel, method: str) -> None:
    path = tmp_path / "fit.ckpt"
    _kill_after(path, data_csv, method, 2)
    killed_at = _iterations(path)
    assert killed_at >= 2
    resumed = pkpd.fit_population(compiled, data_csv, method, seed=7, saem=SAEM,
                                  checkpoint=path)
    assert resumed.details["checkpoint"]["resumed_from"] == "running"
    whole = pkpd.fit_population(compiled, data_csv, method, seed=7, saem=SAEM)
    assert whole.success and resumed.success
    assert len(resumed.history) == len(whole.history) > killed_at
    assert resumed.ofv == whole.ofv
    assert resumed.estimates == whole.estimates
    np.testing.assert_array_equal(resumed.etas.to_numpy(), whole.etas.to_numpy())
    np.testing.assert_array_equal(resumed.history.to_numpy(), whole.history.to_numpy())
    # finished: the file holds the result, and the same call returns it at once
    started = time.perf_counter()
    again = pkpd.fit_population(compiled, data_csv, method, seed=7, saem=SAEM,
                                checkpoint=path)
    assert time.perf_counter() - started < 0.5 * whole.runtime
    assert again.details["checkpoint"]["resumed_from"] == "final"
    assert again.ofv == whole.ofv and again.se == whole.se


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, data_csv: Path,
             compiled: pkpd.CompiledModel) -> Path:
    path = tmp_path_factory.mktemp("done") / "fit.ckpt"
    pkpd.fit_population(compiled, data_csv, "fo", checkpoint=path, covariance=None)
    return path


def test_checkpoint_of_another_run_names_what_differs(
        tmp_path: Path, finished: Path, data_csv: Path, compiled: pkpd.CompiledModel) -> None:
    other = tmp_path / "other.csv"
    text = data_csv.read_text().splitlines()
    head = text[0].split(",")
    # one concentration changed: same layout, other data
    row = next(i for i, line in enumerate(text[1:], 1)
               if line.split(",")[head.index("EVID")] == "0")
    cells = text[row].split(",")
    cells[head.index("DV")] = str(float(cells[head.index("DV")]) * 1.1)
    text[row] = ",".join(cells)
    other.write_text("\n".join(text) + "\n")
    with pytest.raises(EstimationError, match=r"data_sha256 is '[0-9a-f]+' there"):
        pkpd.fit_population(compiled, other, "fo", checkpoint=finished, covariance=None)
    with pytest.raises(EstimationError, match="method is 'fo' there, 'foce' here"):
        pkpd.fit_population(compiled, data_csv, "foce", checkpoint=finished, covariance=None)
    with pytest.raises(EstimationError, match=r"options is .* there"):
        pkpd.fit_population(compiled, data_csv, "fo", checkpoint=finished, covariance=None,
                            maxiter=7)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_damaged_checkpoint_is_an_error_naming_the_file(
        tmp_path: Path, finished: Path, data_csv: Path, compiled: pkpd.CompiledModel,
        damage: str) -> None:
    path = tmp_path / "fit.ckpt"
    raw = finished.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) * 2 // 3])
    elif damage == "flip":   # still valid JSON, one digit changed
        i = raw.rindex(b"1", 0, len(raw) - 10)
        path.write_bytes(raw[:i] + b"2" + raw[i + 1:])
    else:
        path.write_bytes(b"\x00\x13 not a checkpoint")
    named = re.escape(str(path))
    with pytest.raises(EstimationError, match=rf"checkpoint {named} cannot be read.*delete"):
        pkpd.fit_population(compiled, data_csv, "fo", checkpoint=path, covariance=None)
    assert path.read_bytes() != raw   # left as found, not overwritten by a fresh start


def test_checkpoint_needs_a_reproducible_seed_and_one_start(
        tmp_path: Path, data_csv: Path, compiled: pkpd.CompiledModel) -> None:
    with pytest.raises(EstimationError, match="seed to be an integer"):
        pkpd.fit_population(compiled, data_csv, "fo", seed=np.random.default_rng(1),
                            checkpoint=tmp_path / "a.ckpt")
    with pytest.raises(EstimationError, match="starts=1"):
        pkpd.fit_population(compiled, data_csv, "fo", starts=2, checkpoint=tmp_path / "b.ckpt")
    assert not list(tmp_path.iterdir())


def test_fit_stopped_in_the_covariance_step_resumes_there(
        tmp_path: Path, data_csv: Path, compiled: pkpd.CompiledModel,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pkpd.estimation import _covariance

    path = tmp_path / "fit.ckpt"
    step = _covariance.covariance_step

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_covariance, "covariance_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pkpd.fit_population(compiled, data_csv, "fo", checkpoint=path)
    assert json.loads(path.read_text().partition("\n")[2])["phase"] == "done"
    calls: list[int] = []

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return step(*args, **kwargs)

    monkeypatch.setattr(_covariance, "covariance_step", counted)
    resumed = pkpd.fit_population(compiled, data_csv, "fo", checkpoint=path)
    assert resumed.details["checkpoint"]["resumed_from"] == "done" and calls == [1]
    whole = pkpd.fit_population(compiled, data_csv, "fo")
    assert resumed.ofv == whole.ofv and resumed.estimates == whole.estimates
    assert resumed.se == whole.se and resumed.covariance_status == whole.covariance_status
    np.testing.assert_array_equal(resumed.history.to_numpy(), whole.history.to_numpy())
