"""The validation scripts run end to end (on a few subjects; the full runs are reports)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "validation" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_map_recovery_study_runs() -> None:
    mod = _load("map_recovery")
    df, timing = mod.study(6, seed=5, n_sir=2)
    assert len(df) == 6 and timing["fit"] > 0
    assert df[[c for c in df.columns if c.startswith("map_eta")]].abs().to_numpy().max() < 3
    assert np.isfinite(df["auc_map"]).all() and (df["auc_true"] > 0).all()
    text = mod.report(df, timing, 2, 5)
    assert "Laplace coverage" in text and "chosen from the MAP fit" in text
