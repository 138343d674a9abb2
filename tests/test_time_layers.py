"""The Time* layers: gradient checks through all T steps and into the carried state,
agreement with the one-step cells, state handling, masking and dropout."""

from __future__ import annotations

import numpy as np
import pytest

import course
from course import backend
from course.gradcheck import check_layer
from course.layers import (
    GRU,
    LSTM,
    RNN,
    FusedTimeLSTM,
    FusedTimeRNN,
    TimeAffine,
    TimeBiLSTM,
    TimeDropout,
    TimeEmbedding,
    TimeGRU,
    TimeLSTM,
    TimeRNN,
    TimeSoftmaxWithLoss,
    WithInitialState,
)
from course.layers import time as time_layers

LSTMS = (TimeLSTM, FusedTimeLSTM)
RECURRENT = [
    (TimeRNN, RNN, 1),
    (FusedTimeRNN, RNN, 1),
    (TimeLSTM, LSTM, 4),
    (FusedTimeLSTM, LSTM, 4),
    (TimeGRU, GRU, 3),
]
SHAPES = [(1, 1, 1, 1), (2, 4, 3, 2), (3, 6, 2, 3)]  # N, T, D, H


def _arr(xp, rng, *shape, scale=1.0):
    return xp.asarray(rng.standard_normal(shape) * scale)


def _h(x):
    return backend.to_host(x)


def _recurrent(xp, rng, cls, gates, D, H, stateful=False):
    return cls(
        _arr(xp, rng, D, gates * H, scale=0.7),
        _arr(xp, rng, H, gates * H, scale=0.7),
        _arr(xp, rng, gates * H),
        stateful=stateful,
    )


def _state(xp, rng, cls, N, H):
    return (_arr(xp, rng, N, H), _arr(xp, rng, N, H)) if cls in LSTMS else (_arr(xp, rng, N, H),)


# --------------------------------------------------------------------- recurrent layers


@pytest.mark.parametrize("stateful", [False, True])
@pytest.mark.parametrize("N,T,D,H", SHAPES)
@pytest.mark.parametrize("cls,cell,gates", RECURRENT)
def test_recurrent_gradcheck_through_all_steps_into_the_initial_state(
    xp, rng, cls, cell, gates, N, T, D, H, stateful
):
    layer = _recurrent(xp, rng, cls, gates, D, H, stateful)
    xs = _arr(xp, rng, N, T, D)
    report = check_layer(WithInitialState(layer), xs, *_state(xp, rng, cls, N, H), max_coords=None)
    report.assert_ok()
    expected = {"xs", "h0", "Wx", "Wh", "b"} | ({"c0"} if cls in LSTMS else set())
    assert set(report.errors) == expected


@pytest.mark.parametrize("cls,cell,gates", RECURRENT)
def test_recurrent_gradcheck_of_the_plain_layer(xp, rng, cls, cell, gates):
    layer = _recurrent(xp, rng, cls, gates, 3, 4)
    check_layer(layer, _arr(xp, rng, 2, 5, 3)).assert_ok()


