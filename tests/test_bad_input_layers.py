"""Layers given what a student gets wrong: one clear error, never a wrong number.

Every case is written the way a student hits it in a notebook; each checks
the exception type and a phrase of its message (what was given, what was
expected, what to do).
"""

from __future__ import annotations

import numpy as np
import pytest

from course import validate
from course.functions import cross_entropy_error, softmax_cross_entropy
from course.gradcheck import check_layer
from course.layers import (
    GRU,
    LSTM,
    RNN,
    Affine,
    Embedding,
    EmbeddingDot,
    MatMul,
    NegativeSamplingLoss,
    Relu,
    Sigmoid,
    SigmoidWithLoss,
    Softmax,
    SoftmaxWithLoss,
    TimeAffine,
    TimeBiLSTM,
    TimeDropout,
    TimeEmbedding,
    TimeGRU,
    TimeLSTM,
    TimeRNN,
    TimeSoftmaxWithLoss,
)
from course.layers.attention import AttentionWeight, TimeAttention, WeightSum

R = np.random.default_rng(7)


def f(*shape):
    return R.standard_normal(shape)


def ids(*values):
    return np.array(values)


def _ran(layer, *inputs):
    layer.forward(*inputs)
    return layer


# ---------------------------------------------------------------- silently wrong before


@pytest.mark.parametrize(
    "call",
    [
        lambda: Embedding(f(5, 2)).forward(ids(0, -1)),
        lambda: TimeEmbedding(f(5, 2)).forward(ids([0, -1])),
        lambda: EmbeddingDot(f(5, 2)).forward(f(2, 2), ids(3, -1)),
        lambda: NegativeSamplingLoss(f(5, 2), ids(0, 1, 2, 3, 4)).forward(f(2, 2), ids(0, -1)),
    ],
)
def test_a_negative_word_id_is_refused_not_read_from_the_end(call):
    with pytest.raises(validate.IdRangeError, match=r"must lie in 0\.\.4.*negative id would silently pick"):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: Embedding(f(5, 2)).forward(ids(0, 5)),
        lambda: TimeEmbedding(f(5, 2)).forward(ids([4, 7])),
        lambda: EmbeddingDot(f(5, 2)).forward(f(2, 2), ids(3, 5)),
    ],
)
def test_ids_past_the_vocabulary_name_the_range_and_the_fix(call):
    with pytest.raises(validate.IdRangeError, match=r"0\.\.4.*vocabulary size V of the model matches"):
        call()


def test_out_of_range_ids_are_still_an_index_error_and_a_value_error():
    for kind in (IndexError, ValueError):
        with pytest.raises(kind):
            Embedding(f(5, 2)).forward(ids(9))


@pytest.mark.parametrize(
    "call",
    [
        lambda: SoftmaxWithLoss().forward(f(2, 3), ids(0, -1)),
        lambda: cross_entropy_error(np.full((2, 3), 1 / 3), ids(0, -1)),
        lambda: softmax_cross_entropy(f(2, 3), ids(-1, 1)),
    ],
)
def test_label_minus_one_is_not_the_last_class_where_nothing_is_ignored(call):
    with pytest.raises(
        validate.IdRangeError, match="ignores no label: a -1 would silently be read as the last"
    ):
        call()


def test_the_time_loss_ignores_minus_one_but_refuses_other_negatives():
    loss = TimeSoftmaxWithLoss()
    assert np.isfinite(float(loss.forward(f(1, 2, 3), ids([0, -1]))))
    with pytest.raises(validate.IdRangeError, match=r"0\.\.2 \(or -1 to ignore a position\)"):
        loss.forward(f(1, 2, 3), ids([0, -2]))


@pytest.mark.parametrize(
    "call",
    [
        lambda: TimeSoftmaxWithLoss().forward(f(2, 3, 5), np.eye(4)[ids([0, 1, 2], [3, 0, 1])]),
        lambda: SoftmaxWithLoss().forward(f(2, 5), np.eye(4)[ids(0, 3)]),
    ],
)
def test_one_hot_targets_of_the_wrong_width_are_refused(call):
    with pytest.raises(validate.ShapeError, match=r"one-hot targets must have the shape of the scores"):
        call()


def test_targets_that_are_not_one_hot_are_refused():
    with pytest.raises(validate.InputError, match="a single 1 per row"):
        SoftmaxWithLoss().forward(f(2, 3), np.full((2, 3), 1 / 3))


def test_sigmoid_loss_targets_outside_zero_one_are_refused():
    with pytest.raises(validate.InputError, match=r"targets t must be 0 or 1"):
        SigmoidWithLoss().forward(f(3), ids(1, 0, -1))


