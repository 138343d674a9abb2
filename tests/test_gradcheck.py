"""The gradient checker itself: it must pass right layers and catch wrong ones."""

from __future__ import annotations

import random

import numpy as np
import pytest

import course
from course import backend
from course.gradcheck import check_layer, check_model, numerical_gradient, rel_error
from course.layers import Affine, Dropout, SoftmaxWithLoss
from course.models import TwoLayerNet


class WrongSignAffine(Affine):
    """dW with the wrong sign."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads[0][...] *= -1
        return dx


class MissingTermSigmoidLoss:
    """Sigmoid + squared error whose backward forgets the sigmoid's derivative."""

    def __init__(self, W):
        self.params, self.grads = [W], [np.zeros_like(W)]

    def forward(self, x):
        self.x = x
        self.y = 1 / (1 + np.exp(-(x @ self.params[0])))
        return self.y

    def backward(self, dout):
        W = self.params[0]
        local = dout  # missing: * self.y * (1 - self.y)
        self.grads[0][...] = self.x.T @ local
        return local @ W.T


class WrongAxisBiasAffine(Affine):
    """db summed over the wrong axis (then broadcast back to b's shape)."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads[1][...] = dout.sum(axis=1).mean()
        return dx


class NoInputGradient(Affine):
    def backward(self, dout):
        super().backward(dout)
        return None


class ReplacesGrads(Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads = [g.copy() for g in self.grads]
        return dx


def _data(rng, n=4, d=3, h=5):
    return rng.standard_normal((n, d)), rng.standard_normal((d, h)), rng.standard_normal(h)


def test_wrong_sign_is_caught_and_named(rng):
    x, W, b = _data(rng)
    report = check_layer(WrongSignAffine(W, b), x)
    assert not report.ok
    assert [r.name for r in report.failures] == ["W"]
    text = str(report)
    assert "W param gradient is wrong" in text and "at index" in text and "expected" in text
    with pytest.raises(AssertionError, match="W param gradient is wrong"):
        report.assert_ok()


def test_missing_term_is_caught(rng):
    x, W, _ = _data(rng)
    report = check_layer(MissingTermSigmoidLoss(W), x)
    assert {r.name for r in report.failures} == {"x", "params[0]"}
    assert all(r.error > 1e-2 for r in report.failures)


def test_wrong_axis_sum_is_caught_and_named(rng):
    x, W, b = _data(rng)
    report = check_layer(WrongAxisBiasAffine(W, b), x)
    assert [r.name for r in report.failures] == ["b"]


def test_missing_input_gradient_is_reported(rng):
    x, W, b = _data(rng)
    report = check_layer(NoInputGradient(W, b), x)
    assert not report.ok
    assert "backward returned no gradient for this input" in str(report)


def test_replacing_grads_breaks_the_contract(rng):
    x, W, b = _data(rng)
    report = check_layer(ReplacesGrads(W, b), x)
    assert not report.ok
    assert "self.grads[i][...] = value" in str(report)


def test_duplicate_params_are_a_contract_error(rng):
    _, W, b = _data(rng)
    layer = Affine(W, b)
    layer.params.append(W)
    layer.grads.append(np.zeros_like(W))
    report = check_layer(layer, rng.standard_normal((2, 3)))
    assert not report.ok and "same array as params[0]" in str(report)


def test_mismatched_params_and_grads(rng):
    _, W, b = _data(rng)
    layer = Affine(W, b)
    layer.grads.pop()
    assert "params has 2 arrays but grads has 1" in str(check_layer(layer, rng.standard_normal((2, 3))))


def test_the_original_layer_is_untouched(rng):
    x, W, b = _data(rng)
    W32 = W.astype(np.float32)
    layer = Affine(W32, b.astype(np.float32))
    before = W32.copy()
    check_layer(layer, x.astype(np.float32)).assert_ok()
    assert layer.params[0] is W32 and W32.dtype == np.float32
    np.testing.assert_array_equal(W32, before)
    assert layer.x is None  # the check ran on a copy


def test_random_state_is_replayed_and_restored(rng):
    course.seed(3)
    random.seed(3)
    before = (random.random(), np.random.rand(), float(backend.rng().random()))
    course.seed(3)
    random.seed(3)
    check_layer(Dropout(0.5), rng.standard_normal((5, 5))).assert_ok()
    after = (random.random(), np.random.rand(), float(backend.rng().random()))
    assert before == after


class GlobalRandomDropout:
    """A student-style dropout drawing from numpy's global generator."""

    def __init__(self):
        self.params, self.grads = [], []

    def forward(self, x):
        self.mask = np.random.rand(*x.shape) > 0.5
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


def test_layers_using_numpy_global_random_can_be_checked(rng):
    check_layer(GlobalRandomDropout(), rng.standard_normal((4, 6))).assert_ok()


def test_sampled_coordinates_for_large_arrays(rng):
    x, W, b = rng.standard_normal((3, 40)), rng.standard_normal((40, 30)), rng.standard_normal(30)
    report = check_layer(Affine(W, b), x, max_coords=25)
    report.assert_ok()
    row = next(r for r in report.rows if r.name == "W")
    assert (row.checked, row.size) == (25, 1200)
    assert "25/1200" in report.table()


def test_numerical_gradient_of_known_functions(rng):
    x = rng.standard_normal((3, 2))
    g = numerical_gradient(lambda z: float((z**2).sum()), x)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-8)
    v = np.array([0.3, -1.2])
    np.testing.assert_allclose(numerical_gradient(lambda z: float(np.sin(z).sum()), v), np.cos(v), rtol=1e-8)
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda z: float(z.sum()), x.astype(np.float32))


def test_rel_error():
    a = np.array([1.0, 2.0, 0.0])
    assert rel_error(a, a) == 0.0
    assert rel_error(a, -a) == pytest.approx(1.0)
    assert rel_error(np.array([1.0]), np.array([1.0 + 1e-9])) == pytest.approx(5e-10, rel=1e-3)
    assert rel_error(np.array([1.0, np.nan]), np.array([1.0, 1.0])) == np.inf
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(2), np.zeros(3))


def test_check_model_on_the_review_net(xp, rng):
    course.seed(1)
    net = TwoLayerNet(4, 6, 3)
    x = xp.asarray(rng.standard_normal((5, 4)), dtype=xp.float32)
    t = xp.asarray(rng.integers(0, 3, 5))
    report = check_model(net, x, t)
    report.assert_ok()
    assert list(report.errors) == ["W1", "b1", "W2", "b2"]


def test_loss_layer_check_uses_dout_one(xp, rng):
    x = xp.asarray(rng.standard_normal((3, 4)))
    report = check_layer(SoftmaxWithLoss(), x, xp.asarray([0, 3, 1]))
    assert report.ok and [r.name for r in report.rows] == ["x"]


def test_report_renders_html(rng):
    x, W, b = _data(rng)
    html = check_layer(WrongSignAffine(W, b), x)._repr_html_()
    assert "<table>" in html and "FAIL" in html
