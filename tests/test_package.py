"""Package-level promises: light import, lint-clean sources, the README's commands are the
ones that run (the command line itself is tested in tests/cli/)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pkpd

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_light():
    code = ("import sys, json, pkpd; print(json.dumps(sorted(m for m in "
            "('sympy', 'numba', 'xarray', 'matplotlib', 'pandas', 'scipy') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert json.loads(out.stdout) == []


def test_public_names_resolve():
    for name in pkpd.__all__:
        assert getattr(pkpd, name) is not None, name


def test_sources_are_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.fail("ruff is not installed: it is part of the test extras")
    proc = subprocess.run([ruff, "check", "--output-format", "concise", "."], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_readme_commands_are_the_ones_that_run():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = "python -m pytest"
    assert f"```bash\n{test_cmd}\n```" in readme
    assert ci.rstrip().splitlines()[-1] == test_cmd
    assert re.search(r"pkpd simulate two_cmt_oral --regimen \"500 mg PO q12h x 14\"", readme)


def test_submodules_are_reachable_from_the_package():
    code = ("import pkpd; print(pkpd.dosing.optimise.__name__, pkpd.results.exposure.__name__, "
            "pkpd.variability.sample_etas.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.split() == ["optimise", "exposure", "sample_etas"]
