"""collect: LMS file names, zips, rosters, newest copy, lateness, what cannot be placed (no kernels)."""

from __future__ import annotations

import datetime as dt
import os
import zipfile

import nbformat
import pytest

from autograder.collect import collect
from autograder.course import Course, CourseError, read_json
from autograder.notebook.names import canonical_stem, parse_owner_dir, parse_owner_name
from fixtures.autograder_support import A, NB1, NB2, new_course, release, solution, strip_metadata


@pytest.fixture
def course(tmp_path):
    return Course(new_course(tmp_path / "course"))


def nbbytes(nb):
    return nbformat.writes(nb).encode()


def write_zip(path, entries):
    """entries: {name: (bytes, datetime or None)}"""
    with zipfile.ZipFile(path, "w") as zf:
        for name, (data, when) in entries.items():
            info = zipfile.ZipInfo(name, date_time=(when or dt.datetime(2030, 1, 10, 12, 0, 0)).timetuple()[:6])
            zf.writestr(info, data)
    return path


# ---- names ------------------------------------------------------------------------------------


def test_canvas_names():
    owner, f = parse_owner_name("smithbob_340934_208490284_01_basics.ipynb")
    assert (owner.lms, owner.student, f, owner.late_flag) == ("canvas", "smithbob", "01_basics.ipynb", False)
    assert owner.aliases == {"340934", "smithbob"}
    owner, f = parse_owner_name("smithbob_LATE_340934_208490299_01_basics-1.ipynb")
    assert owner.late_flag and f == "01_basics-1.ipynb" and owner.order == 208490299


def test_moodle_names():
    owner, f = parse_owner_name("Jane Doe_12345_assignsubmission_file_01_basics.ipynb")
    assert (owner.lms, owner.student, f) == ("moodle", "Jane_Doe", "01_basics.ipynb")
    assert {"12345", "Jane Doe"} <= owner.aliases
    owner = parse_owner_dir("Jane Doe_12345_assignsubmission_file_")
    assert (owner.lms, owner.student) == ("moodle", "Jane_Doe")
    assert parse_owner_dir("alice").lms == "folder"


def test_blackboard_names():
    owner, f = parse_owner_name("Assignment 1_jdoe7_attempt_2030-01-14-23-59-59_01_basics.ipynb")
    assert (owner.lms, owner.student, f) == ("blackboard", "jdoe7", "01_basics.ipynb")
    assert owner.time == dt.datetime(2030, 1, 14, 23, 59, 59)
    owner, f = parse_owner_name("Assignment 1_jdoe7_attempt_2030-01-14-23-59-59.txt")
    assert owner.student == "jdoe7" and f == ""


@pytest.mark.parametrize("name", ["01_basics.ipynb", "Copy of 01_basics.ipynb", "01_basics (1).ipynb",
                                  "01_basics-2.ipynb", "01-Basics.ipynb", "Copy of 01_basics (3).ipynb",
                                  "01_basics - Copy.ipynb"])
def test_renamed_notebooks_have_the_same_canonical_name(name):
    assert canonical_stem(name) == "01_basics"


# ---- collect ----------------------------------------------------------------------------------


def test_canvas_zip_newest_copy_lateness_and_unplaced(course, tmp_path):
    s1, s2 = nbbytes(solution(NB1)), nbbytes(solution(NB2))
    blank1 = nbbytes(release(NB1))
    z = write_zip(tmp_path / "submissions.zip", {
        # bob handed in 01 twice: the later one must win
        "smithbob_1001_5001_01_basics.ipynb": (blank1, dt.datetime(2030, 1, 10, 9, 0)),
        "smithbob_1001_5002_01_basics-1.ipynb": (s1, dt.datetime(2030, 1, 12, 9, 0)),
        "smithbob_1001_5003_Copy of 02_more.ipynb": (s2, dt.datetime(2030, 1, 12, 9, 5)),
        # alice is late (Canvas flag and time after the due date 2030-01-15T23:59 UTC)
        "jonesalice_LATE_1002_5004_01_basics.ipynb": (s1, dt.datetime(2030, 1, 16, 8, 0)),
        # carol's file has an unrelated name but is 02_more by content
        "leecarol_1003_5005_homework.ipynb": (nbbytes(strip_metadata(solution(NB2))), None),
        "leecarol_1003_5006_notes.pdf": (b"%PDF-1.4", None),
        "stray.ipynb": (s1, None),
        "__MACOSX/._smithbob_1001_5001_01_basics.ipynb": (b"junk", None),
    })
    res = collect(course, A, z)
    assert sorted(res.students) == ["jonesalice", "leecarol", "smithbob"]
    bob = course.submitted_dir("smithbob", A)
    assert (bob / NB1).read_bytes() == s1 and (bob / NB2).read_bytes() == s2
    assert any("2 copies of 01_basics.ipynb" in n for n in res.notes["smithbob"])
    assert (bob / "timestamp.txt").read_text().startswith("2030-01-12 09:05:00")
    assert res.late == ["jonesalice"]
    assert res.students["jonesalice"][NB1]["seconds_late"] == pytest.approx(8 * 3600 + 60)
    assert (course.submitted_dir("leecarol", A) / NB2).is_file()
    assert any("recognized by content" in n for n in res.notes["leecarol"])
    reasons = {u["file"]: u["reason"] for u in res.unplaced}
    assert "not a notebook (.pdf)" in reasons["leecarol_1003_5006_notes.pdf"]
    assert "cannot tell whose file" in reasons["stray.ipynb"]
    assert not any("__MACOSX" in f for f in reasons)
    saved = read_json(course.state_dir(A) / "collect.json")
    assert set(saved["students"]) == {"jonesalice", "leecarol", "smithbob"} and saved["unplaced"]


