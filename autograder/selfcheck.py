"""Grade a notebook locally with the course's hidden tests: ``course check NOTEBOOK``.

For self-learners (and students before they submit). The notebook is graded
the way the course's autograde does it: the test cells are put back from the
course's source notebook (hidden tests included, edits undone, deleted ones
restored), the whole notebook runs top to bottom in fast mode in the grader's
sandbox, and the judge scores each test cell. The notebook itself is never
modified.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import cells, grading, sandbox
from autograder.settings import NOTEBOOK_TIMEOUT, REPO

SOURCE = REPO / "notebooks"


@dataclass
class ExerciseScore:
    """The outcome of one graded test cell."""

    grade_id: str
    points: float
    score: float
    message: str = ""


def find_source(notebook: Path) -> Path:
    """The course's source notebook with the same file name."""
    matches = sorted(SOURCE.glob(f"ch*/{notebook.name}"))
    if not matches:
        known = ", ".join(p.name for p in sorted(SOURCE.glob("ch*/*.ipynb")))
        raise FileNotFoundError(
            f"{notebook.name} is not one of the course's notebooks ({known}). "
            "Keep the file name of the released notebook when you save your work."
        )
    return matches[0]


def grade(notebook: Path, wall_s: float = NOTEBOOK_TIMEOUT) -> list[ExerciseScore]:
    """Run and score a notebook the way the course's autograde does; one ExerciseScore per test."""
    notebook = Path(notebook)
    try:
        student = nbformat.read(notebook, as_version=4)
    except Exception as exc:
        raise ValueError(f"{notebook} is not a readable notebook ({exc}).") from None
    source = nbformat.read(find_source(notebook), as_version=4)
    nb, _ = cells.restore_cells(student, source)
    outcome, _ = grading.grade(nb, source, sandbox.Limits(wall_s=wall_s))
    scores = []
    for cell in source.cells:
        meta = cells.nbgrader_meta(cell)
        if cells.is_test(cell):
            result = outcome.tests.get(meta["grade_id"])
            passed = bool(result and result.passed)
            points = float(meta.get("points", 0))
            scores.append(
                ExerciseScore(
                    meta["grade_id"],
                    points,
                    points if passed else 0.0,
                    result.message if result else outcome.reason,
                )
            )
    return scores


def table(scores: list[ExerciseScore]) -> str:
    """A per-exercise score table with the failing messages."""
    width = max([len("exercise"), *(len(s.grade_id) for s in scores)])
    lines = [f"{'exercise':<{width}}  score", f"{'-' * width}  ------"]
    for s in scores:
        lines.append(
            f"{s.grade_id:<{width}}  {s.score:g}/{s.points:g}" + (f"   {s.message}" if s.message else "")
        )
    total, possible = sum(s.score for s in scores), sum(s.points for s in scores)
    lines.append(f"{'total':<{width}}  {total:g}/{possible:g}")
    return "\n".join(lines)
