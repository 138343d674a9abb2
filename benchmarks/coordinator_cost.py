"""What recording one result costs a cluster's coordinator: how many notebooks per hour it can record.

    python benchmarks/coordinator_cost.py                 # 20 submissions of ch01, each way
    python benchmarks/coordinator_cost.py --students 40 --chapter ch05

No notebook is graded: each submission (the chapter's reference notebook) gets a made-up
result, every test passed, as a worker would return it, and the coordinator records it as
``course-grade grade --cluster`` does: the result checked, nbgrader's autograde with the
result in place of its Execute step (the gradebook), then the ledger. Half the submissions
are recorded with nbgrader as it is, half inside :func:`autograder.instructors.recording.cheaper`
(one database engine per gradebook, schema validators built once), alternating, so that
both see the same machine. Prints the median milliseconds per submission of each, and
the notebooks per hour one coordinator can record.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder import flow
from autograder.instructors import batch, cells, cluster, execute, grading, recording
from autograder.settings import REPO


def _result(nb) -> dict:
    """What a worker returns for a notebook whose every test passed (no outputs)."""
    restored, _ = cells.restore_cells(nb, nb)
    tests = {cells.grade_id(c): [True, ""] for c in restored.cells if cells.is_test(c)}
    return {
        "outcome": grading.Outcome(tests={}).to_json() | {"tests": tests},
        "outputs": {},
        "code_cells": sum(c.cell_type == "code" for c in restored.cells),
    }


def record_one(root: Path, chapter: str, student: str, name: str, result: dict, api, expected) -> float:
    """Seconds to check and record one submission's result."""
    notes, error = batch.prepare(root, chapter, student, expected)
    assert not error, error
    began = time.perf_counter()
    execute.RECEIVED[(str(root), chapter, student, name)] = cluster.checked(result)
    error = batch.record(root, chapter, student, notes, api)
    assert not error, error
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20, help="submissions recorded each way")
    parser.add_argument("--chapter", default="ch01")
    args = parser.parse_args(argv)
    batch._quiet()
    source = sorted((REPO / "notebooks" / args.chapter).glob("*.ipynb"))[0]
    result = _result(nbformat.read(source, as_version=4))
    times: dict[str, list[float]] = {"nbgrader as it is": [], "recording.cheaper()": []}
    with tempfile.TemporaryDirectory(prefix="coordinator-") as tmp:
        root = Path(tmp)
        flow.release(args.chapter, root)
        for s in range(2 * args.students + 2):
            flow.submit(root, f"s{s:03d}", args.chapter, [source])
        expected = batch.expected_notebooks(root, args.chapter)
        api = cluster._api(root, batch.Settings())
        for s in range(2):  # warm-up: imports, the first engine, nbgrader's first database queries
            record_one(root, args.chapter, f"s{s:03d}", source.stem, result, api, expected)
        for s in range(2, 2 * args.students + 2):
            cheap = s % 2 == 1
            with recording.cheaper() if cheap else contextlib.nullcontext():
                seconds = record_one(root, args.chapter, f"s{s:03d}", source.stem, result, api, expected)
            times["recording.cheaper()" if cheap else "nbgrader as it is"].append(seconds)
        problems = batch.check(root, args.chapter)
    print(f"{args.chapter}, {args.students} submissions each way; gradebook problems: {len(problems)}")
    for label, seconds in times.items():
        median = statistics.median(seconds)
        print(
            f"{label:>20}: median {1000 * median:.0f} ms per submission "
            f"(min {1000 * min(seconds):.0f}, max {1000 * max(seconds):.0f}), "
            f"{3600 / median:,.0f} notebooks per hour"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
