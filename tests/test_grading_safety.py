"""Adversarial submissions against the course's grader: each attack gains nothing.

A small class takes chapter 1: an honest student, a student with one wrong
answer, and one student per attack. Every attacking notebook carries the same
wrong answer (Affine's bias gradient) and tries to turn it into points, break
the run, or reach outside its sandbox; one starts from the blank release and
borrows every answer of the course. The attacks come in the classes that beat
a grader whose tests ran beside the student's code: the checking machinery
changed, profile and trace hooks, the course's answer passed off as one's
own, the process's memory, destructors, threads and processes, and (new with
the judge) the protocol itself: forged, flooded and oversized replies. For
every case: the honest parts are graded right, the wrong answer stays wrong,
nobody else's grade changes, the gradebook passes its integrity check, and
the batch completes.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import flow
from autograder.instructors import batch, collect, grade_cli, grading, ledger, report, sandbox
from autograder.settings import REPO

pytestmark = [
    pytest.mark.heavy,
    pytest.mark.skipif(
        sandbox.bwrap_path() is None,
        reason="needs bubblewrap that can make namespaces here (apt-get install bubblewrap)",
    ),
]

CHAPTER = "ch01"
SOURCE = sorted((REPO / "notebooks" / CHAPTER).glob("*.ipynb"))[0]
RIGHT, WRONG = "self.grads[1][...] = dout2.sum(axis=0)", "self.grads[1][...] = dout2[0]"
POINTS = {"sigmoid_tests": 5.0, "affine_tests": 10.0, "softmax_with_loss_tests": 10.0, "adam_tests": 10.0}
WALL_S = 25.0
SECRET = "grader-secret-4f1c"


def _wrong() -> nbformat.NotebookNode:
    text = SOURCE.read_text()
    assert json.dumps(RIGHT)[1:-1] in text, "the wrong-answer edit no longer applies to chapter 1"
    return nbformat.reads(text.replace(json.dumps(RIGHT)[1:-1], json.dumps(WRONG)[1:-1], 1), as_version=4)


def _index(nb: nbformat.NotebookNode, grade_id: str) -> int:
    return next(
        i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


def _after(grade_id: str, code: str):
    """An attack in a new cell of its own, after the cell with grade_id."""

    def make() -> nbformat.NotebookNode:
        nb = _wrong()
        nb.cells.insert(_index(nb, grade_id) + 1, nbformat.v4.new_code_cell(code))
        return nb

    return make


def _in_affine(code: str):
    """An attack inside the (wrong) Affine.forward: it runs while the tests run."""

    def make() -> nbformat.NotebookNode:
        nb = _wrong()
        cell = nb.cells[_index(nb, "affine")]
        lines = "".join(f"        {line}\n" for line in code.strip().splitlines())
        cell.source = cell.source.replace(
            "        W, b = self.params\n        self.x = x\n",
            lines + "        W, b = self.params\n        self.x = x\n",
            1,
        )
        assert code.strip().splitlines()[0] in cell.source
        return nb

    return make


def _edit_tests() -> nbformat.NotebookNode:
    nb = _wrong()
    nb.cells[_index(nb, "affine_tests")].source = "pass  # nothing to see"
    del nb.cells[_index(nb, "softmax_with_loss_tests")]
    return nb


def _extra_graded_cells() -> nbformat.NotebookNode:
    """Cell games: a copied test cell, an own cell marked graded, an answer marked graded, a re-tag."""
    nb = _wrong()
    copied = nbformat.from_dict(nb.cells[_index(nb, "sigmoid_tests")])
    copied.source = "pass  # a second copy of the sigmoid test, worth its points again"
    copied["id"] = "copied-sigmoid-test"
    nb.cells.insert(_index(nb, "adam_tests") + 1, copied)
    own = nbformat.v4.new_code_cell("print('mine')")
    own.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": "my_bonus",
        "points": 100,
        "locked": False,
        "solution": False,
        "schema_version": 3,
        "task": False,
    }
    nb.cells.append(own)
    nb.cells[_index(nb, "affine")].metadata["nbgrader"].update({"grade": True, "points": 50})
    nb.cells[_index(nb, "softmax_with_loss_tests")].metadata["nbgrader"]["grade_id"] = "sigmoid_tests"
    return nb


def _too_large() -> nbformat.NotebookNode:
    """A notebook far above the size limit (its outputs alone); refused before it is parsed."""
    nb = _wrong()
    nb.cells[_index(nb, "setup")].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="x" * 25_000_000)
    ]
    return nb


# 1. The machinery a check relies on, changed in the student's process.
PATCH_HARNESS = """
import contextlib, numpy, numpy.testing, autograder.students.checks, course.gradcheck
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.allclose = lambda *a, **k: True
contextlib.contextmanager = lambda f: f
course.gradcheck.rel_error = lambda *a, **k: 0.0
course.gradcheck.check_layer = lambda *a, **k: type("R", (), {"ok": True})()
try:
    import autograder.students.exercises.ch01 as ex
    ex.affine = lambda *a, **k: None