@pytest.mark.parametrize(
    "call",
    [
        lambda: _ran(Affine(f(3, 4), f(4)), f(2, 3)).backward(f(1, 4)),  # would broadcast
        lambda: _ran(TimeAffine(f(3, 4), f(4)), f(2, 5, 3)).backward(f(5, 2, 4)),  # N and T swapped
        lambda: _ran(TimeLSTM(f(3, 8), f(2, 8), f(8)), f(2, 3, 3)).backward(f(2, 3, 1)),  # would broadcast
        lambda: _ran(Embedding(f(5, 2)), ids(0, 1)).backward(f(2, 3)),
    ],
)
def test_a_gradient_of_the_wrong_shape_is_refused_not_broadcast(call):
    with pytest.raises(validate.ShapeError, match="the shape of the output of the last forward"):
        call()


# ---------------------------------------------------------------- shapes against the weights


@pytest.mark.parametrize(
    "call,phrase",
    [
        (lambda: Affine(f(3, 4), f(4)).forward(f(2, 5)), r"x has shape \(2, 5\) but W is \(3, 4\)"),
        (lambda: MatMul(f(3, 4)).forward(f(2, 4)), r"D = W.shape\[0\] = 3"),
        (lambda: Affine(f(3, 4), f(3)), r"b has shape \(3,\), expected \(H,\) = \(4,\)"),
        (lambda: RNN(f(3, 4), f(4, 4), f(4)).forward(f(2, 5), f(2, 4)), r"D = Wx.shape\[0\] = 3"),
        (lambda: RNN(f(3, 4), f(4, 4), f(4)).forward(f(2, 3), f(1, 4)), r"h_prev has shape \(1, 4\)"),
        (lambda: LSTM(f(3, 8), f(2, 8), f(8)).forward(f(2, 3), f(2, 2), f(2, 3)), r"c_prev .*\(2, 2\)"),
        (lambda: GRU(f(3, 6), f(2, 6), f(6)).forward(f(2, 4), f(2, 2)), r"expected \(N, D\) with D"),
        (lambda: TimeLSTM(f(3, 8), f(2, 8), f(8)).forward(f(2, 2, 4)), r"\(N, T, D\) with D = 3"),
        (lambda: TimeGRU(f(3, 6), f(2, 6), f(6)).forward(f(2, 3)), r"\(N, T, D\) with D = 3"),
        (lambda: TimeAffine(f(3, 4), f(4)).forward(f(2, 2, 5)), "W expects 3"),
        (
            lambda: EmbeddingDot(f(5, 2)).forward(f(3, 1), ids(0, 1, 2)),
            r"h \(N, H\) with H = W.shape\[1\] = 2",
        ),
        (
            lambda: NegativeSamplingLoss(f(5, 2), ids(0, 1, 2, 3)).forward(f(2, 3), ids(0, 1)),
            r"H = W.shape\[1\]",
        ),
        (lambda: SoftmaxWithLoss().forward(f(2, 3), ids(0, 1, 2)), r"t must be \(N,\) = \(2,\)"),
        (lambda: SoftmaxWithLoss().forward(f(2, 2, 3), ids([0, 1], [1, 0])), "use TimeSoftmaxWithLoss"),
        (lambda: WeightSum().forward(f(2, 3, 4), f(2, 4)), r"a has shape \(2, 4\), expected \(N, T\)"),
        (lambda: AttentionWeight().forward(f(2, 3, 4), f(2, 5)), r"h must be \(N, H\) with N = 2 and H = 4"),
        (lambda: TimeAttention().forward(f(2, 3, 4), f(2, 5, 3)), "hs_dec must be"),
        (lambda: TimeAttention().forward(f(2, 3, 4), f(2, 5, 4), np.ones((2, 4), bool)), "mask has shape"),
    ],
)
def test_shapes_that_do_not_fit_the_weights_are_explained(call, phrase):
    with pytest.raises(validate.ShapeError, match=phrase):
        call()


# ---------------------------------------------------------------- dtype families


@pytest.mark.parametrize(
    "call,phrase",
    [
        (lambda: Embedding(f(5, 2)).forward(np.array([0.0, 1.0])), "integer array of word ids"),
        (lambda: TimeEmbedding(f(5, 2)).forward(np.array([[0.0, 1.0]])), "must be integers"),
        (lambda: SoftmaxWithLoss().forward(f(2, 3), np.array([0.0, 1.0])), "labels must be integers"),
        (
            lambda: TimeLSTM(f(3, 8), f(2, 8), f(8)).forward(np.ones((2, 2, 3), int)),
            "through a TimeEmbedding",
        ),
        (lambda: TimeRNN(f(3, 2), f(2, 2), f(2)).forward(np.ones((2, 2), int)), "floating-point"),
        (lambda: TimeDropout(0.5).forward(np.ones((2, 2, 2), int)), "floating-point"),
        (lambda: Affine(np.ones((3, 4), int), np.zeros(4)), "Weights must be floats"),
        (lambda: RNN(np.ones((3, 4), int), np.ones((4, 4)), np.zeros(4)), "Weights must be floats"),
        (lambda: MatMul(f(3, 4)).forward([[1.0, 2.0, 3.0]]), r"np.asarray"),
        (lambda: Sigmoid().forward(np.array(["a", "b"])), "must hold numbers"),
        (lambda: TimeAttention().forward(f(2, 3, 4), f(2, 5, 4), np.ones((2, 3))), "mask must hold booleans"),
    ],
)
def test_the_wrong_dtype_family_is_a_type_error_in_words(call, phrase):
    with pytest.raises(TypeError, match=phrase):
        call()


