"""The layering of DESIGN.md ("Dependencies point one way"), checked on the sources.

Every module of ``pkpd/`` is parsed with ``ast``. Its imports count wherever they are (module
level or inside a function), except under ``if TYPE_CHECKING:``, which never runs. The checks:

* no module imports a module of a higher layer of :data:`LAYERS` (a module may import its own
  layer and the layers below);
* no import cycle between modules, not even within a layer;
* no module imports a private (``_name``) name of another module, unless that module is
  internal (its file name starts with an underscore, e.g. ``pkpd/_plan.py``) or both are in the
  same subpackage (``pkpd/engine/__init__.py`` may take ``_x`` from ``pkpd/engine/_loop.py``);
  the top-level modules of ``pkpd/`` each own one thing and share only through internal modules;
* every module is placed in a layer.

All violations are reported at once, each with its file, line and import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

PKPD = Path(__file__).resolve().parents[1] / "pkpd"

#: Bottom to top. A module belongs to the layer of its top-level name under ``pkpd`` (all of
#: ``pkpd/estimation/`` is "estimation"); "__init__" is ``pkpd/__init__.py`` itself, which at run
#: time imports only ``errors`` (its public names are loaded lazily, by name).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors", "_abi", "units", "_provenance", "_atomic", "_cachefile"),
    ("model",),                     # symbolic models
    ("codegen",),                   # Model -> numba kernels
    ("engine",),                    # the numeric core
    # inputs, each lowered to arrays on its own: regimens and datasets, subjects, variability
    ("events", "_dose", "_regimen", "_regimen_text", "io", "_covariate_relations",
     "_covariate_checks", "_body_size", "_renal", "covariates", "patient",
     "_kidney", "population", "variability", "pbpk", "library"),
    ("_plan", "_sampling"),         # events + params + times -> the engine's arrays; streams
    ("simulation",),                # one in-process run -> xarray.Dataset
    ("scale",),                     # the same chunked over subjects (dask, zarr)
    ("results",),                   # summaries of simulated Datasets
    ("estimation", "dosing", "_targets", "noncompartmental"),  # users of simulation
    ("diagnostics", "trials"),      # judge fits and models against data and published summaries
    ("plot", "cli", "testing", "qualification"),
)

#: Known violations of a change in progress, allowed until it lands:
#: (importing module or package, imported module, name); an entry that no longer occurs fails
#: the test below. Empty: keep it so.
PENDING: frozenset[tuple[str, str, str]] = frozenset()


@dataclass(frozen=True)
class Source:
    path: str          # for messages, e.g. "pkpd/dosing.py"
    text: str
    is_package: bool   # an __init__.py


@dataclass(frozen=True)
class Import:
    importer: str      # e.g. "pkpd.dosing"
    line: int
    text: str          # the statement, on one line
    target: str        # the imported module, e.g. "pkpd.simulation" (may not exist)
    name: str | None   # the name taken from it; None when the module itself is imported


def package_sources(root: Path = PKPD) -> dict[str, Source]:
    """Every module under ``root`` by its dotted name."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        out[name] = Source(str(path.relative_to(root.parent)), path.read_text(), is_package)
    return out


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """All nodes except the bodies of ``if TYPE_CHECKING:`` (their ``else`` runs)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, modules: Mapping[str, Source]) -> list[Import]:
    """The run-time imports of pkpd modules made by module ``name``."""
    src = modules[name]
    tree = ast.parse(src.text, filename=src.path)
    package = name.split(".") if src.is_package else name.split(".")[:-1]
    out = []
    for node in _runtime_nodes(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        text = " ".join((ast.get_source_segment(src.text, node) or "").split())
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "pkpd" or alias.name.startswith("pkpd."):
                    out.append(Import(name, node.lineno, text, alias.name, None))
            continue
        base = node.module or ""
        if node.level:
            up = package[:len(package) - (node.level - 1)]
            base = ".".join(up + ([node.module] if node.module else []))
        if base != "pkpd" and not base.startswith("pkpd."):
            continue
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            if sub in modules:    # `from . import engine`: the submodule itself
                out.append(Import(name, node.lineno, text, sub, None))
            else:
                out.append(Import(name, node.lineno, text, base, alias.name))
    return sorted(out, key=lambda i: (i.line, i.target, i.name or ""))


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "__init__"
    return next((k for k, layer in enumerate(LAYERS) if key in layer), None)


def _folder(module: str, modules: Mapping[str, Source]) -> str:
    return module if modules[module].is_package else module.rsplit(".", 1)[0]


def _pending(imp: Import, pending: frozenset[tuple[str, str, str]]
             ) -> tuple[str, str, str] | None:
    for entry in pending:
        who, target, name = entry
        if (imp.importer == who or imp.importer.startswith(who + ".")) and \
                imp.target == target and imp.name == name:
            return entry
    return None


def _is_private(name: str | None) -> bool:
    return name is not None and name.startswith("_") and not (
        name.startswith("__") and name.endswith("__"))


def _cycles(edges: Mapping[str, Mapping[str, Import]]) -> list[list[Import]]:
    """One cycle (as its chain of imports) for each strongly connected set of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(v: str) -> None:  # Tarjan; the graph is small, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(edges):
        if v not in index:
            connect(v)

    chains = []
    for group in groups:
        start = min(group)
        # shortest way back to start inside the group (breadth first)
        previous: dict[str, Import] = {}
        frontier = [start]
        while frontier and start not in previous:
            nxt = []
            for v in frontier:
                for w, imp in sorted(edges.get(v, {}).items()):
                    if w in group and w not in previous:
                        previous[w] = imp
                        nxt.append(w)
            frontier = nxt
        chain, v = [], start
        while True:
            imp = previous[v]
            chain.append(imp)
            v = imp.importer
            if v == start:
                break
        chains.append(chain[::-1])
    return chains