except ImportError as exc:
    print("no hidden tests here:", exc)
"""
PATCH_BUILTINS = """
import builtins
builtins.abs = lambda x: 0
builtins.float = lambda *a: 0.0
builtins.any = lambda *a: False
builtins.all = lambda *a: True
"""
PATCH_CLOSURES = """
import gc, types
for obj in gc.get_objects():
    if isinstance(obj, types.FunctionType) and obj.__closure__:
        for cell in obj.__closure__:
            try:
                name = getattr(cell.cell_contents, "__name__", "")
                if callable(cell.cell_contents) and name in ("_close", "rel_error"):
                    cell.cell_contents = lambda *a, **k: 0.0
            except ValueError:
                pass
"""
PATCH_DURING = """
import sys
for name, module in list(sys.modules.items()):
    if name.startswith(("autograder", "course.gradcheck", "numpy.testing")):
        for attr in ("rel_error", "_close", "assert_allclose", "assert_gradients_ok"):
            if hasattr(module, attr):
                setattr(module, attr, lambda *a, **k: 0.0)
"""
# 2. Profile and trace hooks; an array-like that looks around when it is converted.
PROFILE_HOOK = """
import sys
def rewrite(frame, event, arg):
    for key in ("err", "error", "errors", "passed", "ok"):
        if key in frame.f_locals:
            frame.f_locals[key] = 0.0 if key.startswith("err") else True
    return rewrite
sys.setprofile(rewrite)
sys.settrace(rewrite)
"""
ARRAY_LIKE = """
class Knowing:
    def __init__(self, shape):
        self.shape = shape
    def __array__(self, dtype=None, copy=None):
        import sys
        frame = sys._getframe()
        while frame is not None:
            for value in frame.f_locals.values():
                if getattr(value, "shape", None) == self.shape and type(value).__name__ == "ndarray":
                    return value
            frame = frame.f_back
        return np.zeros(self.shape)
return Knowing((x.shape[0], self.params[0].shape[1]))
"""
# 3. Passing the course's answer off as one's own.
REEXPORT = "from course.layers import Affine  # the course's own, imported"
DELEGATE_WHEN_GRADED = """
import os, sys
graded = "autograder.instructors.protocol" in sys.modules or os.environ.get("COURSE_FAST") or os.getuid() != 0
if graded:
    import course.layers.basic as basic
    Affine = basic.Affine
"""
COPY_CODE = """
import types, course.layers.basic as basic
for name in ("forward", "backward"):
    code = getattr(basic.Affine, name).__code__.replace(co_firstlineno=1, co_filename="<cell 4>")
    setattr(Affine, name, types.FunctionType(code, globals(), name))
"""
COMPILED_AS_GRADER = """
import inspect, course.layers.basic as basic
source = inspect.getsource(basic)
namespace = dict(vars(basic))
exec(compile(source, "/nonexistent/autograder/checks.py", "exec"), namespace)
Affine = namespace["Affine"]
"""
TWIN = """
from course.layers.time import TimeAffine
class Affine(TimeAffine):
    def forward(self, x):
        return super().forward(x[:, None, :])[:, 0, :]
    def backward(self, dout):
        return super().backward(dout[:, None, :])[:, 0, :]
