"""Untrusted input before grading: who a zip's notebooks belong to, how big they may be, cell games.

No notebook is executed here: collecting, the size and nesting limits, the
output caps, settling the course's cells (checked with nbgrader's own
preprocessors) and the self-check's reading of a notebook.
"""

from __future__ import annotations

import copy
import json
import shutil
import struct
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.instructors import batch, bounds, cells, collect, grade_cli
from autograder.settings import REPO
from autograder.students import cli, selfcheck

CHAPTER = "ch01"
SOURCES = sorted((REPO / "notebooks").glob("ch*/*.ipynb"))
SOURCE = next(p for p in SOURCES if p.parent.name == CHAPTER)
NOTEBOOK = SOURCE.name  # 01_review.ipynb
TEXT = SOURCE.read_text()


def _variant(tag: str) -> str:
    """The chapter's notebook with a mark of its own, to tell copies apart by their bytes."""
    nb = nbformat.reads(TEXT, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"# {tag}"))
    return nbformat.writes(nb)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A course root with chapter 1 "released" (the source notebook stands in for the release)."""
    course = tmp_path / "course"
    (course / "release" / CHAPTER).mkdir(parents=True)
    shutil.copy(SOURCE, course / "release" / CHAPTER / NOTEBOOK)
    return course


def _zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, str | bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def _placed(root: Path, student: str) -> str:
    return (root / "submitted" / student / CHAPTER / NOTEBOOK).read_text()


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


# --- collecting: the LMS's identity ---------------------------------------------------------------


def test_uploads_are_students_by_their_lms_id(root, tmp_path):
    moodle = "assignsubmission_file_"
    archive = _zip(
        tmp_path / "lms.zip",
        [
            (f"Jane Doe_1234_{moodle}/{NOTEBOOK}", _variant("jane 1234")),
            (f"Jane Doe_5678_{moodle}/{NOTEBOOK}", _variant("jane 5678")),
            (f"José Núñez_11_{moodle}/{NOTEBOOK}", _variant("josé")),
            (f"Jose Nunez_12_{moodle}/{NOTEBOOK}", _variant("jose")),
            (f"smithj_55_66_{NOTEBOOK}", _variant("smith")),
            (f"leej_late_77_88_{NOTEBOOK}", _variant("lee")),
            (f"Ann Li_90_{moodle}{NOTEBOOK}", _variant("ann")),  # Moodle without folders
        ],
    )
    placed, refused, flagged = collect.from_zip(root, CHAPTER, archive)
    expected = ["jane-doe-1234", "jane-doe-5678", "jose-nunez-11", "jose-nunez-12", "smithj-55", "leej-77"]
    assert placed == {s: [NOTEBOOK] for s in [*expected, "ann-li-90"]}
    assert (refused, flagged) == ([], [])
    assert "# jane 1234" in _placed(root, "jane-doe-1234") and "# jane 5678" in _placed(root, "jane-doe-5678")
    assert "# josé" in _placed(root, "jose-nunez-11") and "# jose" in _placed(root, "jose-nunez-12")
    assert batch.submitted_students(root, CHAPTER) == sorted([*expected, "ann-li-90"])


def test_student_ids_are_ascii_and_names_that_differ_stay_apart():
    assert collect.student_id("Jane Doe", "1234") == "jane-doe-1234"
    assert collect.student_id("王伟", "77") == "student-77"
    assert collect.student_id("Jose") == "jose"
    accented, other = collect.student_id("José"), collect.student_id("王伟")
    assert accented.startswith("jose-") and accented != "jose" and accented.isascii()
    assert other.startswith("student-") and other != collect.student_id("李娜")
    with pytest.raises(ValueError, match="cannot make a student id"):
        collect.student_id("  ")


def test_folders_without_an_lms_id_differing_in_accents_stay_two_students(root, tmp_path):
    archive = _zip(
        tmp_path / "a.zip", [(f"José/{NOTEBOOK}", _variant("1")), (f"Jose/{NOTEBOOK}", _variant("2"))]
    )
    placed, refused, _ = collect.from_zip(root, CHAPTER, archive)
    assert len(placed) == 2 and "jose" in placed and refused == []
    (other,) = set(placed) - {"jose"}
    assert "# 1" in _placed(root, other) and "# 2" in _placed(root, "jose")


def test_an_upload_never_places_a_notebook_under_another_student(root, tmp_path):
    jane, mallory = "Jane Doe_1234_assignsubmission_file_", "Mallory Evil_66_assignsubmission_file_"
    archive = _zip(
        tmp_path / "lms.zip",
        [
            (f"{jane}/{NOTEBOOK}", _variant("jane's own")),
            (f"{mallory}/{jane}/{NOTEBOOK}", _variant("forged")),
            (f"{mallory}/Jane_Doe/{NOTEBOOK}", _variant("mallory's")),  # the last folder used to decide
            (f"{mallory}/bobsmith_77_88_{NOTEBOOK}", _variant("forged canvas")),
        ],
    )
    placed, refused, _ = collect.from_zip(root, CHAPTER, archive)
    assert placed == {"jane-doe-1234": [NOTEBOOK], "mallory-evil-66": [NOTEBOOK]}
    assert "# jane's own" in _placed(root, "jane-doe-1234")
    assert "# mallory's" in _placed(root, "mallory-evil-66")
    assert sorted(p.name for p in (root / "submitted").iterdir()) == ["jane-doe-1234", "mallory-evil-66"]
    assert len(refused) == 2, refused
    assert refused[0].startswith(f"{mallory}/{jane}/{NOTEBOOK}: refused: inside mallory-evil-66's upload")
    assert f"named like another student's ({jane!r})" in refused[0]
    assert "named like another student's ('bobsmith_77_88_01_review.ipynb')" in refused[1]


def test_collisions_are_refused_and_reported_never_replaced(root, tmp_path):
    old, new = (2020, 1, 1, 0, 0, 0), (2024, 5, 1, 12, 0, 0)
    archive = _zip(
        tmp_path / "lms.zip",
        [
            (f"Jane Doe_1234_assignsubmission_file_/{NOTEBOOK}", _variant("first")),
            (f"Jane-Doe_1234_assignsubmission_file_/{NOTEBOOK}", _variant("other upload")),
            (f"smithj_55_66_my {NOTEBOOK}", _variant("a copy")),
            (f"smithj_55_66_{NOTEBOOK}", _variant("exact")),
            (zipfile.ZipInfo(f"Kim Ra_9_assignsubmission_file_/a/{NOTEBOOK}", old), _variant("older")),
            (zipfile.ZipInfo(f"Kim Ra_9_assignsubmission_file_/b/{NOTEBOOK}", new), _variant("newer")),
        ],
    )
    placed, refused, flagged = collect.from_zip(root, CHAPTER, archive)
    assert placed == {s: [NOTEBOOK] for s in ("jane-doe-1234", "smithj-55", "kim-ra-9")}
    assert "# first" in _placed(root, "jane-doe-1234")
    assert "# exact" in _placed(root, "smithj-55") and "# newer" in _placed(root, "kim-ra-9")
    assert refused == [
        f"Jane-Doe_1234_assignsubmission_file_/{NOTEBOOK}: refused: its upload "
        "'Jane-Doe_1234_assignsubmission_file_' maps to the student id jane-doe-1234, which "
        "'Jane Doe_1234_assignsubmission_file_' has; two uploads never share a student (look at both)",
        f"smithj_55_66_my {NOTEBOOK}: refused: smithj-55 has another notebook for {NOTEBOOK} "
        f"(smithj_55_66_{NOTEBOOK} was taken); check which one should be graded",
        f"Kim Ra_9_assignsubmission_file_/a/{NOTEBOOK}: refused: kim-ra-9 has another notebook for "
        f"{NOTEBOOK} (Kim Ra_9_assignsubmission_file_/b/{NOTEBOOK} was taken); "
        "check which one should be graded",
    ]
    assert flagged == []
    again = _zip(
        tmp_path / "again.zip", [(f"Jane Doe_1234_assignsubmission_file_/{NOTEBOOK}", _variant("2nd"))]
    )
    assert collect.from_zip(root, CHAPTER, again).flagged == [
        f"jane-doe-1234/{NOTEBOOK}: replaced the copy collected before"
    ]


def test_paths_junk_and_sizes_are_guarded(root, tmp_path):
    big = json.dumps({"cells": [], "padding": " " * 60_000})  # compresses to almost nothing
    jane = "Jane Doe_1234_assignsubmission_file_"
    archive = _zip(
        tmp_path / "lms.zip",
        [
            ("../../escape.ipynb", TEXT),
            ("/etc/abs.ipynb", TEXT),
            ("C:\\Users\\x\\evil.ipynb", TEXT),
            (f"{jane}/readme.txt", "not a notebook"),
            (f"__MACOSX/{jane}/._{NOTEBOOK}", "resource fork"),
            (f"{jane}/.ipynb_checkpoints/01_review-checkpoint.ipynb", TEXT),
            (f"{jane}/{NOTEBOOK}", TEXT),
            (f"Big Bob_7_assignsubmission_file_/{NOTEBOOK}", big),
        ],
    )
    placed, refused, flagged = collect.from_zip(root, CHAPTER, archive, max_bytes=50_000)
    assert placed == {"jane-doe-1234": [NOTEBOOK]} and flagged == []
    assert refused == [
        "../../escape.ipynb: a path that leaves the folder it unpacks to",
        "/etc/abs.ipynb: a path that leaves the folder it unpacks to",
        "C:\\Users\\x\\evil.ipynb: a path that leaves the folder it unpacks to",
        f"{jane}/readme.txt: not a notebook (.ipynb)",
        f"Big Bob_7_assignsubmission_file_/{NOTEBOOK}: {NOTEBOOK} unpacks to 60 kB, over the 50 kB limit "
        "for a notebook (not unpacked; big-bob-7 is graded 'too-large')",
    ]
    assert _files(tmp_path) - {"lms.zip"} == {f"course/release/{CHAPTER}/{NOTEBOOK}"} | {
        f"course/submitted/{s}/{CHAPTER}/{f}"
        for s, f in [
            ("jane-doe-1234", NOTEBOOK),
            ("big-bob-7", NOTEBOOK),
            ("big-bob-7", batch.NOTES),
        ]
    }
    # the refused notebook is graded as the untouched release, with its own status
    assert _placed(root, "big-bob-7") == TEXT
    notes = batch.normalize(root, CHAPTER, "big-bob-7", batch.expected_notebooks(root, CHAPTER))
    assert notes == {
        "01_review": {
            "status": "too-large",
            "reason": f"{NOTEBOOK} unpacks to 60 kB, over the 50 kB limit for a notebook; not unpacked",
        }
    }


def _patch_sizes(path: Path, size: int) -> None:
    """Make the zip's only entry declare another uncompressed size than it has."""
    data = bytearray(path.read_bytes())
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, size)
    struct.pack_into("<I", data, central + 24, size)
    path.write_bytes(bytes(data))


