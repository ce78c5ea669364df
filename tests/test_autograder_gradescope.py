"""The Gradescope package, run against a fake /autograder root laid out like Gradescope's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest

from fixtures.autograder_support import A, FIXTURE_COURSE, NB1, NB2, release, run_cli, solution, strip_metadata

pytestmark = pytest.mark.slow

REPO_TESTS = __import__("pathlib").Path(__file__).resolve().parent
TOP_KEYS = {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
TEST_KEYS = {"score", "max_score", "status", "name", "number", "output", "tags", "visibility"}


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("gs") / "tiny_autograder.zip"
    proc = run_cli("gradescope", A, "--out", str(out), course=FIXTURE_COURSE)
    assert proc.stdout.strip().startswith(f"gradescope {A}: wrote {out}")
    return out


def fake_root(tmp_path, package, files):
    """Lay out <tmp>/autograder like Gradescope: source/ (the zip), run_autograder, submission/, results/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(package) as zf:
        zf.extractall(root / "source")
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    os.chmod(root / "run_autograder", 0o755)
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    for name, nb in files.items():
        nbformat.write(nb, root / "submission" / name)
    return root


def run_autograder(root):
    env = dict(os.environ, NNKIT_AUTOGRADER_ROOT=str(root), NNKIT_PYTHON=sys.executable)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=300, cwd=str(root))
    assert proc.returncode == 0, proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert TOP_KEYS <= set(results), results
    for t in results["tests"]:
        assert TEST_KEYS <= set(t) and t["status"] in ("passed", "failed")
        assert t["visibility"] in ("hidden", "after_due_date", "after_published", "visible")
    return results


def test_package_layout(package):
    with zipfile.ZipFile(package) as zf:
        names = set(zf.namelist())
        mode = zf.getinfo("run_autograder").external_attr >> 16
    assert {"setup.sh", "run_autograder", "requirements.txt", "constraints.txt", "package.json",
            f"course/assignments/{A}.toml", f"course/source/{A}/{NB1}", "lib/autograder/grading.py",
            "lib/autograder/execution/kernel.py", "lib/autograder/execution/sandbox/launcher.py", "lib/nnkit/grading.py"} <= names
    assert mode & 0o111
    assert not any("__pycache__" in n for n in names)


def test_solution_gets_full_marks(tmp_path, package):
    res = run_autograder(fake_root(tmp_path, package, {NB1: solution(NB1), NB2: solution(NB2)}))
    assert res["score"] == 8 and sum(t["max_score"] for t in res["tests"]) == 8
    assert all(t["status"] == "passed" for t in res["tests"]) and len(res["tests"]) == 5


def test_blank_release_gets_zero(tmp_path, package):
    res = run_autograder(fake_root(tmp_path, package, {NB1: release(NB1), NB2: release(NB2)}))
    assert res["score"] == 0 and all(t["status"] == "failed" for t in res["tests"])
    assert all("HIDDEN-MARKER" not in t["output"] for t in res["tests"])


def test_renamed_colab_upload_is_recognized(tmp_path, package):
    res = run_autograder(fake_root(tmp_path, package, {"Copy of 01_basics.ipynb": strip_metadata(solution(NB1))}))
    assert res["score"] == 4
    assert "02_more.ipynb was not handed in" in res["output"]
    assert "graded as 01_basics.ipynb" in res["output"]


def test_prepare_loads_the_declared_data_into_the_image(tmp_path):
    """setup.sh's data step: IMDB (here the repo's sample) parsed into <root>/data, which
    run_autograder points NNKIT_DATA_DIR at; a missing source fails with the fix."""
    from fixtures.autograder_support import new_course

    course = new_course(tmp_path / "course")
    toml = course / "assignments" / f"{A}.toml"
    toml.write_text(toml.read_text() + "\n[data]\nimdb = true\n")
    out = tmp_path / "pkg.zip"
    run_cli("gradescope", A, "--out", str(out), course=course)
    root = fake_root(tmp_path, out, {})
    env = dict(os.environ, PYTHONPATH=str(root / "source" / "lib"),
               NNKIT_IMDB_PATH=str(REPO_TESTS / "data" / "imdb_sample.tar.gz"))
    env.pop("NNKIT_DATA_DIR", None)
    cmd = [sys.executable, "-m", "autograder.gradescope", "prepare", "--root", str(root)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "imdb ready" in proc.stdout
    assert len(list((root / "data" / "imdb" / "parsed").glob("*"))) == 2
    assert 'NNKIT_DATA_DIR="${NNKIT_DATA_DIR:-$ROOT/data}"' in (root / "run_autograder").read_text()
    env["NNKIT_IMDB_PATH"] = str(tmp_path / "missing.tar.gz")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert proc.returncode == 2 and "NNKIT_IMDB_PATH" in proc.stderr, proc.stderr


def test_the_package_declares_and_the_command_prints_the_memory_it_needs(package):
    """The fixture manifest measured nothing: the command says so; a measured one names the size to set."""
    from dataclasses import replace

    from autograder.commands.gradescope import memory_line
    from autograder.manifest import load_manifest

    with zipfile.ZipFile(package) as zf:
        declared = json.loads(zf.read("package.json"))
    manifest = load_manifest(FIXTURE_COURSE, A)
    assert declared["memory_mb_needed"] == (manifest.limits.container_memory_mb or None)
    assert "not measured" in memory_line(replace(manifest, limits=replace(manifest.limits, container_memory_mb=0)))
    big = memory_line(replace(manifest, limits=replace(manifest.limits, container_memory_mb=1536)))
    assert "needs 1536 MB" in big and "at least 1536 MB" in big
    assert "enough" in memory_line(replace(manifest, limits=replace(manifest.limits, container_memory_mb=700)))


def test_every_course_assignment_declares_its_container_memory():
    from pathlib import Path

    from autograder.manifest import list_assignments, load_manifest

    repo = Path(__file__).resolve().parents[1]
    for a in list_assignments(repo):
        assert load_manifest(repo, a).limits.container_memory_mb > 0, \
            f"{a}: set [limits] container_memory_mb from `python benchmarks/grading_memory.py`"
