"""Atomic file writes: a file at its target path is either the old one or the complete new one.

Every single-file writer of pkpd writes to a temporary file in the target's folder (same
filesystem, so the final rename is atomic), flushes it to disk and then ``os.replace``-s it onto
the target. A writer that fails midway (an exception, a full disk) leaves the target untouched
and removes its temporary file; a process killed midway leaves at most a stray ``.<name>.*.tmp``
file next to the target, never a truncated target.

* :func:`atomic_path` -- context manager yielding the temporary :class:`~pathlib.Path` to write
  to (for writers that take a path: ``Dataset.to_netcdf``, ``Figure.savefig``, ``np.savez``);
* :func:`write_text_atomic`, :func:`write_bytes_atomic` -- the whole content at once.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "write_bytes_atomic", "write_text_atomic"]

# mkstemp creates files readable by their owner only; a written file gets the usual
# permissions (0o666 less the umask), as with open(path, "w"). The umask is read once.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _fsync_file(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - a writer that left no file (or a directory)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - filesystems without fsync
        pass
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be opened on Windows
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path`` atomically.

    The temporary file is created empty (so that writers that open it by name may overwrite
    it) with the target's suffix kept last (``.report.x1y2.tmp.html``), since some writers
    choose the format by suffix. On an exception the temporary file is removed, the target is
    left as it was and the exception propagates.

    Parameters
    ----------
    path : str or os.PathLike
        The final file. Its folder must exist.

    Yields
    ------
    pathlib.Path
        The temporary file to write.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "out.txt") as tmp:
    ...     _ = tmp.write_text("complete")
    >>> (folder / "out.txt").read_text()
    'complete'
    >>> try:
    ...     with atomic_path(folder / "out.txt") as tmp:
    ...         _ = tmp.write_text("half")
    ...         raise OSError("disk full")
    ... except OSError:
    ...     pass
    >>> (folder / "out.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('complete', ['out.txt'])
    """
    target = Path(os.fspath(path))
    folder = target.parent if str(target.parent) else Path(".")
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}",
                                dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_UMASK
        os.chmod(tmp, mode)
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(folder)


def write_text_atomic(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; return the path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> write_text_atomic(target, "one\\ntwo\\n").read_text()
    'one\\ntwo\\n'
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(os.fspath(path))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "blob.bin"
    >>> write_bytes_atomic(target, b"\\x00\\x01").read_bytes()
    b'\\x00\\x01'
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(os.fspath(path))
