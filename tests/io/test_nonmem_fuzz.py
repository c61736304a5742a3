"""Fuzzing of NONMEM datasets: corrupted tables are read and simulated, or refused cleanly.

Valid tables (the first subjects of the shared theophylline dataset, and small synthetic ones)
are corrupted one category at a time: missing columns, text in numeric columns, time going
back, duplicate rows, negative or missing amounts, unknown compartments, II without ADDL, ADDL
without II, SS without II, EVID out of range, RATE -1/-2 in a model without modelled rate or
duration, huge values. Each table goes through ``pkpd.read_nonmem`` and then ``pkpd.simulate``
with the bundled theophylline_1cmt model (compiled once): the outcome must be a result or a
:class:`~pkpd.PkpdError`, within bounded time, and a result has no NaN prediction (the inputs
never carry NaN into the predictions: a missing DV is not an input of the simulation).
"""

from __future__ import annotations

import collections
import signal
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pkpd
from tests.conftest import shared_path

OUTCOMES: collections.Counter[str] = collections.Counter()
CPU_LIMIT = 5.0   # seconds of CPU per input (read + simulate)
WALL_LIMIT = 60   # a hard stop that turns a hang into a failure
FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])
NUMERIC = ["ID", "TIME", "AMT", "DV", "EVID", "MDV", "CMT", "WT"]
# a numpy warning (e.g. an invalid cast of an identifier) is a silent wrong value: an error here
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


@pytest.fixture(scope="module")
def compiled() -> object:
    model = pkpd.compile_model(pkpd.load_model("theophylline_1cmt"))
    frame = _synthetic(2)
    pkpd.simulate(model, pkpd.read_nonmem(frame))  # warm-up outside the time limits
    return model


@pytest.fixture(scope="module")
def theophylline() -> pd.DataFrame:
    frame = pd.read_csv(shared_path("data", "theophylline.csv"), dtype=str,
                        keep_default_na=False)
    ids = frame["ID"].unique()[:3]
    return frame[frame["ID"].isin(ids)][["ID", "TIME", "AMT", "DV", "EVID", "MDV", "CMT", "WT"]]


def _synthetic(n_ids: int) -> pd.DataFrame:
    rows = []
    for i in range(1, n_ids + 1):
        rows.append({"ID": i, "TIME": 0.0, "AMT": 320.0, "DV": ".", "EVID": 1, "MDV": 1,
                     "CMT": 1, "WT": 60.0 + 5 * i})
        rows += [{"ID": i, "TIME": t, "AMT": 0.0, "DV": 5.0, "EVID": 0, "MDV": 0, "CMT": 2,
                  "WT": 60.0 + 5 * i} for t in (0.5, 1.0, 2.0, 6.0, 12.0, 24.0)]
    return pd.DataFrame(rows).astype(str)


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout


