"""Reading a sequence both ways: a forward and a backward LSTM side by side.

A forward LSTM's state at position t has seen x_1 .. x_t only. A second LSTM
that reads the sequence from its end back to the start has seen x_t .. x_T;
putting the two states next to each other gives every position both sides
of its context.

* ``reverse_sequences(xs, lengths)`` reads each row backwards (padding stays
  at the end), and undoes itself;
* ``BidirectionalLSTM``: chapter 8's answer, two ``TimeLSTM`` layers;
* ``FusedBidirectionalLSTM``: the same with ``FusedTimeLSTM``, skipping the
  padding; what the models run (a test proves it gives the same answers).

Shapes: N batch, T time, D input size, H hidden size of each direction.
"""

from __future__ import annotations

from typing import Any

from course import backend, validate
from course.answers import model_answer
from course.layers.time_lstm import FusedTimeLSTM, TimeLSTM

Array = Any


def reverse_sequences(xs: Array, lengths: Array | None = None) -> Array:
    """Each row of xs (N, T, ...) read backwards, padding left at the end.

    lengths (N,) integers in 1..T: row n has ``lengths[n]`` real positions,
    then padding; those real positions come out in reverse order and the
    padding stays where it is. None: every row is T long (the whole time axis
    reversed). Reversing twice gives xs back.
    """
    if lengths is None:
        return xs[:, ::-1]
    xp = backend.array_module(xs)
    N, T = xs.shape[:2]
    L = xp.asarray(lengths).reshape(N, 1)
    t = xp.arange(T)[None, :]
    order = xp.where(t < L, L - 1 - t, t)  # (N, T): where each output position reads from
    return xs[xp.arange(N)[:, None], order]


@model_answer(
    "bidirectional_lstm",
    chapter="ch08",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.bidirectional:FusedBidirectionalLSTM", "course.layers.time_lstm:TimeBiLSTM"),
)
class BidirectionalLSTM:
    """Two LSTMs over one sequence: one reads it left to right, the other right to left.

    Wx1 (D, 4H), Wh1 (H, 4H), b1 (4H,): the forward direction; Wx2, Wh2, b2:
    the backward direction, shaped the same.
    forward(xs (N, T, D), lengths=None) -> hs (N, T, 2H): at position t, the
    forward LSTM's h after reading x_1 .. x_t (first H columns) next to the
    backward LSTM's h after reading from the row's last real position back to
    x_t (last H columns). lengths (N,): real positions per row (None: all T).
    backward(dhs (N, T, 2H)) -> dxs (N, T, D).
    """

    param_names = ("Wx_fwd", "Wh_fwd", "b_fwd", "Wx_bwd", "Wh_bwd", "b_bwd")

    def __init__(self, Wx1: Array, Wh1: Array, b1: Array, Wx2: Array, Wh2: Array, b2: Array) -> None:
        self.forward_lstm = TimeLSTM(Wx1, Wh1, b1)
        self.backward_lstm = TimeLSTM(Wx2, Wh2, b2)
        self.params = self.forward_lstm.params + self.backward_lstm.params
        self.grads = self.forward_lstm.grads + self.backward_lstm.grads
        self.lengths: Array | None = None

    def forward(self, xs: Array, lengths: Array | None = None) -> Array:
        xp = backend.array_module(xs)
        self.lengths = lengths
        left = self.forward_lstm.forward(xs)
        # The backward LSTM reads the reversed rows; its outputs are put back in reading order.
        right = reverse_sequences(self.backward_lstm.forward(reverse_sequences(xs, lengths)), lengths)
        return xp.concatenate([left, right], axis=2)

    def backward(self, dhs: Array) -> Array:
        H = dhs.shape[2] // 2
        dxs_left = self.forward_lstm.backward(dhs[:, :, :H])
        dxs_right = self.backward_lstm.backward(reverse_sequences(dhs[:, :, H:], self.lengths))
        return dxs_left + reverse_sequences(dxs_right, self.lengths)


class FusedBidirectionalLSTM(BidirectionalLSTM):
    """BidirectionalLSTM, fast: a FusedTimeLSTM in each direction, and padding skipped.

    Same weights, shapes and methods as BidirectionalLSTM; the models use this one.
    With ``lengths`` each direction stops at the row's end instead of reading
    the padding, so a padded position repeats the state of the row's last real
    position (forward direction) or first one (backward direction). Every real
    position gets the values BidirectionalLSTM gives it, and so do all
    gradients whenever dhs is zero at the padding, as attention's mask makes it
    (a test proves both).
    """

    def __init__(self, Wx1: Array, Wh1: Array, b1: Array, Wx2: Array, Wh2: Array, b2: Array) -> None:
        self.forward_lstm = FusedTimeLSTM(Wx1, Wh1, b1)
        self.backward_lstm = FusedTimeLSTM(Wx2, Wh2, b2)
        self.params = self.forward_lstm.params + self.backward_lstm.params
        self.grads = self.forward_lstm.grads + self.backward_lstm.grads
        self.lengths = None

    def forward(self, xs: Array, lengths: Array | None = None) -> Array:
        xp = backend.array_module(xs)
        self.lengths = lengths
        left = self.forward_lstm.forward(xs, lengths=lengths)
        reversed_xs = reverse_sequences(xs, lengths)
        right = reverse_sequences(self.backward_lstm.forward(reversed_xs, lengths=lengths), lengths)
        return xp.concatenate([left, right], axis=2)


# --------------------------------------------------------------------------
# Input checks, installed around the answer above (see course.validate.guard).
# --------------------------------------------------------------------------


def _check_forward(self: Any, xs: Array, lengths: Array | None = None) -> None:
    who = f"{type(self).__name__}.forward"
    D = self.params[0].shape[0]
    validate.check_float(xs, who, "xs", f"(N, T, D) with D = {D}")
    validate.check_ndim(xs, 3, who, "xs", f"(N, T, D) with D = {D}")
    if xs.shape[2] != D:
        raise validate.ShapeError(f"{who}: xs has D = {xs.shape[2]} features per step; Wx1 expects {D}.")
    if lengths is None:
        return
    host = backend.host()
    L = host.asarray(backend.to_host(lengths))
    N, T = xs.shape[:2]
    if L.shape != (N,) or L.dtype.kind not in "iu" or (N and (L.min() < 1 or L.max() > T)):
        raise validate.ShapeError(
            f"{who}: lengths must be {N} integers between 1 and T = {T} (one per row), "
            f"got {L.dtype} values of shape {L.shape}."
        )


def _check_backward(self: Any, dhs: Array) -> None:
    who = type(self).__name__
    H = self.params[1].shape[0]
    validate.check_array(dhs, f"{who}.backward", "dhs", f"(N, T, 2H) with 2H = {2 * H}")
    if dhs.ndim != 3 or dhs.shape[2] != 2 * H:
        raise validate.ShapeError(
            f"{who}.backward: dhs has shape {tuple(dhs.shape)}; it must be (N, T, 2H) with 2H = {2 * H}, "
            "the shape of forward's output."
        )


validate.guard(BidirectionalLSTM, forward=_check_forward, backward=_check_backward)
validate.guard(FusedBidirectionalLSTM, forward=_check_forward)
