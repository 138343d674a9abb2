"""The student workspace: released notebooks added, refreshed, never overwritten."""

from __future__ import annotations

import nbformat
import pytest

from autograder.students import workspace


@pytest.mark.heavy
def test_workspace_adds_refreshes_and_keeps_edits(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    added = workspace.update(ws)
    names = sorted(p.name for p in ws.glob("*.ipynb"))
    assert names and added == [f"added {n}" for n in names]
    first = ws / names[0]
    nb = nbformat.read(first, as_version=4)
    assert not any("BEGIN SOLUTION" in c.source for c in nb.cells)
    assert any("raise NotImplementedError()" in c.source for c in nb.cells)

    assert workspace.update(ws) == []  # nothing changed in the course

    # The course changes a notebook the student has not touched: it is refreshed.
    kept = ws / ".released" / names[0]
    old = nbformat.read(kept, as_version=4)
    old.cells[0].source += "\nan older wording"
    nbformat.write(old, kept)
    nbformat.write(old, first)
    assert workspace.update(ws) == [f"updated {names[0]}"]
    assert "an older wording" not in first.read_text()

    # The student edits it, then the course changes again: their copy stays.
    mine = nbformat.read(first, as_version=4)
    mine.cells[-1].source += "\n# my notes"
    nbformat.write(mine, first)
    nbformat.write(old, kept)
    lines = workspace.update(ws)
    assert lines == [f"kept your {names[0]}; the new version is {first.stem}.updated.ipynb"]
    assert "# my notes" in first.read_text()
    assert (ws / f"{first.stem}.updated.ipynb").exists()
