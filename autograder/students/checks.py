"""Building blocks of the graded tests that run inside a student's notebook.

* :func:`graded` keeps a test cell's stderr clean (nbgrader gives 0 points to
  a test cell that writes to stderr, even for a harmless NumPy warning) and
  reports warnings on stdout instead;
* :func:`course_version` and :func:`course_in_place_of` give a check the
  course's own pieces where the student's code lives (its subject when judged);
* :func:`assert_gradients_ok` and :func:`assert_same_as_reference` compare a
  student's layer with numerical gradients and with the reference.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from autograder.instructors import remote
from course import backend
from course.gradcheck import check_layer, rel_error


@contextlib.contextmanager
def graded() -> Iterator[None]:
    """Run a test cell's checks with warnings and stderr sent to stdout, on NumPy.

    A correct answer that makes NumPy warn (an overflow in exp, say) keeps its
    points; the warning is still shown, as a note. The checks run on NumPy, as
    the grader does, whatever backend the notebook uses (CuPy on a GPU, or the
    strict stand-in); the backend is put back afterwards.
    """
    captured = io.StringIO()
    before = backend.name()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(captured):
        warnings.simplefilter("always")
        backend.use("numpy")
        try:
            yield
        finally:
            backend.use(before)
            seen = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
            for text in seen:
                print(f"note (not penalised): your code raised {text}")
            if captured.getvalue().strip():
                print(captured.getvalue().rstrip())


def course_version(like: Any, qualified: str) -> Any:
    """The course's ``module:Name`` where the student's ``like`` lives: in its subject when judged.

    A check that hands the student's code one of the course's objects (a model
    for ``eval_perplexity``, say) builds it there with this.
    """
    subject = remote.of(like)
    if subject is not None:
        return subject.course(qualified)
    module, _, name = qualified.partition(":")
    return getattr(importlib.import_module(module), name)


@contextlib.contextmanager
def course_in_place_of(answer: Any, name: str, qualified: str) -> Iterator[None]:
    """Judge ``answer`` alone: the global ``name`` its code uses means the course's version meanwhile.

    A Time layer that builds the student's own cell by name then uses the
    course's cell, so a bug in the cell costs only the cell's exercise.
    """
    subject = remote.of(answer)
    if subject is not None:
        subject.request({"op": "bind", "name": name, "target": qualified})
        yield
        return
    module, _, attr = qualified.partition(":")
    reference = getattr(importlib.import_module(module), attr)
    globs = getattr(getattr(answer, "forward", answer), "__globals__", {})
    before = globs.get(name)
    swap = isinstance(before, type) and before is not reference
    if swap:
        globs[name] = reference
    try:
        yield
    finally:
        if swap:
            globs[name] = before


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


def host_rng(seed: int) -> Any:
    """A host NumPy generator: the hidden tests' inputs are the same on every backend."""
    return backend.host().random.default_rng(seed)


def sizes(gen: Any, dims: int = 3, count: int = 3, low: int = 1, high: int = 5) -> list[tuple[int, ...]]:
    """``count`` random shapes of ``dims`` sizes each, from ``low`` to ``high``: odd sizes catch
    broadcasting and transposition mistakes that square ones hide."""
    return [tuple(int(v) for v in gen.integers(low, high + 1, dims)) for _ in range(count)]


def right_padding(gen: Any, n: int, t: int) -> Any:
    """A host padding mask (N, T): True at each row's real positions, a random length from 1 to T."""
    np = backend.host()
    lengths = gen.integers(1, t + 1, n)
    return np.arange(t)[None, :] < lengths[:, None]


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
    if remote.replaced_grads(layer) or any(a is not b for a, b in zip(held, layer.grads, strict=True)):
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


def assert_carries_state(mine: Any, ref: Any, name: str, rng: Any, state: Sequence[str] = ("h",)) -> None:
    """A stateful Time layer against its reference (both stateful, same weights), over two blocks.

    The second forward must start where the first ended (``state``: "h", and
    "c" for an LSTM); after backward, ``d<s>`` for each ``s`` in ``state`` is the
    gradient with respect to the state the block started from; ``reset_state()``
    forgets the state. D is read from the weights; blocks are (2, 5, D).
    """
    np = backend.host()
    D, H = ref.params[0].shape[0], ref.params[1].shape[0]
    first, second = rng.standard_normal((2, 5, D)), rng.standard_normal((2, 5, D))
    mine.forward(first)
    ref.forward(first)
    if not np.allclose(mine.forward(second), ref.forward(second), atol=1e-10):
        held = ", ".join(f"self.{s}" for s in state)
        raise AssertionError(
            f"A stateful {name} must start each forward from the last state of the previous one "
            f"({held}: None means zeros) and keep its last state there when stateful; the second "
            "block differs."
        )
    dhs = rng.standard_normal((2, 5, H))
    mine.backward(dhs)
    ref.backward(dhs)
    for s in state:
        got, want = getattr(mine, f"d{s}", None), getattr(ref, f"d{s}")
        if getattr(got, "shape", None) != want.shape or not np.allclose(got, want, atol=1e-10):
            raise AssertionError(
                f"After backward, self.d{s} must hold the gradient with respect to the state "
                f"self.{s} the block started from, shape (N, H)."
            )
    mine.reset_state()
    if any(getattr(mine, s, None) is not None for s in state):
        raise AssertionError("reset_state() must forget the carried state: the next block starts from zeros.")
