"""Tests of pkpd.events: EventTable, Dose, Regimen (parser, then-rule, lowering to events)."""

from __future__ import annotations

import math
from types import SimpleNamespace as NS

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkpd import DataError, RegimenError, UnitError
from pkpd.events import Dose, EventTable, Regimen, RegimenPart
from pkpd.units import registry


def stand_in_model(time_unit: str = "h", central_unit: str = "mg", dosing=(), covariates=()):
    """The attributes of a Model that pkpd.events reads."""
    states = (NS(name="depot", unit="mg"), NS(name="central", unit=central_unit),
              NS(name="periph", unit="mg"))
    return NS(name="two_cmt_oral", time_unit=time_unit, states=states,
              state_names=tuple(s.name for s in states),
              routes={"PO": "depot", "IV": "central"}, dosing=tuple(dosing),
              covariates=tuple(covariates), covariate_names=tuple(c.name for c in covariates))


def table(**over):
    base = dict(ids=[1, 2], offsets=[0, 2, 3], time=[0.0, 1.0, 0.0], evid=[1, 0, 1],
                amt=[100.0, 0.0, 50.0], cmt=[1, 2, 2], rate=[0.0, 0.0, 10.0],
                ii=[0.0, 0.0, 0.0], addl=[0, 0, 0], ss=[0, 0, 0])
    base.update(over)
    return EventTable(**base)


def dose_times(events: EventTable, subject: int = 0) -> list[float]:
    """Every dose time of a subject with ADDL expanded (an independent reading of the table)."""
    sub = events.subject(subject)
    out = []
    for t, ii, addl, evid in zip(sub.time, sub.ii, sub.addl, sub.evid, strict=True):
        if evid in (1, 4):
            out += [float(t + k * ii) for k in range(addl + 1)]
    return sorted(out)


# ---------------------------------------------------------------------------- EventTable


def test_event_table_dtypes_defaults_and_views():
    ev = table()
    assert ev.n_subjects == 2 and ev.n_records == 3
    assert ev.time.dtype == np.float64 and ev.evid.dtype == np.int64
    assert ev.ids.dtype == np.int64 and ev.offsets.dtype == np.int64
    assert ev.cov.shape == (3, 0) and ev.cov_interp == ()
    assert ev.output.tolist() == [False, True, False]
    with pytest.raises(ValueError):
        ev.time[0] = 5.0
    s = ev.subject(1)
    assert s.ids.tolist() == [2] and s.offsets.tolist() == [0, 1] and s.rate.tolist() == [10.0]
    assert ev.subject(-1) == s


def test_event_table_ids_object_when_not_integral():
    assert table(ids=["A", "B"]).ids.dtype == object
    assert table(ids=[1.0, 2.0]).ids.dtype == np.int64


@pytest.mark.parametrize("ids", [
    np.array([1e19, 2.0]),                       # would wrap to -2**63
    np.array([2.0**53, 2.0**53 + 2]),            # not every whole number is a float here
    np.array([2**64 - 1, 2], dtype=np.uint64),   # above the int64 range
])
def test_event_table_ids_too_large_are_refused(ids):
    with pytest.raises(DataError, match="too large"):
        table(ids=ids)


def test_event_table_large_python_int_ids_stay_exact():
    ids = [10**20, 10**20 + 1]
    assert table(ids=ids).ids.tolist() == ids


@pytest.mark.parametrize(("over", "match"), [
    (dict(amt=[0.0, 1.0]), "amt has shape"),
    (dict(offsets=[0, 3, 2]), "offsets"),
    (dict(offsets=[0, 2]), "offsets"),
    (dict(evid=[1, 7, 1]), "evid"),
    (dict(evid=[1.5, 0, 1]), "integers"),
    (dict(ids=[1, 1]), "unique"),
    (dict(time=[2.0, 1.0, 0.0]), "time goes backwards at record 2 of subject 1"),
    (dict(amt=[np.nan, 0.0, 50.0]), "amt is not finite"),
    (dict(rate=[-3.0, 0.0, 0.0]), "rate is negative"),
    (dict(cov=np.zeros((3, 2)), cov_names=("WT",)), "cov has shape"),
    (dict(cov=np.zeros((3, 1)), cov_names=("WT",), cov_interp=("linear",)), "cov_interp"),
])
def test_event_table_validation(over, match):
    with pytest.raises(DataError, match=match):
        table(**over)


