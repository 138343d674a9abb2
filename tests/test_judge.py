"""The judge's boundary: the wire format, the stubbed course trees, a subject that answers with data only."""

from __future__ import annotations

import io
import json
import struct

import nbformat
import numpy as np
import pytest

from autograder.instructors import grading, judge, protocol, remote, sandbox, stubs
from autograder.settings import REPO
from course.gradcheck import check_layer

SOURCE = REPO / "notebooks" / "ch01" / "01_review.ipynb"


# -- the wire format -------------------------------------------------------------------------------


def _body(message) -> bytes:
    frame = protocol.encode(message)
    assert protocol.frame_length(frame[:8]) == len(frame) - 8
    return frame[8:]


def test_data_round_trips():
    message = {
        "a": np.arange(6.0).reshape(2, 3),
        "t": (1, 2.5, "x", None, True),
        "h": protocol.Handle(7),
        "n": [np.int64(3), np.float32(0.5)],
        "b": np.array([True, False]),
        "id_to_word": {0: "you", 1: "say"},
    }
    back = protocol.decode(_body(message))
    assert np.array_equal(back["a"], message["a"]) and back["a"].flags.writeable
    assert back["t"] == (1, 2.5, "x", None, True)
    assert back["h"] == protocol.Handle(7)
    assert back["n"] == [3, 0.5] and back["b"].dtype == bool
    assert back["id_to_word"] == {0: "you", 1: "say"}


def _with_array(raw: bytes) -> bytes:
    header = json.dumps({"$array": 0}).encode()
    return struct.pack(">I", len(header)) + header + struct.pack(">Q", len(raw)) + raw


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (_with_array(_npy(np.array([object()], dtype=object))), "dtype"),
        (_with_array(_npy(np.array(["text"]))), "dtype"),
        (_with_array(_npy(np.zeros(3, dtype=[("a", "f8")]))), "dtype"),
        (_with_array(_npy(np.zeros(4))[:-8]), "bytes of data"),
        (_with_array(b"\x93NUMPY garbage"), "not .npy"),
        (struct.pack(">I", 4) + b"[[[[", "not JSON"),
        (struct.pack(">I", 999) + b"{}", "larger than"),
        (b"\x00", "too short"),
        (_body({"$dict": [[[1, 2], "unhashable key"]]}), "dict key"),
    ],
)
def test_anything_but_plain_data_is_refused(body, why):
    with pytest.raises(protocol.ProtocolError, match=why):
        protocol.decode(body)


def test_deep_nesting_huge_frames_and_huge_arrays_are_refused():
    deep = ("[" * 40 + "0" + "]" * 40).encode()
    with pytest.raises(protocol.ProtocolError, match="nested"):
        protocol.decode(struct.pack(">I", len(deep)) + deep)
    with pytest.raises(protocol.ProtocolError, match="limit"):
        protocol.frame_length(struct.pack(">Q", 1 << 40))
    shape_only = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    shape_only["shape"] = (1 << 20, 1 << 20)
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, shape_only)
    with pytest.raises(protocol.ProtocolError, match="too large"):
        protocol.decode(_with_array(buffer.getvalue()))


# -- the course tree a subject sees ----------------------------------------------------------------


def test_a_stub_keeps_signature_and_docstring_and_drops_the_body():
    text = (
        'import x\n\n\nclass A(B):\n    """Doc."""\n\n    k = 1\n\n    def f(self):\n        return 2\n\n\n'
        'def g(a, b=1):\n    """G."""\n    return a + b\n\n\ndef h():\n    return 3\n'
    )
    out = stubs.stub_source(text, ["A", "g"])
    namespace = {"B": object}
    exec(out.replace("import x\n", ""), namespace)
    assert namespace["A"].__doc__ == "Doc." and not hasattr(namespace["A"], "f")
    with pytest.raises(NotImplementedError, match="being graded"):
        namespace["A"]()
    with pytest.raises(NotImplementedError, match="being graded"):
        namespace["g"](1)
    assert namespace["g"].__doc__ == "G." and namespace["h"]() == 3
    with pytest.raises(ValueError, match="no top-level definition"):
        stubs.stub_source(text, ["missing"])


