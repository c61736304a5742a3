"""Package-level promises: light import, lint-clean sources, the README's commands work."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pkpd
from pkpd.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_light():
    code = ("import sys, json, pkpd; print(json.dumps(sorted(m for m in "
            "('sympy', 'numba', 'xarray', 'matplotlib', 'pandas', 'scipy') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert json.loads(out.stdout) == []


def test_public_names_resolve():
    for name in pkpd.__all__:
        assert getattr(pkpd, name) is not None, name


def test_sources_are_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.fail("ruff is not installed: it is part of the test extras")
    proc = subprocess.run([ruff, "check", "--output-format", "concise", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_readme_commands_are_the_ones_that_run():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = "python -m pytest"
    assert f"```bash\n{test_cmd}\n```" in readme
    assert ci.rstrip().splitlines()[-1] == test_cmd
    assert re.search(r"pkpd simulate two_cmt_oral --regimen \"500 mg PO q12h x 14\"", readme)


def test_cli_simulates_and_plots(tmp_path, capsys):
    png = tmp_path / "cp.png"
    csv = tmp_path / "cp.csv"
    code = main(["simulate", "two_cmt_oral", "--regimen", "500 mg PO q12h x 14",
                 "--times", "0..168 h by 0.5 h", "--plot", str(png), "--csv", str(csv)])
    assert code == 0
    out = capsys.readouterr().out
    assert "CP (mg/L)" in out and "Cmax" in out
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(csv.read_text().splitlines()) == 338


def test_cli_reports_bad_input_without_a_traceback(capsys):
    assert main(["simulate", "two_cmt_oral", "--regimen", "500 mg PO q12x"]) == 1
    assert "pkpd: error:" in capsys.readouterr().err
    assert main(["simulate", "no_such_model", "--regimen", "500 mg PO"]) == 1


def test_cli_fits_and_recommends(tmp_path, capsys):
    import pkpd

    csv = tmp_path / "patient.csv"
    csv.write_text("ID,TIME,AMT,RATE,EVID,CMT,DV,MDV\n1,0,1250,1250,1,1,,1\n"
                   "1,12,1250,1250,1,1,,1\n1,24,1250,1250,1,1,,1\n1,26,0,0,0,1,27.9,0\n"
                   "1,35.5,0,0,0,1,21.3,0\n1,36,1250,1250,1,1,,1\n")
    covs = ["--cov", "AGE=68", "--cov", "SEX=M", "--cov", "WT=92 kg", "--cov", "SCR=1.4 mg/dL"]
    code = main(["fit", "vancomycin_goti2018", str(csv), *covs, "--auc", "400-600",
                 "--window", "120 h,144 h", "--start", "48 h", "--draws", "100"])
    assert code == 0
    out = capsys.readouterr().out
    # the same fit and recommendation through the Python API
    patient = pkpd.Patient(AGE=68, SEX="M", WT="92 kg", SCR="1.4 mg/dL")
    fit = pkpd.fit_individual("vancomycin_goti2018", pkpd.read_nonmem(csv), patient=patient)
    rec = pkpd.dosing.optimise("vancomycin_goti2018", pkpd.dosing.AUC(400, 600),
                               template="{dose} IV over 1 h every {interval} for 4 days",
                               window=("120 h", "144 h"), patient=patient, fit=fit, n=100,
                               seed=1, start="48 h")
    assert f"eta_CL   {fit.etas['eta_CL']:.4f}" in out
    assert f"recommended: {rec.regimen_text} (from 48 h)" in out
    assert f"predicted AUC {rec.predicted:.4g}" in out
    assert main(["fit", "vancomycin_goti2018", str(csv), "--auc", "400-600"]) == 1
    assert "needs --window" in capsys.readouterr().err


def test_cli_lists_models(capsys):
    assert main(["models"]) == 0
    assert "two_cmt_oral" in capsys.readouterr().out.split()


def test_submodules_are_reachable_from_the_package():
    code = ("import pkpd; print(pkpd.dosing.optimise.__name__, pkpd.results.exposure.__name__, "
            "pkpd.variability.sample_etas.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.split() == ["optimise", "exposure", "sample_etas"]
