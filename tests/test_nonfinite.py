"""Outputs that are not finite numbers raise SolverError in ``simulate`` instead of landing in
the Dataset as inf or NaN; the engine under the estimation objective still returns them.

The model is written to a file: one compartment (exact stepping) with an output
``exp(exp(K))`` that overflows to inf for K above log(709.8) = 6.565, an output
``central / depot`` dividing by a state that is zero before the first dose, and an output
``exp(S * central / V)`` (S = 1 L/mg) that overflows once the concentration passes 709.8
mg/L.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pkpd
from pkpd.errors import SolverError

MODEL = """
[model]
name = "overflowing"
description = "one compartment with outputs that overflow for some parameters"
time_unit = "h"

[parameters]
CL = { value = 5.0, unit = "L/h" }
V = { value = 50.0, unit = "L" }
KA = { value = 1.0, unit = "1/h" }
K = { value = 1.0, unit = "1" }
S = { value = 1.0, unit = "L/mg" }

[states]
depot = { unit = "mg" }
central = { unit = "mg" }

[odes]
depot = "-KA * depot"
central = "KA * depot - CL / V * central"

[outputs]
CP = { expr = "central / V", unit = "mg/L" }
BIG = { expr = "exp(exp(K))", unit = "1" }
RATIO = { expr = "central / depot", unit = "1" }
EXPC = { expr = "exp(S * central / V)", unit = "1" }

