"""Embedding and EmbeddingDot, their row-sparse versions, and the row-sparse path of the optimizers."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from course import backend
from course.gradcheck import check_layer
from course.layers import Embedding, EmbeddingDot, SparseEmbedding, SparseEmbeddingDot
from course.layers.embedding import scatter_rows
from course.optim import (
    SGD,
    AdaGrad,
    Adam,
    LazyAdam,
    Momentum,
    clip_grads,
    clip_grads_sparse,
    grad_norms,
    scale_grads,
    supports_rows,
)


def _dense_embedding_grad(V, D, idx, dout):
    """The gradient of sum(W[idx] * dout) by a plain loop over the ids."""
    dW = np.zeros((V, D))
    for pos, word in np.ndenumerate(idx):
        dW[word] += dout[pos]
    return dW


@pytest.mark.parametrize("cls", [Embedding, SparseEmbedding])
@pytest.mark.parametrize("shape", [(5,), (4, 3), (1, 1)])
def test_embedding_forward_backward_match_a_loop(xp, rng, shape, cls):
    V, D = 7, 3
    W = rng.standard_normal((V, D))
    idx = rng.integers(0, V, shape)
    idx.flat[0] = idx.flat[-1]  # make sure one id repeats when there are two or more
    layer = cls(xp.asarray(W))
    out = layer.forward(xp.asarray(idx))
    np.testing.assert_array_equal(backend.to_host(out), W[idx])
    dout = rng.standard_normal((*shape, D))
    assert layer.backward(xp.asarray(dout)) is None
    np.testing.assert_allclose(backend.to_host(layer.grads[0]), _dense_embedding_grad(V, D, idx, dout))
    if cls is SparseEmbedding:
        assert backend.to_host(layer.grad_rows[0]).tolist() == sorted(set(idx.ravel().tolist()))


@pytest.mark.parametrize("cls", [Embedding, SparseEmbedding])
def test_embedding_clears_the_rows_of_the_previous_batch(xp, rng, cls):
    V, D = 9, 2
    layer = cls(xp.asarray(rng.standard_normal((V, D))))
    for ids in ([0, 1, 1], [5, 8], [1, 2]):
        idx = np.array(ids)
        dout = rng.standard_normal((len(ids), D))
        layer.forward(xp.asarray(idx))
        layer.backward(xp.asarray(dout))
        # The whole V x D gradient equals this batch's gradient alone.
        np.testing.assert_allclose(backend.to_host(layer.grads[0]), _dense_embedding_grad(V, D, idx, dout))


@pytest.mark.parametrize("cls", [Embedding, SparseEmbedding])
@pytest.mark.parametrize("shape", [(6,), (3, 4)])
def test_embedding_passes_gradcheck(xp, rng, shape, cls):
    W = xp.asarray(rng.standard_normal((8, 5)))
    idx = xp.asarray(rng.integers(0, 8, shape))
    report = check_layer(cls(W), idx)
    report.assert_ok()
    assert set(report.errors) == {"W"}


def _random_ids(gen, V, shape):
    return gen.integers(0, V, shape)


def test_sparse_embedding_equals_embedding_batch_after_batch(xp):
    """Values, gradient and grads arrays of the fast layer equal the plain answer's, over random shapes."""
    gen = np.random.default_rng(7)
    for _ in range(5):
        V, D = (int(v) for v in gen.integers(1, 12, 2))
        W = gen.standard_normal((V, D))
        plain, fast = Embedding(xp.asarray(W)), SparseEmbedding(xp.asarray(W.copy()))
        held = fast.grads[0]
        for _ in range(3):  # several batches: the rows of the previous one must not linger
            shape = tuple(int(v) for v in gen.integers(1, 6, gen.integers(1, 3)))
            idx = xp.asarray(_random_ids(gen, V, shape))
            np.testing.assert_array_equal(
                backend.to_host(fast.forward(idx)), backend.to_host(plain.forward(idx))
            )
            dout = xp.asarray(gen.standard_normal((*shape, D)))
            assert fast.backward(dout) is None and plain.backward(dout) is None
            np.testing.assert_allclose(
                backend.to_host(fast.grads[0]), backend.to_host(plain.grads[0]), rtol=1e-12
            )
            assert fast.grads[0] is held
            nonzero = np.flatnonzero(np.abs(backend.to_host(fast.grads[0])).sum(axis=1))
            assert set(nonzero.tolist()) <= set(backend.to_host(fast.grad_rows[0]).tolist())


