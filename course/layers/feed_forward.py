"""The position-wise feed-forward block: the same two-layer network at every position.

After attention has mixed information across positions, each position is
transformed on its own: out = act(x W1 + b1) W2 + b2, with a wider hidden
layer D_ff (4 D in the original Transformer). ``act`` is ReLU or GELU.

:class:`Gelu` uses the tanh approximation of x * Phi(x) (Phi: the standard
normal CDF) used by GPT-2 and BERT:
gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

Shapes: any leading axes (N, T, ...), D model size, D_ff hidden size.
"""

from __future__ import annotations

import math
from typing import Any

from course import backend, validate

Array = Any

_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


class Gelu:
    """Gaussian error linear unit, tanh approximation, elementwise; any shape.

    forward(x) -> 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). backward(dout) -> dx.
    """

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.cache: tuple | None = None

    def forward(self, x: Array) -> Array:
        validate.check_float(x, "Gelu.forward", "x", "a float array")
        xp = backend.array_module(x)
        t = xp.tanh(_GELU_C * (x + _GELU_A * x**3))
        self.cache = (x, t)
        return 0.5 * x * (1.0 + t)

    def backward(self, dout: Array) -> Array:
        validate.check_backward_ready(self.cache, "Gelu")
        x, t = self.cache
        validate.check_dout(dout, x.shape, "Gelu")
        # d/dx of 0.5 x (1 + t(x)), with t' = (1 - t^2) * c (1 + 3 a x^2).
        dt = (1.0 - t * t) * _GELU_C * (1.0 + 3.0 * _GELU_A * x * x)
        return dout * (0.5 * (1.0 + t) + 0.5 * x * dt)


class PositionwiseFeedForward:
    """out = act(x W1 + b1) W2 + b2 at every position; act = ReLU or GELU.

    params: W1 (D, D_ff), b1 (D_ff,), W2 (D_ff, D), b2 (D,).
    forward(x (..., D)) -> (..., D). backward(dout (..., D)) -> dx (..., D).
    """

    param_names = ("W1", "b1", "W2", "b2")

    def __init__(self, D: int, D_ff: int, activation: str = "relu", dtype: str = "float32") -> None:
        D = validate.check_count(D, "PositionwiseFeedForward", "D")
        D_ff = validate.check_count(D_ff, "PositionwiseFeedForward", "D_ff")
        if activation not in ("relu", "gelu"):
            raise validate.InputError(
                f"PositionwiseFeedForward: activation must be 'relu' or 'gelu', got {activation!r}."
            )
        # He-style scale for the rectifier's input, Xavier-style for the output projection.
        self.params = [
            backend.randn(D, D_ff, scale=(2.0 / D) ** 0.5, dtype=dtype),
            backend.zeros(D_ff, dtype=dtype),
            backend.randn(D_ff, D, scale=D_ff**-0.5, dtype=dtype),
            backend.zeros(D, dtype=dtype),
        ]
        xp = backend.array_module(self.params[0])
        self.grads = [xp.zeros_like(p) for p in self.params]
        # ReLU is applied inline (a maximum, then a product with its 0/1 slope): faster than
        # Relu's boolean indexing over the (N*T, D_ff) hidden layer.
        self.gelu = Gelu() if activation == "gelu" else None
        self.activation = activation
        self.cache: tuple | None = None

    def forward(self, x: Array) -> Array:
        W1, b1, W2, b2 = self.params
        D = W1.shape[0]
        validate.check_float(x, "PositionwiseFeedForward.forward", "x", f"(..., D) with D = {D}")
        if x.ndim < 1 or x.shape[-1] != D:
            raise validate.ShapeError(
                f"PositionwiseFeedForward.forward: x has shape {tuple(x.shape)}, expected (..., D) with "
                f"D = {D} (the rows of W1)."
            )
        pre = x @ W1
        pre += b1
        hidden = self.gelu.forward(pre) if self.gelu else backend.array_module(pre).maximum(pre, 0.0)
        self.cache = (x, hidden)
        return hidden @ W2 + b2

    def backward(self, dout: Array) -> Array:
        validate.check_backward_ready(self.cache, "PositionwiseFeedForward")
        W1, _, W2, _ = self.params
        dW1, db1, dW2, db2 = self.grads
        x, hidden = self.cache
        validate.check_dout(dout, (*x.shape[:-1], W2.shape[1]), "PositionwiseFeedForward")
        D, D_ff = W1.shape
        d2 = dout.reshape(-1, D)
        dW2[...] = hidden.reshape(-1, D_ff).T @ d2
        db2[...] = d2.sum(axis=0)
        dh = dout @ W2.T
        if self.gelu:
            dh = self.gelu.backward(dh)
        else:
            dh *= hidden > 0  # ReLU's slope: 1 where it let the input through, 0 elsewhere
        dh2 = dh.reshape(-1, D_ff)
        dW1[...] = x.reshape(-1, D).T @ dh2
        db1[...] = dh2.sum(axis=0)
        return dh @ W1.T
