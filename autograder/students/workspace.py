"""A student's workspace: the released chapter notebooks, never overwritten.

``python -m autograder.students.workspace DIR`` (run by ``quickstart.py lab``) releases
every chapter into a scratch folder and copies it into DIR:

* a chapter the student does not have yet is added;
* a chapter the student has not edited is refreshed when the course changes;
* a chapter the student has edited stays as it is; the new release arrives
  beside it as ``<name>.updated.ipynb``. If the student has edited that file
  too, it stays as well, and the next release goes to
  ``<name>.updated-2.ipynb`` (then ``-3``, ...): a file the student changed is
  never written over.

Edits are judged by the cells' sources (running cells does not count); a
notebook that cannot be read counts as edited. ``DIR/.released/`` keeps the
release each copy came from, including each ``.updated`` file. Every file is
written atomically (a temporary file in the same folder, synced, then
renamed), so an interrupted update leaves each notebook whole: the old
version or the new one.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat

from autograder import flow
from course.files import atomic_copy


def _sources(path: Path) -> list[str] | None:
    """The cells' sources of a notebook, or None when it cannot be read (treated as edited)."""
    try:
        return [c.source for c in nbformat.read(path, as_version=4).cells]
    except Exception:  # a damaged or half-edited notebook: never overwrite it
        return None


def _same(a: Path, b: Path) -> bool:
    """True when both notebooks can be read and have the same cell sources."""
    mine = _sources(a)
    return mine is not None and mine == _sources(b)


def update(workspace: Path) -> list[str]:
    """Bring the workspace up to date; return one line per change made."""
    workspace = Path(workspace)
    kept = workspace / ".released"
    kept.mkdir(parents=True, exist_ok=True)
    changes = []
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        for chapter in flow.assignments():
            for new in sorted(flow.release(chapter, Path(tmp)).glob("*.ipynb")):
                changes += _place(new, workspace, kept)
    return changes


def _place(new: Path, workspace: Path, kept: Path) -> list[str]:
    mine, last = workspace / new.name, kept / new.name
    if not mine.exists():
        atomic_copy(new, mine)
        atomic_copy(new, last)
        return [f"added {new.name}"]
    if last.exists() and _same(last, new):
        return []
    if last.exists() and _same(mine, last):
        atomic_copy(new, mine)
        atomic_copy(new, last)
        return [f"updated {new.name}"]
    if _same(mine, new):  # the student's copy already is the new release
        atomic_copy(new, last)
        return []
    beside, skipped = _beside(new, mine, kept)
    atomic_copy(new, last)
    line = f"kept your {new.name}; the new version is {beside.name}"
    if skipped:
        line += f" (your edited {', '.join(p.name for p in skipped)} kept as well)"
    return [line]


def _update_names(mine: Path) -> Iterator[Path]:
    """NAME.updated.ipynb, NAME.updated-2.ipynb, NAME.updated-3.ipynb, ..."""
    yield mine.with_name(f"{mine.stem}.updated.ipynb")
    for k in itertools.count(2):
        yield mine.with_name(f"{mine.stem}.updated-{k}.ipynb")


def _beside(new: Path, mine: Path, kept: Path) -> tuple[Path, list[Path]]:
    """Put the release ``new`` beside the edited ``mine``: (where it went, edited files passed over).

    The first NAME.updated*.ipynb that is free, already holds this release, or
    still is exactly the release the course put there (the student has not
    touched it) receives the new version; one the student has edited is kept
    and the next number is tried.
    """
    skipped: list[Path] = []
    for candidate in _update_names(mine):
        record = kept / candidate.name
        if candidate.exists() and _same(candidate, new):
            atomic_copy(new, record)
            return candidate, skipped
        if not candidate.exists() or (record.exists() and _same(candidate, record)):
            atomic_copy(new, candidate)
            atomic_copy(new, record)
            return candidate, skipped
        skipped.append(candidate)
    raise AssertionError("unreachable: the names never run out")


def main(argv: list[str]) -> int:
    target = Path(argv[0] if argv else "workspace")
    for line in update(target):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
