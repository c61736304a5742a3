"""The compiled engine for one solver, compiled or loaded from numba's cache on first use.

:func:`pkpd.engine._loop.run` has no eager signature: a process compiles (or loads) only the
variant it needs, exact stepping for linear models or the ODE solver for the others, so the
first simulation of a linear model never waits for the ODE integrator to compile, nor one
without steady-state doses for the steady-state solver, nor a model without forward
sensitivities for their jumps at doses.

numba decides whether a cached function is stale from its own source file only, yet the
cached ``run`` contains the code of every engine module it calls. Before anything of the
engine is loaded, a digest of all engine sources is compared with the one stored next to
numba's cache files; if they differ, the engine's cache files are removed (an edited
``_exact.py`` would otherwise keep running as it was when ``_loop.py`` was last compiled).
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from numba.core.errors import NumbaExperimentalFeatureWarning

from . import _loop

_ENTRIES: dict[tuple[bool, bool, bool], Callable[..., Any]] = {}
_LOCK = threading.Lock()
_SOURCES = ("_advance", "_common", "_dopri5", "_exact", "_linalg", "_loop", "_ode", "_physical",
            "_queue", "_rosenbrock", "_sens", "_steady")


def _digest() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in _SOURCES:
        h.update((here / f"{name}.py").read_bytes())
    h.update((here.parent / "_abi.py").read_bytes())
    return h.hexdigest()


def _check_cache() -> None:
    """Drop the engine's cached machine code if any engine source changed since it was built."""
    try:
        cache_dir = Path(_loop.run._cache._cache_path)
    except AttributeError:  # pragma: no cover - caching unavailable
        return
    stamp = cache_dir / "pkpd-engine.stamp"
    digest = _digest()
    try:
        if stamp.read_text() == digest:
            return
    except OSError:
        pass
    mods = tuple(f"{name}." for name in _SOURCES)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for f in cache_dir.iterdir():
            if f.suffix in (".nbi", ".nbc") and f.name.startswith(mods):
                f.unlink(missing_ok=True)
        tmp = stamp.with_name(f"{stamp.name}.{threading.get_ident()}.tmp")
        tmp.write_text(digest)
        tmp.replace(stamp)
    except OSError:  # pragma: no cover - read-only cache: numba falls back to compiling
        pass


def compiled_run(exact: bool, steady: bool, sens: bool) -> Callable[..., Any]:
    """The engine's entry point for exact stepping or the ODE solver, with or without SS
    records, with or without forward sensitivities.

    The returned callable takes the arguments of :func:`pkpd.engine._loop.run` (``solver``
    None for exact stepping, 0 otherwise; ``steady`` 0 if any record has SS, else None;
    ``sens`` 0 for a model with sensitivities, else None) without numba's per-call dispatch
    on argument types.
    """
    key = (exact, steady, sens)
    entry = _ENTRIES.get(key)
    if entry is None:
        with _LOCK:
            entry = _ENTRIES.get(key)
            if entry is None:
                if not _ENTRIES:
                    _check_cache()
                sig = _loop.run_signature(exact, steady, sens)
                with warnings.catch_warnings():
                    # the kernels are first-class functions, a numba feature it still labels
                    # experimental; the warning says nothing to a user of this package
                    warnings.simplefilter("ignore", NumbaExperimentalFeatureWarning)
                    _loop.run.compile(sig)
                entry = _ENTRIES[key] = _loop.run.overloads[sig.args].entry_point
    return entry
