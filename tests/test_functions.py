"""Softmax, sigmoid and cross-entropy: values, and stability at ±1e4."""

from __future__ import annotations

import math

import numpy as np
import pytest

from course import backend
from course.functions import cross_entropy_error, log_softmax, sigmoid, softmax, softmax_cross_entropy


def test_known_values(xp):
    np.testing.assert_allclose(backend.to_host(sigmoid(xp.asarray([0.0, math.log(3.0)]))), [0.5, 0.75])
    np.testing.assert_allclose(
        backend.to_host(softmax(xp.asarray([0.0, math.log(2.0)]))), [1 / 3, 2 / 3], rtol=1e-12
    )
    uniform = xp.full((4, 5), 0.2)
    assert float(cross_entropy_error(uniform, xp.asarray([0, 1, 2, 3]))) == pytest.approx(math.log(5))


def test_softmax_rows_sum_to_one_and_match_the_formula(xp, rng):
    x = rng.standard_normal((6, 7)) * 3
    y = backend.to_host(softmax(xp.asarray(x)))
    direct = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(y, direct, rtol=1e-12)
    np.testing.assert_allclose(backend.to_host(log_softmax(xp.asarray(x))), np.log(direct), rtol=1e-12)


def test_labels_and_one_hot_give_the_same_loss(xp, rng):
    y = softmax(xp.asarray(rng.standard_normal((5, 4))))
    labels = xp.asarray([3, 0, 1, 1, 2])
    one_hot = xp.eye(4)[labels]
    assert float(cross_entropy_error(y, labels)) == pytest.approx(float(cross_entropy_error(y, one_hot)))
    assert float(cross_entropy_error(y[0], one_hot[0])) == pytest.approx(-math.log(float(y[0, 3])))


def test_bad_targets_are_a_clear_error(xp):
    y = xp.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match="integer class labels of shape"):
        cross_entropy_error(y, xp.asarray([0.5, 1.5]))


@pytest.mark.parametrize("big", [1e4, -1e4])
def test_huge_logits_stay_finite_without_warnings(xp, big):
    x = xp.asarray([[big, 0.0, -big], [0.0, big, 1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = backend.to_host(sigmoid(x))
        p = backend.to_host(softmax(x))
        loss = float(softmax_cross_entropy(x, xp.asarray([2, 1])))
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(p)) and math.isfinite(loss)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert s[0, 0] == (1.0 if big > 0 else 0.0)
    host = backend.to_host(x)
    expected = np.mean([np.logaddexp.reduce(host[i]) - host[i, label] for i, label in enumerate([2, 1])])
    assert loss == pytest.approx(expected, rel=1e-12)
