"""The GRU over whole sequences (TimeGRU), with backpropagation through time.

As for TimeRNN, the input projection of all T steps is one matrix product before
the loop and the weight gradients one product each after it.
"""

from __future__ import annotations

from typing import Any

from course import backend
from course.layers.time import batch_major, time_major
from course.layers.time_recurrent import TimeRecurrent

Array = Any


class TimeGRU(TimeRecurrent):
    """The GRU cell over T steps (blocks ``[z, r, h~]``, see ``course.layers.recurrent.GRU``).

    Wx: (D, 3H), Wh: (H, 3H), b: (3H,).
    forward(xs (N, T, D)) -> hs (N, T, H); backward(dhs (N, T, H)) -> dxs (N, T, D),
    and ``dh`` (N, H) is the gradient with respect to the initial state.
    """

    gates = 3

    def forward(self, xs: Array) -> Array:
        xp = backend.array_module(xs)
        Wx, Wh, b = self.params
        X, N, T = self._inputs(xs)
        H = Wh.shape[0]
        A = (X @ Wx + b).reshape(T, N, 3 * H)
        A[..., : 2 * H] *= 0.5  # sigmoid(a) = 0.5 tanh(a / 2) + 0.5
        Wh_zr = Wh[:, : 2 * H] * 0.5
        Wh_h = Wh[:, 2 * H :]
        hs = xp.empty((T + 1, N, H), dtype=A.dtype)
        rh = xp.empty((T, N, H), dtype=A.dtype)
        hs[0] = self._initial(self.h, N, A, "hidden")
        for t in range(T):
            zr, ah = A[t, :, : 2 * H], A[t, :, 2 * H :]
            zr += hs[t] @ Wh_zr
            xp.tanh(zr, out=zr)
            zr *= 0.5
            zr += 0.5
            z, r = zr[:, :H], zr[:, H:]
            xp.multiply(r, hs[t], out=rh[t])
            ah += rh[t] @ Wh_h
            xp.tanh(ah, out=ah)
            xp.subtract(ah, hs[t], out=hs[t + 1])
            hs[t + 1] *= z
            hs[t + 1] += hs[t]
        self.cache = (X, A, hs, rh)
        self._keep_state(hs[T])
        return batch_major(hs[1:])

    def backward(self, dhs: Array) -> Array:
        self._check_dhs(dhs)
        xp = backend.array_module(dhs)
        Wx, Wh, _ = self.params
        X, A, hs, rh = self.cache
        T, N, H = rh.shape
        dH = time_major(dhs)
        z, r, h_hat = A[..., :H], A[..., H : 2 * H], A[..., 2 * H :]
        h_prev = hs[:-1]
        # Local derivatives for all steps at once.
        local_h = z * (1.0 - h_hat * h_hat)
        local_z = (h_hat - h_prev) * z * (1.0 - z)
        local_r = h_prev * r * (1.0 - r)
        keep = 1.0 - z
        Wh_zr_T, Wh_h_T = Wh[:, : 2 * H].T, Wh[:, 2 * H :].T
        dA = xp.empty_like(A)
        dh = xp.zeros((N, H), dtype=A.dtype)
        for t in range(T - 1, -1, -1):
            dh = dH[t] + dh
            da_h = xp.multiply(dh, local_h[t], out=dA[t, :, 2 * H :])
            drh = da_h @ Wh_h_T
            xp.multiply(dh, local_z[t], out=dA[t, :, :H])
            xp.multiply(drh, local_r[t], out=dA[t, :, H : 2 * H])
            dh = dh * keep[t]
            dh += drh * r[t]
            dh += dA[t, :, : 2 * H] @ Wh_zr_T
        dA2 = dA.reshape(T * N, 3 * H)
        xp.matmul(X.T, dA2, out=self.grads[0])
        self.grads[1][:, : 2 * H] = h_prev.reshape(T * N, H).T @ dA2[:, : 2 * H]
        self.grads[1][:, 2 * H :] = rh.reshape(T * N, H).T @ dA2[:, 2 * H :]
        xp.sum(dA2, axis=0, out=self.grads[2])
        self.dh = dh
        return batch_major((dA2 @ Wx.T).reshape(T, N, -1))