@pytest.mark.parametrize("k", [None, 1, 4])
def test_sparse_embedding_dot_equals_embedding_dot(xp, k):
    gen = np.random.default_rng(8 if k is None else k)
    for _ in range(4):
        V, H, N = (int(v) for v in gen.integers(1, 9, 3))
        W = gen.standard_normal((V, H))
        plain, fast = EmbeddingDot(xp.asarray(W)), SparseEmbeddingDot(xp.asarray(W.copy()))
        for _ in range(2):
            shape = (N,) if k is None else (N, k)
            h, idx = xp.asarray(gen.standard_normal((N, H))), xp.asarray(_random_ids(gen, V, shape))
            np.testing.assert_allclose(
                backend.to_host(fast.forward(h, idx)), backend.to_host(plain.forward(h, idx)), rtol=1e-12
            )
            dout = xp.asarray(gen.standard_normal(shape))
            np.testing.assert_allclose(
                backend.to_host(fast.backward(dout)), backend.to_host(plain.backward(dout)), rtol=1e-12
            )
            np.testing.assert_allclose(
                backend.to_host(fast.grads[0]), backend.to_host(plain.grads[0]), rtol=1e-12
            )
            assert fast.grad_rows is fast.embed.grad_rows and fast.grads[0] is fast.embed.grads[0]


def test_embedding_rejects_float_ids(xp):
    layer = Embedding(xp.ones((4, 2)))
    with pytest.raises(TypeError, match="integer array of word ids"):
        layer.forward(xp.asarray([0.0, 1.0]))


@pytest.mark.parametrize("cls", [EmbeddingDot, SparseEmbeddingDot])
@pytest.mark.parametrize("k", [None, 1, 4])
def test_embedding_dot_values_and_gradcheck(xp, rng, k, cls):
    V, H, N = 9, 4, 5
    W, h = rng.standard_normal((V, H)), rng.standard_normal((N, H))
    idx = rng.integers(0, V, (N,) if k is None else (N, k))
    layer = cls(xp.asarray(W))
    out = backend.to_host(layer.forward(xp.asarray(h), xp.asarray(idx)))
    if k is None:
        expected = np.array([h[n] @ W[idx[n]] for n in range(N)])
    else:
        expected = np.array([[h[n] @ W[idx[n, j]] for j in range(k)] for n in range(N)])
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    report = check_layer(cls(xp.asarray(W)), xp.asarray(h), xp.asarray(idx))
    report.assert_ok()
    assert set(report.errors) == {"h", "W"}


def test_embedding_dot_shape_errors(xp):
    layer = EmbeddingDot(xp.ones((4, 2)))
    with pytest.raises(ValueError, match=r"h \(N, H\)"):
        layer.forward(xp.ones((3, 2)), xp.asarray([0, 1]))


