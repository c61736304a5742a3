"""The qualification report: a dated Markdown file and a JSON file side by side.

Both are named ``qualification-YYYYMMDDTHHMMSSZ`` (the UTC start of the run) and written
atomically: each goes to a temporary file in the output folder first, then replaces its target
(:func:`os.replace`), so a reader never sees half a report.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ._registry import GROUPS, CheckResult

__all__ = ["QualificationReport", "verdict_of"]

Verdict = Literal["PASSED", "FAILED", "INCOMPLETE"]

MEANING = {
    "PASSED": "every check ran and passed",
    "FAILED": "at least one check failed",
    "INCOMPLETE": "no check failed, but not every check ran: this is not a complete "
                  "qualification",
}


def verdict_of(results: Sequence[CheckResult]) -> Verdict:
    """FAILED if a check failed, else INCOMPLETE if one did not run (or none ran), else PASSED."""
    if any(r.status == "failed" for r in results):
        return "FAILED"
    if not results or any(r.status == "not run" for r in results):
        return "INCOMPLETE"
    return "PASSED"


@dataclass(frozen=True)
class QualificationReport:
    """The results of a qualification run and where its report was written.

    Attributes
    ----------
    verdict : {"PASSED", "FAILED", "INCOMPLETE"}
    results : tuple of CheckResult
        One per registered check, in report order.
    started : str
        UTC start of the run, ISO 8601.
    environment : dict
        pkpd's version and location, the dependencies' versions, platform, CPUs.
    data : str or None
        The data folder used.
    seconds : float
        Runtime of the whole run.
    markdown, json : Path or None
        The report files (None before :meth:`write`).
    """

    verdict: Verdict
    results: tuple[CheckResult, ...]
    started: str
    environment: dict[str, Any]
    data: str | None
    seconds: float
    markdown: Path | None = None
    json: Path | None = None
    groups: tuple[str, ...] = field(default=GROUPS)

    @property
    def failures(self) -> list[CheckResult]:
        """The checks that failed."""
        return [r for r in self.results if r.status == "failed"]

    @property
    def verdict_line(self) -> str:
        """One line: the verdict, the counts and what the verdict means."""
        counts = {s: sum(r.status == s for r in self.results)
                  for s in ("passed", "failed", "not run")}
        return (f"{self.verdict}: {counts['passed']} passed, {counts['failed']} failed, "
                f"{counts['not run']} not run of {len(self.results)} checks "
                f"({MEANING[self.verdict]})")

    def as_dict(self) -> dict[str, Any]:
        """The JSON document."""
        return {"verdict": self.verdict, "verdict_line": self.verdict_line,
                "started_utc": self.started, "seconds": self.seconds, "data": self.data,
                "groups": list(self.groups), "environment": self.environment,
                "checks": [r.as_dict() for r in self.results]}

    def to_markdown(self) -> str:
        """The Markdown report."""
        env = self.environment
        lines = [f"# pkpd installation and operational qualification: {self.verdict}", "",
                 f"**{self.verdict_line}.**", "",
                 "| | |", "| --- | --- |",
                 f"| verdict | {self.verdict} |",
                 f"| date (UTC) | {self.started} |",
                 f"| pkpd | {env['pkpd']} (distribution {env['distribution']}) |",
                 f"| installed at | `{env['location']}` |",
                 f"| Python | {env['versions'].get('python', '')} (`{env['executable']}`) |",
                 f"| machine | {env['machine']}, {env['platform']}, {env['cpus']} CPUs |",
                 "| versions | " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()
                                           if k != "python") + " |",
                 f"| data folder | {'`' + self.data + '`' if self.data else 'none given'} |",
                 f"| runtime | {self.seconds:.1f} s |", ""]
        for group in GROUPS:
            rows = [r for r in self.results if r.group == group]
            if not rows:
                continue
            lines += [f"## {group}", "",
                      "| check | compares | figure | value | tolerance | result | time (s) |",
                      "| --- | --- | --- | --- | --- | --- | --- |"]
            lines += [f"| {_cell(r.name)} | {_cell(r.compares)} | {_cell(r.figure or '-')} | "
                      f"{_number(r.value)} | {_number(r.tolerance)} | "
                      f"{_status(r)} | {r.seconds:.2f} |" for r in rows]
            lines.append("")
        lines += ["## Failures", ""]
        lines += ([f"- **{r.name}** ({r.group}): {r.message}" for r in self.failures]
                  or ["None."])
        skipped = [r for r in self.results if r.status == "not run"]
        if skipped:
            lines += ["", "## Not run", ""]
            lines += [f"- **{r.name}** ({r.group}): {r.message}" for r in skipped]
        lines += ["", "## Details", ""]
        lines += [f"- **{r.name}**: {r.message}" for r in self.results
                  if r.status == "passed" and r.message]
        return "\n".join(lines) + "\n"

    def write(self, out: str | os.PathLike[str]) -> QualificationReport:
        """Write ``qualification-<UTC stamp>.md`` and ``.json`` into ``out`` (created if
        missing); returns the report with their paths."""
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        stem = "qualification-" + self.started.replace("-", "").replace(":", "")[:15] + "Z"
        md, js = folder / f"{stem}.md", folder / f"{stem}.json"
        done = QualificationReport(self.verdict, self.results, self.started, self.environment,
                                   self.data, self.seconds, md, js, self.groups)
        _atomic(js, json.dumps(done.as_dict(), indent=2) + "\n")
        _atomic(md, done.to_markdown())
        return done


def _atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if math.isfinite(value) else str(value)


def _status(r: CheckResult) -> str:
    return {"passed": "passed", "failed": "**FAILED**", "not run": "not run"}[r.status]
