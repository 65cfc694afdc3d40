"""The shape of the house: no import cycle between modules, and the layers docs/architecture.md
names import nothing above them (read from the source, type-only imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src"


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _imports() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_modules() -> None:
    assert _cycles(_imports()) == []


def package_of(module: str) -> str:
    """``runyard.tasks.submit`` → ``runyard.tasks``; top-level modules are their own."""
    return ".".join(module.split(".")[:2])


def test_no_import_cycle_between_packages() -> None:
    packages: dict[str, set[str]] = {}
    for module, targets in _imports().items():
        mine = package_of(module)
        packages.setdefault(mine, set())
        for target in targets:
            theirs = package_of(target)
            packages.setdefault(theirs, set())
            if theirs != mine:
                packages[mine].add(theirs)
    assert _cycles(packages) == []


def test_the_cycle_finder_finds_one() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


FORBIDDEN = {
    # the state machine and the rows are below every domain
    "runyard.states": {"runyard."},
    "runyard.models": {"runyard.tasks", "runyard.gateway", "runyard.scheduler", "runyard.deps"},
    "runyard.db": {"runyard.tasks", "runyard.gateway", "runyard.metrics", "runyard.services"},
    # transitions are observed through db.observer; cancels reach agents through a protocol
    "runyard.tasks": {"runyard.gateway", "runyard.metrics", "runyard.scheduler"},
    "runyard.scheduler": {"runyard.metrics"},
    "runyard.gateway": {"runyard.metrics"},
    "runyard.storage": {"runyard.deps", "runyard.gateway", "runyard.metrics", "runyard.tasks"},
}


def test_layers_import_nothing_above_them() -> None:
    wrong = []
    for module, targets in _imports().items():
        for layer, above in FORBIDDEN.items():
            if module == layer or module.startswith(layer + "."):
                wrong += [
                    (module, t)
                    for t in targets
                    if any(t.startswith(p) for p in above) and not t.startswith(layer)
                ]
    assert wrong == []
