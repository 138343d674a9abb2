"""UnigramSampler, NegativeSamplingLoss and its row-sparse version."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import course
from course import backend
from course.gradcheck import check_layer
from course.layers import NegativeSamplingLoss, SparseNegativeSamplingLoss, UnigramSampler

# Word w appears COUNTS[w] times; word 5 never appears.
COUNTS = np.array([40, 20, 10, 5, 1, 0, 24])


def _corpus(rng):
    return rng.permutation(np.repeat(np.arange(len(COUNTS)), COUNTS))


def test_sampler_shape_range_and_never_the_target(xp, rng):
    sampler = UnigramSampler(_corpus(rng), 0.75, 6)
    target = xp.asarray(np.tile([0, 1, 6, 4], 500))  # 0 is the most frequent word
    negative = sampler.get_negative_sample(target)
    assert negative.shape == (2000, 6) and backend.array_module(negative) is xp
    host = backend.to_host(negative)
    assert (host != backend.to_host(target)[:, None]).all()
    assert host.min() >= 0 and host.max() < len(COUNTS)
    assert not (host == 5).any()  # a word with no count is never drawn


def _frequencies(xp, rng, power, target_word, draws=40_000, sample_size=5):
    course.seed(3)
    sampler = UnigramSampler(_corpus(rng), power, sample_size)
    target = xp.full((draws // sample_size,), target_word, dtype=xp.int64)
    negative = backend.to_host(sampler.get_negative_sample(target)).ravel()
    return np.bincount(negative, minlength=len(COUNTS))


def _expected(power, target_word, total):
    weights = COUNTS.astype(float) ** power
    weights[target_word] = 0.0  # the target is excluded, the rest renormalised
    return total * weights / weights.sum()


@pytest.mark.parametrize("target_word", [0, 3])
def test_sampler_follows_count_to_the_power(xp, rng, target_word):
    observed = _frequencies(xp, rng, 0.75, target_word)
    expected = _expected(0.75, target_word, observed.sum())
    keep = expected > 0
    assert (observed[~keep] == 0).all()
    _, p_value = stats.chisquare(observed[keep], expected[keep])
    assert p_value > 1e-3
    # The same test tells the power apart: counts to the power 1 do not fit.
    _, p_wrong = stats.chisquare(observed[keep], _expected(1.0, target_word, observed.sum())[keep])
    assert p_wrong < 1e-6


def test_sampler_repeats_with_the_seed(xp, rng):
    sampler = UnigramSampler(_corpus(rng), 0.75, 5)
    target = xp.asarray([0, 1, 2, 3])
    course.seed(11)
    first = backend.to_host(sampler.get_negative_sample(target))
    course.seed(11)
    np.testing.assert_array_equal(backend.to_host(sampler.get_negative_sample(target)), first)
    course.seed(12)
    assert not np.array_equal(backend.to_host(sampler.get_negative_sample(target)), first)


def test_sampler_rejects_corpora_it_cannot_sample():
    with pytest.raises(ValueError, match="two different words"):
        UnigramSampler(np.array([3, 3, 3]), 0.75, 2)
    with pytest.raises(ValueError, match="integer word ids"):
        UnigramSampler(np.array([0.5, 1.0]), 0.75, 2)
    with pytest.raises(ValueError, match="sample_size"):
        UnigramSampler(np.array([0, 1]), 0.75, 0)


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def test_loss_value_is_the_sum_of_binary_cross_entropies(xp, rng):
    V, H, N, S = len(COUNTS), 4, 6, 3
    corpus = _corpus(rng)
    W, h = rng.standard_normal((V, H)), rng.standard_normal((N, H))
    target = rng.choice([0, 1, 2, 3, 4, 6], N)
    layer = NegativeSamplingLoss(xp.asarray(W), corpus, power=0.75, sample_size=S)
    course.seed(5)
    loss = float(layer.forward(xp.asarray(h), xp.asarray(target)))
    course.seed(5)  # the same negatives again, straight from a fresh sampler
    negative = backend.to_host(UnigramSampler(corpus, 0.75, S).get_negative_sample(xp.asarray(target)))
    expected = 0.0
    for n in range(N):
        expected -= _log_sigmoid(h[n] @ W[target[n]])
        expected -= sum(_log_sigmoid(-(h[n] @ W[w])) for w in negative[n])
    assert loss == pytest.approx(expected / N, rel=1e-10)


def test_loss_is_finite_for_huge_scores(xp, rng):
    layer = NegativeSamplingLoss(xp.full((len(COUNTS), 2), 100.0), _corpus(rng), sample_size=2)
    loss = float(layer.forward(xp.full((3, 2), 100.0), xp.asarray([0, 1, 2])))
    assert np.isfinite(loss) and loss > 1e4  # the negatives score 2e4: a huge but finite loss


@pytest.mark.parametrize("cls", [NegativeSamplingLoss, SparseNegativeSamplingLoss])
@pytest.mark.parametrize("sample_size", [1, 5])
def test_negative_sampling_loss_passes_gradcheck(xp, rng, sample_size, cls):
    V, H, N = len(COUNTS), 5, 7
    course.seed(1)
    layer = cls(xp.asarray(rng.standard_normal((V, H))), _corpus(rng), power=0.75, sample_size=sample_size)
    h = xp.asarray(rng.standard_normal((N, H)))
    target = xp.asarray(rng.choice([0, 1, 2, 3, 4, 6], N))
    report = check_layer(layer, h, target)
    report.assert_ok()
    assert set(report.errors) == {"h", "W"}
    if cls is NegativeSamplingLoss:
        return
    # Only the rows scored (targets and negatives) have a gradient.
    layer.forward(h, target)
    layer.backward()
    rows = set(backend.to_host(layer.grad_rows[0]).tolist())
    assert set(backend.to_host(target).tolist()) <= rows
    nonzero = set(np.flatnonzero(np.abs(backend.to_host(layer.grads[0])).sum(axis=1)).tolist())
    assert nonzero <= rows


def test_sparse_loss_equals_the_plain_loss(xp):
    """Same random state, same negatives: equal loss, dh and gradient of W, batch after batch."""
    gen = np.random.default_rng(9)
    for _ in range(4):
        corpus = _corpus(gen)
        V, H, N, K = len(COUNTS), int(gen.integers(1, 6)), int(gen.integers(1, 8)), int(gen.integers(1, 6))
        W = gen.standard_normal((V, H))
        plain = NegativeSamplingLoss(xp.asarray(W), corpus, sample_size=K)
        fast = SparseNegativeSamplingLoss(xp.asarray(W.copy()), corpus, sample_size=K)
        for dout in (1.0, 0.5):
            h = xp.asarray(gen.standard_normal((N, H)))
            target = xp.asarray(gen.choice([0, 1, 2, 3, 4, 6], N))
            snap = backend.rng_snapshot()
            want = float(plain.forward(h, target))
            backend.rng_restore(snap)
            assert float(fast.forward(h, target)) == pytest.approx(want, rel=1e-12)
            np.testing.assert_allclose(
                backend.to_host(fast.backward(dout)), backend.to_host(plain.backward(dout)), rtol=1e-12
            )
            np.testing.assert_allclose(
                backend.to_host(fast.grads[0]), backend.to_host(plain.grads[0]), rtol=1e-12
            )
        assert fast.grads[0] is fast.embed_dot.grads[0] and fast.grad_rows is fast.embed_dot.grad_rows


def test_negative_sampling_loss_shape_errors(xp, rng):
    layer = NegativeSamplingLoss(xp.ones((len(COUNTS), 2)), _corpus(rng))
    with pytest.raises(ValueError, match=r"target \(N,\)"):
        layer.forward(xp.ones((3, 2)), xp.asarray([[0], [1], [2]]))
    with pytest.raises(ValueError, match="W has only"):
        NegativeSamplingLoss(xp.ones((3, 2)), _corpus(rng))
