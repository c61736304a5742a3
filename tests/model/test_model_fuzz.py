"""Fuzzing of model files: mutated bundled models either load or raise a PkpdError, quickly.

The text of a few bundled model files is mutated (lines deleted, duplicated, swapped or replaced,
values of every key replaced by values of the wrong type, equations replaced by forbidden or
hostile constructs, unknown sections, duplicate keys, very long files) and loaded with
``load_model_text``. Each input must give a :class:`~pkpd.model.Model` or a
:class:`~pkpd.PkpdError` within a bounded CPU time; any other exception, or a hang, fails.
No model is compiled here.
"""

from __future__ import annotations

import collections
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pkpd
from pkpd.model import Model
from pkpd.model._toml import load_model_text

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
BUNDLED = ("one_cmt", "two_cmt_oral", "warfarin_pkpd", "vancomycin_goti2018", "tmdd_qss",
           "effect_compartment", "transit_absorption")
CPU_LIMIT = 2.0   # seconds of CPU per input
WALL_LIMIT = 20   # seconds: a hard stop that turns a hang into a failure
OUTCOMES: collections.Counter[str] = collections.Counter()
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def bundled_text(name: str) -> str:
    """The text of the bundled model file ``models/<name>.toml``."""
    return (MODELS_DIR / f"{name}.toml").read_text(encoding="utf-8")


TEXTS = {name: bundled_text(name) for name in BUNDLED}

# values of every type TOML has, and hostile or forbidden equation texts
TOML_VALUES = [
    "0", "-1", "1", "1.5", "1e308", "-1e308", "nan", "inf", "-inf", "true", "false",
    '""', '" "', '"x"', '"mg"', '"L/h"', '"not a unit"', '"1 m"', "[]", "[1, 2]", '["a", 1]',
    "[[1, 2], [3]]", "{}", "{ value = 1 }", '{ value = "a" }', '{ expr = 1 }',
    '{ expr = "1", unit = 5 }', "{ unit = [] }", "1979-05-27", "07:32:00",
    '{ value = 1, unit = "mg", fixed = "yes" }', '{ proportional = -1 }', '{ a = { b = 1 } }',
]
EQUATIONS = [
    "", " ", "1", "t", "x", "CL.real", "CL.__class__", "__class__", "__import__('os')",
    "lambda: 1", "(lambda x: x)(1)", "[x for x in t]", "{1: 2}", "{1, 2}", "(1, 2)", "foo(1)",
    "eval('1')", "exec('1')", "import os", "f'{t}'", "f\"{t}\"", "t[0]", "t[0:1]", "a := 1",
    "*t", "await t", "yield t", "exp()", "exp(1, 2)", "min(1)", "if_else(1, 2)", "exp(x=1)",
    "t > 1", "not t", "t and 1", "1 if t else 2", "9**9**9", "2**2**2**2**2**2", "10**10**10",
    "1e999999", "-1e999999", "10**-1000", "exp(exp(exp(1000)))", "(-8)**(1/3)", "0/0",
    "0.0/0.0", "log(0)", "log(-1)", "sqrt(-1)", "1/0", "0**-1", "(" * 120 + "1" + ")" * 120,
    "-" * 3000 + "1", "+".join(["1"] * 3000), "*".join(["99999"] * 80), "1" * 5000,
    "exp(" * 150 + "1" + ")" * 150, "t if " * 200 + "t > 1" + " else t" * 200, "t @ t",
    "t // 2", "t % 2", "t << 1", "~t", "t is t", "t in t", "'text'", "b'x'", "None", "True",
    "...", "1j", "0x10", "1_000", "\u00e9", "t\n+1", "t # comment", "\\", "'''", "t;t",
]
SECTIONS = ["[unknown]", "[model]", "[parameters]", "[states]", "[odes]", "[dosing]",
            "[dosing.central]", "[dosing.nowhere]", "[[states]]", "[error.CP]", "[routes]",
            "[variability]", "[individual]", "[outputs]", "[model.extra]"]


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _classify(message: str) -> str:
    message = re.sub(r"^[^:]*\.toml: ", "", message)
    for key in ("TOML syntax error", "unknown section", "unknown key", "unknown name",
                "unknown function", "is not allowed", "outside", "not a real number",
                "is not supported", "unit", "never used", "nested deeper", "characters long",
                "syntax error", "expected", "must be", "omega", "route", "not a state",
                "needs", "is not a", "given twice", "already declared", "non-finite", "takes",
                "cannot parse", "empty expression", "comparisons", "keyword arguments",
                "cannot be evaluated", "missing"):
        if key in message:
            return key
    return "other"


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout


