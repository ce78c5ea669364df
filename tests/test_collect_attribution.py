"""collect: files are attributed only from the LMS's own naming of an upload (security review findings).

A student controls everything inside their upload (file names, folders, zips and the times in them) and
the end of the LMS file name (their original file name). None of that may move a file to another student,
change the upload's time, or abort the collect.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile

import nbformat
import pytest

from autograder.collect import collect
from autograder.course import Course, read_json
from autograder.notebook.names import parse_owner_name
from fixtures.autograder_support import A, NB1, NB2, new_course, release, run_cli, solution

BAD = b"\xe9\xe9"  # latin-1 "éé": not valid UTF-8


def nbbytes(nb):
    return nbformat.writes(nb).encode()


def zip_bytes(entries):
    """entries: {name: (bytes, datetime or None)} -> the zip's bytes (a placeholder 'é' becomes BAD, see below)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, (data, when) in entries.items():
            info = zipfile.ZipInfo(name, date_time=(when or dt.datetime(2030, 1, 10, 12, 0, 0)).timetuple()[:6])
            zf.writestr(info, data)
    return buf.getvalue()


def zip_with_non_utf8_names(entries):
    """A zip whose entries named with 'é' carry raw latin-1 bytes although their UTF-8 flag is set.

    zipfile writes 'é' as UTF-8 (C3 A9) with the flag; patching those two bytes in the local and central
    headers to E9 E9 gives what some zip tools produce: a name that is not UTF-8 in a "UTF-8" entry.
    """
    data = zip_bytes(entries)
    assert not any(b"\xc3\xa9" in d for d, _ in entries.values())
    return data.replace("é".encode(), BAD)


