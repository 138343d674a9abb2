"""Grade a class on a Dask cluster: workers grade, the coordinator alone writes the grades.

    course-grade grade ch01 --cluster tcp://scheduler:8786    a running Dask scheduler and its workers
    course-grade grade ch01 --cluster local:4                  a LocalCluster of 4 worker processes here

The coordinator (this process) normalizes each submission as local grading does,
then sends every notebook to the cluster as task data: the notebook's bytes and the
course's source notebook of the assignment (:func:`autograder.instructors.worker.grade_task`).
A worker grades in its own sandbox and returns data only. The coordinator checks each
result (its shape, and that the worker graded the notebook nbgrader restores) and
records the submission once all its notebooks are back, in the order they arrive:
nbgrader's autograde with its Execute step replaced by the result
(:class:`autograder.instructors.execute.RecordedExecute`), then the ledger. Nothing
else writes the gradebook or the ledger.

Faults: Dask runs a task again on another worker when its worker dies; a notebook
whose grading kills every worker it lands on (Dask's ``allowed-failures`` + 1 of
them) is recorded as "crashed on N workers" with no points, flagged for a human
look, and the batch goes on. An interrupted coordinator resumes from the ledger, as
local grading does.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from autograder import flow
from autograder.instructors import batch, execute, grading, ledger, recording, sandbox, worker
from autograder.settings import config

ALLOWED_FAILURES = 2  # a LocalCluster's retries after a worker died: a notebook gets 3 workers at most
STATUSES = {"graded", "timeout", "memory", "crashed", "error"}
CONNECT_S = 20.0
WORKERS_S = 60.0  # how long to wait for a scheduler's first worker


@dataclass
class Options:
    """Where and how to grade: ``address`` is ``tcp://HOST:PORT`` or ``local:N``."""

    address: str
    isolation: str | None = None  # the level asked of workers (worker.LEVELS); None: this machine's
    allow_weaker: bool = False


@dataclass
class Summary(batch.Summary):
    """A class graded on a cluster: batch's summary, what each worker said, the coordinator's costs."""

    workers: dict[str, dict] = field(default_factory=dict)
    recorded: list[str] = field(default_factory=list)  # students in the order they were recorded
    costs: dict[str, float] = field(default_factory=dict)  # seconds, summed over results

    def per_result_ms(self) -> dict[str, float]:
        n = max(1, len(self.recorded))
        return {k: round(1000 * v / n, 1) for k, v in self.costs.items()}