def test_one_hot_int_rows_still_work_in_matmul_as_in_the_book():
    W = f(7, 3)
    c = np.array([[1, 0, 0, 0, 0, 0, 0]])
    np.testing.assert_allclose(MatMul(W).forward(c), W[:1])


# ---------------------------------------------------------------- backward before forward


@pytest.mark.parametrize(
    "layer,dout",
    [
        (Affine(f(3, 4), f(4)), f(2, 4)),
        (MatMul(f(3, 4)), f(2, 4)),
        (Sigmoid(), f(2)),
        (Relu(), f(2)),
        (Softmax(), f(2, 3)),
        (SoftmaxWithLoss(), 1),
        (SigmoidWithLoss(), 1),
        (Embedding(f(5, 2)), f(2, 2)),
        (EmbeddingDot(f(5, 2)), f(2)),
        (NegativeSamplingLoss(f(5, 2), ids(0, 1, 2, 3)), 1),
        (RNN(f(3, 2), f(2, 2), f(2)), f(2, 2)),
        (TimeEmbedding(f(5, 2)), f(1, 2, 2)),
        (TimeAffine(f(3, 4), f(4)), f(2, 2, 4)),
        (TimeSoftmaxWithLoss(), 1),
        (TimeRNN(f(3, 2), f(2, 2), f(2)), f(2, 3, 2)),
        (TimeLSTM(f(3, 8), f(2, 8), f(8)), f(2, 3, 2)),
        (TimeGRU(f(3, 6), f(2, 6), f(6)), f(2, 3, 2)),
        (TimeBiLSTM(f(3, 8), f(2, 8), f(8), f(3, 8), f(2, 8), f(8)), f(2, 3, 4)),
        (WeightSum(), f(2, 4)),
        (AttentionWeight(), f(2, 3)),
        (TimeAttention(), f(2, 5, 4)),
    ],
    ids=lambda v: type(v).__name__,
)
def test_backward_before_forward_says_to_call_forward_first(layer, dout):
    with pytest.raises(validate.CallOrderError, match=r"backward was called before forward.*Call forward"):
        layer.backward(dout)
    assert isinstance(validate.CallOrderError("x"), (ValueError, RuntimeError))


def test_a_loss_layer_takes_a_number_as_dout():
    layer = SoftmaxWithLoss()
    layer.forward(f(2, 3), ids(0, 1))
    with pytest.raises(validate.ShapeError, match="dout must be a number"):
        layer.backward(f(2, 3))


def test_valid_inputs_give_the_same_numbers_as_before():
    """The checks only look: forward and backward are the plain arithmetic."""
    W, b, x = f(3, 4), f(4), f(2, 3)
    layer = Affine(W, b)
    np.testing.assert_array_equal(layer.forward(x), x @ W + b)
    dout = f(2, 4)
    np.testing.assert_array_equal(layer.backward(dout), dout @ W.T)
    np.testing.assert_array_equal(layer.grads[0], x.T @ dout)


# ---------------------------------------------------------------- gradient check


class FreshRandomMask:
    """A dropout that draws from a generator of its own, which the check cannot replay."""

    def __init__(self):
        self.params, self.grads = [], []
        self.mask = None

    def forward(self, x):
        self.mask = np.random.default_rng().random(x.shape) < 0.5
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


def test_gradcheck_blames_a_forward_that_is_not_repeatable_not_backward():
    report = check_layer(FreshRandomMask(), f(3, 4))
    assert not report.ok
    text = str(report)
    assert "forward is not repeatable" in text and "backward pass was not judged" in text
    assert "course.backend.rng()" in text
    assert "gradient is wrong" not in text


def test_gradcheck_still_checks_layers_with_nan_outputs_consistently():
    class Nan:
        params, grads = [], []

        def forward(self, x):
            return x * np.nan

        def backward(self, dout):
            return dout * np.nan

    report = check_layer(Nan(), f(2, 2))
    assert "not repeatable" not in str(report)
