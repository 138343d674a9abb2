"""The Transformer's layers: gradient checks with and without masks, and what each layer promises."""

from __future__ import annotations

import numpy as np
import pytest

from course import backend, validate
from course.gradcheck import check_layer
from course.layers import (
    Gelu,
    LayerNorm,
    MultiHeadAttention,
    PositionalEmbedding,
    PositionalEncoding,
    PositionwiseFeedForward,
    ScaledDotProductAttention,
    causal_mask,
    merge_heads,
    sinusoidal_encoding,
    split_heads,
)

SHAPES = [(1, 1, 1, 1), (2, 3, 5, 4), (3, 4, 2, 3)]  # N, Tq, Tk, d


def _normal(xp, rng, *shape):
    return xp.asarray(rng.standard_normal(shape))


def _padding(xp, rng, N, Tk):
    """(N, Tk) booleans with at least the first key real in every row."""
    real = rng.random((N, Tk)) > 0.4
    real[:, 0] = True
    return xp.asarray(real)


def _host(a):
    return backend.to_host(a)


@pytest.mark.parametrize("N,Tq,Tk,d", SHAPES)
@pytest.mark.parametrize("masking", ["none", "padding", "causal"])
def test_scaled_attention_passes_gradcheck(xp, rng, N, Tq, Tk, d, masking):
    if masking == "causal":
        Tk = Tq
    q, k, v = _normal(xp, rng, N, Tq, d), _normal(xp, rng, N, Tk, d), _normal(xp, rng, N, Tk, d + 1)
    mask = {"none": None, "padding": None, "causal": causal_mask(Tq)}[masking]
    if masking == "padding":
        mask = _padding(xp, rng, N, Tk)[:, None, :]  # (N, 1, Tk)
    check_layer(ScaledDotProductAttention(), q, k, v, mask, max_coords=None).assert_ok()


def test_scaled_attention_with_heads_and_a_four_axis_padding_mask(xp, rng):
    N, h, T, d = 2, 3, 4, 2
    q, k, v = (_normal(xp, rng, N, h, T, d) for _ in range(3))
    mask = _padding(xp, rng, N, T)[:, None, None, :]  # (N, 1, 1, Tk)
    layer = ScaledDotProductAttention()
    check_layer(layer, q, k, v, mask & causal_mask(T)).assert_ok()
    layer.forward(q, k, v, mask & causal_mask(T))
    assert layer.attention_weights.shape == (N, h, T, T)


def test_masked_keys_get_zero_weight_and_a_fully_masked_query_gets_zeros_not_nan(xp, rng):
    N, T, d = 2, 3, 4
    q, k, v = (_normal(xp, rng, N, T, d) for _ in range(3))
    mask = xp.asarray(np.array([[True, False, True], [False, False, False]])[:, None, :])
    layer = ScaledDotProductAttention()
    out = _host(layer.forward(q, k, v, mask))
    a = _host(layer.attention_weights)
    np.testing.assert_array_equal(a[0, :, 1], 0.0)
    np.testing.assert_allclose(a[0].sum(axis=-1), 1.0)
    np.testing.assert_array_equal(a[1], 0.0)
    np.testing.assert_array_equal(out[1], 0.0)
    dq, dk, dv = (_host(g) for g in layer.backward(xp.ones((N, T, d))))
    assert np.isfinite(dq).all() and np.isfinite(dk).all() and np.isfinite(dv).all()


def test_causal_mask_lets_each_position_see_itself_and_the_past(xp):
    m = causal_mask(4)
    assert backend.array_module(m) is xp and m.dtype == bool
    np.testing.assert_array_equal(_host(m), np.tril(np.ones((4, 4), dtype=bool)))


