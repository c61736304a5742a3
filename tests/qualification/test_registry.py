"""The check registry: every outcome of a check becomes a result, and the verdict follows."""

from __future__ import annotations

import math

import pytest

from pkpd.errors import PkpdError
from pkpd.qualification import (
    GROUPS,
    Check,
    CheckFailed,
    CheckResult,
    Context,
    Measured,
    NotRun,
    register,
    registered,
    run_check,
    unregister,
    verdict_of,
)


def _check(run, tolerance: float | None = 1e-3, name: str = "probe") -> Check:
    return Check(name, "reference", "a probe", "error", tolerance, run)


@pytest.mark.parametrize(("run", "status", "words"), [
    (lambda ctx: Measured(5e-4, "fine"), "passed", "fine"),
    (lambda ctx: Measured(1e-3), "passed", ""),          # the tolerance itself passes
    (lambda ctx: Measured(2e-3, "too far"), "failed",
     "error 0.002 exceeds the tolerance 0.001. too far"),
    (lambda ctx: Measured(math.nan), "failed", "not a finite number (nan)"),
    (lambda ctx: Measured(None), "failed", "not a finite number (None)"),
    (lambda ctx: (_ for _ in ()).throw(NotRun("no data here")), "not run", "no data here"),
    (lambda ctx: (_ for _ in ()).throw(CheckFailed("model x broke")), "failed", "model x broke"),
    (lambda ctx: 1 / 0, "failed", "ZeroDivisionError: division by zero"),
])
def test_every_outcome_becomes_a_result(run, status: str, words: str) -> None:
    result = run_check(_check(run), Context())
    assert result.status == status and words in result.message
    assert result.seconds >= 0 and result.group == "reference" and result.tolerance == 1e-3


def test_a_check_without_a_figure_passes_unless_it_raises() -> None:
    assert run_check(_check(lambda ctx: Measured(None, "ok"), None), Context()).status == "passed"


def test_non_finite_figures_are_written_as_text() -> None:
    result = run_check(_check(lambda ctx: Measured(math.inf)), Context())
    assert result.as_dict()["value"] == "inf" and result.status == "failed"


def _result(status: str) -> CheckResult:
    return CheckResult("c", "reference", "", "", None, None, status, "", 0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("statuses", "verdict"), [
    (["passed", "passed"], "PASSED"),
    (["passed", "not run"], "INCOMPLETE"),
    (["passed", "not run", "failed"], "FAILED"),
    ([], "INCOMPLETE"),
])
def test_verdict(statuses: list[str], verdict: str) -> None:
    assert verdict_of([_result(s) for s in statuses]) == verdict


def test_registry_order_names_and_groups() -> None:
    checks = registered()
    assert [c.group for c in checks] == sorted((c.group for c in checks), key=GROUPS.index)
    assert len({c.name for c in checks}) == len(checks)
    counts = {g: sum(c.group == g for c in checks) for g in GROUPS}
    assert counts == {"installation": 5, "reference": 15, "conformance": 30, "estimation": 2}
    # every reference check states its independent reference and a tolerance
    assert all(c.tolerance is not None and "against" in c.compares for c in checks
               if c.group != "installation")


def test_register_rejects_duplicates_and_unknown_groups() -> None:
    check = _check(lambda ctx: Measured(0.0), name="one_cmt oral")
    with pytest.raises(PkpdError, match="'one_cmt oral' is registered already"):
        register(check)
    with pytest.raises(PkpdError, match="group 'speed' is not one of"):
        register(Check("x", "speed", "", "", None, lambda ctx: Measured(None)))
    with pytest.raises(PkpdError, match="unknown check group"):
        registered(["speed"])
    with pytest.raises(PkpdError, match="no check named 'nothing'"):
        unregister("nothing")


def test_context_without_data_says_where_to_give_it(tmp_path) -> None:
    with pytest.raises(NotRun, match="--data DIR"):
        Context().shared("conformance")
    with pytest.raises(NotRun, match="not found in the data folder"):
        Context(data=tmp_path).shared("conformance", "nmtests")
    calls = []
    ctx = Context()
    assert ctx.memo("k", lambda: calls.append(1) or 7) == 7 == ctx.memo("k", lambda: 8)
    assert calls == [1]
