"""Regimens that cannot exhaust the machine, and implausible doses.

The work of a simulation is bounded by what is asked for: ADDL doses after the last output
time are never materialised, so 10^8 or 2*10^9 doses simulated over 48 h cost what the five
doses inside the window cost, and give the same concentrations. Those concentrations are
checked against the closed forms of the one-compartment model written out here (superposition
of the Bateman function for oral doses, of the zero-order infusion solution, and the
steady-state oral profile; Gibaldi M, Perrier D. Pharmacokinetics, 2nd ed., 1982, chapters 1
and 3). Where doses must be materialised, a RegimenError names the count and the limit.
Infusions of zero duration are refused; doses above 1 kg of drug warn with PkpdWarning.
"""

from __future__ import annotations

import time
import tracemalloc
import warnings

import numpy as np
import pytest

import pkpd
from pkpd.events import MAX_IMPLIED_DOSES, EventTable

KA, CL, V = 1.0, 5.0, 50.0      # typical values of models/one_cmt.toml
KE = CL / V
TIMES = np.arange(0.0, 48.0 + 1e-9, 0.5)


@pytest.fixture(scope="module")
def cm() -> pkpd.CompiledModel:
    return pkpd.compile_model(pkpd.load_model("one_cmt"))


def oral(t: np.ndarray, dose_times: np.ndarray, amount: float) -> np.ndarray:
    """Concentration after oral boluses at ``dose_times`` (Bateman, superposed)."""
    dt = t[:, None] - dose_times[None, :]
    dt = np.where(dt >= 0, dt, np.nan)
    c = amount * KA / (V * (KA - KE)) * (np.exp(-KE * dt) - np.exp(-KA * dt))
    return np.nansum(c, axis=1)


def infusion(t: np.ndarray, starts: np.ndarray, amount: float, duration: float) -> np.ndarray:
    """Concentration after zero-order infusions into the central compartment, superposed."""
    rate = amount / duration
    dt = t[:, None] - starts[None, :]
    during = rate / CL * (1 - np.exp(-KE * np.clip(dt, 0, None)))
    after = rate / CL * (1 - np.exp(-KE * duration)) * np.exp(-KE * (dt - duration))
    c = np.where(dt < 0, 0.0, np.where(dt <= duration, during, after))
    return c.sum(axis=1)


def oral_steady_state(t: np.ndarray, amount: float, tau: float) -> np.ndarray:
    """Steady-state concentration of oral doses every ``tau`` (time since the last dose)."""
    s = np.mod(t, tau)
    return amount * KA / (V * (KA - KE)) * (np.exp(-KE * s) / (1 - np.exp(-KE * tau))
                                            - np.exp(-KA * s) / (1 - np.exp(-KA * tau)))


