"""Fixtures shared by the estimation tests: the theophylline data and its population fits,
made once per session."""

from __future__ import annotations

import pandas as pd
import pytest

import pkpd

from .theophylline import theophylline_model


@pytest.fixture(scope="session")
def theo_data(shared_dir) -> pd.DataFrame:
    return pd.read_csv(shared_dir / "data" / "theophylline.csv")


@pytest.fixture(scope="session")
def theo_cm() -> pkpd.CompiledModel:
    return pkpd.compile_model(theophylline_model())


@pytest.fixture(scope="session")
def theo_focei(theo_cm, theo_data) -> pkpd.PopulationFit:
    return pkpd.fit_population(theo_cm, theo_data, "focei")


@pytest.fixture(scope="session")
def theo_saem(theo_cm, theo_data) -> pkpd.PopulationFit:
    return pkpd.fit_population(theo_cm, theo_data, "saem", seed=1)