def test_an_entry_that_lies_about_its_size_is_refused(root, tmp_path):
    entry = f"Jane Doe_1234_assignsubmission_file_/{NOTEBOOK}"
    small = _zip(tmp_path / "small.zip", [(entry, TEXT)])
    _patch_sizes(small, 100)  # declares 100 bytes, holds the whole notebook
    placed, refused, _ = collect.from_zip(root, CHAPTER, small)
    assert placed == {} and len(refused) == 1
    assert refused[0].startswith(f"{entry}: could not be unpacked (") and "CRC" in refused[0]
    huge = _zip(tmp_path / "huge.zip", [(entry, TEXT)])
    _patch_sizes(huge, 4_000_000_000)  # declares 4 GB: refused without reading a byte
    placed, refused, _ = collect.from_zip(root, CHAPTER, huge)
    assert placed == {}
    assert refused == [
        f"{entry}: {NOTEBOOK} unpacks to 4 GB, over the 20 MB limit for a notebook "
        "(not unpacked; jane-doe-1234 is graded 'too-large')"
    ]


def test_a_new_upload_supersedes_what_was_collected_and_noted_before(root, tmp_path):
    entry = f"Jane Doe_1234_assignsubmission_file_/{NOTEBOOK}"
    good = _zip(tmp_path / "good.zip", [(entry, _variant("good"))])
    big = _zip(tmp_path / "big.zip", [(entry, json.dumps({"padding": " " * 60_000}))])
    collect.from_zip(root, CHAPTER, good)
    placed, refused, _ = collect.from_zip(root, CHAPTER, big, max_bytes=50_000)
    assert placed == {}
    assert refused == [
        f"{entry}: {NOTEBOOK} unpacks to 60 kB, over the 50 kB limit for a notebook "
        "(not unpacked; jane-doe-1234 is graded 'too-large')",
        f"{entry}: the copy of {NOTEBOOK} collected before for jane-doe-1234 is not graded either",
    ]
    assert _placed(root, "jane-doe-1234") == TEXT
    folder = root / "submitted" / "jane-doe-1234" / CHAPTER
    assert batch.read_notes(folder)["01_review"]["status"] == "too-large"
    placed, refused, flagged = collect.from_zip(root, CHAPTER, good)
    assert placed == {"jane-doe-1234": [NOTEBOOK]} and refused == []
    assert flagged == [f"jane-doe-1234/{NOTEBOOK}: replaced the copy collected before"]
    assert "# good" in _placed(root, "jane-doe-1234") and batch.read_notes(folder) == {}
    with zipfile.ZipFile(good) as zf, pytest.raises(bounds.TooLargeError, match="unpacks past 1 kB"):
        collect._read(zf, zf.infolist()[0], 1_000)  # never more than the limit read, whatever it declares


