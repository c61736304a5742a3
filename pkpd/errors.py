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
    "PkpdWarning",
    "RegimenError",
    "SolverError",
    "UnitError",
]


class PkpdError(Exception):
    """Base class of every error raised by pkpd.

    Examples
    --------
    Catch every input error of pkpd with one clause:

    >>> import pkpd
    >>> try:
    ...     pkpd.Dose("-5 mg", "PO")
    ... except pkpd.PkpdError as exc:
    ...     print(type(exc).__name__, "-", exc)
    RegimenError - dose amount '-5 mg': the amount must be positive
    """


class ModelError(PkpdError):
    """A model declaration is invalid (undefined symbol, missing ODE, inconsistent units, ...).

    Examples
    --------
    >>> import pkpd
    >>> mb = pkpd.ModelBuilder("m")
    >>> mb.parameters(TVCL="5 L/h")
    (TVCL,)
    >>> mb.build()
    Traceback (most recent call last):
    ...
    pkpd.errors.ModelError: model 'm' declares no state
    """


class RegimenError(PkpdError):
    """A dosing regimen or dose is invalid (malformed text, negative or NaN amount, ...).

    Examples
    --------
    >>> import pkpd
    >>> pkpd.Regimen.parse("500 mg PO q12h")
    Traceback (most recent call last):
    ...
    pkpd.errors.RegimenError: a repeated dose needs how many doses ('x 14') or for how long ...
      in the part starting at position 1 of '500 mg PO q12h'
    """


class DataError(PkpdError):
    """A dataset is malformed; the message names the row number, the column and the reason.

    Examples
    --------
    >>> from pkpd.covariates import is_female
    >>> is_female("X")
    Traceback (most recent call last):
    ...
    pkpd.errors.DataError: sex = 'X' is not valid: use 'F' or 'M' (or 1 = male, 0 = female)
    """


class UnitError(PkpdError):
    """A quantity has the wrong dimension or an unknown unit.

    Examples
    --------
    >>> import pkpd
    >>> pkpd.Dose("500 h", "PO")
    Traceback (most recent call last):
    ...
    pkpd.errors.UnitError: dose amount '500 h': 500.0 h has dimension [time]; expected an amount ...
    """


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

    Examples
    --------
    >>> err = SolverError("step size underflow", subject=3, time=12.5, state="central")
    >>> err.subject, err.time, err.state
    (3, 12.5, 'central')
    >>> isinstance(err, PkpdError)
    True
    """

    def __init__(self, message: str, *, subject: object = None, time: float = float("nan"),
                 state: str | None = None) -> None:
        super().__init__(message)
        self.subject = subject
        self.time = time
        self.state = state


class EstimationError(PkpdError):
    """A parameter estimation failed or was given inconsistent input.

    Examples
    --------
    >>> import pkpd
    >>> pkpd.fit_population("one_cmt", None, covariance="hessian")
    Traceback (most recent call last):
    ...
    pkpd.errors.EstimationError: covariance='hessian'; valid: 'sandwich', 'r', 's' or None
    """


class PkpdWarning(UserWarning):
    """An input that is valid but implausible (e.g. a dose of more than 1 kg of drug).

    pkpd goes on (research simulations may want such values) and names the value in the
    message; turn the warnings into errors with ``warnings.simplefilter("error", PkpdWarning)``.

    Examples
    --------
    >>> import warnings
    >>> import pkpd
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = pkpd.Dose("500 kg", "PO")
    >>> caught[0].category.__name__
    'PkpdWarning'
    """