def test_the_causal_mask_blocks_the_future(xp, rng):
    """Changing the token at position s changes no output before s."""
    N, T, D, s = 2, 6, 8, 3
    layer = MultiHeadAttention(D, 2, dtype="float64")
    x = _normal(xp, rng, N, T, D)
    y = x.copy()
    y[:, s:] = _normal(xp, rng, N, T - s, D)
    before = _host(layer.forward(x, x, causal_mask(T)))
    after = _host(layer.forward(y, y, causal_mask(T)))
    np.testing.assert_allclose(after[:, :s], before[:, :s], rtol=1e-12, atol=1e-12)
    assert np.abs(after[:, s:] - before[:, s:]).min() > 0


@pytest.mark.parametrize("N,Tq,Tk,D,h", [(1, 1, 1, 2, 1), (2, 3, 4, 8, 4)])
@pytest.mark.parametrize("masking", ["none", "padding", "causal"])
def test_multi_head_attention_passes_gradcheck(xp, rng, N, Tq, Tk, D, h, masking):
    layer = MultiHeadAttention(D, h, dtype="float64")
    for p in layer.params[1::2]:  # non-zero biases, so their gradients are checked too
        p[...] = _normal(xp, rng, *p.shape)
    if masking == "causal":
        Tk = Tq
    mask = {"none": None, "padding": _padding(xp, rng, N, Tk)[:, None, :], "causal": causal_mask(Tq)}[masking]
    x_q, x_kv = _normal(xp, rng, N, Tq, D), _normal(xp, rng, N, Tk, D)
    check_layer(layer, x_q, x_kv, mask, max_coords=16).assert_ok()
    layer.forward(x_q, x_kv, mask)
    assert layer.attention_weights.shape == (N, h, Tq, Tk)


def test_one_head_is_scaled_attention_after_the_projections(xp, rng):
    N, Tq, Tk, D = 2, 3, 4, 5
    layer = MultiHeadAttention(D, 1, dtype="float64")
    Wq, bq, Wk, bk, Wv, bv, Wo, bo = layer.params
    x_q, x_kv = _normal(xp, rng, N, Tq, D), _normal(xp, rng, N, Tk, D)
    mask = _padding(xp, rng, N, Tk)[:, None, :]
    plain = ScaledDotProductAttention().forward(x_q @ Wq + bq, x_kv @ Wk + bk, x_kv @ Wv + bv, mask)
    np.testing.assert_allclose(_host(layer.forward(x_q, x_kv, mask)), _host(plain @ Wo + bo), rtol=1e-12)


def test_split_and_merge_heads_cut_the_features_and_undo_each_other(xp, rng):
    x = _normal(xp, rng, 2, 3, 6)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 3, 2)
    np.testing.assert_array_equal(_host(heads[:, 1]), _host(x[:, :, 2:4]))
    np.testing.assert_array_equal(_host(merge_heads(heads)), _host(x))


def test_without_positions_self_attention_only_permutes_with_its_input(xp, rng):
    N, T, D = 2, 5, 4
    layer = MultiHeadAttention(D, 2, dtype="float64")
    x = _normal(xp, rng, N, T, D)
    perm = rng.permutation(T)
    out = _host(layer.forward(x, x))
    out_perm = _host(layer.forward(x[:, perm], x[:, perm]))
    np.testing.assert_allclose(out_perm, out[:, perm], rtol=1e-10)
    encode = PositionalEncoding(T, D, dtype="float64")
    xe, xpe = encode.forward(x), encode.forward(x[:, perm])
    assert not np.allclose(_host(layer.forward(xpe, xpe)), _host(layer.forward(xe, xe))[:, perm])


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 3, 4), (3, 5)])
def test_layer_norm_passes_gradcheck_and_normalizes_each_vector(xp, rng, shape):
    layer = LayerNorm(shape[-1], dtype="float64")
    x = _normal(xp, rng, *shape) * 3 + 2
    y = _host(layer.forward(x))
    if shape[-1] > 1:
        np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-12)
        np.testing.assert_allclose(y.var(axis=-1), 1.0, rtol=1e-4)
    layer.params[0][...] = _normal(xp, rng, shape[-1])
    layer.params[1][...] = _normal(xp, rng, shape[-1])
    check_layer(layer, x, max_coords=None).assert_ok()


