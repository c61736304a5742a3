"""The on-disk home of generated modules: ``<cache>/m_<key[:20]>.py`` plus numba's cache files.

The key (:func:`disk_key`) hashes the model hash (of the normalised model) with the versions of
pkpd, numba and the code generator and a digest of the source of :mod:`pkpd.model` and
:mod:`pkpd.codegen`, so a new version never loads stale kernels. A module file is written once
(atomically: temporary file + ``os.replace``) and never rewritten while it is valid, because
numba's disk cache is keyed by the source file's modification time.

Security (see :mod:`pkpd._cachefile` for the rules): the first line of a module file records
its key; a module is imported only from the bytes that were checked (owner, mode, folder, key),
numba's cache files of a module are checked before numba unpickles them, and the pickled lowered
model records its key too. An untrusted entry is warned about and rebuilt; one written for
another key, or damaged (a truncated module, pickle or numba file), is rebuilt silently.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pickle
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import _cachefile
from ..errors import PkpdError

__all__ = ["GENERATOR_VERSION", "cache_dir", "compile_cached", "disk_key", "import_source",
           "read_lowered", "write_lowered", "write_source"]

GENERATOR_VERSION = "1"

_KEY_LINE = "# pkpd-cache-key: {key}\n"
_LOWERED_MAGIC = b"pkpd-lowered\n"
_IMPORT_LOCK = threading.Lock()


def cache_dir() -> Path:
    """``$PKPD_CACHE_DIR`` or ``~/.cache/pkpd`` (created if missing; a private temporary folder
    instead when that folder is writable by everyone without the sticky bit)."""
    return _cachefile.cache_folder()


def disk_key(model_hash: str) -> str:
    """sha256 of the model hash, the pkpd, numba and generator versions, and the source of
    :mod:`pkpd.model` and :mod:`pkpd.codegen` (a change of either invalidates the kernels and
    lowered code an older build stored)."""
    import numba

    from .. import __version__
    from ..model._store import code_digest

    text = (f"{model_hash}|pkpd {__version__} {code_digest('model', 'codegen')}|"
            f"numba {numba.__version__}|gen {GENERATOR_VERSION}")
    return hashlib.sha256(text.encode()).hexdigest()


def _module_text(source: str, key: str) -> bytes:
    return (_KEY_LINE.format(key=key) + source).encode("utf-8")


def _read_module(path: Path) -> bytes | None:
    """The bytes of a trusted module file (None when absent, untrusted or unreadable)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError:
        reason = _cachefile.untrusted(path)
        if reason is not None:
            _cachefile.warn_untrusted(path, reason)
        return None
    with os.fdopen(fd, "rb") as fh:
        reason = _cachefile.untrusted(path, os.fstat(fd))
        if reason is not None:
            _cachefile.warn_untrusted(path, reason)
            return None
        try:
            return fh.read()
        except OSError:
            return None


def write_source(source: str, key: str) -> Path:
    """Write ``source`` to ``<cache>/m_<key[:20]>.py`` (after a first line recording ``key``)
    unless a trusted identical file exists; numba's cache files of a replaced file are removed.

    Raises
    ------
    PkpdError
        When the file cannot be written.
    """
    path = cache_dir() / f"m_{key[:20]}.py"
    text = _module_text(source, key)
    existing = _read_module(path)
    if existing == text:
        return path
    existed = os.path.lexists(path)
    if not _cachefile.write_file(path, text):
        raise PkpdError(f"cannot write the generated module {path}; set PKPD_CACHE_DIR to a "
                        "writable folder of the current user")
    if existed:
        _drop_numba_files(path)      # compiled from another text: never to be loaded
    return path


