"""Collect submissions into the course root: from nbgrader's exchange or from an LMS zip.

Both end in ``submitted/<student>/<assignment>/<notebook>.ipynb``, where
nbgrader's autograde looks. A zip is read defensively: only ``.ipynb`` files,
no path leaves the course root, and no file may unpack past a size limit.

Zip layouts understood (the student id comes from the path):

* ``<student>/<anything>.ipynb`` (one folder per student; Moodle's
  ``Jane Doe_1234_assignsubmission_file_`` folders become ``Jane_Doe``);
* ``<student>_<anything>.ipynb`` (flat, Canvas-style: the id is the part
  before the first underscore).

The notebook's name is matched to the assignment's notebooks by its ending;
a notebook saved under another name is recognised by its cells when graded.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from autograder import batch, flow

MAX_NOTEBOOK_MB = 50
_MOODLE = re.compile(r"_\d+_assignsubmission_\w*$")


def student_id(raw: str) -> str:
    """A folder-safe student id: letters, digits, '.', '_' and '-' only."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", _MOODLE.sub("", raw.strip())).strip("._")
    if not cleaned:
        raise ValueError(f"cannot make a student id from {raw!r}")
    return cleaned


def _place(entry: str, expected: list[str]) -> tuple[str, str]:
    """(student, notebook file name) for one zip entry."""
    path = PurePosixPath(entry)
    if len(path.parts) >= 2:
        student, rest = path.parts[-2], path.name
    else:
        student, _, rest = path.name.partition("_")
        if not rest:
            raise ValueError(f"{entry}: no student id in the name (expected <student>_<notebook>.ipynb)")
    name = next((f"{n}.ipynb" for n in expected if rest.endswith(f"{n}.ipynb")), rest)
    return student_id(student), name


def from_zip(root: Path, assignment: str, archive: Path) -> tuple[dict[str, list[str]], list[str]]:
    """Unpack an LMS download; return ({student: [notebooks]}, [entries skipped, with why]).

    Later entries replace earlier ones of the same student and notebook.
    """
    root = Path(root)
    expected = sorted(batch.expected_notebooks(root, assignment))
    placed: dict[str, list[str]] = {}
    skipped: list[str] = []
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.is_dir() or not info.filename.endswith(".ipynb") or "__MACOSX" in info.filename:
                continue
            if info.file_size > MAX_NOTEBOOK_MB * 1024 * 1024:
                skipped.append(
                    f"{info.filename}: unpacks to {info.file_size} bytes (limit {MAX_NOTEBOOK_MB} MB)"
                )
                continue
            try:
                student, name = _place(info.filename, expected)
            except ValueError as exc:
                skipped.append(f"{info.filename}: {exc}")
                continue
            target = root / "submitted" / student / assignment / PurePosixPath(name).name
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src:
                data = src.read(MAX_NOTEBOOK_MB * 1024 * 1024 + 1)
            target.write_bytes(data)
            placed.setdefault(student, []).append(target.name)
    return placed, skipped


def from_exchange(root: Path, assignment: str, exchange: Path) -> list[str]:
    """nbgrader collect from an exchange folder; return the students collected."""
    with flow.grading_env():
        result = flow.exchange_api(root, exchange).collect(assignment, update=True)
    flow.raise_unless(result, f"Collecting {assignment} from {exchange}")
    return batch.submitted_students(root, assignment)
