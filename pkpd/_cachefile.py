"""Files of pkpd's cache folder: where it is, when a file in it is trusted, keyed entries.

The cache folder is ``$PKPD_CACHE_DIR``, default ``~/.cache/pkpd``. It holds generated Python
modules and numba's compiled code for them (imported and unpickled when a model is compiled),
pickled lowered models and pickled built models. Loading any of them runs code, so an entry
is used only when all of these hold (POSIX; on Windows only the last one is checked):

* the file is a regular file (not a symbolic link) owned by the current user;
* it is not writable by the group or by others;
* its folder is not writable by everyone unless it has the sticky bit (as ``/tmp``);
* it records the key it was written for (a hash of the normalised model, the versions of
  pkpd, numba, Python, sympy, pint and a digest of pkpd's own source), and that key is the
  one asked for.

An entry that fails one of the first three rules is ignored and rebuilt, with one
:class:`~pkpd.errors.PkpdWarning` naming the file; a cache folder that is writable by everyone
without the sticky bit is not used at all: the process then works in a private temporary
folder (warned once). An entry written for another key, or unreadable, truncated or otherwise
damaged, is ignored and rebuilt silently. Entries are written atomically (temporary file +
``os.replace``) with mode 0600.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
import threading
import warnings
from pathlib import Path

from .errors import PkpdError, PkpdWarning

__all__ = ["cache_folder", "configured_folder", "drop_untrusted", "read_entry", "seal",
           "untrusted", "warn_untrusted", "write_entry", "write_file"]

_POSIX = os.name == "posix"
_WARNED: set[str] = set()
_LOCK = threading.Lock()
_PRIVATE: dict[str, Path] = {}


def configured_folder() -> Path:
    """``$PKPD_CACHE_DIR`` or ``~/.cache/pkpd`` (not created)."""
    return Path(os.environ.get("PKPD_CACHE_DIR") or Path.home() / ".cache" / "pkpd")


def _open_folder(st: os.stat_result) -> bool:
    """A folder anyone may add files to or replace files in."""
    return bool(st.st_mode & stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX


def folder_untrusted(path: Path) -> str | None:
    """Why the folder ``path`` must not hold cache entries, or None (also when it is absent)."""
    if not _POSIX:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    if _open_folder(st):
        return f"its folder {path} is writable by everyone and has no sticky bit"
    return None


def untrusted(path: Path, st: os.stat_result | None = None) -> str | None:
    """Why the cache file ``path`` must not be loaded (see the module docstring), or None.

    ``st`` is the file's status when already known (from ``os.fstat`` of an open file).
    """
    if not _POSIX:
        return None
    try:
        st = st or os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return "it is not a regular file"
    if st.st_uid != os.getuid():
        return f"it is owned by user id {st.st_uid}, not by the current user ({os.getuid()})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"it is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    return folder_untrusted(path.parent)


def drop_untrusted(folder: Path, prefix: str = "") -> bool:
    """Remove (with a warning each) the untrusted files of ``folder`` whose names start with
    ``prefix``; False when one of them could not be removed (the folder must then not be
    used)."""
    try:
        files = [f for f in folder.iterdir() if f.name.startswith(prefix)]
    except OSError:
        return True
    ok = True
    for f in files:
        reason = untrusted(f)
        if reason is not None:
            warn_untrusted(f, reason)
            try:
                f.unlink()
            except OSError:
                ok = False
    return ok


def seal(folder: Path, prefix: str = "") -> None:
    """Remove group and world write permission from the current user's files of ``folder``
    whose names start with ``prefix`` (written by a library with the process's umask, which
    may leave them group-writable: they would be refused later)."""
    if not _POSIX:
        return
    try:
        files = [f for f in folder.iterdir() if f.name.startswith(prefix)]
    except OSError:
        return
    for f in files:
        try:
            st = os.lstat(f)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and st.st_mode & 0o022:
                os.chmod(f, stat.S_IMODE(st.st_mode) & ~0o022)
        except OSError:
            pass


def warn_untrusted(path: Path, reason: str) -> None:
    """Warn once per file that a cache entry is ignored."""
    with _LOCK:
        if str(path) in _WARNED:
            return
        _WARNED.add(str(path))
    warnings.warn(f"pkpd cache: ignoring {path} ({reason}); it is rebuilt",
                  PkpdWarning, stacklevel=3)


def cache_folder(sub: str = "") -> Path:
    """The cache folder (``sub`` inside it), created if missing.

    When the configured folder is writable by everyone without the sticky bit, a private
    temporary folder of this process (removed at exit) is used instead, with one warning.

    Raises
    ------
    PkpdError
        When the folder cannot be created.
    """
    root = configured_folder()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PkpdError(f"cannot create the kernel cache folder {root} ({exc.strerror}); set "
                        "PKPD_CACHE_DIR to a writable folder") from None
    reason = folder_untrusted(root)
    if reason is not None:
        with _LOCK:
            private = _PRIVATE.get(str(root))
            if private is None:
                private = _PRIVATE[str(root)] = Path(tempfile.mkdtemp(prefix="pkpd-cache-"))
                atexit.register(shutil.rmtree, private, True)
        warn_untrusted(root, reason.replace(f"its folder {root} is", "it is") +
                       f"; this process uses {private}")
        root = private
    path = root / sub if sub else root
    path.mkdir(parents=True, exist_ok=True)
    return path


def _header(magic: bytes, key: str) -> bytes:
    return magic + key.encode() + b"\n"


def read_entry(path: Path, magic: bytes, key: str) -> bytes | None:
    """The payload of the entry ``path`` written by :func:`write_entry` for ``key``.

    None when it is absent, unreadable, untrusted (then warned), or records another key.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError:   # e.g. a symbolic link (O_NOFOLLOW) or no permission
        reason = untrusted(path)
        if reason is not None:
            warn_untrusted(path, reason)
        return None
    with os.fdopen(fd, "rb") as fh:
        reason = untrusted(path, os.fstat(fd))
        if reason is not None:
            warn_untrusted(path, reason)
            return None
        try:
            data = fh.read()
        except OSError:
            return None
    head = _header(magic, key)
    return data[len(head):] if data.startswith(head) else None


def write_entry(path: Path, magic: bytes, key: str, payload: bytes) -> bool:
    """Store ``payload`` for ``key`` at ``path`` atomically, mode 0600; False (nothing
    stored) when the folder cannot be written."""
    return write_file(path, _header(magic, key) + payload)


def write_file(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically, mode 0600; False when that failed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return False
    return True
