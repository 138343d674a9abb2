"""Grade one notebook: the feedback run in the sandbox for its outputs, the judge for its scores.

Used by nbgrader's autograde (through :mod:`autograder.instructors.execute`) and by the
self-check (``course check``). The notebook runs once, top to bottom, in the
sandbox (:mod:`autograder.instructors.runner`): that gives the outputs the student sees and
says where a notebook stopped. Scores come from :mod:`autograder.instructors.judge`, which
never runs the student's code in its own process. Every way a run can fail
ends in an :class:`Outcome` with a status and a reason a person can read.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from autograder.instructors import cells, judge, sandbox


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


def run_cells(nb: Any) -> list[dict]:
    """The code cells of the feedback run, in order; test cells are shown the judge's verdict instead."""
    return [
        {"index": i, "source": c.source, "run": not cells.is_test(c)}
        for i, c in enumerate(c for c in nb.cells if c.cell_type == "code")
    ]


def _read_report(path: Path) -> tuple[dict[int, dict], str]:
    """The feedback run's results by cell index, and how far it got ('', 'ready' or 'done')."""
    results, stage = {}, ""
    for line in path.read_text("utf-8", "replace").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict):
            continue
        if item.get("ready") or item.get("done"):
            stage = "done" if item.get("done") else "ready"
        elif isinstance(item.get("index"), int):
            output = item.get("output") if isinstance(item.get("output"), str) else ""
            error = item.get("error")
            valid = isinstance(error, list) and len(error) == 3 and all(isinstance(e, str) for e in error)
            results[item["index"]] = {"output": output, "error": error if valid else None}
    return results, stage


def feedback_run(nb: Any, limits: sandbox.Limits) -> tuple[dict[int, dict], str, sandbox.Finished]:
    """Run the notebook top to bottom in the sandbox: outputs by code cell index, the stage, how it ended."""
    job = json.dumps({"cells": run_cells(nb)}).encode()
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        scratch = Path(tmp) / "work"
        scratch.mkdir()
        report_path = Path(tmp) / "report.jsonl"
        fd = os.open(report_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            finished = sandbox.run(
                [sys.executable, "-m", "autograder.instructors.runner", "--report", str(fd)],
                scratch,
                limits,
                stdin=job,
                pass_fds=(fd,),
                env={"COURSE_FAST": "1"},
            )
        finally:
            os.close(fd)
        results, stage = _read_report(report_path)
    return results, stage, finished


def grade(nb: Any, source_nb: Any, limits: sandbox.Limits) -> tuple[Outcome, dict[int, dict]]:
    """Grade a restored notebook against its source; the outcome and the feedback outputs by cell index."""
    began = time.monotonic()
    by_index, stage, finished = feedback_run(nb, limits)
    outcome = Outcome(wall_s=finished.wall_s)
    if not stage:  # the grader itself did not start: not the notebook's doing
        outcome.status = "error"
        outcome.reason = "the grader could not start the notebook: " + _last_lines(finished.stderr_tail)
        return outcome, by_index
    skip: set[int] = set()
    if stage != "done":
        # The cell it stopped in would stop a subject too: the judge leaves that cell out,
        # so a hang or a crash costs what that cell defines, and nothing else.
        stopped = max(by_index, default=-1) + 1
        skip.add(stopped)
        outcome.status, outcome.reason = _why_stopped(finished, len(run_cells(nb)), stopped, limits)
        outcome.review.append(f"{outcome.reason}; the grading left that cell out")
    if any((r.get("error") or [""])[0] == "MemoryError" for r in by_index.values()):
        outcome.review.append(f"a cell ran out of memory (limit {limits.memory_mb} MB per process)")
    cells_timeout = min(limits.wall_s, 2 * finished.wall_s + 10)
    verdicts = judge.judge_notebook(nb, source_nb, limits, cells_timeout, skip)
    for gid, verdict in verdicts.items():
        outcome.tests[gid] = TestResult(verdict.passed, verdict.message)
        if verdict.review:
            outcome.review.append(verdict.review)
    for cell in nb.cells:  # a test cell the judge has no verdict for fails: grading never fails open
        gid = cells.nbgrader_meta(cell).get("grade_id")
        if cells.is_test(cell) and gid not in outcome.tests:
            outcome.tests[gid] = TestResult(False, "not graded: the grader has no check for this test cell")
            outcome.review.append(f"{gid}: no check was found for this test cell")
    outcome.wall_s = time.monotonic() - began
    return outcome, by_index


def _last_lines(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-3:])[:400] or "no message"


def _why_stopped(
    finished: sandbox.Finished, total: int, done: int, limits: sandbox.Limits
) -> tuple[str, str]:
    where = f"code cell {done + 1} of {total}"
    if finished.timed_out:
        return "timeout", f"the notebook ran past its {limits.wall_s:g} s limit (stopped in {where})"
    if "MemoryError" in finished.stderr_tail or "Cannot allocate memory" in finished.stderr_tail:
        return "memory", f"the notebook ran out of its {limits.memory_mb} MB of memory in {where}"
    signal_number = -finished.returncode if finished.returncode < 0 else finished.returncode - 128
    if finished.returncode < 0 or finished.returncode > 128:  # bubblewrap reports 128 + signal
        return "crashed", f"the notebook's process was killed (signal {signal_number}) in {where}"
    return "crashed", f"the notebook's process ended early (exit code {finished.returncode}) in {where}"


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
            if verdict is None:
                verdict = TestResult(False, outcome.reason or "not graded")
            if verdict.passed:
                cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text="passed\n"))
            else:
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
