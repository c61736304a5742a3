"""The warfarin models (models/warfarin_pk.toml, models/warfarin_pkpd.toml) and their validation
script (validation/warfarin.py).

The bundled files load with their sources; the typical subject's concentrations of both match
the closed form of a one-compartment oral model with a lag time (pkpd.testing.analytic) to
1e-6; the PCA of the turnover model matches scipy's ``solve_ivp`` (DOP853, rtol 1e-12) of the
same equations, written out here independently; and the ``--quick`` run of the script writes
its report with figures into a temporary folder.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import pkpd
from pkpd.testing import analytic

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
VALIDATION = ROOT / "validation"
TIMES = np.array([0.0, 0.25, 0.5, 0.9, 1.0, 1.5, 2.0, 3.0, 6.0, 9.0, 12.0, 24.0, 36.0, 48.0,
                  72.0, 96.0, 120.0, 144.0])
DOSE = 100.0


def _typical(name: str) -> tuple[pkpd.Model, dict[str, float]]:
    model = pkpd.load_model(name)
    return model, dict(model.parameter_layout.values)


def _simulate(model: pkpd.Model, output: str) -> np.ndarray:
    ds = pkpd.simulate(model, f"{DOSE:g} mg PO", times=list(TIMES), rtol=1e-11, atol=1e-12)
    return ds[output].values.ravel()


@pytest.mark.parametrize("name", ["warfarin_pk", "warfarin_pkpd"])
def test_model_file_loads_with_sources_and_cp_matches_closed_form(name: str) -> None:
    model, p = _typical(name)
    text = (ROOT / "models" / f"{name}.toml").read_text()
    for key in ("description", "source", "references", "status", "notes"):
        assert f"\n{key} = " in text, key
    assert "Not verified" in text or "not verified" in text
    assert name in pkpd.list_models()
    cp = _simulate(model, "CP")
    ref = analytic.one_cmt_oral(TIMES, [(0.0, DOSE)], p["TVCL"], p["TVV"], p["TVKA"],
                                lag=p["TLAG"])
    assert np.all(cp[TIMES <= p["TLAG"]] == 0.0)
    after = TIMES > p["TLAG"]
    np.testing.assert_allclose(cp[after], ref[after], rtol=1e-6, atol=0)


def test_pca_matches_solve_ivp() -> None:
    """The turnover model of PCA: dPCA/dt = KOUT E0 (1 - IMAX C/(IC50 + C)) - KOUT PCA,
    PCA(0) = E0, the dose entering the depot at the lag time."""
    model, p = _typical("warfarin_pkpd")
    assert model.parameter_layout["IMAX"].fixed and p["IMAX"] == 1.0
    cl, v, ka, lag = p["TVCL"], p["TVV"], p["TVKA"], p["TLAG"]
    e0, kout, ic50, imax = p["TVE0"], p["TVKOUT"], p["TVIC50"], p["IMAX"]

    def rhs(_t: float, y: np.ndarray) -> list[float]:
        depot, central, pca = y
        c = central / v
        return [-ka * depot, ka * depot - cl / v * central,
                kout * e0 * (1.0 - imax * c / (ic50 + c)) - kout * pca]

    after = TIMES >= lag
    sol = solve_ivp(rhs, (lag, TIMES[-1]), [DOSE, 0.0, e0], method="DOP853",
                    t_eval=TIMES[after], rtol=1e-12, atol=1e-12)
    assert sol.success
    pca = _simulate(model, "PCA")
    cp = _simulate(model, "CP")
    np.testing.assert_allclose(pca[~after], e0, rtol=1e-12)
    np.testing.assert_allclose(pca[after], sol.y[2], rtol=1e-7)
    np.testing.assert_allclose(cp[after], sol.y[1] / v, rtol=1e-7, atol=1e-12)
    # the inhibition works: PCA falls well below its baseline and recovers towards it
    assert pca.min() < 0.5 * e0 and pca[-1] > pca.min()


def _load_script():
    if str(VALIDATION) not in sys.path:
        sys.path.insert(0, str(VALIDATION))
    spec = importlib.util.spec_from_file_location("validation_warfarin",
                                                  VALIDATION / "warfarin.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_the_report(shared_dir, tmp_path, capsys) -> None:
    mod = _load_script()
    result = mod.run(shared_dir, tmp_path, quick=True)
    text = result.report.read_text()
    assert result.report == tmp_path / "report.md"
    assert "**Quick run**" in text
    for heading in ("## PK: estimates", "## PK: independent references",
                    "## PK/PD: turnover model of PCA", "Monolix SAEM", "NPDE tests",
                    "Shrinkage", "Visual predictive checks", "Non-compartmental analysis",
                    "## Runtimes"):
        assert heading in text, heading
    assert len(result.figures) == 6
    for p in result.figures:
        assert p.stat().st_size > 0 and f"]({p.name})" in text
    focei = result.fits["FOCE-I"]
    assert focei.success and focei.n_obs == 115   # 12 subjects, the zero levels left out
    assert result.fits["PK/PD FOCE-I"].n_obs == 115 + 89
    assert "PK/PD FOCE-I vs Monolix SAEM" in result.comparisons
    if shutil.which("Rscript") is not None:
        assert "R nlme, same closed-form model (computed)" in text
        assert result.checks["desolve max rel diff"] < 1e-6
    assert "report:" in capsys.readouterr().out
