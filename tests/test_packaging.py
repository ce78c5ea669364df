"""The pins stay in one place: pyproject (loose), constraints.txt (exact), environment.yml (thin)."""

from __future__ import annotations

import re
import subprocess
import sys


try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib

from conftest import REPO

PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)")


def _norm(name):
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()


def constraints():
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        m = PIN.match(line.strip())
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    return pins


def pyproject():
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def requirement_names(reqs):
    return [_norm(re.split(r"[<>=!~;\s\[]", r, maxsplit=1)[0]) for r in reqs]


def env_yml_pip_lines():
    text = (REPO / "environment.yml").read_text()
    lines, in_pip = [], False
    for raw in text.splitlines():
        s = raw.strip()
        if s.startswith("- pip:"):
            in_pip = True
            continue
        if in_pip:
            if s.startswith("- "):
                lines.append(s[2:].strip())
            elif s and not s.startswith("#"):
                in_pip = False
    return text, lines


def test_every_dependency_is_pinned():
    pins = constraints()
    proj = pyproject()["project"]
    reqs = list(proj["dependencies"])
    for extra in ("grader", "dev", "torch"):
        reqs += proj["optional-dependencies"][extra]
    missing = [n for n in requirement_names(reqs) if n not in pins]
    assert not missing, f"constraints.txt has no pin for {missing}: regenerate it with pip freeze"


def test_key_pins():
    pins = constraints()
    assert pins["torch"] == "2.13.0", "torch pin must be the plain 2.13.0 (no local +cpu tag)"
    assert pins["nbgrader"] == "0.9.6"
    assert not any("+" in v for v in pins.values()), "local version tags cannot be fetched elsewhere"


def test_library_requirements_stay_loose():
    """Installing nnkit in Colab must never replace the user's numpy/torch/matplotlib."""
    proj = pyproject()["project"]
    for req in proj["dependencies"] + proj["optional-dependencies"]["torch"]:
        assert "==" not in req, f"library requirement {req!r} is pinned; pins belong in constraints.txt"
        spec = req.split(";")[0]  # an environment marker (python_version < '3.11') is not a version bound
        assert "<" not in spec or req.startswith("nbgrader"), f"{req!r} has an upper bound"


def test_environment_yml_matches_constraints():
    text, lines = env_yml_pip_lines()
    assert "-c constraints.txt" in lines, "environment.yml must install with the same constraints"
    assert any(l.startswith("-e .[") and "grader" in l and "dev" in l for l in lines)
    pins = constraints()
    listed = {}
    for l in lines:
        m = PIN.match(l)
        if m:
            listed[_norm(m.group(1))] = m.group(2)
    assert listed, "environment.yml lists no pins"
    drift = {k: (v, pins.get(k)) for k, v in listed.items() if pins.get(k) != v}
    assert not drift, f"environment.yml drifted from constraints.txt: {drift}"
    py = re.search(r"-\s*python=(\d+\.\d+)", text)
    assert py, "environment.yml must pin the python version"
    req = pyproject()["project"]["requires-python"]
    low = re.search(r">=\s*(\d+)\.(\d+)", req)
    assert tuple(map(int, py.group(1).split("."))) >= (int(low.group(1)), int(low.group(2)))


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in readme and "make demo" in readme
    cmds = [l.strip() for l in ci.splitlines() if l.strip() and not l.strip().startswith("#")]
    assert cmds[-1] == "make test", f".ci/run must end with exactly `make test`, got {cmds[-1]!r}"


def test_package_imports_without_torch_installed_first():
    """`import nnkit` and its numpy parts must not import torch (Colab users import it cheaply)."""
    code = "import sys, nnkit, nnkit.gradcheck, nnkit.solver, nnkit.data; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