def test_event_table_time_may_go_back_at_reset():
    ev = table(time=[5.0, 1.0, 0.0], evid=[1, 4, 1], amt=[100.0, 10.0, 50.0])
    assert ev.time.tolist() == [5.0, 1.0, 0.0]


def test_concat_and_to_frame():
    a = table(cov=[[70.0], [71.0], [80.0]], cov_names=("WT",), cov_interp=("locf",))
    b = EventTable(ids=[3], offsets=[0, 1], time=[0.0], evid=[0], amt=[0.0], cmt=[2],
                   rate=[0.0], ii=[0.0], addl=[0], ss=[0], cov=[[60.0]], cov_names=("WT",),
                   cov_interp=("locf",))
    c = EventTable.concat([a, b])
    assert c.ids.tolist() == [1, 2, 3] and c.offsets.tolist() == [0, 2, 3, 4]
    assert c.subject(2) == b and c.subject(0) == a.subject(0)
    frame = c.to_frame()
    assert list(frame.columns) == ["ID", "TIME", "EVID", "AMT", "CMT", "RATE", "II", "ADDL",
                                   "SS", "WT"]
    assert frame["ID"].tolist() == [1, 1, 2, 3] and frame["WT"].tolist() == [70, 71, 80, 60]
    with pytest.raises(DataError, match="unique"):
        EventTable.concat([a, a])
    with pytest.raises(DataError, match="covariates"):
        EventTable.concat([table(), b])


def test_check_against_model():
    Attr = NS
    model = stand_in_model(
        dosing=[Attr(state="central", F=None, lag=None, rate=None, duration="D2")],
        covariates=[NS(name="WT", default=None), NS(name="CRCL", default=100.0)])
    ok = table(cov=np.full((3, 1), 70.0), cov_names=("WT",), rate=[0.0, 0.0, -2.0])
    ok.check(model)  # RATE -2 into central (modelled duration) is fine, CRCL has a default
    bad = table(time=[0.0, 12.0, 0.0], cmt=[4, 2, 2], rate=[0.0, 0.0, -1.0])
    with pytest.raises(DataError) as err:
        bad.check(model)
    msg = str(err.value)
    assert "record 1 of subject 1 (TIME 0.0): CMT=4" in msg
    assert "1 depot, 2 central, 3 periph" in msg
    assert "record 1 of subject 2 (TIME 0.0): RATE=-1" in msg and "modelled rate" in msg
    assert "['WT']" in msg and "CRCL" not in msg
    with pytest.raises(DataError, match=r"record 1 of subject 1 .*CMT 0"):
        table(cmt=[0, 2, 2]).check(model)


# ---------------------------------------------------------------------------- Dose


def test_dose_normalises():
    d = Dose("500 mg", "oral", duration="0 h")
    assert d.into == "PO" and d.duration is None
    assert d.amount == registry().Quantity(500.0, "mg") and d.time.magnitude == 0
    assert Dose("25 mg/kg", "IV").per_weight and not d.per_weight
    assert Dose("5 mg", "central").into == "central"


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(amount="-5 mg"), RegimenError, "'-5 mg'.*positive"),
    (dict(amount="0 mg"), RegimenError, "positive"),
    (dict(amount=float("nan")), RegimenError, "NaN"),
    (dict(amount="500 mgx"), UnitError, "500 mgx"),
    (dict(amount="500 h"), UnitError, r"\[time\]"),
    (dict(amount=500), UnitError, "needs a unit"),
    (dict(duration="-1 h"), RegimenError, "duration"),
    (dict(duration="1 mg"), UnitError, "duration"),
    (dict(duration="1 h", rate="10 mg/h"), RegimenError, "not both"),
    (dict(rate="10 mg"), UnitError, "rate"),
    (dict(time="-2 h"), RegimenError, "time"),
    (dict(into=""), RegimenError, "route"),
])
def test_dose_validation(kwargs, error, match):
    args = dict(amount="500 mg", into="PO") | kwargs
    with pytest.raises(error, match=match):
        Dose(**args)