def test_a_zip_of_the_lms_folder_is_unwrapped(root, tmp_path):
    archive = _zip(
        tmp_path / "a.zip",
        [
            (f"ch01 submissions/Jane Doe_1234_assignsubmission_file_/{NOTEBOOK}", TEXT),
            (f"ch01 submissions/smithj_55_66_{NOTEBOOK}", TEXT),
        ],
    )
    placed, refused, flagged = collect.from_zip(root, CHAPTER, archive)
    assert placed == {"jane-doe-1234": [NOTEBOOK], "smithj-55": [NOTEBOOK]} and refused == []
    assert flagged == [
        "the zip's one top folder 'ch01 submissions' was taken as a wrapper around the students' uploads"
    ]


def test_collect_prints_what_was_refused_and_flagged(root, tmp_path, capsys):
    archive = _zip(
        tmp_path / "lms.zip",
        [
            (f"Jane Doe_1234_assignsubmission_file_/{NOTEBOOK}", TEXT),
            (f"Jane-Doe_1234_assignsubmission_file_/{NOTEBOOK}", TEXT),
        ],
    )
    assert grade_cli.main(["--root", str(root), "collect", CHAPTER, "--zip", str(archive)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"jane-doe-1234: {NOTEBOOK}"
    assert out[1].startswith(f"refused Jane-Doe_1234_assignsubmission_file_/{NOTEBOOK}: refused: its upload")
    assert out[-1] == f"collected 1 students from {archive}; 1 refused and 0 flagged (above)"


# --- bounded input -----------------------------------------------------------------------------------


def test_the_size_limit_is_set_once_and_configurable(monkeypatch):
    monkeypatch.delenv(bounds.LIMIT_VARIABLE, raising=False)
    assert bounds.notebook_limit() == bounds.MAX_NOTEBOOK_BYTES == 20_000_000
    monkeypatch.setenv(bounds.LIMIT_VARIABLE, "2.5")
    assert bounds.notebook_limit() == 2_500_000
    monkeypatch.setenv(bounds.LIMIT_VARIABLE, "lots")
    with pytest.raises(ValueError, match="COURSE_MAX_NOTEBOOK_MB='lots' is not a number of megabytes"):
        bounds.notebook_limit()


def _submit(root: Path, student: str, data: str | bytes, name: str = NOTEBOOK) -> Path:
    folder = root / "submitted" / student / CHAPTER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_a_notebook_over_the_limit_is_refused_before_it_is_parsed(root):
    # not JSON at all: parsed, it would be "invalid"; refused on its size, it is "too-large"
    path = _submit(root, "alice", b"{" + b"x" * 52_500)
    expected = batch.expected_notebooks(root, CHAPTER)
    notes = batch.normalize(root, CHAPTER, "alice", expected, max_bytes=50_000)
    assert notes == {
        "01_review": {
            "status": "too-large",
            "reason": f"{NOTEBOOK} is 52.5 kB, over the 50 kB limit for a notebook; "
            f"not read, kept as {NOTEBOOK}.too-large for a human look",
        }
    }
    assert path.read_text() == TEXT  # graded as the untouched release
    assert (path.parent / f"{NOTEBOOK}.too-large").read_bytes() == b"{" + b"x" * 52_500
    again = batch.normalize(root, CHAPTER, "alice", expected, max_bytes=50_000)
    assert again == notes  # grading again keeps the outcome


def test_invalid_notebooks_nesting_and_cell_counts(root):
    deep = b'{"cells": [], "metadata": {"x": ' + b"[" * 500 + b"]" * 500 + b"}}"
    with pytest.raises(bounds.RefusedError, match=r"^x\.ipynb nests 502 levels deep, over the limit of 100$"):
        bounds.loads(deep, "x.ipynb")
    cell = {"cell_type": "code", "source": "", "metadata": {}, "outputs": [], "execution_count": None}
    many = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell] * (bounds.MAX_CELLS + 1)}
    with pytest.raises(bounds.TooLargeError, match=r"^x\.ipynb has 2001 cells, over the limit of 2000$"):
        bounds.loads(json.dumps(many), "x.ipynb")
    brackets = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("[" * 5000 + "{")])
    assert bounds.loads(nbformat.writes(brackets)).cells[0].source.startswith("[[[")  # text is not nesting
    with pytest.raises(bounds.RefusedError, match=r"x\.ipynb is JSON but not a notebook \(cell 1 is not"):
        bounds.loads(
            json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "code"}]}), "x.ipynb"
        )
    path = _submit(root, "bob", deep)
    notes = batch.normalize(root, CHAPTER, "bob", batch.expected_notebooks(root, CHAPTER))
    assert notes["01_review"] == {
        "status": "invalid",
        "reason": f"{NOTEBOOK} is not a valid notebook ({NOTEBOOK} nests 502 levels deep, over the limit "
        f"of 100); kept as {NOTEBOOK}.invalid for a human look",
    }
    assert path.read_text() == TEXT


