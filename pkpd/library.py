"""The model library: the declared models shipped in ``models/`` (package ``pkpd._library``)."""

from __future__ import annotations

import difflib
import importlib.resources
from pathlib import Path
from typing import Any

from .errors import ModelError

__all__ = ["list_models", "load_model", "model_path"]


def _folders() -> list[Any]:
    """Where bundled models live: the repository's ``models/`` first, then the installed package."""
    found: list[Any] = []
    repo = Path(__file__).resolve().parents[1] / "models"
    if repo.is_dir():
        found.append(repo)
    try:
        found.append(importlib.resources.files("pkpd._library"))
    except (ModuleNotFoundError, TypeError):
        pass
    return found


def _bundled() -> dict[str, Any]:
    models: dict[str, Any] = {}
    for folder in _folders():
        for entry in folder.iterdir():
            if entry.name.endswith(".toml"):
                models.setdefault(entry.name[: -len(".toml")], entry)
    return dict(sorted(models.items()))


def list_models() -> list[str]:
    """Names of the bundled models, sorted.

    Examples
    --------
    >>> "two_cmt_oral" in list_models()
    True
    """
    return list(_bundled())


def model_path(name: str) -> Any:
    """The file (a path or an importlib resource) of a bundled model."""
    models = _bundled()
    if name not in models:
        close = difflib.get_close_matches(name, list(models), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ModelError(f"unknown model {name!r}{hint} (available models: "
                         f"{', '.join(models) or 'none'}; or give the path of a .toml file)")
    return models[name]


def load_model(name_or_path: str | Path) -> Any:
    """Load a bundled model by name, or a model file by path.

    Parameters
    ----------
    name_or_path : str or pathlib.Path
        The name of a bundled model (see :func:`list_models`) or the path of a ``.toml`` file.

    Returns
    -------
    pkpd.Model

    Raises
    ------
    ModelError
        For an unknown name (listing the available models and close matches) or an invalid
        model file.
    """
    from .model import load_model_file
    from .model._toml import load_model_text

    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ModelError(f"model file {text!r} does not exist")
        return load_model_file(path)
    entry = model_path(text)
    if isinstance(entry, Path):
        return load_model_file(entry)
    return load_model_text(entry.read_text(encoding="utf-8"), entry.name)
