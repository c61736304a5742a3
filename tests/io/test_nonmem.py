"""Tests of pkpd.io.nonmem: reading real datasets, every DataError case, write/read round trip."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from types import SimpleNamespace as NS

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkpd import DataError
from pkpd.io import NonmemData, read_nonmem, write_nonmem

REAL = {
    # file: (subjects, records) counted from the file itself with the csv module below
    "data/theophylline.csv": 12,
    "data/warfarin.csv": 32,
    "data/infusion_1cpt.csv": 120,
    "conformance/nmtests/dosing_1001.csv": 29,
    "conformance/nmtests/tv_2001.csv": 1,
}


def _csv_rows(path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [{k.upper(): v for k, v in r.items()} for r in rows]


def assert_same(a: NonmemData, b: NonmemData) -> None:
    assert a.events == b.events
    pd.testing.assert_frame_equal(a.frame.drop(columns="ROW"), b.frame.drop(columns="ROW"))
    pd.testing.assert_frame_equal(a.observations.drop(columns="ROW"),
                                  b.observations.drop(columns="ROW"))
    assert a.covariate_names == b.covariate_names


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_files_read_and_round_trip(shared_dir, name, tmp_path):
    path = shared_dir / name
    data = read_nonmem(path)
    rows = _csv_rows(path)
    assert data.events.n_subjects == REAL[name] == len({r["ID"] for r in rows})
    assert data.events.n_records == len(rows)
    assert data.frame["ROW"].tolist() == list(range(2, len(rows) + 2))
    assert data.events.output.all()
    n_obs = sum(r.get("EVID", "0") == "0" and r.get("MDV", "0") == "0"
                and r.get("DV", ".") not in ("", ".") for r in rows)
    assert len(data.observations) == n_obs
    write_nonmem(data, tmp_path / "x.csv")
    assert_same(read_nonmem(tmp_path / "x.csv"), data)


def test_known_counts(shared_dir):
    theo = read_nonmem(shared_dir / "data/theophylline.csv")
    assert (theo.events.n_subjects, theo.events.n_records, len(theo.observations)) == (12, 144,
                                                                                      132)
    assert theo.covariate_names == ("WT", "DOSE_MGKG")
    assert theo.events.amt[0] == 319.992 and theo.events.cmt[:2].tolist() == [1, 2]
    warf = read_nonmem(shared_dir / "data/warfarin.csv")
    assert warf.events.n_subjects == 32 and 11 not in warf.ids.tolist()
    assert "DVNAME" not in warf.covariate_names and "DVID" in warf.observations
    conf = read_nonmem(shared_dir / "conformance/nmtests/dosing_1001.csv")
    assert (conf.events.n_subjects, conf.events.n_records) == (29, 3837)
    assert set(conf.events.evid.tolist()) == {0, 1, 3, 4}
    assert conf.events.rate.min() == -2.0 and conf.events.ss.max() == 2
    tv = read_nonmem(shared_dir / "conformance/nmtests/tv_2001.csv", locf=["wt"])
    assert tv.events.cov_interp[tv.covariate_names.index("WT")] == "locf"
    assert tv.events.cov_interp[tv.covariate_names.index("LAGT")] == "nocb"
    assert tv.events.cov[:3, 0].tolist() == [62.65, 62.65, 79.43]


def test_model_compartments(shared_dir):
    model = NS(name="one_cmt", state_names=("central",))
    with pytest.raises(DataError, match=r"row 3, column CMT: CMT=2 but model 'one_cmt' has 1 "
                                        r"states: 1 central"):
        read_nonmem(shared_dir / "data/theophylline.csv", model=model)


# ---------------------------------------------------------------------------- errors

HEADER = "ID,TIME,AMT,DV,EVID,MDV,CMT,RATE,II,ADDL,SS,WT"
GOOD = ["1,0,100,.,1,1,1,0,0,0,0,70", "1,1,0,5,0,0,1,0,0,0,0,70"]


def read_text(lines, *, tmp, frame=False, **kw):
    """Read inline CSV lines from a file, or as a DataFrame of text cells."""
    if frame:
        source = pd.read_csv(io.StringIO("\n".join(lines)), dtype=str, keep_default_na=False)
    else:
        source = _write(lines, tmp)
    return read_nonmem(source, **kw)


def _write(lines, tmp):
    path = tmp / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


BAD_ROWS = [
    # (extra row appended as line 4, column, fragment of the reason)
    ("1,abc,0,5,0,0,1,0,0,0,0,70", "TIME", "'abc' is not a number"),
    ("1,.,0,5,0,0,1,0,0,0,0,70", "TIME", "TIME is missing"),
    (".,2,0,5,0,0,1,0,0,0,0,70", "ID", "ID is missing"),
    ("1,0.5,0,5,0,0,1,0,0,0,0,70", "TIME", "goes back from 1 within ID 1"),
    ("1,2,0,5,7,0,1,0,0,0,0,70", "EVID", "EVID=7"),
    ("1,2,5,5,0,0,1,0,0,0,0,70", "AMT", "AMT=5 on an observation row"),
    ("1,2,.,.,1,1,1,0,0,0,0,70", "AMT", "AMT is missing on a dose row"),
    ("1,2,0,.,1,1,1,0,0,0,0,70", "AMT", "AMT=0 on a dose row"),
    ("1,2,-5,.,1,1,1,0,0,0,0,70", "AMT", "AMT=-5 on a dose row"),
    ("1,2,nan,.,1,1,1,0,0,0,0,70", "AMT", "'nan' is not a number"),
    ("1,2,5,.,1,1,1,-3,0,0,0,70", "RATE", "RATE=-3"),
    ("1,2,5,.,1,1,1,0,24,0,3,70", "SS", "SS=3"),
    ("1,2,0,5,0,0,1,0,24,0,1,70", "SS", "SS=1 on a non-dose row"),
    ("1,2,5,.,1,1,1,0,0,0,1,70", "SS", "SS=1 needs II > 0"),
    ("1,2,5,.,1,1,1,0,0,0,2,70", "SS", "SS=2 needs II > 0"),
    ("1,2,5,.,1,1,1,0,0,3,0,70", "ADDL", "ADDL=3 needs II > 0"),
    ("1,2,5,.,1,1,1,0,12,-1,0,70", "ADDL", "ADDL=-1"),
    ("1,2,5,.,1,1,1,0,12,1.5,0,70", "ADDL", "ADDL=1.5"),
    ("1,2,5,.,1,1,1.5,0,0,0,0,70", "CMT", "CMT=1.5"),
    ("1,2,0,5,0,0,-1,0,0,0,0,70", "CMT", "CMT=-1"),
    ("1,2,5,.,1,1,0,0,0,0,0,70", "CMT", "needs a compartment, CMT is 0"),
    ("1,2,5,.,1,1,.,0,0,0,0,70", "CMT", "needs a compartment, CMT is missing"),
    ("1,2,0,.,0,0,1,0,0,0,0,70", "DV", "DV is missing on an observation with MDV=0"),
    ("1,-1,0,5,0,0,1,0,0,0,0,70", "TIME", "TIME=-1 is negative"),
    ("1,2,0,5,0,2,1,0,0,0,0,70", "MDV", "MDV=2; valid: 0"),
    ("1,2,0,5,0,-1,1,0,0,0,0,70", "MDV", "MDV=-1; valid: 0"),
    ("1,2,0,5,0,0.5,1,0,0,0,0,70", "MDV", "MDV=0.5; valid: 0"),
]


@pytest.mark.parametrize(("row", "column", "reason"), BAD_ROWS)
@pytest.mark.parametrize("as_frame", [False, True])
def test_each_malformed_row(tmp_path, row, column, reason, as_frame):
    lines = [HEADER, *GOOD, row]
    with pytest.raises(DataError) as err:
        read_text(lines, tmp=tmp_path, frame=as_frame, covariates=["WT"])
    assert f"row 4, column {column}: " in str(err.value)
    assert reason in str(err.value)


def test_covariate_problems(tmp_path):
    lines = [HEADER, *GOOD, "1,2,0,5,0,0,1,0,0,0,0,.", "1,3,0,5,0,0,1,0,0,0,0,heavy"]
    with pytest.raises(DataError) as err:
        read_text(lines, tmp=tmp_path, covariates=["wt"])
    msg = str(err.value)
    assert "row 4, column WT: covariate value is missing" in msg
    assert "row 5, column WT: 'heavy' is not a number" in msg
    # auto-detection leaves out a column that is not numeric on every row
    data = read_text([HEADER, *GOOD, "1,2,0,5,0,0,1,0,0,0,0,."], tmp=tmp_path)
    assert data.covariate_names == ()
    filled = read_text([HEADER, *GOOD, "1,2,0,5,0,0,1,0,0,0,0,."], tmp=tmp_path,
                       covariates=["WT"], fill_missing_covariates="locf")
    assert filled.events.cov[:, 0].tolist() == [70, 70, 70]
    with pytest.raises(DataError, match="row 2, column WT: covariate value is missing"):
        read_text([HEADER, "1,0,100,.,1,1,1,0,0,0,0,.", *GOOD], tmp=tmp_path,
                  covariates=["WT"], fill_missing_covariates="locf")
    with pytest.raises(DataError, match=r"covariates \['AGE'\]"):
        read_text([HEADER, *GOOD], tmp=tmp_path, covariates=["AGE"])
    with pytest.raises(DataError, match="locf"):
        read_text([HEADER, *GOOD], tmp=tmp_path, locf=["AGE"])


def test_id_reappearing_and_many_problems_listed(tmp_path):
    lines = [HEADER, *GOOD, "2,0,0,5,0,0,1,0,0,0,0,70", "1,5,0,5,0,0,1,0,0,0,0,70"]
    with pytest.raises(DataError, match=r"row 5, column ID: ID 1 appears again after other "
                                        r"IDs \(its records start at row 2\)"):
        read_text(lines, tmp=tmp_path)
    many = [HEADER] + [f"1,{t},0,5,9,0,1,0,0,0,0,70" for t in range(30)]
    with pytest.raises(DataError) as err:
        read_text(many, tmp=tmp_path)
    msg = str(err.value)
    assert "30 problem(s)" in msg and "row 2, column EVID" in msg and "row 21," in msg
    assert "row 22," not in msg and "... and 10 more" in msg


def test_reset_allows_time_to_go_back_and_constant_infusion(tmp_path):
    lines = [HEADER, *GOOD, "1,0,50,.,4,1,1,0,0,0,0,70", "1,0,0,.,3,1,1,0,0,0,0,70",
             "1,0,0,.,1,1,1,10,0,0,1,70"]
    data = read_text(lines, tmp=tmp_path)
    assert data.events.evid.tolist() == [1, 0, 4, 3, 1]
    assert data.events.time.tolist() == [0, 1, 0, 0, 0]


def test_comments_missing_columns_and_derived_evid(tmp_path):
    lines = ["C,id,time,amt,dv,mdv,cmt,Wt", "#,1,0,5,.,1,1,70", ".,1,0,100,.,1,1,70",
             "# a comment line", "", "C,1,0.5,0,3,0,2,70", "0,1,1,0,5,0,2,70",
             ".,1,2,0,.,1,2,70", ".,1,3,0,.,.,2,70"]
    data = read_text(lines, tmp=tmp_path)
    assert data.frame["ROW"].tolist() == [3, 7, 8, 9]
    # EVID: 1 where AMT > 0, 2 where MDV=1 without a dose, else 0; MDV missing -> from DV
    assert data.events.evid.tolist() == [1, 0, 2, 0]
    assert data.observations["ROW"].tolist() == [7]
    assert data.observations["DV"].tolist() == [5.0]
    assert data.covariate_names == ("WT",) and data.events.cov_interp == ("nocb",)
    assert data.events.rate.tolist() == [0, 0, 0, 0] and data.events.ss.tolist() == [0] * 4


def test_structural_errors(tmp_path):
    with pytest.raises(DataError, match="required column TIME"):
        read_text(["ID,AMT", "1,5"], tmp=tmp_path)
    with pytest.raises(DataError, match="more than once"):
        read_text(["ID,TIME,time", "1,0,0"], tmp=tmp_path)
    with pytest.raises(DataError, match="row 3: 4 fields"):
        read_text(["ID,TIME,DV", "1,0,1", "1,1,2,3"], tmp=tmp_path)


# ---------------------------------------------------------------------------- round trip


@st.composite
def datasets(draw):
    rows = []
    for sid in draw(st.lists(st.integers(1, 999), min_size=1, max_size=4, unique=True)):
        t = 0.0
        wt = draw(st.floats(30, 150))
        for _ in range(draw(st.integers(1, 6))):
            t += draw(st.sampled_from([0.0, 0.5, 1.0, 1 / 3, 12.0]))
            if draw(st.booleans()):
                amt = draw(st.floats(0.1, 1e4))
                rate = draw(st.sampled_from([0.0, 0.0, -2.0, amt / 2]))
                ii, addl = draw(st.sampled_from([(0.0, 0), (12.0, 3), (24.0, 0)]))
                rows.append((sid, t, amt, np.nan, 1, 1, draw(st.integers(1, 3)), rate, ii,
                             addl, 0, wt, "dose"))
            else:
                dv = draw(st.one_of(st.just(np.nan), st.floats(0, 100)))
                rows.append((sid, t, 0.0, dv, 0, int(np.isnan(dv)), 2, 0.0, 0.0, 0, 0, wt,
                             "obs"))
            wt = wt + draw(st.sampled_from([0.0, 0.25]))
    return pd.DataFrame(rows, columns=[*HEADER.split(","), "NAME"])


@settings(max_examples=60, deadline=None)
@given(datasets())
def test_write_read_round_trip(frame):
    data = read_nonmem(frame, locf=["WT"])
    assert data.frame["ROW"].tolist() == list(range(2, len(frame) + 2))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.csv"
        write_nonmem(data, path)
        again = read_nonmem(path, locf=["WT"])
        assert_same(again, data)
        np.testing.assert_array_equal(again.events.amt, frame["AMT"].to_numpy())
        write_nonmem(data.events, path)
        from_events = read_nonmem(path, locf=["WT"])
        assert from_events.events == data.events


def test_blq_records_from_lloq_and_flags() -> None:
    frame = pd.DataFrame({"ID": 1, "TIME": [0.0, 1.0, 2.0, 3.0, 4.0],
                          "AMT": [100.0, 0, 0, 0, 0], "DV": [None, 5.0, 0.4, 0.9, 0.2],
                          "EVID": [1, 0, 0, 0, 0], "CMT": [1, 2, 2, 2, 2],
                          "LLOQ": [None, 0.5, 0.5, 0.5, 0.5], "CENS": [0, 0, 0, 0, 1]})
    obs = read_nonmem(frame).observations
    assert obs["BLQ"].tolist() == [False, True, False, True]
    assert obs["LLOQ"].tolist() == [0.5] * 4
    bad = frame.assign(LLOQ=[None, 0.5, -1.0, 0.5, 0.5])
    with pytest.raises(DataError, match="LLOQ must be positive"):
        read_nonmem(bad)
    flagged = frame.assign(LLOQ=[None] * 5)
    with pytest.raises(DataError, match="needs its LLOQ"):
        read_nonmem(flagged)
    assert "LLOQ" not in read_nonmem(frame).covariate_names


def test_warfarin_observations_keep_their_output_ids(shared_dir) -> None:
    data = read_nonmem(shared_dir / "data" / "warfarin.csv", covariates=["WT", "AGE",
                                                                              "SEX"])
    obs = data.observations
    assert set(obs["DVID"]) == {1, 2}
    assert (obs["DVID"] == 1).sum() == 251 and (obs["DVID"] == 2).sum() == 232


def test_subject_selects_one_subject(shared_dir):
    warf = read_nonmem(shared_dir / "data/warfarin.csv")
    one = warf.subject(12)
    raw = warf.frame[warf.frame.ID == 12]
    assert list(one.ids) == [12] and one.events.n_subjects == 1
    assert one.events.n_records == len(raw)
    np.testing.assert_array_equal(one.events.time, raw["TIME"].to_numpy())
    assert len(one.observations) == int((warf.observations.ID == 12).sum())
    with pytest.raises(DataError, match="no subject with ID 11"):
        warf.subject(11)          # the dataset has no subject 11
