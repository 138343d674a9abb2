"""Chapter 3 (word2vec): MatMul, create_contexts_target, convert_one_hot, SimpleCBOW, SimpleSkipGram.

Each check takes the student's code, runs it on random shapes against
numerical gradients and the course's reference, and raises AssertionError
with a message a student can act on. A model is judged alone: it is built
and run with the reference layers in place of the student's (see
:func:`reference_parts`), so one bug costs one exercise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import FunctionType
from typing import Any

from autograder.checks import assert_gradients_ok, assert_own_code, assert_same_as_reference, forbid_reference
from course import backend
from course import text as ref_text
from course.gradcheck import rel_error
from course.layers import basic as ref_layers
from course.models import word2vec as ref_models


def _rng(seed: int) -> Any:
    return backend.host().random.default_rng(seed)


@contextlib.contextmanager
def reference_parts(answer: type, **parts: Any) -> Iterator[None]:
    """Run the student's class with the reference classes in place of the student's, by name.

    The names (e.g. ``MatMul=course.layers.MatMul``) are swapped in the
    namespace the class's methods read their globals from (the notebook's),
    and put back afterwards.
    """
    methods = [v for v in vars(answer).values() if isinstance(v, FunctionType)]
    if not methods:
        yield
        return
    namespace = methods[0].__globals__
    missing = object()
    saved = {name: namespace.get(name, missing) for name in parts}
    namespace.update(parts)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


LAYERS = {"MatMul": ref_layers.MatMul, "SoftmaxWithLoss": ref_layers.SoftmaxWithLoss}


@contextlib.contextmanager
def alone(model: type) -> Iterator[type]:
    """SimpleCBOW or SimpleSkipGram with the course's layers inside, for a test cell's visible checks."""
    with reference_parts(model, **LAYERS):
        yield model


def twins(answer: type, reference: type, rng: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """The student's and the reference model built alike, with the same O(1) random weights."""
    student, ref = answer(*args, **kwargs), reference(*args, **kwargs)
    if len(student.params) != len(ref.params) or len(student.grads) != len(ref.grads):
        raise AssertionError(
            f"{answer.__name__} must have {len(ref.params)} params and grads, as the given __init__ builds."
        )
    for mine, theirs in zip(student.params, ref.params, strict=True):
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


def matmul(MatMul: type, seed: int = 31) -> None:
    """MatMul: dW and dx on random shapes, in-place grads, agreement with the reference."""
    assert_own_code(MatMul, ref_layers.MatMul, ("forward", "backward"))
    rng = _rng(seed)
    np = backend.host()
    with forbid_reference(ref_layers.MatMul):
        for n, d, h in ((1, 1, 1), (4, 3, 2), (6, 7, 5)):
            W, x = rng.standard_normal((d, h)), rng.standard_normal((n, d))
            layer = MatMul(W.copy())
            if len(layer.params) != 1 or len(layer.grads) != 1:
                raise AssertionError("MatMul must have params [W] and grads [dW].")
            assert_gradients_ok(layer, x, what=f"MatMul with N={n}, D={d}, H={h}")
            make = lambda W=W: (MatMul(W.copy()), ref_layers.MatMul(W.copy()))  # noqa: E731
            assert_same_as_reference(make, (x,), rng.standard_normal((n, h)), what="MatMul")
        layer = MatMul(rng.standard_normal((3, 2)))
        held = layer.grads[0]
        layer.forward(np.eye(3)[[2, 0]])
        layer.backward(np.ones((2, 2)))
        if layer.grads[0] is not held or float(abs(held).sum()) == 0:
            raise AssertionError(
                "MatMul.backward must write into self.grads in place: self.grads[0][...] = dW"
            )


def create_contexts_target(create_contexts_target: Any, seed: int = 32) -> None:
    """Contexts and targets of random corpora and windows, the shortest corpus included."""
    np = backend.host()
    assert_own_code(create_contexts_target, ref_text.create_contexts_target)
    rng = _rng(seed)
    with forbid_reference(ref_text.create_contexts_target):
        for n, w in ((3, 1), (8, 1), (5, 2), (12, 2), (20, 3)):
            corpus = rng.integers(0, 9, n)
            want_c, want_t = ref_text.create_contexts_target(corpus, window_size=w)
            got = create_contexts_target(corpus, window_size=w)
            if not isinstance(got, tuple) or len(got) != 2:
                raise AssertionError("create_contexts_target must return the pair (contexts, target).")
            contexts, target = (np.asarray(a) for a in got)
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
    assert_own_code(convert_one_hot, ref_text.convert_one_hot)
    rng = _rng(seed)
    with forbid_reference(ref_text.convert_one_hot):
        for shape, V in (((5,), 7), ((4, 2), 6), ((1, 3), 3), ((3, 4), 10)):
            ids = rng.integers(0, V, shape)
            want = ref_text.convert_one_hot(ids, V)
            got = np.asarray(convert_one_hot(ids, V))
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


def simple_cbow(SimpleCBOW: type, seed: int = 34) -> None:
    """SimpleCBOW: gradient of the loss, agreement with the reference on ids and on one-hot rows."""
    assert_own_code(SimpleCBOW, ref_models.SimpleCBOW, ("forward", "backward"))
    rng = _rng(seed)
    with forbid_reference(ref_models.SimpleCBOW), alone(SimpleCBOW):
        for V, H, window, N in ((5, 3, 1, 4), (7, 4, 2, 3), (6, 2, 1, 1)):
            contexts, target = rng.integers(0, V, (N, 2 * window)), rng.integers(0, V, N)
            what = f"SimpleCBOW(V={V}, H={H}, window_size={window}) on {N} examples"
            student, _ = twins(SimpleCBOW, ref_models.SimpleCBOW, rng, V, H, window, dtype="float64")
            assert_gradients_ok(student, contexts, target, check_inputs=False, dout=1.0, what=what)
            student, reference = twins(SimpleCBOW, ref_models.SimpleCBOW, rng, V, H, window, dtype="float64")
            same_model(student, reference, (contexts, target), what)
            same_model(student, reference, (_one_hot(contexts, V), _one_hot(target, V)), what + " (one-hot)")


def simple_skip_gram(SimpleSkipGram: type, seed: int = 35) -> None:
    """SimpleSkipGram: gradient of the loss, agreement with the reference on ids and on one-hot rows."""
    assert_own_code(SimpleSkipGram, ref_models.SimpleSkipGram, ("forward", "backward"))
    rng = _rng(seed)
    ref_cls = ref_models.SimpleSkipGram
    with forbid_reference(ref_cls), alone(SimpleSkipGram):
        for V, H, window, N in ((5, 3, 1, 4), (7, 4, 2, 3), (6, 2, 1, 1)):
            contexts, target = rng.integers(0, V, (N, 2 * window)), rng.integers(0, V, N)
            what = f"SimpleSkipGram(V={V}, H={H}, window_size={window}) on {N} examples"
            student, _ = twins(SimpleSkipGram, ref_cls, rng, V, H, window, dtype="float64")
            assert_gradients_ok(student, contexts, target, check_inputs=False, dout=1.0, what=what)
            student, reference = twins(SimpleSkipGram, ref_cls, rng, V, H, window, dtype="float64")
            same_model(student, reference, (contexts, target), what)
            same_model(student, reference, (_one_hot(contexts, V), _one_hot(target, V)), what + " (one-hot)")
