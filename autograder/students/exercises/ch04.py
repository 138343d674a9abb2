"""Chapter 4 (faster word2vec): Embedding, EmbeddingDot, UnigramSampler, NegativeSamplingLoss, CBOW, SkipGram.

Each check takes the student's class, runs it on random shapes against
numerical gradients and the course's reference, and raises AssertionError
with a message a student can act on. A class that uses another exercise's
class is run with the course's version in its place (see :func:`parts`), so
one bug costs one exercise. The checks work the same on the student's own
classes (a test cell run in the notebook) and on the judge's proxies of them.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import course
from autograder.students.checks import (
    assert_gradients_ok,
    assert_grads_written_in_place,
    assert_same_as_reference,
    course_in_place_of,
    host_rng,
)
from autograder.students.exercises.ch03 import same_model, twins
from course import backend
from course.gradcheck import rel_error
from course.layers import embedding as ref_embedding
from course.layers import negative_sampling as ref_ns
from course.models import word2vec as ref_models

# The other exercises' classes each of these is run with: the course's, so one bug costs one exercise.
PARTS = {
    "EmbeddingDot": {"Embedding": "course.layers.embedding:Embedding"},
    "NegativeSamplingLoss": {
        "UnigramSampler": "course.layers.negative_sampling:UnigramSampler",
        "EmbeddingDot": "course.layers.embedding:EmbeddingDot",
    },
    "CBOW": {
        "Embedding": "course.layers.embedding:Embedding",
        "NegativeSamplingLoss": "course.layers.negative_sampling:NegativeSamplingLoss",
    },
    # SkipGram keeps CBOW's given __init__, which builds these two by name.
    "SkipGram": {
        "Embedding": "course.layers.embedding:Embedding",
        "NegativeSamplingLoss": "course.layers.negative_sampling:NegativeSamplingLoss",
    },
}


@contextlib.contextmanager
def parts(answer: Any, exercise: str) -> Iterator[None]:
    """The names of the other exercises' classes in ``answer``'s code mean the course's meanwhile."""
    with contextlib.ExitStack() as stack:
        for name, qualified in PARTS[exercise].items():
            stack.enter_context(course_in_place_of(answer, name, qualified))
        yield


@contextlib.contextmanager
def alone(answer: Any) -> Iterator[Any]:
    """EmbeddingDot, NegativeSamplingLoss, CBOW or SkipGram with the course's parts inside (visible tests)."""
    with parts(answer, answer.__name__):
        yield answer


def _seed_everywhere(seed: int) -> None:
    """Seed every generator a sampler may draw from, in the student's process too when judged."""
    course.seed(seed)
    backend.host().random.seed(seed)
    backend.rng_snapshot()  # a judged subject takes on the random state captured here


def _ids(rng: Any, V: int, shape: tuple) -> Any:
    """Random ids that repeat (a word used twice must get both gradients)."""
    return rng.integers(0, V, shape) if V > 1 else backend.host().zeros(shape, dtype=int)


def _same_lookup(student: Any, reference: Any, inputs: tuple, dout: Any, what: str) -> None:
    """Same output, input gradient (when there is one) and weight gradient as the reference."""
    out, want = student.forward(*inputs), reference.forward(*inputs)
    if getattr(out, "shape", None) != want.shape or rel_error(out, want) > 1e-9:
        raise AssertionError(f"{what}: forward should give {want.shape} values equal to the reference's.")
    back, want_back = student.backward(dout), reference.backward(dout)
    if want_back is not None and (
        getattr(back, "shape", None) != want_back.shape or rel_error(back, want_back) > 1e-9
    ):
        raise AssertionError(f"{what}: backward should return the gradient of h, of shape {want_back.shape}.")
    if rel_error(student.grads[0], reference.grads[0]) > 1e-9:
        raise AssertionError(
            f"{what}: the gradient of W differs from the reference. Rows used twice must add up "
            "(np.add.at or scatter_rows, not dW[idx] = ...)."
        )


