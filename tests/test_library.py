"""The bundled model library: discovery, loading by name or path, documentation of each model."""

from __future__ import annotations

from pathlib import Path

import pytest

import pkpd
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
