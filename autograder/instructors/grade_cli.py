"""``course-grade``: the instructor's whole flow, from release to the class report.

    course-grade release ch01                 student version + gradebook entries
    course-grade collect ch01 --zip lms.zip   (or --exchange DIR) into submitted/
    course-grade grade ch01 --workers 2       sandboxed, parallel, resumable
    course-grade grade ch01 --cluster tcp://HOST:8786   (or local:N) on the workers of a Dask cluster
    course-grade check ch01                   gradebook consistent with the grading?
    course-grade feedback ch01                HTML feedback per student (hidden tests removed)
    course-grade export --to grades.csv       nbgrader's CSV of scores
    course-grade report --out report/         CSV + HTML: pass rates, what needs a human look

``--root`` picks the course root (default: ``autograder/`` of this course).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import flow
from autograder.instructors import batch, bounds, collect, ledger, report, sandbox
from autograder.settings import HERE, NOTEBOOK_TIMEOUT, config


def _release(args: argparse.Namespace) -> int:
    for assignment in args.assignment:
        path = flow.release(assignment, args.root)
        print(f"released {assignment}: {path}")
        if args.exchange:
            flow.release_to_exchange(assignment, args.root, Path(args.exchange))
            print(f"  and put in the exchange {args.exchange} for students to fetch")
    return 0


def _collect(args: argparse.Namespace) -> int:
    if bool(args.zip) == bool(args.exchange):
        print("Give exactly one of --zip FILE or --exchange DIR.", file=sys.stderr)
        return 2
    if args.zip:
        limit = int(args.max_mb * 1_000_000) if args.max_mb else None
        placed, refused, flagged = collect.from_zip(args.root, args.assignment, Path(args.zip), limit)
        for student, names in sorted(placed.items()):
            print(f"{student}: {', '.join(names)}")
        for why in flagged:
            print(f"flagged {why}")
        for why in refused:
            print(f"refused {why}")
        print(
            f"collected {len(placed)} students from {args.zip}"
            + (f"; {len(refused)} refused and {len(flagged)} flagged (above)" if refused or flagged else "")
        )
    else:
        students = collect.from_exchange(args.root, args.assignment, Path(args.exchange))
        print(f"collected {len(students)} students from {args.exchange}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    print(f"isolation: {sandbox.isolation()}")
    settings = batch.Settings(
        workers=args.workers, wall_s=args.timeout, memory_mb=args.memory, force=args.force
    )
    if args.cluster:
        from autograder.instructors import cluster  # noqa: PLC0415 - needs the optional dask extra

        options = cluster.Options(args.cluster, args.isolation, args.allow_weaker_isolation)
        summary = cluster.grade_class(args.root, args.assignment, args.student or None, settings, options)
        costs = summary.per_result_ms()
        if summary.recorded:
            total = sum(costs.values())
            print(
                f"coordinator: {total:.0f} ms per submission recorded ("
                + ", ".join(f"{k} {v:g}" for k, v in costs.items())
                + f"), at most {3_600_000 / max(total, 1e-3):,.0f} submissions per hour"
            )
    else:
        summary = batch.grade_class(args.root, args.assignment, args.student or None, settings)
    print(
        f"graded {len(summary.graded)}, already graded {len(summary.skipped)}, errors {len(summary.errors)}"
    )
    for student, error in sorted(summary.errors.items()):
        print(f"  {student}: {error}")
    problems = batch.check(args.root, args.assignment)
    for problem in problems:
        print(f"  gradebook: {problem}")
    flagged = [r for r in ledger.rows(args.root, args.assignment) if report.needs_review(r)]
    if flagged:
        print(f"{len(flagged)} notebooks need a human look: `course-grade report` lists them")
    return 1 if summary.errors or problems else 0


def _check(args: argparse.Namespace) -> int:
    problems = batch.check(args.root, args.assignment)
    for problem in problems:
        print(problem)
    print("gradebook consistent with the grading" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


def _feedback(args: argparse.Namespace) -> int:
    for student in args.student or batch.submitted_students(args.root, args.assignment):
        print(flow.feedback(args.root, args.assignment, student))
    return 0


def _export(args: argparse.Namespace) -> int:
    from nbgrader.plugins import CsvExportPlugin  # noqa: PLC0415

    plugin = CsvExportPlugin(config=config(root=args.root))
    plugin.to = str(args.to)
    with flow.gradebook(args.root) as gb:
        plugin.export(gb)
    print(f"exported {args.to}")
    return 0


def _report(args: argparse.Namespace) -> int:
    csv_path, html_path = report.write(args.root, Path(args.out), args.assignment)
    print(f"wrote {csv_path} and {html_path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course-grade", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE, help="course root (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="make the student version of assignments (ch01 ...)")
    p.add_argument("assignment", nargs="+")
    p.add_argument("--exchange", help="also release to this nbgrader exchange folder")
    p.set_defaults(func=_release)

    p = sub.add_parser("collect", help="bring submissions into submitted/")
    p.add_argument("assignment")
    p.add_argument("--zip", help="a zip of notebooks downloaded from an LMS")
    p.add_argument("--exchange", help="nbgrader's exchange folder")
    p.add_argument(
        "--max-mb",
        type=float,
        help=f"size limit of one notebook in MB (default: {bounds.MAX_NOTEBOOK_BYTES / 1e6:g}; "
        f"{bounds.LIMIT_VARIABLE} sets it for grading too)",
    )
    p.set_defaults(func=_collect)

    p = sub.add_parser("grade", help="autograde every submission of an assignment in the sandbox")
    p.add_argument("assignment")
    p.add_argument("--workers", type=int, default=2, help="parallel gradings (default: %(default)s)")
    p.add_argument("--timeout", type=float, help=f"seconds per notebook (default: {NOTEBOOK_TIMEOUT:g})")
    p.add_argument(
        "--memory", type=int, help=f"MB of memory per process (default: {sandbox.Limits.memory_mb})"
    )
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--force", action="store_true", help="grade again submissions already graded")
    p.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="grade on a Dask cluster: tcp://HOST:PORT of its scheduler, or local:N to start N workers "
        "here (needs the `cluster` extra: pip install 'course[cluster]')",
    )
    p.add_argument(
        "--isolation",
        choices=["rlimits", "bubblewrap", "bubblewrap+uids"],
        help="with --cluster: the isolation every worker must have (default: this machine's)",
    )
    p.add_argument(
        "--allow-weaker-isolation",
        action="store_true",
        help="with --cluster: let workers with weaker isolation grade (they are refused otherwise)",
    )
    p.set_defaults(func=_grade)

    p = sub.add_parser("check", help="check that the gradebook agrees with the grading")
    p.add_argument("assignment")
    p.set_defaults(func=_check)

    p = sub.add_parser("feedback", help="HTML feedback for each student")
    p.add_argument("assignment")
    p.add_argument("--student", action="append")
    p.set_defaults(func=_feedback)

    p = sub.add_parser("export", help="nbgrader's CSV of every score")
    p.add_argument("--to", default="grades.csv")
    p.set_defaults(func=_export)

    p = sub.add_parser("report", help="CSV + HTML: outcomes, pass rates, what needs a human look")
    p.add_argument("--assignment")
    p.add_argument("--out", default="report")
    p.set_defaults(func=_report)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"course-grade {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