def measured(fn: object) -> tuple[object, float, float]:
    """Result, seconds and peak traced memory (MB) of ``fn()``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        out = fn()  # type: ignore[operator]
        peak = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    return out, time.perf_counter() - start, peak


@pytest.mark.parametrize("text", ["500 mg PO q12h x 100000000", "500 mg PO q12h for 1e9 days"])
def test_huge_regimens_cost_only_the_doses_in_the_window(cm, text):
    ds, seconds, peak = measured(lambda: pkpd.simulate(cm, text, times=TIMES))
    expected = oral(TIMES, np.arange(0.0, 48.0 + 1e-9, 12.0), 500.0)
    np.testing.assert_allclose(ds["CP"].to_numpy()[0], expected, rtol=1e-6, atol=1e-9)
    assert peak < 100.0, f"{text}: {peak:.0f} MB"       # 10^8 doses would take > 10 GB
    assert seconds < 30.0


def test_infusions_spanning_the_window_end(cm):
    ds = pkpd.simulate(cm, "1 g IV over 10 h q12h x 100000000", times=TIMES)
    expected = infusion(TIMES, np.arange(0.0, 48.0 + 1e-9, 12.0), 1000.0, 10.0)
    np.testing.assert_allclose(ds["CP"].to_numpy()[0], expected, rtol=1e-6, atol=1e-9)


def dataset(ss: int, addl: int) -> EventTable:
    obs = np.arange(0.5, 48.0 + 1e-9, 0.5)
    n = len(obs) + 1
    return EventTable(ids=[1], offsets=[0, n], time=np.concatenate([[0.0], obs]),
                      evid=np.r_[1, np.zeros(len(obs), dtype=int)],
                      amt=np.r_[500.0, np.zeros(len(obs))], cmt=np.r_[1, np.full(len(obs), 2)],
                      rate=np.zeros(n), ii=np.r_[12.0, np.zeros(len(obs))],
                      addl=np.r_[addl, np.zeros(len(obs), dtype=int)],
                      ss=np.r_[ss, np.zeros(len(obs), dtype=int)])


def test_dataset_with_huge_addl_uses_its_last_observation(cm):
    ds, _, peak = measured(lambda: pkpd.simulate(cm, dataset(0, 10**9)))
    obs = np.arange(0.5, 48.0 + 1e-9, 0.5)
    expected = oral(obs, np.arange(0.0, 48.0 + 1e-9, 12.0), 500.0)
    np.testing.assert_allclose(ds["CP"].to_numpy().ravel(), expected, rtol=1e-6, atol=1e-9)
    assert peak < 100.0


def test_steady_state_dose_with_huge_addl(cm):
    ds = pkpd.simulate(cm, dataset(1, 10**8))
    obs = np.arange(0.5, 48.0 + 1e-9, 0.5)
    expected = oral_steady_state(obs, 500.0, 12.0)
    np.testing.assert_allclose(ds["CP"].to_numpy().ravel(), expected, rtol=1e-6, atol=1e-9)


def test_too_many_doses_inside_the_window_is_a_regimen_error(cm):
    text = "1 mg IV q0.000001h x 1000000000"          # 4.8e7 doses in 48 h
    with pytest.raises(pkpd.RegimenError) as info:
        measured(lambda: pkpd.simulate(cm, text, times=TIMES))
    message = str(info.value)
    assert str(MAX_IMPLIED_DOSES) in message
    count = int(message.split("implies ")[1].split()[0])
    assert abs(count - 48.0 / 1e-6) <= 2


def test_count_beyond_int64_is_a_regimen_error():
    with pytest.raises(pkpd.RegimenError, match="limit"):
        pkpd.Regimen.parse("500 mg PO q12h x 1e18")
    with pytest.raises(pkpd.RegimenError, match="limit"):
        pkpd.Regimen.parse("500 mg PO q1e-300h for 1e300 h")


@pytest.mark.parametrize("text", ["1 g IV over 0 h", "1 g IV over 0 min q12h x 4",
                                  "100 mg PO then 1 g IV over 0.0 h after 12 h"])
def test_infusion_over_zero_is_refused(text):
    with pytest.raises(pkpd.RegimenError, match="positive infusion duration") as info:
        pkpd.Regimen.parse(text)
    assert text in str(info.value)


@pytest.mark.parametrize(("text", "value"), [("500 kg PO", "500"), ("2 kg IV", "2"),
                                             ("20 g/kg IV over 1 h", "20")])
def test_implausible_masses_warn_but_are_kept(text, value):
    with pytest.warns(pkpd.PkpdWarning, match=value):
        regimen = pkpd.Regimen.parse(text)
    assert regimen.parts[0].dose.amount.magnitude == float(value)


@pytest.mark.parametrize("text", ["1 g IV over 1 h", "25 mg/kg IV", "900 g PO", "2 mmol SC",
                                  "1e6 IU IV"])
def test_clinical_amounts_do_not_warn(text):
    with warnings.catch_warnings():
        warnings.simplefilter("error", pkpd.PkpdWarning)
        pkpd.Regimen.parse(text)


def test_clipped_keeps_doses_up_to_the_window():
    table = dataset(0, 10**8)
    assert int(table.clipped(48.0).addl[0]) == 5          # doses at 12..48, one margin
    assert int(table.clipped(47.9).addl[0]) == 4
    assert int(table.clipped(-np.inf).addl[0]) == 0
    assert dataset(0, 3).clipped(np.inf).addl[0] == 3
    with pytest.raises(pkpd.RegimenError, match=f"{10**8} additional"):
        table.clipped(np.inf)                                 # nothing clipped: over the limit


def test_bolus_at_the_last_output_time_is_given(cm):
    # the dose at 48 h is applied before the output at 48 h (NONMEM order): C jumps by D/V
    ds = pkpd.simulate(cm, "100 mg IV q12h x 100000000", times=TIMES)
    dt = TIMES[:, None] - np.arange(0.0, 48.0 + 1e-9, 12.0)[None, :]
    expected = np.where(dt >= 0, 100.0 / V * np.exp(-KE * np.clip(dt, 0, None)), 0.0).sum(1)
    np.testing.assert_allclose(ds["CP"].to_numpy()[0], expected, rtol=1e-6, atol=1e-9)
    assert ds["CP"].to_numpy()[0][-1] > ds["CP"].to_numpy()[0][-2] + 100.0 / V * 0.9
