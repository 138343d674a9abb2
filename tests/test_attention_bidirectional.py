"""The bidirectional LSTM: reading backwards, the plain answer, its fast twin, and the encoder built on it."""

from __future__ import annotations

import numpy as np
import pytest

import course
from course import backend
from course.gradcheck import check_layer
from course.layers.bidirectional import BidirectionalLSTM, FusedBidirectionalLSTM, reverse_sequences
from course.layers.time_lstm import TimeBiLSTM, TimeLSTM
from course.models.attention_seq2seq import AttentionSeq2seq


def _weights(xp, rng, D, H):
    """Two directions' LSTM weights, O(1), float64."""
    one = lambda: [  # noqa: E731
        xp.asarray(rng.standard_normal((D, 4 * H)) / D**0.5),
        xp.asarray(rng.standard_normal((H, 4 * H)) / H**0.5),
        xp.asarray(rng.standard_normal(4 * H) * 0.5),
    ]
    return one() + one()


def _copies(arrays):
    return [a.copy() for a in arrays]


def _host(a):
    return backend.to_host(a)


def test_reverse_sequences_reads_each_row_backwards_and_undoes_itself(xp):
    xs = xp.arange(2 * 5 * 1).reshape(2, 5, 1)
    lengths = xp.asarray([5, 3])
    back = reverse_sequences(xs, lengths)
    np.testing.assert_array_equal(_host(back[:, :, 0]), [[4, 3, 2, 1, 0], [7, 6, 5, 8, 9]])
    np.testing.assert_array_equal(_host(reverse_sequences(back, lengths)), _host(xs))
    np.testing.assert_array_equal(_host(reverse_sequences(xs)), _host(xs[:, ::-1]))


@pytest.mark.parametrize("with_lengths", [False, True])
def test_bidirectional_lstm_passes_gradcheck(xp, rng, with_lengths):
    N, T, D, H = 3, 5, 2, 3
    layer = BidirectionalLSTM(*_weights(xp, rng, D, H))
    xs = xp.asarray(rng.standard_normal((N, T, D)))
    inputs = (xs, xp.asarray([5, 2, 1])) if with_lengths else (xs,)
    check_layer(layer, *inputs, max_coords=None).assert_ok()


def test_each_direction_is_an_lstm_reading_the_real_characters(xp, rng):
    N, T, D, H = 3, 6, 2, 4
    weights = _weights(xp, rng, D, H)
    xs = xp.asarray(rng.standard_normal((N, T, D)))
    lengths = [6, 4, 1]
    hs = _host(BidirectionalLSTM(*_copies(weights)).forward(xs, xp.asarray(lengths)))
    left = _host(TimeLSTM(*_copies(weights[:3])).forward(xs))
    np.testing.assert_allclose(hs[:, :, :H], left, rtol=1e-12)
    for n, length in enumerate(lengths):  # row n alone, reversed, read by the second LSTM
        alone = TimeLSTM(*_copies(weights[3:])).forward(xs[n : n + 1, :length][:, ::-1])
        np.testing.assert_allclose(hs[n, :length, H:], _host(alone)[0, ::-1], rtol=1e-12)


@pytest.mark.parametrize("N,T,D,H", [(1, 1, 1, 1), (2, 5, 3, 4), (4, 7, 2, 3), (3, 3, 5, 2)])
def test_fused_bidirectional_lstm_equals_the_plain_answer(xp, rng, N, T, D, H):
    """Values, the input gradient and every weight gradient, float64.

    Without lengths, everywhere. With lengths, the fused layer skips the padding:
    the same values at every real position, and the same gradients when dhs is
    zero at the padding (what attention's mask gives it).
    """
    weights = _weights(xp, rng, D, H)
    xs = xp.asarray(rng.standard_normal((N, T, D)))
    lengths = rng.integers(1, T + 1, N)
    lengths[0] = T  # one full row, and (when N > 1) padded ones
    real = (np.arange(T)[None, :] < lengths[:, None])[:, :, None]
    dhs = rng.standard_normal((N, T, 2 * H))
    for L, keep in ((None, np.ones_like(real)), (xp.asarray(lengths), real)):
        plain, fused = BidirectionalLSTM(*_copies(weights)), FusedBidirectionalLSTM(*_copies(weights))
        hs_plain, hs_fused = _host(plain.forward(xs, L)), _host(fused.forward(xs, L))
        np.testing.assert_allclose(hs_fused * keep, hs_plain * keep, rtol=1e-10, atol=1e-14)
        dout = xp.asarray(dhs * keep)
        dx_plain, dx_fused = plain.backward(dout), fused.backward(dout)
        np.testing.assert_allclose(_host(dx_fused), _host(dx_plain), rtol=1e-9, atol=1e-12)
        for g_fused, g_plain in zip(fused.grads, plain.grads, strict=True):
            np.testing.assert_allclose(_host(g_fused), _host(g_plain), rtol=1e-9, atol=1e-12)


def test_fused_bidirectional_lstm_passes_gradcheck_with_padding(xp, rng):
    layer = FusedBidirectionalLSTM(*_weights(xp, rng, 2, 3))
    xs = xp.asarray(rng.standard_normal((3, 5, 2)))
    check_layer(layer, xs, xp.asarray([5, 2, 1]), max_coords=None).assert_ok()


def test_time_bi_lstm_computes_the_same_without_padding(xp, rng):
    weights = _weights(xp, rng, 3, 2)
    xs = xp.asarray(rng.standard_normal((2, 4, 3)))
    dhs = xp.asarray(rng.standard_normal((2, 4, 4)))
    plain, twin = BidirectionalLSTM(*_copies(weights)), TimeBiLSTM(*_copies(weights))
    np.testing.assert_allclose(_host(twin.forward(xs)), _host(plain.forward(xs)), rtol=1e-10)
    np.testing.assert_allclose(_host(twin.backward(dhs)), _host(plain.backward(dhs)), rtol=1e-9, atol=1e-12)


def test_the_model_trains_the_same_with_the_plain_answer_inside(xp, rng):
    x = xp.asarray(rng.integers(1, 9, (3, 6)))
    x[1, 4:] = 0  # padding
    t = xp.asarray(rng.integers(1, 9, (3, 4)))
    losses, grads = [], []
    for layer in (FusedBidirectionalLSTM, BidirectionalLSTM):
        course.seed(5)
        model = AttentionSeq2seq(9, 4, 6, pad_id=0, bidirectional=True, bilstm=layer)
        losses.append(float(model.forward(x, t)))
        model.backward()
        grads.append([_host(g).copy() for g in model.grads])
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    for fused, plain in zip(*grads, strict=True):
        np.testing.assert_allclose(fused, plain, rtol=1e-3, atol=1e-6)


def test_bad_lengths_are_a_clear_error(rng):
    layer = BidirectionalLSTM(*_weights(np, rng, 2, 3))
    with pytest.raises(ValueError, match="lengths must be 2 integers between 1 and T = 4"):
        layer.forward(rng.standard_normal((2, 4, 2)), np.array([0, 4]))