def embedding(Embedding: Any, seed: int = 41) -> None:
    """Embedding: lookup, accumulated gradient of repeated ids, a fresh gradient per batch, in-place grads."""
    rng = host_rng(seed)
    np = backend.host()
    for V, D, shape in ((1, 2, (3,)), (4, 3, (6,)), (6, 2, (3, 4)), (9, 5, (2, 3))):
        W, idx = rng.standard_normal((V, D)), _ids(rng, V, shape)
        what = f"Embedding with W {W.shape} and ids of shape {shape}"
        assert_gradients_ok(Embedding(W.copy()), idx, what=what)
        dout = rng.standard_normal((*shape, D))
        _same_lookup(Embedding(W.copy()), ref_embedding.Embedding(W.copy()), (idx,), dout, what)
    # Two batches in a row: the second gradient must not keep rows of the first.
    W = rng.standard_normal((8, 3))
    layer, reference = Embedding(W.copy()), ref_embedding.Embedding(W.copy())
    for idx in (np.array([0, 1, 1, 5]), np.array([2, 7, 2])):
        dout = rng.standard_normal((len(idx), 3))
        _same_lookup(layer, reference, (idx,), dout, f"Embedding, batch of ids {idx.tolist()} after another")
    idx = np.array([3, 0, 3])
    assert_grads_written_in_place(
        Embedding(rng.standard_normal((5, 2))), "Embedding", (idx,), (rng.standard_normal((3, 2)),)
    )


def embedding_dot(EmbeddingDot: Any, seed: int = 42) -> None:
    """EmbeddingDot with one id (N,) or K ids (N, K) per row; the course's Embedding inside."""
    rng = host_rng(seed)
    np = backend.host()
    ref_cls = ref_embedding.EmbeddingDot
    with parts(EmbeddingDot, "EmbeddingDot"):
        for V, H, n, k in ((5, 3, 4, None), (6, 2, 3, 4), (3, 4, 1, 2), (7, 3, 5, None)):
            shape = (n,) if k is None else (n, k)
            W, h, idx = rng.standard_normal((V, H)), rng.standard_normal((n, H)), _ids(rng, V, shape)
            what = f"EmbeddingDot with W {W.shape}, h {h.shape} and ids of shape {shape}"
            assert_gradients_ok(EmbeddingDot(W.copy()), h, idx, what=what)
            dout = rng.standard_normal(shape)
            _same_lookup(EmbeddingDot(W.copy()), ref_cls(W.copy()), (h, idx), dout, what)
        h, idx, dout = (
            rng.standard_normal((3, 2)),
            np.array([[1, 1], [0, 3], [3, 2]]),
            rng.standard_normal((3, 2)),
        )
        assert_grads_written_in_place(
            EmbeddingDot(rng.standard_normal((4, 2))), "EmbeddingDot", (h, idx), (dout,)
        )


def _frequencies(draws: Any, V: int) -> Any:
    np = backend.host()
    return np.bincount(np.asarray(draws).reshape(-1), minlength=V) / np.asarray(draws).size


def unigram_sampler(UnigramSampler: Any, seed: int = 43) -> None:
    """word_p, shapes, never the target, and the distribution of the draws."""
    rng = host_rng(seed)
    np = backend.host()
    counts = np.array([40, 1, 9, 0, 20, 5, 3, 2])
    corpus = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    V = len(counts)
    for power in (0.75, 1.0, 0.5):
        sampler, want = UnigramSampler(corpus, power, 3), ref_ns.UnigramSampler(corpus, power, 3)
        word_p = np.asarray(getattr(sampler, "word_p", np.zeros(0)), dtype=float)
        if word_p.shape != (V,) or np.abs(word_p - want.word_p).max() > 1e-9:
            raise AssertionError(
                f"With power={power}, word_p should be {want.word_p.round(4).tolist()} "
                f"(count ** power, divided by its sum); got {word_p.round(4).tolist()}."
            )
    sampler = UnigramSampler(corpus, 0.75, 3)
    target = _ids(rng, V, (50,))
    negative = np.asarray(sampler.get_negative_sample(target))
    if negative.shape != (50, 3) or negative.dtype.kind not in "iu":
        raise AssertionError(
            f"get_negative_sample(target of shape (50,)) should return integer ids of shape (50, 3); "
            f"got {negative.dtype} {negative.shape}."
        )
    if (negative == target[:, None]).any():
        raise AssertionError("A negative word must never be the row's own target word: draw it again.")
    if negative.min() < 0 or negative.max() >= V:
        raise AssertionError(f"Negative ids must lie in [0, {V}); got {negative.min()}..{negative.max()}.")
    # One draw per row, target fixed: the draws follow word_p without the target, renormalised.
    _seed_everywhere(seed)
    n = 40_000
    for word in (0, 4):
        sampler = UnigramSampler(corpus, 0.75, 1)
        draws = sampler.get_negative_sample(np.full(n, word))
        expected = ref_ns.UnigramSampler(corpus, 0.75, 1).word_p.copy()
        expected[word] = 0
        expected /= expected.sum()
        freq = _frequencies(draws, V)
        limit = 5 * np.sqrt(expected * (1 - expected) / n) + 1e-3
        if (np.abs(freq - expected) > limit).any():
            raise AssertionError(
                f"With target {word} everywhere, the draws should have frequencies about "
                f"{expected.round(3).tolist()} (word_p without the target, renormalised); got "
                f"{freq.round(3).tolist()}."
            )


