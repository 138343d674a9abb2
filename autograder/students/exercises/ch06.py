"""Chapter 6 (gated RNNs): LSTM, TimeLSTM, GRU, clip_grads, TimeDropout, TimeAffine with weight tying."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

from autograder.students.checks import (
    assert_carries_state,
    assert_gradients_ok,
    assert_grads_written_in_place,
    assert_same_as_reference,
    copies,
    course_in_place_of,
    course_version,
    host_rng,
    recurrent_weights,
    sizes,
)
from course import backend
from course.layers import recurrent as ref_cells
from course.layers import time as ref_time
from course.layers import time_lstm as ref_time_lstm


def lstm_cell(LSTM: Any, seed: int = 61) -> None:
    """The LSTM cell: gradients of x, h_prev, c_prev and the weights; the gate layout [i, f, g, o]."""
    rng = host_rng(seed)
    Wx, Wh, b = recurrent_weights(rng, 3, 2, 4)
    inputs = (rng.standard_normal((2, 3)), rng.standard_normal((2, 2)), rng.standard_normal((2, 2)))
    douts = (rng.standard_normal((2, 2)), rng.standard_normal((2, 2)))
    assert_grads_written_in_place(LSTM(*copies(Wx, Wh, b)), "LSTM", inputs, douts)
    for N, D, H in sizes(rng):
        Wx, Wh, b = recurrent_weights(rng, D, H, 4)
        x, h, c = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
        assert_gradients_ok(LSTM(*copies(Wx, Wh, b)), x, h, c, what=f"LSTM with N={N}, D={D}, H={H}")

        def make(Wx=Wx, Wh=Wh, b=b):
            return LSTM(*copies(Wx, Wh, b)), ref_cells.LSTM(*copies(Wx, Wh, b))

        douts = (rng.standard_normal((N, H)), rng.standard_normal((N, H)))
        assert_same_as_reference(make, (x, h, c), douts, what="LSTM (gate blocks [i, f, g, o])")


def time_lstm(TimeLSTM: Any, seed: int = 66) -> None:
    """TimeLSTM: gradients through all steps into the initial h and c, state handling, agreement.

    A TimeLSTM that builds cells by the name ``LSTM`` gets the course's cell, so
    a bug in your LSTM cell costs only the LSTM exercise.
    """
    with course_in_place_of(TimeLSTM, "LSTM", "course.layers.recurrent:LSTM"):
        _time_lstm(TimeLSTM, host_rng(seed))


def _time_lstm(TimeLSTM: Any, rng: Any) -> None:
    WithInitialState = course_version(TimeLSTM, "course.layers.time_recurrent:WithInitialState")
    Wx, Wh, b = recurrent_weights(rng, 3, 2, 4)
    inputs = (rng.standard_normal((2, 3, 3)),)
    douts = (rng.standard_normal((2, 3, 2)),)
    assert_grads_written_in_place(TimeLSTM(*copies(Wx, Wh, b)), "TimeLSTM", inputs, douts)
    for k, (N, T, D, H) in enumerate([*sizes(rng, 4), (2, 1, 3, 2)]):
        Wx, Wh, b = recurrent_weights(rng, D, H, 4)
        xs = rng.standard_normal((N, T, D))
        h0, c0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
        what = f"TimeLSTM with N={N}, T={T}, D={D}, H={H}"
        if k == 0:  # from zeros once; the checks below start from a given state, which covers the rest
            assert_gradients_ok(TimeLSTM(*copies(Wx, Wh, b)), xs, what=what)
        layer = WithInitialState(TimeLSTM(*copies(Wx, Wh, b)))
        assert_gradients_ok(layer, xs, h0, c0, what=what + " from a given initial state (dh and dc)")

        def make(Wx=Wx, Wh=Wh, b=b):
            return TimeLSTM(*copies(Wx, Wh, b)), ref_time_lstm.FusedTimeLSTM(*copies(Wx, Wh, b))

        assert_same_as_reference(make, (xs,), rng.standard_normal((N, T, H)), what="TimeLSTM")
    _time_lstm_state(TimeLSTM, rng)


def _time_lstm_state(TimeLSTM: Any, rng: Any) -> None:
    """Stateful: each block starts where the last ended (h and c); dh and dc reach the initial state."""
    np = backend.host()
    Wx, Wh, b = recurrent_weights(rng, 3, 4, 4)
    mine = TimeLSTM(*copies(Wx, Wh, b), stateful=True)
    ref = ref_time_lstm.FusedTimeLSTM(*copies(Wx, Wh, b), stateful=True)
    assert_carries_state(mine, ref, "TimeLSTM", rng, state=("h", "c"))
    stateless, xs = TimeLSTM(*copies(Wx, Wh, b)), rng.standard_normal((2, 5, 3))
    if not np.allclose(stateless.forward(xs), stateless.forward(xs)):
        raise AssertionError("A TimeLSTM with stateful=False must start every forward from zeros.")


def gru_cell(GRU: Any, seed: int = 62) -> None:
    """The GRU cell: gradients of x, h_prev and the weights; the block layout [z, r, h~]."""
    rng = host_rng(seed)
    Wx, Wh, b = recurrent_weights(rng, 3, 2, 3)
    inputs = (rng.standard_normal((2, 3)), rng.standard_normal((2, 2)))
    douts = (rng.standard_normal((2, 2)),)
    assert_grads_written_in_place(GRU(*copies(Wx, Wh, b)), "GRU", inputs, douts)
    for N, D, H in sizes(rng):
        Wx, Wh, b = recurrent_weights(rng, D, H, 3)
        x, h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
        assert_gradients_ok(GRU(*copies(Wx, Wh, b)), x, h, what=f"GRU with N={N}, D={D}, H={H}")

        def make(Wx=Wx, Wh=Wh, b=b):
            return GRU(*copies(Wx, Wh, b)), ref_cells.GRU(*copies(Wx, Wh, b))

        assert_same_as_reference(make, (x, h), rng.standard_normal((N, H)), what="GRU (blocks [z, r, h~])")


def _number(value: Any) -> float | None:
    """value as a float, or None when it is not a number (None, a list, ...)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def clip_grads(fn: Callable, seed: int = 63) -> None:
    """Global-norm clipping: in place, the same factor for every array, the norm before returned."""
    rng = host_rng(seed)
    np = backend.host()
    for scale, max_norm in ((10.0, 1.0), (0.1, 1.0), (3.0, 0.25), (1.0, 100.0)):
        shapes = [(3, 4), (4,), (2, 2, 3)]
        grads = [rng.standard_normal(s) * scale for s in shapes]
        original = [g.copy() for g in grads]
        held = list(grads)
        norm = math.sqrt(sum(float((g * g).sum()) for g in original))
        got = fn(grads, max_norm)
        if _number(got) is None or abs(_number(got) - norm) > 1e-9 * norm:
            raise AssertionError(
                f"clip_grads must return the global norm before clipping ({norm:.6f}); got {got!r}."
            )
        rate = max_norm / (norm + 1e-6) if norm > max_norm else 1.0
        unchanged = all(np.array_equal(g, g0) for g, g0 in zip(held, original, strict=True))
        if any(a is not b for a, b in zip(held, grads, strict=True)) or (rate < 1.0 and unchanged):
            raise AssertionError(
                "clip_grads must change the gradient arrays it is given in place (g *= rate): the "
                "optimizer holds those arrays, not new ones."
            )
        for i, (g, g0) in enumerate(zip(held, original, strict=True)):
            if not np.allclose(g, g0 * rate, rtol=1e-9, atol=1e-12):
                raise AssertionError(
                    f"With a global norm of {norm:.4g} and max_norm={max_norm}, every gradient must be "
                    f"multiplied by {rate:.6g} (max_norm / (norm + 1e-6) when norm > max_norm, else left "
                    f"alone); gradient {i} was not."
                )
    zeros = [np.zeros((2, 2))]
    empty_norm = fn(zeros, 1.0)
    if _number(empty_norm) != 0.0 or zeros[0].any():
        raise AssertionError(f"Zero gradients have norm 0 and must stay zero; got norm {empty_norm!r}.")


