"""What a grading worker of a cluster runs: one notebook in, its verdict out, as plain data.

A task carries everything the grading needs as bytes: the student's notebook
(already normalized by the coordinator) and the course's source notebook of
that assignment, which holds the hidden tests the judge runs. The worker needs
only the course installed (the same version as the coordinator's, checked by
:func:`fingerprint`) and, for chapters that read data, ``COURSE_DATA_DIR``. It
never sees the course root: no submissions folder, no gradebook, no ledger.
This module imports none of them, so a worker cannot write a grade even by
mistake; the coordinator (:mod:`autograder.instructors.cluster`) is the only writer.

The notebook runs in the same sandbox as local grading
(:func:`autograder.instructors.grading.grade`). Before it grades anything, the
worker compares its isolation with the one the coordinator asks for and refuses
the task when its own is weaker, unless the coordinator allows that.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import socket
import time
from typing import Any

import nbformat
from distributed.diagnostics.plugin import WorkerPlugin

from autograder.instructors import cells, grading, sandbox

LEVELS = ("rlimits", "bubblewrap", "bubblewrap+uids")  # weakest first
_LOG = logging.getLogger("distributed.worker")
_PACKAGES = ("course", "autograder")


def isolation_level() -> str:
    """This machine's isolation as one of ``LEVELS``: what :func:`sandbox.isolation` describes."""
    if sandbox.bwrap_path() is None:
        return LEVELS[0]
    return LEVELS[2] if sandbox.can_switch_user() else LEVELS[1]


def weaker(level: str, wanted: str) -> bool:
    """Whether isolation ``level`` is weaker than ``wanted`` (both from ``LEVELS``)."""
    return LEVELS.index(level) < LEVELS.index(wanted)


def fingerprint() -> str:
    """A hash of the installed course's code (course/ and autograder/ .py files): the same on every
    machine that grades alike. The generated folders of the default course root are not code."""
    digest = hashlib.sha256()
    for pkg in _PACKAGES:
        base = sandbox.REPO / pkg
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(sandbox.REPO)
            if pkg == "autograder" and sandbox.generated(path.relative_to(base)):
                continue
            digest.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def describe() -> dict[str, str]:
    """What a worker says about itself: host, isolation (level and the full line), course version."""
    return {
        "host": socket.gethostname(),
        "level": isolation_level(),
        "isolation": sandbox.isolation(),
        "course": _loaded_course(),
    }


@functools.cache
def _loaded_course() -> str:
    """This worker's course version: hashed once, when the worker first grades (its code is loaded then)."""
    return fingerprint()


class ReportIsolation(WorkerPlugin):
    """A Dask worker plugin: each worker logs its isolation when it starts (or joins later)."""

    name = "course-grade-isolation"

    def setup(self, worker: Any) -> None:
        info = describe()
        _LOG.info(
            "course-grade worker on %s: isolation %s (course %s)",
            info["host"],
            info["isolation"],
            info["course"],
        )
        worker.log_event("course-grade", {"worker": worker.address, **info})


def grade_task(task: dict) -> dict:
    """Grade one notebook; a JSON-able result the coordinator checks and records.

    ``task``: ``student``, ``notebook`` (names, for the result), ``submitted`` and
    ``source`` (notebook bytes), ``limits`` (:class:`sandbox.Limits` fields),
    ``isolation`` (the level asked for), ``allow_weaker`` and ``course`` (the
    coordinator's :func:`fingerprint`). A refused task returns ``refused``, a reason.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    info = describe()
    result: dict[str, Any] = {"student": task["student"], "notebook": task["notebook"], "worker": info}
    if weaker(info["level"], task["isolation"]) and not task.get("allow_weaker"):
        result["refused"] = (
            f"worker {info['host']} has isolation '{info['level']}' ({info['isolation']}), weaker than the "
            f"'{task['isolation']}' asked for"
        )
        return result
    if info["course"] != task["course"]:
        result["refused"] = (
            f"worker {info['host']} runs another version of the course ({info['course']}, "
            f"the coordinator's is {task['course']}): install the same one"
        )
        return result
    began = time.monotonic()
    source = nbformat.reads(task["source"].decode("utf-8"), as_version=4)
    submitted = nbformat.reads(task["submitted"].decode("utf-8"), as_version=4)
    # The course's locked and test cells put back, as nbgrader does before its Execute step.
    nb, _ = cells.restore_cells(submitted, source)
    outcome, by_index = grading.grade(nb, source, sandbox.Limits(**task["limits"]))
    result["outcome"] = outcome.to_json()
    result["outputs"] = {str(i): r for i, r in by_index.items()}
    result["code_cells"] = sum(c.cell_type == "code" for c in nb.cells)
    result["task_s"] = round(time.monotonic() - began, 3)
    return result
