"""The default dosing route: a dose or regimen text without a route.

A model file declares the route of a dose that names none with ``default = "PO"`` in its
``[routes]`` table (like NONMEM and mrgsolve, which dose the first compartment when none is
given; every bundled model with several routes declares its first, extravascular compartment's
route). Without a declaration, a model with a single route uses that route and a model with
several routes raises a :class:`~pkpd.RegimenError` naming them.

References: a regimen without a route must give exactly (bit for bit) what the same regimen
with the default route spelled out gives; the oral one-compartment concentrations are compared
with the Bateman function written out here (superposition of single oral doses).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pkpd
from pkpd import ModelError, RegimenError
from pkpd.events import Dose, EventTable, Regimen
from pkpd.model import ModelBuilder, model_from_toml

MODELS = Path(__file__).resolve().parents[1] / "models"
TOL = {"rtol": 1e-8, "atol": 1e-12}
_TWO_CMT_ORAL = pkpd.load_model("two_cmt_oral")


@pytest.fixture(scope="module")
def one_cmt() -> Any:
    return pkpd.compile_model(pkpd.load_model("one_cmt"))


@pytest.fixture(scope="module")
def theophylline() -> Any:
    return pkpd.compile_model(pkpd.load_model("theophylline_1cmt"))


def _toml(name: str) -> dict[str, Any]:
    return tomllib.loads((MODELS / f"{name}.toml").read_text(encoding="utf-8"))


def _without_default(name: str) -> pkpd.Model:
    data = _toml(name)
    del data["routes"]["default"]
    return model_from_toml(data)


def _tables_equal(a: EventTable, b: EventTable) -> bool:
    fields = ("ids", "offsets", "time", "evid", "amt", "cmt", "rate", "ii", "addl", "ss",
              "output")
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in fields)


def _tiny(routes: dict[str, str], default: str | None = None) -> pkpd.Model:
    """A one-compartment model with a depot, built in Python, with the given routes."""
    mb = ModelBuilder("tiny")
    mb.parameters(KA="1 1/h", K="0.1 1/h")
    mb.states(depot="mg", central="mg")
    mb.ode("depot", "-KA*depot")
    mb.ode("central", "KA*depot - K*central")
    mb.output("A", "central", unit="mg")
    for route, state in routes.items():
        mb.route(route, state)
    if default is not None:
        mb.default_route(default)
    return mb.build()


# ------------------------------------------------------------------ the declared default


def test_bundled_model_declares_its_oral_route() -> None:
    model = pkpd.load_model("mm_indirect_response")
    assert model.default_route == "PO"
    ev = Regimen.parse("100 mg q12h x 4").to_events(model)
    names = list(model.state_names)
    assert ev.cmt.tolist() == [names.index(model.routes["PO"]) + 1]
    assert ev.addl.tolist() == [3] and ev.ii.tolist() == [12.0] and ev.amt.tolist() == [100.0]


def test_every_bundled_model_with_several_routes_declares_a_default() -> None:
    for path in sorted(MODELS.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        routes = {k: v for k, v in data.get("routes", {}).items() if k != "default"}
        if len(routes) < 2:
            assert "default" not in data.get("routes", {}), path.name
            continue
        default = data["routes"].get("default")
        assert default in routes, f"{path.name}: default {default!r} of routes {routes}"
        # the natural route: the one into the first compartment (NONMEM's default CMT 1)
        first_state = next(iter(data["states"]))
        assert routes[default] == first_state, path.name


def test_text_without_route_simulates_bit_for_bit_as_with_the_default(one_cmt: Any) -> None:
    times = "0..60 h by 0.5 h"
    implicit = pkpd.simulate(one_cmt, "100 mg q12h x 4", times=times, states=True)
    explicit = pkpd.simulate(one_cmt, "100 mg PO q12h x 4", times=times, states=True)
    for name in explicit.data_vars:
        assert np.array_equal(implicit[name].values, explicit[name].values), name
    by_dose = pkpd.simulate(one_cmt, Dose("100 mg"), times=times)
    by_po = pkpd.simulate(one_cmt, Dose("100 mg", "PO"), times=times)
    assert np.array_equal(by_dose["CP"].values, by_po["CP"].values)


def test_default_route_doses_the_depot_against_the_bateman_function(one_cmt: Any) -> None:
    # one_cmt: KA 1/h, CL 5 L/h, V 50 L (typical values, etas 0); oral doses of 100 mg
    t = np.arange(0.0, 60.0, 0.25)
    ds = pkpd.simulate(one_cmt, "100 mg q12h x 4", times=t, states=True, **TOL)
    ka, k, v = 1.0, 5.0 / 50.0, 50.0
    ref = np.zeros_like(t)
    for td in (0.0, 12.0, 24.0, 36.0):
        s = np.clip(t - td, 0.0, None)
        ref += np.where(t >= td, 100.0 * ka / (v * (ka - k)) * (np.exp(-k * s) - np.exp(-ka * s)),
                        0.0)
    cp = ds["CP"].values[0]
    assert np.max(np.abs(cp - ref)) < 1e-6 * ref.max()
    # the first dose is in the depot at t = 0 (an IV dose would give CP(0) = 2 mg/L)
    assert ds["depot"].values[0, 0] == pytest.approx(100.0) and cp[0] == 0.0


def test_route_carries_over_and_an_explicit_route_wins() -> None:
    model = pkpd.load_model("one_cmt")
    mixed = Regimen.parse("200 mg then 100 mg IV q12h x 3").to_events(model)
    spelled = Regimen.parse("200 mg PO then 100 mg IV q12h x 3").to_events(model)
    assert _tables_equal(mixed, spelled)
    assert mixed.cmt.tolist() == [1, 2]


@settings(max_examples=15, deadline=None)
@given(amount=st.floats(0.5, 2000.0), every=st.sampled_from([4, 6, 8, 12, 24]),
       count=st.integers(1, 20), start=st.sampled_from([0, 1.5, 8]))
def test_text_without_route_lowers_like_the_default(amount: float, every: int, count: int,
                                                     start: float) -> None:
    model = _TWO_CMT_ORAL
    text = f"{amount!r} mg q{every}h x {count} starting at {start} h"
    with_route = f"{amount!r} mg PO q{every}h x {count} starting at {start} h"
    a, b = Regimen.parse(text), Regimen.parse(with_route)
    assert _tables_equal(a.to_events(model), b.to_events(model))
    assert Regimen.parse(str(a)) == a   # the text form of a dose without a route reads back



# ---------------------------------------------------------------- without a declaration


def test_single_route_model_uses_its_route(theophylline: Any) -> None:
    model = theophylline.model
    assert model.default_route is None and list(model.routes) == ["PO"]
    times = "0..24 h by 1 h"
    implicit = pkpd.simulate(theophylline, "320 mg", times=times)
    explicit = pkpd.simulate(theophylline, "320 mg PO", times=times)
    assert np.array_equal(implicit["CP"].values, explicit["CP"].values)
    assert implicit["CP"].values[0, 0] == 0.0 and implicit["CP"].values[0, 1] > 0.0


def test_several_routes_without_default_is_an_error_naming_them() -> None:
    model = _without_default("two_cmt_oral")
    assert model.default_route is None
    with pytest.raises(RegimenError) as err:
        Regimen.parse("100 mg q12h x 4").to_events(model)
    msg = str(err.value)
    assert "IV, PO" in msg and "two_cmt_oral" in msg and 'default = "' in msg
    # a route given explicitly still works
    assert Regimen.parse("100 mg IV q12h x 4").to_events(model).cmt.tolist() == [2]


def test_model_without_routes_asks_for_a_compartment() -> None:
    model = _tiny({})
    with pytest.raises(RegimenError, match=r"no routes.*into <state>.*depot, central"):
        Regimen.single(Dose("5 mg")).to_events(model)
    assert Regimen.parse("5 mg into central").to_events(model).cmt.tolist() == [2]


def test_builder_single_route_and_declared_default() -> None:
    one = _tiny({"PO": "depot"})
    assert Regimen.single(Dose("5 mg")).to_events(one).cmt.tolist() == [1]
    two = _tiny({"PO": "depot", "IV": "central"}, default="iv")
    assert two.default_route == "IV"
    assert Regimen.single(Dose("5 mg")).to_events(two).cmt.tolist() == [2]


# ------------------------------------------------------------------ model file and hash


def test_default_route_changes_the_hash() -> None:
    declared = pkpd.load_model("two_cmt_oral")
    undeclared = _without_default("two_cmt_oral")
    data = _toml("two_cmt_oral")
    data["routes"]["default"] = "IV"
    iv = model_from_toml(data)
    assert "default route PO" in declared.canonical_text
    assert "default route" not in undeclared.canonical_text
    assert len({declared.hash, undeclared.hash, iv.hash}) == 3
    assert declared != undeclared


@pytest.mark.parametrize(("value", "match"), [
    ("XX", "default route 'XX' is not a declared route.*IV, PO"),
    (3, "default must name a route"),
    ("", "default route must be a route name"),
])
def test_invalid_default_is_a_model_error(value: Any, match: str) -> None:
    data = _toml("two_cmt_oral")
    data["routes"]["default"] = value
    with pytest.raises(ModelError, match=match):
        model_from_toml(data)
