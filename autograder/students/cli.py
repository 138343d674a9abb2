"""The ``course`` command.

course check NOTEBOOK     grade your notebook locally with the hidden tests
course sync [--check]     (instructors) refresh solution cells from course/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _check(args: argparse.Namespace) -> int:
    from autograder.students import selfcheck  # noqa: PLC0415 - keeps `course --help` fast

    path = Path(args.notebook)
    if not path.exists():
        print(f"No such notebook: {path}", file=sys.stderr)
        return 2
    print(f"Grading {path} with the course's tests (this runs the whole notebook in fast mode) ...")
    try:
        scores = selfcheck.grade(path)
    except (FileNotFoundError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    print(selfcheck.table(scores))
    return 0 if all(s.score == s.points for s in scores) else 1


def _sync(args: argparse.Namespace) -> int:
    from autograder.authors import sync  # noqa: PLC0415

    return sync.main(["--check"] if args.check else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description="Tools of the NLP-from-scratch course.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="grade a notebook locally with the course's hidden tests")
    check.add_argument("notebook", help="your copy of a chapter notebook, e.g. workspace/01_review.ipynb")
    check.set_defaults(func=_check)
    sync = sub.add_parser("sync", help="refresh the notebooks' solution cells from course/ (instructors)")
    sync.add_argument("--check", action="store_true", help="only report notebooks that differ")
    sync.set_defaults(func=_sync)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
