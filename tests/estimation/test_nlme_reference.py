"""The nlme reference fit of theophylline (``nlme.py``, ``nlme_theophylline.R``) is sane, agrees
with the literature, and is reproduced a second way here: the model's closed form evaluated in numpy
with the fixed and random effects R reports gives R's individual predictions, its residual sum
of squares, and its ML residual SD.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from .nlme import nlme_theophylline, require_rscript

PARAMS = ("lKA", "lCL", "lV")


def _closed_form(dose: np.ndarray, t: np.ndarray, ka: np.ndarray, cl: np.ndarray,
                 v: np.ndarray) -> np.ndarray:
    ke = cl / v
    return dose * ka / (v * (ka - ke)) * (np.exp(-ke * t) - np.exp(-ka * t))


def _observations(csv_path) -> pd.DataFrame:
    raw = pd.read_csv(csv_path)
    dose = raw.loc[raw["EVID"] == 1].set_index("ID")["AMT"]
    obs = raw.loc[raw["EVID"] == 0, ["ID", "TIME", "DV"]].copy()
    obs["DOSE"] = obs["ID"].map(dose)
    return obs.sort_values(["ID", "TIME"], kind="stable").reset_index(drop=True)


def _check_variant(fit: dict, obs: pd.DataFrame, n_obs: int) -> None:
    assert fit["converged"], fit["message"]
    assert not fit["warnings"], fit["warnings"]
    fixed = fit["fixed_effects_log"]
    for name, key in zip(PARAMS, ("KA", "CL", "V"), strict=True):
        assert fit["fixed_effects"][key] == pytest.approx(np.exp(fixed[name]), rel=1e-12)
        assert 0 < fit["fixed_effects_se"][name] < 0.5
        assert 0 < fit["omega2"][name] < 1.5
        assert fit["omega2"][name] == pytest.approx(fit["omega_sd"][name] ** 2, rel=1e-12)
    # Pinheiro & Bates (2000) section 8.2 and the usual FOCE-I results for these data:
    # ka about 1.5/h, CL 2.7-2.9 L/h, V 30-33 L, additive SD about 0.7 mg/L
    assert 1.3 < fit["fixed_effects"]["KA"] < 1.8
    assert 2.7 < fit["fixed_effects"]["CL"] < 2.9
    assert 30.0 < fit["fixed_effects"]["V"] < 33.0
    assert 0.6 < fit["sigma"] < 0.8
    assert fit["sigma2"] == pytest.approx(fit["sigma"] ** 2, rel=1e-12)
    assert fit["minus2LL"] == pytest.approx(-2 * fit["logLik"], rel=1e-12)
    assert fit["ofv_nonmem_scale"] == pytest.approx(
        fit["minus2LL"] - n_obs * np.log(2 * np.pi), rel=1e-12)

    # second way: individual predictions in numpy from the reported effects
    ranef = pd.DataFrame(fit["ranef"]).set_index("ID")
    assert sorted(ranef.index) == sorted(obs["ID"].unique())
    eta = ranef.loc[obs["ID"], list(PARAMS)].to_numpy()
    theta = np.array([fixed[name] for name in PARAMS])
    ka, cl, v = np.exp(theta + eta).T
    pred = _closed_form(obs["DOSE"].to_numpy(), obs["TIME"].to_numpy(), ka, cl, v)
    resid = obs["DV"].to_numpy() - pred

    first = obs["ID"] == obs["ID"].min()
    np.testing.assert_allclose(pred[first], fit["individual_predictions_first_subject"],
                               rtol=1e-9, atol=1e-9)
    rss = float(resid @ resid)
    assert rss == pytest.approx(fit["rss_individual"], rel=1e-9)

    # nlme's ML sigma is the penalised one: sigma^2 (n - sum_i b_i' Omega^-1 b_i) = RSS, so the
    # plain root mean squared residual is below it (by about 12 % here, 30 of 132 "degrees of
    # freedom" go to the random effects); the penalty is recomputed here from omega and ranef
    omega = np.array(fit["omega_covariance"])
    b = ranef[list(PARAMS)].to_numpy()
    penalty = float(np.einsum("ij,jk,ik->", b, np.linalg.inv(omega), b))
    assert penalty == pytest.approx(fit["ranef_penalty"], rel=1e-9)
    sigma_from_numpy = np.sqrt(rss / (n_obs - penalty))
    assert fit["sigma"] == pytest.approx(sigma_from_numpy, rel=1e-6)
    rmse = np.sqrt(rss / n_obs)
    assert 0.8 * fit["sigma"] < rmse < fit["sigma"]


@pytest.mark.slow
def test_nlme_theophylline_reference(shared_dir):
    require_rscript()
    csv_path = shared_dir / "data" / "theophylline.csv"
    ref = nlme_theophylline(csv_path)
    obs = _observations(csv_path)

    assert ref["n_obs"] == len(obs) == 132
    assert ref["n_subjects"] == 12
    assert obs.loc[(obs["ID"] == 1) & (obs["TIME"] == 0), "DV"].tolist() == [0.74]

    diagonal = ref["diagonal"]
    _check_variant(diagonal, obs, ref["n_obs"])
    omega = np.array(diagonal["omega_covariance"])
    assert np.count_nonzero(omega - np.diag(np.diag(omega))) == 0

    block = ref["block"]
    if block["converged"]:
        _check_variant(block, obs, ref["n_obs"])
        # three more parameters (the covariances) can only raise the maximised likelihood
        assert block["logLik"] >= diagonal["logLik"] - 1e-6
        assert block["n_par"] == diagonal["n_par"] + 3
    else:
        assert block["message"].startswith("nlme failed")