# ---------------------------------------------------------------------------- Regimen


def test_repeat_until_is_exclusive_and_then_rule():
    d = Dose("1 g", "IV", duration="1 h")
    assert Regimen.repeat(d, every="12 h", until="7 d").parts[0].count == 14
    assert Regimen.repeat(d, every="12 h", until="7.01 d").parts[0].count == 15
    assert Regimen.repeat(d, every="8 h", count=3).parts[0].count == 3
    with pytest.raises(RegimenError, match="exactly one"):
        Regimen.repeat(d, every="8 h")
    load = Regimen.single(Dose("2 g", "IV"))
    maint = Regimen.repeat(Dose("1 g", "IV"), every="8 h", count=3)
    # single then repeated: one interval of the next part
    assert maint.parts[0].dose.time.magnitude == 0
    assert load.then(maint).parts[1].dose.time.to("h").magnitude == 8
    # repeated then single: one interval of the previous part after its last dose (16 h)
    assert maint.then(Regimen.single(Dose("2 g", "IV"))).parts[1].dose.time.to(
        "h").magnitude == 24
    assert maint.then(Dose("2 g", "PO"), after="2 h").parts[1].dose.time.to("h").magnitude == 18
    with pytest.raises(RegimenError, match="after"):
        load.then(load)
    merged = load + Regimen.single(Dose("1 g", "PO", time="6 h"))
    assert [p.dose.time.to("h").magnitude for p in merged.parts] == [0, 6]


MODEL = stand_in_model()


@pytest.mark.parametrize(("text", "times", "amount", "rate", "cmt"), [
    ("500 mg PO q12h x 14", [12.0 * k for k in range(14)], 500, 0, 1),
    ("1 g IV over 1 h every 12 h for 7 days", [12.0 * k for k in range(14)], 1000, 1000, 2),
    ("500 mg PO q 12 h x 3 doses", [0, 12, 24], 500, 0, 1),
    ("500 mg oral every 8 hours for 1 d", [0, 8, 16], 500, 0, 1),
    ("500mg PO qd for 3 d", [0, 24, 48], 500, 0, 1),
    ("500 mg PO daily x 2", [0, 24], 500, 0, 1),
    ("500 mg PO bid for 2 doses", [0, 12], 500, 0, 1),
    ("500 mg PO tid x3", [0, 8, 16], 500, 0, 1),
    ("500 mg PO qid x 2", [0, 6], 500, 0, 1),
    ("500 mg PO once daily for 2 weeks", [24.0 * k for k in range(14)], 500, 0, 1),
    ("1 g IV at 100 mg/h q24h x 2", [0, 24], 1000, 100, 2),
    ("1 g IV over 30 min", [0], 1000, 2000, 2),
    ("1 g IV bolus starting at 8 h", [8], 1000, 0, 2),
    ("1 g into central at 8 h", [8], 1000, 0, 2),
    ("20 mg SC every day x 2", None, None, None, None),
])
def test_parse_clinical_text(text, times, amount, rate, cmt):
    r = Regimen.parse(text)
    if times is None:  # SC is not a route of the stand-in model
        with pytest.raises(RegimenError, match=r"routes \['IV', 'PO'\].*states"):
            r.to_events(MODEL)
        return
    ev = r.to_events(MODEL)
    assert dose_times(ev) == pytest.approx(times)
    assert ev.amt.tolist() == [amount] and ev.rate.tolist() == [rate]
    assert ev.cmt.tolist() == [cmt] and not ev.output.any() and ev.cov.shape == (1, 0)