@contextlib.contextmanager
def connect(address: str) -> Iterator[Any]:  # -> distributed.Client
    """A client of the cluster at ``address`` (``local:N`` starts one here); closed on leaving."""
    import dask  # noqa: PLC0415 - an optional dependency, only for --cluster
    from distributed import Client, LocalCluster  # noqa: PLC0415

    if address.startswith("local:"):
        n = int(address.split(":", 1)[1])
        with (
            dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}),
            LocalCluster(
                n_workers=n,
                threads_per_worker=1,  # one grading per process: sandbox user ids are per process
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(address, timeout=CONNECT_S)
    except Exception as exc:
        raise RuntimeError(
            f"cannot reach the Dask scheduler at {address} ({exc}). Start one there with "
            f"`dask scheduler --port PORT` and its workers with `dask worker {address} --nthreads 1`, "
            "check the host, the port and the firewall between here and there, "
            "or grade on this machine with --cluster local:N."
        ) from exc
    try:
        yield client
    finally:
        client.close()


def _allowed_failures(dask_scheduler: Any = None) -> int:
    return int(dask_scheduler.allowed_failures)


def check_workers(client: Any, options: Options, course: str) -> dict[str, dict]:
    """What each worker says (worker.describe); refuse weaker isolation or another course version than
    ``course`` (the coordinator's :func:`worker.fingerprint`)."""
    try:
        client.wait_for_workers(1, timeout=WORKERS_S)
    except Exception as exc:
        raise RuntimeError(
            f"the Dask scheduler at {client.scheduler.address} has no workers after {WORKERS_S:g} s: "
            f"start some with `dask worker {client.scheduler.address} --nthreads 1`"
        ) from exc
    client.register_plugin(worker.ReportIsolation())
    infos = client.run(worker.describe)
    wanted = options.isolation or worker.isolation_level()
    weak = [
        f"worker {address} on {info['host']} has isolation '{info['level']}' ({info['isolation']})"
        for address, info in sorted(infos.items())
        if worker.weaker(info["level"], wanted) and not options.allow_weaker
    ]
    if weak:
        raise RuntimeError(
            f"refused, weaker than the '{wanted}' isolation asked for: " + "; ".join(weak) + ". Install "
            "bubblewrap on the workers and run them as root ('bubblewrap+uids') or with unprivileged user "
            "namespaces ('bubblewrap'), ask for less with --isolation, or accept them with "
            "--allow-weaker-isolation."
        )
    other = [f"worker {a} has {i['course']}" for a, i in sorted(infos.items()) if i["course"] != course]
    if other:
        raise RuntimeError(
            f"refused, another version of the course than the coordinator's ({course}): "
            + "; ".join(other)
            + ". Install the same version of the course on every worker (and restart them)."
        )
    return infos


def _api(root: Path, settings: batch.Settings) -> Any:  # -> NbGraderAPI whose Execute step records results
    cfg = config(root=root)
    steps = list(cfg.Autograde.autograde_preprocessors)
    steps[steps.index("autograder.instructors.execute.SandboxedExecute")] = (
        "autograder.instructors.execute.RecordedExecute"
    )
    cfg.Autograde.autograde_preprocessors = steps
    return flow.api(cfg=cfg)


def _limits(settings: batch.Settings) -> dict:
    cfg = config()
    limits = sandbox.Limits(
        wall_s=float(settings.wall_s or cfg.SandboxedExecute.wall_s),
        memory_mb=int(settings.memory_mb or sandbox.Limits.memory_mb),
    )
    return {k: getattr(limits, k) for k in ("wall_s", "memory_mb", "processes", "file_mb", "open_files")}


def checked(result: Any) -> tuple[grading.Outcome, dict[int, dict], int]:
    """A worker's result as (outcome, outputs by code cell, code cells graded); ValueError if malformed."""
    if not isinstance(result, dict):
        raise ValueError("the result is not a dict")
    if "refused" in result:
        raise ValueError(str(result["refused"])[:500])
    raw, outputs, code_cells = result.get("outcome"), result.get("outputs"), result.get("code_cells")
    if not isinstance(raw, dict) or not isinstance(outputs, dict) or not isinstance(code_cells, int):
        raise ValueError("the result lacks an outcome, outputs or the cell count")
    if raw.get("status") not in STATUSES or not isinstance(raw.get("reason"), str):
        raise ValueError(f"unknown status {str(raw.get('status'))[:40]!r}")
    tests = raw.get("tests")
    review = raw.get("review")
    if (
        not isinstance(tests, dict)
        or not isinstance(review, list)
        or not all(isinstance(r, str) for r in review)
    ):
        raise ValueError("malformed tests or review")
    outcome = grading.Outcome(raw["status"], raw["reason"], review=list(review))
    outcome.wall_s = float(raw.get("wall_s") or 0.0)
    for gid, verdict in tests.items():
        if not (isinstance(verdict, list) and len(verdict) == 2 and isinstance(verdict[0], bool)):
            raise ValueError(f"malformed verdict for {str(gid)[:40]}")
        outcome.tests[str(gid)] = grading.TestResult(verdict[0], str(verdict[1]))
    by_index = {}
    for index, item in outputs.items():
        error = item.get("error") if isinstance(item, dict) else None
        if not (str(index).isdigit() and isinstance(item, dict) and isinstance(item.get("output", ""), str)):
            raise ValueError("malformed outputs")
        if error is not None and not (isinstance(error, list) and len(error) == 3):
            raise ValueError("malformed error output")
        by_index[int(index)] = {
            "output": item.get("output", ""),
            "error": [str(e) for e in error] if error else None,
        }
    return outcome, by_index, code_cells


def crashed(tries: int) -> tuple[grading.Outcome, dict[int, dict], int]:
    """The outcome of a notebook whose grading killed every worker it was sent to."""
    reason = f"crashed on {tries} workers: grading this notebook killed every worker it ran on"
    return grading.Outcome("crashed", reason, review=[reason]), {}, -1


class _Coordinator:
    """Sends notebooks out, a bounded number at a time, and records submissions as they complete."""

    def __init__(
        self,
        client: Any,
        root: Path,
        assignment: str,
        settings: batch.Settings,
        options: Options,
        course: str,
    ):
        from distributed import as_completed  # noqa: PLC0415

        self.client, self.root, self.assignment = client, root, assignment
        self.expected = batch.expected_notebooks(root, assignment)
        self.sources = {
            name: (
                Path(config(root=root).CourseDirectory.source_directory) / assignment / f"{name}.ipynb"
            ).read_bytes()
            for name in self.expected
        }
        self.base = {
            "limits": _limits(settings),
            "isolation": options.isolation or worker.isolation_level(),
            "allow_weaker": options.allow_weaker,
            "course": course,
        }
        self.api = _api(root, settings)
        self.tries = ALLOWED_FAILURES + 1
        with contextlib.suppress(Exception):
            self.tries = client.run_on_scheduler(_allowed_failures) + 1
        self.pending: dict[str, tuple[dict, set[str]]] = {}  # student -> (notes, notebooks still out)
        self.futures: dict[str, tuple[Any, str, str]] = {}  # key -> (future, student, notebook)
        self.flow = as_completed()

    def send(self, student: str, summary: Summary) -> bool:
        """Normalize a submission and send its notebooks; False if there was nothing to send."""
        notes, error = batch.prepare(self.root, self.assignment, student, self.expected)
        if error:
            summary.errors[student] = error
            return False
        folder = self.root / "submitted" / student / self.assignment
        names = {name for name in self.expected if (folder / f"{name}.ipynb").is_file()}
        self.pending[student] = (notes, set(names))
        for name in sorted(names):
            task = dict(
                self.base,
                student=student,
                notebook=name,
                submitted=(folder / f"{name}.ipynb").read_bytes(),
                source=self.sources[name],
            )
            key = f"grade-{self.assignment}-{name}-{student}-{uuid.uuid4().hex[:8]}"
            future = self.client.submit(worker.grade_task, task, key=key, pure=False)
            self.futures[future.key] = (future, student, name)
            self.flow.add(future)
        return bool(names)

    def receive(self, future: Any, summary: Summary) -> str | None:
        """Check one result and keep it; the student to record now that all notebooks are back, or None."""
        from distributed import KilledWorker  # noqa: PLC0415

        _, student, name = self.futures.pop(future.key)
        began = time.perf_counter()
        try:
            result = future.result()
            error = ""
        except KilledWorker:
            result, error = None, "crashed"
        except Exception as exc:
            result, error = None, f"the grading worker failed: {type(exc).__name__}: {exc}"
        finally:
            future.release()
        received = time.perf_counter()
        summary.costs["receive"] = summary.costs.get("receive", 0.0) + received - began
        if error == "crashed":
            item = crashed(self.tries)
        elif error:
            item = None
        else:
            try:
                item = checked(result)
            except ValueError as exc:
                item, error = None, f"refused the result of {name}: {exc}"
        summary.costs["check"] = summary.costs.get("check", 0.0) + time.perf_counter() - received
        out = self.pending[student][1]
        if item is None:  # the grader failed, not the student: leave it unfinished, to be graded again
            ledger.record(self.root, self.assignment, student, name, {"status": "error", "reason": error})
            summary.errors.setdefault(student, error)
        else:
            execute.RECEIVED[(str(self.root), self.assignment, student, name)] = item
        out.discard(name)
        return student if not out else None

    def record(self, student: str, summary: Summary) -> None:
        """nbgrader's autograde with the received results, then the ledger: the one write of a submission."""
        notes, _ = self.pending.pop(student)
        if student in summary.errors:
            for key in [k for k in execute.RECEIVED if k[2] == student and k[1] == self.assignment]:
                del execute.RECEIVED[key]
            return
        began, ledger_before = time.perf_counter(), execute.LEDGER_S[0]
        error = batch.record(self.root, self.assignment, student, notes, self.api)
        spent = time.perf_counter() - began
        in_execute = execute.LEDGER_S[0] - ledger_before
        summary.costs["gradebook"] = summary.costs.get("gradebook", 0.0) + spent - in_execute
        summary.costs["ledger"] = summary.costs.get("ledger", 0.0) + in_execute
        summary.recorded.append(student)
        if error:
            summary.errors[student] = error
        else:
            summary.graded.append(student)


def grade_class(
    root: Path, assignment: str, students: list[str] | None, settings: batch.Settings, options: Options
) -> Summary:
    """Grade every (or the named) submission on the cluster; resume unless settings.force."""
    root = Path(root).resolve()
    batch._quiet()
    if not (root / "gradebook.db").exists():
        raise FileNotFoundError(f"No gradebook in {root}: run `course-grade release {assignment}` first.")
    batch.expected_notebooks(root, assignment)  # fails early, with advice, when not released
    todo = students or batch.submitted_students(root, assignment)
    done = set() if settings.force else ledger.finished(root, assignment)
    summary = Summary(skipped=[s for s in todo if s in done])
    waiting = [s for s in todo if s not in done]
    with connect(options.address) as client:
        course = worker.fingerprint()  # the code on disk now: what workers started now load
        summary.workers = check_workers(client, options, course)
        for address, info in sorted(summary.workers.items()):
            print(f"worker {address} ({info['host']}): {info['isolation']}")
        coordinator = _Coordinator(client, root, assignment, settings, options, course)
        bar = tqdm(total=len(waiting), desc=f"grading {assignment}", unit="student")
        window = max(8, 4 * len(summary.workers))
        queue = iter(waiting)
        bar.set_postfix(workers=len(summary.workers))
        try:
            with recording.cheaper():
                _fill(coordinator, queue, window, summary, bar)
                for future in coordinator.flow:
                    student = coordinator.receive(future, summary)
                    if student is not None:
                        coordinator.record(student, summary)
                        bar.set_postfix(workers=len(client.nthreads()), refresh=False)
                        bar.update(1)
                    _fill(coordinator, queue, window, summary, bar)
        finally:
            bar.close()
            client.cancel([f for f, _, _ in coordinator.futures.values()])
    return summary


def _fill(coordinator: _Coordinator, queue: Iterator[str], window: int, summary: Summary, bar: Any) -> None:
    """Keep about ``window`` notebooks out on the cluster (memory stays bounded for any class size)."""
    while len(coordinator.futures) < window:
        student = next(queue, None)
        if student is None:
            return
        if not coordinator.send(student, summary):
            if student not in summary.errors:  # nothing to grade (every notebook missing): record it now
                coordinator.record(student, summary)
            bar.update(1)