[routes]
PO = "depot"
IV = "central"
default = "PO"
"""

TIMES = np.arange(0.0, 25.0, 1.0)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / "overflowing.toml"
    path.write_text(MODEL)
    return path


@pytest.fixture(scope="module")
def compiled(model_file: Path) -> pkpd.CompiledModel:
    return pkpd.compile_model(pkpd.load_model(model_file))


def test_overflowing_output_names_subject_time_and_output(compiled) -> None:
    """Subject 13 of three has K = 7 (exp(exp(7)) = inf from t = 0 on)."""
    params = {"ID": [11, 12, 13], "K": [1.0, 2.0, 7.0]}
    with pytest.raises(SolverError, match=r"subject 13 at time 0: output 'BIG' is inf") as exc:
        pkpd.simulate(compiled, "100 mg IV", params=params, times=TIMES,
                      outputs=["CP", "BIG"])
    assert (exc.value.subject, exc.value.time, exc.value.state) == (13, 0.0, "BIG")
    # the same output with finite values passes, and so does the model without that output
    ok = pkpd.simulate(compiled, "100 mg IV", params={"K": [1.0, 2.0]}, times=TIMES,
                       outputs=["CP", "BIG"])
    assert np.allclose(ok["BIG"].values[:, 0], np.exp(np.exp([1.0, 2.0])), rtol=1e-14)
    ds = pkpd.simulate(compiled, "100 mg IV", params=params, times=TIMES, outputs=["CP"])
    # CP against the closed form of a one-compartment bolus (CL 5, V 50)
    assert np.allclose(ds["CP"].values, 2.0 * np.exp(-0.1 * TIMES), rtol=1e-12)


def test_division_by_a_state_at_zero(compiled) -> None:
    """RATIO = central/depot: 0/0 before an oral dose given at 2 h is NaN (the first time,
    0.5 h, is named); after an IV dose the depot is empty, so RATIO is inf from the dose on.
    From an oral dose at t = 0 on, RATIO is finite (the dose comes before the output at the
    same time), checked against the closed form at 1 h."""
    with pytest.raises(SolverError, match=r"subject 1 at time 0.5: output 'RATIO' is nan"):
        pkpd.simulate(compiled, "100 mg PO at 2 h", times=[0.5, 1.0, 2.0, 3.0],
                      outputs=["RATIO"])
    with pytest.raises(SolverError, match=r"subject 1 at time 0: output 'RATIO' is inf"):
        pkpd.simulate(compiled, "100 mg IV", times=[0.0, 1.0], outputs=["RATIO"])
    ds = pkpd.simulate(compiled, "100 mg PO", times=[0.0, 1.0], outputs=["RATIO"])
    ka, k = 1.0, 0.1   # central/depot = KA (exp((KA - k) t) - 1) / (KA - k)
    assert np.allclose(ds["RATIO"].values[0], [0.0, ka * np.expm1(0.9) / (ka - k)],
                       rtol=1e-12)


def test_overflow_later_in_time_and_in_a_sample(compiled) -> None:
    """EXPC = exp(C): 72000 mg IV in 50 L, C = 1440 exp(-0.1 t) mg/L passes below 709.78
    after t = 7.07 h, so the first finite value is at 8 h; the overflow shows at 0..7 h, and
    the first time named is 0 h, for the first subject, sample 0 (with n samples)."""
    with pytest.raises(SolverError, match=r"subject 1 at time 0: output 'EXPC' is inf"):
        pkpd.simulate(compiled, "72000 mg IV", times=TIMES, outputs=["EXPC"])
    with pytest.raises(SolverError, match=r"subject 1 \(sample 0\) at time 0: output 'EXPC'"):
        pkpd.simulate(compiled, "72000 mg IV", times=TIMES, outputs=["EXPC"], n=3, seed=1)
    ds = pkpd.simulate(compiled, "72000 mg IV", times=TIMES[8:], outputs=["EXPC", "CP"])
    assert np.allclose(ds["EXPC"].values[0], np.exp(1440.0 * np.exp(-0.1 * TIMES[8:])),
                       rtol=1e-9)


def test_dataset_records_name_the_record(compiled) -> None:
    """Without ``times`` a dataset is predicted at each of its records (doses too): the
    subject and record time of the first non-finite output are named."""
    frame = pd.DataFrame({
        "ID": [5, 5, 5, 7, 7, 7],
        "TIME": [0.0, 1.0, 3.0, 0.0, 1.0, 3.0],
        "EVID": [1, 0, 0, 1, 0, 0],
        "AMT": [100.0, 0, 0, 100.0, 0, 0],
        "CMT": [2, 2, 2, 2, 2, 2],
        "DV": [0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
    })
    data = pkpd.read_nonmem(frame)
    params = {"K": [1.0, 1.0]}
    ok = pkpd.simulate(compiled, data, params=params, outputs=["BIG"])
    assert np.isfinite(ok["BIG"].values).all()
    bad = pd.DataFrame({"K": [1.0, 7.0]})
    with pytest.raises(SolverError, match=r"subject 7 at time 0: output 'BIG' is inf"):
        pkpd.simulate(compiled, data, params=bad, outputs=["BIG"])


def test_chunked_runs_raise_too(compiled) -> None:
    """pkpd.simulate_chunked runs simulate per chunk: the chunk with subject 5 raises when
    computed, naming it as the chunk's second subject and the chunk's subjects."""
    params = {"K": [1.0, 1.0, 1.0, 1.0, 7.0, 1.0]}
    lazy = pkpd.simulate_chunked(compiled, "100 mg IV", params=params, times=TIMES, chunks=3,
                                 outputs=["BIG"])
    with pytest.raises(SolverError, match=r"(?s)subject 2 at time 0: output 'BIG' is inf.*"
                       r"subjects 4\.\.6 of 6"):
        lazy.compute()


def test_engine_under_the_objective_still_returns_inf(compiled) -> None:
    """The estimation objective calls the engine directly: it gets inf (and can reject the
    step), no exception."""
    from pkpd import engine
    from pkpd._plan import plan

    p = plan(compiled, "100 mg IV", None, params={"K": [1.0, 7.0]}, times=TIMES, outputs=None,
             n=None, seed=None, variability=(), uncertainty=None, occasions=None)
    out, _, _ = engine.run(compiled, p.prep, p.q, p.cov_slot, p.cov_nocb, ids=p.ids_run)
    big = out[:, compiled.output_names.index("BIG")].reshape(2, len(TIMES))
    assert np.isfinite(big[0]).all() and np.isinf(big[1]).all()


def test_finite_values_whose_sum_overflows_pass(compiled) -> None:
    """The check sums the outputs first: finite outputs whose sum overflows (K = 6.56:
    exp(exp(K)) = 5.4e306, times 100 values) are not refused, and no overflow warning is
    left behind."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = pkpd.simulate(compiled, "100 mg IV", params={"K": [6.56] * 4}, times=TIMES,
                           outputs=["BIG"])
    with np.errstate(over="ignore"):
        assert np.isinf(ds["BIG"].values.sum())
    assert np.allclose(ds["BIG"].values, np.exp(np.exp(6.56)), rtol=1e-12)