def test_parse_loading_then_maintenance():
    r = Regimen.parse("loading 25 mg/kg IV over 2 h then 15 mg/kg q12h for 5 days")
    ev = r.to_events(MODEL, weight="80 kg")
    # loading 2000 mg over 2 h at 0; maintenance 1200 mg IV bolus (route carried over, the
    # infusion duration not) one maintenance interval after the loading dose, 10 doses
    assert dose_times(ev) == [0.0] + [12.0 + 12 * k for k in range(10)]
    assert ev.amt.tolist() == [2000.0, 1200.0] and ev.rate.tolist() == [1000.0, 0.0]
    assert ev.ii.tolist() == [0.0, 12.0] and ev.addl.tolist() == [0, 9]
    assert ev.cmt.tolist() == [2, 2]
    with pytest.raises(RegimenError,
                       match="amount '25 mg/kg' is per kg of body weight: give the patient's"):
        r.to_events(MODEL)
    many = r.to_events(MODEL, weight=np.array([50.0, 100.0]))
    assert many.ids.tolist() == [1, 2] and many.amt.tolist() == [1250, 750, 2500, 1500]
    q = registry().Quantity(np.array([110.0, 220.0]), "lb")
    assert r.to_events(MODEL, weight=q).amt[0] == pytest.approx(25 * 110 * 0.45359237)


def test_to_events_converts_units():
    model = stand_in_model(time_unit="min", central_unit="ug")
    ev = Regimen.parse("1 g IV over 1 h q12h x 2").to_events(model)
    assert ev.amt.tolist() == [1e6] and ev.ii.tolist() == [720.0]
    assert ev.rate.tolist() == pytest.approx([1e6 / 60])
    with pytest.raises(UnitError, match="mmol"):
        Regimen.parse("1 mmol IV").to_events(MODEL)
    with pytest.raises(RegimenError, match="weight"):
        Regimen.parse("1 mg IV").to_events(MODEL, weight=[-1.0])


def test_to_events_sorts_merged_parts():
    r = Regimen.parse("100 mg PO at 10 h and 1 g IV over 1 h")
    ev = r.to_events(MODEL)
    assert ev.time.tolist() == [0.0, 10.0] and ev.cmt.tolist() == [2, 1]


@pytest.mark.parametrize(("text", "word", "expect"), [
    ("500 mg PO q1x2h x 3", "'q1x2h' at position 11", "an interval such as 'q12h'"),
    ("500 PO", "'PO' at position 5", "a dose amount"),
    ("500 mg PO over soon", "'soon' at position 16", "an infusion duration"),
    ("500 mg PO x 2.5 q12h", "'2.5' at position 13", "a whole number of doses"),
    ("500 mg PO q12h x 3 maybe", "'maybe' at position 20", "an interval"),
    ("500 mg PO then 250 mg PO", "single doses", "after"),
    ("500 mg PO q12h", "", "how many doses"),
    ("500 mg PO x 3", "", "needs an interval"),
    ("500 mg PO PO", "'PO' at position 11", "a single route"),
])
def test_parse_errors_point_at_the_word(text, word, expect):
    with pytest.raises(RegimenError) as err:
        Regimen.parse(text)
    msg = str(err.value)
    assert word in msg and expect in msg


def test_parse_error_shows_grammar():
    with pytest.raises(RegimenError, match="Regimen grammar"):
        Regimen.parse("500 mg PO q1x2h x 3")


# ---------------------------------------------------------------------------- round trip

_amounts = st.tuples(st.floats(0.001, 1e5, allow_nan=False),
                     st.sampled_from(["mg", "g", "ug", "mmol", "mg/kg"]))
_times = st.tuples(st.floats(0.01, 1000.0), st.sampled_from(["h", "min", "d", "week"]))


