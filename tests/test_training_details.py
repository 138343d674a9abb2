"""The Transformer's training details: the warm-up schedule and label smoothing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from course import backend, validate
from course.gradcheck import check_layer
from course.layers.time import TimeSoftmaxWithLoss
from course.optim import SGD, Adam, WarmupSchedule
from course.train import Trainer


def _scores_and_labels(xp, rng, n=3, t=4, v=6):
    labels = rng.integers(0, v, (n, t))
    labels[0, 2:] = -1  # ignored positions
    return xp.asarray(rng.standard_normal((n, t, v))), xp.asarray(labels)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5])
def test_label_smoothing_passes_gradcheck(xp, rng, eps):
    xs, ts = _scores_and_labels(xp, rng)
    check_layer(TimeSoftmaxWithLoss(label_smoothing=eps), xs, ts, dout=1.0).assert_ok()


def test_label_smoothing_is_the_cross_entropy_with_the_smoothed_target(xp, rng):
    eps, v = 0.2, 6
    xs, ts = _scores_and_labels(xp, rng, v=v)
    loss = float(TimeSoftmaxWithLoss(label_smoothing=eps).forward(xs, ts))
    s, t = backend.to_host(xs).reshape(-1, v), backend.to_host(ts).reshape(-1)
    logp = s - s.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    target = np.full(s.shape, eps / v)
    target[np.arange(len(t)), np.maximum(t, 0)] += 1 - eps
    expected = -(target * logp).sum(axis=1)[t != -1].mean()
    assert math.isclose(loss, expected, rel_tol=1e-10)
    assert float(TimeSoftmaxWithLoss().forward(xs, ts)) < loss  # smoothing raises the loss floor


def test_label_smoothing_must_be_a_rate():
    with pytest.raises(validate.InputError):
        TimeSoftmaxWithLoss(label_smoothing=1.0)


def test_warmup_rises_linearly_then_decays():
    inv = WarmupSchedule(SGD(lr=1.0), warmup_steps=4)
    assert [inv.rate(s) for s in (1, 2, 4)] == [0.25, 0.5, 1.0]
    assert math.isclose(inv.rate(16), 0.5)
    lin = WarmupSchedule(SGD(lr=1.0), warmup_steps=2, decay="linear", total_steps=6, min_rate=0.1)
    assert math.isclose(lin.rate(4), 0.1 + 0.9 * 0.5) and math.isclose(lin.rate(9), 0.1)
    assert WarmupSchedule(SGD(lr=1.0), warmup_steps=2, decay="constant").rate(50) == 1.0


def test_warmup_sets_the_wrapped_optimizers_lr_before_each_step(xp):
    adam = Adam(lr=0.01)
    schedule = WarmupSchedule(adam, warmup_steps=10)
    p, g = xp.zeros(3), xp.ones(3)
    lrs = []
    for _ in range(12):
        schedule.update([p], [g])
        lrs.append(schedule.current_lr)
    assert math.isclose(lrs[0], 0.001) and math.isclose(lrs[9], 0.01)
    assert math.isclose(lrs[11], 0.01 * math.sqrt(10 / 12))
    assert schedule.lr == 0.01 and schedule.step_count == 12 and adam.iter == 12


def test_warmup_rejects_bad_settings():
    with pytest.raises(validate.InputTypeError):
        WarmupSchedule(SGD, warmup_steps=3)
    with pytest.raises(validate.InputError):
        WarmupSchedule(SGD(), warmup_steps=3, decay="cosine")
    with pytest.raises(validate.InputError):
        WarmupSchedule(SGD(), warmup_steps=3, decay="linear", total_steps=2)


def test_trainer_steps_through_the_schedule(xp, rng):
    from course.models.two_layer_net import TwoLayerNet

    x = xp.asarray(rng.standard_normal((20, 2)))
    t = xp.asarray(np.eye(3)[rng.integers(0, 3, 20)])
    schedule = WarmupSchedule(Adam(lr=0.01), warmup_steps=3)
    Trainer(TwoLayerNet(2, 4, 3), schedule).fit(x, t, max_epoch=2, batch_size=5, progress=False)
    assert schedule.step_count == 8 and math.isclose(schedule.current_lr, 0.01 * math.sqrt(3 / 8))
