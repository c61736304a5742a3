"""The report writer: dated names, atomic writes, Markdown and JSON from the same results."""

from __future__ import annotations

import json
import os

import pytest

from pkpd.qualification import CheckResult, QualificationReport, verdict_of

ENV = {"pkpd": "9.9", "distribution": "pkpd-twin", "location": "/site/pkpd",
       "versions": {"numpy": "2.0", "python": "3.11.7"}, "platform": "Linux",
       "machine": "m", "cpus": 2, "executable": "/bin/python"}


def _report(*statuses: str) -> QualificationReport:
    results = tuple(
        CheckResult(f"check {i}", "reference", "x | y against z", "max |error|", 1e-9 * i,
                    1e-8, s, f"message {i}", 0.5)  # type: ignore[arg-type]
        for i, s in enumerate(statuses))
    return QualificationReport(verdict_of(results), results, "2026-01-02T03:04:05+00:00", ENV,
                               None, 1.5)


def test_names_content_and_no_leftovers(tmp_path) -> None:
    done = _report("passed", "failed", "not run").write(tmp_path / "new")
    assert done.markdown.name == "qualification-20260102T030405Z.md"
    assert done.json.name == "qualification-20260102T030405Z.json"
    assert sorted(os.listdir(tmp_path / "new")) == [done.json.name, done.markdown.name]
    doc = json.loads(done.json.read_text())
    assert doc["verdict"] == "FAILED" and len(doc["checks"]) == 3
    assert doc["checks"][1] == {"name": "check 1", "group": "reference",
                                "compares": "x | y against z", "figure": "max |error|",
                                "value": 1e-9, "tolerance": 1e-8, "status": "failed",
                                "message": "message 1", "seconds": 0.5}
    text = done.markdown.read_text()
    assert text.startswith("# pkpd installation and operational qualification: FAILED")
    assert "| check 1 | x \\| y against z | max \\|error\\| | 1e-09 | 1e-08 | **FAILED** |" \
           in text
    assert "- **check 1** (reference): message 1" in text[text.index("## Failures"):]
    assert "- **check 2** (reference): message 2" in text[text.index("## Not run"):]
    assert "| pkpd | 9.9 (distribution pkpd-twin) |" in text and "numpy 2.0" in text


def test_a_failed_write_leaves_the_old_report_and_no_temporary_file(tmp_path, monkeypatch):
    first = _report("passed").write(tmp_path)
    before = first.markdown.read_text()

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        _report("failed").write(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [first.json.name, first.markdown.name]
    assert first.markdown.read_text() == before


def test_verdict_line_counts() -> None:
    assert _report("passed", "not run").verdict_line.startswith(
        "INCOMPLETE: 1 passed, 0 failed, 1 not run of 2 checks")
