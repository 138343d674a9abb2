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

import numbers
from typing import Any

from course import backend, validate
from course.answers import model_answer
from course.functions import labels_from_targets, sigmoid, softmax

Array = Any


@model_answer(
    "matmul",
    chapter="ch03",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.basic:Affine", "course.layers.time:TimeAffine"),
)
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


@model_answer(
    "affine",
    chapter="ch01",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.time:TimeAffine",),
)
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


@model_answer("sigmoid", chapter="ch01", methods=("forward", "backward"), derivation=True)
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


@model_answer(
    "softmax_with_loss",
    chapter="ch01",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.time:TimeSoftmaxWithLoss",),
)
class SoftmaxWithLoss:
    """Softmax followed by the mean cross-entropy loss.

    forward(x, t): x (N, C) scores; t (N,) integer labels or (N, C) one-hot.
    Returns the scalar loss, exact even for scores of ±1e4 (log-softmax).
    backward(dout=1) -> dx (N, C), the gradient of dout * loss with respect to x.
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


# --------------------------------------------------------------------------
# Input checks. The classes above are the chapters' model answers, shown in the
# notebooks exactly as written, so their inputs are checked by guards installed
# around them (see course.validate.guard): one check per call, before it runs.
# --------------------------------------------------------------------------


def _check_matmul_init(self: Any, W: Array) -> None:
    validate.check_weight(W, "MatMul", "W", 2, "(D, H)")


def _check_affine_init(self: Any, W: Array, b: Array) -> None:
    validate.check_weight(W, "Affine", "W", 2, "(D, H)")
    validate.check_weight(b, "Affine", "b", 1, f"(H,) with H = W.shape[1] = {W.shape[1]}")
    validate.check_same_shape(b, (W.shape[1],), "Affine", "b", "(H,)", "b has one entry per column of W.")


def _check_linear_forward(self: Any, x: Array) -> None:
    W = self.params[0]
    who = f"{type(self).__name__}.forward"
    validate.check_numeric(x, who, "x", f"(N, D) with D = {W.shape[0]}")
    if x.ndim == 0 or x.shape[-1] != W.shape[0]:
        raise validate.ShapeError(
            f"{who}: x has shape {tuple(x.shape)} but W is {tuple(W.shape)}: x must be (N, D) "
            f"(or (N, ..., D)) with D = W.shape[0] = {W.shape[0]} features in its last axis. "
            "Check the layer sizes (or pass x.T if the axes are swapped)."
        )


def _check_linear_backward(self: Any, dout: Array) -> None:
    who = type(self).__name__
    validate.check_backward_ready(self.x, who)
    validate.check_dout(dout, (*self.x.shape[:-1], self.params[0].shape[1]), who)


def _check_elementwise_forward(self: Any, x: Array, *args: Any, **kwargs: Any) -> None:
    validate.check_numeric(x, f"{type(self).__name__}.forward", "x", "of any shape")


def _check_sigmoid_forward(self: Any, x: Array) -> None:
    if not isinstance(x, numbers.Real):  # a single number works too
        validate.check_numeric(x, "Sigmoid.forward", "x", "of any shape")


def _checker_backward(attribute: str) -> Any:
    """A backward check: forward has run (``attribute`` is set) and dout has the output's shape."""

    def check(self: Any, dout: Array) -> None:
        who = type(self).__name__
        kept = getattr(self, attribute)
        validate.check_backward_ready(kept, who)
        if not (kept.shape == () and isinstance(dout, numbers.Real)):  # a number for a number
            validate.check_dout(dout, kept.shape, who)

    return check


def _check_softmax_forward(self: Any, x: Array) -> None:
    validate.check_numeric(x, "Softmax.forward", "x", "(N, C) scores")
    validate.check_ndim(x, (1, 2, 3), "Softmax.forward", "x", "(C,), (N, C) or (N, T, C) scores")


def _check_softmax_loss_forward(self: Any, x: Array, t: Array) -> None:
    who = "SoftmaxWithLoss.forward"
    validate.check_numeric(x, who, "x", "(N, C) scores")
    validate.check_ndim(
        x, 2, who, "x", "(N, C): one row of C class scores per example",
        "For scores of sequences (N, T, V) use TimeSoftmaxWithLoss.",
    )  # fmt: skip
    validate.check_array(t, who, "t", f"(N,) = ({x.shape[0]},) of labels or (N, C) one-hot")
    if t.shape == x.shape:
        validate.check_one_hot(t, x.shape, who)
        return
    if t.ndim == 2:  # one-hot rows of another width
        validate.check_one_hot(t, x.shape, who)
    if t.shape != x.shape[:1]:
        raise validate.ShapeError(
            f"{who}: t has shape {tuple(t.shape)} but the scores x are {tuple(x.shape)}; t must be (N,) = "
            f"({x.shape[0]},) integer labels or (N, C) = {tuple(x.shape)} one-hot rows, one per row of x."
        )
    validate.check_labels(t, x.shape[1], who)


def _check_loss_backward(self: Any, dout: Any = 1) -> None:
    who = type(self).__name__
    validate.check_backward_ready(self.y, who)
    validate.check_scalar_dout(dout, who)


def _check_sigmoid_loss_forward(self: Any, x: Array, t: Array) -> None:
    who = "SigmoidWithLoss.forward"
    validate.check_numeric(x, who, "x", "of scores")
    validate.check_numeric(t, who, "t", "of 0/1 targets, the shape of x")
    if t.size and (float(t.min()) < 0 or float(t.max()) > 1):
        raise validate.InputError(
            f"{who}: targets t must be 0 or 1 (or probabilities in [0, 1]); got values from "
            f"{float(t.min()):g} to {float(t.max()):g}. There is no label to ignore here."
        )


def _check_dropout_backward(self: Any, dout: Array) -> None:
    if self.mask is not None:
        validate.check_dout(dout, self.mask.shape, type(self).__name__)


validate.guard(
    MatMul, __init__=_check_matmul_init, forward=_check_linear_forward, backward=_check_linear_backward
)
validate.guard(
    Affine, __init__=_check_affine_init, forward=_check_linear_forward, backward=_check_linear_backward
)
validate.guard(Sigmoid, forward=_check_sigmoid_forward, backward=_checker_backward("out"))
validate.guard(Relu, forward=_check_elementwise_forward, backward=_checker_backward("mask"))
validate.guard(Softmax, forward=_check_softmax_forward, backward=_checker_backward("out"))
validate.guard(SoftmaxWithLoss, forward=_check_softmax_loss_forward, backward=_check_loss_backward)
validate.guard(SigmoidWithLoss, forward=_check_sigmoid_loss_forward, backward=_check_loss_backward)
validate.guard(Dropout, forward=_check_elementwise_forward, backward=_check_dropout_backward)
