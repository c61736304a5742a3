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


def _without_run_time(ds):
    """``ds`` without the time its run was made (provenance ``created_utc``): two runs of the
    same inputs are identical in everything else."""
    assert "created_utc" in ds.attrs
    out = ds.copy()
    out.attrs = {k: v for k, v in ds.attrs.items() if k != "created_utc"}
    return out


def assert_same_run(chunked, ref) -> None:
    """A chunked (lazy) run equals the in-process one: values, coordinates and attributes, all
    but the time each run was made."""
    import numpy as np
    import xarray as xr

    computed = chunked.compute()
    xr.testing.assert_identical(_without_run_time(computed), _without_run_time(ref))
    for name in ref.data_vars:
        np.testing.assert_array_equal(computed[name].values, ref[name].values)
