"""Keep the notebooks' solution regions identical to the model answers in ``course``.

A model answer is marked where it is defined (``course.answers.model_answer``),
under the grade id of its solution cell. That cell's source is the answer's own
source code (without the mark), with the bodies of the methods the student
writes (or the whole body of a function) wrapped in nbgrader's solution markers.
``python -m autograder.authors.sync`` rewrites every such cell;
``python -m autograder.authors.sync --check`` (and the test suite) fails on any drift.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import sys
import textwrap
from pathlib import Path

import nbformat

from course.answers import Answer, answers

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def resolve(reference: str) -> object:
    """'package.module:Name' -> the object."""
    module_name, _, attr = reference.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _body_range(func: ast.FunctionDef, lines: list[str]) -> tuple[int, int]:
    """0-based [start, end) line range of a function body, after its docstring.

    Comments just above the first statement belong to the body (they explain it).
    """
    body = func.body
    has_doc = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
    if has_doc and len(body) > 1:
        body = body[1:]
    start = body[0].lineno - 1
    while start - 1 >= func.lineno and lines[start - 1].strip().startswith("#"):
        if start - 1 == func.lineno - 1:
            break
        start -= 1
    return start, func.end_lineno


def _wrap(lines: list[str], start: int, end: int) -> list[str]:
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    return [*lines[:start], f"{indent}{BEGIN}", *lines[start:end], f"{indent}{END}", *lines[end:]]


def _without_mark(source: str) -> str:
    """The definition's source without its ``@model_answer(...)`` decorator."""
    node = ast.parse(source).body[0]
    marks = [
        d
        for d in node.decorator_list
        if isinstance(d, ast.Call) and getattr(d.func, "id", "") == "model_answer"
    ]
    lines = source.split("\n")
    for mark in sorted(marks, key=lambda d: d.lineno, reverse=True):
        del lines[mark.lineno - 1 : mark.end_lineno]
    return "\n".join(lines)


def render(reference: str, exercise: list[str] | tuple[str, ...] | None = None) -> str:
    """The solution cell source for a reference class or function."""
    obj = resolve(reference)
    source = _without_mark(textwrap.dedent(inspect.getsource(obj)))
    lines = source.rstrip("\n").split("\n")
    node = ast.parse(source).body[0]
    if isinstance(node, ast.ClassDef):
        wanted = list(exercise or [])
        found = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef)}
        missing = [m for m in wanted if m not in found]
        if missing:
            raise ValueError(f"{reference} has no method(s) {missing}")
        ranges = sorted((_body_range(found[m], lines) for m in wanted), reverse=True)
    else:
        ranges = [_body_range(node, lines)]
    for start, end in ranges:  # bottom-up, so earlier line numbers stay valid
        lines = _wrap(lines, start, end)
    return "\n".join(lines)


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def solution_cells(nb: nbformat.NotebookNode) -> list[tuple[nbformat.NotebookNode, Answer]]:
    """The notebook's solution cells that render a model answer, with that answer."""
    known = answers()
    return [
        (c, known[grade_id(c)])
        for c in nb.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution") and grade_id(c) in known
    ]


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("ch*/*.ipynb"))


def drift(path: Path) -> list[str]:
    """grade_ids of solution cells whose source differs from the reference."""
    nb = nbformat.read(path, as_version=4)
    out = []
    for cell, answer in solution_cells(nb):
        if cell.source != render(answer.reference, answer.methods):
            out.append(answer.exercise)
    return out


def sync(path: Path) -> int:
    """Rewrite the solution cells of one notebook; return how many changed."""
    nb = nbformat.read(path, as_version=4)
    changed = 0
    for cell, answer in solution_cells(nb):
        new = render(answer.reference, answer.methods)
        if cell.source != new:
            cell.source = new
            changed += 1
    if changed:
        nbformat.write(nb, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")
    args = parser.parse_args(argv)
    status = 0
    for path in notebooks():
        if args.check:
            stale = drift(path)
            if stale:
                status = 1
                print(f"{path.relative_to(ROOT)}: solution cells differ from course/: {', '.join(stale)}")
        else:
            n = sync(path)
            print(f"{path.relative_to(ROOT)}: {n} solution cell(s) updated")
    return status


if __name__ == "__main__":
    sys.exit(main())
