"""The README's cohort example runs and gives sensible numbers (smaller cohort)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np


def test_readme_cohort_example(monkeypatch):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"```python\n(import pkpd\nfrom pkpd.results import exposure.*?)```", text,
                      re.S)
    assert block, "the cohort example is missing from README.md"
    code = block.group(1).replace("sample(100_000", "sample(2_000")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    band = scope["band"]
    assert np.all(band.sel(quantile=0.05) <= band.sel(quantile=0.95))
    assert 0.0 < float(scope["pta"]) < 1.0
    assert scope["ds"].sizes["id"] == 2000
