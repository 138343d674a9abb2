"""The course's cells in a submitted notebook: which are tests, and putting locked ones back.

nbgrader restores locked and test cells from its gradebook; the self-check
(``course check``) and the grading flow use :func:`restore_cells` to do the
same from the course's source notebook and to say what the student changed.
"""

from __future__ import annotations

import copy
from typing import Any


def nbgrader_meta(cell: Any) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test(cell: Any) -> bool:
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def restore_cells(student: Any, source: Any) -> tuple[Any, list[str]]:
    """The student's notebook with every locked and test cell put back from the source.

    Returns the notebook and one line per cell that had been edited or deleted.
    """
    nb = copy.deepcopy(student)
    reference = {
        nbgrader_meta(c).get("grade_id"): c for c in source.cells if nbgrader_meta(c).get("grade_id")
    }
    present, review = set(), []
    for i, cell in enumerate(nb.cells):
        gid = nbgrader_meta(cell).get("grade_id")
        if gid not in reference or gid in present:
            if gid in present:  # a copy of a course cell: keep the student's code, drop the marks
                cell.metadata.pop("nbgrader", None)
            continue
        present.add(gid)
        src = reference[gid]
        if nbgrader_meta(src).get("locked") or is_test(src):
            if cell.source != src.source and not nbgrader_meta(src).get("solution"):
                kind = "test" if is_test(src) else "locked"
                if _visible(cell.source) != _visible(src.source):
                    review.append(f"{kind} cell {gid} was edited (the course's version was used)")
            restored = copy.deepcopy(src)
            restored["id"] = cell.get("id", restored.get("id"))
            nb.cells[i] = restored
    for gid, cell in reference.items():
        if gid not in present and (is_test(cell) or nbgrader_meta(cell).get("locked")):
            if cell.cell_type == "code":
                review.append(f"cell {gid} was deleted (the course's version was used)")
            nb.cells.append(copy.deepcopy(cell))
    return nb, review


def _visible(source: str) -> str:
    """A test cell as the student saw it: hidden tests are not in the release."""
    out, hidden = [], False
    for line in source.splitlines():
        if "BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out).strip()