def time_dropout(TimeDropout: Any, seed: int = 64) -> None:
    """Inverted dropout: the share dropped, the scaling, the same mask backward, off at evaluation."""
    rng = host_rng(seed)
    np = backend.host()
    for ratio in (0.3, 0.5):
        layer = TimeDropout(ratio)
        xs = rng.standard_normal((20, 25, 40)) + 3.0  # never 0: kept entries are recognisable
        out = np.asarray(layer.forward(xs))
        if out.shape != xs.shape:
            raise AssertionError(f"TimeDropout must keep the shape {xs.shape}; got {out.shape}.")
        scale = out / xs
        kept = ~np.isclose(scale, 0.0)
        if not np.allclose(scale[kept], 1.0 / (1.0 - ratio)):
            raise AssertionError(
                f"With dropout_ratio={ratio} the kept values must be scaled by 1 / (1 - ratio) = "
                f"{1 / (1 - ratio):.4g} (inverted dropout), so nothing changes at evaluation."
            )
        share = 1.0 - kept.mean()
        if abs(share - ratio) > 0.02:
            raise AssertionError(f"With dropout_ratio={ratio}, {share:.1%} of the values were dropped.")
        dout = rng.standard_normal(xs.shape)
        dx = np.asarray(layer.backward(dout))
        if dx.shape != xs.shape or not np.allclose(dx, dout * scale):
            raise AssertionError("backward must use the mask of the last forward: dout * mask.")
        again = np.asarray(layer.forward(xs))
        if np.allclose(again, out):
            raise AssertionError("Every forward in training must draw a new mask.")
    layer = TimeDropout(0.5)
    xs = rng.standard_normal((3, 4, 5))
    for how, call in (
        ("train_flg=False passed to forward", lambda: layer.forward(xs, train_flg=False)),
        ("layer.train_flg = False", lambda: (setattr(layer, "train_flg", False), layer.forward(xs))[1]),
    ):
        out = np.asarray(call())
        if out.shape != xs.shape or not np.allclose(out, xs):
            raise AssertionError(f"With {how}, TimeDropout must return its input unchanged.")
        dout = rng.standard_normal(xs.shape)
        back = np.asarray(layer.backward(dout))
        if back.shape != dout.shape or not np.allclose(back, dout):
            raise AssertionError(f"With {how}, backward must pass dout through unchanged.")
    for ratio in (0.0, 0.4):
        n, t, h = (int(v) for v in rng.integers(1, 5, 3))
        assert_gradients_ok(
            TimeDropout(ratio), rng.standard_normal((n, t, h)), what=f"TimeDropout({ratio}) on {(n, t, h)}"
        )


