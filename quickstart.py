#!/usr/bin/env python3
"""Set up the course in a local virtual environment, then open it or test it.

    python3 quickstart.py lab     # set up, then open the course in JupyterLab
    python3 quickstart.py test    # set up, then run the whole test suite
    python3 quickstart.py gpu-check   # on an NVIDIA GPU: CuPy tests and GPU benchmarks

Needs only Python 3.11+ with pip. The environment lives in ``.venv/`` next to
this file and is reinstalled only when ``pyproject.toml`` changes. Extra
arguments after ``test`` go to pytest (e.g. ``-k gradcheck``); after ``lab``,
to JupyterLab.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".course-installed"
WORKSPACE = ROOT / "workspace"


def _python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _wanted_stamp(extras: str) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"{digest} {extras}"


def setup(extras: str = "dev") -> Path:
    """Create .venv and install the course (editable) with the given extras."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be run by an older python3
        sys.exit(f"The course needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not _python().exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if STAMP.exists() and STAMP.read_text() == _wanted_stamp(extras):
        return _python()
    print("Installing the course and its dependencies (first run: a few minutes) ...", flush=True)
    pip = [str(_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f".[{extras}]"], check=True, cwd=ROOT)
    STAMP.write_text(_wanted_stamp(extras))
    return _python()


def prepare_workspace(python: Path) -> Path:
    """The student's workspace: released notebooks, never overwriting the student's edits."""
    print("Preparing your workspace (released notebooks, without solutions) ...", flush=True)
    subprocess.run([str(python), "-m", "autograder.students.workspace", str(WORKSPACE)], check=True, cwd=ROOT)
    return WORKSPACE


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "test":
        python = setup("dev")
        return subprocess.call([str(python), "-m", "pytest", *rest], cwd=ROOT)
    if command == "gpu-check":
        # Standard library only until a CUDA device is found, so a CPU machine hears so at once.
        return subprocess.call([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), *rest], cwd=ROOT)
    if command == "lab":
        python = setup("dev")
        workspace = prepare_workspace(python)
        return subprocess.call([str(python), "-m", "jupyter", "lab", *rest], cwd=workspace)
    print(__doc__)
    return 0 if command in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
