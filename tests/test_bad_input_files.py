"""Never lose a student's work: checkpoints and workspace notebooks survive an interrupted write."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.students import workspace
from course import files
from course.models import Rnnlm

ROOT = Path(__file__).resolve().parents[1]


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- checkpoints


def test_an_interrupted_save_leaves_the_previous_checkpoint_loadable(tmp_path, monkeypatch):
    model = Rnnlm(13, 4, 5)
    path = tmp_path / "ch06.npz"
    model.save_params(path)
    saved = [p.copy() for p in model.params]

    for p in model.params:  # training goes on
        p += 1.0

    def half_then_fail(file, **arrays):
        file.write(b"PK\x03\x04 half a zip archive")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        model.save_params(path)
    monkeypatch.undo()

    again = Rnnlm(13, 4, 5)
    again.load_params(path)  # the old checkpoint, whole
    for p, p0 in zip(again.params, saved, strict=True):
        np.testing.assert_array_equal(p, p0)
    assert _only(tmp_path) == ["ch06.npz"]  # no temporary file left behind


def test_a_failure_while_syncing_also_keeps_the_old_file(tmp_path, monkeypatch):
    model = Rnnlm(13, 4, 5)
    model.save_params(tmp_path / "m")  # .npz is added, as np.savez does
    assert _only(tmp_path) == ["m.npz"]
    monkeypatch.setattr(files.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("I/O error")))
    with pytest.raises(OSError, match="I/O error"):
        model.save_params(tmp_path / "m.npz")
    monkeypatch.undo()
    Rnnlm(13, 4, 5).load_params(tmp_path / "m.npz")
    assert _only(tmp_path) == ["m.npz"]


def test_saving_into_a_missing_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist\. Create it first"):
        Rnnlm(13, 4, 5).save_params(tmp_path / "no" / "such" / "m.npz")


def test_atomic_write_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "notes.bin"
    path.write_bytes(b"old")
    path.chmod(0o640)
    files.atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and (path.stat().st_mode & 0o777) == 0o640


# ---------------------------------------------------------------- workspace


class Course:
    """A stand-in for the released chapters: one notebook whose text changes between releases."""

    def __init__(self, tmp: Path):
        self.version = 1
        self.tmp = tmp

    def assignments(self):
        return ["ch01"]

    def release(self, chapter, into):
        out = Path(into) / f"release-{self.version}"
        out.mkdir(parents=True, exist_ok=True)
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"Chapter 1, release {self.version}")]
        nbformat.write(nb, out / "01_review.ipynb")
        return out


def _edit(path: Path, note: str) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(note))
    nbformat.write(nb, path)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.fixture
def course_releases(tmp_path, monkeypatch):
    fake = Course(tmp_path)
    monkeypatch.setattr(workspace.flow, "assignments", fake.assignments)
    monkeypatch.setattr(workspace.flow, "release", fake.release)
    return fake


def test_an_edited_update_file_is_never_written_over(tmp_path, course_releases):
    ws = tmp_path / "ws"
    assert workspace.update(ws) == ["added 01_review.ipynb"]
    mine, first = ws / "01_review.ipynb", ws / "01_review.updated.ipynb"
    _edit(mine, "# my answer")

    course_releases.version = 2
    assert workspace.update(ws) == ["kept your 01_review.ipynb; the new version is 01_review.updated.ipynb"]
    assert "release 2" in _text(first)

    _edit(first, "# my notes in the update")  # the student works in the updated copy too
    course_releases.version = 3
    lines = workspace.update(ws)
    assert lines == [
        "kept your 01_review.ipynb; the new version is 01_review.updated-2.ipynb "
        "(your edited 01_review.updated.ipynb kept as well)"
    ]
    assert "# my answer" in _text(mine)
    assert "# my notes in the update" in _text(first) and "release 2" in _text(first)
    second = ws / "01_review.updated-2.ipynb"
    assert "release 3" in _text(second)

    course_releases.version = 4  # an update file the student has not touched is simply refreshed
    assert workspace.update(ws) == [
        "kept your 01_review.ipynb; the new version is 01_review.updated-2.ipynb "
        "(your edited 01_review.updated.ipynb kept as well)"
    ]
    assert "release 4" in _text(second) and "# my notes in the update" in _text(first)
    assert workspace.update(ws) == []  # nothing new


def test_an_update_file_not_made_by_the_workspace_is_kept(tmp_path, course_releases):
    ws = tmp_path / "ws"
    workspace.update(ws)
    mine = ws / "01_review.ipynb"
    _edit(mine, "# mine")
    stray = ws / "01_review.updated.ipynb"
    stray.write_text("my own scratch file, not a notebook", encoding="utf-8")
    course_releases.version = 2
    assert workspace.update(ws)[0].endswith(
        "01_review.updated-2.ipynb (your edited 01_review.updated.ipynb kept as well)"
    )
    assert stray.read_text(encoding="utf-8") == "my own scratch file, not a notebook"


def test_a_notebook_that_no_longer_parses_counts_as_edited(tmp_path, course_releases):
    ws = tmp_path / "ws"
    workspace.update(ws)
    mine = ws / "01_review.ipynb"
    mine.write_text('{"cells": [ half-saved', encoding="utf-8")
    course_releases.version = 2
    assert workspace.update(ws) == ["kept your 01_review.ipynb; the new version is 01_review.updated.ipynb"]
    assert _text(mine) == '{"cells": [ half-saved'


def test_an_interrupted_workspace_update_leaves_every_notebook_whole(tmp_path, course_releases):
    ws = tmp_path / "ws"
    workspace.update(ws)
    mine = ws / "01_review.ipynb"
    before = _text(mine)
    course_releases.version = 2  # unedited: it would be refreshed in place

    def fail(src, dst):
        raise OSError("the kernel was restarted")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(files.os, "replace", fail)
        with pytest.raises(OSError, match="restarted"):
            workspace.update(ws)
    assert _text(mine) == before  # the old version, whole
    assert [p.name for p in ws.iterdir() if p.name.endswith(".tmp")] == []
    nbformat.read(mine, as_version=4)
    assert workspace.update(ws) == ["updated 01_review.ipynb"]  # and the next run finishes the job


# ---------------------------------------------------------------- COURSE_BACKEND


@pytest.mark.parametrize("value", ["tpu", "cuda"])
def test_a_bad_course_backend_never_breaks_import_course(value):
    env = dict(os.environ, COURSE_BACKEND=value)
    proc = subprocess.run(
        [sys.executable, "-c", "import course; print(course.backend.name())"],
        env=env, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "numpy"
    assert f"COURSE_BACKEND='{value}'" in proc.stderr and "runs on NumPy" in proc.stderr
    assert "choose one of numpy, strict, cupy" in proc.stderr
