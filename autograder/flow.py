"""The nbgrader steps of the course, as Python calls: release, submit, autograde, feedback.

All steps work on a course root (default ``autograder/``) with the course's
settings, so tests and tools can grade in a scratch folder without touching
the instructor's gradebook.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from traitlets.config import Config

from autograder.settings import HERE, REPO, config, grading_environment


@contextmanager
def grading_env() -> Iterator[None]:
    """nbgrader reads os.environ for its subprocesses and kernels."""
    saved = dict(os.environ)
    os.environ.update(grading_environment())
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def api(root: Path | None = None, source: Path | None = None, cfg: Config | None = None):  # -> NbGraderAPI
    """An NbGraderAPI for a course root, with the course's settings (or with cfg, built by config())."""
    from nbgrader.apps import NbGraderAPI  # noqa: PLC0415 - slow import, only when grading
    from nbgrader.coursedir import CourseDirectory  # noqa: PLC0415

    cfg = cfg or config(root=root, source=source)
    Path(cfg.CourseDirectory.root).mkdir(parents=True, exist_ok=True)
    return NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)


def assignments(source: Path | None = None) -> list[str]:
    """The chapter assignments: ch01, ch02, ..."""
    src = Path(source or REPO / "notebooks")
    return sorted(p.name for p in src.glob("ch*") if p.is_dir() and any(p.glob("*.ipynb")))


def raise_unless(result: dict, what: str) -> dict:
    """An NbGraderAPI result, or a RuntimeError naming the step and carrying nbgrader's log."""
    if not result.get("success"):
        raise RuntimeError(f"{what} failed: {result.get('error') or ''}\n{result.get('log') or ''}")
    return result


def release(assignment: str, root: Path | None = None) -> Path:
    """nbgrader generate_assignment: the student version (stubs, hidden tests removed)."""
    root = Path(root or HERE)
    with grading_env():
        raise_unless(api(root).generate_assignment(assignment, force=True), f"Releasing {assignment}")
    return root / "release" / assignment


def exchange_api(root: Path | None, exchange: Path):  # -> NbGraderAPI
    """An NbGraderAPI whose exchange (release, submit, collect) is the folder ``exchange``."""
    cfg = config(root=root)
    cfg.Exchange.root = str(Path(exchange).resolve())
    return api(cfg=cfg)


def release_to_exchange(assignment: str, root: Path | None, exchange: Path) -> None:
    """nbgrader release_assignment: put the released version where students fetch it."""
    Path(exchange).mkdir(parents=True, exist_ok=True)
    with grading_env():
        result = exchange_api(root, exchange).release_assignment(assignment)
    raise_unless(result, f"Releasing {assignment} to {exchange}")


def submit(root: Path, student: str, assignment: str, notebooks: list[Path]) -> Path:
    """Place a student's notebooks where nbgrader's autograde looks for them."""
    target = Path(root) / "submitted" / student / assignment
    target.mkdir(parents=True, exist_ok=True)
    for nb in notebooks:
        shutil.copy2(nb, target / Path(nb).name)
    return target


@contextmanager
def gradebook(root: Path | None = None) -> Iterator:  # -> nbgrader.api.Gradebook
    """nbgrader's gradebook of a course root, open for the ``with`` block."""
    from nbgrader.api import Gradebook  # noqa: PLC0415

    cfg = config(root=root)
    with Gradebook(cfg.CourseDirectory.db_url, course_id=cfg.CourseDirectory.course_id) as gb:
        yield gb


def grades(root: Path, assignment: str, student: str) -> dict[str, tuple[float, float]]:
    """{grade_id: (score, max_score)} of every graded code cell of a submission, from the gradebook."""
    with gradebook(root) as gb:
        submission = gb.find_submission(assignment, student)
        return {
            g.name: (float(g.score or 0.0), float(g.max_score))
            for nb in submission.notebooks
            for g in nb.grades
            if g.cell_type == "code" and g.max_score
        }


def autograde(root: Path, assignment: str, student: str) -> dict[str, tuple[float, float]]:
    """Autograde one submission; return {grade_id: (score, max_score)} from the gradebook."""
    with grading_env():
        raise_unless(api(root).autograde(assignment, student, force=True), f"Autograding {student}")
    return grades(root, assignment, student)


def feedback(root: Path, assignment: str, student: str) -> Path:
    """nbgrader generate_feedback (hidden tests stripped by the course's settings)."""
    with grading_env():
        raise_unless(api(root).generate_feedback(assignment, student, force=True), f"Feedback for {student}")
    return Path(root) / "feedback" / student / assignment


def scores(root: Path, assignment: str, student: str) -> dict[str, tuple[float, float]]:
    """{notebook: (score, max_score)} of a graded submission, from the gradebook."""
    with gradebook(root) as gb:
        submission = gb.find_submission(assignment, student)
        return {nb.name: (float(nb.score), float(nb.max_score)) for nb in submission.notebooks}
