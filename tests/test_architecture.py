"""The package layout keeps its rules: no import cycles (imports inside functions count), the CLI
is imported by nobody, ``harness`` imports ``train`` only from ``harness/cli``, each layer imports
only the layers below it, and no module is over 500 lines (generated data excepted).

The checker reads the source with :mod:`ast` (nothing is imported), so it also runs on a small
synthetic package, where each rule is shown to fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MAX_LINES = 500
GENERATED: set[str] = set()  # modules of generated data (none: derived tables are JSON files)

_BASE = {"errors", "_util"}
_BELOW_BENCH = {"agent", "world", "backends", "serving"}
# component -> the components it may import (besides itself); a component is harness.<name>
# or train. "report" renders bench runs; "analysis" is the measuring layer regress and diagnose share.
LAYERS: dict[str, set[str]] = {
    "errors": set(),
    "_util": {"errors"},
    "world": _BASE,
    "agent": _BASE | {"world"},
    "serving": _BASE,
    "backends": _BASE | {"serving", "world"},  # the expert / random policies play the world
    "bench": _BASE | _BELOW_BENCH,
    "report": _BASE | {"bench", "world"},  # the world names the task types (SHORT_NAMES)
    "analysis": _BASE | {"bench"} | _BELOW_BENCH,
    "regress": _BASE | {"analysis", "bench", "report"} | _BELOW_BENCH,
    "diagnose": _BASE | {"analysis", "bench", "report"} | _BELOW_BENCH,
    "env": {"world"},  # the old name of harness.world, kept as a re-export
    "__main__": {"cli"},
    "": set(),  # harness/__init__.py
}
LAYERS["train"] = set(LAYERS) - {"__main__", ""}  # the model factory uses the library, never the CLI
LAYERS["cli"] = set(LAYERS)  # the CLI may import everything, train included


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def collect_imports(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """module -> the project modules it imports, anywhere in its body. ``from pkg import name``
    counts as importing ``pkg.name`` when that is a module, else ``pkg``."""
    files = {module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    src = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    src = node.module or ""
                targets = [f"{src}.{a.name}" if f"{src}.{a.name}" in files else src for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in files:  # ``import a.b.c`` of a name inside a module
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    deps.add(t)
        graph[mod] = deps
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def component(mod: str) -> str:
    top, _, rest = mod.partition(".")
    return "train" if top == "train" else rest.partition(".")[0]


def layer_violations(graph: dict[str, set[str]], layers: dict[str, set[str]]) -> list[str]:
    bad = []
    for mod, deps in sorted(graph.items()):
        mine = component(mod)
        allowed = layers.get(mine)
        for dep in sorted(deps):
            theirs = component(dep)
            if theirs == mine:
                continue
            if allowed is None:
                bad.append(f"{mod}: component {mine!r} has no layer rule")
            elif theirs not in allowed:
                bad.append(f"{mod} -> {dep} ({mine} may not import {theirs})")
    return bad


def cli_imports(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{m} -> {d}"
        for m, deps in sorted(graph.items())
        for d in sorted(deps)
        if component(d) == "cli" and component(m) not in ("cli", "__main__")
    ]


def train_imports(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{m} -> {d}"
        for m, deps in sorted(graph.items())
        for d in sorted(deps)
        if m.startswith("harness") and d.startswith("train") and component(m) != "cli"
    ]


def long_modules(root: Path, packages: tuple[str, ...], exempt: set[str]) -> list[str]:
    return [
        f"{p.relative_to(root)}: {n} lines"
        for pkg in packages
        for p in sorted((root / pkg).rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_LINES and str(p.relative_to(root)) not in exempt
    ]


# ------------------------------------------------------------------------------ the project
@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return collect_imports(REPO, ("harness", "train"))


def test_the_graph_sees_the_project(graph: dict[str, set[str]]) -> None:
    assert "harness.world.game" in graph["harness.world.loader"]
    assert "harness.agent.protocol" in graph["harness.analysis.agreement"]  # an import inside a function
    assert "train.data" in graph["harness.cli.data"]


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    assert find_cycles(graph) == []


def test_no_library_module_imports_the_cli(graph: dict[str, set[str]]) -> None:
    assert cli_imports(graph) == []


def test_harness_imports_train_only_from_the_cli(graph: dict[str, set[str]]) -> None:
    assert train_imports(graph) == []


def test_layers_import_only_what_is_below_them(graph: dict[str, set[str]]) -> None:
    assert layer_violations(graph, LAYERS) == []


def test_modules_stay_small() -> None:
    assert long_modules(REPO, ("harness", "train"), GENERATED) == []


# ------------------------------------------------------------------------------ the checker itself
def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_the_checker_fails_on_a_bad_package(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "harness/__init__.py": "",
            "harness/world/__init__.py": "",
            "harness/world/a.py": "def f():\n    from harness.world import b\n",  # inside a function
            "harness/world/b.py": "from . import a\n",  # relative, closing the cycle
            "harness/serving/__init__.py": "",
            "harness/serving/s.py": "import harness.bench.runner\n",  # upward
            "harness/bench/__init__.py": "",
            "harness/bench/runner.py": "from harness.cli.main import go\nfrom train.t import x\n",
            "harness/cli/__init__.py": "",
            "harness/cli/main.py": "import train.t\n\ndef go(): ...\n",
            "train/__init__.py": "",
            "train/t.py": "from harness.cli import main\nx = 1\n" + "pass\n" * MAX_LINES,
        },
    )
    g = collect_imports(tmp_path, ("harness", "train"))
    assert sorted(find_cycles(g)) == [["harness.cli.main", "train.t"], ["harness.world.a", "harness.world.b"]]
    assert cli_imports(g) == ["harness.bench.runner -> harness.cli.main", "train.t -> harness.cli.main"]
    assert train_imports(g) == ["harness.bench.runner -> train.t"]
    bad = layer_violations(g, LAYERS)
    assert "harness.serving.s -> harness.bench.runner (serving may not import bench)" in bad
    assert "harness.bench.runner -> harness.cli.main (bench may not import cli)" in bad
    assert "train.t -> harness.cli.main (train may not import cli)" in bad
    assert not any(b.startswith("harness.cli.main") for b in bad)  # the CLI may import anything
    assert long_modules(tmp_path, ("harness", "train"), set()) == [f"train/t.py: {MAX_LINES + 2} lines"]
    assert long_modules(tmp_path, ("harness", "train"), {"train/t.py"}) == []


def test_the_checker_passes_a_good_package(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "harness/__init__.py": "",
            "harness/world/__init__.py": "from harness.world.game import Game\n",
            "harness/world/game.py": "from harness.errors import E\n\nclass Game: ...\n",
            "harness/errors.py": "class E(Exception): ...\n",
            "harness/bench/__init__.py": "",
            "harness/bench/runner.py": "def f():\n    from harness.world import Game\n",
            "harness/cli/__init__.py": "import train.t\nfrom harness.bench import runner\n",
            "train/__init__.py": "",
            "train/t.py": "from harness.bench.runner import f\n",
        },
    )
    g = collect_imports(tmp_path, ("harness", "train"))
    assert g["harness.bench.runner"] == {"harness.world"}
    assert g["harness.cli"] == {"train.t", "harness.bench.runner"}
    assert (find_cycles(g), cli_imports(g), train_imports(g), layer_violations(g, LAYERS)) == ([], [], [], [])
