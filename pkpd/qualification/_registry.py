"""The check registry: what a qualification check is, what its result is, how it is run.

A :class:`Check` compares something computed by the installed package with an independent
reference and measures one figure (for example the largest relative error); it passes when the
figure is finite and at most its tolerance. Its function takes a :class:`Context` and returns a
:class:`Measured`; it raises :class:`NotRun` when what it needs is absent (the shared data
folder) and :class:`CheckFailed` for a failure that is not a number (a model that does not
load). Any other exception is a failure too, reported with its type and message.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import PkpdError

__all__ = ["GROUPS", "Check", "CheckFailed", "CheckResult", "Context", "Measured", "NotRun",
           "Status", "register", "registered", "run_check", "unregister"]

#: The groups, in the order a report lists them.
GROUPS: tuple[str, ...] = ("installation", "reference", "conformance", "estimation")

Status = Literal["passed", "failed", "not run"]


class NotRun(Exception):
    """Raised by a check that cannot run here (its message is the reason)."""


class CheckFailed(Exception):
    """Raised by a check that failed without a figure (its message says why)."""


@dataclass(frozen=True, slots=True)
class Measured:
    """What a check measured: its figure (``None`` for a check without one) and details."""

    value: float | None
    detail: str = ""


@dataclass
class Context:
    """What the checks of one run share: the data folder and the models compiled so far."""

    data: Path | None = None
    quick: bool = False
    _compiled: dict[str, Any] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict)

    def compiled(self, name: str) -> Any:
        """The bundled model ``name``, compiled once per run."""
        if name not in self._compiled:
            from ..codegen import compile_model
            from ..library import load_model

            self._compiled[name] = compile_model(load_model(name))
        return self._compiled[name]

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, run once per run and key (work that several checks share)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def shared(self, *parts: str) -> Path:
        """A path inside the data folder; :class:`NotRun` when the folder or the path is absent."""
        if self.data is None:
            raise NotRun("no data folder: give --data DIR (or set PKPD_SHARED_DIR) to the folder "
                         "holding conformance/ and data/")
        path = self.data.joinpath(*parts)
        if not path.exists():
            raise NotRun(f"{path} not found in the data folder {self.data}")
        return path


@dataclass(frozen=True, slots=True)
class Check:
    """One qualification check.

    Attributes
    ----------
    name : str
        Unique, e.g. ``"two_cmt oral"``.
    group : str
        One of :data:`GROUPS`.
    compares : str
        What is compared with what (the reference named).
    figure : str
        What is measured, e.g. ``"max relative error"``; empty for a check without a figure.
    tolerance : float or None
        The largest figure that passes (``None``: no figure, the check passes unless it raises).
    run : callable
        ``run(context) -> Measured``.
    slow : bool
        Left out by a quick run (``pkpd validate --quick``).
    """

    name: str
    group: str
    compares: str
    figure: str
    tolerance: float | None
    run: Callable[[Context], Measured]
    slow: bool = False


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check (``status``: ``"passed"``, ``"failed"`` or ``"not run"``)."""

    name: str
    group: str
    compares: str
    figure: str
    value: float | None
    tolerance: float | None
    status: Status
    message: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (a non-finite figure as a string)."""
        value: Any = self.value
        if value is not None and not math.isfinite(value):
            value = str(value)
        return {"name": self.name, "group": self.group, "compares": self.compares,
                "figure": self.figure, "value": value, "tolerance": self.tolerance,
                "status": self.status, "message": self.message, "seconds": self.seconds}


_REGISTRY: dict[str, Check] = {}


def register(check: Check) -> Check:
    """Add ``check`` to the registry (its name must be new, its group one of :data:`GROUPS`)."""
    if check.group not in GROUPS:
        raise PkpdError(f"check {check.name!r}: group {check.group!r} is not one of {GROUPS}")
    if check.name in _REGISTRY:
        raise PkpdError(f"check {check.name!r} is registered already")
    _REGISTRY[check.name] = check
    return check


def unregister(name: str) -> None:
    """Remove the check ``name`` from the registry."""
    if _REGISTRY.pop(name, None) is None:
        raise PkpdError(f"no check named {name!r} is registered")


def registered(groups: Iterable[str] | None = None) -> list[Check]:
    """The registered checks (of ``groups``), in the order of :data:`GROUPS` then registration."""
    wanted = GROUPS if groups is None else tuple(groups)
    unknown = sorted(set(wanted) - set(GROUPS))
    if unknown:
        raise PkpdError(f"unknown check group(s) {unknown}: choose from {list(GROUPS)}")
    return [c for g in GROUPS if g in wanted for c in _REGISTRY.values() if c.group == g]


def run_check(check: Check, context: Context) -> CheckResult:
    """Run one check, catching every outcome; never raises (but KeyboardInterrupt)."""
    start = time.perf_counter()
    value: float | None = None
    try:
        measured = check.run(context)
        value, detail = measured.value, measured.detail
        if check.tolerance is None:
            status: Status = "passed"
            message = detail
        elif value is None or not math.isfinite(value):
            status, message = "failed", f"the figure is not a finite number ({value}). {detail}"
        elif value <= check.tolerance:
            status, message = "passed", detail
        else:
            status = "failed"
            message = (f"{check.figure} {value:.3g} exceeds the tolerance "
                       f"{check.tolerance:.3g}. {detail}").strip()
    except NotRun as exc:
        status, message = "not run", str(exc)
    except CheckFailed as exc:
        status, message = "failed", str(exc)
    except Exception as exc:
        status, message = "failed", f"{type(exc).__name__}: {exc}"
    return CheckResult(check.name, check.group, check.compares, check.figure, value,
                       check.tolerance, status, message.strip(),
                       round(time.perf_counter() - start, 3))


def data_folder(data: str | os.PathLike[str] | None) -> Path | None:
    """``data``, else ``$PKPD_SHARED_DIR``, else None."""
    if data is not None:
        return Path(data)
    env = os.environ.get("PKPD_SHARED_DIR")
    return Path(env) if env else None