def test_a_tree_stubs_the_answer_and_its_twins_and_nothing_else():
    tree = stubs.tree(("course.optim:Adam",))
    optim = (tree / "optim.py").read_text()
    assert "class Adam:" in optim and "class LazyAdam(Adam):" in optim
    assert optim.count("is the exercise being graded") == 2
    assert "self.m" not in optim.split("class Adam:")[1].split("\nclass ")[0]
    untouched = (stubs.COURSE_DIR / "layers" / "basic.py").read_text()
    assert (tree / "layers" / "basic.py").read_text() == untouched
    compiled = {p.name.split(".")[0] for p in (tree / "__pycache__").glob("*.pyc")}
    assert "optim" in compiled  # compiled from the stubbed source, so subjects import fast


# -- a subject ---------------------------------------------------------------------------------------

needs_sandbox = pytest.mark.skipif(
    sandbox.bwrap_path() is None, reason="needs bubblewrap that can make namespaces here"
)


def _setup_and(*sources: str) -> list[dict]:
    nb = nbformat.read(SOURCE, as_version=4)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    rest = [{"index": i + 1, "source": s} for i, s in enumerate(sources)]
    return [{"index": 0, "source": setup.source}, *rest]


SEARCH = """
import inspect, os, sys
import course
import course.layers.basic as basic

def reference_text():
    return inspect.getsource(basic)

def files_with(needle):
    hits = []
    roots = [os.path.dirname(os.path.dirname(course.__file__)), "/tmp", os.getcwd()]
    roots += [p for p in sys.path if os.path.isdir(os.path.join(p, "course"))]
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                if not name.endswith((".py", ".pyc", ".ipynb", ".txt", ".json")):
                    continue
                try:
                    if needle.encode() in open(os.path.join(folder, name), "rb").read():
                        hits.append(os.path.join(folder, name))
                except OSError:
                    pass
    return hits
"""


@pytest.mark.heavy
@needs_sandbox
def test_the_answer_under_judgement_exists_nowhere_in_its_subject():
    needle = "self.grads[1][...] = dout2" + ".sum(axis=0)"  # a line of the course's Affine.backward
    assert needle in (stubs.COURSE_DIR / "layers" / "basic.py").read_text()
    limits = sandbox.Limits(wall_s=300)
    with remote.Subject(_setup_and(SEARCH), ("course.layers.basic:Affine",), limits, call_timeout=240) as s:
        text = s.lookup("reference_text")()
        assert "class Affine" in text and needle not in text and "being graded" in text
        assert s.lookup("files_with")(needle) == []
        with pytest.raises(NotImplementedError, match="Affine is the exercise being graded"):
            s.course("course.layers.basic:Affine")(np.ones((2, 2)), np.ones(2))


@pytest.mark.heavy
@needs_sandbox
def test_proxies_follow_the_layer_contract_and_the_gradient_checker_works_through_them():
    nb = nbformat.read(SOURCE, as_version=4)
    affine = next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "affine")
    code = _setup_and(
        affine, "def boom():\n    raise ValueError('no good: shapes')\n", "class Broken(:\n    pass\n"
    )
    with remote.Subject(code, ("course.layers.basic:Affine",), sandbox.Limits(wall_s=120)) as s:
        Affine = s.lookup("Affine")
        rng = np.random.default_rng(0)
        layer = Affine(rng.standard_normal((3, 4)), rng.standard_normal(4))
        assert type(layer).__name__ == "Affine" and [p.shape for p in layer.params] == [(3, 4), (4,)]
        assert check_layer(layer, rng.standard_normal((2, 3))).ok
        held = list(layer.grads)
        layer.forward(np.ones((2, 3)))
        layer.backward(np.ones((2, 4)))
        assert held[1] is layer.grads[1] and np.allclose(held[1], 2.0)
        layer.params[1][...] = 100.0  # a change here reaches the subject before its next call
        assert np.allclose(layer.forward(np.zeros((1, 3))), 100.0)
        with pytest.raises(ValueError, match="no good: shapes"):
            s.lookup("boom")()
        with pytest.raises(AssertionError, match="code cell 4 failed with SyntaxError"):
            s.lookup("Broken")  # the cell's own error, not a NameError in the tests


