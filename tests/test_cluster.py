"""Grading on a Dask cluster: a real scheduler and two workers, one of them killed mid-run.

The heavy test starts ``dask scheduler`` and two ``dask worker`` processes on
127.0.0.1 (ports picked here), grades ten chapter-1 submissions on them (honest,
wrong, untouched, renamed, and attackers from the adversarial suite) with
``course-grade grade --cluster``'s coordinator, and kills one worker while it
grades. Every submission must be recorded exactly once, with the scores and
outcomes a local grading of the same class gives (the local run grades each
distinct notebook once: the second and third honest copies are compared with the
first), and ``course-grade check`` must pass. The light tests cover the
coordinator's checks of what a worker returns.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("distributed")

from distributed import Client, KilledWorker

from autograder import flow
from autograder.instructors import batch, cluster, execute, grade_cli, ledger, sandbox, worker

CHAPTER = "ch01"
WALL_S = 25.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def started():
    """Processes the test starts (each in its own session); all killed at the end, pass or fail."""
    procs: list[subprocess.Popen] = []
    yield procs
    for proc in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _start(started: list, *args: str) -> subprocess.Popen:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    dask = str(Path(sys.executable).with_name("dask"))
    proc = subprocess.Popen(
        [dask, *args], env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    started.append(proc)
    return proc


def _class(root: Path) -> list[str]:
    """Ten chapter-1 submissions: honest, wrong, untouched, renamed, and three attackers."""
    import test_grading_safety as safety

    flow.release(CHAPTER, root)
    name = safety.SOURCE.name
    honest = nbformat.read(safety.SOURCE, as_version=4)
    release = nbformat.read(root / "release" / CHAPTER / name, as_version=4)
    attacks = safety._attacks(root)
    notebooks = {
        "honest-1": honest,
        "honest-2": honest,
        "honest-3": honest,
        "wrong-1": safety._wrong(),
        "wrong-2": safety._wrong(),
        "untouched": release,
        **{f"attack-{a}": attacks[a][0]() for a in ("patch-harness", "exit-kernel", "gradebook")},
    }
    for student, nb in notebooks.items():
        folder = root / "submitted" / student / CHAPTER
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / name)
    (root / "submitted" / "renamed" / CHAPTER).mkdir(parents=True)
    nbformat.write(honest, root / "submitted" / "renamed" / CHAPTER / "my chapter 1.ipynb")
    return sorted([*notebooks, "renamed"])


def _kill_when_busy(address: str, victim: subprocess.Popen, victim_name: str, killed: dict) -> None:
    """Kill the victim worker once it has been grading a notebook for a few seconds."""
    with Client(address, timeout=30) as client:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            info = client.scheduler_info(n_workers=-1)["workers"]
            busy = [a for a, w in info.items() if w.get("name") == victim_name]
            if busy and client.processing(busy).get(busy[0]):
                time.sleep(3.0)  # well inside the notebook's grading
                killed["tasks"] = list(client.processing(busy)[busy[0]])
                os.killpg(victim.pid, signal.SIGKILL)
                return
            time.sleep(0.2)


def _outcomes(root: Path) -> dict[str, tuple]:
    return {
        r["student"]: (r["status"], r["score"]) for r in ledger.rows(root, CHAPTER) if r["notebook"] != "*"
    }


@pytest.mark.heavy
@pytest.mark.skipif(sandbox.bwrap_path() is None, reason="needs bubblewrap that can make namespaces here")
def test_a_class_graded_on_a_real_cluster_survives_a_killed_worker(tmp_path, started):
    root = tmp_path / "cluster"
    students = _class(root)
    local = tmp_path / "local"
    shutil.copytree(root, local)
    for copy in ("honest-2", "honest-3", "wrong-2"):  # the same notebooks as honest-1 and wrong-1
        shutil.rmtree(local / "submitted" / copy)
    began = time.monotonic()

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    _start(started, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")
    for name in ("survivor", "victim"):
        _start(
            started, "worker", address, "--name", name, "--nthreads", "1", "--no-nanny", "--no-dashboard",
            "--host", "127.0.0.1",
        )  # fmt: skip
    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=90)
    killed: dict = {}
    killer = threading.Thread(target=_kill_when_busy, args=(address, started[2], "victim", killed))
    killer.start()
    settings = batch.Settings(workers=2, wall_s=WALL_S)
    summary = cluster.grade_class(root, CHAPTER, None, settings, cluster.Options(address))
    killer.join()

    assert killed.get("tasks"), "the victim worker was never seen grading"
    assert not summary.errors
    assert sorted(summary.recorded) == students  # each submission recorded exactly once
    assert all(w["level"] == worker.isolation_level() for w in summary.workers.values())
    with Client(address, timeout=30) as client:  # the surviving worker never touched a gradebook
        loaded = client.run(
            lambda: sorted(m for m in sys.modules if m.startswith(("nbgrader", "sqlalchemy")))
        )
    assert list(loaded.values()) == [[]]

    on_cluster = time.monotonic() - began
    local_summary = batch.grade_class(local, CHAPTER, None, settings)
    print(f"cluster {on_cluster:.0f} s, local {time.monotonic() - began - on_cluster:.0f} s")
    assert not local_summary.errors
    outcomes, expected = _outcomes(root), _outcomes(local)
    for student in students:
        twin = student if (local / "submitted" / student).exists() else student[:-1] + "1"
        assert flow.grades(root, CHAPTER, student) == flow.grades(local, CHAPTER, twin), student
        assert outcomes[student] == expected[twin], student
    assert outcomes["attack-exit-kernel"][0] == "crashed"
    assert grade_cli.main(["--root", str(root), "check", CHAPTER]) == 0


def test_an_unreachable_scheduler_is_named_with_the_fix(monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_S", 2.0)
    address = f"tcp://127.0.0.1:{_free_port()}"
    with (
        pytest.raises(
            RuntimeError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:\d+.*dask scheduler"
        ),
        cluster.connect(address),
    ):
        pass


class _Future:
    def __init__(self, key: str, value=None, error: BaseException | None = None):
        self.key, self.value, self.error = key, value, error

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value

    def release(self) -> None:
        pass


def _coordinator(tmp_path: Path) -> cluster._Coordinator:
    """A coordinator without a cluster: enough to receive results."""
    c = object.__new__(cluster._Coordinator)
    c.root, c.assignment, c.tries = tmp_path, CHAPTER, 3
    c.pending, c.futures = {}, {}
    return c


def test_a_notebook_that_kills_every_worker_ends_as_crashed(tmp_path):
    c = _coordinator(tmp_path)
    summary = cluster.Summary()
    c.pending["s"] = ({}, {"nb"})
    future = _Future("k", error=KilledWorker("k", "tcp://w:1", 2))
    c.futures["k"] = (future, "s", "nb")
    assert c.receive(future, summary) == "s"
    outcome, outputs, _ = execute.RECEIVED.pop((str(tmp_path), CHAPTER, "s", "nb"))
    assert outcome.status == "crashed" and "crashed on 3 workers" in outcome.reason
    assert outcome.review and not outcome.tests and not outputs  # every test fails; a person looks
    assert not summary.errors


@pytest.mark.parametrize(
    "result",
    [
        "text",
        {"refused": "weaker isolation"},
        {"outcome": {"status": "graded", "reason": "", "tests": {}, "review": []}, "outputs": {}},
        {"outcome": {"status": "pwned", "reason": "", "tests": {}, "review": []}, "outputs": {},
         "code_cells": 1},
        {"outcome": {"status": "graded", "reason": "", "tests": {"t": [1, ""]}, "review": []}, "outputs": {},
         "code_cells": 1},
        {"outcome": {"status": "graded", "reason": "", "tests": {}, "review": []}, "outputs": {"x": {}},
         "code_cells": 1},
    ],
)  # fmt: skip
def test_a_malformed_or_refused_result_is_not_recorded(tmp_path, result):
    with pytest.raises(ValueError):
        cluster.checked(result)
    c = _coordinator(tmp_path)
    summary = cluster.Summary()
    c.pending["s"] = ({}, {"nb"})
    future = _Future("k", value=result)
    c.futures["k"] = (future, "s", "nb")
    c.receive(future, summary)
    assert "s" in summary.errors and (str(tmp_path), CHAPTER, "s", "nb") not in execute.RECEIVED
    assert not ledger.finished(tmp_path, CHAPTER)  # graded again on the next run


def test_weaker_isolation_is_refused_unless_allowed(monkeypatch):
    assert worker.weaker("rlimits", "bubblewrap+uids") and not worker.weaker("bubblewrap+uids", "bubblewrap")
    course = worker.describe()["course"]
    task = {"student": "s", "notebook": "nb", "isolation": "bubblewrap+uids", "course": course}
    monkeypatch.setattr(worker, "isolation_level", lambda: "rlimits")
    assert "weaker" in worker.grade_task(dict(task))["refused"]
    assert "another version" in worker.grade_task(dict(task, allow_weaker=True, course="x"))["refused"]