"""
READ_REFERENCE = """
import os, sys
wanted = "dout2" + ".sum(axis=0)"
found = None
roots = [p for p in sys.path if os.path.isdir(p)] + ["/tmp", os.getcwd(), "/proc/1/cwd"]
seen = 0
for root in roots:
    for folder, dirs, files in os.walk(root):
        for name in files:
            seen += 1
            if seen > 40000 or not name.endswith((".py", ".ipynb", ".pyc")):
                continue
            try:
                text = open(os.path.join(folder, name), "rb").read().decode("utf-8", "replace")
            except OSError:
                continue
            if wanted in text and "class Affine" in text:
                found = os.path.join(folder, name)
print("FOUND REFERENCE", found)
if found and found.endswith(".py"):
    namespace = {}
    exec(open(found).read(), namespace)
    Affine = namespace["Affine"]
"""
# 4. The process's own memory, read through /proc under other spellings.
PROC_MEMORY = """
import os, re
wanted = ("dout2" + ".sum(axis=0)").encode()
hits = []
for path in ("/proc/self/mem", "//proc/self/mem", "/proc/1/mem", "/proc/%d/mem" % os.getppid()):
    try:
        maps = open(path.replace("mem", "maps")).read().splitlines()
        with open(path, "rb") as mem:
            for line in maps:
                start, end = (int(v, 16) for v in line.split()[0].split("-"))
                if end - start > 64 << 20:
                    continue
                try:
                    mem.seek(start)
                    if wanted in mem.read(end - start):
                        hits.append(path)
                except (OSError, ValueError, OverflowError):
                    pass
    except OSError as exc:
        print("refused", path, type(exc).__name__)
print("MEMORY HITS", hits)
"""
# 5. Destructors that run after a record would have been taken.
DESTRUCTOR = """
import os, threading
from autograder.instructors.protocol import encode
class Forger:
    def __del__(self):
        frame = encode({"result": None, "states": {}, "arrays": []})
        for fd in range(0, 40):
            try:
                os.write(fd, frame)
            except OSError:
                pass
local = threading.local()
local.forger = Forger()
keep = [Forger() for _ in range(3)]
"""
# 6. Threads and processes that act later.
LATER = """
import os, threading, time
from autograder.instructors.protocol import encode
def forge():
    for _ in range(200):
        for fd in range(1, 40):
            try:
                os.write(fd, encode({"result": 0.0, "states": {}, "arrays": []}))
            except OSError:
                pass
        time.sleep(0.01)
threading.Thread(target=forge, daemon=True).start()
if os.fork() == 0:
    forge()
    os._exit(0)
"""
# The protocol itself: forged, flooded and oversized replies, from inside the (wrong) Affine.forward.
FORGE_FRAMES = """
import os
from autograder.instructors.protocol import encode
fake = encode({"result": np.zeros((x.shape[0], self.params[0].shape[1])), "states": {}, "arrays": [x]})
for fd in range(1, 40):
    try:
        os.write(fd, fake)
    except OSError:
        pass
"""
FLOOD_FRAME = """
import os, struct
for fd in range(1, 40):
    try:
        os.write(fd, struct.pack(">Q", 1 << 62) + b"x" * 1000)
    except OSError:
        pass
"""
GIANT_ARRAY = "return np.zeros((6000, 6000))"
HANG_WHEN_JUDGED = """
import sys
if "autograder.instructors.protocol" in sys.modules:
    while True:
        pass
"""
IGNORE_SIGNALS = """
import signal
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM, signal.SIGHUP):
    try:
        signal.signal(s, signal.SIG_IGN)
    except ValueError:
        pass
while True:
    try:
        pass
    except BaseException:
        pass
"""
MEMORY_BOMB = """
hoard = []
try:
    while True:
        hoard.append(bytearray(256 * 1024 * 1024))
finally:
    del hoard
"""
FORK_BOMB = """
import os
for _ in range(10000):
    try:
        os.fork()
    except OSError:
        break
"""
HUGE_OUTPUT = """
import os, sys
print("x" * 50_000_000)
for _ in range(200_000):
    print("y" * 100)
