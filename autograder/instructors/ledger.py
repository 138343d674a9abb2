"""The grading ledger: how each notebook's grading ended, beside nbgrader's gradebook.

nbgrader's gradebook keeps scores; it cannot say that a notebook timed out,
ran out of memory or had a test cell deleted. The ledger (``grading.db`` in the
course root) keeps one row per (assignment, student, notebook): status, reason,
what needs a human look, the score written to the gradebook, and whether the
submission's grading finished. A batch that is interrupted resumes from it,
and :func:`check` compares it with the gradebook afterwards.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS outcome (
    assignment TEXT NOT NULL,
    student TEXT NOT NULL,
    notebook TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    review TEXT NOT NULL DEFAULT '[]',
    tests TEXT NOT NULL DEFAULT '{}',
    score REAL,
    max_score REAL,
    wall_s REAL,
    updated REAL NOT NULL,
    PRIMARY KEY (assignment, student, notebook)
);
CREATE TABLE IF NOT EXISTS finished (
    assignment TEXT NOT NULL,
    student TEXT NOT NULL,
    finished REAL NOT NULL,
    PRIMARY KEY (assignment, student)
);
"""


def path(root: Path) -> Path:
    return Path(root) / "grading.db"


@contextmanager
def connect(root: Path) -> Iterator[sqlite3.Connection]:
    """A connection that waits for other writers (many workers share the file)."""
    con = sqlite3.connect(path(root), timeout=120, isolation_level=None)
    try:
        con.executescript(SCHEMA)
        yield con
    finally:
        con.close()


def record(root: Path, assignment: str, student: str, notebook: str, outcome: dict) -> None:
    """Store how one notebook's grading ended (replacing an earlier attempt)."""
    with connect(root) as con:
        con.execute(
            "INSERT OR REPLACE INTO outcome (assignment, student, notebook, status, reason, review, tests,"
            " wall_s, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                assignment,
                student,
                notebook,
                outcome["status"],
                outcome.get("reason", ""),
                json.dumps(outcome.get("review", [])),
                json.dumps(outcome.get("tests", {})),
                outcome.get("wall_s"),
                time.time(),
            ),
        )


def start(root: Path, assignment: str, student: str) -> None:
    """Forget an earlier grading of this submission: it is being graded again."""
    with connect(root) as con:
        con.execute("BEGIN IMMEDIATE")
        con.execute("DELETE FROM finished WHERE assignment = ? AND student = ?", (assignment, student))
        con.execute("DELETE FROM outcome WHERE assignment = ? AND student = ?", (assignment, student))
        con.execute("COMMIT")


def finish(root: Path, assignment: str, student: str, scores: dict[str, tuple[float, float]]) -> None:
    """Mark a submission graded, with the per-notebook scores nbgrader stored."""
    with connect(root) as con:
        con.execute("BEGIN IMMEDIATE")
        for notebook, (score, max_score) in scores.items():
            con.execute(
                "INSERT OR IGNORE INTO outcome (assignment, student, notebook, status, updated)"
                " VALUES (?, ?, ?, 'missing', ?)",
                (assignment, student, notebook, time.time()),
            )
            con.execute(
                "UPDATE outcome SET score = ?, max_score = ?"
                " WHERE assignment = ? AND student = ? AND notebook = ?",
                (score, max_score, assignment, student, notebook),
            )
        con.execute(
            "INSERT OR REPLACE INTO finished (assignment, student, finished) VALUES (?, ?, ?)",
            (assignment, student, time.time()),
        )
        con.execute("COMMIT")


def finished(root: Path, assignment: str) -> set[str]:
    if not path(root).exists():
        return set()
    with connect(root) as con:
        return {r[0] for r in con.execute("SELECT student FROM finished WHERE assignment = ?", (assignment,))}


def rows(root: Path, assignment: str | None = None, student: str | None = None) -> list[dict]:
    """Every notebook outcome (of one assignment, of one student), as dicts."""
    if not path(root).exists():
        return []
    with connect(root) as con:
        con.row_factory = sqlite3.Row
        query = "SELECT o.*, f.finished FROM outcome o LEFT JOIN finished f USING (assignment, student)"
        wanted = {"o.assignment": assignment, "o.student": student}
        args = tuple(v for v in wanted.values() if v)
        if args:
            query += " WHERE " + " AND ".join(f"{k} = ?" for k, v in wanted.items() if v)
        out = []
        for row in con.execute(query + " ORDER BY o.assignment, o.student, o.notebook", args):
            item = dict(row)
            item["review"] = json.loads(item["review"])
            item["tests"] = json.loads(item["tests"])
            out.append(item)
        return out