def run(frame: pd.DataFrame, compiled: object, category: str) -> object:
    """read_nonmem + simulate; a PkpdError is a valid outcome, anything else fails."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(WALL_LIMIT)
    cpu = time.process_time()
    stage = "read"
    try:
        data = pkpd.read_nonmem(frame, model=compiled.model if hasattr(compiled, "model")
                                else None)
        stage = "simulate"
        result = pkpd.simulate(compiled, data)
    except pkpd.PkpdError as exc:
        assert str(exc)
        OUTCOMES[f"{category}: {type(exc).__name__} at {stage}"] += 1
        return exc
    except _Timeout:
        pytest.fail(f"{stage} hung for {WALL_LIMIT} s on:\n{frame.to_csv(index=False)}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    spent = time.process_time() - cpu
    assert spent < CPU_LIMIT, f"{spent:.1f} s of CPU on:\n{frame.to_csv(index=False)}"
    cp = np.asarray(result["CP"].values, dtype=float)
    assert not np.isnan(cp).any(), f"NaN predictions from:\n{frame.to_csv(index=False)}"
    assert np.isfinite(cp).all()
    OUTCOMES[f"{category}: simulated"] += 1
    return result


def _dose_rows(frame: pd.DataFrame) -> list[int]:
    if "EVID" in frame:
        rows = [i for i in range(len(frame)) if frame["EVID"].iloc[i] in ("1", "4")]
    elif "AMT" in frame:
        rows = [i for i in range(len(frame)) if frame["AMT"].iloc[i] not in ("0", "0.0", ".")]
    else:
        rows = []
    return rows or [0]


Corruption = Callable[[pd.DataFrame, st.DataObject], pd.DataFrame]


def _set(frame: pd.DataFrame, rows: list[int], column: str, value: str) -> pd.DataFrame:
    frame = frame.copy()
    if column not in frame:
        frame[column] = "0" if column in ("RATE", "II", "ADDL", "SS") else "."
    for r in rows:
        frame.iloc[r, frame.columns.get_loc(column)] = value
    return frame


def missing_column(frame: pd.DataFrame, data: st.DataObject) -> pd.DataFrame:
    return frame.drop(columns=data.draw(st.sampled_from(list(frame.columns))))


TEXT = ["abc", "1,5", "inf", "-inf", "nan", "NaN", "-", "1e400", "--1", "0x10", " ", ".", "1 2",
        "\u00e9", "1e-400", "TRUE", "None"]


def text_in_numeric(frame: pd.DataFrame, data: st.DataObject) -> pd.DataFrame:
    row = data.draw(st.integers(0, len(frame) - 1))
    return _set(frame, [row], data.draw(st.sampled_from(NUMERIC)), data.draw(st.sampled_from(TEXT)))


def non_monotone_time(frame: pd.DataFrame, data: st.DataObject) -> pd.DataFrame:
    i = data.draw(st.integers(0, len(frame) - 2))
    out = frame.copy()
    if "TIME" not in out:
        return out
    col = out.columns.get_loc("TIME")
    a, b = out.iloc[i, col], out.iloc[i + 1, col]
    out.iloc[i, col], out.iloc[i + 1, col] = b, a
    return out


def duplicate_rows(frame: pd.DataFrame, data: st.DataObject) -> pd.DataFrame:
    rows = data.draw(st.lists(st.integers(0, len(frame) - 1), min_size=1, max_size=5))
    out = frame.copy()
    for r in sorted(rows, reverse=True):
        out = pd.concat([out.iloc[:r + 1], out.iloc[r:r + 1], out.iloc[r + 1:]])
    return out.reset_index(drop=True)


def bad_amount(frame: pd.DataFrame, data: st.DataObject) -> pd.DataFrame:
    value = data.draw(st.sampled_from(["-320", "0", ".", "nan", "1e300", "1e-300", "-0"]))
    return _set(frame, [data.draw(st.sampled_from(_dose_rows(frame)))], "AMT", value)


def unknown_cmt(frame: pd.DataFrame, data: st.DataObject) -> pd.DataFrame:
    value = data.draw(st.sampled_from(["0", "3", "7", "-1", "1.5", "1e9", "."]))
    return _set(frame, [data.draw(st.integers(0, len(frame) - 1))], "CMT", value)


def ii_addl_ss(frame: pd.DataFrame, data: st.DataObject) -> pd.DataFrame:
    row = data.draw(st.sampled_from(_dose_rows(frame)))
    out = frame
    for column, values in (("II", ["0", "12", "-12", "1e-9", "1e300", "."]),
                           ("ADDL", ["0", "3", "-1", "2.5", "1e6", "1e12", "."]),
                           ("SS", ["0", "1", "2", "3", "-1", "."])):
        if data.draw(st.booleans()):
            out = _set(out, [row], column, data.draw(st.sampled_from(values)))
    return out


def evid_out_of_range(frame: pd.DataFrame, data: st.DataObject) -> pd.DataFrame:
    value = data.draw(st.sampled_from(["5", "-1", "2.5", "3", "4", "1e9", "2", "."]))
    return _set(frame, [data.draw(st.integers(0, len(frame) - 1))], "EVID", value)


def modelled_rate(frame: pd.DataFrame, data: st.DataObject) -> pd.DataFrame:
    value = data.draw(st.sampled_from(["-2", "-1", "-3", "0", "1e-300", "1e300", "100", "."]))
    return _set(frame, [data.draw(st.sampled_from(_dose_rows(frame)))], "RATE", value)


def huge_values(frame: pd.DataFrame, data: st.DataObject) -> pd.DataFrame:
    column = data.draw(st.sampled_from(["TIME", "WT", "DV", "ID", "MDV"]))
    value = data.draw(st.sampled_from(["1e300", "-1e300", "1e-300", "0", "-5", "1e9", "2",
                                       "1e19", "1.5"]))
    return _set(frame, [data.draw(st.integers(0, len(frame) - 1))], column, value)


CORRUPTIONS: dict[str, Corruption] = {
    "missing column": missing_column, "text in numeric": text_in_numeric,
    "non-monotone time": non_monotone_time, "duplicate rows": duplicate_rows,
    "bad AMT": bad_amount, "unknown CMT": unknown_cmt, "II/ADDL/SS": ii_addl_ss,
    "EVID": evid_out_of_range, "RATE -1/-2": modelled_rate, "huge values": huge_values,
}


@pytest.mark.parametrize("category", list(CORRUPTIONS))
def test_corrupted_theophylline(category: str, compiled: object,
                                theophylline: pd.DataFrame) -> None:
    @FUZZ
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        frame = CORRUPTIONS[category](theophylline, data)
        for _ in range(data.draw(st.integers(0, 1), label="second corruption")):
            frame = CORRUPTIONS[data.draw(st.sampled_from(list(CORRUPTIONS)))](frame, data)
        run(frame, compiled, category)

    check()


@FUZZ
@given(data=st.data(), n_ids=st.integers(1, 3))
def test_corrupted_synthetic(data: st.DataObject, n_ids: int, compiled: object) -> None:
    frame = _synthetic(n_ids)
    for _ in range(data.draw(st.integers(1, 3), label="corruptions")):
        frame = CORRUPTIONS[data.draw(st.sampled_from(list(CORRUPTIONS)))](frame, data)
    run(frame, compiled, "synthetic, mixed")


@pytest.mark.parametrize("value", ["1e19", "1e300", "-1e300", "9007199254740992"])
def test_identifiers_beyond_exact_integers_are_refused(value: str, compiled: object) -> None:
    frame = _set(_synthetic(2), list(range(7)), "ID", value)
    result = run(frame, compiled, "huge ID")
    assert isinstance(result, pkpd.DataError)
    assert "row 2, column ID" in str(result) and "2**53" in str(result)


def test_unchanged_tables_simulate(compiled: object, theophylline: pd.DataFrame) -> None:
    assert not isinstance(run(theophylline, compiled, "unchanged"), pkpd.PkpdError)
    assert not isinstance(run(_synthetic(3), compiled, "unchanged"), pkpd.PkpdError)


def test_zz_report_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """Print the outcomes per category (run with ``-s`` to see them)."""
    assert OUTCOMES, "no input was tried"
    with capsys.disabled():
        print(f"\nNONMEM fuzz: {sum(OUTCOMES.values())} inputs")
        for key, count in sorted(OUTCOMES.items()):
            print(f"  {count:6d}  {key}")