def test_a_broken_extra_file_never_replaces_the_students_notebook(root):
    mine = _variant("my work")
    path = _submit(root, "carol", mine)
    _submit(root, "carol", "{broken", name="backup.ipynb")
    notes = batch.normalize(root, CHAPTER, "carol", batch.expected_notebooks(root, CHAPTER))
    assert path.read_text() == mine
    assert notes == {
        "01_review": {
            "review": [
                "also submitted: backup.ipynb is not a valid notebook (backup.ipynb is not valid JSON "
                "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))); "
                "kept as backup.ipynb.invalid for a human look"
            ]
        }
    }


def _stream(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def test_cap_outputs_cuts_per_cell_and_marks_it():
    nb = nbformat.v4.new_notebook()
    flood = nbformat.v4.new_code_cell("print('x' * 8_000_000)", outputs=[_stream("x" * 8_000_000)])
    flood.metadata["nbgrader"] = {"grade_id": "flood"}
    image = nbformat.v4.new_output(
        "display_data",
        data={"image/png": "iVBOR" * 60_000, "text/plain": "<Figure>", "text/html": "<b>" * 50_000},
    )
    ansi = "\x1b[0;31mValueError\x1b[0m: \x1b]8;;file:///x\x07boom\x1b]8;;\x07"
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="\x1b[1mboom\x1b[0m", traceback=[ansi])
    nb.cells = [
        flood,
        nbformat.v4.new_code_cell("plot()", outputs=[image]),
        nbformat.v4.new_code_cell("fail()", outputs=[error, _stream("\x1b[32mok\x1b[0m\n")]),
    ]
    review = bounds.cap_outputs(nb)
    assert review == [
        "cell 1 (flood): output cut: 7.9 MB over the 100 kB limit",
        "cell 2: output cut: 450 kB over the 100 kB limit",
    ]
    first = nb.cells[0].outputs
    assert (
        first[0].text == "x" * 100_000 and first[-1].text == "\n[output cut: 7.9 MB over the 100 kB limit]\n"
    )
    shown = nb.cells[1].outputs
    assert shown[0].data == {"text/plain": "<Figure>"}  # the image and the HTML dropped whole, not cut
    assert shown[-1].text == "\n[output cut: 450 kB over the 100 kB limit]\n"
    failed = nb.cells[2].outputs
    assert failed[0].traceback == ["ValueError: boom"] and failed[0].evalue == "boom"
    assert failed[1].text == "ok\n" and len(failed) == 2  # nothing cut: no mark
    nbformat.validate(nb)