def negative_sampling_loss(NegativeSamplingLoss: Any, seed: int = 44) -> None:
    """Loss value, gradients of h and W, huge scores; the course's sampler and EmbeddingDot inside."""
    rng = host_rng(seed)
    np = backend.host()
    ref_cls = ref_ns.NegativeSamplingLoss
    with parts(NegativeSamplingLoss, "NegativeSamplingLoss"):
        for V, H, n, k in ((6, 3, 4, 2), (10, 4, 3, 5), (4, 2, 1, 1)):
            corpus = _ids(rng, V, (50,))
            corpus[:V] = np.arange(V)
            W, h = rng.standard_normal((V, H)), rng.standard_normal((n, H))
            target = _ids(rng, V, (n,))
            what = f"NegativeSamplingLoss with W {W.shape}, h {h.shape}, sample_size={k}"
            _seed_everywhere(seed)
            assert_gradients_ok(NegativeSamplingLoss(W.copy(), corpus, sample_size=k), h, target, what=what)
            make = lambda W=W, c=corpus, k=k: (  # noqa: E731
                NegativeSamplingLoss(W.copy(), c, sample_size=k),
                ref_cls(W.copy(), c, sample_size=k),
            )
            assert_same_as_reference(make, (h, target), 1.0, what=what)
            assert_same_as_reference(make, (h, target), 0.5, what=what + ", dout=0.5")
        corpus = np.arange(4).repeat(3)
        loss = float(
            NegativeSamplingLoss(np.ones((4, 2)) * 30, corpus, sample_size=2).forward(
                np.ones((2, 2)) * 30, np.array([0, 1])
            )
        )
        if not math.isfinite(loss):
            raise AssertionError(
                "The loss is not finite for large scores: -log sigmoid(s) = log(1 + exp(-s)) "
                "needs care (softplus is given)."
            )


def _model(answer: Any, reference: type, name: str, shapes: list, seed: int, loss_hint: str = "") -> None:
    """A negative-sampling model against numerical gradients and the reference, on each (V, H, window, n).

    ``loss_hint`` is added to the message when the loss differs from the reference's.
    """
    rng = host_rng(seed)
    np = backend.host()
    with parts(answer, name):
        for V, H, window, n in shapes:
            corpus = _ids(rng, V, (40,))
            corpus[:V] = np.arange(V)
            contexts, target = _ids(rng, V, (n, 2 * window)), _ids(rng, V, (n,))
            what = f"{name}(V={V}, H={H}, window_size={window}) on {n} examples"
            args = (V, H, window, corpus)
            student, _ = twins(answer, reference, rng, *args, sample_size=2, dtype="float64")
            _seed_everywhere(seed)
            assert_gradients_ok(student, contexts, target, check_inputs=False, dout=1.0, what=what)
            student, ref = twins(answer, reference, rng, *args, sample_size=2, dtype="float64")
            try:
                same_model(student, ref, (contexts, target), what)
            except AssertionError as exc:
                if not loss_hint or "the loss should be" not in str(exc):
                    raise
                raise AssertionError(f"{exc} {loss_hint}") from None


def cbow(CBOW: Any, seed: int = 45) -> None:
    """CBOW with negative sampling: gradients of W_in and W_out, agreement with the reference."""
    _model(CBOW, ref_models.CBOW, "CBOW", [(6, 3, 1, 4), (9, 2, 2, 3), (5, 4, 1, 1)], seed)


def skip_gram(SkipGram: Any, seed: int = 46) -> None:
    """Skip-gram with negative sampling: gradients of W_in and W_out, agreement with the reference."""
    rng = host_rng(seed + 100)
    # Random sizes: V words, H hidden, the window (C = 2 * window context words), n examples.
    bounds = ((3, 10), (1, 5), (1, 4), (1, 6))
    shapes = [tuple(int(rng.integers(lo, hi)) for lo, hi in bounds) for _ in range(4)]
    hint = (
        "Score all N * C pairs with one call of self.ns_loss, in the order of contexts.reshape(-1) "
        "(row n * C + c is example n with its c-th context word), so that the negatives are drawn as "
        "the reference draws them."
    )
    _model(SkipGram, ref_models.SkipGram, "SkipGram", shapes, seed, loss_hint=hint)