def check(modules: Mapping[str, Source],
          pending: frozenset[tuple[str, str, str]] = frozenset()
          ) -> tuple[list[str], set[tuple[str, str, str]]]:
    """The violations (one message each) and the ``pending`` entries that were used."""
    problems: list[str] = []
    used: set[tuple[str, str, str]] = set()
    edges: dict[str, dict[str, Import]] = {}
    for name in sorted(modules):
        path = modules[name].path
        mine = layer_of(name)
        if mine is None:
            problems.append(f"{path}: module {name} is in no layer of LAYERS in "
                            f"tests/test_layering.py: place it (see DESIGN.md)")
        for imp in imports_of(name, modules):
            where = f"{path}:{imp.line}: `{imp.text}`"
            if imp.target not in modules:
                problems.append(f"{where}: {imp.target} is no module under pkpd/, so this "
                                f"import cannot be checked (and fails when it runs)")
                continue
            if imp.target != name:
                edges.setdefault(name, {}).setdefault(imp.target, imp)
            theirs = layer_of(imp.target)
            upward = mine is not None and theirs is not None and theirs > mine
            private = _is_private(imp.name) and not (
                imp.target.rsplit(".", 1)[-1].startswith("_")
                or (_folder(name, modules) == _folder(imp.target, modules) != "pkpd"))
            if not (upward or private):
                continue
            entry = _pending(imp, pending)
            if entry is not None:
                used.add(entry)
                continue
            if upward:
                problems.append(f"{where}: {name} (layer {mine}: {', '.join(LAYERS[mine])}) "
                                f"imports {imp.target} from the higher layer {theirs} "
                                f"({', '.join(LAYERS[theirs])})")
            if private:
                problems.append(f"{where}: {name} imports the private name {imp.name} of "
                                f"{imp.target}; move what they share into an internal module "
                                f"(pkpd/_<name>.py) and import it from there")
    for chain in _cycles(edges):
        steps = " -> ".join(f"{imp.target} ({modules[imp.importer].path}:{imp.line})"
                            for imp in chain)
        problems.append(f"import cycle: {chain[0].importer} -> {steps}")
    return problems, used