def test_cap_outputs_keeps_the_notebook_under_its_total():
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(f"c{i}", outputs=[_stream("y" * 90_000)]) for i in range(14)]
    )
    review = bounds.cap_outputs(nb, per_cell=100_000, total=1_000_000)
    assert review == [
        "cell 12: output cut: 80 kB over the notebook's 1 MB limit",
        "cell 13: output cut: 90 kB over the notebook's 1 MB limit",
        "cell 14: output cut: 90 kB over the notebook's 1 MB limit",
    ]
    assert [len(c.outputs) for c in nb.cells] == [1] * 11 + [2, 1, 1]  # cut cells end in their mark
    assert nb.cells[13].outputs[0].text == "\n[output cut: 90 kB over the notebook's 1 MB limit]\n"
    kept = [bounds.output_size(o) for c in nb.cells for o in c.outputs if "[output cut" not in o.text]
    assert sum(kept) == 1_000_000
    assert bounds.cap_outputs(nb, per_cell=100_000, total=1_000_000) == []  # the same limits cut no more
    again = bounds.cap_outputs(nb, per_cell=50_000, total=1_000_000)
    assert again[0] == "cell 1: output cut: 40 kB over the 50 kB limit"
    assert len(nb.cells[0].outputs) == 2  # one mark, the last one