def test_scatter_rows_accumulates_repeats_also_on_strided_targets(xp):
    values = xp.asarray([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    idx = xp.asarray([2, 0, 2])
    expected = np.array([[3.0, 4.0], [0, 0], [6.0, 8.0], [0, 0]])
    target = xp.zeros((4, 2))
    scatter_rows(target, idx, values)
    np.testing.assert_allclose(backend.to_host(target), expected)
    wide = xp.zeros((4, 4))
    strided = wide[:, ::2]  # not contiguous: the row-wise path
    scatter_rows(strided, idx, values)
    np.testing.assert_allclose(backend.to_host(wide[:, ::2]), expected)


# --------------------------------------------------------------------------
# Row-sparse gradients in the optimizers
# --------------------------------------------------------------------------


def _sparse_problem(xp, rng, V=12, D=3):
    params = [xp.asarray(rng.standard_normal((V, D))), xp.asarray(rng.standard_normal((4,)))]
    rows = np.array([1, 4, 5, 9])
    g0 = np.zeros((V, D))
    g0[rows] = rng.standard_normal((len(rows), D))
    grads = [xp.asarray(g0), xp.asarray(rng.standard_normal((4,)))]
    return params, grads, [xp.asarray(rows), None]


def test_norms_scaling_and_clipping_read_only_the_rows(xp, rng):
    _, grads, rows = _sparse_problem(xp, rng)
    assert grad_norms(grads, rows) == pytest.approx(grad_norms(grads))
    dense = copy.deepcopy(grads)
    scale_grads(grads, 0.5, rows)
    scale_grads(dense, 0.5)
    for a, b in zip(grads, dense, strict=True):
        np.testing.assert_allclose(backend.to_host(a), backend.to_host(b))
    assert clip_grads_sparse(grads, 0.1, rows) == pytest.approx(clip_grads(dense, 0.1))
    np.testing.assert_allclose(backend.to_host(grads[0]), backend.to_host(dense[0]))
    with pytest.raises(ValueError, match="rows has 1 entries"):
        grad_norms(grads, rows[:1])


@pytest.mark.parametrize("make", [lambda: SGD(lr=0.1), lambda: AdaGrad(lr=0.1)])
def test_sgd_and_adagrad_row_updates_equal_dense_updates(xp, rng, make):
    params, grads, rows = _sparse_problem(xp, rng)
    dense_params = copy.deepcopy(params)
    sparse_opt, dense_opt = make(), make()
    for _ in range(3):
        sparse_opt.update(params, grads, rows=rows)
        dense_opt.update(dense_params, grads)
    for a, b in zip(params, dense_params, strict=True):
        np.testing.assert_allclose(backend.to_host(a), backend.to_host(b), rtol=1e-12)


def test_lazy_adam_moves_only_the_rows_given_and_follows_adam_there(xp, rng):
    params, grads, rows = _sparse_problem(xp, rng)
    before = [backend.to_host(p).copy() for p in params]
    opt = LazyAdam(lr=0.01)
    opt.update(params, grads, rows=rows)
    opt.update(params, grads, rows=rows)
    touched = backend.to_host(rows[0])
    untouched = np.setdiff1d(np.arange(before[0].shape[0]), touched)
    np.testing.assert_array_equal(backend.to_host(params[0])[untouched], before[0][untouched])
    # On the rows given (and on dense entries) it is Adam written out by hand.
    g = [backend.to_host(x) for x in grads]
    m = [(1 - 0.9) * x for x in g]
    v = [(1 - 0.999) * x * x for x in g]
    expected = [b.copy() for b in before]
    for t in (1, 2):
        if t == 2:
            m = [0.9 * a + 0.1 * x for a, x in zip(m, g, strict=True)]
            v = [0.999 * a + 0.001 * x * x for a, x in zip(v, g, strict=True)]
        lr_t = 0.01 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        for e, a, b in zip(expected, m, v, strict=True):
            e -= lr_t * a / (np.sqrt(b) + 1e-7)
    np.testing.assert_allclose(backend.to_host(params[0])[touched], expected[0][touched], rtol=1e-10)
    np.testing.assert_allclose(backend.to_host(params[1]), expected[1], rtol=1e-10)


def test_supports_rows():
    assert supports_rows(SGD()) and supports_rows(LazyAdam()) and supports_rows(AdaGrad())
    assert not supports_rows(Momentum()) and not supports_rows(Adam())
    assert not supports_rows(object())
