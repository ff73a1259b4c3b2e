"""The folder tree is the architecture: imports point one way, from the CLI down to the space.

Every module of `nas`, `search_spaces` and `controllers` is parsed (not imported) and each of its
imports, lazy ones inside functions included, is checked against the layer order that
`docs/architecture.md` draws. A module may import its own layer and the layers below it, never one
above; and the module graph has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

LAYERS: tuple[tuple[str, ...], ...] = (
    ("nas.errors", "nas.registry"),  # what every layer may use
    ("nas.ops",),  # the primitives' registry: the vocabulary genotypes are written in
    ("nas.space",),  # genotypes as data, and the space protocol
    ("nas.model",),  # networks built from genotypes
    ("nas.results",),  # one child's outcome, the run folder, the report
    ("nas.searcher",),  # the searcher contract: the supernet loop above asks and tells through it
    ("nas.train",),  # data and the one training loop
    ("search_spaces", "nas.tracking"),
    ("nas.proxies",),  # zero-cost scores of a child network: networks, data and spaces below them
    ("controllers",),  # the searchers: implement nas.searcher, never see the orchestration above
    ("nas.search",),  # orchestration: builds searchers by name (loads controllers), runs Tune
    ("nas.transfer",),
    ("nas.api",),  # the stable Python entry points, a facade over the layers below
    ("nas.cli",),
)
"""Lowest first. Packages on one line are peers and may import each other (without a cycle)."""

NO_INTEGRATIONS = (
    "nas.errors",
    "nas.registry",
    "nas.ops",
    "nas.space",
    "nas.model",
    "nas.results",
    "nas.searcher",
    "nas.train",
    "nas.proxies",
)
"""Layers that must run without Ray, W&B and Optuna (the trainer reports through a callback)."""
INTEGRATIONS = ("ray", "wandb", "optuna")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in ("nas", "search_spaces", "controllers"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Absolute module names imported anywhere in ``path`` (``from x import y`` counts y if a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{name}: relative import (use absolute imports)")
            assert node.module is not None
            names.add(node.module)
            names.update(
                f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES
            )
    return names


def _layer(module: str) -> int | None:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in MODULES if m != "nas" and _layer(m) is None]
    assert not unplaced, f"modules outside every layer (add them to LAYERS): {unplaced}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    rank = _layer(module)
    if rank is None:
        return  # the `nas` package's own __init__: a docstring and a version
    upward = []
    for imported in _imports(module, MODULES[module]):
        target = _layer(imported)
        if target is not None and target > rank:
            upward.append(f"{imported} (layer {target} > {rank})")
    assert not upward, f"{module} imports upward: {upward}"
    if module.startswith(NO_INTEGRATIONS):
        used = {i.split(".")[0] for i in _imports(module, MODULES[module])} & set(INTEGRATIONS)
        assert not used, f"{module} imports {sorted(used)}; these layers must run without them"


def test_no_import_cycle() -> None:
    graph = nx.DiGraph()
    for module, path in MODULES.items():
        graph.add_node(module)
        graph.add_edges_from((module, i) for i in _imports(module, path) if i in MODULES and i != module)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_the_contract_sits_below_its_users() -> None:
    """The supernet loop (nas.train) and the searchers (controllers) import the contract; the runner
    (nas.search) builds searchers by name, so it is the one above the controllers, never below."""
    assert _layer("nas.searcher") < _layer("nas.train") < _layer("controllers") < _layer("nas.search")  # type: ignore[operator]


def _searcher_classes() -> dict[str, str]:
    """Every class that derives (directly or not) from the contract's ``Searcher``: name -> module."""
    bases: dict[str, tuple[str, list[str]]] = {}
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ClassDef):
                names = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                bases[node.name] = (module, names)
    found: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for name, (module, parents) in bases.items():
            if (
                name not in found
                and any(p == "Searcher" or p in found for p in parents)
                and name != "Searcher"
            ):
                found[name] = module
                changed = True
    return found


def _isinstance_targets(node: ast.Call) -> list[str]:
    if (
        not (isinstance(node.func, ast.Name) and node.func.id in ("isinstance", "issubclass"))
        or len(node.args) != 2
    ):
        return []
    target = node.args[1]
    items = target.elts if isinstance(target, ast.Tuple) else [target]
    return [i.id if isinstance(i, ast.Name) else getattr(i, "attr", "") for i in items]


def test_no_isinstance_of_a_concrete_searcher_outside_its_module() -> None:
    """Callers use the contract's hooks (path_sampler, run_options, weight_sharing_options), never a
    type check of a concrete searcher: a new searcher then needs no edit anywhere else."""
    concrete = _searcher_classes()
    assert {"RLSearcher", "TPESearcher", "RandomSearcher", "EvolutionSearcher"} <= set(concrete)
    checked = {**MODULES, **{f"tests.{p.stem}": p for p in (REPO_ROOT / "tests").rglob("*.py")}}
    offenders = [
        f"{module}:{node.lineno} isinstance(..., {name})"
        for module, path in checked.items()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Call)
        for name in _isinstance_targets(node)
        if name in concrete and concrete[name] != module
    ]
    assert not offenders, f"type checks of concrete searchers: {offenders}"
