"""The on-disk home of generated modules: ``<cache>/m_<key[:20]>.py`` plus numba's cache files.

The key hashes the model hash with the versions of pkpd, numba and the code generator, so a
new version never loads stale kernels. A module file is written once (atomically: temporary
file + ``os.replace``) and never rewritten, because numba's disk cache is keyed by the source
file's modification time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import PkpdError

__all__ = ["GENERATOR_VERSION", "cache_dir", "disk_key", "import_source", "read_lowered",
           "write_lowered", "write_source"]

GENERATOR_VERSION = "1"


def cache_dir() -> Path:
    """``$PKPD_CACHE_DIR`` or ``~/.cache/pkpd`` (created if missing)."""
    path = Path(os.environ.get("PKPD_CACHE_DIR") or Path.home() / ".cache" / "pkpd")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PkpdError(f"cannot create the kernel cache folder {path} ({exc.strerror}); set "
                        "PKPD_CACHE_DIR to a writable folder") from None
    return path


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


def write_source(source: str, key: str) -> Path:
    """Write ``source`` to ``<cache>/m_<key[:20]>.py`` unless an identical file exists."""
    folder = cache_dir()
    path = folder / f"m_{key[:20]}.py"
    try:
        if path.read_text(encoding="utf-8") == source:
            return path
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".m_", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(source)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def import_source(path: Path, key: str) -> ModuleType:
    """Import a generated module under the unique name ``pkpd_generated_m_<key[:20]>``."""
    name = f"pkpd_generated_m_{key[:20]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


_LOWERED_MAGIC = b"pkpd-lowered\n"


def _lowered_path(key: str) -> Path:
    root = os.environ.get("PKPD_CACHE_DIR") or Path.home() / ".cache" / "pkpd"
    return Path(root) / f"m_{key[:20]}.lowered.pkl"


def read_lowered(key: str) -> tuple[str, Any, bool] | None:
    """The cached result of lowering and emission for ``key``: ``(source, layout, is_linear)``.

    None when absent, unreadable, corrupted or written for another key (then the caller
    lowers the model again).
    """
    try:
        data = _lowered_path(key).read_bytes()
    except OSError:
        return None
    head = _LOWERED_MAGIC + key.encode() + b"\n"
    if not data.startswith(head):
        return None
    try:
        source, layout, is_linear = pickle.loads(data[len(head):])
    except Exception:  # a corrupted or half-written entry
        return None
    if not isinstance(source, str) or not isinstance(is_linear, bool):
        return None
    return source, layout, is_linear


def write_lowered(key: str, source: str, layout: Any, is_linear: bool) -> None:
    """Store ``(source, layout, is_linear)`` for ``key`` atomically; silently skipped when the
    cache folder cannot be written."""
    path = _lowered_path(key)
    payload = _LOWERED_MAGIC + key.encode() + b"\n" + pickle.dumps(
        (source, layout, is_linear), protocol=pickle.HIGHEST_PROTOCOL)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".l_", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
