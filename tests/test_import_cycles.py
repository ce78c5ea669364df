"""No import cycle among the modules of autograder/ and nnkit/, counting every import statement
(also those inside functions: a cycle deferred into a function is still two modules that need
each other)."""

import ast
from pathlib import Path

from conftest import REPO

PACKAGES = ("autograder", "nnkit")


def _modules():
    out = {}
    for pkg in PACKAGES:
        for path in (REPO / pkg).rglob("*.py"):
            rel = path.relative_to(REPO).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _imports(name, path, known):
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    found = set()

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                pkg = pkg[:len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            found.add(base)
            for alias in node.names:
                found.add(f"{base}.{alias.name}")
    return {m for m in found if m in known and m != name}


def _cycles(graph):
    cycles, state, stack = [], {}, []

    def dfs(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                cycles.append(stack[stack.index(m):] + [m])
            elif m not in state:
                dfs(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            dfs(n)
    return cycles


def test_no_import_cycles():
    mods = _modules()
    graph = {name: _imports(name, path, mods) for name, path in mods.items()}
    # a package's __init__ importing its own submodules (and a submodule importing its package)
    # is how packages work, not a cycle
    for name in graph:
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".") and not name.startswith(m + ".")}
    cycles = _cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_walk_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"a"}}) and not _cycles({"a": {"b"}, "b": set()})
