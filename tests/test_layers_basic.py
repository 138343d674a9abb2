"""The basic layers: values, the layer contract, and gradient checks on random shapes."""

from __future__ import annotations

import numpy as np
import pytest

from course import backend
from course.gradcheck import check_layer
from course.layers import (
    Affine,
    Dropout,
    MatMul,
    Relu,
    Sigmoid,
    SigmoidWithLoss,
    Softmax,
    SoftmaxWithLoss,
)

SHAPES = [(1, 1, 1), (2, 3, 4), (5, 7, 3), (9, 4, 6)]


def _arr(xp, rng, *shape):
    return xp.asarray(rng.standard_normal(shape))


@pytest.mark.parametrize("n,d,h", SHAPES)
def test_matmul_and_affine_pass_gradcheck(xp, rng, n, d, h):
    x, W, b = _arr(xp, rng, n, d), _arr(xp, rng, d, h), _arr(xp, rng, h)
    check_layer(MatMul(W), x).assert_ok()
    report = check_layer(Affine(W, b), x)
    report.assert_ok()
    assert set(report.errors) == {"x", "W", "b"}


def test_affine_accepts_leading_time_axis(xp, rng):
    x, W, b = _arr(xp, rng, 2, 3, 4), _arr(xp, rng, 4, 5), _arr(xp, rng, 5)
    layer = Affine(W, b)
    out = layer.forward(x)
    assert out.shape == (2, 3, 5)
    np.testing.assert_allclose(
        backend.to_host(out), backend.to_host(x) @ backend.to_host(W) + backend.to_host(b)
    )
    check_layer(Affine(W, b), x).assert_ok()


@pytest.mark.parametrize("layer_cls", [Sigmoid, Relu, Softmax])
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (4, 2)])
def test_activations_pass_gradcheck(xp, rng, layer_cls, shape):
    x = _arr(xp, rng, *shape)
    if layer_cls is Relu:  # keep inputs away from the kink at 0
        x = x + 0.1 * xp.sign(x)
    check_layer(layer_cls(), x).assert_ok()


def test_activation_values(xp):
    x = xp.asarray([[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(backend.to_host(Relu().forward(x)), [[0.0, 0.0, 3.0]])
    np.testing.assert_allclose(backend.to_host(Sigmoid().forward(x)), 1 / (1 + np.exp([[2.0, 0.0, -3.0]])))
    p = backend.to_host(Softmax().forward(x))
    np.testing.assert_allclose(p, np.exp([[-2.0, 0.0, 3.0]]) / np.exp([-2.0, 0.0, 3.0]).sum())


@pytest.mark.parametrize("n,c", [(1, 2), (4, 3), (10, 7)])
def test_softmax_with_loss_gradcheck_labels_and_one_hot(xp, rng, n, c):
    x = _arr(xp, rng, n, c)
    labels = xp.asarray(rng.integers(0, c, n))
    check_layer(SoftmaxWithLoss(), x, labels).assert_ok()
    one_hot = xp.eye(c)[labels]
    check_layer(SoftmaxWithLoss(), x, one_hot).assert_ok()
    a, b = SoftmaxWithLoss(), SoftmaxWithLoss()
    assert float(a.forward(x, labels)) == pytest.approx(float(b.forward(x, one_hot)))
    np.testing.assert_allclose(backend.to_host(a.backward()), backend.to_host(b.backward()))


def test_softmax_with_loss_value(xp):
    x = xp.asarray([[0.0, 0.0], [0.0, np.log(3.0)]])
    loss = SoftmaxWithLoss().forward(x, xp.asarray([0, 1]))
    assert float(loss) == pytest.approx((np.log(2) + np.log(4 / 3)) / 2)


@pytest.mark.parametrize("shape", [(1,), (6,), (3, 4)])
def test_sigmoid_with_loss_gradcheck(xp, rng, shape):
    x = _arr(xp, rng, *shape)
    t = xp.asarray((rng.random(shape) > 0.5).astype(float))
    check_layer(SigmoidWithLoss(), x, t).assert_ok()


def test_loss_layers_are_finite_for_huge_scores(xp):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        x = xp.asarray([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]])
        loss = float(SoftmaxWithLoss().forward(x, xp.asarray([1, 1])))
        assert loss == pytest.approx(1e4)
        s = SigmoidWithLoss()
        bl = float(s.forward(xp.asarray([1e4, -1e4]), xp.asarray([0.0, 0.0])))
        assert bl == pytest.approx(5e3)
        assert np.all(np.isfinite(backend.to_host(s.backward())))


def test_sigmoid_with_loss_rejects_mismatched_targets(xp):
    with pytest.raises(ValueError, match="targets t must have the shape"):
        SigmoidWithLoss().forward(xp.zeros(3), xp.zeros(4))


def test_dropout_gradcheck_with_seeded_masks(xp, rng):
    x = _arr(xp, rng, 6, 8)
    report = check_layer(Dropout(0.4), x)
    report.assert_ok()


def test_dropout_train_and_eval(xp):
    layer = Dropout(0.25)
    x = xp.ones((400, 500), dtype=xp.float32)
    y = layer.forward(x)
    kept = backend.to_host(y != 0)
    assert 0.73 < kept.mean() < 0.77
    np.testing.assert_allclose(backend.to_host(y)[kept], 1 / 0.75, rtol=1e-6)
    assert float(y.mean()) == pytest.approx(1.0, abs=0.01)  # inverted dropout keeps the mean
    assert layer.forward(x, train_flg=False) is x
    with pytest.raises(ValueError, match="dropout_ratio"):
        Dropout(1.0)


def test_backward_writes_gradients_in_place(xp, rng):
    W, b = _arr(xp, rng, 3, 2), _arr(xp, rng, 2)
    layer = Affine(W, b)
    held = list(layer.grads)  # what an optimizer holds
    layer.forward(_arr(xp, rng, 4, 3))
    layer.backward(_arr(xp, rng, 4, 2))
    assert all(g is h for g, h in zip(layer.grads, held, strict=True))
    assert float(abs(held[0]).sum()) > 0
    assert all(p.shape == g.shape for p, g in zip(layer.params, layer.grads, strict=True))


def test_float32_stays_float32(xp, rng):
    W = xp.asarray(rng.standard_normal((3, 2)), dtype=xp.float32)
    b = xp.zeros(2, dtype=xp.float32)
    x = xp.asarray(rng.standard_normal((4, 3)), dtype=xp.float32)
    layer = Affine(W, b)
    out = Sigmoid().forward(layer.forward(x))
    assert out.dtype == xp.float32
    assert layer.backward(out).dtype == xp.float32
