"""The course's nbgrader settings, shared by nbgrader_config.py, the tests and the tools."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from traitlets.config import Config

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
COURSE_ID = "nlp-from-scratch"
CELL_TIMEOUT = 300
NOTEBOOK_TIMEOUT = 300.0  # a whole notebook, in the grader's sandbox (fast mode)


def configure(c: Any, root: Path | None = None, source: Path | None = None) -> Any:
    """Fill an nbgrader Config: directories, gradebook, timeouts, feedback without hidden tests.

    root: where release/, submitted/, autograded/, feedback/ and the gradebook go
    (default: autograder/); source: the source notebooks (default: notebooks/).
    """
    root = Path(root or HERE).resolve()
    source = Path(source or REPO / "notebooks").resolve()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = COURSE_ID
    # nbgrader joins root and source_directory: an absolute path is used as given.
    c.CourseDirectory.source_directory = str(source)
    c.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}?timeout=60"
    c.Execute.timeout = CELL_TIMEOUT
    c.Execute.interrupt_on_timeout = True
    # Submissions run in the sandbox and are scored by the judge, not in a Jupyter kernel.
    c.Autograde.autograde_preprocessors = [
        "autograder.instructors.execute.SandboxedExecute",
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        "nbgrader.preprocessors.SaveAutoGrades",
        "nbgrader.preprocessors.AssignLatePenalties",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]
    c.SandboxedExecute.wall_s = NOTEBOOK_TIMEOUT
    c.SandboxedExecute.course_root = str(root)
    c.SandboxedExecute.source_dir = str(source)
    c.OverwriteCells.add_missing_cells = True
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    # nbgrader's default feedback shows hidden tests verbatim: strip them first.
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "nbgrader.preprocessors.ClearHiddenTests",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
    return c


def config(root: Path | None = None, source: Path | None = None) -> Config:
    """A fresh traitlets Config with the course's settings."""
    return configure(Config(), root=root, source=source)


def grading_environment() -> dict[str, str]:
    """Environment for grading kernels: fast mode, and this Python's tools on PATH.

    nbgrader starts helper programs (alembic) by name, so the virtual
    environment's bin folder must be on PATH even when it is not activated.
    """
    env = dict(os.environ)
    env["COURSE_FAST"] = "1"
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env
