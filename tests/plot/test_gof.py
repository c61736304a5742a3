"""Goodness-of-fit plots: the PNG is rendered, and every panel shows the data it was given."""

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
from pkpd.plot import eta_covariates, gof


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def synthetic_diagnostics(n_sim: int = 100, outputs: tuple[str, ...] = ("CP",)) -> pkpd.Diagnostics:
    """20 subjects x 8 times per output, 3 BLQ rows per output, covariates WT and SEX."""
    rng = np.random.default_rng(7)
    ids = np.arange(1, 21)
    times = np.array([0.5, 1, 2, 4, 6, 8, 12, 24.0])
    wt = rng.uniform(50, 100, ids.size).round(1)
    sex = np.where(ids % 3 == 0, "F", "M")
    frames = []
    for out in outputs:
        pred = np.tile(10 * np.exp(-0.1 * times) * (1 - np.exp(-2 * times)), ids.size)
        ipred = pred * np.exp(rng.normal(0, 0.3, pred.size))
        dv = ipred * np.exp(rng.normal(0, 0.15, pred.size))
        f = pd.DataFrame({"ID": np.repeat(ids, times.size).astype(float),
                          "TIME": np.tile(times, ids.size), "OUTPUT": out, "DV": dv,
                          "BLQ": False, "WT": np.repeat(wt, times.size),
                          "SEX": np.repeat(sex, times.size), "PRED": pred, "IPRED": ipred,
                          "EPRED": pred * 1.02})
        f["RES"] = f["DV"] - f["PRED"]
        f["IRES"] = f["DV"] - f["IPRED"]
        for name in ("WRES", "CWRES", "IWRES"):
            f[name] = rng.normal(0, 1, len(f))
        f["PD"] = rng.uniform(0, 1, len(f))
        f["NPDE"] = rng.normal(0, 1, len(f)) if n_sim else np.nan
        last = f.index[f["TIME"] == 24.0][:3]
        f.loc[last, "BLQ"] = True
        f.loc[last, [*("RES", "IRES", "WRES", "CWRES", "IWRES", "PD", "NPDE")]] = np.nan
        frames.append(f)
    table = pd.concat(frames, ignore_index=True)
    etas = pd.DataFrame({"eta_CL": rng.normal(0, 0.3, ids.size),
                         "eta_V": rng.normal(0, 0.2, ids.size), "WT": wt, "SEX": sex},
                        index=pd.Index(ids.astype(float), name="ID"))
    shrinkage = pd.DataFrame(
        {"kind": ["eta", "eta"] + ["epsilon"] * len(outputs),
         "sd": [4.2, 21.5] + [11.8 + i for i in range(len(outputs))],
         "variance": [8.2, 38.4] + [np.nan] * len(outputs)},
        index=pd.Index(["eta_CL", "eta_V", *outputs], name="name"))
    tests = pd.DataFrame({"value": [0.01, 1.02, 0.98, np.nan],
                          "p_value": [0.8, 0.7, 0.5, 0.9]},
                         index=["mean", "variance", "normality", "global"])
    return pkpd.Diagnostics(table=table, etas=etas, shrinkage=shrinkage, npde_tests=tests,
                            model="synthetic", method="focei", n_sim=n_sim, seed=1,
                            units=dict.fromkeys(outputs, "mg/L"))


def check_png(path, size_inches) -> None:
    img = mpimg.imread(path)
    w, h = size_inches
    assert img.shape[:2] == (round(h * 150), round(w * 150))
    assert img[..., :3].std() > 0.05, "blank image"


def test_gof_png(tmp_path):
    path = tmp_path / "gof.png"
    fig = gof(synthetic_diagnostics(), path=path)
    check_png(path, fig.get_size_inches())
    assert tuple(fig.get_size_inches()) == (16, 7.8)


def test_gof_panels_show_the_data_given():
    diag = synthetic_diagnostics()
    fig = gof(diag)
    ax = fig.axes
    obs = diag.table[~diag.table["BLQ"]]

    def offsets(i):
        return ax[i].collections[0].get_offsets()

    np.testing.assert_array_equal(offsets(0), obs[["PRED", "DV"]])
    np.testing.assert_array_equal(offsets(1), obs[["IPRED", "DV"]])
    np.testing.assert_array_equal(offsets(2), obs[["TIME", "CWRES"]])
    np.testing.assert_array_equal(offsets(3), obs[["PRED", "CWRES"]])
    np.testing.assert_array_equal(offsets(4)[:, 0], obs["IPRED"])
    np.testing.assert_array_equal(offsets(4)[:, 1], obs["IWRES"].abs())
    np.testing.assert_array_equal(offsets(5)[:, 1], np.sort(obs["NPDE"]))
    quantiles = np.asarray(offsets(5))[:, 0]                                 # of N(0, 1)
    np.testing.assert_allclose(np.median(quantiles), 0, atol=1e-12)
    heights = sum(p.get_height() * p.get_width() for p in ax[6].patches)
    assert heights == pytest.approx(1.0)                                     # a density
    assert len(obs) == len(diag.table) - 3
    # units, shrinkage and the reference lines
    assert ax[0].get_xlabel() == "PRED (mg/L)" and ax[0].get_ylabel() == "DV (mg/L)"
    assert "ε-shrinkage 11.8 %" in ax[1].get_title()
    assert "ε-shrinkage 11.8 %" in ax[4].get_title()
    assert sorted(line.get_ydata()[0] for line in ax[2].lines[:3]) == [-2, 0, 2]
    identity = ax[0].lines[0]
    np.testing.assert_array_equal(identity.get_xdata(), identity.get_ydata())
    summary = ax[7].texts[0].get_text()
    assert "3 BLQ observations left out" in summary and "eta_V: 21.5 %" in summary
    assert len([a for a in ax if a.get_visible()]) == 8