class _TiedPair:
    """Embedding and output layer sharing one (V, D) matrix: ids (N, T) -> scores (N, T, V).

    The output layer (yours) writes its gradient of W; the course's embedding
    adds its own rows to the same array, so grads[0] is the gradient of both
    uses. The pair's params are the output layer's; the embedding reads them.
    """

    param_names = ("W (tied)", "b")

    def __init__(self, affine: Any) -> None:
        self.affine = affine
        self.embed = ref_time.TimeEmbedding(affine.params[0], accumulate=True)
        self.embed.grads[0] = affine.grads[0]
        self.params = affine.params
        self.grads = affine.grads

    def __deepcopy__(self, memo: dict) -> _TiedPair:
        # A copy of the output layer (its subject makes it when judged), tied to a new embedding:
        # the matrix stays one array, as a gradient check's nudges of it must reach both uses.
        return _TiedPair(copy.deepcopy(self.affine, memo))

    def forward(self, ids: Any) -> Any:
        return self.affine.forward(self.embed.forward(ids))

    def backward(self, dout: Any) -> None:
        self.embed.backward(self.affine.backward(dout))


def time_affine(TimeAffine: Any, seed: int = 65) -> None:
    """TimeAffine over (N, T, D), plain and transposed; the gradient of a tied embedding matrix."""
    rng = host_rng(seed)
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    inputs = (rng.standard_normal((2, 2, 3)),)
    douts = (rng.standard_normal((2, 2, 4)),)
    assert_grads_written_in_place(TimeAffine(W.copy(), b.copy()), "TimeAffine", inputs, douts)
    tied = TimeAffine(W.T.copy(), b.copy(), transposed=True)
    assert_grads_written_in_place(tied, "TimeAffine(transposed=True)", inputs, douts)
    for n, t, d, v in (tuple(int(x) for x in rng.integers(1, 6, 4)) for _ in range(3)):
        xs = rng.standard_normal((n, t, d))
        for transposed in (False, True):
            shape = (v, d) if transposed else (d, v)
            W, b = rng.standard_normal(shape), rng.standard_normal(v)
            what = f"TimeAffine(transposed={transposed}) with N={n}, T={t}, D={d}, V={v}"
            assert_gradients_ok(TimeAffine(W.copy(), b.copy(), transposed=transposed), xs, what=what)

            def make(W=W, b=b, transposed=transposed):
                return (
                    TimeAffine(W.copy(), b.copy(), transposed=transposed),
                    ref_time.TimeAffine(W.copy(), b.copy(), transposed=transposed),
                )

            assert_same_as_reference(make, (xs,), rng.standard_normal((n, t, v)), what=what)
        W, b = rng.standard_normal((v + 2, d)), rng.standard_normal(v + 2)
        ids = rng.integers(0, v + 2, (n, t))
        assert_gradients_ok(
            _TiedPair(TimeAffine(W, b, transposed=True)),
            ids,
            what="an embedding tied to TimeAffine(transposed=True)",
        )
