"""Installation checks: what is installed, where, and that it loads.

The versions come from the installed distributions' metadata (:mod:`pkpd._provenance`); the
model library is loaded (parsed and checked, not compiled) model by model.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ._registry import Check, CheckFailed, Context, Measured, register

MIN_PYTHON = (3, 11)


@functools.cache
def distribution() -> str | None:
    """The name of the installed distribution that provides the ``pkpd`` package, if any."""
    names = importlib.metadata.packages_distributions().get("pkpd", [])
    return names[0] if names else None


def pkpd_version() -> str:
    """The installed distribution's version (``pkpd.__version__`` if it has no metadata)."""
    name = distribution()
    if name is not None:
        return importlib.metadata.version(name)
    from .. import __version__

    return __version__


def environment() -> dict[str, Any]:
    """pkpd's version and location, the dependencies' versions, Python, platform, CPUs."""
    from .. import _provenance

    found = _provenance.versions()
    return {"pkpd": pkpd_version(), "distribution": distribution() or "none (not installed)",
            "location": str(Path(__file__).resolve().parents[1]),
            "versions": {k.removeprefix("version_"): v for k, v in found.items()
                         if k.startswith("version_")},
            "platform": found["platform"],
            "machine": os.uname().nodename if hasattr(os, "uname") else "",
            "cpus": os.cpu_count() or 0,
            "executable": sys.executable}


def _import(ctx: Context) -> Measured:
    code = "import pkpd, sys; sys.stdout.write(pkpd.__version__ + ' ' + pkpd.__file__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tempfile.gettempdir())
    if done.returncode != 0:
        raise CheckFailed(f"`import pkpd` failed in a new process: {done.stderr.strip()[-500:]}")
    version, _, where = done.stdout.partition(" ")
    here = str(Path(__file__).resolve().parents[1] / "__init__.py")
    if Path(where).resolve() != Path(here):
        raise CheckFailed(f"a new process imports pkpd from {where}, not from {here}")
    return Measured(None, f"pkpd {version} from {Path(where).parent}")


def _versions(ctx: Context) -> Measured:
    env = environment()
    missing = [k for k, v in env["versions"].items() if v == "not installed"]
    if missing:
        raise CheckFailed(f"not installed: {', '.join(missing)}")
    from .. import __version__

    if env["pkpd"] != __version__:
        raise CheckFailed(f"installed metadata says pkpd {env['pkpd']} but the package is "
                          f"{__version__}: reinstall it")
    return Measured(None, ", ".join(f"{k} {v}" for k, v in env["versions"].items()))


def _python(ctx: Context) -> Measured:
    env = environment()
    if sys.version_info[:2] < MIN_PYTHON:
        raise CheckFailed(f"Python {env['versions']['python']} is older than "
                          f"{'.'.join(map(str, MIN_PYTHON))}")
    return Measured(None, f"Python {env['versions']['python']} on {env['platform']}, "
                          f"{env['cpus']} CPUs")


def _cache(ctx: Context) -> Measured:
    from ..codegen._cache import cache_dir

    folder = cache_dir()
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".qualify-", delete=True) as fh:
            fh.write(b"ok")
            fh.flush()
    except OSError as exc:
        raise CheckFailed(f"the kernel cache folder {folder} is not writable ({exc}); set "
                          "PKPD_CACHE_DIR to a writable folder") from None
    numba_dir = os.environ.get("NUMBA_CACHE_DIR", "numba's default, next to the kernels")
    return Measured(None, f"{folder} (NUMBA_CACHE_DIR: {numba_dir})")


def _library(ctx: Context) -> Measured:
    from ..library import list_models, load_model

    names = list_models()
    failed = []
    for name in names:
        try:
            load_model(name)
        except Exception as exc:
            failed.append(f"{name} ({type(exc).__name__}: {exc})")
    if failed or not names:
        raise CheckFailed(f"{len(failed)} of {len(names)} bundled models do not load: "
                          + "; ".join(failed))
    return Measured(None, f"all {len(names)} bundled models load")


register(Check("import pkpd", "installation", "`import pkpd` in a new Python process", "",
               None, _import))
register(Check("versions", "installation",
               "installed versions of pkpd and its dependencies (distribution metadata)", "",
               None, _versions))
register(Check("python and platform", "installation",
               f"Python >= {'.'.join(map(str, MIN_PYTHON))}, platform, CPUs", "", None, _python))
register(Check("kernel cache writable", "installation",
               "a file can be written to the kernel cache folder", "", None, _cache))
register(Check("model library loads", "installation",
               "every bundled model loads (parsed and checked, not compiled)", "", None,
               _library))
