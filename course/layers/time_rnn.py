"""The simple RNN over whole sequences, with backpropagation through time.

Two versions compute the same thing:

* ``TimeRNN``, the chapter's answer: one ``RNN`` cell per step, all sharing
  Wx, Wh and b, run forward left to right and backward right to left;
* ``FusedTimeRNN``, what the language models use: the input projection
  ``x Wx + b`` of all T steps is one matrix product before the loop and the
  weight gradients are one product each after it, so the loop over time does
  only the unavoidable per-step work (``h Wh``, the tanh). Its arrays are kept
  time-major, (T, N, ...), so each step reads contiguous memory.

The tests hold the two equal (values, every gradient, the carried state).
"""

from __future__ import annotations

from typing import Any

from course import backend, validate
from course.answers import model_answer
from course.layers.recurrent import RNN, check_gate_shapes, zeros_like_all
from course.layers.time import batch_major, time_major
from course.layers.time_recurrent import TimeRecurrent

Array = Any


@model_answer(
    "time_rnn",
    chapter="ch05",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.time_rnn:FusedTimeRNN",),
)
class TimeRNN:
    """The simple RNN cell run over T steps: one ``RNN`` cell per step, all sharing Wx, Wh, b.

    Wx: (D, H), Wh: (H, H), b: (H,).
    forward(xs (N, T, D)) -> hs (N, T, H); backward(dhs (N, T, H)) -> dxs (N, T, D).

    ``h`` (N, H) is the state the next forward starts from (None: zeros). A
    stateful layer keeps its last state there after forward; a stateless one
    forgets it. After backward, ``dh`` (N, H) is the gradient with respect to
    the state that forward started from.
    """

    param_names = ("Wx", "Wh", "b")

    def __init__(self, Wx: Array, Wh: Array, b: Array, stateful: bool = False) -> None:
        check_gate_shapes("TimeRNN", Wx, Wh, b, 1)
        self.params = [Wx, Wh, b]
        self.grads = zeros_like_all(Wx, Wh, b)
        self.layers: list[RNN] | None = None  # the cells of the last forward, one per step
        self.stateful = stateful
        self.h: Array | None = None
        self.dh: Array | None = None

    def set_state(self, h: Array) -> None:
        """Start the next forward from hidden state h (N, H)."""
        self.h = h

    def reset_state(self) -> None:
        """Forget the carried state: the next forward starts from zeros."""
        self.h = None

    def forward(self, xs: Array) -> Array:
        xp = backend.array_module(xs)
        Wx, Wh, b = self.params
        N, T, _ = xs.shape
        h = self.h
        if h is None:
            h = xp.zeros((N, Wh.shape[0]), dtype=xs.dtype)
        self.layers, hs = [], []
        for t in range(T):
            cell = RNN(Wx, Wh, b)  # shares the weights; keeps its own cache for backward
            h = cell.forward(xs[:, t, :], h)
            self.layers.append(cell)
            hs.append(h)
        self.h = h if self.stateful else None
        return xp.stack(hs, axis=1)

    def backward(self, dhs: Array) -> Array:
        xp = backend.array_module(dhs)
        T = len(self.layers)
        for g in self.grads:
            g[...] = 0
        dxs = [None] * T
        dh = xp.zeros_like(dhs[:, 0, :])  # nothing reaches the last state from beyond the block
        for t in reversed(range(T)):
            cell = self.layers[t]
            dxs[t], dh = cell.backward(dhs[:, t, :] + dh)
            for total, g in zip(self.grads, cell.grads, strict=True):
                total += g
        self.dh = dh
        return xp.stack(dxs, axis=1)


class FusedTimeRNN(TimeRecurrent):
    """TimeRNN with the input projections of all T steps in one matrix product.

    Same parameters, state handling and results as :class:`TimeRNN`:
    h_t = tanh(x_t Wx + h_{t-1} Wh + b), Wx: (D, H), Wh: (H, H), b: (H,).
    forward(xs (N, T, D)) -> hs (N, T, H); backward(dhs (N, T, H)) -> dxs (N, T, D),
    and ``dh`` (N, H) is the gradient with respect to the initial state.
    """

    gates = 1

    def forward(self, xs: Array) -> Array:
        xp = backend.array_module(xs)
        Wx, Wh, b = self.params
        X, N, T = self._inputs(xs)
        H = Wh.shape[0]
        A = (X @ Wx + b).reshape(T, N, H)
        hs = xp.empty((T + 1, N, H), dtype=A.dtype)
        hs[0] = self._initial(self.h, N, A, "hidden")
        for t in range(T):
            a = A[t]
            a += hs[t] @ Wh
            xp.tanh(a, out=hs[t + 1])
        self.cache = (X, hs)
        self._keep_state(hs[T])
        return batch_major(hs[1:])

    def backward(self, dhs: Array) -> Array:
        xp = backend.array_module(dhs)
        Wx, Wh, _ = self.params
        X, hs = self.cache
        T, N, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        dH = time_major(dhs)
        local = 1.0 - hs[1:] * hs[1:]  # tanh' for all steps at once
        dA = xp.empty_like(local)
        dh = xp.zeros((N, H), dtype=dA.dtype)
        for t in range(T - 1, -1, -1):
            dh = dH[t] + dh
            xp.multiply(dh, local[t], out=dA[t])
            dh = dA[t] @ Wh.T
        dA2 = dA.reshape(T * N, H)
        xp.matmul(X.T, dA2, out=self.grads[0])
        xp.matmul(hs[:-1].reshape(T * N, H).T, dA2, out=self.grads[1])
        xp.sum(dA2, axis=0, out=self.grads[2])
        self.dh = dh
        return batch_major((dA2 @ Wx.T).reshape(T, N, -1))


# --------------------------------------------------------------------------
# Input checks, installed around both versions (see course.validate.guard). TimeRNN
# shares FusedTimeRNN's checks and messages: its attributes (params, h, layers) are
# all the checks read.
# --------------------------------------------------------------------------


def _check_forward(self: Any, xs: Array) -> None:
    """xs (N, T, D) floats with the D of Wx, and a carried state (N, H) that fits this batch."""
    TimeRecurrent._check_inputs(self, xs)
    if xs.shape[1] == 0:
        raise validate.ShapeError(f"{type(self).__name__}.forward: xs has no time steps (T = 0).")
    if self.h is not None:
        TimeRecurrent._initial(self, self.h, xs.shape[0], xs, "hidden")


def _check_backward(self: Any, dhs: Array) -> None:
    """Forward has run, and dhs has the shape (N, T, H) of its output."""
    who = type(self).__name__
    validate.check_backward_ready(self.layers, who)
    N, H = self.layers[0].cache[1].shape  # h_prev of the first step (a sequence has T >= 1 steps)
    validate.check_dout(dhs, (N, len(self.layers), H), who, "dhs")


validate.guard(TimeRNN, forward=_check_forward, backward=_check_backward)
validate.guard(FusedTimeRNN, backward=TimeRecurrent._check_dhs)
