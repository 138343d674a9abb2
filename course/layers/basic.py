"""The basic layers: MatMul, Affine, Sigmoid, Relu, Softmax, the loss layers, Dropout.

Every layer follows the course's layer contract:

* ``params`` and ``grads`` are lists of arrays in the same order and shapes;
* ``forward(...)`` computes the output and caches what backward needs;
* ``backward(dout)`` returns the gradient with respect to the inputs and
  writes parameter gradients into ``grads`` *in place* (``g[...] = ...``),
  so an optimizer holding the list sees them.

Shapes: N batch, D input features, H output features, C classes.
"""

from __future__ import annotations

from typing import Any

from course import backend
from course.functions import labels_from_targets, sigmoid, softmax

Array = Any


class MatMul:
    """y = x @ W, without bias.

    W: (D, H). forward x: (N, D) or (N, ..., D) -> (N, ..., H).
    """

    param_names = ("W",)

    def __init__(self, W: Array) -> None:
        self.params = [W]
        self.grads = [backend.array_module(W).zeros_like(W)]
        self.x = None

    def forward(self, x: Array) -> Array:
        (W,) = self.params
        self.x = x
        return x @ W

    def backward(self, dout: Array) -> Array:
        (W,) = self.params
        # Fold any leading axes into one so a single matmul sums over all rows.
        x2 = self.x.reshape(-1, W.shape[0])
        self.grads[0][...] = x2.T @ dout.reshape(-1, W.shape[1])
        return dout @ W.T


class Affine:
    """y = x @ W + b.

    W: (D, H), b: (H,). forward x: (N, D) or (N, ..., D) -> (N, ..., H).
    """

    param_names = ("W", "b")

    def __init__(self, W: Array, b: Array) -> None:
        xp = backend.array_module(W)
        self.params = [W, b]
        self.grads = [xp.zeros_like(W), xp.zeros_like(b)]
        self.x = None

    def forward(self, x: Array) -> Array:
        W, b = self.params
        self.x = x
        return x @ W + b

    def backward(self, dout: Array) -> Array:
        W, _ = self.params
        # Fold any leading axes into one so a single matmul sums over all rows.
        dout2 = dout.reshape(-1, W.shape[1])
        self.grads[0][...] = self.x.reshape(-1, W.shape[0]).T @ dout2
        self.grads[1][...] = dout2.sum(axis=0)
        return dout @ W.T


class Sigmoid:
    """y = 1 / (1 + exp(-x)), elementwise; any shape."""

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.out = None

    def forward(self, x: Array) -> Array:
        xp = backend.array_module(x)
        # 1 / (1 + exp(-x)) written with tanh: the same values, and no overflow
        # warning for large negative x.
        self.out = 0.5 * (1.0 + xp.tanh(0.5 * x))
        return self.out

    def backward(self, dout: Array) -> Array:
        return dout * self.out * (1.0 - self.out)


class Relu:
    """y = max(x, 0), elementwise; any shape."""

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.mask = None

    def forward(self, x: Array) -> Array:
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout: Array) -> Array:
        dx = dout.copy()
        dx[self.mask] = 0
        return dx


class Softmax:
    """Softmax over the last axis. x: (N, C) -> probabilities (N, C)."""

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.out = None

    def forward(self, x: Array) -> Array:
        self.out = softmax(x)
        return self.out

    def backward(self, dout: Array) -> Array:
        y = self.out
        return y * (dout - (y * dout).sum(axis=-1, keepdims=True))


class SoftmaxWithLoss:
    """Softmax followed by the mean cross-entropy loss.

    forward(x, t): x (N, C) scores; t (N,) integer labels or (N, C) one-hot.
    Returns the scalar loss, exact even for scores of ±1e4 (log-softmax).
    backward(dout=1) -> dx (N, C) = (softmax(x) - onehot(t)) * dout / N.
    """

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.y = None
        self.labels = None

    def forward(self, x: Array, t: Array) -> Array:
        xp = backend.array_module(x)
        labels = labels_from_targets(x, t)
        shifted = x - x.max(axis=-1, keepdims=True)
        e = xp.exp(shifted)
        total = e.sum(axis=-1, keepdims=True)
        self.y = e / total
        self.labels = labels
        rows = xp.arange(x.shape[0])
        log_p = shifted[rows, labels] - xp.log(total[:, 0])
        return -log_p.sum() / x.shape[0]

    def backward(self, dout: Array = 1) -> Array:
        xp = backend.array_module(self.y)
        n = self.y.shape[0]
        dx = self.y.copy()
        dx[xp.arange(n), self.labels] -= 1
        dx *= dout / n
        return dx


class SigmoidWithLoss:
    """Sigmoid followed by the mean binary cross-entropy loss.

    forward(x, t): x (N,) or any shape of scores; t 0/1 targets, same shape.
    Returns the scalar loss (mean over all elements), stable for ±1e4.
    backward(dout=1) -> dx = (sigmoid(x) - t) * dout / x.size.
    """

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.y = None
        self.t = None

    def forward(self, x: Array, t: Array) -> Array:
        xp = backend.array_module(x)
        if t.shape != x.shape:
            raise ValueError(
                f"SigmoidWithLoss: targets t must have the shape of the scores x {x.shape}, got {t.shape}."
            )
        self.t = t
        self.y = sigmoid(x)
        # log(1 + exp(-|x|)) form of binary cross-entropy: no overflow, no log(0).
        loss = xp.maximum(x, 0) - x * t + xp.log1p(xp.exp(-xp.abs(x)))
        return loss.sum() / x.size

    def backward(self, dout: Array = 1) -> Array:
        return (self.y - self.t) * (dout / self.y.size)


class Dropout:
    """Inverted dropout: zero each unit with probability ``dropout_ratio``.

    During training kept units are scaled by 1 / (1 - ratio), so nothing
    changes at evaluation (``train_flg=False`` passes x through).
    forward(x, train_flg=True): any shape -> same shape.
    """

    def __init__(self, dropout_ratio: float = 0.5) -> None:
        if not 0.0 <= dropout_ratio < 1.0:
            raise ValueError(f"dropout_ratio must be in [0, 1), got {dropout_ratio}.")
        self.params, self.grads = [], []
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x: Array, train_flg: bool = True) -> Array:
        if not train_flg:
            self.mask = None
            return x
        xp = backend.array_module(x)
        keep = 1.0 - self.dropout_ratio
        draws = backend.rng(xp).random(x.shape, dtype=xp.float32)
        self.mask = (draws < keep).astype(x.dtype) / keep
        return x * self.mask

    def backward(self, dout: Array) -> Array:
        return dout if self.mask is None else dout * self.mask
