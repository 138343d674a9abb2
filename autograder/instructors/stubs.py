"""Course trees in which the answers to an exercise do not exist: what a subject imports while judged.

For each exercise the judge binds, read-only and in place of the course's own
code, a copy of ``course/`` in which the exercise's model answers (the
``reference`` of its solution cells) and their named twins (another function
or class of the course that computes the same answer, such as a fast version)
are stubs: the definition stays, with its signature and docstring, and its
body raises ``NotImplementedError``. Importing, reloading or reading the
answer then yields the stub. Trees are built once per set of names and kept
for the grading process's lifetime, outside anything a sandbox can see.
"""

from __future__ import annotations

import ast
import compileall
import functools
import hashlib
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import course
from course.answers import answers

COURSE_DIR = Path(course.__file__).resolve().parent


def twins(reference: str) -> tuple[str, ...]:
    """Definitions of the course that compute ``reference``'s answer under another name.

    They are marked with the answer (``model_answer(..., twins=...)``). Helpers a chapter
    hands the student on purpose (clip_grads' scale_grads and clip_rate) are not twins.
    """
    return next((a.twins for a in answers().values() if a.reference == reference), ())


_MESSAGE = "is the exercise being graded: the course's version is not available while your answer is judged"


def stubbed_names(references: Iterable[str]) -> list[str]:
    """The references and their twins, as ``module:Name`` strings."""
    names: dict[str, None] = {}
    for ref in references:
        names[ref] = None
        names.update(dict.fromkeys(twins(ref)))
    return list(names)


def _module_file(module: str) -> Path:
    parts = module.split(".")
    if parts[0] != "course":
        raise ValueError(f"{module} is not a module of the course")
    base = COURSE_DIR.joinpath(*parts[1:])
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def stub_source(text: str, names: Iterable[str]) -> str:
    """``text`` (a module's source) with the bodies of the top-level ``names`` replaced by stubs."""
    wanted = set(names)
    lines = text.splitlines(keepends=True)
    found: set[str] = set()
    edits: list[tuple[int, int, list[str]]] = []
    for node in ast.parse(text).body:
        if not isinstance(node, (ast.ClassDef, ast.FunctionDef)) or node.name not in wanted:
            continue
        found.add(node.name)
        body = node.body
        keep = 1 if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) else 0
        indent = " " * (body[0].col_offset)
        start = body[keep].lineno - 1 if keep < len(body) else body[-1].end_lineno
        if isinstance(node, ast.ClassDef):
            stub = [
                f"{indent}def __init__(self, *args, **kwargs):\n",
                f"{indent}    raise NotImplementedError({node.name + ' ' + _MESSAGE!r})\n",
            ]
        else:
            stub = [f"{indent}raise NotImplementedError({node.name + ' ' + _MESSAGE!r})\n"]
        edits.append((start, node.end_lineno, stub))
    missing = wanted - found
    if missing:
        raise ValueError(f"no top-level definition of {sorted(missing)} to stub")
    for start, end, stub in sorted(edits, reverse=True):
        lines[start:end] = stub
    return "".join(lines)


def _digest(names: list[str]) -> str:
    h = hashlib.sha256("\n".join(sorted(names)).encode())
    for path in sorted(COURSE_DIR.rglob("*.py")):
        h.update(path.relative_to(COURSE_DIR).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@functools.cache
def _cache_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="course-stubs-"))


@functools.cache
def tree(references: tuple[str, ...]) -> Path:
    """A course tree without the given references (and their twins); built once per process.

    Returns the folder to bind in place of ``course/``.
    """
    names = stubbed_names(references)
    target = _cache_dir() / _digest(names) / "course"
    if target.exists():
        return target
    staging = target.parent / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(COURSE_DIR, staging, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", ".*"))
    by_module: dict[str, list[str]] = {}
    for name in names:
        module, _, attr = name.partition(":")
        by_module.setdefault(module, []).append(attr)
    for module, attrs in by_module.items():
        path = staging / _module_file(module).relative_to(COURSE_DIR)
        path.write_text(stub_source(path.read_text("utf-8"), attrs), "utf-8")
    compileall.compile_dir(str(staging), quiet=2, ddir=str(COURSE_DIR))
    for path in [staging, *staging.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    staging.rename(target)
    return target
