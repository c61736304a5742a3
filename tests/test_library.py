"""The bundled model library: discovery, loading by name or path, documentation of each model."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import pkpd
import pkpd.library
from pkpd import ModelError
from pkpd.model import ErrorModel

BUNDLED = {"two_cmt_oral", "mm_indirect_response", "one_cmt_oral_nm", "vancomycin_goti2018",
           "theophylline_1cmt"}


def test_list_models() -> None:
    names = pkpd.list_models()
    assert BUNDLED <= set(names)
    assert names == sorted(names)


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_every_bundled_model_loads_and_is_documented(name: str) -> None:
    model = pkpd.load_model(name)
    assert model.name == name
    assert model.description
    assert model.metadata.get("source") and model.metadata.get("references")
    assert model.metadata.get("status")


def test_load_by_path_equals_by_name() -> None:
    path = Path(__file__).resolve().parents[1] / "models" / "two_cmt_oral.toml"
    assert pkpd.load_model(path).hash == pkpd.load_model(str(path)).hash
    assert pkpd.load_model(path).hash == pkpd.load_model("two_cmt_oral").hash


def test_unknown_name_lists_models_and_close_matches() -> None:
    with pytest.raises(ModelError) as err:
        pkpd.load_model("two_cmt_oal")
    msg = str(err.value)
    assert "unknown model 'two_cmt_oal'" in msg and "did you mean two_cmt_oral" in msg
    assert "vancomycin_goti2018" in msg


def test_missing_path() -> None:
    with pytest.raises(ModelError, match="does not exist"):
        pkpd.load_model("/nonexistent/file.toml")


def test_vancomycin_values_from_the_literature_table() -> None:
    """Goti 2018 as given in the shared literature note: TVCL 4.5, Vc 58.4, Vp 38.4, Q 6.5."""
    m = pkpd.load_model("vancomycin_goti2018")
    values = {p.name: p.value for p in m.parameters}
    assert values == {"TVCL": 4.5, "TVV1": 58.4, "TVV2": 38.4, "TVQ": 6.5}
    assert list(m.omega.diagonal()) == [0.14705, 0.51019, 0.28232]
    assert m.metadata["doi"] == "10.1097/FTD.0000000000000490"
    assert "check" in m.metadata["status"]
    assert m.error == {"CP": ErrorModel("CP", additive=3.4, proportional=0.227)}


# -- discoverability -------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]


def test_every_bundled_model_has_tags_a_short_summary_and_its_sources() -> None:
    entries = pkpd.library.catalog()
    assert [e.name for e in entries] == pkpd.list_models()
    for e in entries:
        assert e.tags and set(e.tags) <= set(pkpd.library.TAGS), (e.name, e.tags)
        assert 10 <= len(e.summary) <= 100, (e.name, e.summary)
        assert e.source and e.status, e.name


def test_every_bundled_model_has_a_reference_test_of_its_own() -> None:
    """Each model of the library is exercised by name in a test module other than this one
    (its reference test: closed form, tight scipy solve or a published number)."""
    texts = [p.read_text(encoding="utf-8") for p in (REPO / "tests").rglob("test_*.py")
             if p.name != "test_library.py"]
    missing = [name for name in pkpd.list_models()
               if not any(f'"{name}"' in t or f"'{name}'" in t for t in texts)]
    assert not missing, f"bundled models without a test of their own: {missing}"


def test_list_models_filters_by_tag() -> None:
    pd_models = pkpd.list_models(tag="pd")
    assert "warfarin_pkpd" in pd_models and "two_cmt_oral" not in pd_models
    assert set(pd_models) < set(pkpd.list_models())
    for tag in pkpd.library.TAGS:
        assert set(pkpd.list_models(tag=tag)) <= set(pkpd.list_models())
    with pytest.raises(ModelError, match=r"unknown tag 'pdd'.*did you mean 'pd'"):
        pkpd.list_models(tag="pdd")


def test_summary_lists_parameters_units_covariates_variability_and_source() -> None:
    model = pkpd.load_model("vancomycin_goti2018")
    text = model.summary()
    for p in model.parameters:
        assert f"{p.name} = {p.value:g} {p.unit}" in text
    for c in model.covariates:
        assert f"{c.name} [{c.unit}]" in text
    assert "eta_CL: 0.14705 (CV 39.8 %)" in text         # the published 39.8 %CV
    assert "source: Goti V" in text and "CP = central/V1  [mg/L]" in text
    assert "routes: IV -> central" in text


def test_cli_models_by_tag_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    from pkpd.cli import main

    assert main(["models", "--tag", "pd"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert {ln.split()[0] for ln in lines} == set(pkpd.list_models(tag="pd"))
    assert all("pd" in ln.rsplit("[", 1)[1] for ln in lines)
    assert main(["models", "--tag", "nope"]) == 1
    assert "unknown tag 'nope'" in capsys.readouterr().err
    assert main(["show", "two_cmt_oral"]) == 0
    assert "d(central)/dt" in capsys.readouterr().out


@pytest.mark.slow
def test_models_are_found_from_an_installed_wheel(tmp_path: Path) -> None:
    """Build a wheel, install it without the repository in sight: in a fresh environment the
    library lists itself (no dependencies needed), and with the dependencies a model loads."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("pkpd", "models"):
        shutil.copytree(REPO / part, src / part, ignore=ignore)
    for part in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / part, src / part)
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(dist), str(src)], check=True, capture_output=True)
    wheel = next(dist.glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        members = set(zf.namelist())
    assert {f"pkpd/_library/{m}.toml" for m in pkpd.list_models()} <= members

    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    python = fresh / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", str(wheel)], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    code = ("import pathlib, pkpd.library; assert 'fresh' in pathlib.Path(pkpd.__file__).parts; "
            "print('\\n'.join(str(e) for e in pkpd.library.catalog()))")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path, env=env).stdout.splitlines()
    assert [ln.split()[0] for ln in out] == pkpd.list_models()

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    code = (f"import sys; sys.path.insert(0, {str(target)!r}); import pkpd; "
            f"assert pkpd.__file__.startswith({str(target)!r}); "
            "print(pkpd.load_model('two_cmt_oral').name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path, env=env).stdout
    assert out.split() == ["two_cmt_oral"]
