"""Provenance of a result: which model, data, versions and settings produced it.

:func:`provenance` returns a flat ``dict[str, str]`` suitable for ``xarray.Dataset.attrs``
(netCDF and zarr attributes must be strings or numbers). The versions of the dependencies and
the platform are looked up once per process.

Keys (all optional ones are omitted when unknown):

* ``model``, ``model_hash``, ``model_source`` (a file path, or ``"python"`` for a model built
  with :class:`~pkpd.model.ModelBuilder`), ``model_file_sha256``;
* ``data_source`` (a file path or ``"DataFrame"``), ``data_sha256``;
* ``version_pkpd``, ``version_<dist>`` for numpy, scipy, numba, sympy, xarray, pint, pandas, and
  ``version_python``, ``platform``;
* ``seed`` (the root of the random streams), ``created_utc`` (ISO 8601).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import importlib.metadata
import platform
import sys
from typing import Any

__all__ = ["DEPENDENCIES", "data_record", "file_sha256", "model_record", "provenance",
           "versions"]

#: Distributions whose versions every record lists.
DEPENDENCIES: tuple[str, ...] = ("numpy", "scipy", "numba", "sympy", "xarray", "pint",
                                 "pandas")

#: Attribute of a :class:`~pkpd.model.Model` carrying ``(path, sha256)`` of its file (set by the
#: model loaders; not part of the model's content hash).
FILE_ATTR = "_source_file"


def file_sha256(path: Any) -> str:
    """sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    """sha256 (hex) of a text encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.cache
def versions() -> dict[str, str]:
    """Versions of pkpd, its key dependencies and Python, and the platform (computed once)."""
    from . import __version__

    found: dict[str, str] = {"version_pkpd": __version__}
    for dist in DEPENDENCIES:
        try:
            found[f"version_{dist}"] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[f"version_{dist}"] = "not installed"
    found["version_python"] = platform.python_version()
    found["platform"] = f"{platform.platform()} ({sys.implementation.name})"
    return found


def attach_file(model: Any, path: str, sha256: str) -> Any:
    """Record on ``model`` the file it was read from (outside its content hash); returns it."""
    try:
        object.__setattr__(model, FILE_ATTR, (str(path), sha256))
    except (AttributeError, TypeError):   # an object without a __dict__: nothing recorded
        pass
    return model


def model_record(model: Any) -> dict[str, str]:
    """Name, hash and source of a model (``"python"`` unless a loader recorded a file)."""
    rec = {"model": str(getattr(model, "name", "")), "model_hash": str(getattr(model, "hash", ""))}
    source = getattr(model, FILE_ATTR, None)
    if source is None:
        rec["model_source"] = "python"
    else:
        rec["model_source"], rec["model_file_sha256"] = source
    return rec


def data_record(data: Any) -> dict[str, str]:
    """Source and sha256 of a dataset: a :class:`~pkpd.io.NonmemData` (its file, or
    ``"DataFrame"``), a file path, or a DataFrame (sha256 of its CSV text)."""
    if hasattr(data, "to_csv"):   # a DataFrame (its columns could be called "source")
        return {"data_source": "DataFrame", "data_sha256": text_sha256(data.to_csv(index=False))}
    source = getattr(data, "source", None)
    digest = getattr(data, "sha256", None)
    if source is not None and digest is not None:
        return {"data_source": str(source), "data_sha256": str(digest)}
    if isinstance(data, str) or hasattr(data, "__fspath__"):
        return {"data_source": str(data), "data_sha256": file_sha256(data)}
    return {}


def utc_now() -> str:
    """The current date-time, UTC, ISO 8601 (seconds)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def provenance(model: Any = None, *, data: Any = None, seed: Any = None,
               settings: dict[str, Any] | None = None) -> dict[str, str]:
    """The provenance record of a result.

    Parameters
    ----------
    model : Model or CompiledModel, optional
        The model (a compiled model's ``.model`` is used).
    data : NonmemData, DataFrame or path, optional
        The data the result was fitted to.
    seed : Any, optional
        The root of the random streams (``""`` when nothing was sampled).
    settings : dict, optional
        Further settings (solver, tolerances, method), stored as strings.

    Returns
    -------
    dict[str, str]
    """
    rec: dict[str, str] = {}
    if model is not None:
        rec.update(model_record(getattr(model, "model", model)))
    if data is not None:
        rec.update(data_record(data))
    rec.update(versions())
    if seed is not None:
        rec["seed"] = str(seed)
    for key, value in (settings or {}).items():
        rec[key] = str(value)
    rec["created_utc"] = utc_now()
    return rec
