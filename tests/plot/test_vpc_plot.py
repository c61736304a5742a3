"""VPC plots: the PNG is rendered, and the panels show the percentiles, intervals, fractions
BLQ and points of the VPC given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import pkpd
from pkpd.errors import DataError
from pkpd.plot import vpc

QUANTILES = (0.05, 0.5, 0.95)
EDGES = np.array([0.0, 1.5, 4.0, 10.0, 24.0])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def synthetic_vpc(strata=(1, 2), outputs=("CP",), blq: bool = True) -> pkpd.VPC:
    """A VPC of 4 bins per stratum and output, with percentiles and (with ``blq``) fractions
    below an LLOQ of 0.5; 8 subjects per stratum, one observation per subject and bin."""
    rng = np.random.default_rng(3)
    rows, points = [], []
    for si, s in enumerate(strata):
        for o in outputs:
            for b in range(len(EDGES) - 1):
                lo, hi = EDGES[b], EDGES[b + 1]
                t = np.round(rng.uniform(lo, hi, 8), 2)
                dv = 10 * np.exp(-0.15 * t) * rng.lognormal(0, 0.3, 8) * (1 + si)
                cens = dv < 0.5
                head = {"stratum": s, "output": o, "bin": b, "time_lo": lo, "time_hi": hi,
                        "time": float(np.median(t)), "n_obs": 8, "lloq": 0.5 if blq else np.nan}
                for q in QUANTILES:
                    obs = float(np.quantile(dv, q))
                    sim = obs * np.array([0.7, 1.05, 1.4])
                    rows.append(head | {"kind": "percentile", "quantile": q, "observed": obs,
                                        "sim_lo": sim[0], "sim_median": sim[1],
                                        "sim_hi": sim[2], "outside": b == 2 and q == 0.95,
                                        "below_lloq": False})
                if blq:
                    rows.append(head | {"kind": "blq", "quantile": np.nan,
                                        "observed": 0.1 * b, "sim_lo": 0.0,
                                        "sim_median": 0.1 * b, "sim_hi": 0.3 * b,
                                        "outside": False, "below_lloq": False})
                points.append(pd.DataFrame({"ID": np.arange(8) + 10 * si, "TIME": t,
                                            "OUTPUT": o, "stratum": s, "bin": b, "DV": dv,
                                            "BLQ": cens, "LLOQ": 0.5}))
    table = pd.DataFrame(rows)
    return pkpd.VPC(table=table, observed=pd.concat(points, ignore_index=True),
                    bins={(s, o): EDGES for s in strata for o in outputs},
                    binning="given edges", model="synthetic", n=100, seed=1,
                    quantiles=QUANTILES, ci=0.9, pred_corrected=False, stratify="SEX",
                    units=dict.fromkeys(outputs, "mg/L"))


def by_gid(ax, gid, kind="lines"):
    found = [a for a in getattr(ax, kind) if a.get_gid() == gid]
    assert len(found) == 1, f"{gid}: {len(found)} artists"
    return found[0]


def test_vpc_png(tmp_path):
    path = tmp_path / "vpc.png"
    fig = vpc(synthetic_vpc(), path=path)
    img = mpimg.imread(path)
    w, h = fig.get_size_inches()
    assert img.shape[:2] == (round(h * 150), round(w * 150))
    assert img[..., :3].std() > 0.05, "blank image"


def test_vpc_panels_show_the_vpc_given():
    v = synthetic_vpc()
    fig = vpc(v)
    t = v.table
    main = [ax for ax in fig.axes if ax.get_ylabel() == "CP (mg/L)"]
    lower = [ax for ax in fig.axes if ax.get_ylabel() == "fraction BLQ"]
    assert len(main) == len(lower) == 2                       # one column per stratum
    assert [ax.get_title() for ax in main] == ["SEX = 1", "SEX = 2"]
    for s, ax, ax_blq in zip((1, 2), main, lower, strict=True):
        rows = t[(t["stratum"] == s) & (t["kind"] == "percentile")]
        for q in QUANTILES:
            r = rows[rows["quantile"] == q]
            line = by_gid(ax, f"observed {q:g}")
            np.testing.assert_array_equal(line.get_xdata(), r["time"])
            np.testing.assert_array_equal(line.get_ydata(), r["observed"])
            band = by_gid(ax, f"simulated {q:g}", "collections").get_paths()[0].vertices
            assert band[:, 1].min() == pytest.approx(r["sim_lo"].min())
            assert band[:, 1].max() == pytest.approx(r["sim_hi"].max())
        outside = by_gid(ax, "outside 0.95", "collections").get_offsets()
        r = rows[rows["outside"]]
        np.testing.assert_array_equal(outside, r[["time", "observed"]])
        pts = v.observed[(v.observed["stratum"] == s) & ~v.observed["BLQ"]]
        np.testing.assert_array_equal(by_gid(ax, "observations", "collections").get_offsets(),
                                      pts[["TIME", "DV"]])
        edges = by_gid(ax, "bin edges", "collections").get_segments()
        np.testing.assert_array_equal([seg[0, 0] for seg in edges], EDGES)
        assert ax.lines[-1].get_ydata()[0] == 0.5                 # the LLOQ
        blq = t[(t["stratum"] == s) & (t["kind"] == "blq")]
        np.testing.assert_array_equal(by_gid(ax_blq, "observed blq").get_ydata(),
                                      blq["observed"])
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    assert labels[:3] == ["observations", "observed median", "observed outer percentiles"]
    assert "simulated 90 % CI of the median" in labels
    assert fig._suptitle.get_text() == "VPC of synthetic (100 replicates, 90 % CI)"


def test_vpc_outputs_without_blq_log_and_table_only():
    v = synthetic_vpc(strata=("all",), outputs=("CP", "E"), blq=False)
    fig = vpc(v, log=True, points=False, title="check")
    assert len(fig.axes) == 2                                 # one row per output, no BLQ
    assert [ax.get_ylabel() for ax in fig.axes] == ["CP (mg/L)", "E (mg/L)"]
    assert all(ax.get_yscale() == "log" for ax in fig.axes)
    assert all(ax.get_title() == "" for ax in fig.axes)
    assert not [c for c in fig.axes[0].collections if c.get_gid() == "observations"]
    assert fig._suptitle.get_text() == "check"
    bare = vpc(v.table.drop(columns=["kind", "lloq", "time_lo", "time_hi"]))
    t = v.table[v.table["output"] == "E"]
    np.testing.assert_array_equal(by_gid(bare.axes[1], "observed 0.5").get_ydata(),
                                  t[t["quantile"] == 0.5]["observed"])
    with pytest.raises(DataError, match="lacks the columns"):
        vpc(v.table.drop(columns=["sim_hi"]))


def test_vpc_censored_interval_reaches_the_lloq():
    v = synthetic_vpc(strata=(1,))
    t = v.table.copy()
    low = (t["kind"] == "percentile") & (t["quantile"] == 0.05) & (t["bin"] == 3)
    t.loc[low, ["observed", "sim_lo"]] = np.nan
    t.loc[low, "below_lloq"] = True
    fig = vpc(pkpd.VPC(**{**v.__dict__, "table": t}))
    band = by_gid(fig.axes[0], "simulated 0.05", "collections").get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(0.5)


def test_vpc_of_theophylline(shared_dir, tmp_path):
    v = pkpd.vpc("theophylline_1cmt", shared_dir / "data" / "theophylline.csv", n=100,
                 lloq=1.0)
    path = tmp_path / "vpc_theophylline.png"
    fig = vpc(v, path=path, log=True)
    assert mpimg.imread(path)[..., :3].std() > 0.05
    assert len(fig.axes) == 2
    t = v.table[(v.table["kind"] == "percentile") & (v.table["quantile"] == 0.5)]
    np.testing.assert_array_equal(by_gid(fig.axes[0], "observed 0.5").get_ydata(),
                                  t["observed"])
