"""Keep the notebooks' solution regions identical to the reference in ``course``.

A solution cell of a source notebook names its reference in its metadata::

    "course": {"reference": "course.layers.basic:Affine", "exercise": ["forward", "backward"]}

Its source is the reference's own source code, with the bodies of the named
methods (or the whole body of a reference function) wrapped in nbgrader's
solution markers. ``python -m autograder.authors.sync`` rewrites every such cell;
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


def render(reference: str, exercise: list[str] | None = None) -> str:
    """The solution cell source for a reference class or function."""
    obj = resolve(reference)
    source = textwrap.dedent(inspect.getsource(obj))
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


def solution_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code" and "reference" in c.metadata.get("course", {})]


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("ch*/*.ipynb"))


def drift(path: Path) -> list[str]:
    """grade_ids of solution cells whose source differs from the reference."""
    nb = nbformat.read(path, as_version=4)
    out = []
    for cell in solution_cells(nb):
        meta = cell.metadata["course"]
        if cell.source != render(meta["reference"], meta.get("exercise")):
            out.append(cell.metadata.get("nbgrader", {}).get("grade_id", meta["reference"]))
    return out


def sync(path: Path) -> int:
    """Rewrite the solution cells of one notebook; return how many changed."""
    nb = nbformat.read(path, as_version=4)
    changed = 0
    for cell in solution_cells(nb):
        meta = cell.metadata["course"]
        new = render(meta["reference"], meta.get("exercise"))
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