def test_sinusoidal_encoding_follows_the_sines_and_cosines(xp):
    T, D = 6, 5
    pe = _host(sinusoidal_encoding(T, D, dtype="float64"))
    p = np.arange(T)[:, None]
    freq = 1.0 / 10000.0 ** (np.arange(0, D, 2) / D)
    np.testing.assert_allclose(pe[:, 0::2], np.sin(p * freq), rtol=1e-12)
    np.testing.assert_allclose(pe[:, 1::2], np.cos(p * freq[: D // 2]), rtol=1e-12)


def test_positional_layers_pass_gradcheck(xp, rng):
    x = _normal(xp, rng, 2, 3, 4)
    encode = PositionalEncoding(5, 4, dtype="float64")
    table = _host(sinusoidal_encoding(3, 4, "float64"))
    np.testing.assert_allclose(_host(encode.forward(x) - x), np.broadcast_to(table, (2, 3, 4)))
    check_layer(encode, x).assert_ok()
    learned = PositionalEmbedding(5, 4, dtype="float64")
    check_layer(learned, x, max_coords=None).assert_ok()
    learned.forward(x)
    learned.backward(xp.ones((2, 3, 4)))
    np.testing.assert_array_equal(_host(learned.grads[0])[3:], 0.0)


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_feed_forward_passes_gradcheck(xp, rng, activation):
    layer = PositionwiseFeedForward(3, 5, activation, dtype="float64")
    layer.params[1][...] = _normal(xp, rng, 5) * 0.5
    check_layer(layer, _normal(xp, rng, 2, 4, 3), max_coords=None).assert_ok()


def test_gelu_is_close_to_x_times_the_normal_cdf(xp, rng):
    from math import erf, sqrt

    x = np.linspace(-4, 4, 33)
    exact = np.array([0.5 * v * (1 + erf(v / sqrt(2))) for v in x])
    layer = Gelu()
    np.testing.assert_allclose(_host(layer.forward(xp.asarray(x))), exact, atol=1e-3)
    check_layer(Gelu(), _normal(xp, rng, 3, 4), max_coords=None).assert_ok()


def test_bad_inputs_are_errors_in_words(xp, rng):
    with pytest.raises(validate.ShapeError, match=r"D = 4"):
        LayerNorm(4).forward(_normal(xp, rng, 2, 3, 5))
    with pytest.raises(validate.ShapeError, match=r"D = 6"):
        MultiHeadAttention(6, 2).forward(_normal(xp, rng, 2, 3, 4), _normal(xp, rng, 2, 3, 4))
    with pytest.raises(validate.InputError, match="multiple"):
        MultiHeadAttention(6, 4)
    q = _normal(xp, rng, 2, 3, 4)
    with pytest.raises(validate.ShapeError, match=r"\(2, 5, 4\)"):
        ScaledDotProductAttention().forward(q, _normal(xp, rng, 2, 5, 3), _normal(xp, rng, 2, 5, 4))
    with pytest.raises(validate.ShapeError, match="broadcast"):
        ScaledDotProductAttention().forward(q, q, q, causal_mask(4))
    with pytest.raises(validate.InputTypeError, match="booleans"):
        ScaledDotProductAttention().forward(q, q, q, xp.ones((3, 3)))
    with pytest.raises(validate.InputError, match="eps"):
        LayerNorm(4, eps=0.0)
    with pytest.raises(validate.CallOrderError):
        LayerNorm(4).backward(_normal(xp, rng, 2, 4))
    with pytest.raises(validate.ShapeError, match="max_len = 2"):
        PositionalEncoding(2, 4).forward(q)
    with pytest.raises(validate.ShapeError, match="multiple"):
        split_heads(q, 3)
