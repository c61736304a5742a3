"""Model files: a TOML declaration read into a :class:`~pkpd.model.Model` through the builder.

A model file is data, never code: every equation is text read by the safe parser
(:func:`~pkpd.model.parse_expression`), and the file goes through the same
:class:`~pkpd.model.ModelBuilder` calls, hence the same checks, as a model declared in Python.
Tables and keys (anything else is an error naming it and listing the valid ones)::

    [model]                 # name (required), time_unit (default "h"), description,
                            # and free-text metadata: source, doi, status, references, notes;
                            # tags = ["structural", "pk"] (see pkpd.library.TAGS)
    name = "two_cmt_oral"
    time_unit = "h"

    [parameters]            # typical values: NAME = { value, unit, description, and for
    TVCL = { value = 5.0, unit = "L/h" }   # estimation: fixed, lower, upper }

    [covariates]            # NAME = { unit, default, description } or NAME = "unit"
    WT = { unit = "kg", default = 70 }

    [variability]           # variances of independent etas, or one correlated block;
    omega = { eta_CL = 0.09, eta_V1 = 0.0625 }
    # omega = { names = ["eta_CL", "eta_V1"], matrix = [[0.09, 0.01], [0.01, 0.0625]] }
    # omega = { names = [...], sd = [0.3, 0.25], correlation = [[1, 0.5], [0.5, 1]] }
    # blocks = [ { names = [...], matrix = [[...]] }, ... ]   (further blocks)
    # occasion = ["eta_occ_CL"]        (between-occasion etas, drawn anew per occasion)
    # fixed = ["eta_V1"]               (omega held fixed in estimation: the eta's whole block)

    [individual]            # in evaluation order: NAME = "expr" or { expr, unit }
    CL = "TVCL * (WT/70)**0.75 * exp(eta_CL)"

    [states]                # in compartment order: NAME = { unit, initial, description } or "unit"
    central = { unit = "mg" }

    [odes]                  # NAME = "expr", one per state
    central = "-CL/V1*central"

    [outputs]               # NAME = { expr, unit } or "expr"
    CP = { expr = "central/V1", unit = "mg/L" }

    [dosing.central]        # F, lag, rate, duration = "expr"
    F = "BIOAV"

    [routes]                # ROUTE = "state"; default = "ROUTE" names the route of a dose
    PO = "depot"            # that gives none ("100 mg q12h x 4", Dose("100 mg")); without
    IV = "central"          # it a model with one route uses that route, and a model with
    default = "PO"          # several routes raises a RegimenError

    [error]                 # OUTPUT = { proportional, additive, exponential, power, form,
                            #            fixed = ["additive"] or true }
    CP = { proportional = 0.1, additive = 0.05 }
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._provenance import attach_file
from ..errors import ModelError
from ._builder import ModelBuilder
from ._model import Model
from ._store import cached_model

__all__ = ["SECTIONS", "load_model_file", "load_model_text", "model_from_toml"]

SECTIONS = ("model", "parameters", "covariates", "variability", "individual", "states", "odes",
            "outputs", "dosing", "routes", "error")
_MODEL_KEYS = ("name", "description", "time_unit", "source", "doi", "status", "references",
               "notes", "tags")


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ModelError(f"{where}: [{key}] must be a table, got {type(value).__name__}")
    return dict(value)


def _check_keys(table: Mapping[str, Any], valid: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in valid:
            raise ModelError(f"{where}: unknown key {key!r} (valid keys: {', '.join(valid)})")


def _check_tags(tags: Any, where: str) -> None:
    if not (isinstance(tags, list) and all(isinstance(t, str) and t.strip() for t in tags)):
        raise ModelError(f"{where}: [model] tags must be a list of words, e.g. "
                         f'["structural", "pk"], got {tags!r}')


def _expr_and_unit(spec: Any, where: str) -> tuple[Any, str | None]:
    """An equation given as ``"expr"`` or ``{ expr, unit }``."""
    if not isinstance(spec, Mapping):
        return spec, None
    _check_keys(spec, ("expr", "unit"), where)
    if "expr" not in spec:
        raise ModelError(f"{where} needs 'expr'")
    return spec["expr"], spec.get("unit")


def model_from_toml(data: Mapping[str, Any], *, source: str = "<model>") -> Model:
    """Build a model from the parsed content of a model file (see the module docstring)."""
    for section in data:
        if section not in SECTIONS:
            raise ModelError(f"{source}: unknown section [{section}] (valid sections: "
                             f"{', '.join(SECTIONS)})")
    head = _table(data, "model", source)
    _check_keys(head, _MODEL_KEYS, f"{source}: [model]")
    if "name" not in head:
        raise ModelError(f"{source}: [model] needs a name")
    mb = ModelBuilder(head["name"], time_unit=head.get("time_unit", "h"),
                      description=head.get("description", ""))
    _check_tags(head.get("tags", []), source)
    meta = {k: v for k, v in head.items() if k not in ("name", "description", "time_unit")}
    if meta:
        mb.metadata(**meta)

    mb.parameters(**_table(data, "parameters", source))
    mb.covariates(**_table(data, "covariates", source))

    variability = _table(data, "variability", source)
    _check_keys(variability, ("omega", "blocks", "occasion", "fixed"),
                f"{source}: [variability]")
    mb.occasion(*variability.get("occasion", []))
    mb.fix_omega(*variability.get("fixed", []))
    blocks = list(variability.get("blocks", []))
    omega = variability.get("omega")
    if isinstance(omega, Mapping) and ("names" in omega or "matrix" in omega):
        blocks.insert(0, omega)
    elif omega is not None:
        if not isinstance(omega, Mapping):
            raise ModelError(f"{source}: [variability] omega must be a table of variances or "
                             "{ names = [...], matrix = [[...]] }")
        mb.etas(**omega)
    for block in blocks:
        if not isinstance(block, Mapping):
            raise ModelError(f"{source}: [variability] block must be a table {{names, matrix}}")
        _check_keys(block, ("names", "matrix", "sd", "correlation"),
                    f"{source}: [variability] block")
        mb.omega_block(block.get("names", []), block.get("matrix"), sd=block.get("sd"),
                       correlation=block.get("correlation"))

    for name, spec in _table(data, "individual", source).items():
        expr, unit = _expr_and_unit(spec, f"{source}: [individual] {name}")
        mb.derive(name, expr, unit=unit)

    mb.states(**_table(data, "states", source))
    for name, expr in _table(data, "odes", source).items():
        mb.ode(name, expr)
    for name, spec in _table(data, "outputs", source).items():
        expr, unit = _expr_and_unit(spec, f"{source}: [outputs] {name}")
        mb.output(name, expr, unit=unit)
    for state, attrs in _table(data, "dosing", source).items():
        if not isinstance(attrs, Mapping):
            raise ModelError(f"{source}: [dosing.{state}] must be a table")
        _check_keys(attrs, ("F", "lag", "rate", "duration"), f"{source}: [dosing.{state}]")
        mb.dosing(state, **attrs)
    for route, state in _table(data, "routes", source).items():
        if route.lower() == "default":
            if not isinstance(state, str):
                raise ModelError(f"{source}: [routes] default must name a route such as "
                                 f"\"PO\", got {state!r}")
            mb.default_route(state)
        else:
            mb.route(route, state)
    for output, spec in _table(data, "error", source).items():
        if not isinstance(spec, Mapping):
            raise ModelError(f"{source}: [error] {output} must be a table "
                             "{ proportional, additive }")
        mb.error(output, **spec)
    return mb.build()


def load_model_file(path: str | Path) -> Model:
    """Read a TOML model file.

    Raises
    ------
    ModelError
        On a TOML syntax error (with the file and line), an unknown section or key, or any
        problem found by the model checks.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror}") from None
    model = cached_model(text, str(path), lambda: _build_file(text, path))
    return attach_file(model, str(path), hashlib.sha256(path.read_bytes()).hexdigest())


def _parse_toml(text: str, source: str | Path) -> dict[str, Any]:
    """``tomllib.loads``, with every failure (syntax, nesting too deep) as a ModelError."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{source}: TOML syntax error: {exc}") from None
    except RecursionError:
        raise ModelError(f"{source}: TOML syntax error: arrays or tables nested too deeply "
                         "(a model file needs at most a matrix: two levels)") from None


def _build_file(text: str, path: Path) -> Model:
    data = _parse_toml(text, path)
    try:
        return model_from_toml(data, source=str(path))
    except ModelError as exc:
        msg = str(exc)
        if str(path) in msg:
            raise
        raise ModelError(f"{path.name}: {msg}") from None


def load_model_text(text: str, source: str) -> Model:
    """Build a model from the text of a model file (cached on disk, see :mod:`._store`).

    Raises
    ------
    ModelError
        On a TOML syntax error or any problem found by the model checks.
    """
    def build() -> Model:
        return model_from_toml(_parse_toml(text, source), source=source)

    return cached_model(text, source, build)
