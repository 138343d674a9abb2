"""How long each chapter notebook takes to run top to bottom, in fast mode and in full.

    COURSE_DATA_DIR=../shared/data python benchmarks/notebook_times.py              # fast mode, every chapter
    COURSE_DATA_DIR=../shared/data python benchmarks/notebook_times.py --full ch05  # full mode, one chapter

Fast mode (``COURSE_FAST=1``) is what grading and the tests run; every chapter
should take under 2 minutes there on 2 cores. Full mode is what a student runs.
Each notebook runs in a fresh kernel in a scratch folder (nothing is written
next to the sources); the wall time and the kernel's CPU time are printed.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(path: Path, fast: bool, timeout: float) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the kernel) of one top-to-bottom run."""
    os.environ["COURSE_FAST"] = "1" if fast else "0"
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="notebook-times-") as tmp:
        shutil.copy(path, tmp)
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": tmp}}
        )
        cpu, start = children_cpu_s(), time.perf_counter()
        client.execute()
        return time.perf_counter() - start, children_cpu_s() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="ch01 ... ch08 (default: all)")
    parser.add_argument("--full", action="store_true", help="full mode instead of fast mode")
    parser.add_argument("--timeout", type=float, default=7200, help="seconds per cell (default: %(default)s)")
    args = parser.parse_args(argv)
    chapters = args.chapters or sorted(p.name for p in NOTEBOOKS.glob("ch*"))
    if "COURSE_DATA_DIR" not in os.environ:
        print(
            "set COURSE_DATA_DIR to the folder holding ptb/ (the chapters from 2 on read it)", file=sys.stderr
        )
        return 2
    mode = "full" if args.full else "fast"
    print(f"{'notebook':<30} {'mode':<5} {'wall s':>8} {'kernel CPU s':>13}")
    for chapter in chapters:
        for path in sorted((NOTEBOOKS / chapter).glob("*.ipynb")):
            wall, cpu = run(path, fast=not args.full, timeout=args.timeout)
            print(f"{path.name:<30} {mode:<5} {wall:>8.1f} {cpu:>13.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
