"""A disk cache of built models, keyed by the model file's text and the package version.

Building a model from its file (parsing the equations, checking them, dimensional analysis of
the units) costs far more than reading the built result back. :func:`cached_model` pickles the
built :class:`~pkpd.model.Model` (with its content hash already computed) to
``<cache>/models/<key>.pkl``, where ``<cache>`` is ``$PKPD_CACHE_DIR`` (default
``~/.cache/pkpd``) and ``<key>`` hashes the file's text, its source name, the versions of
pkpd, Python, sympy and pint, and :data:`STORE_VERSION`. Any change of the file or of the
package gives a new key.

Entries are written atomically (temporary file + ``os.replace``, mode 0600) and record their
key; an unreadable, corrupted or foreign entry (written for another key) is ignored and rebuilt;
a read-only or missing cache folder only means the model is rebuilt each time. Unpickling runs
code, so an entry is only read when it is trusted: a regular file owned by the current user,
not writable by group or others, in a folder not writable by everyone without the sticky bit
(POSIX); otherwise it is ignored and rebuilt with one :class:`~pkpd.errors.PkpdWarning` naming
it (see :mod:`pkpd._cachefile`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import pickle
import sys
from collections.abc import Callable
from pathlib import Path

from .. import _cachefile
from ..errors import PkpdError
from ._model import Model

__all__ = ["STORE_VERSION", "cached_model", "code_digest", "model_key"]

#: Bump when the pickled form of a Model changes meaning.
STORE_VERSION = "1"

_MAGIC = b"pkpd-model-store\n"


def _folder() -> Path | None:
    try:
        return _cachefile.cache_folder("models")
    except (PkpdError, OSError):   # no usable cache folder: nothing stored
        return None


@functools.cache
def _versions() -> str:
    """The versions of the libraries a built model depends on (sympy objects, pint units)."""
    found = []
    for dist in ("sympy", "pint"):
        try:
            found.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{dist} ?")
    return "|".join(found)


@functools.cache
def code_digest(*packages: str) -> str:
    """sha256 of the source files of pkpd's subpackages ``packages`` (e.g. ``"model"``): part
    of every cache key, so that a change of the code that builds a model (not only of the
    package version) invalidates what an older build stored."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in packages:
        for path in sorted((root / name).glob("*.py")):
            digest.update(path.name.encode() + b"\0")
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"?")
    return digest.hexdigest()


def model_key(text: str, source: str) -> str:
    """sha256 of a model file's text, its source name and the versions it was built with
    (pkpd and the source of :mod:`pkpd.model`, Python, sympy, pint and
    :data:`STORE_VERSION`).

    Parameters
    ----------
    text : str
        The content of the model file.
    source : str
        Where it came from (a path or a bundled file's name), as shown in error messages.

    Returns
    -------
    str
        A hexadecimal digest.
    """
    from .. import __version__

    head = (f"store {STORE_VERSION}|pkpd {__version__} {code_digest('model')}|"
            f"python {sys.version_info[:2]}|{_versions()}|source {source}|")
    return hashlib.sha256(head.encode() + text.encode("utf-8")).hexdigest()


def _read(path: Path, key: str) -> Model | None:
    data = _cachefile.read_entry(path, _MAGIC, key)
    if data is None:
        return None
    try:
        model = pickle.loads(data)   # a trusted entry of this key
    except Exception:  # a corrupted or half-written entry: rebuild it
        return None
    return model if isinstance(model, Model) else None


def _write(path: Path, key: str, model: Model) -> None:
    try:
        payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an unpicklable model (never for one built from a file) is not cached
        return
    _cachefile.write_entry(path, _MAGIC, key, payload)


def cached_model(text: str, source: str, build: Callable[[], Model]) -> Model:
    """The model built from ``text``, from the disk cache when present.

    Parameters
    ----------
    text : str
        The content of the model file (the cache key, with ``source`` and the versions).
    source : str
        The file's path or bundled name.
    build : callable
        Builds the model when it is not cached (raising ``ModelError`` for an invalid file,
        which is then never cached).

    Returns
    -------
    Model
    """
    key = model_key(text, source)
    folder = _folder()
    path = None if folder is None else folder / f"{key[:40]}.pkl"
    model = None if path is None else _read(path, key)
    if model is not None:
        return model
    model = build()
    _ = model.hash   # stored with the model, so a cached model does not recompute it
    if path is not None:
        _write(path, key, model)
    return model
