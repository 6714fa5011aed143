"""The import graph follows DESIGN.md: data flows one way, the core never reaches back up.

Every ``import`` (module level and inside functions) of every module is parsed with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "hurricane_ode"

#: packages/modules that must never import the ones listed beside them
FORBIDDEN = {
    "hurricane_ode.data": ("hurricane_ode.training", "hurricane_ode.forecasting", "hurricane_ode.evaluation", "hurricane_ode.demo"),
    "hurricane_ode.models": ("hurricane_ode.training", "hurricane_ode.forecasting", "hurricane_ode.evaluation", "hurricane_ode.demo"),
    "hurricane_ode.metrics": ("hurricane_ode.training", "hurricane_ode.forecasting", "hurricane_ode.evaluation", "hurricane_ode.demo"),
    "hurricane_ode.timeutil": ("hurricane_ode.data",),
    "hurricane_ode.verification": ("hurricane_ode.training", "hurricane_ode.evaluation", "hurricane_ode.demo"),
    "hurricane_ode.forecasting": ("hurricane_ode.training", "hurricane_ode.evaluation", "hurricane_ode.demo"),
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the hurricane_ode modules ``path`` imports (anywhere in the file)."""
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("hurricane_ode")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("hurricane_ode"):
                found.add(mod)
                # "from hurricane_ode.data import store" imports the submodule too
                found |= {f"{mod}.{a.name}" for a in node.names if (PKG.parent / f"{mod}.{a.name}".replace(".", "/")).with_suffix(".py").exists()}
    return found


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PKG.rglob("*.py")}


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_lower_layers_never_import_upper_ones(layer):
    bad = {
        mod: sorted(t for t in targets if any(_under(t, f) for f in FORBIDDEN[layer]))
        for mod, targets in _graph().items()
        if _under(mod, layer)
    }
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"{layer} reaches up the stack: {bad}"


def test_inference_never_imports_training():
    targets = _imports(PKG / "models" / "inference.py")
    assert not [t for t in targets if _under(t, "hurricane_ode.training")]


def test_module_level_import_graph_has_no_cycle():
    """Cycles among module-level imports (function-level imports are deliberate late binding)."""
    graph: dict[str, set[str]] = {}
    for p in PKG.rglob("*.py"):
        tree = ast.parse(p.read_text())
        me = _module_name(p)
        package = me if p.name == "__init__.py" else me.rsplit(".", 1)[0]
        deps = set()
        for node in tree.body:  # module level only
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("hurricane_ode")}
            elif isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                if mod.startswith("hurricane_ode"):
                    deps.add(mod)
        graph[me] = {d for d in deps if d != me}
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        colour[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if d not in graph:
                continue
            if colour.get(d) == 1 and not _under(n, d):  # a package importing its own parts is fine
                return stack[stack.index(d):] + [d]
            if d not in colour and (cycle := visit(d)):
                return cycle
        colour[n] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in colour and (cycle := visit(node)):
            pytest.fail(f"import cycle: {' -> '.join(cycle)}")


def test_no_module_over_400_lines():
    long = {str(p.relative_to(PKG)): n for p in PKG.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
