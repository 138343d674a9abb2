"""Building blocks of the graded tests that run inside a student's notebook.

* :func:`graded` keeps a test cell's stderr clean (nbgrader gives 0 points to
  a test cell that writes to stderr, even for a harmless NumPy warning) and
  reports warnings on stdout instead;
* :func:`assert_own_code` and :func:`forbid_reference` make sure an answer is
  the student's own code, not the course's reference re-exported;
* :func:`assert_gradients_ok` and :func:`assert_same_as_reference` compare a
  student's layer with numerical gradients and with the reference.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import math
import os
import sys
import sysconfig
import warnings
from collections.abc import Callable, Iterator
from types import CodeType, FunctionType
from typing import Any

import course
from course import backend
from course.gradcheck import check_layer, rel_error

_COURSE_DIR = os.path.dirname(os.path.abspath(course.__file__))


@contextlib.contextmanager
def graded() -> Iterator[None]:
    """Run a test cell's checks with warnings and stderr sent to stdout.

    A correct answer that makes NumPy warn (an overflow in exp, say) keeps its
    points; the warning is still shown, as a note.
    """
    captured = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(captured):
        warnings.simplefilter("always")
        try:
            yield
        finally:
            seen = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
            for text in seen:
                print(f"note (not penalised): your code raised {text}")
            if captured.getvalue().strip():
                print(captured.getvalue().rstrip())


def _code_objects(reference: Any) -> set[CodeType]:
    """Code objects of a reference function or of every method of a reference class."""
    if isinstance(reference, FunctionType):
        return {reference.__code__}
    codes = set()
    for klass in inspect.getmro(reference) if inspect.isclass(reference) else ():
        if klass is object:
            continue
        for value in vars(klass).values():
            func = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
            if isinstance(func, FunctionType):
                codes.add(func.__code__)
    return codes


def _is_course_code(code: CodeType) -> bool:
    return os.path.abspath(code.co_filename).startswith(_COURSE_DIR + os.sep)


def assert_own_code(answer: Any, reference: Any, methods: tuple[str, ...] = ()) -> None:
    """Fail when ``answer`` is, subclasses or borrows code from ``reference``.

    ``methods`` names the methods the exercise asks for (for a class answer).
    """
    name = getattr(reference, "__name__", str(reference))
    if answer is reference:
        raise AssertionError(f"{name} is the course's reference imported, not your own code: write it here.")
    if inspect.isclass(answer) and inspect.isclass(reference) and issubclass(answer, reference):
        raise AssertionError(f"{name} subclasses the course's reference; write the class yourself.")
    targets = [answer] if not inspect.isclass(answer) else [getattr(answer, m, None) for m in methods]
    ref_codes = _code_objects(reference)
    for target in targets:
        func = getattr(target, "__func__", target)
        code = getattr(func, "__code__", None)
        if code is None:
            raise AssertionError(f"{name}: a method the exercise asks for is missing ({methods}).")
        if code in ref_codes or _is_course_code(code):
            raise AssertionError(f"{name}.{func.__name__} comes from the course package; write it yourself.")


_AUTOGRADER_DIR = os.path.dirname(os.path.abspath(__file__))
_LIBRARY_DIRS = tuple(
    os.path.abspath(path) + os.sep
    for path in {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def _caller_is_student(frame: Any) -> bool:
    """Walk up from a call: is the first frame outside course and the libraries the student's?"""
    f = frame.f_back
    while f is not None:
        path = os.path.abspath(f.f_code.co_filename)
        if path.startswith(_AUTOGRADER_DIR + os.sep):
            return False
        if not (path.startswith(_COURSE_DIR + os.sep) or path.startswith(_LIBRARY_DIRS)):
            return True
        f = f.f_back
    return False


