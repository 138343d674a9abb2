"""nbgrader's Execute step, replaced: the notebook runs in the sandbox and the judge scores it.

nbgrader's autograde still does the bookkeeping around it (restoring locked
and test cells from the gradebook before, saving grades after). This step
hands the notebook to :mod:`autograder.instructors.grading`, writes the judge's outputs
and verdicts into the cells nbgrader scores, and records the outcome (status,
reason, what needs review) in the ledger.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Integer, Unicode

from autograder.instructors import bounds, cells, grading, ledger, sandbox


class SandboxedExecute(NbGraderPreprocessor):
    """Run and score a submitted notebook in the sandbox (see autograder.instructors.sandbox)."""

    wall_s = Float(sandbox.Limits.wall_s, help="wall-clock limit for a whole notebook, in seconds").tag(
        config=True
    )
    memory_mb = Integer(sandbox.Limits.memory_mb, help="address-space limit per process, in MB").tag(
        config=True
    )
    processes = Integer(sandbox.Limits.processes, help="process limit of one run").tag(config=True)
    course_root = Unicode(help="the course root (submissions, gradebook, ledger)").tag(config=True)
    source_dir = Unicode(help="the source notebooks, one folder per assignment").tag(config=True)

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        info = resources["nbgrader"]
        root = Path(self.course_root)
        source = nbformat.read(Path(self.source_dir) / info["assignment"] / f"{info['notebook']}.ipynb", 4)
        review = self._edits(root, info, nb)
        limits = sandbox.Limits(wall_s=self.wall_s, memory_mb=self.memory_mb, processes=self.processes)
        outcome, results = grading.grade(nb, source, limits)
        outcome.review = review + outcome.review
        grading.apply_results(nb, outcome, results)
        outcome.review += bounds.cap_outputs(nb)
        ledger.record(root, info["assignment"], info["student"], info["notebook"], outcome.to_json())
        if outcome.status != "graded" or outcome.review:
            self.log.warning(
                "%s/%s: %s %s %s",
                info["student"],
                info["notebook"],
                outcome.status,
                outcome.reason,
                "; ".join(outcome.review),
            )
        return nb, resources

    @staticmethod
    def _edits(root: Path, info: dict, restored: Any) -> list[str]:
        """What the student changed in locked or test cells (nbgrader has already put them back)."""
        submitted = root / "submitted" / info["student"] / info["assignment"] / f"{info['notebook']}.ipynb"
        try:
            original = nbformat.read(submitted, as_version=4)
        except Exception:
            return []
        return cells.restore_cells(original, restored)[1]


# Results graded elsewhere (by the workers of a cluster), waiting to be recorded:
# (course root, assignment, student, notebook) -> (outcome, outputs by code cell, code cells graded).
RECEIVED: dict[tuple[str, str, str, str], tuple[grading.Outcome, dict[int, dict], int]] = {}
LEDGER_S = [0.0]  # seconds spent writing the ledger from RecordedExecute (the coordinator's cost)


class RecordedExecute(SandboxedExecute):
    """nbgrader's Execute step for results graded elsewhere: nothing runs here.

    The coordinator of a cluster puts each checked result in ``RECEIVED``; this step
    writes it into the notebook nbgrader has restored, exactly as
    :class:`SandboxedExecute` writes a local grading, and records the outcome.
    """

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        info = resources["nbgrader"]
        root = Path(self.course_root)
        key = (str(root), info["assignment"], info["student"], info["notebook"])
        outcome, results, code_cells = RECEIVED.pop(
            key, (grading.Outcome("error", "no result came back from the grading workers"), {}, -1)
        )
        if code_cells >= 0 and code_cells != sum(c.cell_type == "code" for c in nb.cells):
            # The worker restored the notebook differently from nbgrader: do not score it.
            outcome = grading.Outcome(
                "error", "the worker graded a notebook with other cells than nbgrader's"
            )
            results = {}
        outcome.review = self._edits(root, info, nb) + outcome.review
        grading.apply_results(nb, outcome, results)
        outcome.review += bounds.cap_outputs(nb)
        began = time.perf_counter()
        ledger.record(root, info["assignment"], info["student"], info["notebook"], outcome.to_json())
        LEDGER_S[0] += time.perf_counter() - began
        return nb, resources
