"""The exception hierarchy of pkpd.

Every error raised on bad input is a :class:`PkpdError`; its message names the offending item
(a model equation, a dataset row and column, a regimen phrase) and says what would be valid.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "EstimationError",
    "ModelError",
    "PkpdError",
    "RegimenError",
    "SolverError",
    "UnitError",
]


class PkpdError(Exception):
    """Base class of every error raised by pkpd."""


class ModelError(PkpdError):
    """A model declaration is invalid (undefined symbol, missing ODE, inconsistent units, ...)."""


class RegimenError(PkpdError):
    """A dosing regimen or dose is invalid (malformed text, negative or NaN amount, ...)."""


class DataError(PkpdError):
    """A dataset is malformed; the message names the row number, the column and the reason."""


class UnitError(PkpdError):
    """A quantity has the wrong dimension or an unknown unit."""


class SolverError(PkpdError):
    """The ODE solver failed (step-size underflow, non-finite state, too many steps).

    Attributes
    ----------
    subject : object
        Identifier of the subject whose integration failed.
    time : float
        Model time at which the failure occurred.
    state : str or None
        Name of the offending state, where one can be named.
    """

    def __init__(self, message: str, *, subject: object = None, time: float = float("nan"),
                 state: str | None = None) -> None:
        super().__init__(message)
        self.subject = subject
        self.time = time
        self.state = state


class EstimationError(PkpdError):
    """A parameter estimation failed or was given inconsistent input."""