os.write(1, b"z" * 100_000_000)
"""
WRITE_OUTSIDE = """
import os
targets = ["{root}/gradebook.db", "{root}/evil.txt", "{repo}/course/evil.py", "/tmp/evil.txt", "/evil.txt"]
for target in targets:
    try:
        with open(target, "w") as f:
            f.write("pwned")
        print("wrote", target)
    except OSError as exc:
        print("refused", target, type(exc).__name__)
try:
    os.remove("{root}/gradebook.db")
except OSError as exc:
    print("refused remove", type(exc).__name__)
"""
READ_SECRETS = """
import os
print("ENV", dict(os.environ))
for path in ["{source}", "{root}/gradebook.db", "/proc/1/environ", "/proc/self/environ"]:
    try:
        print("READ", path, open(path, "rb").read()[:2000])
    except Exception as exc:
        print("refused", path, type(exc).__name__)
"""
NETWORK = """
import socket, urllib.request
for attempt in (lambda: socket.create_connection(("1.1.1.1", 80), timeout=2),
                lambda: urllib.request.urlopen("http://pypi.org", timeout=2)):
    try:
        attempt()
        print("CONNECTED")
    except Exception as exc:
        print("refused", type(exc).__name__)
"""
GRADEBOOK = """
import sqlite3
try:
    con = sqlite3.connect("{root}/gradebook.db")
    con.execute("UPDATE grade SET auto_score = 1000")
    con.commit()
    print("TAMPERED")
except Exception as exc:
    print("refused", type(exc).__name__)
"""
# A right answer that makes NumPy warn (and writes to stderr) keeps its points.
WARNS = """
import sys, warnings
_sigmoid_forward = Sigmoid.forward
def noisy_forward(self, x):
    np.exp(np.array([1000.0]))  # RuntimeWarning: overflow
    warnings.warn("a warning from the student's code", RuntimeWarning)
    print("a note on stderr", file=sys.stderr)
    return _sigmoid_forward(self, x)
Sigmoid.forward = noisy_forward
"""
# A blank (released) notebook that borrows the course's answers, every way at once.
BORROW_ALL = """
import course.layers.basic as basic, course.layers.time as time_layers, course.optim as optim
Sigmoid, Affine, SoftmaxWithLoss = basic.Sigmoid, basic.Affine, basic.SoftmaxWithLoss
Adam = optim.LazyAdam
class SoftmaxWithLoss(time_layers.TimeSoftmaxWithLoss):
    def forward(self, x, t):
        return super().forward(x[:, None, :], t[:, None] if t.ndim == 1 else t[:, None, :])
    def backward(self, dout=1):
        return super().backward(dout)[:, 0, :]
