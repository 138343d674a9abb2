"""The simple RNN over whole sequences (TimeRNN), with backpropagation through time.

Speed: the input projection ``x Wx + b`` of all T steps is one matrix product
before the loop and the weight gradients are one product each after it, so the
loop over time does only the unavoidable per-step work (``h Wh``, the tanh).
Arrays are kept time-major, (T, N, ...), so each step reads contiguous memory.
"""

from __future__ import annotations

from typing import Any

from course import backend, validate
from course.answers import model_answer
from course.layers.time import batch_major, time_major
from course.layers.time_recurrent import TimeRecurrent

Array = Any


@model_answer("time_rnn", chapter="ch05", methods=("forward", "backward"), derivation=True)
class TimeRNN(TimeRecurrent):
    """The simple RNN cell over T steps: h_t = tanh(x_t Wx + h_{t-1} Wh + b).

    Wx: (D, H), Wh: (H, H), b: (H,).
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


validate.guard(TimeRNN, backward=TimeRecurrent._check_dhs)
