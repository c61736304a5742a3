"""Every bundled model compiled once per test session, into a session-private kernel cache."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import pkpd
from pkpd.codegen import CompiledModel, compile_model


@pytest.fixture(scope="session")
def kernel_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("pkpd_cache")
    old = os.environ.get("PKPD_CACHE_DIR")
    os.environ["PKPD_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("PKPD_CACHE_DIR", None)
    else:
        os.environ["PKPD_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def compiled(kernel_cache: Path) -> dict[str, CompiledModel]:
    return {name: compile_model(pkpd.load_model(name)) for name in pkpd.list_models()}
