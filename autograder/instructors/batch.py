"""Grade a whole class: parallel workers, safe for the gradebook, resumable.

Each submission is graded by nbgrader's autograde (with the course's sandboxed
execute step) in one of a bounded number of worker processes. The gradebook is
SQLite with a busy timeout, so concurrent writers wait instead of failing; the
grader never reaches it from inside a sandbox. The ledger marks a submission
finished only after nbgrader has stored its grades, so an interrupted batch
resumes where it stopped, and a submission graded again replaces its earlier
rows rather than adding to them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from tqdm.auto import tqdm

from autograder import flow
from autograder.instructors import bounds, cells, ledger
from autograder.settings import config


@dataclass
class Settings:
    """How a class is graded."""

    workers: int = 2
    wall_s: float | None = None  # per notebook; None: the course's default
    memory_mb: int | None = None
    force: bool = False  # grade again submissions that are already finished


@dataclass
class Summary:
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def submitted_students(root: Path, assignment: str) -> list[str]:
    base = Path(root) / "submitted"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if not p.name.startswith(".") and (p / assignment).is_dir())


def expected_notebooks(root: Path, assignment: str) -> dict[str, set[str]]:
    """The assignment's notebooks and the grade ids of each, from the release."""
    out = {}
    for path in sorted((Path(root) / "release" / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        out[path.stem] = {cells.grade_id(c) for c in nb.cells} - {None}
    if not out:
        raise FileNotFoundError(
            f"{assignment} has not been released in {root}: run `course-grade release {assignment}` first."
        )
    return out


NOTES = "grading-notes.json"
SET_ASIDE = {"invalid": ".invalid", "too-large": ".too-large"}  # a notebook not read: kept as NAME + this
ORIGINAL = ".original"  # a notebook whose course cells were settled: the student's file, kept as NAME + this


def normalize(
    root: Path,
    assignment: str,
    student: str,
    expected: dict[str, set[str]],
    max_bytes: int | None = None,
) -> dict[str, dict]:
    """Make a submission gradable; return notebook -> the outcome to record for what was changed.

    * a notebook over the size limit (``max_bytes``, default
      :func:`autograder.instructors.bounds.notebook_limit`) is not parsed: it is kept as
      ``NAME.ipynb.too-large`` and graded as the untouched release (zero),
      status "too-large"; one that is not valid JSON, nests too deep or is not a
      notebook is kept as ``NAME.ipynb.invalid`` and graded the same way,
      status "invalid";
    * a notebook saved under another name is recognised by its cells and
      renamed back, flagged for review;
    * the course's cells are settled against the release
      (:func:`autograder.instructors.cells.restore_cells`: copied, re-tagged or re-marked
      nbgrader cells, deleted or moved ones), so that nbgrader never trips on
      them; the student's file is kept as ``NAME.ipynb.original`` and what was
      done is flagged for review.

    What was changed is kept in ``NOTES`` beside the notebooks, so grading the
    submission again still reports it. ``expected``: ``expected_notebooks(root, assignment)``.
    """
    folder = Path(root) / "submitted" / student / assignment
    release = Path(root) / "release" / assignment
    limit = bounds.notebook_limit() if max_bytes is None else max_bytes
    notes = read_notes(folder)
    for path in sorted(folder.glob("*.ipynb")):
        name = path.stem if path.stem in expected else _only(expected)
        if name and name != path.stem and (folder / f"{name}.ipynb").exists():
            name = None  # another file of the student's already is that notebook
        if _is_release(path, release / path.name):
            continue  # the untouched release (or put in place of a notebook not read): nothing to check
        try:
            if path.is_symlink() or not path.is_file():
                raise bounds.RefusedError(f"{path.name} is not a plain file")
            nb = bounds.read_notebook(path, limit)
        except Exception as exc:
            _set_aside(folder, path, exc, name, release, notes, fallback=_only(expected))
            continue
        if path.stem not in expected:
            ids = {cells.grade_id(c) for c in nb.cells} - {None}
            best = max(expected, key=lambda n: len(ids & expected[n]))
            if not (ids & expected[best]) or (folder / f"{best}.ipynb").exists():
                continue
            _review(notes, best, f"submitted as {path.name}; graded as {best}.ipynb")
            path = path.rename(folder / f"{best}.ipynb")
        _settle_cells(path, nb, release / path.name, notes)
    write_notes(folder, notes)
    for name in expected:
        if not (folder / f"{name}.ipynb").exists() and name not in notes:
            notes[name] = {"status": "missing", "reason": f"{name}.ipynb was not submitted"}
    return notes


def read_notes(folder: Path) -> dict[str, dict]:
    """What collecting and normalizing changed in a submission (``NOTES``), or nothing."""
    try:
        notes = json.loads((Path(folder) / NOTES).read_text())
    except (OSError, ValueError):
        return {}
    return notes if isinstance(notes, dict) else {}


def write_notes(folder: Path, notes: dict[str, dict]) -> None:
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / NOTES).write_text(json.dumps(notes, indent=1))


def note_refused(root: Path, assignment: str, student: str, notebook: str, status: str, reason: str) -> None:
    """Record that a student's notebook was refused before it reached submitted/ (when collected).

    The notebook is then graded as the untouched release (zero) with this status and reason;
    a copy collected before is replaced by the release (the refused one supersedes it).
    """
    folder = Path(root) / "submitted" / student / assignment
    notes = read_notes(folder)
    notes[notebook] = {"status": status, "reason": reason}
    write_notes(folder, notes)
    (folder / f"{notebook}.ipynb").unlink(missing_ok=True)
    _release_in_place(folder, notebook, Path(root) / "release" / assignment)


def forget_notes(root: Path, assignment: str, student: str, notebook: str) -> None:
    """Drop what was noted about a notebook that the student has submitted anew (collected again)."""
    folder = Path(root) / "submitted" / student / assignment
    notes = read_notes(folder)
    if notes.pop(notebook, None) is not None:
        write_notes(folder, notes)


def _is_release(path: Path, release: Path) -> bool:
    try:
        return (
            not path.is_symlink()
            and path.stat().st_size == release.stat().st_size
            and path.read_bytes() == release.read_bytes()
        )
    except OSError:
        return False


def _release_in_place(folder: Path, name: str, release: Path) -> None:
    target = folder / f"{name}.ipynb"
    if not target.exists() and (release / target.name).exists():
        shutil.copy2(release / target.name, target)


def _set_aside(
    folder: Path,
    path: Path,
    exc: Exception,
    name: str | None,
    release: Path,
    notes: dict,
    fallback: str | None,
) -> None:
    """Keep a notebook that is not read beside the others, and grade the release in its place."""
    status = exc.status if isinstance(exc, bounds.RefusedError) else "invalid"
    aside = path.with_name(path.name + SET_ASIDE[status])
    path.replace(aside)
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    kept = f"kept as {aside.name} for a human look"
    if status == "invalid":
        reason = f"{path.name} is not a valid notebook ({detail}); {kept}"
    else:
        reason = f"{detail}; not read, {kept}"
    if name:
        _release_in_place(folder, name, release)
        notes[name] = {"status": status, "reason": reason}
    elif fallback:
        _review(notes, fallback, f"also submitted: {reason}")


def _settle_cells(path: Path, nb: Any, release: Path, notes: dict) -> None:
    """Settle the course's cells against the release; keep the student's file if anything changed."""
    if not release.exists():
        return
    fixed, review = cells.restore_cells(nb, nbformat.read(release, as_version=4))
    if not review:
        return
    shutil.copy2(path, path.with_name(path.name + ORIGINAL))  # a settled file has nothing left to settle
    nbformat.write(fixed, path)
    for line in review:
        _review(notes, path.stem, line)


def _review(notes: dict, name: str, line: str) -> None:
    review = notes.setdefault(name, {}).setdefault("review", [])
    if line not in review:
        review.append(line)


def _only(expected: dict) -> str | None:
    return next(iter(expected)) if len(expected) == 1 else None


_API = {}


def _api(root: Path, settings: Settings):  # -> NbGraderAPI, one per worker process and limits
    key = (str(root), settings.wall_s, settings.memory_mb)
    if key not in _API:
        cfg = config(root=root)
        if settings.wall_s:
            cfg.SandboxedExecute.wall_s = float(settings.wall_s)
        if settings.memory_mb:
            cfg.SandboxedExecute.memory_mb = int(settings.memory_mb)
        _API[key] = flow.api(cfg=cfg)
    return _API[key]


def grade_one(
    root: Path, assignment: str, student: str, settings: Settings, expected: dict[str, set[str]]
) -> str:
    """Grade one submission; return '' or the reason it could not be graded.

    ``expected``: the assignment's notebooks and grade ids, ``expected_notebooks(root, assignment)``.
    """
    root = Path(root)
    notes, error = prepare(root, assignment, student, expected)
    if error:
        return error
    return record(root, assignment, student, notes, _api(root, settings))


def prepare(
    root: Path, assignment: str, student: str, expected: dict[str, set[str]]
) -> tuple[dict[str, dict], str]:
    """Forget an earlier grading and normalize the submission: (notes, '') or ({}, why it cannot be read)."""
    ledger.start(root, assignment, student)
    try:
        return normalize(root, assignment, student, expected), ""
    except Exception as exc:
        reason = f"could not read the submission: {exc}"
        ledger.record(root, assignment, student, "*", {"status": "error", "reason": reason})
        return {}, reason


def record(root: Path, assignment: str, student: str, notes: dict[str, dict], api: Any) -> str:
    """nbgrader's autograde with ``api`` (its Execute step stores the scores), then the ledger:
    '' or the reason the submission could not be graded. ``notes``: from :func:`prepare`."""
    with flow.grading_env():
        result = api.autograde(assignment, student, force=True)
    if not result.get("success"):
        reason = _last_line(result.get("error") or result.get("log") or "nbgrader failed")
        ledger.record(root, assignment, student, "*", {"status": "error", "reason": reason})
        return reason
    rows = {r["notebook"]: r for r in ledger.rows(root, assignment, student)}
    for notebook, note in notes.items():
        rows[notebook] = _merged(rows.get(notebook), note)
        ledger.record(root, assignment, student, notebook, rows[notebook])
    broken = [r for r in rows.values() if r["status"] == "error"]
    if broken:  # the grader failed, not the student: leave it unfinished, to be graded again
        return f"{broken[0]['notebook']}: {broken[0]['reason']}"
    ledger.finish(root, assignment, student, flow.scores(root, assignment, student))
    return ""


def _merged(row: dict | None, note: dict) -> dict:
    """A notebook's recorded outcome (None: none yet) with what collecting changed put in front."""
    row = row or {"status": "graded", "reason": "", "review": [], "tests": {}, "wall_s": None}
    row["status"] = note.get("status", row["status"])
    row["reason"] = note.get("reason", row["reason"])
    row["review"] = list(note.get("review", [])) + list(row["review"])
    return row


def _last_line(text: str) -> str:
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "unknown error"


def _quiet() -> None:
    """nbgrader 0.9 makes SQLAlchemy warn inside its own gradebook code; the warning is harmless."""
    try:
        from sqlalchemy.exc import SAWarning  # noqa: PLC0415
    except ImportError:
        return
    warnings.filterwarnings("ignore", category=SAWarning)


def _worker_init() -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _quiet()


def grade_class(root: Path, assignment: str, students: list[str] | None, settings: Settings) -> Summary:
    """Grade every (or the named) submission of an assignment; resume unless settings.force."""
    root = Path(root).resolve()
    _quiet()
    if not (root / "gradebook.db").exists():
        raise FileNotFoundError(f"No gradebook in {root}: run `course-grade release {assignment}` first.")
    expected = expected_notebooks(root, assignment)  # fails early, with advice, when not released
    todo = students or submitted_students(root, assignment)
    done = set() if settings.force else ledger.finished(root, assignment)
    summary = Summary(skipped=[s for s in todo if s in done])
    pending = [s for s in todo if s not in done]
    bar = tqdm(total=len(pending), desc=f"grading {assignment}", unit="student")
    if settings.workers <= 1:
        for student in pending:
            _collect(summary, student, grade_one(root, assignment, student, settings, expected), bar)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(settings.workers, mp_context=context, initializer=_worker_init) as pool:
            futures = {pool.submit(grade_one, root, assignment, s, settings, expected): s for s in pending}
            for future in as_completed(futures):
                try:
                    error = future.result()
                except Exception as exc:
                    error = f"the grading worker failed: {exc}"
                    ledger.record(
                        root, assignment, futures[future], "*", {"status": "error", "reason": error}
                    )
                _collect(summary, futures[future], error, bar)
    bar.close()
    return summary


def _collect(summary: Summary, student: str, error: str, bar: tqdm) -> None:
    if error:
        summary.errors[student] = error
    else:
        summary.graded.append(student)
    bar.update(1)


def check(root: Path, assignment: str) -> list[str]:
    """Compare the gradebook with the ledger; return the problems found (none: consistent)."""
    from nbgrader.api import MissingEntry  # noqa: PLC0415

    root = Path(root)
    problems = []
    db = root / "gradebook.db"
    if not db.exists():
        return [f"the gradebook {db} is missing"]
    rows = ledger.rows(root, assignment)
    with flow.gradebook(root) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            return [f"the gradebook does not know {assignment}"]
        for row in rows:
            if not row["finished"] or row["notebook"] == "*":
                continue
            try:
                nb = gb.find_submission_notebook(row["notebook"], assignment, row["student"])
            except MissingEntry:
                problems.append(f"{row['student']}/{row['notebook']}: graded but not in the gradebook")
                continue
            if row["score"] is not None and abs(float(nb.score) - float(row["score"])) > 1e-9:
                problems.append(
                    f"{row['student']}/{row['notebook']}: gradebook {nb.score:g}, graded {row['score']:g}"
                )
    graded = {r["student"] for r in rows}
    for student in submitted_students(root, assignment):
        if student not in graded:
            problems.append(f"{student}: submitted but never graded")
    return problems