def import_source(path: Path, key: str) -> ModuleType:
    """Import a generated module under the unique name ``pkpd_generated_m_<key[:20]>``.

    The module is executed from the bytes that were checked: a trusted file whose first line
    records ``key``.

    Raises
    ------
    ImportError
        When the file is not trusted or records another key (the caller writes it again).
    """
    name = f"pkpd_generated_m_{key[:20]}"
    with _IMPORT_LOCK:
        if name in sys.modules:
            return sys.modules[name]
        data = _read_module(path)
        if data is None or not data.startswith(_KEY_LINE.format(key=key).encode()):
            raise ImportError(f"{path} is not the generated module of key {key[:20]}")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            # the bytes checked above, not the file again (it could be replaced meanwhile)
            exec(compile(data, str(path), "exec"), module.__dict__)
        except BaseException:
            del sys.modules[name]
            raise
    return module


def _numba_folder(path: Path) -> Path:
    """Where numba keeps the cache files of functions defined in ``path``."""
    try:
        from numba.core.caching import CacheImpl

        for cls in CacheImpl._locator_classes:
            locator = cls.from_function(_probe, str(path))
            if locator is not None:
                return Path(locator.get_cache_path())
    except Exception:  # pragma: no cover - another numba
        pass
    return path.parent / "__pycache__"


def _probe() -> None:  # pragma: no cover - only its code object is looked at
    pass


def _numba_files(path: Path) -> list[Path]:
    folder = _numba_folder(path)
    stem = path.stem + "."
    try:
        return [f for f in folder.iterdir()
                if f.name.startswith(stem) and f.suffix in (".nbi", ".nbc")]
    except OSError:
        return []


def _drop_numba_files(path: Path) -> None:
    for f in _numba_files(path):
        with contextlib.suppress(OSError):
            f.unlink()


def _check_numba_files(path: Path) -> None:
    """Remove numba's cache files of the module ``path`` that are not trusted (warned)."""
    if not _cachefile.drop_untrusted(_numba_folder(path), path.stem + "."):
        raise ImportError(f"cannot remove an untrusted numba cache file of {path}")


def compile_cached(source: str, key: str, compile_all: Callable[[ModuleType], Any]
                   ) -> tuple[Path, Any]:
    """Write (when needed) and import the module of ``source``, then ``compile_all(module)``
    with numba loading its disk cache only from trusted files.

    A module file replaced between writing and importing is written again; a damaged numba
    cache file (numba fails to load it) is removed and the kernels are compiled again.
    Returns the module's path and what ``compile_all`` returned.
    """
    path = write_source(source, key)
    try:
        module = import_source(path, key)
    except ImportError:
        _cachefile.write_file(path, _module_text(source, key))
        _drop_numba_files(path)
        module = import_source(path, key)
    _check_numba_files(path)
    try:
        result = compile_all(module)
    except Exception:
        if not _numba_files(path):
            raise
        _drop_numba_files(path)
        # a failed load leaves no state behind: fresh dispatchers compile and cache again
        result = compile_all(module)
    _cachefile.seal(_numba_folder(path), path.stem + ".")
    return path, result


def _lowered_path(key: str) -> Path:
    return cache_dir() / f"m_{key[:20]}.lowered.pkl"


def read_lowered(key: str) -> tuple[str, Any, bool] | None:
    """The cached result of lowering and emission for ``key``: ``(source, layout, is_linear)``.

    None when absent, unreadable, untrusted, corrupted or written for another key (then the
    caller lowers the model again).
    """
    try:
        path = _lowered_path(key)
    except PkpdError:
        return None
    data = _cachefile.read_entry(path, _LOWERED_MAGIC, key)
    if data is None:
        return None
    try:
        source, layout, is_linear = pickle.loads(data)   # a trusted entry of this key
    except Exception:  # a corrupted or half-written entry
        return None
    if not isinstance(source, str) or not isinstance(is_linear, bool):
        return None
    return source, layout, is_linear


def write_lowered(key: str, source: str, layout: Any, is_linear: bool) -> None:
    """Store ``(source, layout, is_linear)`` for ``key`` atomically; silently skipped when the
    cache folder cannot be written."""
    try:
        path = _lowered_path(key)
    except PkpdError:
        return
    payload = pickle.dumps((source, layout, is_linear), protocol=pickle.HIGHEST_PROTOCOL)
    _cachefile.write_entry(path, _LOWERED_MAGIC, key, payload)
