"""Collect submissions into the course root: from nbgrader's exchange or from an LMS zip.

Both end in ``submitted/<student>/<assignment>/<notebook>.ipynb``, where
nbgrader's autograde looks.

A student is who the LMS says uploaded the file: the zip's TOP-LEVEL entry
names them, and the student id keeps the LMS's id, so two students of one
name stay two and nobody's upload can land under somebody else:

* Moodle: ``Full Name_123456_assignsubmission_file_/<anything>.ipynb`` (or the
  flat ``Full Name_123456_assignsubmission_file_<name>.ipynb``) -> ``full-name-123456``;
* Canvas: ``lastnamefirstname_123456_7891011_<name>.ipynb`` (``late_`` too)
  -> ``lastnamefirstname-123456``, or a folder ``name_123456_.../``;
* without an LMS id: a folder ``<student>/...`` or ``<student>_<name>.ipynb``
  (a name with letters outside ASCII gets a short hash, so ``José`` and
  ``Jose`` stay apart).

Anything deeper in the zip belongs to its top-level entry's student; a nested
folder or file named like another student's upload is refused. Every
collision is refused and reported, never settled by replacing: two uploads
that map to one student id, two notebooks of one student for one of the
assignment's notebooks (an exact name beats a name that only ends like it;
then the newer file). The zip is read defensively: only ``.ipynb`` files, no
path leaves the course root, and no notebook unpacks past the size limit of
:mod:`autograder.instructors.bounds` (declared size and actual bytes both checked).

The notebook's name is matched to the assignment's notebooks by its ending;
a notebook saved under another name is recognised by its cells when graded.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from autograder import flow
from autograder.instructors import batch, bounds

MAX_ENTRIES = 100_000  # entries in one zip
MAX_TOTAL_BYTES = 5_000_000_000  # all notebooks of one zip, unpacked

_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_[A-Za-z0-9]+(?:_(?P<rest>.*))?$", re.S)
_CANVAS = re.compile(r"^(?P<name>[^_]+)_(?:late_)?(?P<id>\d+)_\d+_(?P<rest>.+)$", re.S)
_WITH_ID = re.compile(r"^(?P<name>.+?)_(?:late_)?(?P<id>\d+)(?:_(?P<rest>.*))?$", re.S)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._() -]+")


class Collected(NamedTuple):
    """What ``from_zip`` did: {student: [notebooks placed]}, entries refused and things flagged, with why."""

    placed: dict[str, list[str]]
    refused: list[str]
    flagged: list[str]


@dataclass
class _Upload:
    """One top-level entry of the zip: who uploaded it."""

    top: str
    name: str
    lms_id: str | None
    student: str
    entries: list[tuple[zipfile.ZipInfo, str]] = field(default_factory=list)  # (entry, notebook name)


def student_id(name: str, lms_id: str | None = None) -> str:
    """A folder-safe, ASCII student id: the name as a slug, then the LMS id (``full-name-123456``).

    Without an LMS id, a name that loses letters on its way to ASCII gets a
    short hash of itself, so names that differ only there stay apart.
    """
    text = unicodedata.normalize("NFC", name.strip())
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-")
    if lms_id:
        return f"{slug}-{lms_id}" if slug else f"student-{lms_id}"
    if not slug:
        if not text:
            raise ValueError(f"cannot make a student id from {name!r}")
        slug = "student"
    if not re.fullmatch(r"[A-Za-z0-9 ._-]*", text):
        slug += "-" + hashlib.sha256(text.encode()).hexdigest()[:6]
    return slug


def parse_top(top: str, is_file: bool) -> tuple[str, str | None, str]:
    """(name, LMS id or None, the rest of a flat file's name) of a zip's top-level entry."""
    for pattern in (_MOODLE, _CANVAS) if is_file else (_MOODLE, _WITH_ID):
        match = pattern.match(top)
        if match:
            return match["name"], match["id"], match["rest"] or ""
    if not is_file:
        return top, None, ""
    name, _, rest = top.partition("_")
    if not rest:
        raise ValueError(
            "no student in the name (expected <student>_<notebook>.ipynb or a folder per student)"
        )
    return name, None, rest


def _lms_id_of(part: str, is_file: bool) -> str | None:
    """The LMS id a nested folder or file name carries when it is named like a student's upload."""
    match = (_MOODLE.match(part) or _CANVAS.match(part)) if is_file else _MOODLE.match(part)
    return match["id"] if match else None


def _notebook_name(rest: str, expected: list[str]) -> tuple[str, bool]:
    """(file name to place, whether it is exactly one of the assignment's notebooks)."""
    for n in expected:
        if rest == f"{n}.ipynb":
            return rest, True
    for n in expected:
        if rest.endswith(f"{n}.ipynb"):
            return f"{n}.ipynb", False
    safe = _SAFE_NAME.sub("_", rest).strip(" .") or "notebook.ipynb"
    return (safe if safe.endswith(".ipynb") else safe + ".ipynb"), False


def _junk(parts: tuple[str, ...]) -> bool:
    """Files an LMS or an operating system adds: quietly left out."""
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or parts[-1] in (
        "Thumbs.db",
        "desktop.ini",
    )


def from_zip(
    root: Path,
    assignment: str,
    archive: Path,
    max_bytes: int | None = None,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> Collected:
    """Unpack an LMS download into submitted/; return what was placed, refused and flagged.

    ``max_bytes``: the size limit of one notebook (default :func:`bounds.notebook_limit`).
    A notebook over it is not unpacked; the student's notebook is then graded as
    the untouched release with status "too-large". A notebook already collected
    earlier is replaced by a different one only with a flag saying so.
    """
    root = Path(root)
    limit = bounds.notebook_limit() if max_bytes is None else max_bytes
    expected = sorted(batch.expected_notebooks(root, assignment))
    refused: list[str] = []
    flagged: list[str] = []
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise ValueError(f"{archive} has {len(infos)} entries, over the limit of {MAX_ENTRIES}")
        uploads = _uploads(infos, expected, refused, flagged)
        placed: dict[str, list[str]] = {}
        total = 0
        for upload in uploads:
            for info, name in _one_each(upload, refused):
                where = f"{info.filename}: "
                if info.file_size > limit:
                    _too_large(root, assignment, upload.student, name, info.file_size, limit, refused, where)
                    continue
                if total + info.file_size > max_total_bytes:
                    refused.append(where + f"the zip's notebooks unpack past {bounds.human(max_total_bytes)}")
                    continue
                try:
                    data = _read(zf, info, limit)
                except bounds.TooLargeError:
                    _too_large(root, assignment, upload.student, name, None, limit, refused, where)
                    continue
                except Exception as exc:  # bad CRC, encrypted, unknown compression, a lying header
                    refused.append(where + f"could not be unpacked ({str(exc)[:150] or type(exc).__name__})")
                    continue
                total += len(data)
                target = _write(root, assignment, upload.student, name, data, flagged)
                placed.setdefault(upload.student, []).append(target.name)
    return Collected(placed, refused, flagged)


def _uploads(
    infos: list[zipfile.ZipInfo], expected: list[str], refused: list[str], flagged: list[str]
) -> list[_Upload]:
    """The zip's entries grouped by the upload (top-level entry) they belong to; refusals noted."""
    files = []
    for info in infos:
        path = info.filename.replace("\\", "/")
        if info.is_dir() or path.endswith("/"):
            continue
        parts = tuple(p for p in path.split("/") if p not in ("", "."))
        if path.startswith("/") or re.match(r"^[A-Za-z]:", path) or ".." in parts or not parts:
            refused.append(f"{info.filename}: a path that leaves the folder it unpacks to")
            continue
        if _junk(parts):
            continue
        if not parts[-1].lower().endswith(".ipynb"):
            refused.append(f"{info.filename}: not a notebook (.ipynb)")
            continue
        files.append((info, parts))
    files = _unwrapped(files, flagged)
    by_student: dict[str, _Upload] = {}
    for info, parts in files:
        top, is_file = parts[0], len(parts) == 1
        try:
            name, lms_id, rest = parse_top(top, is_file)
            student = student_id(name, lms_id)
        except ValueError as exc:
            refused.append(f"{info.filename}: {exc}")
            continue
        upload = by_student.setdefault(student, _Upload(top, name, lms_id, student))
        if upload.top != top and (
            unicodedata.normalize("NFC", upload.name) != unicodedata.normalize("NFC", name)
            or upload.lms_id != lms_id
        ):
            refused.append(
                f"{info.filename}: refused: its upload {top!r} maps to the student id {student}, "
                f"which {upload.top!r} has; two uploads never share a student (look at both)"
            )
            continue
        nested = [(p, i == len(parts) - 2) for i, p in enumerate(parts[1:])]
        foreign = [p for p, last in nested if _lms_id_of(p, last) not in (None, lms_id)]
        if foreign:
            refused.append(
                f"{info.filename}: refused: inside {student}'s upload but named like another "
                f"student's ({foreign[0]!r}); nothing in one upload is placed under another student"
            )
            continue
        upload.entries.append((info, _notebook_name(rest if is_file else parts[-1], expected)))
    return list(by_student.values())


def _unwrapped(
    files: list[tuple[zipfile.ZipInfo, tuple[str, ...]]], flagged: list[str]
) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    """The files without a single folder wrapping the whole download (a zip of the LMS's folder)."""
    tops = {parts[0] for _, parts in files}
    if len(tops) != 1 or any(len(parts) < 2 for _, parts in files):
        return files
    (top,) = tops
    if parse_top(top, False)[1] is not None:
        return files  # one student's upload, not a wrapper
    ids = [parse_top(p[1], False)[1] if len(p) > 2 else _lms_id_of(p[1], True) for _, p in files]
    if not any(ids):
        return files
    flagged.append(f"the zip's one top folder {top!r} was taken as a wrapper around the students' uploads")
    return [(info, parts[1:]) for info, parts in files]


def _one_each(upload: _Upload, refused: list[str]) -> list[tuple[zipfile.ZipInfo, str]]:
    """One entry per notebook name of a student: an exact name first, then the newest; the rest refused."""
    by_name: dict[str, list[tuple[zipfile.ZipInfo, bool]]] = {}
    for info, (name, exact) in upload.entries:
        by_name.setdefault(name, []).append((info, exact))
    chosen = []
    for name, candidates in by_name.items():
        ranked = sorted(candidates, key=lambda c: (not c[1], tuple(-x for x in c[0].date_time)))
        winner = ranked[0][0]
        chosen.append((winner, name))
        for info, _ in ranked[1:]:
            refused.append(
                f"{info.filename}: refused: {upload.student} has another notebook for {name} "
                f"({winner.filename} was taken); check which one should be graded"
            )
    return chosen


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The entry's bytes, never more than ``limit`` of them (TooLargeError past it)."""
    chunks, size = [], 0
    with zf.open(info) as src:
        while chunk := src.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise bounds.TooLargeError(f"{info.filename} unpacks past {bounds.human(limit)}")
            chunks.append(chunk)
    return b"".join(chunks)


def _too_large(
    root: Path,
    assignment: str,
    student: str,
    name: str,
    size: int | None,
    limit: int,
    refused: list[str],
    where: str,
) -> None:
    """Refuse a notebook over the size limit; one of the assignment's is graded 'too-large' (zero).

    ``size``: what the zip declares; None: the entry unpacked past the limit.
    """
    amount = f"to {bounds.human(size)}" if size is not None else "past its declared size"
    why = f"{name} unpacks {amount}, over the {bounds.human(limit)} limit for a notebook"
    release = root / "release" / assignment / name
    if not release.exists():  # not one of the assignment's notebooks: nothing to grade in its place
        refused.append(where + why + " (not unpacked)")
        return
    refused.append(where + why + f" (not unpacked; {student} is graded 'too-large')")
    earlier = root / "submitted" / student / assignment / name
    if earlier.exists() and earlier.read_bytes() != release.read_bytes():
        refused.append(where + f"the copy of {name} collected before for {student} is not graded either")
    batch.note_refused(root, assignment, student, release.stem, "too-large", why + "; not unpacked")


def _write(root: Path, assignment: str, student: str, name: str, data: bytes, flagged: list[str]) -> Path:
    folder = root / "submitted" / student / assignment
    target = folder / PurePosixPath(name).name
    if not target.resolve().is_relative_to((root / "submitted").resolve()):
        raise ValueError(f"{target} would leave {root / 'submitted'}")  # cannot happen: ids are slugs
    folder.mkdir(parents=True, exist_ok=True)
    if target.exists() and target.read_bytes() != data:
        flagged.append(f"{student}/{target.name}: replaced the copy collected before")
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, target)
    batch.forget_notes(root, assignment, student, target.stem)  # a new notebook: earlier notes are stale
    return target


def from_exchange(root: Path, assignment: str, exchange: Path) -> list[str]:
    """nbgrader collect from an exchange folder; return the students collected."""
    with flow.grading_env():
        result = flow.exchange_api(root, exchange).collect(assignment, update=True)
    flow.raise_unless(result, f"Collecting {assignment} from {exchange}")
    return batch.submitted_students(root, assignment)