# --- cell games ----------------------------------------------------------------------------------------


def _ids(nb, which=cells.is_graded) -> list[str]:
    return [cells.grade_id(c) for c in nb.cells if which(c)]


def _index(nb, gid: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if cells.grade_id(c) == gid)


MINE = "x_mine = 1  # the student's own cell, marked as graded"
RETAGGED = "y_mine = 2  # the student's own cell, re-tagged as the first test"


def _games(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Every game at once: copied, extra, re-marked, re-tagged, out of order and deleted cells."""
    nb = copy.deepcopy(source)
    tests = _ids(source)
    answers = _ids(source, lambda c: bool(cells.nbgrader_meta(c).get("solution")))
    nb.cells.append(copy.deepcopy(nb.cells[_index(nb, tests[0])]))  # a copy of a test, at the end
    own = nbformat.v4.new_code_cell(MINE)
    own.metadata["nbgrader"] = {"grade": True, "grade_id": "mine", "points": 99, "solution": False}
    own.metadata.nbgrader.update(locked=False, schema_version=3)
    nb.cells.insert(2, own)
    nb.cells[_index(nb, answers[0])].metadata.nbgrader.update(grade=True, points=50)  # an answer as graded
    retag = nbformat.v4.new_code_cell(RETAGGED)
    retag.metadata["nbgrader"] = copy.deepcopy(cells.nbgrader_meta(nb.cells[_index(nb, tests[0])]))
    nb.cells.insert(_index(nb, answers[0]), retag)  # before the answer: the course's test comes later
    nb.cells[_index(nb, tests[1])].metadata.nbgrader["grade_id"] = tests[2]  # re-tagged as the next test
    del nb.cells[[i for i, c in enumerate(nb.cells) if cells.grade_id(c) == tests[-1]][-1]]  # deleted
    return nb


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_restore_cells_settles_every_cell_game(path):
    from nbgrader.nbgraderformat import MetadataValidator

    source = nbformat.read(path, as_version=4)
    tests = _ids(source)
    answers = _ids(source, lambda c: bool(cells.nbgrader_meta(c).get("solution")))
    game = _games(source)
    with pytest.raises(Exception, match="Duplicate grade id"):  # what nbgrader makes of it
        MetadataValidator().validate_nb(copy.deepcopy(game))

    nb, review = cells.restore_cells(game, source)

    assert _ids(nb) == tests  # each graded cell once, in the course's order
    course = {cells.grade_id(c): c for c in source.cells if cells.grade_id(c)}
    marked = [c for c in nb.cells if "nbgrader" in c.metadata]
    assert len(marked) == len({cells.grade_id(c) for c in marked}) == len(course)
    for cell in marked:
        assert cell.metadata.nbgrader == course[cells.grade_id(cell)].metadata.nbgrader
        if cells.is_graded(cell):
            assert cell.source == course[cells.grade_id(cell)].source
    order = [cells.grade_id(c) for c in marked]
    assert order == [g for g in course if g in order]
    plain = [c.source for c in nb.cells if "nbgrader" not in c.metadata]
    assert MINE in plain and RETAGGED in plain  # the student's code is kept, without the marks
    first, second, third = tests[:3]
    assert review == [
        "cell 3: nbgrader marks (grade) removed because 'mine' is not a cell of the course; "
        "its code was kept as the student's",
        f"cell {_index(game, answers[0])}: nbgrader marks (grade, locked) removed because another cell is "
        f"the course's {first}; its code was kept as the student's",
        f"cell {answers[0]}: its nbgrader marks were changed (grade: True, points: 50); "
        "the course's were used",
        f"cell {_index(game, third) + 1}: nbgrader marks (grade, locked) removed because another cell is "
        f"the course's {third}; its code was kept as the student's",
        f"cell {len(game.cells)}: nbgrader marks (grade, locked) removed because another cell is the "
        f"course's {first}; its code was kept as the student's",
        f"cell {second} was deleted (the course's version was used)",
        f"cell {tests[-1]} was deleted (the course's version was used)",
    ]
    MetadataValidator().validate_nb(nb)
    nbformat.validate(nb)
    assert cells.restore_cells(nb, source)[1] == []  # settled once, settled for good


def test_restore_cells_puts_a_moved_test_back_in_order_and_keeps_answers_the_students():
    source = nbformat.read(SOURCE, as_version=4)
    nb = copy.deepcopy(source)
    tests = _ids(source)
    moved = nb.cells.pop(_index(nb, tests[0]))
    nb.cells.append(moved)  # the first test at the very end
    answer = _index(nb, "sigmoid")
    nb.cells[answer].source = "class Sigmoid:  # mine\n    pass"
    del nb.cells[_index(nb, "md01")]
    out, review = cells.restore_cells(nb, source)
    assert _ids(out) == tests
    assert [cells.grade_id(c) for c in out.cells if cells.grade_id(c)] == [
        cells.grade_id(c) for c in source.cells if cells.grade_id(c)
    ]
    assert out.cells[_index(out, "sigmoid")].source == "class Sigmoid:  # mine\n    pass"
    assert out.cells[_index(out, tests[0]) - 2] is not None
    assert review == [
        f"cell {len(nb.cells)}: nbgrader marks (grade, locked) removed because {tests[0]} was out of the "
        "course's order; its code was kept as the student's",
        f"cell {tests[0]} was deleted (the course's version was used)",
    ]
    assert out.cells[0].source == source.cells[0].source  # the locked markdown put back first


@pytest.fixture(scope="module")
def nbgrader_gradebook(tmp_path_factory):
    """Chapter 1's source cells in an nbgrader gradebook, as `course-grade release` would store them."""
    import nbgrader.api
    from nbgrader.preprocessors import ComputeChecksums, SaveCells

    folder = tmp_path_factory.mktemp("gradebook")
    resources = {"nbgrader": {"db_url": f"sqlite:///{folder / 'gradebook.db'}", "assignment": CHAPTER}}
    resources["nbgrader"]["notebook"] = SOURCE.stem
    real = nbgrader.api.get_alembic_version
    nbgrader.api.get_alembic_version = lambda: "course-test"  # nbgrader runs alembic in a subprocess
    try:
        with nbgrader.api.Gradebook(resources["nbgrader"]["db_url"]) as gb:
            gb.add_assignment(CHAPTER)
        nb, _ = ComputeChecksums().preprocess(nbformat.read(SOURCE, as_version=4), {})
        SaveCells().preprocess(nb, copy.deepcopy(resources))
    finally:
        nbgrader.api.get_alembic_version = real
    return resources


def _nbgrader_sanitize(nb, resources):
    """nbgrader autograde's own checks on a submission, before anything runs."""
    from nbgrader.preprocessors import CheckCellMetadata, DeduplicateIds, OverwriteCells

    nb = copy.deepcopy(nb)
    for step in (DeduplicateIds(), OverwriteCells(add_missing_cells=True), CheckCellMetadata()):
        nb, _ = step.preprocess(nb, copy.deepcopy(resources))
    return nb


def _one_game(kind: str) -> nbformat.NotebookNode:
    nb = nbformat.read(SOURCE, as_version=4)
    if kind == "extra graded cell":
        own = nbformat.v4.new_code_cell(MINE)
        own.metadata["nbgrader"] = {"grade": True, "grade_id": "mine", "points": 9, "solution": False}
        own.metadata.nbgrader.update(locked=False, schema_version=3)
        nb.cells.insert(3, own)
    elif kind == "answer marked graded":
        nb.cells[_index(nb, "sigmoid")].metadata.nbgrader.update(grade=True, points=50)
    elif kind == "copied test cell":
        nb.cells.insert(4, copy.deepcopy(nb.cells[_index(nb, "affine_tests")]))
        nb.cells[4].id = "a-copy"  # Jupyter gives a pasted cell an id of its own
    return nb


@pytest.mark.parametrize("kind", ["extra graded cell", "answer marked graded", "copied test cell"])
def test_nbgrader_takes_what_restore_cells_leaves(nbgrader_gradebook, kind):
    game = _one_game(kind)
    with pytest.raises(Exception):  # noqa: B017 - nbgrader fails in several ways: that is the point
        _nbgrader_sanitize(game, nbgrader_gradebook)
    source = nbformat.read(SOURCE, as_version=4)
    restored, review = cells.restore_cells(game, source)
    assert review
    graded = _nbgrader_sanitize(restored, nbgrader_gradebook)
    assert _ids(graded) == _ids(source)


def test_normalize_settles_the_cells_before_nbgrader_sees_them(root):
    from nbgrader.nbgraderformat import MetadataValidator

    game = _one_game("copied test cell")
    game.cells[_index(game, "adam_tests")].source += "\nassert True  # my edit"
    path = _submit(root, "dave", nbformat.writes(game))
    expected = batch.expected_notebooks(root, CHAPTER)
    notes = batch.normalize(root, CHAPTER, "dave", expected)
    lines = [
        "cell 5: nbgrader marks (grade, locked) removed because another cell is the course's affine_tests; "
        "its code was kept as the student's",
        "test cell adam_tests was edited (the course's version was used)",
    ]
    assert notes == {"01_review": {"review": lines}}
    fixed = nbformat.read(path, as_version=4)
    MetadataValidator().validate_nb(fixed)
    assert _ids(fixed) == _ids(nbformat.read(SOURCE, as_version=4))
    assert nbformat.read(path.with_name(NOTEBOOK + batch.ORIGINAL), as_version=4) == game  # kept as sent
    assert batch.normalize(root, CHAPTER, "dave", expected) == notes  # again: the same, once


# --- the self-check's reading of a notebook ------------------------------------------------------------


def test_find_source_recognises_another_chapters_notebook(tmp_path):
    other = next(p for p in SOURCES if p.parent.name == "ch03")
    saved = tmp_path / NOTEBOOK
    shutil.copy(other, saved)
    with pytest.raises(ValueError) as caught:
        selfcheck.find_source(saved)
    assert str(caught.value) == (
        f"{saved} looks like chapter 3's notebook {other.name}, saved as {NOTEBOOK}. "
        f"Save it as {other.name} to check it, or open your {NOTEBOOK} for chapter 1."
    )
    shutil.copy(SOURCE, saved)
    assert selfcheck.find_source(saved) == SOURCE
    renamed = tmp_path / "my copy.ipynb"
    shutil.copy(SOURCE, renamed)
    with pytest.raises(
        FileNotFoundError, match=r"looks like chapter 1's notebook 01_review\.ipynb: save it as"
    ):
        selfcheck.find_source(renamed)


def test_course_check_names_the_file_and_the_fix(tmp_path, monkeypatch, capsys):
    broken = tmp_path / NOTEBOOK
    broken.write_text('{"cells": [')
    assert cli.main(["check", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{broken} is not valid JSON (")
    assert "open it in Jupyter and save it again" in err
    shutil.copy(SOURCE, broken)
    monkeypatch.setenv(bounds.LIMIT_VARIABLE, "0.001")
    with pytest.raises(ValueError) as caught:
        selfcheck.grade(broken)
    size = bounds.human(broken.stat().st_size)
    assert str(caught.value).startswith(f"{broken} is {size}, over the 1 kB limit for a notebook. ")
    assert f"jupyter nbconvert --clear-output --inplace {broken}" in str(caught.value)
