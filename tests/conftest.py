"""Session-wide fixtures: location of the shared reference data, compiled library models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_root() -> Path:
    """The shared data folder: ``$PKPD_SHARED_DIR`` or ``../shared`` next to the repository."""
    return Path(os.environ.get("PKPD_SHARED_DIR", _DEFAULT_SHARED))


def shared_path(*parts: str) -> Path:
    """Path inside the shared folder; skip (or fail under CI=true) when it is absent."""
    path = shared_root().joinpath(*parts)
    if not path.exists():
        reason = (f"shared reference data not found at {path} "
                  "(set PKPD_SHARED_DIR to the folder holding data/ and conformance/)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder with real datasets and NONMEM conformance output."""
    return shared_path()