"""


def _blank(code: str):
    """The released notebook (every exercise a stub) with code that borrows answers."""

    def make() -> nbformat.NotebookNode:
        nb = nbformat.read(RELEASE_OF[0], as_version=4)
        nb.cells.insert(_index(nb, "setup") + 1, nbformat.v4.new_code_cell(code))
        return nb

    return make


RELEASE_OF: list[Path] = []  # the release's notebook, once the class fixture has released it


def _attacks(root: Path) -> dict[str, tuple]:
    """student -> (notebook maker, expected status, expected scores)."""
    fmt = {"root": str(root), "repo": str(REPO), "source": str(SOURCE)}
    zero = dict.fromkeys(POINTS, 0.0)
    return {
        "patch-harness": (_after("setup", PATCH_HARNESS), "graded", WRONG_SCORES),
        "patch-builtins": (_after("affine", PATCH_BUILTINS), "graded", WRONG_SCORES),
        "patch-closures": (_after("setup", PATCH_CLOSURES), "graded", WRONG_SCORES),
        "patch-during-test": (_in_affine(PATCH_DURING), "graded", WRONG_SCORES),
        "profile-hook": (_after("setup", PROFILE_HOOK), "graded", WRONG_SCORES),
        "array-like": (_in_affine(ARRAY_LIKE), "graded", WRONG_SCORES),
        "reexport": (_after("affine", REEXPORT), "graded", WRONG_SCORES),
        "delegate-when-graded": (_after("affine", DELEGATE_WHEN_GRADED), "graded", WRONG_SCORES),
        "copy-code": (_after("affine", COPY_CODE), "graded", WRONG_SCORES),
        "compiled-as-grader": (_after("affine", COMPILED_AS_GRADER), "graded", WRONG_SCORES),
        "twin": (_after("affine", TWIN), "graded", WRONG_SCORES),
        "read-reference": (_after("affine", READ_REFERENCE), "graded", WRONG_SCORES),
        "proc-memory": (_after("setup", PROC_MEMORY), "graded", WRONG_SCORES),
        "destructor": (_after("affine", DESTRUCTOR), "graded", WRONG_SCORES),
        # Its writes may land on the feedback kernel's own sockets and end it: either way it gains nothing.
        "threads-and-processes": (_after("affine", LATER), ("graded", "crashed", "timeout"), WRONG_SCORES),
        "forge-frames": (_in_affine(FORGE_FRAMES), "graded", WRONG_SCORES),
        "flood-frame": (_in_affine(FLOOD_FRAME), "graded", WRONG_SCORES),
        "giant-array": (_in_affine(GIANT_ARRAY), "graded", WRONG_SCORES),
        "hang-when-judged": (_in_affine(HANG_WHEN_JUDGED), "graded", WRONG_SCORES),
        "ignore-signals": (_after("sigmoid_tests", IGNORE_SIGNALS), "timeout", WRONG_SCORES),
        "exit-kernel": (_after("sigmoid_tests", "import os\nos._exit(0)"), "crashed", WRONG_SCORES),
        "kill-kernel": (
            _after("sigmoid_tests", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
            "crashed",
            WRONG_SCORES,
        ),
        "memory-bomb": (_after("setup", MEMORY_BOMB), "graded", WRONG_SCORES),
        "fork-bomb": (_after("setup", FORK_BOMB), ("graded", "timeout"), WRONG_SCORES),
        "huge-output": (_after("setup", HUGE_OUTPUT), "graded", WRONG_SCORES),
        "write-outside": (_after("setup", WRITE_OUTSIDE.format(**fmt)), "graded", WRONG_SCORES),
        "read-secrets": (_after("setup", READ_SECRETS.format(**fmt)), "graded", WRONG_SCORES),
        "network": (_after("setup", NETWORK), "graded", WRONG_SCORES),
        "gradebook": (_after("setup", GRADEBOOK.format(**fmt)), "graded", WRONG_SCORES),
        "edit-tests": (_edit_tests, "graded", WRONG_SCORES),
        "cell-games": (_extra_graded_cells, "graded", WRONG_SCORES),
        "too-large": (_too_large, "too-large", zero),
        "warns": (_after("sigmoid", WARNS), "graded", WRONG_SCORES),
        "blank-borrows-all": (_blank(BORROW_ALL), "graded", zero),
    }


WRONG_SCORES = {**POINTS, "affine_tests": 0.0}


def _scores(root: Path, student: str) -> dict[str, float]:
    return {gid: score for gid, (score, _) in flow.grades(root, CHAPTER, student).items()}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    flow.release(CHAPTER, root)
    name = SOURCE.name
    RELEASE_OF[:] = [root / "release" / CHAPTER / name]
    honest = nbformat.read(SOURCE, as_version=4)
    for student, nb in [("honest", honest), ("wrong", _wrong())]:
        folder = root / "submitted" / student / CHAPTER
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / name)
    settings = batch.Settings(workers=2, wall_s=WALL_S)
    first = batch.grade_class(root, CHAPTER, None, settings)
    before = {s: _scores(root, s) for s in ("honest", "wrong")}

    attacks = _attacks(root)
    for student, (make, _, _) in attacks.items():
        folder = root / "submitted" / student / CHAPTER
        folder.mkdir(parents=True)
        nbformat.write(make(), folder / name)
    odd = root / "submitted"
    (odd / "invalid-json" / CHAPTER).mkdir(parents=True)
    (odd / "invalid-json" / CHAPTER / name).write_text('{"cells": [ this is not json')
    (odd / "renamed" / CHAPTER).mkdir(parents=True)
    nbformat.write(honest, odd / "renamed" / CHAPTER / "my copy of chapter 1.ipynb")

    os.environ["COURSE_GRADER_SECRET"] = SECRET
    try:
        second = batch.grade_class(root, CHAPTER, None, settings)
    finally:
        del os.environ["COURSE_GRADER_SECRET"]
    return root, first, second, before, attacks


def _row(root: Path, student: str) -> dict:
    return next(r for r in ledger.rows(root, CHAPTER, student) if r["notebook"] != "*")


def test_the_honest_and_the_wrong_student_are_graded_right(graded_class):
    _, first, _, before, _ = graded_class
    assert not first.errors
    assert before["honest"] == POINTS
    assert before["wrong"] == WRONG_SCORES


@pytest.mark.parametrize("student", list(_attacks(Path("/x"))))
def test_each_attack_gains_nothing(graded_class, student):
    root, _, _, _, attacks = graded_class
    _, expected_status, expected_scores = attacks[student]
    scores, row = _scores(root, student), _row(root, student)
    assert row["status"] in (expected_status if isinstance(expected_status, tuple) else (expected_status,)), (
        row
    )
    assert all(scores[g] <= expected_scores[g] for g in POINTS), (row, scores)
    if student not in BREAKS_ITSELF:  # the attack touches the wrong answer alone: the rest keeps its points
        assert scores == expected_scores, (row, scores)
    assert row["finished"], row


# Attacks that break the student's own process for every exercise (builtins, tracing, memory):
# they may cost the attacker more than the wrong answer does, never less.
BREAKS_ITSELF = {
    "patch-builtins",
    "patch-closures",
    "patch-harness",
    "profile-hook",
    "memory-bomb",
    "fork-bomb",
    "threads-and-processes",
}


def test_attacks_that_can_be_seen_are_flagged_with_a_reason(graded_class):
    root = graded_class[0]
    flagged = {r["student"]: report.needs_review(r) for r in ledger.rows(root, CHAPTER)}
    assert "not data" in flagged["flood-frame"] or "ended" in flagged["flood-frame"]
    assert "affine_tests" in flagged["giant-array"]
    assert "in time" in flagged["hang-when-judged"] and "affine_tests" in flagged["hang-when-judged"]
    assert "limit" in flagged["ignore-signals"] and "left that cell out" in flagged["ignore-signals"]
    assert "exit code 0" in flagged["exit-kernel"] and "signal 9" in flagged["kill-kernel"]
    assert "memory" in flagged["memory-bomb"]
    assert "edited" in flagged["edit-tests"] and "deleted" in flagged["edit-tests"]
    assert flagged["cell-games"] and "MB" in flagged["too-large"]
    assert not flagged["honest"] and not flagged["wrong"]


def test_no_other_grade_changes_and_the_gradebook_is_consistent(graded_class):
    root, _, second, before, _ = graded_class
    assert not second.errors, second.errors
    assert set(second.skipped) == {"honest", "wrong"}
    assert {s: _scores(root, s) for s in before} == before
    assert batch.check(root, CHAPTER) == []
    with sqlite3.connect(root / "gradebook.db") as con:
        assert con.execute("SELECT max(auto_score) FROM grade").fetchone()[0] <= 10


def test_nothing_was_written_outside_the_sandbox(graded_class):
    root = graded_class[0]
    assert not (root / "evil.txt").exists()
    assert not (REPO / "course" / "evil.py").exists()
    assert (root / "gradebook.db").exists()


def test_secrets_and_sources_stay_out_of_reach(graded_class):
    root = graded_class[0]
    text = _printed(root, "read-secrets")
    assert SECRET not in text and "grader-secret" not in text
    for path in [SOURCE, root / "gradebook.db", "/proc/1/environ"]:
        assert f"refused {path}" in text
    net = _printed(root, "network")
    assert "CONNECTED" not in net and net.count("refused") == 2


def _printed(root: Path, student: str) -> str:
    """Everything the graded notebook printed (outputs only, not its code)."""
    nb = nbformat.read(root / "autograded" / student / CHAPTER / SOURCE.name, as_version=4)
    return "\n".join(
        o.get("text", "") + o.get("evalue", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )


def test_huge_output_is_capped(graded_class):
    root = graded_class[0]
    path = root / "autograded" / "huge-output" / CHAPTER / SOURCE.name
    assert path.stat().st_size < 2_000_000
    assert "not kept" in path.read_text()


def test_invalid_and_renamed_notebooks_get_clear_outcomes(graded_class):
    root = graded_class[0]
    invalid = _row(root, "invalid-json")
    assert invalid["status"] == "invalid" and "not a valid notebook" in invalid["reason"]
    assert _scores(root, "invalid-json") == dict.fromkeys(POINTS, 0.0)
    assert (root / "submitted" / "invalid-json" / CHAPTER / (SOURCE.name + ".invalid")).exists()
    renamed = _row(root, "renamed")
    assert renamed["status"] == "graded" and "my copy of chapter 1.ipynb" in " ".join(renamed["review"])
    assert _scores(root, "renamed") == POINTS


def test_grading_again_keeps_what_collecting_changed(graded_class):
    root = graded_class[0]
    again = batch.grade_class(
        root, CHAPTER, ["renamed", "invalid-json"], batch.Settings(workers=1, force=True)
    )
    assert sorted(again.graded) == ["invalid-json", "renamed"]
    assert _row(root, "invalid-json")["status"] == "invalid"
    assert "my copy of chapter 1.ipynb" in " ".join(_row(root, "renamed")["review"])


def test_grading_resumes_without_regrading(graded_class):
    root = graded_class[0]
    again = batch.grade_class(root, CHAPTER, None, batch.Settings(workers=1, wall_s=WALL_S))
    assert (
        not again.graded
        and not again.errors
        and len(again.skipped) == len(batch.submitted_students(root, CHAPTER))
    )


def test_each_grading_gets_the_limits_it_asks_for(tmp_path):
    """One process grading one course twice with other limits must not reuse the first limits."""
    root = tmp_path / "course"
    first = batch._api(root, batch.Settings(workers=1, wall_s=11, memory_mb=1111))
    second = batch._api(root, batch.Settings(workers=1, wall_s=22, memory_mb=2222))
    assert (first.config.SandboxedExecute.wall_s, first.config.SandboxedExecute.memory_mb) == (11, 1111)
    assert (second.config.SandboxedExecute.wall_s, second.config.SandboxedExecute.memory_mb) == (22, 2222)


def test_report_and_cli(graded_class, tmp_path, capsys):
    root = graded_class[0]
    assert grade_cli.main(["--root", str(root), "report", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text()
    assert "affine_tests" in page and "ignore-signals" in page and "Needs a human look" in page
    lines = (tmp_path / "report.csv").read_text().splitlines()
    assert lines[0].startswith("assignment,student,notebook,status")
    assert grade_cli.main(["--root", str(root), "check", CHAPTER]) == 0
    assert grade_cli.main(["--root", str(root), "export", "--to", str(tmp_path / "grades.csv")]) == 0
    assert "honest" in (tmp_path / "grades.csv").read_text()


def test_collect_from_an_lms_zip(tmp_path):
    root = tmp_path / "course"
    flow.release(CHAPTER, root)
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"Jane Doe_1234_assignsubmission_file_/{SOURCE.name}", SOURCE.read_text())
        zf.writestr(f"smithj_55_66_{SOURCE.name}", SOURCE.read_text())
        zf.writestr("../../escape.ipynb", "{}")
        zf.writestr("readme.txt", "not a notebook")
    placed, refused, _ = collect.from_zip(root, CHAPTER, archive)
    assert placed == {"jane-doe-1234": [SOURCE.name], "smithj-55": [SOURCE.name]}
    assert any("escape.ipynb" in r for r in refused) and any("readme.txt" in r for r in refused), refused
    assert (root / "submitted" / "jane-doe-1234" / CHAPTER / SOURCE.name).exists()
    assert not (tmp_path / "escape.ipynb").exists()


@pytest.mark.parametrize("twin_name", ["Jane Doe", "Jane Doé"])
def test_an_upload_never_replaces_another_students_notebook(tmp_path, twin_name):
    """A folder named like another student's, nested in an upload; a namesake with another LMS id."""
    root = tmp_path / "course"
    flow.release(CHAPTER, root)
    blank = (root / "release" / CHAPTER / SOURCE.name).read_text()
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"Jane Doe_1234_assignsubmission_file_/{SOURCE.name}", SOURCE.read_text())
        zf.writestr(
            f"Mallory Evil_666_assignsubmission_file_/Jane Doe_1234_assignsubmission_file_/{SOURCE.name}",
            blank,
        )
        zf.writestr(f"{twin_name}_999_assignsubmission_file_/{SOURCE.name}", blank)
    placed, refused, flagged = collect.from_zip(root, CHAPTER, archive)
    assert (root / "submitted" / "jane-doe-1234" / CHAPTER / SOURCE.name).read_text() == SOURCE.read_text()
    assert set(placed) == {"jane-doe-1234", "jane-doe-999"}, placed  # Mallory handed in no notebook of hers
    assert any("Mallory" in line for line in refused + flagged), (refused, flagged)
    summary = batch.grade_class(root, CHAPTER, ["jane-doe-1234"], batch.Settings(workers=1, wall_s=WALL_S))
    assert not summary.errors
    assert _scores(root, "jane-doe-1234") == POINTS