def outcome_of(text: str, category: str) -> Model | pkpd.PkpdError:
    """Load ``text``; fail on anything but a Model or a PkpdError, or on a slow load."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(WALL_LIMIT)
    cpu = time.process_time()
    try:
        result: Model | pkpd.PkpdError = load_model_text(text, "fuzz.toml")
        OUTCOMES[f"{category}: model"] += 1
    except pkpd.PkpdError as exc:
        assert str(exc), "empty error message"
        OUTCOMES[f"{category}: error ({_classify(str(exc))})"] += 1
        result = exc
    except _Timeout:
        pytest.fail(f"load_model_text hung for {WALL_LIMIT} s on:\n{text[:2000]}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    spent = time.process_time() - cpu
    assert spent < CPU_LIMIT, f"load_model_text took {spent:.1f} s of CPU on:\n{text[:2000]}"
    return result


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PKPD_CACHE_DIR", str(tmp_path_factory.mktemp("fuzz_cache")))
        yield


def _lines(name: str) -> list[str]:
    return TEXTS[name].splitlines()


def _assignments(name: str) -> list[int]:
    return [i for i, line in enumerate(_lines(name)) if re.match(r"^\s*[\w.\"-]+\s*=", line)]


models = st.sampled_from(BUNDLED)


@FUZZ
@given(data=st.data(), name=models)
def test_line_mutations(data: st.DataObject, name: str) -> None:
    lines = _lines(name)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        i = data.draw(st.integers(0, len(lines) - 1), label="line")
        kind = data.draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "section",
                                          "truncate"]), label="kind")
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = data.draw(st.integers(0, len(lines) - 1), label="other line")
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "replace":
            lines[i] = data.draw(st.one_of(st.sampled_from(SECTIONS), st.text(max_size=40)),
                                 label="new line")
        elif kind == "section":
            lines.insert(i, data.draw(st.sampled_from(SECTIONS), label="section"))
        else:
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])), label="cut")]
        if not lines:
            break
    outcome_of("\n".join(lines) + "\n", "lines")


@FUZZ
@given(data=st.data(), name=models)
def test_wrong_types_in_every_field(data: st.DataObject, name: str) -> None:
    lines = _lines(name)
    i = data.draw(st.sampled_from(_assignments(name)), label="assignment")
    key = lines[i].split("=", 1)[0]
    value = data.draw(st.one_of(st.sampled_from(TOML_VALUES),
                                st.sampled_from(EQUATIONS).map(_toml_string)), label="value")
    lines[i] = f"{key}= {value}"
    outcome_of("\n".join(lines) + "\n", "field types")


@FUZZ
@given(data=st.data(), name=models)
def test_inline_table_values(data: st.DataObject, name: str) -> None:
    """A value inside an inline table ``{ value = 5.0, unit = "L/h" }`` replaced or removed."""
    text = TEXTS[name]
    spans = [m.span(2) for m in re.finditer(r"(\w+) = (\"[^\"]*\"|[-\d.e]+)(?=[,}\]])", text)]
    start, end = data.draw(st.sampled_from(spans), label="span")
    value = data.draw(st.one_of(st.sampled_from(TOML_VALUES),
                                st.sampled_from(EQUATIONS).map(_toml_string)), label="value")
    outcome_of(text[:start] + value + text[end:], "inline values")


NAMES = ["CL", "V", "KA", "TVCL", "central", "depot", "t", "WT", "eta_CL", "x", "__class__"]
leaves = st.one_of(st.sampled_from(NAMES), st.integers(-10**6, 10**6).map(str),
                   st.floats(allow_nan=False, allow_infinity=False).map(repr))


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    ops = st.sampled_from(["+", "-", "*", "/", "**", " if t > 1 else ", "."])
    return st.one_of(
        st.tuples(children, ops, children).map(lambda p: f"({p[0]}{p[1]}{p[2]})"),
        st.tuples(st.sampled_from(["exp", "log", "sqrt", "abs", "min", "max", "if_else",
                                   "sin", "getattr", "__import__"]),
                  st.lists(children, max_size=3)).map(lambda p: f"{p[0]}({', '.join(p[1])})"),
        children.map(lambda c: f"-{c}"),
    )


expressions = st.recursive(leaves, _combine, max_leaves=30)


@FUZZ
@given(data=st.data(), name=models, expr=expressions)
def test_random_equations(data: st.DataObject, name: str, expr: str) -> None:
    text = TEXTS[name]
    spans = [m.span(1) for m in re.finditer(r'^\s*\w+ = ("[^"\n]*")\s*$', text, re.M)]
    spans += [m.span(1) for m in re.finditer(r'expr = ("[^"\n]*")', text)]
    start, end = data.draw(st.sampled_from(spans), label="equation")
    outcome_of(text[:start] + _toml_string(expr) + text[end:], "equations")


@pytest.mark.parametrize("name", BUNDLED)
@pytest.mark.parametrize("equation", EQUATIONS)
def test_every_hostile_equation_in_an_odes_line(name: str, equation: str) -> None:
    text = TEXTS[name]
    match = re.search(r"^\[odes\]\n(\w+) = (\"[^\"\n]*\")", text, re.M)
    assert match is not None
    start, end = match.span(2)
    result = outcome_of(text[:start] + _toml_string(equation) + text[end:], "hostile ode")
    if equation in ("1", "t"):
        return  # valid, or refused for a unit mismatch
    assert isinstance(result, pkpd.PkpdError)
    assert "ODE of" in str(result) or "odes" in str(result), str(result)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_models_still_load(name: str) -> None:
    assert isinstance(outcome_of(TEXTS[name], "unmodified"), Model)


@pytest.mark.parametrize("extra", [
    "\n[unknown]\na = 1\n", "\n[model]\nname = \"again\"\n", "\nname = \"x\"\nname = \"y\"\n",
    "\n[odes]\ncentral = \"0\"\n", "\n[model.sub]\na = 1\n",
])
def test_unknown_and_duplicate_sections(extra: str) -> None:
    result = outcome_of(TEXTS["one_cmt"] + extra, "sections")
    assert isinstance(result, pkpd.PkpdError)


def test_very_long_files_are_refused_or_loaded_quickly() -> None:
    text = TEXTS["one_cmt"]
    padding = "\n".join(f"# comment line {i}" for i in range(200_000))
    assert isinstance(outcome_of(padding + "\n" + text, "long file"), Model)
    many = "\n".join(f"P{i} = {{ value = 1.0, unit = \"L\" }}" for i in range(3000))
    long_params = text.replace("[parameters]\n", "[parameters]\n" + many + "\n", 1)
    result = outcome_of(long_params, "long file")
    assert isinstance(result, pkpd.PkpdError) and "never used" in str(result)
    long_eq = text.replace('CL = "TVCL', 'CL = "' + "+".join(["0"] * 5000) + " + TVCL", 1)
    assert isinstance(outcome_of(long_eq, "long file"), pkpd.PkpdError)
    assert isinstance(outcome_of("x" * 1_000_000, "long file"), pkpd.PkpdError)
    assert isinstance(outcome_of("a = " + "[" * 5000 + "]" * 5000, "long file"),
                      pkpd.PkpdError)


def test_zz_report_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """Print the outcomes per category (run with ``-s`` to see them)."""
    assert OUTCOMES, "no input was tried"
    with capsys.disabled():
        print(f"\nmodel fuzz: {sum(OUTCOMES.values())} inputs")
        for key, count in sorted(OUTCOMES.items()):
            print(f"  {count:6d}  {key}")
