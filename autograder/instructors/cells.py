"""The course's cells in a submitted notebook: which are tests, and putting them back.

nbgrader restores locked and test cells from its gradebook, but a notebook
whose nbgrader marks were played with (a copied test cell, a student's cell
marked as graded, a solution cell marked as graded, a grade id re-tagged onto
another cell) makes nbgrader fail or grade the wrong cell. :func:`restore_cells`
settles all of it from the course's notebook (the release, or the source with
its hidden tests), and says what the student changed. The self-check
(``course check``), collecting a class (``batch.normalize``) and the grading
flow use it.

After :func:`restore_cells`, the notebook holds each of the course's marked
cells at most once and every graded cell exactly once, in the course's order,
with the course's nbgrader metadata; any other cell carrying nbgrader marks
keeps its code and loses the marks. Nothing of it is an error: it is all
flagged in the review lines.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

FLAGS = ("grade", "solution", "locked", "task")
_COMPARED = ("grade", "solution", "locked", "task", "points")
STUB = {"code": "# YOUR CODE HERE\nraise NotImplementedError()", "markdown": "YOUR ANSWER HERE"}


def nbgrader_meta(cell: Any) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    found = meta.get("nbgrader") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}


def grade_id(cell: Any) -> str | None:
    gid = nbgrader_meta(cell).get("grade_id")
    return gid if isinstance(gid, str) and gid else None


def is_test(cell: Any) -> bool:
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_graded(cell: Any) -> bool:
    return bool(nbgrader_meta(cell).get("grade"))


def _restored_from_course(cell: Any) -> bool:
    """A cell whose source the course puts back: locked or test (not an answer)."""
    meta = nbgrader_meta(cell)
    return not meta.get("solution") and bool(meta.get("locked") or meta.get("grade"))


def course_cells(source: Any) -> dict[str, tuple[int, Any]]:
    """{grade_id: (position among the course's marked cells, cell)}, in the course's order."""
    found: dict[str, tuple[int, Any]] = {}
    for cell in source.cells:
        gid = grade_id(cell)
        if gid and gid not in found:
            found[gid] = (len(found), cell)
    return found


def restore_cells(student: Any, source: Any) -> tuple[Any, list[str]]:
    """The student's notebook with the course's cells settled and put back from ``source``.

    * each course grade id is kept on one cell of the student's, chosen so that
      the kept ones are in the course's order (a cell whose content matches the
      course's is preferred); other cells carrying nbgrader marks (copies,
      re-tagged, unknown ids, out of order) keep their code and lose the marks;
    * kept cells get the course's nbgrader metadata (and cell type); locked and
      test cells get the course's content;
    * missing locked and graded cells are put back in the course's order (an
      answer cell as the release's stub, never the source's solution).

    Returns the new notebook (the student's is not changed) and one line per
    thing that needs a human look.
    """
    nb = copy.deepcopy(student)
    course = course_cells(source)
    chosen, review = _settle_marks(nb, course)
    held = set(chosen.values())
    edits: list[str] = []
    for index, gid in chosen.items():
        src = course[gid][1]
        if not _restored_from_course(src):
            continue
        cell = nb.cells[index]
        if cell.get("source") != src.source and _visible(_text(cell.get("source"))) != _visible(src.source):
            kind = "test" if is_test(src) else "locked"
            edits.append(f"{kind} cell {gid} was edited (the course's version was used)")
        nb.cells[index] = _copy_of(src, keep_id=cell.get("id"))
    # the course's cells that are missing go back in, each before the next course cell that is there
    position = {gid: k for gid, (k, _) in course.items()}
    following: dict[int | None, list[Any]] = {}
    for gid, (k, src) in course.items():
        if gid in held or not (is_graded(src) or _restored_from_course(src)):
            continue
        if src.cell_type == "code":
            edits.append(f"cell {gid} was deleted (the course's version was used)")
        after = [i for i, g in sorted(chosen.items()) if position[g] > k]
        following.setdefault(after[0] if after else None, []).append(_copy_of(src, stub=True))
    cells = []
    for index, cell in enumerate(nb.cells):
        cells.extend(following.get(index, []))
        cells.append(cell)
    cells.extend(following.get(None, []))
    nb.cells = cells
    _unique_ids(nb)
    return nb, review + edits


def _settle_marks(nb: Any, course: dict[str, tuple[int, Any]]) -> tuple[dict[int, str], list[str]]:
    """Choose the one student cell for each course grade id; strip every other mark (in place).

    Returns {student cell index: grade id} of the chosen cells and the review lines.
    """
    claims = []  # (cell index, course position, weight)
    for index, cell in enumerate(nb.cells):
        gid = grade_id(cell)
        if gid in course:
            k, src = course[gid]
            claims.append((index, k, 2 if _looks_like(cell, src) else 1))
    order = {k: gid for gid, (k, _) in course.items()}
    chosen = {index: order[k] for index, k in _in_order(claims).items()}
    held = set(chosen.values())
    review = []
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if index in chosen:
            gid = chosen[index]
            src = course[gid][1]
            changed = _changed_marks(meta, nbgrader_meta(src))
            if cell.get("cell_type") != src.cell_type:
                changed.append(f"cell type {cell.get('cell_type')}")
                nb.cells[index] = cell = _as_type(cell, src.cell_type)
            if changed:
                marks = ", ".join(changed)
                review.append(
                    f"cell {gid}: its nbgrader marks were changed ({marks}); the course's were used"
                )
            cell.metadata["nbgrader"] = copy.deepcopy(nbgrader_meta(src))
            continue
        metadata = cell.get("metadata")
        if not isinstance(metadata, dict) or "nbgrader" not in metadata:
            continue
        metadata.pop("nbgrader")
        if not any(meta.get(flag) for flag in FLAGS):
            continue  # marks that mark nothing (nbgrader leaves such): nothing to say
        gid = meta.get("grade_id")
        if gid not in course:
            why = f"{gid!r} is not a cell of the course" if gid else "it had no grade id"
        elif gid in held:
            why = f"another cell is the course's {gid}"
        else:
            why = f"{gid} was out of the course's order"
        marks = ", ".join(flag for flag in FLAGS if meta.get(flag))
        review.append(
            f"cell {index + 1}: nbgrader marks ({marks}) removed because {why}; "
            "its code was kept as the student's"
        )
    return chosen, review


def _in_order(claims: list[tuple[int, int, int]]) -> dict[int, int]:
    """The heaviest set of claims whose course positions rise with the cell index: {cell index: position}.

    ``claims``: (cell index, course position, weight) in cell order. Strictly rising
    positions also mean each position is taken once. Ties go to the earlier cell.
    """
    value: list[int] = []
    back: list[int | None] = []
    best_at: dict[int, int] = {}  # course position -> the claim ending the heaviest chain there
    for n, (_, k, weight) in enumerate(claims):
        before = [m for position, m in best_at.items() if position < k]
        previous = max(before, key=lambda m: value[m], default=None)
        value.append(weight + (value[previous] if previous is not None else 0))
        back.append(previous)
        if k not in best_at or value[n] > value[best_at[k]]:
            best_at[k] = n
    end = max(best_at.values(), key=lambda m: value[m], default=None)
    chosen = {}
    while end is not None:
        chosen[claims[end][0]] = claims[end][1]
        end = back[end]
    return chosen


def _looks_like(cell: Any, src: Any) -> bool:
    """Whether a student's cell is plausibly the course's cell it claims to be."""
    if cell.get("cell_type") != src.cell_type:
        return False
    if _restored_from_course(src):
        return _visible(_text(cell.get("source"))) == _visible(src.source)
    return True


def _changed_marks(meta: dict, course: dict) -> list[str]:
    changed = []
    for key in _COMPARED:
        mine, theirs = meta.get(key), course.get(key)
        if key == "points":
            try:
                same = float(mine or 0) == float(theirs or 0)
            except (TypeError, ValueError):
                same = False
        else:
            same = bool(mine) == bool(theirs)
        if not same:
            changed.append(f"{key}: {mine!r}")
    return changed


def _text(source: Any) -> str:
    if isinstance(source, list):
        return "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def _as_type(cell: Any, cell_type: str) -> Any:
    """The cell as another cell type, its source and metadata kept."""
    import nbformat  # noqa: PLC0415 - only when a student changed a course cell's type

    make = {
        "code": nbformat.v4.new_code_cell,
        "markdown": nbformat.v4.new_markdown_cell,
        "raw": nbformat.v4.new_raw_cell,
    }[cell_type]
    new = make(_text(cell.get("source")), metadata=copy.deepcopy(cell.get("metadata") or {}))
    if "id" in cell:
        new["id"] = cell["id"]
    else:
        new.pop("id", None)
    return new


def _copy_of(src: Any, keep_id: Any = None, stub: bool = False) -> Any:
    cell = copy.deepcopy(src)
    if stub and nbgrader_meta(src).get("solution"):  # never the source's answer
        cell.source = STUB.get(src.cell_type, "")
    if keep_id is not None:
        cell["id"] = keep_id
    if cell.get("cell_type") == "code":
        cell["outputs"], cell["execution_count"] = [], None
    return cell


def _unique_ids(nb: Any) -> None:
    """Cell ids as the notebook's format wants them: present and unique from 4.5 on, absent before."""
    with_ids = (nb.get("nbformat"), nb.get("nbformat_minor", 0)) >= (4, 5)
    seen = set()
    for cell in nb.cells:
        if not with_ids:
            cell.pop("id", None)
            continue
        if not isinstance(cell.get("id"), str) or not cell["id"] or cell["id"] in seen:
            cell["id"] = secrets.token_hex(4)
            while cell["id"] in seen:
                cell["id"] = secrets.token_hex(4)
        seen.add(cell["id"])


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
