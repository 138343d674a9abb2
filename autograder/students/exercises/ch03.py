"""Chapter 3 (word2vec): MatMul, create_contexts_target, convert_one_hot, SimpleCBOW, SimpleSkipGram.

Each check takes the student's code (proxies of it when judged, see
:mod:`autograder.instructors.remote`), runs it on random shapes against numerical
gradients and the course's reference, and raises AssertionError with a
message a student can act on. A model is judged alone: it is built and run
with the course's layers in place of the student's (see :func:`alone`), so
one bug costs one exercise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from autograder.students.checks import (
    assert_gradients_ok,
    assert_grads_written_in_place,
    assert_same_as_reference,
    course_in_place_of,
    host_rng,
)
from course import backend
from course import text as ref_text
from course.gradcheck import rel_error
from course.layers import basic as ref_layers
from course.models import word2vec as ref_models

LAYERS = {"MatMul": "course.layers.basic:MatMul", "SoftmaxWithLoss": "course.layers.basic:SoftmaxWithLoss"}


@contextlib.contextmanager
def alone(model: Any) -> Iterator[Any]:
    """SimpleCBOW or SimpleSkipGram with the course's layers inside, in place of the student's by name."""
    with contextlib.ExitStack() as stack:
        for name, qualified in LAYERS.items():
            stack.enter_context(course_in_place_of(model, name, qualified))
        yield model


def twins(answer: Any, reference: type, rng: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """The student's and the reference model built alike, with the same O(1) random weights."""
    student, ref = answer(*args, **kwargs), reference(*args, **kwargs)
    if len(student.params) != len(ref.params) or len(student.grads) != len(ref.grads):
        raise AssertionError(
            f"{answer.__name__} must have {len(ref.params)} params and grads, as the given __init__ builds."
        )
    for mine, theirs in zip(student.params, ref.params, strict=True):
        if mine.shape != theirs.shape:
            raise AssertionError(
                f"{answer.__name__}'s params should have shapes {[p.shape for p in ref.params]}."
            )
        weights = rng.standard_normal(theirs.shape)
        mine[...] = weights
        theirs[...] = weights
    return student, ref


def same_model(student: Any, reference: Any, batch: tuple, what: str) -> None:
    """Equal losses and equal gradients of every parameter on one batch."""
    names = getattr(type(reference), "param_names", None) or [str(i) for i in range(len(reference.params))]
    snap = backend.rng_snapshot()
    loss = float(student.forward(*batch))
    backend.rng_restore(snap)
    want = float(reference.forward(*batch))
    if abs(loss - want) > 1e-6 * max(1.0, abs(want)):
        raise AssertionError(f"{what}: the loss should be {want:.6f}, got {loss:.6f}.")
    student.backward()
    reference.backward()
    for name, got, expected in zip(names, student.grads, reference.grads, strict=True):
        if got.shape != expected.shape:
            raise AssertionError(
                f"{what}: the gradient of {name} has shape {got.shape}, not {expected.shape}."
            )
        err = rel_error(got, expected)
        if err > 1e-6:
            raise AssertionError(f"{what}: the gradient of {name} is wrong (relative error {err:.1e}).")


def matmul(MatMul: Any, seed: int = 31) -> None:
    """MatMul: dW and dx on random shapes, in-place grads, agreement with the reference."""
    rng = host_rng(seed)
    for n, d, h in ((1, 1, 1), (4, 3, 2), (6, 7, 5)):
        W, x = rng.standard_normal((d, h)), rng.standard_normal((n, d))
        layer = MatMul(W.copy())
        if len(layer.params) != 1 or len(layer.grads) != 1:
            raise AssertionError("MatMul must have params [W] and grads [dW].")
        assert_gradients_ok(layer, x, what=f"MatMul with N={n}, D={d}, H={h}")
        make = lambda W=W: (MatMul(W.copy()), ref_layers.MatMul(W.copy()))  # noqa: E731
        assert_same_as_reference(make, (x,), rng.standard_normal((n, h)), what="MatMul")
    x, dout = rng.standard_normal((2, 3)), rng.standard_normal((2, 2))
    assert_grads_written_in_place(MatMul(rng.standard_normal((3, 2))), "MatMul", (x,), (dout,))


