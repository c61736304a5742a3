"""The README's cohort example runs and gives sensible numbers (smaller cohort)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np


def test_readme_cohort_example(monkeypatch):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"```python\n(import pkpd\nfrom pkpd.results import exposure.*?)```", text,
                      re.S)
    assert block, "the cohort example is missing from README.md"
    code = block.group(1).replace("sample(100_000", "sample(2_000")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    band = scope["band"]
    assert np.all(band.sel(quantile=0.05) <= band.sel(quantile=0.95))
    assert 0.0 < float(scope["pta"]) < 1.0
    assert scope["ds"].sizes["id"] == 2000


def test_readme_twin_example(tmp_path, monkeypatch):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"```python\n(import pkpd\nfrom pkpd.dosing import AUC.*?)```", text, re.S)
    assert block, "the patient-twin example is missing from README.md"
    (tmp_path / "patient.csv").write_text(
        "ID,TIME,AMT,RATE,EVID,CMT,DV,MDV\n1,0,1250,1250,1,1,,1\n1,12,1250,1250,1,1,,1\n"
        "1,24,1250,1250,1,1,,1\n1,26,0,0,0,1,27.9,0\n1,35.5,0,0,0,1,21.3,0\n")
    monkeypatch.chdir(tmp_path)
    code = block.group(1).replace("n=1000", "n=200").replace("n=500", "n=100")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    fit, pred, rec = scope["fit"], scope["pred"], scope["rec"]
    assert fit.success and fit.gradient == "exact"
    band = pred["CP_band"]
    assert np.all(band.sel(quantile=0.05) <= pred["CP"] + 1e-9)
    assert 400 <= rec.predicted <= 600 and rec.band[0] < rec.predicted < rec.band[1]
    assert (tmp_path / "twin.png").stat().st_size > 10_000


def test_readme_population_example(tmp_path, monkeypatch, shared_dir):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"```python\n(import pkpd\n\nfit = pkpd.fit_population.*?)```", text, re.S)
    assert block, "the population example is missing from README.md"
    (tmp_path / "theophylline.csv").write_text(
        (shared_dir / "data" / "theophylline.csv").read_text())
    monkeypatch.chdir(tmp_path)
    code = block.group(1).replace('seed=1)', 'seed=1, saem={"burn": 60, "em": 40})')
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    fit, saem = scope["fit"], scope["saem"]
    assert fit.success and 116.7 < fit.ofv < 116.9
    assert abs(saem.estimates["TVCL"] - fit.estimates["TVCL"]) < fit.se["TVCL"]


def test_readme_diagnostics_example(tmp_path, monkeypatch, shared_dir):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"```python\n(import pkpd\n\nfit = pkpd.fit_population[^`]*?"
                      r"d = pkpd.diagnose[^`]*?)```", text)
    assert block, "the diagnostics example is missing from README.md"
    (tmp_path / "theophylline.csv").write_text(
        (shared_dir / "data" / "theophylline.csv").read_text())
    monkeypatch.chdir(tmp_path)
    code = block.group(1).replace("n_sim=1000", "n_sim=200").replace("n=500", "n=100")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    d, v, nca = scope["d"], scope["v"], scope["nca"]
    assert len(d.table) == 132 and len(nca) == 12
    assert (tmp_path / "gof.png").stat().st_size > 10_000
    assert (tmp_path / "vpc.png").stat().st_size > 10_000
    assert v.table["outside"].mean() < 0.5


def test_readme_library_example():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"```python\n(import pkpd, pkpd.library\n.*?)```", text, re.S)
    assert block, "the model-library example is missing from README.md"
    code = block.group(1).replace("sample(500", "sample(50")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["pkpd"].list_models(tag="tmdd") == ["tmdd_full", "tmdd_mm", "tmdd_qss"]
    assert scope["twin"].name == "pbpk_theophylline"


def test_readme_command_line_examples(tmp_path, monkeypatch, shared_dir, capsys):
    """Every command of the README's command-line block runs (smaller --n) with status 0."""
    import shlex

    from pkpd.cli import main

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"## From the command line\n\n```bash\n(.*?)```", text, re.S)
    assert block, "the command-line block is missing from README.md"
    (tmp_path / "theophylline.csv").write_text(
        (shared_dir / "data" / "theophylline.csv").read_text())
    monkeypatch.chdir(tmp_path)
    lines = block.group(1).replace("\\\n", " ").splitlines()
    commands = [shlex.split(line, comments=True) for line in lines if line.strip()]
    assert len(commands) >= 8
    for argv in commands:
        assert argv[0] == "pkpd"
        argv = [{"1000": "40", "500": "40"}.get(a, a) for a in argv[1:]]
        assert main(argv) == 0, (argv, capsys.readouterr().err)
    assert (tmp_path / "band.png").stat().st_size > 0
    assert (tmp_path / "theo_fit" / "estimates.csv").exists()
    assert (tmp_path / "nca.csv").exists() and (tmp_path / "vpc.png").exists()


def test_readme_links_exist():
    """The picture and the references the README links to are in the repository."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text()
    links = re.findall(r"\]\(((?!https?://)[^)#\s]+)\)", text)
    assert "docs/cp.png" in links and "docs/nonmem.md" in links and "models/README.md" in links
    missing = [link for link in links if not (root / link).exists()]
    assert not missing, f"README links to missing files: {missing}"
    assert (root / "docs" / "cp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
