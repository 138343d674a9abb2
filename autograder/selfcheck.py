"""Grade a notebook locally with the course's hidden tests: ``course check NOTEBOOK``.

For self-learners (and students before they submit). The notebook is graded
the way nbgrader's autograde does it: the test cells are put back from the
course's source notebook (hidden tests included, edits undone, deleted ones
restored), the whole notebook runs top to bottom in fast mode, and each test
cell scores its points unless it raised an error or wrote to stderr. The
notebook itself is never modified.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbgrader.utils import determine_grade

from autograder.settings import CELL_TIMEOUT, REPO, grading_environment

SOURCE = REPO / "notebooks"


@dataclass
class ExerciseScore:
    """The outcome of one graded test cell."""

    grade_id: str
    points: float
    score: float
    message: str = ""


def _nbgrader(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


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


def prepare(student: nbformat.NotebookNode, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student's notebook with every test and locked cell restored from the source."""
    nb = copy.deepcopy(student)
    reference = {_nbgrader(c).get("grade_id"): c for c in source.cells if _nbgrader(c).get("grade_id")}
    present = set()
    for i, cell in enumerate(nb.cells):
        gid = _nbgrader(cell).get("grade_id")
        if gid not in reference:
            continue
        present.add(gid)
        src = reference[gid]
        meta = _nbgrader(src)
        if meta.get("locked") or (meta.get("grade") and not meta.get("solution")):
            restored = copy.deepcopy(src)
            restored["id"] = cell.get("id", restored.get("id"))
            nb.cells[i] = restored
    for gid, cell in reference.items():
        if gid not in present and _nbgrader(cell).get("grade") and not _nbgrader(cell).get("solution"):
            nb.cells.append(copy.deepcopy(cell))  # a deleted test cell still counts
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _message(cell: nbformat.NotebookNode) -> str:
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            first = str(out.evalue).strip().splitlines()[0] if str(out.evalue).strip() else ""
            return f"{out.ename}: {first}"[:300]
        if out.output_type == "stream" and out.name == "stderr":
            return "wrote to stderr: " + out.text.strip().splitlines()[0][:200]
    return ""


def grade(notebook: Path, timeout: int = CELL_TIMEOUT) -> list[ExerciseScore]:
    """Run and score a notebook; return one ExerciseScore per test cell."""
    notebook = Path(notebook)
    try:
        student = nbformat.read(notebook, as_version=4)
    except Exception as exc:
        raise ValueError(f"{notebook} is not a readable notebook ({exc}).") from None
    source = nbformat.read(find_source(notebook), as_version=4)
    nb = prepare(student, source)
    with tempfile.TemporaryDirectory(prefix="course-check-") as work:
        client = NotebookClient(
            nb,
            timeout=timeout,
            allow_errors=True,
            kernel_name="python3",
            resources={"metadata": {"path": work}},
        )
        client.execute(env=grading_environment())
    scores = []
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if meta.get("grade") and not meta.get("solution"):
            score, points = determine_grade(cell)
            scores.append(ExerciseScore(meta["grade_id"], points, float(score or 0.0), _message(cell)))
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
