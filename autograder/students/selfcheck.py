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

from autograder.instructors import bounds, cells, grading, sandbox
from autograder.settings import NOTEBOOK_TIMEOUT, REPO

SOURCE = REPO / "notebooks"


@dataclass
class ExerciseScore:
    """The outcome of one graded test cell."""

    grade_id: str
    points: float
    score: float
    message: str = ""


def read_notebook(notebook: Path) -> nbformat.NotebookNode:
    """The student's notebook, read within the course's limits; a clear ValueError naming the fix if not."""
    notebook = Path(notebook)
    try:
        return bounds.read_notebook(notebook, name=str(notebook))
    except bounds.TooLargeError as exc:
        raise ValueError(
            f"{exc}. Stored outputs are the usual cause: clear them (in Jupyter: Kernel > Restart Kernel "
            "and Clear Outputs of All Cells, then save; or "
            f"`jupyter nbconvert --clear-output --inplace {notebook}`) and check it again."
        ) from None
    except bounds.RefusedError as exc:
        raise ValueError(
            f"{exc}. It was probably cut off while saving or edited outside Jupyter: open it in Jupyter "
            "and save it again, or start from a fresh copy of the released notebook and paste your code "
            "into it."
        ) from None
    except OSError as exc:
        raise ValueError(f"{notebook} cannot be read ({exc.strerror or exc}).") from None


def _grade_ids(nb: nbformat.NotebookNode) -> set[str]:
    return {cells.grade_id(c) for c in nb.cells} - {None}


def _chapter(path: Path) -> str:
    number = path.parent.name.removeprefix("ch").lstrip("0")
    return f"chapter {number}" if number.isdigit() else path.parent.name


def find_source(notebook: Path, student: nbformat.NotebookNode | None = None) -> Path:
    """The course's source notebook of a student's notebook: same file name, and cells of that chapter.

    ``student``: the notebook, already read (default: read from ``notebook``).
    A notebook of another chapter saved under this chapter's name, or a course
    notebook saved under a name of its own, is an error that says which
    notebook it looks like.
    """
    notebook = Path(notebook)
    sources = sorted(SOURCE.glob("ch*/*.ipynb"))
    named = next((p for p in sources if p.name == notebook.name), None)
    if student is None and notebook.exists():
        student = read_notebook(notebook)
    ids = _grade_ids(student) if student is not None else set()
    if ids:
        overlap = {p: len(ids & _grade_ids(nbformat.read(p, as_version=4))) for p in sources}
        best = max(sources, key=lambda p: overlap[p])
        if named is not None and overlap[best] > overlap[named]:
            raise ValueError(
                f"{notebook} looks like {_chapter(best)}'s notebook {best.name}, saved as {notebook.name}. "
                f"Save it as {best.name} to check it, or open your {notebook.name} for {_chapter(named)}."
            )
        if named is None and overlap[best] > 0:
            raise FileNotFoundError(
                f"{notebook.name} is not one of the course's notebooks, but it looks like "
                f"{_chapter(best)}'s notebook {best.name}: save it as {best.name} and check it again."
            )
    if named is None:
        known = ", ".join(p.name for p in sources)
        raise FileNotFoundError(
            f"{notebook.name} is not one of the course's notebooks ({known}). "
            "Keep the file name of the released notebook when you save your work."
        )
    return named


def grade(notebook: Path, wall_s: float = NOTEBOOK_TIMEOUT) -> list[ExerciseScore]:
    """Run and score a notebook the way the course's autograde does; one ExerciseScore per test."""
    notebook = Path(notebook)
    student = read_notebook(notebook)
    source = nbformat.read(find_source(notebook, student), as_version=4)
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
