"""grade makes the manifest's data ready before any sandboxed kernel starts (the kernels
have no network and a read-only data cache), and a missing dataset stops it with the fix."""

from __future__ import annotations

import json
from pathlib import Path

from fixtures.autograder_support import A, NB1, NB2, edit, new_course, put, run_cli, solution

SAMPLE = Path(__file__).resolve().parent / "data" / "imdb_sample.tar.gz"


def _needs_imdb(course):
    toml = course / "assignments" / f"{A}.toml"
    toml.write_text(toml.read_text() + "\n[data]\nimdb = true\n")


def test_prepare_data_builds_the_parse_cache(tmp_path, monkeypatch):
    from autograder.data_prep import prepare_data
    from autograder.manifest import load_manifest

    course = new_course(tmp_path / "course")
    _needs_imdb(course)
    monkeypatch.setenv("NNKIT_IMDB_PATH", str(SAMPLE))
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path / "cache"))
    lines = []
    done = prepare_data(load_manifest(course, A), echo=lines.append)
    assert [name for name, _ in done] == ["imdb"]
    assert len(list((tmp_path / "cache" / "imdb" / "parsed").glob("*"))) == 2  # train and test
    assert lines and "IMDB ready" in lines[0]


def test_a_manifest_without_data_loads_nothing(tmp_path, monkeypatch):
    from autograder.data_prep import prepare_data
    from autograder.manifest import load_manifest

    monkeypatch.setenv("NNKIT_IMDB_PATH", str(tmp_path / "missing"))
    assert prepare_data(load_manifest(new_course(tmp_path / "course"), A)) == []


def test_missing_data_stops_grade_with_the_fix_and_loses_no_grade(tmp_path):
    course = new_course(tmp_path / "course")
    _needs_imdb(course)
    put(course, "alice", {NB1: solution(NB1), NB2: solution(NB2)})
    proc = run_cli("grade", A, course=course, check=False,
                   env={"NNKIT_IMDB_PATH": str(tmp_path / "nowhere" / "aclImdb_v1.tar.gz"),
                        "NNKIT_DATA_DIR": str(tmp_path / "cache")})
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    assert "reads IMDB" in err and "NNKIT_IMDB_PATH" in err, err
    state = course / "grades" / A / "grading.json"
    assert not state.exists() or "alice" not in json.loads(state.read_text()).get("students", {})


def test_sandboxed_kernels_read_the_cache_the_grader_built(tmp_path):
    course = new_course(tmp_path / "course")
    _needs_imdb(course)
    s1 = solution(NB1)
    relu = "".join(c.source for c in s1.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "relu")
    reads = "from nnkit.data import load_imdb\nassert len(load_imdb('test')) == len(load_imdb('train')) > 0\n" + relu
    put(course, "alice", {NB1: edit(s1, "relu", reads), NB2: solution(NB2)})
    cache = tmp_path / "cache"
    proc = run_cli("grade", A, course=course, env={"NNKIT_IMDB_PATH": str(SAMPLE), "NNKIT_DATA_DIR": str(cache)})
    assert "IMDB ready" in proc.stdout
    entry = json.loads((course / "grades" / A / "grading.json").read_text())["students"]["alice"]
    assert entry["score"] == 8, entry
    assert len(list((cache / "imdb" / "parsed").glob("*"))) == 2
