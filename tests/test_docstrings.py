"""Every ``>>>`` example in the docstrings of :mod:`pkpd` runs here, so none of them rots.

One test per module that holds an example: the module is imported with :mod:`importlib`, its
examples are found with :class:`doctest.DocTestFinder` and run with ``ELLIPSIS`` and
``NORMALIZE_WHITESPACE``; a failure names the module, the object and the line. Examples that
need the shared data or take long are marked ``# doctest: +SKIP`` in the docstring, with the
reason in the text next to them.

A plain test module (rather than ``pytest --doctest-modules``) keeps the default ``testpaths``
and lets every example run in a scratch folder with a non-interactive plotting backend.
Importing a module compiles no model kernel (checked below in a fresh process), so the cost of
the examples is that of the few small models they compile (``one_cmt``, ``two_cmt_oral``,
``theophylline_1cmt``), which the rest of the suite compiles too.
"""

from __future__ import annotations

import doctest
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pkpd"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules_with_examples() -> list[str]:
    """Modules of pkpd whose source holds a ``>>>`` prompt (a cheap scan: nothing imported)."""
    return sorted(_module_name(p) for p in PACKAGE.rglob("*.py")
                  if ">>>" in p.read_text(encoding="utf-8"))


def _run_examples(name: str) -> tuple[int, int, str]:
    """Run the examples of module ``name``: (examples tried, failed, doctest's report)."""
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS, verbose=False)
    report: list[str] = []
    tried = failed = 0
    for test in sorted(finder.find(module, name), key=lambda t: t.lineno or 0):
        result = runner.run(test, out=report.append, clear_globs=True)
        tried += result.attempted
        failed += result.failed
    return tried, failed, "".join(report)


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run an example in an empty folder (files it writes stay out of the repository)."""
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", _modules_with_examples())
def test_examples_run(name: str, scratch: Path) -> None:
    tried, failed, report = _run_examples(name)
    if failed:
        pytest.fail(f"{failed} of {tried} docstring examples of {name} failed:\n{report}",
                    pytrace=False)
    if tried == 0:
        pytest.skip(f"{name}: every example is marked +SKIP (see the reason in its docstring)")


def test_scan_finds_known_examples() -> None:
    """The cheap text scan selects modules known to hold examples (the list cannot be empty)."""
    names = _modules_with_examples()
    assert {"pkpd.simulation", "pkpd.results", "pkpd.covariates"} <= set(names)
    assert all(n.startswith("pkpd") for n in names)


IMPORT_ALL = """
import importlib, json, pkgutil
import pkpd
from numba.core.registry import CPUDispatcher
modules = [importlib.import_module(m.name) for m in pkgutil.walk_packages(pkpd.__path__, "pkpd.")]
compiled = sorted({f"{mod.__name__}.{key}" for mod in modules for key, value in vars(mod).items()
                   if isinstance(value, CPUDispatcher) and value.signatures
                   and value.py_func.__module__ == mod.__name__})
print(json.dumps({"modules": len(modules), "compiled": compiled}))
"""


def test_importing_every_module_compiles_no_model_kernel(tmp_path: Path) -> None:
    """Importing all of pkpd (what the examples above do) compiles only the eagerly typed
    kernel trampoline of :mod:`pkpd._abi`; every other numba function compiles on first call."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PKPD_CACHE_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", IMPORT_ALL], env=env, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["modules"] > 50
    assert result["compiled"] == ["pkpd._abi.call_kernel"]
