"""One-step cells RNN, LSTM, GRU: values against the textbook formulas, gradient checks, errors."""

from __future__ import annotations

import numpy as np
import pytest

from course import backend
from course.gradcheck import check_layer
from course.layers import GRU, LSTM, RNN

SHAPES = [(1, 1, 1), (2, 3, 4), (4, 5, 3)]


def _arr(xp, rng, *shape, scale=1.0):
    return xp.asarray(rng.standard_normal(shape) * scale)


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def _h(x):
    return backend.to_host(x)


def test_rnn_forward_is_tanh_of_affine(xp, rng):
    x, h = _arr(xp, rng, 3, 4), _arr(xp, rng, 3, 5)
    Wx, Wh, b = _arr(xp, rng, 4, 5), _arr(xp, rng, 5, 5), _arr(xp, rng, 5)
    out = RNN(Wx, Wh, b).forward(x, h)
    np.testing.assert_allclose(_h(out), np.tanh(_h(x) @ _h(Wx) + _h(h) @ _h(Wh) + _h(b)), rtol=1e-12)


def test_lstm_forward_matches_the_gate_formulas(xp, rng):
    N, D, H = 3, 4, 2
    x, h, c = _arr(xp, rng, N, D), _arr(xp, rng, N, H), _arr(xp, rng, N, H)
    Wx, Wh, b = _arr(xp, rng, D, 4 * H), _arr(xp, rng, H, 4 * H), _arr(xp, rng, 4 * H)
    h_next, c_next = LSTM(Wx, Wh, b).forward(x, h, c)
    a = _h(x) @ _h(Wx) + _h(h) @ _h(Wh) + _h(b)
    i, f, g, o = _sig(a[:, :H]), _sig(a[:, H : 2 * H]), np.tanh(a[:, 2 * H : 3 * H]), _sig(a[:, 3 * H :])
    want_c = f * _h(c) + i * g
    np.testing.assert_allclose(_h(c_next), want_c, rtol=1e-12)
    np.testing.assert_allclose(_h(h_next), o * np.tanh(want_c), rtol=1e-12)


def test_gru_forward_matches_the_gate_formulas(xp, rng):
    N, D, H = 2, 3, 4
    x, h = _arr(xp, rng, N, D), _arr(xp, rng, N, H)
    Wx, Wh, b = _arr(xp, rng, D, 3 * H), _arr(xp, rng, H, 3 * H), _arr(xp, rng, 3 * H)
    out = GRU(Wx, Wh, b).forward(x, h)
    xh, hh, Wxh, Whh, bh = _h(x), _h(h), _h(Wx), _h(Wh), _h(b)
    z = _sig(xh @ Wxh[:, :H] + hh @ Whh[:, :H] + bh[:H])
    r = _sig(xh @ Wxh[:, H : 2 * H] + hh @ Whh[:, H : 2 * H] + bh[H : 2 * H])
    cand = np.tanh(xh @ Wxh[:, 2 * H :] + (r * hh) @ Whh[:, 2 * H :] + bh[2 * H :])
    np.testing.assert_allclose(_h(out), (1 - z) * hh + z * cand, rtol=1e-12)


@pytest.mark.parametrize("n,d,h", SHAPES)
def test_rnn_gradcheck(xp, rng, n, d, h):
    layer = RNN(_arr(xp, rng, d, h), _arr(xp, rng, h, h), _arr(xp, rng, h))
    report = check_layer(layer, _arr(xp, rng, n, d), _arr(xp, rng, n, h), max_coords=None)
    report.assert_ok()
    assert set(report.errors) == {"x", "h_prev", "Wx", "Wh", "b"}


@pytest.mark.parametrize("n,d,h", SHAPES)
def test_lstm_gradcheck_with_both_outputs(xp, rng, n, d, h):
    layer = LSTM(_arr(xp, rng, d, 4 * h), _arr(xp, rng, h, 4 * h), _arr(xp, rng, 4 * h))
    inputs = (_arr(xp, rng, n, d), _arr(xp, rng, n, h), _arr(xp, rng, n, h))
    report = check_layer(layer, *inputs, max_coords=None)
    report.assert_ok()
    assert set(report.errors) == {"x", "h_prev", "c_prev", "Wx", "Wh", "b"}


@pytest.mark.parametrize("n,d,h", SHAPES)
def test_gru_gradcheck(xp, rng, n, d, h):
    layer = GRU(_arr(xp, rng, d, 3 * h), _arr(xp, rng, h, 3 * h), _arr(xp, rng, 3 * h))
    report = check_layer(layer, _arr(xp, rng, n, d), _arr(xp, rng, n, h), max_coords=None)
    report.assert_ok()
    assert set(report.errors) == {"x", "h_prev", "Wx", "Wh", "b"}


def test_cells_write_grads_in_place(xp, rng):
    layer = LSTM(_arr(xp, rng, 3, 8), _arr(xp, rng, 2, 8), _arr(xp, rng, 8))
    before = [id(g) for g in layer.grads]
    layer.forward(_arr(xp, rng, 4, 3), _arr(xp, rng, 4, 2), _arr(xp, rng, 4, 2))
    layer.backward(_arr(xp, rng, 4, 2), _arr(xp, rng, 4, 2))
    assert [id(g) for g in layer.grads] == before
    assert all(float(abs(g).sum()) > 0 for g in layer.grads)


@pytest.mark.parametrize("cls,gates", [(RNN, 1), (LSTM, 4), (GRU, 3)])
def test_wrong_weight_shapes_are_explained(xp, rng, cls, gates):
    with pytest.raises(ValueError, match=r"Wx must be \(D, "):
        cls(_arr(xp, rng, 3, gates * 4 + 1), _arr(xp, rng, 4, gates * 4), _arr(xp, rng, gates * 4))