@contextlib.contextmanager
def forbid_reference(reference: Any) -> Iterator[None]:
    """Fail if the student's code runs the reference's own code inside the block.

    Catches disguised re-exports (a method that calls the reference's method).
    The checks themselves may still run the reference to compare with it.
    """
    codes = _code_objects(reference)
    hits: list[str] = []

    def profiler(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in codes and _caller_is_student(frame):
            hits.append(frame.f_code.co_name)

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        yield
    finally:
        sys.setprofile(previous)
    if hits:
        name = getattr(reference, "__name__", str(reference))
        raise AssertionError(
            f"Your answer runs the course's reference {name}.{hits[0]}; the exercise is to write it yourself."
        )


def assert_gradients_ok(layer: Any, *inputs: Any, what: str = "", **kwargs: Any) -> None:
    """check_layer in float64; on failure, an AssertionError with the report table."""
    report = check_layer(layer, *inputs, **kwargs)
    if not report.ok:
        raise AssertionError(f"Gradient check failed{' for ' + what if what else ''}:\n{report}")


def _close(name: str, got: Any, expected: Any, tol: float) -> None:
    if got is None and expected is None:
        return
    if got is None or getattr(got, "shape", ()) != getattr(expected, "shape", ()):
        raise AssertionError(
            f"{name}: expected shape {getattr(expected, 'shape', ())}, got "
            f"{getattr(got, 'shape', None) if got is not None else None}."
        )
    err = rel_error(got, expected)
    if err > tol:
        raise AssertionError(f"{name} differs from the expected values (relative error {err:.1e}).")


def assert_same_as_reference(
    make: Callable[[], tuple[Any, Any]], inputs: tuple, dout: Any = None, tol: float = 1e-6, what: str = ""
) -> None:
    """Forward and backward of a student layer equal the reference's on the same inputs.

    ``make()`` returns (student_layer, reference_layer) built from the same weights.
    """
    student, ref = make()
    label = what or type(ref).__name__
    snap = backend.rng_snapshot()
    out_s = student.forward(*inputs)
    backend.rng_restore(snap)
    out_r = ref.forward(*inputs)
    outs_s = out_s if isinstance(out_s, tuple) else (out_s,)
    outs_r = out_r if isinstance(out_r, tuple) else (out_r,)
    for i, (a, b) in enumerate(zip(outs_s, outs_r, strict=False)):
        _close(f"{label} forward output {i}", backend.xp().asarray(a), backend.xp().asarray(b), tol)
    douts = dout if isinstance(dout, tuple) else ((dout,) if dout is not None else (1.0,))
    back_s, back_r = student.backward(*douts), ref.backward(*douts)
    backs_s = back_s if isinstance(back_s, tuple) else (back_s,)
    backs_r = back_r if isinstance(back_r, tuple) else (back_r,)
    for i, (a, b) in enumerate(zip(backs_s, backs_r, strict=False)):
        _close(f"{label} backward input gradient {i}", a, b, tol)
    for i, (a, b) in enumerate(zip(student.grads, ref.grads, strict=True)):
        _close(f"{label} grads[{i}]", a, b, tol)


def recurrent_weights(rng: Any, D: int, H: int, gates: int = 1) -> tuple[Any, Any, Any]:
    """O(1) weights Wx (D, gates*H), Wh (H, gates*H), b (gates*H,) for a recurrent cell.

    Gradient checks then stay far from the tolerance, and tanh and the gates far from flat.
    """
    return (
        rng.standard_normal((D, gates * H)) / math.sqrt(D),
        rng.standard_normal((H, gates * H)) / math.sqrt(H),
        rng.standard_normal(gates * H) * 0.5,
    )


def copies(*arrays: Any) -> list[Any]:
    """Fresh copies, so the answer and the reference never share (and update) one array."""
    return [a.copy() for a in arrays]


def assert_grads_written_in_place(layer: Any, name: str, inputs: tuple, douts: tuple) -> None:
    """backward writes (=) into the arrays of ``grads``.

    The optimizer holds those arrays, and a tied matrix's second use adds to them.
    """
    held = list(layer.grads)
    layer.forward(*inputs)
    layer.backward(*douts)
    first = [backend.host().array(g, copy=True) for g in layer.grads]
    layer.forward(*inputs)
    layer.backward(*douts)
    if any(a is not b for a, b in zip(held, layer.grads, strict=True)):
        raise AssertionError(
            f"{name}.backward replaced the arrays in self.grads; write into them instead "
            "(self.grads[0][...] = dW): the optimizer keeps the original arrays."
        )
    if all(float(abs(g).sum()) == 0 for g in held):
        raise AssertionError(f"{name}.backward left every parameter gradient at zero.")
    if any(not backend.host().allclose(g, f) for g, f in zip(layer.grads, first, strict=True)):
        raise AssertionError(
            f"{name}.backward adds to self.grads (+=) instead of overwriting them (=): a second "
            "backward on the same batch must give the same gradients."
        )
