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


def test_cli_lists_models(capsys):
    assert main(["models"]) == 0
    assert "two_cmt_oral" in capsys.readouterr().out.split()


def test_submodules_are_reachable_from_the_package():
    code = ("import pkpd; print(pkpd.dosing.optimise.__name__, pkpd.results.exposure.__name__, "
            "pkpd.variability.sample_etas.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.split() == ["optimise", "exposure", "sample_etas"]