@st.composite
def parts(draw):
    ureg = registry()
    a, au = draw(_amounts)
    kind = draw(st.sampled_from(["bolus", "duration", "rate"]))
    extra = {}
    if kind == "duration":
        extra["duration"] = ureg.Quantity(*draw(_times))
    elif kind == "rate":
        extra["rate"] = ureg.Quantity(draw(st.floats(0.01, 1e4)), "mg/h")
    start = draw(st.one_of(st.just("0 h"), _times.map(lambda t: ureg.Quantity(*t))))
    dose = Dose(ureg.Quantity(a, au), draw(st.sampled_from(["PO", "IV", "SC", "IM",
                                                            "central", "depot"])),
                time=start, **extra)
    if draw(st.booleans()):
        return RegimenPart(dose)
    return RegimenPart(dose, draw(st.integers(1, 50)), ureg.Quantity(*draw(_times)))


@settings(max_examples=150, deadline=None)
@given(st.lists(parts(), min_size=1, max_size=4))
def test_str_parse_round_trip(ps):
    r = Regimen(tuple(ps))
    assert Regimen.parse(str(r)) == r


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 30), st.sampled_from([6, 8, 12, 24]), st.integers(1, 40))
def test_then_starts_one_interval_after_last_dose(n1, tau, n2):
    first = Regimen.repeat(Dose("1 g", "IV"), every=f"{tau} h", count=n1)
    second = Regimen.repeat(Dose("500 mg", "PO"), every="24 h", count=n2)
    ev = first.then(second).to_events(MODEL)
    times = dose_times(ev)
    expected = [tau * k for k in range(n1)] + [tau * n1 + 24 * k for k in range(n2)]
    assert times == pytest.approx(sorted(expected))
    assert math.isclose(ev.time[1], tau * n1)


def test_history_followed_by_a_regimen() -> None:
    history = EventTable(ids=np.array([7]), offsets=np.array([0, 3]),
                         time=np.array([0.0, 2.0, 12.0]), evid=np.array([1, 0, 1]),
                         amt=np.array([100.0, 0.0, 100.0]), cmt=np.array([1, 2, 1]),
                         rate=np.zeros(3), ii=np.zeros(3), addl=np.zeros(3, int),
                         ss=np.zeros(3, int), cov=np.array([[70.0], [71.0], [72.0]]),
                         cov_names=("WT",))
    new = EventTable(ids=np.array([1]), offsets=np.array([0, 2]), time=np.array([0.0, 24.0]),
                     evid=np.array([1, 1]), amt=np.array([50.0, 50.0]), cmt=np.array([1, 1]),
                     rate=np.zeros(2), ii=np.zeros(2), addl=np.zeros(2, int),
                     ss=np.zeros(2, int))
    both = history.followed_by(new, 24.0)
    np.testing.assert_array_equal(both.time, [0.0, 12.0, 24.0, 48.0])   # the level is dropped
    np.testing.assert_array_equal(both.amt, [100.0, 100.0, 50.0, 50.0])
    np.testing.assert_array_equal(both.cov[:, 0], [70.0, 72.0, 72.0, 72.0])  # LOCF
    assert list(both.ids) == [7] and not both.output.any()
    many = both.repeat(3)
    assert many.n_subjects == 3 and many.n_records == 12 and list(many.ids) == [1, 2, 3]
    with pytest.raises(DataError, match="before the last dose of the history"):
        history.followed_by(new, 11.0)
    twice = many.repeat(2)      # copies of a many-subject table: copy-major, ids renumbered
    assert twice.n_subjects == 6 and list(twice.ids) == [1, 2, 3, 4, 5, 6]
    np.testing.assert_array_equal(twice.offsets, np.arange(7) * 4)
    np.testing.assert_array_equal(twice.amt, np.tile(many.amt, 2))
    with pytest.raises(DataError, match="both tables must hold one subject"):
        many.followed_by(new, 30.0)
