"""Grade a made-up class of every chapter, sequentially and in parallel, and check every grade.

    COURSE_DATA_DIR=../shared/data python benchmarks/grade_class.py            # 40 students x 8 chapters
    python benchmarks/grade_class.py --students 8 --chapters ch01 ch02          # a quick look
    python benchmarks/grade_class.py --cluster local:2 --only parallel          # the local pool vs Dask

The class mixes honest students (the reference solutions), students who left
one exercise as the stub, students who handed in the untouched release, and
students who attack the grader (patching its tools, exiting, a memory bomb, a
fork bomb, reaching for secrets and the network, an endless loop that ignores
signals). Each run starts from an empty course root. The script prints the
wall time and the mean per notebook for each run, the outcomes, and every
student whose scores differ from what their notebook deserves; it exits
non-zero on any grader error or wrong score.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder import flow
from autograder.instructors import batch, cells, ledger, sandbox
from autograder.settings import REPO

PATCH = """import numpy.testing, course.gradcheck
numpy.testing.assert_allclose = lambda *a, **k: None
course.gradcheck.rel_error = lambda *a, **k: 0.0
"""
MEMORY = """hoard = []
try:
    while True:
        hoard.append(bytearray(512 * 2**20))
finally:
    del hoard
"""
FORK = """import os
for _ in range(10000):
    try:
        os.fork()
    except OSError:
        break
"""
SNOOP = """import os, socket
print(dict(os.environ))
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2)
except OSError as e:
    print(e)
"""
LOOP = """import signal
try:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
except ValueError:
    pass
while True:
    pass
