"""Bad input gives a DataError naming the subject or option and what is valid; units."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pkpd.errors import DataError, UnitError
from pkpd.io.nonmem import read_nonmem
from pkpd.noncompartmental import nca

from .frames import nonmem, table

T = [0, 1, 2, 4, 8, 12]
C = [0, 4, 6, 5, 3, 1.5]


def oral(**kw):
    return nca(table(T, C), dose=100, route="extravascular", **kw)


@pytest.mark.parametrize("times, match", [
    ([0, 1, -2, 4, 8, 12], r"ID 1 has TIME=-2.*>= 0"),
    ([0, 1, np.nan, 4, 8, 12], r"ID 1 has TIME=nan.*finite"),
    ([0, 1, 2, 2, 8, 12], r"ID 1 has two observations at TIME 2.*duplicates='mean'"),
])
def test_bad_times(times, match):
    with pytest.raises(DataError, match=match):
        nca(table(times, C), dose=100, route="extravascular")


def test_duplicates_can_be_averaged():
    res = nca(table([0, 1, 2, 2, 8, 12], [0, 4, 6, 5, 3, 1.5]), dose=100,
              route="extravascular", duplicates="mean", auc_method="linear")
    # 0 -> 4 -> 5.5 (mean of 6 and 5) -> 3 -> 1.5
    assert res.loc[0, "Cmax"] == 5.5
    assert res.loc[0, "AUClast"] == pytest.approx(1 * 4 / 2 + 1 * (4 + 5.5) / 2
                                                  + 6 * (5.5 + 3) / 2 + 4 * (3 + 1.5) / 2)


def test_missing_dose_and_route():
    with pytest.raises(DataError, match="needs dose="):
        nca(table(T, C), route="extravascular")
    with pytest.raises(DataError, match="needs route="):
        nca(table(T, C), dose=100)
    with pytest.raises(DataError, match="route='oral'; valid"):
        nca(table(T, C), dose=100, route="oral")
    with pytest.raises(DataError, match=r"dose: no value for ID 1"):
        nca(table(T, C), dose={2: 100}, route="extravascular")
    with pytest.raises(DataError, match="needs duration="):
        nca(table(T, C), dose=100, route="iv-infusion")
    with pytest.raises(DataError, match=r"dose of ID 1.*> 0"):
        nca(table(T, C), dose=-5, route="extravascular")


def test_subject_without_a_dose_record():
    frame = nonmem([{"ID": 1, "TIME": 0.0, "AMT": 100.0, "CMT": 1}],
                   [(1, t, c) for t, c in zip(T[1:], C[1:], strict=True)]
                   + [(2, t, c) for t, c in zip(T[1:], C[1:], strict=True)])
    with pytest.raises(DataError, match="ID 2 has observations but no dose"):
        nca(frame)
    with pytest.raises(DataError, match="dose= is for a concentration table"):
        nca(frame, dose=100)


def test_output_selection():
    obs = [(1, t, c) for t, c in zip(T[1:], C[1:], strict=True)]
    frame = nonmem([{"ID": 1, "TIME": 0.0, "AMT": 100.0, "CMT": 1}], obs)
    pd_rows = frame[frame["EVID"] == 0].assign(CMT=3, DV=frame["DV"] * 10)
    both = pd.concat([frame, pd_rows]).sort_values(["ID", "TIME", "EVID"], ascending=[
        True, True, False], kind="stable").reset_index(drop=True)
    both["DVID"] = np.where(both["EVID"] == 1, 0, np.where(both["CMT"] == 3, 2, 1))
    with pytest.raises(DataError, match=r"several outputs \(DVID in \[1, 2\]\); choose one "
                                         r"with dvid="):
        nca(both)
    with pytest.raises(DataError, match=r"dvid=5: no observation has DVID=5.*\[1, 2\]"):
        nca(both, dvid=5)
    one = nca(both, dvid=1)
    two = nca(both, dvid=2, route="extravascular")
    assert two.loc[0, "Cmax"] == 10 * one.loc[0, "Cmax"]
    by_cmt = nca(both.drop(columns="DVID"), cmt=2)
    assert by_cmt.loc[0, "AUClast"] == one.loc[0, "AUClast"]
    with pytest.raises(DataError, match=r"CMT in \[2, 3\]\); choose one with cmt="):
        nca(both.drop(columns="DVID"))


def test_routes_from_the_dataset():
    obs = [(1, t, c) for t, c in zip(T[1:], C[1:], strict=True)]
    oral_ = nca(nonmem([{"ID": 1, "TIME": 0.0, "AMT": 100.0, "CMT": 1}], obs))
    bolus = nca(nonmem([{"ID": 1, "TIME": 0.0, "AMT": 100.0, "CMT": 2}], obs))
    infusion = nca(nonmem([{"ID": 1, "TIME": 0.0, "AMT": 100.0, "CMT": 2, "RATE": 200.0}], obs))
    assert oral_.loc[0, "route"] == "extravascular" and "CL_F" in oral_ and "CL" not in oral_
    assert bolus.loc[0, "route"] == "iv-bolus" and "C0" in bolus
    assert infusion.loc[0, "route"] == "iv-infusion" and "Vss" in infusion
    # MRT is corrected by half the 0.5-h duration
    assert infusion.loc[0, "MRT"] == pytest.approx(oral_.loc[0, "MRT"] - 0.25)
    forced = nca(nonmem([{"ID": 1, "TIME": 0.0, "AMT": 100.0, "CMT": 2}], obs),
                 route="extravascular")
    assert forced.loc[0, "AUClast"] == oral_.loc[0, "AUClast"]


def test_bad_options():
    with pytest.raises(DataError, match="auc_method='log'; valid"):
        oral(auc_method="log")
    with pytest.raises(DataError, match="lambda_z='auto'; valid: 'best-fit'"):
        oral(lambda_z="auto")
    with pytest.raises(DataError, match=r"lambda_z=\(8, 2\)"):
        oral(lambda_z=(8, 2))
    with pytest.raises(DataError, match="min_points=2"):
        oral(min_points=2)
    with pytest.raises(DataError, match=r"interval \(1, 12\) of ID 1 does not start at a dose"):
        oral(interval=(1, 12))
    with pytest.raises(DataError, match=r"interval \(5, 2\)"):
        oral(interval=(5, 2))
    with pytest.raises(DataError, match="DV=-1 is negative"):
        nca(table(T, [0, 4, 6, -1, 3, 1.5]), dose=100, route="extravascular")
    with pytest.raises(DataError, match="not supported"):
        frame = nonmem([{"ID": 1, "TIME": 0.0, "AMT": 100.0, "CMT": 1}],
                       [(1, 1.0, 4.0), (1, 2.0, 6.0)])
        frame.loc[len(frame)] = [1, 3.0, 0.0, np.nan, 3, 1, 1, 0.0, 0, 0.0, 0]
        nca(frame)
    with pytest.raises(UnitError, match="conc_unit"):
        oral(conc_unit="mg/Lx")
    with pytest.raises(DataError, match="expected a NONMEM dataset"):
        nca([1, 2, 3])


def test_no_measurable_concentration_is_reported_not_guessed():
    res = nca(table([0, 1, 2, 4], [0, 0.1, 0.2, 0.1]), dose=10, route="extravascular",
              lloq=0.5)
    row = res.iloc[0]
    assert all(math.isnan(row[c]) for c in ("Cmax", "AUClast", "lambda_z", "CL_F"))
    assert "no measurable concentration" in row["note"]


def test_units():
    res = oral(conc_unit="ng/mL", dose_unit="mg")
    raw = oral()
    units = res.attrs["units"]
    assert units["AUClast"] == "ng/mL*h" and units["AUMCinf_obs"] == "ng/mL*h**2"
    assert units["CL_F"] == "L/h" and units["Vz_F"] == "L" and units["lambda_z"] == "1/h"
    assert units["Cmax_D"] == "ng/mL/mg" and units["AUC_pct_extrap_obs"] == "%"
    # mg / (ng/mL) = 1000 L
    assert res.loc[0, "CL_F"] == pytest.approx(1000 * raw.loc[0, "CL_F"], rel=1e-12)
    assert res.loc[0, "AUClast"] == raw.loc[0, "AUClast"]
    assert raw.attrs["units"]["CL_F"] == "dose/(conc)/h"
    assert "note" not in units and "ID" not in units


def test_nonmem_data_and_a_path_give_the_same_table(tmp_path):
    frame = nonmem([{"ID": 3, "TIME": 0.0, "AMT": 100.0, "CMT": 1}],
                   [(3, t, c) for t, c in zip(T[1:], C[1:], strict=True)])
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False, na_rep=".")
    a, b, c = nca(frame), nca(path), nca(read_nonmem(path))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    assert a.loc[0, "ID"] == 3


def test_steady_state_without_an_interval_is_noted():
    res = oral(steady_state=True)
    assert math.isnan(res.loc[0, "CL_F"]) and "CLss_F" not in res
    assert "steady state without a dosing interval" in res.loc[0, "note"]