def create_contexts_target(create_contexts_target: Any, seed: int = 32) -> None:
    """Contexts and targets of random corpora and windows, the shortest corpus included."""
    np = backend.host()
    rng = host_rng(seed)
    for n, w in ((3, 1), (8, 1), (5, 2), (12, 2), (20, 3)):
        corpus = rng.integers(0, 9, n)
        want_c, want_t = ref_text.create_contexts_target(corpus, window_size=w)
        got = create_contexts_target(corpus.copy(), window_size=w)
        if not isinstance(got, tuple | list) or len(got) != 2:
            raise AssertionError("create_contexts_target must return the pair (contexts, target).")
        if not all(isinstance(a, np.ndarray) for a in got):
            raise AssertionError(
                "create_contexts_target must return two NumPy arrays for a NumPy corpus; "
                f"got {type(got[0]).__name__} and {type(got[1]).__name__}."
            )
        contexts, target = got
        if contexts.shape != want_c.shape or target.shape != want_t.shape:
            raise AssertionError(
                f"For a corpus of {n} words and window_size={w}, contexts should have shape "
                f"{want_c.shape} and target {want_t.shape}; got {contexts.shape} and {target.shape}."
            )
        if not np.array_equal(target, want_t) or not np.array_equal(contexts, want_c):
            raise AssertionError(
                f"create_contexts_target({corpus.tolist()}, window_size={w}) should give contexts\n"
                f"{want_c}\nand target {want_t}; got\n{contexts}\nand {target}. Keep the words "
                "before the target first, then the words after it, in text order."
            )


def convert_one_hot(convert_one_hot: Any, seed: int = 33) -> None:
    """One-hot rows of 1-D and 2-D id arrays."""
    np = backend.host()
    rng = host_rng(seed)
    for shape, V in (((5,), 7), ((4, 2), 6), ((1, 3), 3), ((3, 4), 10)):
        ids = rng.integers(0, V, shape)
        want = ref_text.convert_one_hot(ids, V)
        got = convert_one_hot(ids.copy(), V)
        if not isinstance(got, np.ndarray):
            raise AssertionError(f"convert_one_hot must return a NumPy array for NumPy ids; got {got!r}.")
        if got.shape != want.shape:
            raise AssertionError(
                f"convert_one_hot of ids with shape {shape} and vocab_size={V} should have shape "
                f"{want.shape}; got {got.shape}."
            )
        if not np.array_equal(got, want):
            raise AssertionError(
                f"convert_one_hot({ids.tolist()}, {V}): every row must be 0 except a 1 at the word's id."
            )


def _one_hot(ids: Any, V: int) -> Any:
    return backend.host().eye(V)[ids]


def _model(answer: Any, reference: type, name: str, seed: int) -> None:
    """A word2vec model alone: gradient of the loss, in-place grads, the reference's loss and gradients."""
    rng = host_rng(seed)
    with alone(answer):
        for V, H, window, N in ((5, 3, 1, 4), (7, 4, 2, 3), (6, 2, 1, 1)):
            contexts, target = rng.integers(0, V, (N, 2 * window)), rng.integers(0, V, N)
            what = f"{name}(V={V}, H={H}, window_size={window}) on {N} examples"
            student, _ = twins(answer, reference, rng, V, H, window, dtype="float64")
            assert_gradients_ok(student, contexts, target, check_inputs=False, dout=1.0, what=what)
            student, ref = twins(answer, reference, rng, V, H, window, dtype="float64")
            same_model(student, ref, (contexts, target), what)
            same_model(student, ref, (_one_hot(contexts, V), _one_hot(target, V)), what + " (one-hot)")
        assert_grads_written_in_place(student, name, (contexts, target), ())


def simple_cbow(SimpleCBOW: Any, seed: int = 34) -> None:
    """SimpleCBOW: gradient of the loss, agreement with the reference on ids and on one-hot rows."""
    _model(SimpleCBOW, ref_models.SimpleCBOW, "SimpleCBOW", seed)


def simple_skip_gram(SimpleSkipGram: Any, seed: int = 35) -> None:
    """SimpleSkipGram: gradient of the loss, agreement with the reference on ids and on one-hot rows."""
    _model(SimpleSkipGram, ref_models.SimpleSkipGram, "SimpleSkipGram", seed)
