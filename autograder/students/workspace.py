"""A student's workspace: the released chapter notebooks, never overwritten.

``python -m autograder.workspace DIR`` (run by ``quickstart.py lab``) releases
every chapter into a scratch folder and copies it into DIR:

* a chapter the student does not have yet is added;
* a chapter the student has not edited is refreshed when the course changes;
* a chapter the student has edited stays as it is; the new release arrives
  beside it as ``<name>.updated.ipynb``.

Edits are judged by the cells' sources (running cells does not count).
``DIR/.released/`` keeps the release each copy came from.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder import flow


def _sources(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells]


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
        shutil.copy2(new, mine)
        shutil.copy2(new, last)
        return [f"added {new.name}"]
    if last.exists() and _sources(last) == _sources(new):
        return []
    if last.exists() and _sources(mine) == _sources(last):
        shutil.copy2(new, mine)
        shutil.copy2(new, last)
        return [f"updated {new.name}"]
    beside = mine.with_name(mine.stem + ".updated.ipynb")
    shutil.copy2(new, beside)
    shutil.copy2(new, last)
    return [f"kept your {new.name}; the new version is {beside.name}"]


def main(argv: list[str]) -> int:
    target = Path(argv[0] if argv else "workspace")
    for line in update(target):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
