"""Grade one notebook: restore the course's cells, run the judge in the sandbox, read its results.

Used by nbgrader's autograde (through :mod:`autograder.execute`) and by the
self-check (``course check``). Every way a run can fail ends in an
:class:`Outcome` with a status and a reason a person can read.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import secrets
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from autograder import cells, sandbox


@dataclass
class TestResult:
    """One graded test cell: passed or not, and what to tell the student."""

    passed: bool
    message: str = ""


@dataclass
class Outcome:
    """How one notebook's grading ended."""

    status: str = "graded"
    reason: str = ""
    tests: dict[str, TestResult] = field(default_factory=dict)
    review: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "reason": self.reason,
            "tests": {k: [t.passed, t.message] for k, t in self.tests.items()},
            "review": self.review,
            "wall_s": round(self.wall_s, 2),
        }


def job_cells(nb: Any, trusted: set[str]) -> list[dict]:
    """The code cells the judge runs, in order; course cells marked trusted."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        gid = cells.nbgrader_meta(cell).get("grade_id")
        kind = "test" if cells.is_test(cell) else "code"
        cells.append({"kind": kind, "source": cell.source, "grade_id": gid, "trusted": gid in trusted})
    return cells


def _read_report(path: Path, token: bytes) -> tuple[list[dict], str, list[str]]:
    """Signed results in order, and how far the judge got ('', 'ready' or 'done').

    Anything unsigned or out of order is flagged, never trusted.
    """
    results, stage, problems, seen = [], "", [], set()
    for line in path.read_text("utf-8", "replace").splitlines():
        try:
            record = json.loads(line)
            body, mac = record["body"], record["mac"]
            good = hmac.compare_digest(hmac.new(token, body.encode(), hashlib.sha256).hexdigest(), mac)
        except (ValueError, KeyError, TypeError):
            good = False
        if not good:
            problems.append("the notebook wrote something that imitates the grader's results")
            continue
        item = json.loads(body)
        if item.get("ready") or item.get("done"):
            stage = "done" if item.get("done") else "ready"
            continue
        if item["index"] in seen or (results and item["index"] < results[-1]["index"]):
            problems.append("results arrived twice or out of order")
            continue
        seen.add(item["index"])
        results.append(item)
    return results, stage, sorted(set(problems))


def run_judge(nb: Any, trusted: set[str], limits: sandbox.Limits) -> tuple[Outcome, dict[int, dict]]:
    """Run the notebook's code cells in the sandbox; return the outcome and results by cell index."""
    cells = job_cells(nb, trusted)
    token = secrets.token_bytes(32)
    job = json.dumps({"token": token.hex(), "cells": cells}).encode()
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        scratch = Path(tmp) / "work"
        scratch.mkdir()
        report_path = Path(tmp) / "report.jsonl"
        fd = os.open(report_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            finished = sandbox.run(
                [sys.executable, "-m", "autograder.judge", "--report", str(fd)],
                scratch,
                limits,
                stdin=job,
                pass_fds=(fd,),
                env={"COURSE_FAST": "1"},
            )
        finally:
            os.close(fd)
        results, stage, problems = _read_report(report_path, token)
    by_index = {r["index"]: r for r in results}
    outcome = Outcome(wall_s=finished.wall_s, review=list(problems))
    if not stage:  # the grader itself did not start: not the notebook's doing
        outcome.status = "error"
        outcome.reason = "the grader could not start the notebook: " + _last_lines(finished.stderr_tail)
    elif stage != "done":
        outcome.status, outcome.reason = _why_stopped(finished, cells, results, limits)
    _score_tests(outcome, cells, by_index)
    _note_attempts(outcome, by_index, limits)
    return outcome, by_index


def _note_attempts(outcome: Outcome, by_index: dict[int, dict], limits: sandbox.Limits) -> None:
    """What the sandbox refused, and cells that ran out of memory: worth a human look."""
    for index, result in sorted(by_index.items()):
        if result.get("changed"):
            names = ", ".join(result["changed"][:5])
            outcome.review.append(f"cell {index + 1} changed {names} (put back before the next cell)")
    if any(r.get("forged") for r in by_index.values()):
        outcome.review.append("a cell interfered with the judge's record of it")
    refused = sorted({what for r in by_index.values() for what in r.get("refused", [])})
    if refused:
        outcome.review.append("the notebook tried " + ", ".join(refused) + " (refused)")
    if any((r.get("error") or [""])[0] == "MemoryError" for r in by_index.values()):
        outcome.review.append(f"a cell ran out of memory (limit {limits.memory_mb} MB per process)")


def _last_lines(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-3:])[:400] or "no message"


def _why_stopped(
    finished: sandbox.Finished, cells: list, results: list, limits: sandbox.Limits
) -> tuple[str, str]:
    where = f"code cell {len(results) + 1} of {len(cells)}"
    if finished.timed_out:
        return "timeout", f"the notebook ran past its {limits.wall_s:g} s limit (stopped in {where})"
    if "MemoryError" in finished.stderr_tail or "Cannot allocate memory" in finished.stderr_tail:
        return "memory", f"the notebook ran out of its {limits.memory_mb} MB of memory in {where}"
    signal_number = -finished.returncode if finished.returncode < 0 else finished.returncode - 128
    if finished.returncode < 0 or finished.returncode > 128:  # bubblewrap reports 128 + signal
        return "crashed", f"the notebook's process was killed (signal {signal_number}) in {where}"
    return "crashed", f"the notebook's process ended early (exit code {finished.returncode}) in {where}"


def _score_tests(outcome: Outcome, cells: list[dict], by_index: dict[int, dict]) -> None:
    for index, cell in enumerate(cells):
        if cell["kind"] != "test":
            continue
        gid = cell["grade_id"]
        result = by_index.get(index)
        if result is None:
            outcome.tests[gid] = TestResult(False, f"not graded: {outcome.reason or 'no result'}")
            continue
        if result.get("tampered"):
            names = ", ".join(result["tampered"][:5])
            outcome.tests[gid] = TestResult(
                False, f"your code changed the grader's tools during this test ({names})"
            )
            outcome.review.append(f"{gid}: changed {names} while being tested")
            continue
        error = result.get("error")
        if error:
            name, message, _ = error
            first = message.strip().splitlines()[0] if message.strip() else ""
            if name == "MemoryError" and outcome.status == "graded":
                outcome.status, outcome.reason = "memory", f"{gid} ran out of memory"
            outcome.tests[gid] = TestResult(False, f"{name}: {first}"[:300])
        else:
            outcome.tests[gid] = TestResult(bool(result.get("passed")), "")


def apply_results(nb: Any, outcome: Outcome, by_index: dict[int, dict]) -> None:
    """Write the judge's outputs into the notebook; test cells show the verdict, never the student's own."""
    code_index = -1
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code_index += 1
        result = by_index.get(code_index)
        cell.outputs, cell.execution_count = [], code_index + 1
        if result and result.get("output"):
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=result["output"]))
        if cells.is_test(cell):
            verdict = outcome.tests.get(cells.nbgrader_meta(cell).get("grade_id"))
            if verdict is not None and not verdict.passed:
                cell.outputs.append(
                    nbformat.v4.new_output(
                        "error", ename="NotPassed", evalue=verdict.message, traceback=[verdict.message]
                    )
                )
        elif result and result.get("error"):
            name, message, where = result["error"]
            cell.outputs.append(
                nbformat.v4.new_output(
                    "error", ename=name, evalue=message, traceback=[f"{name}: {message}", where]
                )
            )