"""
SELF_BREAKING = {"fork"}
ATTACKS = {
    "patch": PATCH,
    "exit": "import os\nos._exit(0)\n",
    "memory": MEMORY,
    "fork": FORK,
    "snoop": SNOOP,
    "loop": LOOP,
}


def _meta(cell) -> dict:
    return cells.nbgrader_meta(cell)


def _tests(source) -> list[tuple[str, float]]:
    return [
        (_meta(c)["grade_id"], float(_meta(c).get("points", 0))) for c in source.cells if cells.is_test(c)
    ]


def make_submission(kind: str, source, release, student: int):
    """(notebook, expected {grade_id: score}) for one student of one kind."""
    tests = _tests(source)
    if kind == "honest":
        return copy.deepcopy(source), dict(tests)
    if kind == "untouched":
        return copy.deepcopy(release), {g: 0.0 for g, _ in tests}
    nb = copy.deepcopy(source)
    if kind == "stub":
        solutions = [i for i, c in enumerate(nb.cells) if _meta(c).get("solution")]
        target = solutions[student % len(solutions)]
        gid = _meta(nb.cells[target])["grade_id"]
        nb.cells[target] = copy.deepcopy(next(c for c in release.cells if _meta(c).get("grade_id") == gid))
        broken = _test_after(nb, target)
        return nb, {g: (0.0 if g == broken else p) for g, p in tests}
    attack = list(ATTACKS)[student % len(ATTACKS)]
    first_test = next(i for i, c in enumerate(nb.cells) if cells.is_test(c))
    nb.cells.insert(first_test + 1, nbformat.v4.new_code_cell(ATTACKS[attack]))
    # A cell that hangs or ends the process is left out when the exercises are judged:
    # it defines nothing, so every exercise keeps its points. A fork bomb also runs in the
    # student's own subjects and may break them: it scores at most that (marked by "<=").
    if attack in SELF_BREAKING:
        return nb, {"<=": dict(tests)}
    return nb, dict(tests)


def _test_after(nb, index: int) -> str:
    return next(_meta(c)["grade_id"] for c in nb.cells[index:] if cells.is_test(c))


def kind_of(student: int, n: int) -> str:
    """About 60% honest, 15% one stub, 10% untouched, 15% attacking."""
    share = student / n
    return "honest" if share < 0.6 else "stub" if share < 0.75 else "untouched" if share < 0.85 else "attack"


def build(root: Path, chapters: list[str], students: int) -> dict[tuple[str, str], dict[str, float]]:
    expected = {}
    for chapter in chapters:
        release_dir = flow.release(chapter, root)
        for path in sorted((REPO / "notebooks" / chapter).glob("*.ipynb")):
            source = nbformat.read(path, as_version=4)
            release = nbformat.read(release_dir / path.name, as_version=4)
            for s in range(students):
                kind = kind_of(s, students)
                nb, scores = make_submission(kind, source, release, s)
                name = f"{kind}-{s:02d}"
                folder = root / "submitted" / name / chapter
                folder.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, folder / path.name)
                expected[(chapter, name)] = scores
    return expected


def _scores(root: Path, chapter: str, student: str) -> dict[str, float]:
    return {gid: score for gid, (score, _) in flow.grades(root, chapter, student).items()}


def run(chapters: list[str], students: int, workers: int, wall_s: float, on: str | None = None) -> dict:
    """Grade a fresh class with the local pool of ``workers``, or on the Dask cluster ``on``."""
    costs: dict[str, float] = {}
    recorded = 0
    with tempfile.TemporaryDirectory(prefix="grade-class-") as tmp:
        root = Path(tmp)
        expected = build(root, chapters, students)
        start = time.perf_counter()
        errors: dict[str, str] = {}
        for chapter in chapters:
            settings = batch.Settings(workers=workers, wall_s=wall_s)
            if on:
                from autograder.instructors import cluster

                summary = cluster.grade_class(root, chapter, None, settings, cluster.Options(on))
                recorded += len(summary.recorded)
                for k, v in summary.costs.items():
                    costs[k] = costs.get(k, 0.0) + v
            else:
                summary = batch.grade_class(root, chapter, None, settings)
            errors.update({f"{chapter}/{s}": e for s, e in summary.errors.items()})
        wall = time.perf_counter() - start
        problems = [f"{c}: {p}" for c in chapters for p in batch.check(root, c)]
        wrong = {}
        for (chapter, student), scores in sorted(expected.items()):
            got = _scores(root, chapter, student)
            bound = scores.get("<=")
            if bound is not None and all(got.get(g, 0.0) <= p for g, p in bound.items()):
                continue
            if got != scores:
                wrong[f"{chapter}/{student}"] = {"expected": scores, "got": got}
        statuses: dict[str, int] = {}
        for row in ledger.rows(root):
            statuses[row["status"]] = statuses.get(row["status"], 0) + 1
        notebooks = len(expected)
    coordinator = {k: round(1000 * v / max(1, recorded), 1) for k, v in costs.items()}
    return {
        "on": on or "local pool",
        "coordinator_ms_per_result": coordinator,
        "workers": workers,
        "notebooks": notebooks,
        "wall_s": round(wall, 1),
        "per_notebook_s": round(wall / notebooks, 2),
        "statuses": statuses,
        "grader_errors": errors,
        "gradebook_problems": problems,
        "wrong_scores": wrong,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--chapters", nargs="+", default=flow.assignments())
    parser.add_argument("--workers", type=int, default=2, help="workers of the parallel run")
    parser.add_argument("--timeout", type=float, default=45.0, help="seconds per notebook")
    parser.add_argument("--only", choices=["sequential", "parallel"], help="run one of the two")
    parser.add_argument(
        "--cluster", metavar="ADDRESS", help="also grade on this Dask cluster (local:N or tcp://HOST:PORT)"
    )
    args = parser.parse_args(argv)
    print(f"isolation: {sandbox.isolation()}")
    print(f"class: {args.students} students x {len(args.chapters)} chapters ({', '.join(args.chapters)})")
    results = []
    runs = [("sequential", 1, None), ("parallel", args.workers, None)]
    runs += [("cluster", args.workers, args.cluster)] if args.cluster else []
    for label, workers, on in runs:
        if args.only and label != "cluster" and args.only != label:
            continue
        result = run(args.chapters, args.students, workers, args.timeout, on)
        results.append(result)
        print(
            f"{label:>10}: {result['notebooks']} notebooks in {result['wall_s']} s with {workers} worker(s), "
            f"{result['per_notebook_s']} s per notebook; outcomes {result['statuses']}; "
            f"grader errors {len(result['grader_errors'])}, "
            f"gradebook problems {len(result['gradebook_problems'])}, "
            f"wrong scores {len(result['wrong_scores'])}"
        )
        if on:
            costs = result["coordinator_ms_per_result"]
            total = sum(costs.values())
            print(
                f"coordinator: {total:.0f} ms per submission recorded ({costs}), "
                f"at most {3_600_000 / max(total, 1e-3):,.0f} notebooks per hour"
            )
    by_label = {r["on"] if r["on"] != "local pool" else r["workers"]: r for r in results}
    if 1 in by_label and args.workers in by_label and args.workers != 1:
        print(f"parallel speed-up: {by_label[1]['wall_s'] / by_label[args.workers]['wall_s']:.2f}x")
    if args.cluster and args.workers in by_label:
        local, dask_run = by_label[args.workers], by_label[args.cluster]
        ratio = dask_run["per_notebook_s"] / local["per_notebook_s"]
        print(
            f"cluster overhead per notebook: {dask_run['per_notebook_s']} s on {args.cluster} vs "
            f"{local['per_notebook_s']} s with the local pool of {args.workers}: {100 * (ratio - 1):+.1f}%"
        )
    print(json.dumps(results, indent=1))
    bad = any(r["grader_errors"] or r["gradebook_problems"] or r["wrong_scores"] for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