@pytest.mark.parametrize("cls,cell,gates", RECURRENT)
def test_time_layer_equals_stepping_the_cell(xp, rng, cls, cell, gates):
    N, T, D, H = 3, 5, 4, 2
    layer = _recurrent(xp, rng, cls, gates, D, H)
    xs, dhs = _arr(xp, rng, N, T, D), _arr(xp, rng, N, T, H)
    state = _state(xp, rng, cls, N, H)
    layer.set_state(*state)
    hs = layer.forward(xs)
    dxs = layer.backward(dhs)

    cells = [cell(*layer.params) for _ in range(T)]
    carry, outs = state, []
    for t in range(T):
        out = cells[t].forward(xs[:, t], *carry)
        carry = out if isinstance(out, tuple) else (out,)
        outs.append(carry[0])
    np.testing.assert_allclose(_h(hs), np.stack([_h(o) for o in outs], axis=1), rtol=1e-10, atol=1e-12)

    grads = [np.zeros_like(_h(g)) for g in layer.grads]
    dcarry = [xp.zeros_like(s) for s in state]
    dx_steps = [None] * T
    for t in reversed(range(T)):
        back = cells[t].backward(dhs[:, t] + dcarry[0], *dcarry[1:])
        dx_steps[t], dcarry = back[0], list(back[1:])
        grads = [acc + _h(g) for acc, g in zip(grads, cells[t].grads, strict=True)]
    np.testing.assert_allclose(_h(dxs), np.stack([_h(d) for d in dx_steps], axis=1), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(_h(layer.dh), _h(dcarry[0]), rtol=1e-9, atol=1e-12)
    if cls in LSTMS:
        np.testing.assert_allclose(_h(layer.dc), _h(dcarry[1]), rtol=1e-9, atol=1e-12)
    for got, want in zip(layer.grads, grads, strict=True):
        np.testing.assert_allclose(_h(got), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cls,cell,gates", RECURRENT)
def test_stateful_layer_carries_its_state_to_the_next_block(xp, rng, cls, cell, gates):
    N, D, H = 2, 3, 4
    xs = _arr(xp, rng, N, 7, D)
    whole = _recurrent(xp, np.random.default_rng(1), cls, gates, D, H, stateful=True)
    parts = _recurrent(xp, np.random.default_rng(1), cls, gates, D, H, stateful=True)
    expected = whole.forward(xs)
    got = np.concatenate([_h(parts.forward(xs[:, :3])), _h(parts.forward(xs[:, 3:]))], axis=1)
    np.testing.assert_allclose(got, _h(expected), rtol=1e-10, atol=1e-12)
    parts.reset_state()
    np.testing.assert_allclose(_h(parts.forward(xs[:, :3])), _h(expected[:, :3]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls,cell,gates", RECURRENT)
def test_stateless_layer_starts_each_call_from_zeros_or_the_set_state(xp, rng, cls, cell, gates):
    N, T, D, H = 2, 3, 3, 2
    layer = _recurrent(xp, rng, cls, gates, D, H, stateful=False)
    xs = _arr(xp, rng, N, T, D)
    first = _h(layer.forward(xs))
    np.testing.assert_allclose(_h(layer.forward(xs)), first)
    layer.set_state(*_state(xp, rng, cls, N, H))
    assert not np.allclose(_h(layer.forward(xs)), first)
    np.testing.assert_allclose(_h(layer.forward(xs)), first)  # the set state was used once


@pytest.mark.parametrize("cls,cell,gates", RECURRENT)
def test_carried_state_of_another_batch_size_is_explained(xp, rng, cls, cell, gates):
    layer = _recurrent(xp, rng, cls, gates, 3, 2, stateful=True)
    layer.forward(_arr(xp, rng, 4, 2, 3))
    with pytest.raises(ValueError, match="reset_state"):
        layer.forward(_arr(xp, rng, 1, 2, 3))
    layer.reset_state()
    assert layer.forward(_arr(xp, rng, 1, 2, 3)).shape == (1, 2, 2)


def test_set_state_with_a_cell_state_only_for_the_lstm(xp, rng):
    with pytest.raises(TypeError, match="no cell state"):
        _recurrent(xp, rng, TimeGRU, 3, 2, 2).set_state(_arr(xp, rng, 1, 2), _arr(xp, rng, 1, 2))


def test_fused_time_rnn_equals_the_plain_time_rnn(xp, rng):
    """FusedTimeRNN (one input product for all steps) computes exactly what TimeRNN (a cell per step) does.

    float64, random shapes; values, dxs, weight gradients and dh; a stateful pair over two
    calls (the state carried into the second), and a given initial state.
    """
    for N, T, D, H in [tuple(int(v) for v in rng.integers(1, 7, 4)) for _ in range(4)]:
        weights = [_arr(xp, rng, D, H, scale=0.7), _arr(xp, rng, H, H, scale=0.7), _arr(xp, rng, H)]
        plain = TimeRNN(*[w.copy() for w in weights], stateful=True)
        fused = FusedTimeRNN(*[w.copy() for w in weights], stateful=True)
        if N % 2:
            h0 = _arr(xp, rng, N, H)
            plain.set_state(h0)
            fused.set_state(h0.copy())
        for call in range(2):
            xs, dhs = _arr(xp, rng, N, T, D), _arr(xp, rng, N, T, H)
            hs, hs_fused = _h(plain.forward(xs)), _h(fused.forward(xs))
            assert hs.dtype == hs_fused.dtype == np.float64, (N, T, D, H, call)
            np.testing.assert_allclose(hs_fused, hs, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(_h(fused.h), _h(plain.h), rtol=1e-12, atol=1e-14)
            dxs, dxs_fused = _h(plain.backward(dhs)), _h(fused.backward(dhs))
            np.testing.assert_allclose(dxs_fused, dxs, rtol=1e-10, atol=1e-13)
            np.testing.assert_allclose(_h(fused.dh), _h(plain.dh), rtol=1e-10, atol=1e-13)
            for got, want in zip(fused.grads, plain.grads, strict=True):
                np.testing.assert_allclose(_h(got), _h(want), rtol=1e-10, atol=1e-13)
        plain.reset_state()
        fused.reset_state()
        assert plain.h is None and fused.h is None


def test_fused_time_lstm_equals_the_plain_time_lstm(xp, rng):
    """FusedTimeLSTM (feature-major, one input product) computes exactly what TimeLSTM (a cell per step) does.

    float64, random shapes; values, dxs, weight gradients, dh and dc; a stateful pair over two
    calls (h and c carried into the second), with and without a given initial state.
    """
    for N, T, D, H in [tuple(int(v) for v in rng.integers(1, 7, 4)) for _ in range(4)]:
        weights = [
            _arr(xp, rng, D, 4 * H, scale=0.7),
            _arr(xp, rng, H, 4 * H, scale=0.7),
            _arr(xp, rng, 4 * H),
        ]
        plain = TimeLSTM(*[w.copy() for w in weights], stateful=True)
        fused = FusedTimeLSTM(*[w.copy() for w in weights], stateful=True)
        given = N % 2 == 1
        if given:
            h0, c0 = _arr(xp, rng, N, H), _arr(xp, rng, N, H)
            plain.set_state(h0, c0)
            fused.set_state(h0.copy(), c0.copy())
        for call in range(2):
            xs, dhs = _arr(xp, rng, N, T, D), _arr(xp, rng, N, T, H)
            hs, hs_fused = _h(plain.forward(xs)), _h(fused.forward(xs))
            assert hs.dtype == hs_fused.dtype == np.float64, (N, T, D, H, call)
            np.testing.assert_allclose(hs_fused, hs, rtol=1e-12, atol=1e-14)
            for got, want in ((fused.h, plain.h), (fused.c, plain.c)):
                np.testing.assert_allclose(_h(got), _h(want), rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(
                _h(fused.backward(dhs)), _h(plain.backward(dhs)), rtol=1e-10, atol=1e-13
            )
            for got, want in zip(fused.grads, plain.grads, strict=True):
                np.testing.assert_allclose(_h(got), _h(want), rtol=1e-10, atol=1e-13)
            if given or call == 1:  # a zero start leaves the fused layer without state gradients
                np.testing.assert_allclose(_h(fused.dh), _h(plain.dh), rtol=1e-10, atol=1e-13)
                np.testing.assert_allclose(_h(fused.dc), _h(plain.dc), rtol=1e-10, atol=1e-13)
        plain.reset_state()
        fused.reset_state()
        assert plain.h is None and plain.c is None and fused.h is None and fused.c is None


def test_wrong_input_width_is_explained(xp, rng):
    with pytest.raises(ValueError, match=r"\(N, T, D\) with D = 3"):
        _recurrent(xp, rng, TimeLSTM, 4, 3, 2).forward(_arr(xp, rng, 2, 2, 5))


def test_float32_layers_stay_float32(xp, rng):
    layer = TimeLSTM(*(p.astype("float32") for p in _recurrent(xp, rng, TimeLSTM, 4, 3, 2).params))
    hs = layer.forward(_arr(xp, rng, 2, 3, 3).astype("float32"))
    assert hs.dtype == xp.float32 and hs.flags.c_contiguous
    assert layer.backward(xp.ones_like(hs)).dtype == xp.float32


def test_bilstm_gradcheck_and_directions(xp, rng):
    N, T, D, H = 2, 4, 3, 2
    weights = [_arr(xp, rng, *s, scale=0.7) for s in [(D, 4 * H), (H, 4 * H), (4 * H,)] * 2]
    xs = _arr(xp, rng, N, T, D)
    report = check_layer(TimeBiLSTM(*weights), xs, max_coords=None)
    report.assert_ok()
    assert len(report.rows) == 7
    out = _h(TimeBiLSTM(*weights).forward(xs))
    left = _h(FusedTimeLSTM(*weights[:3]).forward(xs))
    right = _h(FusedTimeLSTM(*weights[3:]).forward(xs[:, ::-1]))[:, ::-1]
    np.testing.assert_allclose(out, np.concatenate([left, right], axis=2), rtol=1e-12)


LENGTHS = [4, 0, 6, 1, 6]  # unsorted, with an empty row and rows running every step


@pytest.mark.parametrize("stateful", [False, True])
def test_lstm_with_lengths_gradcheck_through_all_steps_into_the_initial_state(xp, rng, stateful):
    N, T, D, H = len(LENGTHS), 6, 3, 2
    layer = _recurrent(xp, rng, FusedTimeLSTM, 4, D, H, stateful)
    xs = _arr(xp, rng, N, T, D)
    lengths = xp.asarray(LENGTHS)
    report = check_layer(
        WithInitialState(layer),
        xs,
        *_state(xp, rng, FusedTimeLSTM, N, H),
        forward_kwargs={"lengths": lengths},
    )
    report.assert_ok()
    assert set(report.errors) == {"xs", "h0", "c0", "Wx", "Wh", "b"}


def test_lstm_with_lengths_reads_each_row_alone_then_holds_its_state(xp, rng):
    N, T, D, H = len(LENGTHS), 6, 3, 4
    layer = _recurrent(xp, rng, FusedTimeLSTM, 4, D, H, stateful=True)
    xs = _arr(xp, rng, N, T, D)
    h0, c0 = _state(xp, rng, FusedTimeLSTM, N, H)
    layer.set_state(h0, c0)
    hs = _h(layer.forward(xs, lengths=xp.asarray(LENGTHS)))
    h_end, c_end = _h(layer.h), _h(layer.c)
    for n, L in enumerate(LENGTHS):
        alone = _recurrent(xp, rng, FusedTimeLSTM, 4, D, H, stateful=True)
        alone.params[:] = layer.params
        alone.set_state(h0[n : n + 1], c0[n : n + 1])
        if L:
            run = _h(alone.forward(xs[n : n + 1, :L]))[0]
            np.testing.assert_allclose(hs[n, :L], run, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(c_end[n], _h(alone.c)[0], rtol=1e-12, atol=1e-12)
            held = hs[n, L - 1]
        else:
            np.testing.assert_array_equal(c_end[n], _h(c0[n]))
            held = _h(h0[n])
        np.testing.assert_array_equal(hs[n, L:], np.broadcast_to(held, (T - L, H)))  # exactly held
        np.testing.assert_array_equal(h_end[n], held)


@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_lstm_from_no_state_equals_an_explicit_zero_state_without_state_gradients(xp, rng, lengths):
    """Starting from zeros skips step 0's products with Wh; nothing else may change."""
    N, T, D, H = len(LENGTHS), 6, 3, 4
    kwargs = {} if lengths is None else {"lengths": xp.asarray(lengths)}
    implicit = _recurrent(xp, rng, FusedTimeLSTM, 4, D, H)
    explicit = FusedTimeLSTM(*[p.copy() for p in implicit.params])
    xs, dhs = _arr(xp, rng, N, T, D), _arr(xp, rng, N, T, H)
    explicit.set_state(xp.zeros((N, H)), xp.zeros((N, H)))
    (out, dxs), (out0, dxs0) = [
        (_h(layer.forward(xs, **kwargs)), _h(layer.backward(dhs))) for layer in (implicit, explicit)
    ]
    np.testing.assert_allclose(out, out0, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dxs, dxs0, rtol=1e-12, atol=1e-14)
    for mine, theirs in zip(implicit.grads, explicit.grads, strict=True):
        np.testing.assert_allclose(_h(mine), _h(theirs), rtol=1e-12, atol=1e-14)
    assert implicit.dh is None and implicit.dc is None
    assert explicit.dh.shape == explicit.dc.shape == (N, H)


def test_lstm_outputs_survive_the_next_call(xp, rng):
    """The layer reuses its scratch arrays between calls; what it returns must not be one of them."""
    layer = _recurrent(xp, rng, FusedTimeLSTM, 4, 3, 2)
    for N, T in [(1, 1), (1, 4), (3, 4)]:
        first = layer.forward(_arr(xp, rng, N, T, 3))
        kept = _h(first).copy()
        dx = layer.backward(_arr(xp, rng, N, T, 2))
        kept_dx = _h(dx).copy()
        layer.forward(_arr(xp, rng, N, T, 3))
        layer.backward(_arr(xp, rng, N, T, 2))
        np.testing.assert_array_equal(_h(first), kept)
        np.testing.assert_array_equal(_h(dx), kept_dx)


def test_lstm_lengths_must_fit_the_batch(xp, rng):
    layer = _recurrent(xp, rng, FusedTimeLSTM, 4, 3, 2)
    xs = _arr(xp, rng, 2, 4, 3)
    for bad in ([1, 5], [1, -1], [1, 2, 3], [1.0, 2.0]):
        with pytest.raises(ValueError, match="lengths must be 2 integers between 0 and 4"):
            layer.forward(xs, lengths=xp.asarray(bad))


# ------------------------------------------------------------- embedding and affine


def test_embedding_picks_rows_and_adds_gradients_of_repeated_ids(xp, rng):
    W = _arr(xp, rng, 5, 3)
    ids = xp.asarray([[0, 2, 2], [4, 2, 0]])
    layer = TimeEmbedding(W)
    np.testing.assert_allclose(_h(layer.forward(ids)), _h(W)[_h(ids)])
    dout = _arr(xp, rng, 2, 3, 3)
    assert layer.backward(dout) is None
    d = _h(dout)
    want = np.zeros((5, 3))
    want[0], want[2], want[4] = d[0, 0] + d[1, 2], d[0, 1] + d[0, 2] + d[1, 1], d[1, 0]
    np.testing.assert_allclose(_h(layer.grads[0]), want, rtol=1e-12)
    check_layer(TimeEmbedding(W), ids, max_coords=None).assert_ok()


def test_embedding_accumulate_adds_to_what_is_there(xp, rng):
    layer = TimeEmbedding(_arr(xp, rng, 4, 2), accumulate=True)
    layer.grads[0][...] = 1.0
    layer.forward(xp.asarray([[1]]))
    layer.backward(xp.ones((1, 1, 2)))
    np.testing.assert_allclose(_h(layer.grads[0]), [[1, 1], [2, 2], [1, 1], [1, 1]])


@pytest.mark.parametrize("bad", [[[0, 7]], [[-1, 2]]])
def test_embedding_rejects_ids_outside_the_vocabulary(xp, rng, bad):
    with pytest.raises(ValueError, match=r"ids must lie in 0\.\.4"):
        TimeEmbedding(_arr(xp, rng, 5, 2)).forward(xp.asarray(bad))


def test_embedding_rejects_float_ids(xp, rng):
    with pytest.raises(TypeError, match="integers"):
        TimeEmbedding(_arr(xp, rng, 5, 2)).forward(xp.asarray([[0.0, 1.0]]))


@pytest.mark.parametrize("transposed", [False, True])
def test_time_affine_gradcheck_and_values(xp, rng, transposed):
    N, T, D, V = 2, 3, 4, 5
    W = _arr(xp, rng, V, D) if transposed else _arr(xp, rng, D, V)
    b, xs = _arr(xp, rng, V), _arr(xp, rng, N, T, D)
    out = TimeAffine(W, b, transposed=transposed).forward(xs)
    Wn = _h(W).T if transposed else _h(W)
    np.testing.assert_allclose(_h(out), _h(xs) @ Wn + _h(b), rtol=1e-12)
    report = check_layer(TimeAffine(W, b, transposed=transposed), xs, max_coords=None)
    report.assert_ok()
    assert set(report.errors) == {"xs", "W", "b"}


# ------------------------------------------------------------------ softmax loss


def _reference_loss(scores, labels):
    s = _h(scores).reshape(-1, scores.shape[-1])
    t = _h(labels).reshape(-1)
    logp = s - s.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    keep = t != -1
    return -logp[np.arange(len(t))[keep], t[keep]].mean()


def test_softmax_loss_is_the_mean_over_counted_tokens(xp, rng):
    scores = _arr(xp, rng, 3, 4, 6, scale=3.0)
    labels = xp.asarray(rng.integers(0, 6, (3, 4)))
    labels[0, 1] = -1
    labels[2, :] = -1
    loss = TimeSoftmaxWithLoss().forward(scores, labels)
    assert float(loss) == pytest.approx(_reference_loss(scores, labels), rel=1e-12)
    report = check_layer(TimeSoftmaxWithLoss(), scores, labels, max_coords=None)
    report.assert_ok()
    layer = TimeSoftmaxWithLoss()
    layer.forward(scores, labels)
    dx = _h(layer.backward())
    assert np.all(dx[2] == 0) and np.all(dx[0, 1] == 0)
    np.testing.assert_allclose(dx.sum(axis=-1), 0, atol=1e-15)


def test_softmax_loss_in_row_blocks_equals_all_at_once(xp, rng, monkeypatch):
    scores = _arr(xp, rng, 4, 5, 7, scale=2.0)
    labels = xp.asarray(rng.integers(0, 7, (4, 5)))
    whole = TimeSoftmaxWithLoss()
    loss = float(whole.forward(scores, labels))
    monkeypatch.setattr(time_layers, "_SOFTMAX_CHUNK_VALUES", 15)  # two rows per block
    blocks = TimeSoftmaxWithLoss()
    assert float(blocks.forward(scores, labels)) == pytest.approx(loss, rel=1e-14)
    np.testing.assert_allclose(_h(blocks.backward(2.0)), 2.0 * _h(whole.backward()), rtol=1e-14)
    check_layer(TimeSoftmaxWithLoss(), scores, labels).assert_ok()


def test_softmax_loss_stays_finite_for_huge_scores(xp):
    scores = xp.asarray([[[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]])
    layer = TimeSoftmaxWithLoss()
    loss = float(layer.forward(scores, xp.asarray([[1, 0]])))
    assert loss == pytest.approx((2e4 + 2e4 + np.log(2)) / 2)
    assert np.isfinite(_h(layer.backward())).all()


def test_softmax_loss_accepts_one_hot_labels(xp, rng):
    scores = _arr(xp, rng, 2, 3, 4)
    labels = xp.asarray(rng.integers(0, 4, (2, 3)))
    one_hot = xp.eye(4)[labels]
    a = float(TimeSoftmaxWithLoss().forward(scores, labels))
    assert float(TimeSoftmaxWithLoss().forward(scores, one_hot)) == pytest.approx(a)


def test_softmax_loss_with_every_label_ignored_is_zero(xp, rng):
    layer = TimeSoftmaxWithLoss()
    assert float(layer.forward(_arr(xp, rng, 1, 2, 3), xp.asarray([[-1, -1]]))) == 0.0
    assert float(abs(layer.backward()).sum()) == 0.0


@pytest.mark.parametrize("labels", [[[0, 3]], [[0, -2]]])
def test_softmax_loss_rejects_labels_outside_the_vocabulary(xp, rng, labels):
    with pytest.raises(ValueError, match="or -1 to ignore"):
        TimeSoftmaxWithLoss().forward(_arr(xp, rng, 1, 2, 3), xp.asarray(labels))


def test_softmax_loss_rejects_labels_of_the_wrong_shape(xp, rng):
    with pytest.raises(ValueError, match=r"labels must have shape \(1, 2\)"):
        TimeSoftmaxWithLoss().forward(_arr(xp, rng, 1, 2, 3), xp.asarray([[0, 1, 2]]))


# ------------------------------------------------------------------------ dropout


def test_dropout_is_inverted_and_off_at_evaluation(xp, rng):
    xs = xp.ones((20, 30, 40))
    layer = TimeDropout(0.25)
    out = _h(layer.forward(xs))
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(_h(layer.backward(xs)), out)
    layer.train_flg = False
    assert layer.forward(xs) is xs and layer.backward(xs) is xs
    assert TimeDropout(0.25).forward(xs, train_flg=False) is xs


def test_dropout_gradcheck_replays_the_same_mask(xp, rng):
    course.seed(3)
    report = check_layer(TimeDropout(0.4), _arr(xp, rng, 3, 4, 5), max_coords=None)
    report.assert_ok()


def test_dropout_ratio_must_be_below_one():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        TimeDropout(1.0)
