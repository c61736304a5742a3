"""Helpers of the command-line tests: run ``pkpd.cli.main`` and capture what it prints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pkpd.cli import main
from tests.conftest import shared_path


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """``cli("simulate", "two_cmt_oral", ...)``: the exit code and the captured output."""

    def run(*argv: object) -> Run:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def theophylline() -> Path:
    """The shared theophylline dataset (12 subjects, one oral dose each)."""
    return shared_path("data", "theophylline.csv")


def table_rows(out: str, header_start: str, width: int) -> list[list[float]]:
    """The numeric rows printed under the line starting with ``header_start`` (stripped), each
    with ``width`` numbers; stops at the first line that is not such a row."""
    lines = out.splitlines()
    start = next(k for k, line in enumerate(lines) if line.strip().startswith(header_start))
    rows = []
    for line in lines[start + 1:]:
        parts = line.split()
        try:
            values = [float(p) for p in parts]
        except ValueError:
            break
        if len(values) != width:
            break
        rows.append(values)
    return rows