@pytest.mark.heavy
@needs_sandbox
def test_a_subject_that_lies_hangs_or_dies_fails_only_the_question_it_was_asked():
    liar = (
        "import os\n"
        "def liar():\n    for fd in range(3, 12):\n        try:\n"
        "            os.write(fd, b'\\x00' * 8 + b'junk')\n        except OSError:\n            pass\n"
        "    return 1\n"
        "def sleeper():\n    while True:\n        pass\n"
        "def quitter():\n    os._exit(3)\n"
    )
    limits = sandbox.Limits(wall_s=60)
    for name, why in [("quitter", "exit code 3"), ("sleeper", "in time"), ("liar", "")]:
        with remote.Subject(_setup_and(liar), (), limits, call_timeout=3) as s:
            with pytest.raises((remote.SubjectError, AssertionError)) as caught:
                result = s.lookup(name)()
                assert result != 1 or name != "liar", "a forged frame passed as the reply"
                raise AssertionError("the reply was read in order")
            assert why in str(caught.value)


def test_the_judge_reads_each_test_cells_check_and_the_answers_to_stub():
    nb = nbformat.read(SOURCE, as_version=4)
    found = {e.grade_id: (e.check.__name__, e.names, e.stub) for e in judge.exercises(nb)}
    assert found["affine_tests"] == ("affine", ("Affine",), ("course.layers.basic:Affine",))
    assert found["adam_tests"] == ("adam", ("Adam",), ("course.optim:Adam",))
    assert judge.hidden_call("x = 1\n### BEGIN HIDDEN TESTS\nch02.preprocess(preprocess, build_vocab)\n") == (
        "ch02",
        "preprocess",
        ("preprocess", "build_vocab"),
    )


def test_subjects_run_the_setup_the_answers_and_the_students_own_cells_only():
    source = nbformat.read(SOURCE, as_version=4)
    nb = nbformat.read(SOURCE, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("mine = 1"))
    code = judge.subject_cells(nb, source)
    texts = [c["source"] for c in code]
    assert texts[-1] == "mine = 1" and any("import course" in t for t in texts)
    demo = next(c for c in source.cells if c.cell_type == "code" and not c.metadata.get("nbgrader"))
    assert demo.source not in texts
    assert not any("BEGIN HIDDEN TESTS" in t for t in texts)


@pytest.mark.heavy
def test_every_exercises_course_tree_imports_whole():
    """A stub must not break the modules around it: every module of every exercise's tree imports.

    One interpreter imports the trees one after another, forgetting the previous tree's ``course``
    modules before each (NumPy, SciPy and matplotlib are imported once, which keeps this quick).
    """
    import json
    import subprocess
    import sys

    modules = sorted(
        ".".join(p.relative_to(stubs.COURSE_DIR.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in stubs.COURSE_DIR.rglob("*.py")
    )
    trees = []
    for path in sorted((REPO / "notebooks").glob("ch*/*.ipynb")):
        for exercise in judge.exercises(nbformat.read(path, as_version=4)):
            trees.append((exercise.grade_id, str(stubs.tree(exercise.stub).parent)))
    script = """
import importlib, json, sys
modules, trees = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for grade_id, root in trees:
    for name in [m for m in sys.modules if m == "course" or m.startswith("course.")]:
        del sys.modules[name]
    sys.path[0] = root
    importlib.invalidate_caches()
    for m in modules:
        importlib.import_module(m)
    import course
    print(grade_id, course.__file__, flush=True)
"""
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(modules), json.dumps(trees)],
        env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr[-800:]
    printed = [line.split(" ", 1) for line in done.stdout.splitlines()]
    assert len(printed) == len(trees) > 0
    for (grade_id, root), (printed_id, file) in zip(trees, printed, strict=True):
        assert printed_id == grade_id and file.startswith(root), (grade_id, file)


def test_a_test_cell_without_a_verdict_fails_it_never_passes_by_default():
    nb = nbformat.read(SOURCE, as_version=4)
    outcome = grading.Outcome(status="error", reason="the grader could not start the notebook")
    grading.apply_results(nb, outcome, {})
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    tests = [c for c in tests if not c.metadata["nbgrader"].get("solution")]
    assert tests and all(any(o.output_type == "error" for o in c.outputs) for c in tests)