def test_imports_follow_the_layers() -> None:
    problems, _ = check(package_sources(), PENDING)
    assert not problems, f"{len(problems)} layering violation(s):\n" + "\n".join(problems)


def test_pending_entries_still_occur() -> None:
    _, used = check(package_sources(), PENDING)
    stale = sorted(PENDING - used)
    assert not stale, f"PENDING entries that no longer occur, remove them: {stale}"


# -- the checker itself, on made-up sources ---------------------------------------------------

def _fake(**files: str) -> dict[str, Source]:
    """Modules from dotted names (``pkpd.model.__init__`` for a package) and their text."""
    out = {}
    for dotted, text in files.items():
        is_package = dotted.endswith(".__init__")
        name = dotted.removesuffix(".__init__")
        path = dotted.replace(".", "/") + ".py"
        out[name] = Source(path, text, is_package)
    return out


def test_checker_finds_an_upward_import_in_a_function() -> None:
    modules = _fake(**{
        "pkpd.__init__": "from .errors import PkpdError\n",
        "pkpd.errors": "",
        "pkpd.model.__init__": "from ._model import Model\n",
        "pkpd.model._model": ("from typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n"
                              "    from ..simulation import simulate\n"
                              "\n"
                              "def f():\n"
                              "    from .. import simulation\n"),
        "pkpd.simulation": "",
    })
    problems, _ = check(modules)
    assert len(problems) == 1, problems
    assert problems[0].startswith("pkpd/model/_model.py:6: `from .. import simulation`: "
                                  "pkpd.model._model (layer 1")
    assert "imports pkpd.simulation from the higher layer" in problems[0]


def test_checker_finds_a_cycle_within_a_layer() -> None:
    modules = _fake(**{
        "pkpd.__init__": "",
        "pkpd.patient": "from . import covariates\n",
        "pkpd.covariates": "def f():\n    import pkpd.population\n",
        "pkpd.population": "from .patient import Patient\n",
    })
    problems, _ = check(modules)
    assert problems == [
        "import cycle: pkpd.covariates -> pkpd.population (pkpd/covariates.py:2) -> "
        "pkpd.patient (pkpd/population.py:1) -> pkpd.covariates (pkpd/patient.py:1)"]


def test_checker_finds_private_names_taken_across_modules() -> None:
    modules = _fake(**{
        "pkpd.__init__": "",
        "pkpd._plan": "",
        "pkpd.simulation": "from ._plan import as_compiled, _detail\n",  # internal module: ok
        "pkpd.dosing": "from .simulation import _as_compiled, simulate, __version__\n",
        "pkpd.io.__init__": "from .nonmem import _columns\n",               # own package: ok
        "pkpd.io.nonmem": "",
        "pkpd.estimation.__init__": "",
        "pkpd.estimation._fit": "from ..simulation import _as_compiled\n",
    })
    problems, _ = check(modules)
    assert len(problems) == 2, problems
    assert problems[0].startswith("pkpd/dosing.py:1: `from .simulation import _as_compiled, "
                                  "simulate, __version__`: pkpd.dosing imports the private name "
                                  "_as_compiled of pkpd.simulation")
    assert problems[1].startswith("pkpd/estimation/_fit.py:1:")
    # an allowed known violation is not reported, and is marked as used
    pending = frozenset({("pkpd.estimation", "pkpd.simulation", "_as_compiled")})
    problems, used = check(modules, pending)
    assert [p.split(":")[0] for p in problems] == ["pkpd/dosing.py"] and used == pending


def test_checker_wants_every_module_placed_and_every_import_found() -> None:
    problems, _ = check(_fake(**{"pkpd.__init__": "", "pkpd.pbpk_draft": "",
                                 "pkpd.cli": "def f():\n    from .dosing import optimise\n"}))
    assert problems == [
        "pkpd/cli.py:2: `from .dosing import optimise`: pkpd.dosing is no module under pkpd/, "
        "so this import cannot be checked (and fails when it runs)",
        "pkpd/pbpk_draft.py: module pkpd.pbpk_draft is in no layer of LAYERS in "
        "tests/test_layering.py: place it (see DESIGN.md)"]
