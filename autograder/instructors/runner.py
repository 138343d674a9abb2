"""The feedback run: a notebook's code cells top to bottom, for the outputs the student sees.

It runs inside the sandbox (``python -m autograder.instructors.runner --report FD``), the
job on stdin as JSON (``{"cells": [{"index", "source", "run"}]}``), and writes
one JSON line per cell to the report pipe: what the cell printed and the error
it raised. Nothing a score depends on comes from here: the judge scores from
data (see :mod:`autograder.instructors.judge`); this run only gives the graded notebook and
the feedback their outputs, and tells the grader where a notebook stopped.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sys
import traceback
from typing import Any

OUTPUT_LIMIT = 20_000  # characters kept per cell


class Capture(io.TextIOBase):
    """A cell's printed output, kept up to OUTPUT_LIMIT characters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = OUTPUT_LIMIT - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(len(text), room)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def value(self) -> str:
        out = "".join(self.parts)
        if self.dropped:
            out += f"\n[... {self.dropped} more characters of output not kept]"
        return out


def error_text(exc: BaseException) -> list[str]:
    """[name, message, traceback limited to the notebook's own cells]."""
    try:
        message = str(exc)
    except Exception:
        message = "(the error's message could not be shown)"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    lines = [f"  {f.filename}, line {f.lineno}: {f.line or ''}" for f in frames[-5:]]
    return [type(exc).__name__, message[:2000], "\n".join(lines)]


def compile_cell(source: str, index: int) -> Any:
    """A cell's code object, or [name, message, where] when it does not compile."""
    try:
        return compile(source, f"<cell {index + 1}>", "exec")
    except SyntaxError as exc:
        hint = "; magics (%...) and shell commands (!...) do not run in grading" if "%" in source else ""
        return ["SyntaxError", f"{exc.msg} (line {exc.lineno}){hint}", ""]


def _prepare() -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import tqdm  # noqa: PLC0415

    tqdm.tqdm.monitor_interval = 0


def run(cells: list[dict], report: Any) -> None:
    _prepare()
    namespace: dict[str, Any] = {"__name__": "__main__"}
    report({"ready": True})
    for cell in cells:
        result: dict[str, Any] = {"index": cell["index"], "output": "", "error": None}
        if cell.get("run", True):
            code = compile_cell(cell["source"], cell["index"])
            if isinstance(code, list):
                result["error"] = code
            else:
                capture, saved = Capture(), (sys.stdout, sys.stderr)
                sys.stdout = sys.stderr = capture
                try:
                    exec(code, namespace)
                except BaseException as exc:  # SystemExit and KeyboardInterrupt are the student's too
                    result["error"] = error_text(exc)
                finally:
                    sys.stdout, sys.stderr = saved
                result["output"] = capture.value()
        report(result)
    report({"done": True})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=int, required=True, help="file descriptor for the results")
    args = parser.parse_args()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a flood of output fails a write, not the run
    job = json.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    out = os.fdopen(args.report, "w", buffering=1, encoding="utf-8")

    def report(body: dict) -> None:
        out.write(json.dumps(body) + "\n")
        out.flush()

    run(job["cells"], report)
    os._exit(0)  # nothing of the notebook's runs after the last result


if __name__ == "__main__":
    sys.exit(main())