def write(path, data, when=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if when is not None:
        t = when.replace(tzinfo=dt.timezone.utc).timestamp()
        os.utime(path, (t, t))
    return path


def snapshot(folder):
    """{name: (bytes, mtime_ns)} of every file in a submitted/<student>/<a> folder."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def collect_json(course):
    return read_json(Course(course).state_dir(A) / "collect.json")


# ---- names: the student's own file name never decides the owner --------------------------------


@pytest.mark.parametrize("name, lms, student", [
    # Canvas prefix, the student's file named like a Blackboard attempt of the victim
    ("impostorim_1001_5001_HW_victimvic_attempt_2030-01-01-00-00-00_01_basics.ipynb", "canvas", "impostorim"),
    # Canvas prefix, the student's file named like the victim's Moodle file
    ("impostorim_1001_5001_Vic Tim_222_assignsubmission_file_01_basics.ipynb", "canvas", "impostorim"),
    # Blackboard prefix, the student's file named like another Blackboard attempt
    ("HW_imp_attempt_2030-01-16-10-00-00_HW_victimvic_attempt_2030-01-01-00-00-00_01_basics.ipynb",
     "blackboard", "imp"),
    # Moodle prefix, the student's file named like a Blackboard attempt
    ("Imp Ostor_111_assignsubmission_file_HW_victimvic_attempt_2030-01-01-00-00-00_01_basics.ipynb",
     "moodle", "Imp_Ostor"),
])
def test_the_lms_prefix_names_the_owner_not_the_students_file_name(name, lms, student):
    owner, original = parse_owner_name(name)
    assert (owner.lms, owner.student) == (lms, student)
    assert original.endswith("01_basics.ipynb") and original != "01_basics.ipynb"
    if lms == "blackboard":
        assert owner.time == dt.datetime(2030, 1, 16, 10, 0, 0)  # the LMS's attempt time, not the forged one


def test_blackboard_assignment_names_with_underscores_still_parse():
    owner, original = parse_owner_name("HW_3_part_a_jdoe7_attempt_2030-01-14-23-59-59_01_basics.ipynb")
    assert (owner.lms, owner.student, original) == ("blackboard", "jdoe7", "01_basics.ipynb")


# ---- impostors: through the command -------------------------------------------------------------


def test_file_in_impostors_zip_named_like_victims_canvas_file_is_the_impostors(tmp_path):
    course = new_course(tmp_path / "course")
    victim_file = "victimvic_1002_5002_01_basics.ipynb"
    mine, forged, s2 = nbbytes(solution(NB1)), nbbytes(release(NB1)), nbbytes(solution(NB2))
    first = write(tmp_path / "first.zip", zip_bytes({victim_file: (mine, dt.datetime(2030, 1, 12, 9, 0))}))
    run_cli("collect", A, str(first), course=course)
    victim_dir = course / "submitted" / "victimvic" / A
    before = snapshot(victim_dir)
    assert sorted(before) == [NB1, "timestamp.txt"]

    # the impostor's own zip holds a file named like the victim's Canvas file, newer than the victim's
    inner = zip_bytes({"victimvic_1002_5999_01_basics.ipynb": (forged, dt.datetime(2030, 1, 14, 9, 0)),
                       "02_more.ipynb": (s2, dt.datetime(2030, 1, 13, 8, 0))})
    second = write(tmp_path / "second.zip", zip_bytes({
        victim_file: (mine, dt.datetime(2030, 1, 12, 9, 0)),
        "impostorim_1001_5000_01_basics.ipynb": (mine, dt.datetime(2030, 1, 11, 9, 0)),  # his own earlier copy
        "impostorim_1001_5003_work.zip": (inner, dt.datetime(2030, 1, 13, 9, 0)),
    }))
    proc = run_cli("collect", A, str(second), course=course)

    assert snapshot(victim_dir) == before  # same files, same bytes, same times
    # the forged file is the impostor's own 01_basics and competed only with his own copy (it is newer)
    imp_dir = course / "submitted" / "impostorim" / A
    assert (imp_dir / NB1).read_bytes() == forged and (imp_dir / NB2).read_bytes() == s2
    forged_shown = "impostorim_1001_5003_work.zip!/victimvic_1002_5999_01_basics.ipynb"
    assert "impostorim: 2 copies of 01_basics.ipynb handed in: kept the newest" in proc.stdout
    conflict_line = next(line for line in proc.stdout.splitlines() if forged_shown in line and "named like" in line)
    assert "named like a submission of Canvas user victimvic (1002)" in conflict_line
    assert "counted as impostorim's file, never as victimvic's" in conflict_line
    saved = collect_json(course)
    assert saved["conflicts"] == [{"file": forged_shown, "student": "impostorim",
                                   "uploader": "Canvas user impostorim (1001)",
                                   "named_like": "Canvas user victimvic (1002)", "used": True}]
    assert saved["students"]["victimvic"]["files"][NB1]["from"] == victim_file


def test_file_and_folder_in_impostors_moodle_folder_named_like_victims(tmp_path):
    course = new_course(tmp_path / "course")
    download = tmp_path / "download"
    mine, forged1, forged2 = nbbytes(solution(NB1)), nbbytes(release(NB1)), nbbytes(release(NB2))
    write(download / "Vic Tim_222_assignsubmission_file_" / NB1, mine, dt.datetime(2030, 1, 12, 9, 0))
    run_cli("collect", A, str(download), course=course)
    victim_dir = course / "submitted" / "Vic_Tim" / A
    before = snapshot(victim_dir)

    imp = download / "Imp Ostor_111_assignsubmission_file_"
    # a file named like the victim's Moodle file (no "download in folders"), newer than the victim's ...
    write(imp / f"Vic Tim_222_assignsubmission_file_{NB1}", forged1, dt.datetime(2030, 1, 14, 9, 0))
    # ... and a folder named like the victim's Moodle folder, holding a notebook the victim did not hand in
    write(imp / "Vic Tim_222_assignsubmission_file_" / NB2, forged2, dt.datetime(2030, 1, 14, 9, 0))
    proc = run_cli("collect", A, str(download), course=course)

    assert snapshot(victim_dir) == before
    imp_dir = course / "submitted" / "Imp_Ostor" / A
    assert (imp_dir / NB1).read_bytes() == forged1 and (imp_dir / NB2).read_bytes() == forged2
    named_like = [line for line in proc.stdout.splitlines()
                  if "named like a submission of Moodle participant Vic Tim (222)" in line]
    assert len(named_like) == 2 and all("counted as Imp_Ostor's file, never as Vic_Tim's" in n for n in named_like)
    conflicts = collect_json(course)["conflicts"]
    assert sorted(c["file"] for c in conflicts) == [
        f"Imp Ostor_111_assignsubmission_file_/Vic Tim_222_assignsubmission_file_/{NB2}",
        f"Imp Ostor_111_assignsubmission_file_/Vic Tim_222_assignsubmission_file_{NB1}"]
    assert {c["student"] for c in conflicts} == {"Imp_Ostor"}


def test_conflicting_file_that_loses_to_a_newer_own_copy_is_listed_as_not_placed(tmp_path):
    course = Course(new_course(tmp_path / "course"))
    download = tmp_path / "download"
    own = write(download / "bob" / NB1, nbbytes(solution(NB1)), dt.datetime(2030, 1, 12, 9, 0))
    write(download / "bob" / f"alice_7_8_{NB1}", nbbytes(release(NB1)), dt.datetime(2030, 1, 11, 9, 0))
    res = collect(course, A, download)
    assert list(res.students) == ["bob"]
    assert (course.submitted_dir("bob", A) / NB1).read_bytes() == own.read_bytes()
    assert not course.submitted_dir("alice", A).exists()
    reason = next(u["reason"] for u in res.unplaced if u["file"] == f"bob/alice_7_8_{NB1}")
    assert "named like a submission of Canvas user alice (7)" in reason and "not used" in reason
    # a plain top-level folder may be a folder of downloads collected one level too high: say so
    assert "collect that folder itself" in reason
    assert res.conflicts[0]["used"] is False


def test_a_roster_that_says_both_names_are_one_student_is_no_conflict(tmp_path):
    course = Course(new_course(tmp_path / "course"))
    roster = write(tmp_path / "roster.csv", b"student_id,canvas_id\ns001,1001\n")
    download = tmp_path / "download"
    write(download / "s001" / f"smithbob_1001_5001_{NB1}", nbbytes(solution(NB1)))
    res = collect(course, A, download, roster=roster)
    assert list(res.students) == ["s001"] and not res.conflicts and not res.unplaced


# ---- times inside an upload -----------------------------------------------------------------------


def test_lateness_is_the_uploads_time_not_the_times_inside_it(tmp_path):
    course = Course(new_course(tmp_path / "course"))
    inner = zip_bytes({
        NB1: (nbbytes(solution(NB1)), dt.datetime(2030, 1, 10, 9, 0)),  # edited before the due date ...
        # ... and a file named like an early Blackboard attempt of the uploader himself: no conflict, no time
        f"HW_bob_attempt_2030-01-01-00-00-00_{NB2}": (nbbytes(solution(NB2)), dt.datetime(2030, 1, 10, 9, 0)),
    })
    z = write(tmp_path / "download.zip",
              zip_bytes({"bob_1_2_work.zip": (inner, dt.datetime(2030, 1, 16, 8, 0))}))  # uploaded late
    res = collect(course, A, z)
    assert res.late == ["bob"] and sorted(res.students["bob"]) == [NB1, NB2]
    assert all(info["time"].startswith("2030-01-16") for info in res.students["bob"].values())
    assert not res.conflicts and not res.unplaced


# ---- zips: bad names, unsafe paths -----------------------------------------------------------------


def test_non_utf8_entry_names_are_reported_and_the_rest_is_placed(tmp_path):
    course = new_course(tmp_path / "course")
    s1, s2 = nbbytes(solution(NB1)), nbbytes(solution(NB2))
    inner = zip_with_non_utf8_names({NB1: (s1, None), NB2: (s2, None), "notes_é.ipynb": (s1, None)})
    z = write(tmp_path / "download.zip", zip_with_non_utf8_names({
        f"smithbob_1001_5001_{NB1}": (s1, None),
        "leecarol_1003_5003_é.ipynb": (s1, None),
        "jonesalice_1002_5004_work.zip": (inner, None),
    }))
    # this is what used to abort the whole collect: zipfile cannot even list these zips
    for data in (z.read_bytes(), inner):
        with pytest.raises(UnicodeDecodeError):
            zipfile.ZipFile(io.BytesIO(data))

    proc = run_cli("collect", A, str(z), course=course)
    assert (course / "submitted" / "smithbob" / A / NB1).read_bytes() == s1
    alice = course / "submitted" / "jonesalice" / A
    assert (alice / NB1).read_bytes() == s1 and (alice / NB2).read_bytes() == s2
    assert not (course / "submitted" / "leecarol").exists()
    unplaced = {u["file"]: u["reason"] for u in collect_json(course)["unplaced"]}
    assert set(unplaced) == {"leecarol_1003_5003_\\xe9\\xe9.ipynb", "jonesalice_1002_5004_work.zip!/notes_\\xe9\\xe9.ipynb"}
    assert all("not valid UTF-8" in r for r in unplaced.values())
    assert "leecarol_1003_5003_\\xe9\\xe9.ipynb: skipped: its name in the zip is not valid UTF-8" in proc.stdout
    assert "placed 2 student(s)" in proc.stdout


def test_unsafe_paths_and_macos_junk_in_zips(tmp_path):
    course = Course(new_course(tmp_path / "course"))
    s1 = nbbytes(solution(NB1))
    inner = zip_bytes({"../../evil.ipynb": (s1, None), "/abs.ipynb": (s1, None), "C:/win.ipynb": (s1, None),
                       f"__MACOSX/work/._{NB1}": (b"junk", None), f"work/{NB1}": (s1, None)})
    z = write(tmp_path / "dl" / "download.zip", zip_bytes({
        "bob_1_2_work.zip": (inner, None),
        "../escape_3_4_01_basics.ipynb": (s1, None),
        f"__MACOSX/._bob_1_2_{NB1}": (b"junk", None),
    }))
    res = collect(course, A, z)
    assert list(res.students) == ["bob"] and (course.submitted_dir("bob", A) / NB1).read_bytes() == s1
    reasons = {u["file"]: u["reason"] for u in res.unplaced}
    assert set(reasons) == {"bob_1_2_work.zip!/../../evil.ipynb", "bob_1_2_work.zip!//abs.ipynb",
                            "bob_1_2_work.zip!/C:/win.ipynb", "../escape_3_4_01_basics.ipynb"}
    assert "outside the zip" in reasons["../escape_3_4_01_basics.ipynb"]
    assert "absolute path" in reasons["bob_1_2_work.zip!//abs.ipynb"]
    written = {p.name for p in tmp_path.rglob("*")}
    assert not {"evil.ipynb", "abs.ipynb", "escape_3_4_01_basics.ipynb"} & written


# ---- collecting again ------------------------------------------------------------------------------


def test_recollect_leaves_identical_submissions_untouched_and_reports_older_ones(tmp_path):
    course = Course(new_course(tmp_path / "course"))
    new = write(tmp_path / "new" / f"bob_1_2_{NB1}", nbbytes(solution(NB1)), dt.datetime(2030, 1, 12))
    collect(course, A, new.parent)
    before = snapshot(course.submitted_dir("bob", A))
    res = collect(course, A, new.parent)
    assert "bob" in res.students and snapshot(course.submitted_dir("bob", A)) == before
    old = write(tmp_path / "old" / f"bob_1_1_{NB1}", nbbytes(release(NB1)), dt.datetime(2030, 1, 11))
    res = collect(course, A, old.parent)
    assert "bob" not in res.students and snapshot(course.submitted_dir("bob", A)) == before
    assert res.unplaced == [{"file": old.name, "reason": (
        "bob: not used for 01_basics.ipynb: the submission already collected (2030-01-12 00:00:00.000000 UTC) "
        "is newer")}]
