"""The model library: the declared models shipped in ``models/`` (package ``pkpd._library``).

Every bundled file says what it is in its ``[model]`` table: a description (its first sentence
is the one-line summary of :func:`catalog` and ``pkpd models``), where its numbers come from
(``source``, ``references``, ``doi``), how far they were checked (``status``) and ``tags`` from
:data:`TAGS`, by which :func:`list_models` and :func:`catalog` filter. A file with a ``[drug]``
table is a compact drug description from which :mod:`pkpd.pbpk` generates a whole-body model.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.resources
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelError

_DRUG_TABLE = re.compile(r"^\s*\[drug\]\s*(#.*)?$", re.MULTILINE)

__all__ = ["TAGS", "ModelEntry", "catalog", "list_models", "load_model", "model_path"]

#: The tags of the library and what they mean.
TAGS: dict[str, str] = {
    "structural": "a structural template (compartments, absorption, elimination, PD link)",
    "drug": "a published model of one drug, with its citation and values",
    "pbpk": "a whole-body physiological model generated from a drug description",
    "paediatric": "made for children (maturation, size scaling)",
    "pk": "pharmacokinetics",
    "pd": "pharmacodynamics (effect, response, disease)",
    "tmdd": "target-mediated drug disposition",
    "tdm": "a drug dosed by therapeutic drug monitoring",
    "reference": "a model of the test, benchmark or validation suites",
}


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


@dataclass(frozen=True)
class ModelEntry:
    """One model of the library, as its file's ``[model]`` table describes it (read without
    building the model).

    Attributes
    ----------
    name : str
    summary : str
        The first sentence of the description.
    tags : tuple of str
    source : str
        Where the model and its values come from.
    status : str
        How far the values were checked.
    """

    name: str
    summary: str
    tags: tuple[str, ...]
    source: str
    status: str

    def __str__(self) -> str:
        return f"{self.name}  [{', '.join(self.tags)}]  {self.summary}"


def _first_sentence(text: str, limit: int = 100) -> str:
    """The first sentence of ``text``; when longer than ``limit``, its first clause (up to a
    colon or semicolon), else cut with an ellipsis."""
    text = " ".join(text.split())
    match = re.search(r"\.(\s|$)", text)
    first = text[: match.start()] if match else text
    if len(first) > limit:
        clause = re.search(r"[:;](\s|$)", first)
        if clause and clause.start() >= 10:
            first = first[: clause.start()]
    return first if len(first) <= limit else first[: limit - 3].rstrip() + "..."


def _entry(name: str, resource: Any) -> ModelEntry:
    try:
        head = tomllib.loads(resource.read_text(encoding="utf-8")).get("model", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"bundled model {name!r} cannot be read: {exc}") from None
    tags = head.get("tags", [])
    return ModelEntry(name=name, summary=_first_sentence(str(head.get("description", ""))),
                      tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
                      source=str(head.get("source", "")), status=str(head.get("status", "")))


def _check_tag(tag: str | None) -> None:
    if tag is not None and tag not in TAGS:
        close = difflib.get_close_matches(str(tag), list(TAGS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ModelError(f"unknown tag {tag!r}{hint} (tags: {', '.join(TAGS)})")


def catalog(tag: str | None = None) -> list[ModelEntry]:
    """The bundled models with their one-line summary and tags, sorted by name.

    Parameters
    ----------
    tag : str, optional
        Only the models with this tag (one of :data:`TAGS`).

    Raises
    ------
    ModelError
        For an unknown tag (naming the valid ones).

    Examples
    --------
    >>> entry = next(e for e in catalog("reference") if e.name == "two_cmt_oral")
    >>> entry.tags
    ('structural', 'pk', 'reference')
    """
    _check_tag(tag)
    entries = [_entry(name, res) for name, res in _bundled().items()]
    return [e for e in entries if tag is None or tag in e.tags]


def list_models(tag: str | None = None) -> list[str]:
    """Names of the bundled models, sorted (see :func:`catalog` for their summaries).

    Parameters
    ----------
    tag : str, optional
        Only the models with this tag (one of :data:`TAGS`).

    Examples
    --------
    >>> "two_cmt_oral" in list_models()
    True
    >>> "two_cmt_oral" in list_models(tag="pbpk")
    False
    """
    if tag is None:
        return list(_bundled())
    return [e.name for e in catalog(tag)]


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

    Examples
    --------
    >>> import pkpd
    >>> m = pkpd.load_model("one_cmt")
    >>> m.name, [f"{p.name} = {p.value:g} {p.unit}" for p in m.parameters]
    ('one_cmt', ['TVKA = 1 1/h', 'TVCL = 5 L/h', 'TVV = 50 L'])
    >>> pkpd.load_model("one_cmpt")
    Traceback (most recent call last):
    ...
    pkpd.errors.ModelError: unknown model 'one_cmpt'; did you mean one_cmt, ...
    """
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ModelError(f"model file {text!r} does not exist")
        entry: Any = path
    else:
        entry = model_path(text)
    try:
        content = entry.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read model file {entry}: {exc}") from None
    from ._provenance import attach_file

    digest = hashlib.sha256(entry.read_bytes()).hexdigest()
    if _DRUG_TABLE.search(content):
        from .pbpk import load_pbpk_text

        built = load_pbpk_text(content, str(entry) if isinstance(entry, Path) else entry.name)
        return attach_file(built, str(entry), digest)
    from .model import load_model_file
    from .model._toml import load_model_text

    if isinstance(entry, Path):
        return load_model_file(entry)
    return attach_file(load_model_text(content, entry.name), str(entry), digest)