def test_release_submit_and_collect_through_the_exchange(tmp_path):
    root, exchange = tmp_path / "course", tmp_path / "exchange"
    assert grade_cli.main(["--root", str(root), "release", CHAPTER, "--exchange", str(exchange)]) == 0
    home = tmp_path / "alice"
    (home / CHAPTER).mkdir(parents=True)
    nbformat.write(nbformat.read(SOURCE, as_version=4), home / CHAPTER / SOURCE.name)
    env = {**os.environ, "HOME": str(home)}
    nbgrader = [sys.executable, "-m", "nbgrader"]
    course = ["--Exchange.root=" + str(exchange), "--CourseDirectory.course_id=nlp-from-scratch"]
    done = subprocess.run(
        [*nbgrader, "submit", CHAPTER, *course], cwd=home, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert grade_cli.main(["--root", str(root), "collect", CHAPTER, "--exchange", str(exchange)]) == 0
    student = pwd.getpwuid(os.getuid()).pw_name  # nbgrader submits under the login name
    assert (root / "submitted" / student / CHAPTER / SOURCE.name).exists()


def _honest_class(tmp_path: Path, prefix: str, size: int) -> tuple[Path, list[str]]:
    """A released course root with `size` students who all hand in the reference."""
    root = tmp_path / "course"
    flow.release(CHAPTER, root)
    students = [f"{prefix}{i:02d}" for i in range(size)]
    for student in students:
        flow.submit(root, student, CHAPTER, [SOURCE])
    return root, students


def test_an_interrupted_batch_resumes_and_grades_each_student_once(tmp_path):
    root, students = _honest_class(tmp_path, "s", 4)
    grade = [
        "-m",
        "autograder.instructors.grade_cli",
        "--root",
        str(root),
        "grade",
        CHAPTER,
        "--workers",
        "1",
    ]
    command = [sys.executable, *grade]
    proc = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not ledger.finished(root, CHAPTER) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the grader's machine goes down mid-batch
    proc.wait()
    interrupted = ledger.finished(root, CHAPTER)
    assert 1 <= len(interrupted) < len(students)

    resumed = batch.grade_class(root, CHAPTER, None, batch.Settings(workers=2, wall_s=WALL_S))
    assert set(resumed.skipped) == interrupted and not resumed.errors
    assert set(resumed.graded) == set(students) - interrupted
    assert batch.check(root, CHAPTER) == []
    with sqlite3.connect(root / "gradebook.db") as con:
        rows = con.execute("SELECT count(*) FROM submitted_assignment").fetchone()[0]
    assert rows == len(students)
    assert all(_scores(root, s) == POINTS for s in students)


def test_many_workers_share_the_gradebook(tmp_path):
    root, students = _honest_class(tmp_path, "p", 10)
    summary = batch.grade_class(root, CHAPTER, None, batch.Settings(workers=10, wall_s=120))
    assert not summary.errors and sorted(summary.graded) == students
    assert batch.check(root, CHAPTER) == []
    assert all(_scores(root, s) == POINTS for s in students)


def test_a_grader_that_cannot_start_is_an_error_not_a_zero(monkeypatch):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    outcome, _ = grading.grade(nb, nb, sandbox.Limits(wall_s=30))
    assert outcome.status == "error" and "could not start" in outcome.reason, outcome
