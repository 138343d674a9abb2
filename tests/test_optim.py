"""Optimizers: the first two steps against values worked out by hand; clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from course import backend
from course.optim import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop, clip_grads, clip_grads_sparse

# p0 = [1, -2]; g1 = [0.5, -1]; g2 = [0.25, 0.5]. Expected values were worked out by
# hand from each method's update rule (see the comments), not by running the code.
HAND_COMPUTED = [
    # p1 = p0 - 0.1 g1; p2 = p1 - 0.1 g2
    (SGD, {"lr": 0.1}, [0.95, -1.9], [0.925, -1.95]),
    # v1 = -0.1 g1 = [-0.05, 0.1]; v2 = 0.9 v1 - 0.1 g2 = [-0.07, 0.04]
    (Momentum, {"lr": 0.1, "momentum": 0.9}, [0.95, -1.9], [0.88, -1.86]),
    # p1 = p0 + 0.9 v1 - 0.1 g1; p2 = p1 + 0.9 v2 - 0.1 g2
    (Nesterov, {"lr": 0.1, "momentum": 0.9}, [0.905, -1.81], [0.817, -1.824]),
    # h1 = [0.25, 1]: step 0.1 * sign; h2 = [0.3125, 1.25]: step 0.1 * 0.25 / sqrt(0.3125) = 0.0447214
    (AdaGrad, {"lr": 0.1}, [0.9, -1.9], [0.8552786, -1.9447214]),
    # h1 = 0.01 g1^2 = [0.0025, 0.01]: step 0.1 * 10; h2 = [0.0031, 0.0124]: step 0.1 * 4.4901326
    (RMSprop, {"lr": 0.1, "decay_rate": 0.99}, [0.0, -1.0], [-0.4490133, -1.4490133]),
    # first Adam step is lr * sign(g); then m2 = [0.07, -0.04], v2 = [3.1225e-4, 1.249e-3],
    # lr_t = 0.1 sqrt(1 - 0.999^2) / (1 - 0.9^2) = 0.0235317
    (Adam, {"lr": 0.1}, [0.9, -1.9], [0.8067820, -1.8733663]),
]


@pytest.mark.parametrize(
    "cls,kwargs,after1,after2", HAND_COMPUTED, ids=[c[0].__name__ for c in HAND_COMPUTED]
)
def test_first_two_steps(xp, cls, kwargs, after1, after2):
    p = xp.asarray([1.0, -2.0])
    g = xp.zeros(2)
    opt = cls(**kwargs)
    # Tolerance 1e-5: the 1e-7 epsilon in the adaptive methods shifts values by ~2e-6.
    g[...] = xp.asarray([0.5, -1.0])
    opt.update([p], [g])
    np.testing.assert_allclose(backend.to_host(p), after1, rtol=1e-5, atol=1e-5)
    g[...] = xp.asarray([0.25, 0.5])
    opt.update([p], [g])
    np.testing.assert_allclose(backend.to_host(p), after2, rtol=1e-5, atol=1e-5)


def test_update_is_in_place_and_keeps_dtype(xp):
    p = xp.ones((2, 2), dtype=xp.float32)
    ref = p
    Adam().update([p], [xp.ones((2, 2), dtype=xp.float32)])
    assert p is ref and p.dtype == xp.float32 and float(p[0, 0]) < 1.0


def test_mismatched_lists_are_a_clear_error(xp):
    with pytest.raises(ValueError, match="same order, same length"):
        SGD().update([xp.ones(2)], [])


def test_clip_grads_returns_the_norm_before_and_rescales(xp):
    grads = [xp.asarray([3.0, 0.0]), xp.asarray([[0.0], [4.0]])]
    norm = clip_grads(grads, max_norm=1.0)
    assert norm == pytest.approx(5.0)
    clipped = math.sqrt(sum(float((g**2).sum()) for g in grads))
    assert clipped == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(backend.to_host(grads[0]), [0.6, 0.0], rtol=1e-5)


def test_clip_grads_leaves_small_gradients_alone(xp):
    grads = [xp.asarray([0.3, 0.4])]
    assert clip_grads(grads, max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_allclose(backend.to_host(grads[0]), [0.3, 0.4])


@pytest.mark.parametrize("max_norm", [0.05, 1.0, 1e6])
def test_clip_grads_sparse_equals_clip_grads(xp, max_norm):
    """Row-sparse clipping (only the listed rows are nonzero) gives the plain answer's norm and arrays."""
    gen = np.random.default_rng(7)
    shapes = [(6, 3), (4,), (2, 3, 2)]
    host = [gen.standard_normal(s) for s in shapes]
    host[0][[1, 3, 4]] = 0.0  # an embedding gradient: rows 0, 2 and 5 were touched
    plain = [xp.asarray(g.copy()) for g in host]
    sparse = [xp.asarray(g.copy()) for g in host]
    rows = [xp.asarray([0, 2, 5]), None, None]
    assert clip_grads_sparse(sparse, max_norm, rows) == pytest.approx(clip_grads(plain, max_norm), rel=1e-12)
    for a, b in zip(sparse, plain, strict=True):
        np.testing.assert_allclose(backend.to_host(a), backend.to_host(b), rtol=1e-12)
