"""Model files: the TOML format, its errors, and equality with the Python declaration."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import pkpd
from pkpd import ModelError
from pkpd.model import ErrorModel, Model, load_model_file, model_from_toml

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_python_and_toml_give_the_same_hash(two_cmt_python: Model) -> None:
    from_file = load_model_file(MODELS / "two_cmt_oral.toml")
    assert two_cmt_python.canonical_text == from_file.canonical_text
    assert two_cmt_python.hash == from_file.hash
    assert two_cmt_python == from_file
    assert len(from_file.hash) == 64


def test_hash_changes_with_content() -> None:
    data = tomllib.loads((MODELS / "two_cmt_oral.toml").read_text())
    h0 = model_from_toml(data).hash
    data["parameters"]["TVCL"]["value"] = 5.000001
    assert model_from_toml(data).hash != h0
    data = tomllib.loads((MODELS / "two_cmt_oral.toml").read_text())
    data["odes"]["periph"] = "Q/V1*central - Q/V2*periph*1.0000001"
    assert model_from_toml(data).hash != h0


def test_two_cmt_oral_content() -> None:
    m = load_model_file(MODELS / "two_cmt_oral.toml")
    assert m.state_names == ("depot", "central", "periph")
    assert m.parameter_names == ("TVKA", "TVCL", "TVV1", "TVQ", "TVV2")
    assert m.etas == ("eta_CL", "eta_V1", "eta_KA", "eta_Q", "eta_V2")
    assert list(m.omega.diagonal()) == pytest.approx([0.09, 0.0625, 0.16, 0.04, 0.04])
    assert m.routes == {"IV": "central", "PO": "depot"}
    assert m.error == {"CP": ErrorModel("CP", additive=0.05, proportional=0.1)}
    assert m.covariates[0].default == 70.0
    assert m.symbol("CL").is_real
    with pytest.raises(ModelError, match="no symbol 'CLL'"):
        m.symbol("CLL")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(text)
    return path


MINIMAL = """
[model]
name = "m"
[parameters]
K = { value = 0.1, unit = "1/h" }
[states]
A = { unit = "mg" }
[odes]
A = "-K*A"
"""


def test_minimal(tmp_path: Path) -> None:
    m = load_model_file(write(tmp_path, MINIMAL))
    assert m.time_unit == "h" and m.outputs == ()


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "\nB = = 1\n")
    with pytest.raises(ModelError) as e:
        load_model_file(path)
    assert str(path) in str(e.value) and "line 11" in str(e.value)


def test_unknown_section_and_keys(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"unknown section \[equations\].*valid sections: model"):
        load_model_file(write(tmp_path, MINIMAL + "[equations]\nx = 1\n"))
    with pytest.raises(ModelError, match=r"unknown key 'author'.*valid keys: name"):
        load_model_file(write(tmp_path, MINIMAL.replace('name = "m"',
                                                        'name = "m"\nauthor = "x"')))
    with pytest.raises(ModelError, match="parameter 'K': unknown key 'units'"):
        load_model_file(write(tmp_path, MINIMAL.replace('unit = "1/h"', 'units = "1/h"')))
    with pytest.raises(ModelError, match=r"\[dosing.A\]: unknown key 'bioav'"):
        load_model_file(write(tmp_path, MINIMAL + '[dosing.A]\nbioav = "1"\n'))


def test_equation_errors_name_the_equation(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"ODE of 'A'.*attribute access"):
        load_model_file(write(tmp_path, MINIMAL.replace('"-K*A"', '"-K.real*A"')))


def test_variability_block(tmp_path: Path) -> None:
    text = MINIMAL.replace('A = "-K*A"', 'A = "-K*exp(e1 + e2 + e3)*A"') + """
[variability]
omega = { names = ["e1", "e2"], matrix = [[0.1, 0.05], [0.05, 0.2]] }
blocks = [ { names = ["e3"], matrix = [[0.3]] } ]
"""
    m = load_model_file(write(tmp_path, text))
    assert m.etas == ("e1", "e2", "e3")
    assert m.omega.tolist() == [[0.1, 0.05, 0.0], [0.05, 0.2, 0.0], [0.0, 0.0, 0.3]]


def test_missing_file() -> None:
    with pytest.raises(ModelError, match="cannot read model file"):
        load_model_file("/nonexistent/model.toml")


def test_model_is_frozen() -> None:
    m = pkpd.load_model("two_cmt_oral")
    with pytest.raises(AttributeError):
        m.name = "x"  # type: ignore[misc]
    with pytest.raises(ValueError):
        m.omega[0, 0] = 1.0


def test_omega_block_from_sd_and_correlation(tmp_path) -> None:
    import numpy as np

    from pkpd.model import ModelBuilder, load_model_file

    def build(**block):
        mb = ModelBuilder("m", time_unit="h")
        (central,) = mb.states(central="mg")
        mb.parameters(TVCL="5 L/h", V="50 L")
        mb.omega_block(["eta_CL", "eta_V"], **block)
        mb.derive("CL", "TVCL*exp(eta_CL)")
        mb.ode(central, "-CL/V*central*exp(eta_V)")
        mb.output("CP", "central/V", unit="mg/L")
        return mb.build()

    by_sd = build(sd=[0.3, 0.2], correlation=[[1.0, 0.5], [0.5, 1.0]])
    by_cov = build(matrix=[[0.09, 0.03], [0.03, 0.04]])
    np.testing.assert_allclose(by_sd.omega, by_cov.omega, rtol=1e-15)
    with pytest.raises(ModelError, match="correlation"):
        build(sd=[0.3, 0.2], correlation=[[1.0, 1.5], [1.5, 1.0]])
    with pytest.raises(ModelError, match="either"):
        build()
    path = tmp_path / "m.toml"
    path.write_text("""
[model]
name = "m"
[parameters]
TVCL = { value = 5, unit = "L/h" }
V = { value = 50, unit = "L" }
[variability]
omega = { names = ["eta_CL", "eta_V"], sd = [0.3, 0.2], correlation = [[1, 0.5], [0.5, 1]] }
[individual]
CL = "TVCL*exp(eta_CL)"
[states]
central = "mg"
[odes]
central = "-CL/V*central*exp(eta_V)"
[outputs]
CP = { expr = "central/V", unit = "mg/L" }
""")
    np.testing.assert_allclose(load_model_file(path).omega, by_cov.omega, rtol=1e-15)
