"""The judge: scores a notebook's tests from data, never running the student's code itself.

For each graded test cell of the course's source notebook, the judge reads
which check of :mod:`autograder.students.exercises` it calls and with which of the
student's definitions (``ch05.time_rnn(TimeRNN)``), starts a *subject* for it
(a sandboxed process that runs the release's setup cells and the student's
own cells, in a course tree where that exercise's answers are stubs, see
:mod:`autograder.instructors.stubs`) and runs the check here, against proxies of the
student's definitions (:mod:`autograder.instructors.remote`). Gradient checks, the
comparison with the reference and the verdict all happen in this process;
the subject only ever answers with data. One subject per exercise: a bug, a
crash or a hang in one exercise costs that exercise alone.
"""

from __future__ import annotations

import ast
import importlib
import traceback
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import course
from autograder.instructors import cells, remote, sandbox
from autograder.instructors.protocol import ProtocolError
from course.answers import answers


@dataclass(frozen=True)
class Exercise:
    """One graded test cell: the check it calls, the student's names it passes, what to stub."""

    grade_id: str
    check: Callable[..., None]
    names: tuple[str, ...]
    stub: tuple[str, ...]


@dataclass
class Verdict:
    passed: bool
    message: str = ""
    review: str = ""


def hidden_call(source: str) -> tuple[str, str, tuple[str, ...]] | None:
    """(module, function, names) of the check a test cell's hidden part calls: ``ch05.time_rnn(TimeRNN)``."""
    hidden = []
    inside = False
    for line in source.splitlines():
        if "BEGIN HIDDEN TESTS" in line:
            inside = True
        elif "END HIDDEN TESTS" in line:
            inside = False
        elif inside:
            hidden.append(line.strip())
    for node in ast.walk(ast.parse("\n".join(hidden) or "pass")):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and all(isinstance(a, ast.Name) for a in node.args)
            and not node.keywords
        ):
            return node.func.value.id, node.func.attr, tuple(a.id for a in node.args)
    return None


def _defined(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def exercises(source_nb: Any) -> list[Exercise]:
    """The graded exercises of a source notebook (hidden tests included), in order."""
    references: dict[str, str] = {}
    known = answers()
    for cell in source_nb.cells:
        answer = known.get(cells.nbgrader_meta(cell).get("grade_id"))
        ref = answer.reference if answer else None
        if ref and cell.cell_type == "code":
            for name in _defined(cell.source):
                if name == ref.rpartition(":")[2] or len(_defined(cell.source)) == 1:
                    references[name] = ref
    out = []
    for cell in source_nb.cells:
        if not cells.is_test(cell):
            continue
        call = hidden_call(cell.source)
        if call is None:
            continue
        module, function, names = call
        check = getattr(importlib.import_module(f"autograder.students.exercises.{module}"), function)
        stub = tuple(references[n] for n in names if n in references)
        out.append(Exercise(cells.nbgrader_meta(cell)["grade_id"], check, names, stub))
    return out


def subject_cells(nb: Any, source_nb: Any) -> list[dict]:
    """The code cells a subject runs: the release's setup cells and every cell that is the student's.

    The course's demonstrations and training cells (code cells the student left as
    released) are skipped: the verdict does not need them. Test cells never run.
    """
    released = {c.source for c in source_nb.cells if c.cell_type == "code" and not cells.nbgrader_meta(c)}
    out = []
    for index, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        meta = cells.nbgrader_meta(cell)
        if cells.is_test(cell):
            continue
        setup = meta.get("locked") and not meta.get("grade")
        if setup or meta.get("solution") or cell.source not in released:
            out.append({"index": index, "source": cell.source})
    return out


def judge_exercise(
    exercise: Exercise, code: list[dict], limits: sandbox.Limits, cells_timeout: float | None = None
) -> Verdict:
    """Run one exercise's check against a fresh subject; the verdict, with a message for the student."""
    try:
        with remote.Subject(code, exercise.stub, limits, cells_timeout=cells_timeout) as subject:
            proxies = [subject.lookup(name) for name in exercise.names]
            course.seed(0)
            exercise.check(*proxies)
    except AssertionError as exc:
        return Verdict(False, _first_line(exc))
    except remote.SubjectError as exc:
        return Verdict(False, str(exc), review=f"{exercise.grade_id}: {exc}")
    except (remote.StudentError, ProtocolError) as exc:
        return Verdict(False, _first_line(exc))
    except Exception as exc:  # the student's own exception, raised here as data
        return Verdict(False, f"{type(exc).__name__}: {_first_line(exc)}")
    return Verdict(True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if not text:
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[:1500]


def judge_notebook(
    nb: Any,
    source_nb: Any,
    limits: sandbox.Limits,
    cells_timeout: float | None = None,
    skip: set[int] = frozenset(),
    only: Collection[str] | None = None,
) -> dict[str, Verdict]:
    """Every exercise's verdict (or those of the test cells in ``only``), by test cell grade_id.

    ``cells_timeout`` bounds the time a subject may take to run the student's cells
    (the feedback run has shown how long they need); ``skip`` lists code cells
    (by index) the subjects leave out: the cell the feedback run stopped in.
    """
    code = [c for c in subject_cells(nb, source_nb) if c["index"] not in skip]
    wanted = [ex for ex in exercises(source_nb) if only is None or ex.grade_id in only]
    return {ex.grade_id: judge_exercise(ex, code, limits, cells_timeout) for ex in wanted}


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.instructors.judge NOTEBOOK``: each exercise's verdict, no feedback run."""
    import argparse  # noqa: PLC0415
    import time  # noqa: PLC0415

    import nbformat  # noqa: PLC0415

    from autograder.settings import REPO  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("notebook")
    parser.add_argument("--only", help="judge only this test cell (grade_id)")
    args = parser.parse_args(argv)
    matches = sorted((REPO / "notebooks").glob(f"ch*/{Path(args.notebook).name}"))
    if not matches:
        parser.error(f"{Path(args.notebook).name} is not one of the course's notebooks")
    source = nbformat.read(matches[0], as_version=4)
    nb, _ = cells.restore_cells(nbformat.read(args.notebook, as_version=4), source)
    code = subject_cells(nb, source)
    for ex in exercises(source):
        if args.only and ex.grade_id != args.only:
            continue
        began = time.monotonic()
        verdict = judge_exercise(ex, code, sandbox.Limits())
        mark = "pass" if verdict.passed else "FAIL"
        print(f"{ex.grade_id:<32} {mark}  {time.monotonic() - began:5.1f} s  {verdict.message[:300]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