def test_gof_log_axes_and_covariates(tmp_path):
    diag = synthetic_diagnostics()
    fig = gof(diag, log=True, covariates=["WT", "SEX"], title="my fit")
    ax = fig.axes
    assert ax[0].get_xscale() == ax[0].get_yscale() == "log"
    assert ax[3].get_xscale() == "log" and ax[3].get_yscale() == "linear"
    assert fig._suptitle.get_text() == "my fit"
    obs = diag.table[~diag.table["BLQ"]]
    np.testing.assert_array_equal(ax[8].collections[0].get_offsets(), obs[["WT", "CWRES"]])
    assert [t.get_text() for t in ax[9].get_xticklabels()] == ["F", "M"]    # a box plot
    assert [a.get_visible() for a in ax[10:]] == [False, False]


def test_gof_chooses_an_output():
    diag = synthetic_diagnostics(outputs=("CP", "E"))
    with pytest.raises(DataError, match="choose one with output="):
        gof(diag)
    with pytest.raises(DataError, match="not in the diagnostics"):
        gof(diag, output="X")
    with pytest.raises(DataError, match="not columns"):
        gof(diag, output="E", covariates=["AGE"])
    fig = gof(diag, output="E")
    obs = diag.table[(diag.table["OUTPUT"] == "E") & ~diag.table["BLQ"]]
    np.testing.assert_array_equal(fig.axes[0].collections[0].get_offsets(), obs[["PRED", "DV"]])
    assert "ε-shrinkage 12.8 %" in fig.axes[1].get_title()


def test_gof_without_npde():
    fig = gof(synthetic_diagnostics(n_sim=0))
    assert "NPDE not computed" in fig.axes[5].texts[0].get_text()
    assert "NPDE not computed" in fig.axes[6].texts[0].get_text()


def test_eta_covariates(tmp_path):
    diag = synthetic_diagnostics()
    path = tmp_path / "eta.png"
    fig = eta_covariates(diag, path=path)
    check_png(path, fig.get_size_inches())
    axes = np.array(fig.axes).reshape(2, 2)                  # etas x covariates (WT, SEX)
    assert axes[1, 0].get_title() == "eta_V (η-shrinkage 21.5 %)"
    np.testing.assert_array_equal(axes[0, 0].collections[0].get_offsets(),
                                  diag.etas[["WT", "eta_CL"]])
    assert [t.get_text() for t in axes[1, 1].get_xticklabels()] == ["F", "M"]
    females = np.concatenate([c.get_offsets()[:, 1] for c in axes[1, 1].collections[:1]])
    np.testing.assert_array_equal(np.sort(females),
                                  np.sort(diag.etas.loc[diag.etas["SEX"] == "F", "eta_V"]))
    one = eta_covariates(diag, covariates=["WT"])
    assert len(one.axes) == 2
    with pytest.raises(DataError, match="not among"):
        eta_covariates(diag, covariates=["AGE"])


def test_gof_of_a_theophylline_fit(shared_dir, tmp_path):
    fit = pkpd.fit_population("theophylline_1cmt", shared_dir / "data" / "theophylline.csv",
                              covariance=None)
    diag = pkpd.diagnose(fit, n_sim=200)
    path = tmp_path / "gof_theophylline.png"
    fig = gof(diag, path=path, covariates=["WT"])
    check_png(path, fig.get_size_inches())
    np.testing.assert_array_equal(fig.axes[0].collections[0].get_offsets(),
                                  diag.table[["PRED", "DV"]])
    eta_covariates(diag, path=tmp_path / "eta_theophylline.png")


def test_gof_without_estimated_etas():
    diag = synthetic_diagnostics()
    table = diag.table.assign(IPRED=np.nan, IRES=np.nan, CWRES=np.nan, IWRES=np.nan)
    fig = gof(pkpd.Diagnostics(**{**diag.__dict__, "table": table}))
    ax = fig.axes
    obs = table[~table["BLQ"]]
    assert ax[2].get_title() == "WRES vs TIME" and ax[3].get_ylabel() == "WRES"
    np.testing.assert_array_equal(ax[2].collections[0].get_offsets(), obs[["TIME", "WRES"]])
    assert "IPRED not available" in ax[1].texts[0].get_text()
    assert "IPRED not available" in ax[4].texts[0].get_text()