def test_roster_maps_lms_ids_and_flags_strangers(course, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,canvas_id,email\ns001,Bob Smith,1001,bob@uni.edu\n"
                      "s002,Jane Doe,12345,jane@uni.edu\ns003,Never Submitted,999,x@uni.edu\n")
    folder = tmp_path / "download"
    folder.mkdir()
    (folder / "smithbob_1001_5001_01_basics.ipynb").write_bytes(nbbytes(solution(NB1)))
    (folder / "intruder_4242_5002_01_basics.ipynb").write_bytes(nbbytes(solution(NB1)))
    moodle = folder / "Jane Doe_12345_assignsubmission_file_"
    moodle.mkdir()
    (moodle / "02_more.ipynb").write_bytes(nbbytes(solution(NB2)))
    res = collect(course, A, folder, roster=roster)
    assert sorted(res.students) == ["s001", "s002"]
    assert (course.submitted_dir("s002", A) / NB2).is_file()
    assert any("not on the roster" in u["reason"] for u in res.unplaced)
    assert read_json(course.state_dir(A) / "collect.json")["roster"] == ["s001", "s002", "s003"]


def test_blackboard_download_uses_attempt_times(course, tmp_path):
    folder = tmp_path / "bb"
    folder.mkdir()
    early = "HW_jdoe7_attempt_2030-01-14-10-00-00"
    late = "HW_jdoe7_attempt_2030-01-16-10-00-00"
    (folder / f"{early}_01_basics.ipynb").write_bytes(nbbytes(release(NB1)))
    (folder / f"{late}_01_basics.ipynb").write_bytes(nbbytes(solution(NB1)))
    (folder / f"{late}.txt").write_text("Name: J Doe (jdoe7)\n")
    os.utime(folder / f"{early}_01_basics.ipynb", (2e9, 2e9))  # file times must not override the name
    res = collect(course, A, folder)
    assert list(res.students) == ["jdoe7"]
    assert res.students["jdoe7"][NB1]["late"] is True
    assert b"np.maximum" in (course.submitted_dir("jdoe7", A) / NB1).read_bytes()
    assert not res.unplaced


def test_per_student_folders_and_nested_zip(course, tmp_path):
    folder = tmp_path / "folders"
    (folder / "alice").mkdir(parents=True)
    (folder / "alice" / "01_basics (1).ipynb").write_bytes(nbbytes(solution(NB1)))
    (folder / "alice" / "broken.ipynb").write_bytes(b'{"cells": [')
    write_zip(folder / "bob_2001_6001_work.zip", {"work/01_basics.ipynb": (nbbytes(solution(NB1)), None),
                                                  "work/02_more.ipynb": (nbbytes(solution(NB2)), None)})
    res = collect(course, A, folder)
    assert sorted(res.students) == ["alice", "bob"]
    # alice's unreadable second file is placed as the only candidate for 02_more (grading reports why)
    assert (course.submitted_dir("alice", A) / NB2).read_bytes() == b'{"cells": ['
    assert sorted(p.name for p in course.submitted_dir("bob", A).iterdir()) == [NB1, NB2, "timestamp.txt"]


def test_recollect_keeps_the_newer_submission(course, tmp_path):
    new = tmp_path / "new"
    new.mkdir()
    (new / "bob_1_2_01_basics.ipynb").write_bytes(nbbytes(solution(NB1)))
    os.utime(new / "bob_1_2_01_basics.ipynb", (1.9e9, 1.9e9))
    collect(course, A, new)
    old = tmp_path / "old"
    old.mkdir()
    (old / "bob_1_1_01_basics.ipynb").write_bytes(nbbytes(release(NB1)))
    os.utime(old / "bob_1_1_01_basics.ipynb", (1.8e9, 1.8e9))
    res = collect(course, A, old)
    assert "bob" not in res.students
    assert b"np.maximum" in (course.submitted_dir("bob", A) / NB1).read_bytes()


def test_bad_inputs_say_what_to_do(course, tmp_path):
    with pytest.raises(CourseError, match="does not exist"):
        collect(course, A, tmp_path / "nope")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(CourseError, match="not a .zip"):
        collect(course, A, tmp_path / "x.txt")
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(CourseError, match="not a readable zip"):
        collect(course, A, tmp_path / "bad.zip")
    (tmp_path / "r.csv").write_text("name\nbob\n")
    (tmp_path / "d").mkdir()
    with pytest.raises(CourseError, match="no student_id column"):
        collect(course, A, tmp_path / "d", roster=tmp_path / "r.csv")


def test_lms_times_in_a_time_zone(course, tmp_path):
    folder = tmp_path / "bb"
    folder.mkdir()
    (folder / "HW_jdoe7_attempt_2030-01-16-00-30-00_01_basics.ipynb").write_bytes(nbbytes(solution(NB1)))
    assert collect(course, A, folder).late == ["jdoe7"]  # 00:30 UTC on the 16th: after the due date
    other = Course(new_course(tmp_path / "other"))
    res = collect(other, A, folder, timezone="Europe/Berlin")  # 23:30 UTC on the 15th: on time
    assert res.late == [] and res.students["jdoe7"][NB1]["time"].startswith("2030-01-15T23:30:00")
    with pytest.raises(CourseError, match="unknown time zone"):
        collect(course, A, folder, timezone="Mars/Olympus")
