"""Trainer and History on the spiral data with the review network."""

from __future__ import annotations

import math

import numpy as np
import pytest

import course
from course import backend
from course.datasets import spiral
from course.models import TwoLayerNet
from course.optim import SGD
from course.train import History, Trainer, TrainingDivergedError


def test_spiral_data_is_deterministic_and_one_hot():
    x, t = spiral.load_data(seed=5)
    x2, _ = spiral.load_data(seed=5)
    assert x.shape == (300, 2) and t.shape == (300, 3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(t.sum(axis=1), 1.0)
    np.testing.assert_array_equal(t.sum(axis=0), 100)
    assert not np.array_equal(x, spiral.load_data(seed=6)[0])


def test_two_layer_net_learns_the_spiral(xp, capsys):
    course.seed(0)
    x, t = spiral.load_data()
    model = TwoLayerNet(2, 10, 3)
    trainer = Trainer(model, SGD(lr=1.0))
    history = trainer.fit(x, t, max_epoch=300, batch_size=30, eval_interval=10)
    assert model.accuracy(x, t) >= 0.9
    # The progress bar was drawn (tqdm writes to stderr).
    assert "training" in capsys.readouterr().err
    iters = 300 * (300 // 30)
    assert len(history) == iters
    assert history.param_norms.shape == (iters, 4)
    assert history.param_names == ["W1", "b1", "W2", "b2"]
    assert np.all(history.grad_norm > 0)
    np.testing.assert_allclose(history.grad_norm, history.grad_norm_clipped)  # no clipping asked
    assert history.loss[-50:].mean() < history.loss[:50].mean() / 2
    assert len(trainer.loss_list) == iters // 10


def test_clipping_is_recorded(xp):
    course.seed(0)
    x, t = spiral.load_data()
    trainer = Trainer(TwoLayerNet(2, 10, 3), SGD(lr=1.0))
    history = trainer.fit(x, t, max_epoch=5, batch_size=30, max_grad=0.05, progress=False)
    assert history.max_grad == 0.05
    assert np.all(history.grad_norm_clipped <= 0.05 + 1e-6)
    clipped = history.grad_norm > 0.05
    assert clipped.any()
    assert history.clipped_fraction == pytest.approx(clipped.mean())
    per_param_after = np.sqrt((history.param_norms_clipped**2).sum(axis=1))
    np.testing.assert_allclose(per_param_after, history.grad_norm_clipped, rtol=1e-9)
    np.testing.assert_allclose(history.norms_of("W2"), history.param_norms[:, 2])


def test_grad_norms_match_the_model_gradients(xp, rng):
    course.seed(0)
    x, t = spiral.load_data()
    model = TwoLayerNet(2, 10, 3)
    trainer = Trainer(model, SGD(lr=0.1))  # an update changes the params, never the grads
    history = trainer.fit(x[:30], t[:30], max_epoch=1, batch_size=30, progress=False)
    expected = [float(np.linalg.norm(backend.to_host(g))) for g in model.grads]
    np.testing.assert_allclose(history.param_norms[-1], expected, rtol=1e-5)


class Exploding:
    """A model whose loss turns to NaN on its third iteration."""

    param_names = ("w",)

    def __init__(self):
        self.params = [backend.xp().ones(2)]
        self.grads = [backend.xp().ones(2)]
        self.calls = 0

    def forward(self, x, t):
        self.calls += 1
        return math.nan if self.calls == 3 else 1.0

    def backward(self, dout=1):
        return None


def test_nan_loss_stops_training_with_a_clear_error(xp):
    x, t = spiral.load_data()
    trainer = Trainer(Exploding(), SGD())
    with pytest.raises(TrainingDivergedError, match=r"iteration 3 \(epoch 1\)"):
        trainer.fit(x, t, max_epoch=1, batch_size=30, progress=False)
    assert len(trainer.history) == 2  # the work before the failure is kept


def test_bad_fit_arguments(xp):
    x, t = spiral.load_data()
    trainer = Trainer(TwoLayerNet(2, 4, 3), SGD())
    with pytest.raises(ValueError, match="must match"):
        trainer.fit(x, t[:10])
    with pytest.raises(ValueError, match="larger than the 300 examples"):
        trainer.fit(x, t, batch_size=1000)


def test_history_plots():
    h = History(["a", "b"], max_grad=1.0)
    for i in range(5):
        h.record(loss=1.0 / (i + 1), norms=[3.0, 4.0], rate=0.2, epoch=1)
    h.record_eval(0.5)
    ax = h.plot()
    assert len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[0].get_ydata(), h.loss)
    ax2 = h.plot_grad_norms()
    np.testing.assert_allclose(ax2.lines[0].get_ydata(), 5.0)
    np.testing.assert_allclose(ax2.lines[1].get_ydata(), 1.0)
    with pytest.raises(KeyError, match="choose one of"):
        h.norms_of("c")
