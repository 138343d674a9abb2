"""The review model: a two-layer network, Affine -> Sigmoid -> Affine -> softmax loss."""

from __future__ import annotations

from typing import Any

from course import backend, validate
from course.layers import Affine, Sigmoid, SoftmaxWithLoss

Array = Any


class TwoLayerNet:
    """A two-layer classifier for the spiral data of chapter 1.

    Shapes: x (N, D) with D = input_size; hidden H = hidden_size; C = output_size
    classes; t (N,) labels or (N, C) one-hot.
    Weights start as 0.01 * N(0, 1), biases at zero.

    Example: ``TwoLayerNet(2, 10, 3).forward(x, t)`` returns the mean loss.
    """

    param_names = ("W1", "b1", "W2", "b2")

    def __init__(self, input_size: int, hidden_size: int, output_size: int, dtype: str = "float32") -> None:
        D, H, C = input_size, hidden_size, output_size
        self.layers = [
            Affine(backend.randn(D, H, scale=0.01, dtype=dtype), backend.zeros(H, dtype=dtype)),
            Sigmoid(),
            Affine(backend.randn(H, C, scale=0.01, dtype=dtype), backend.zeros(C, dtype=dtype)),
        ]
        self.loss_layer = SoftmaxWithLoss()
        self.params = [p for layer in self.layers for p in layer.params]
        self.grads = [g for layer in self.layers for g in layer.grads]

    def predict(self, x: Array) -> Array:
        """Class scores (N, C) for inputs x (N, D)."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def forward(self, x: Array, t: Array) -> Array:
        """Mean cross-entropy loss of the batch."""
        return self.loss_layer.forward(self.predict(x), t)

    def backward(self, dout: float = 1) -> Array:
        """Backpropagate the loss; fills ``grads`` and returns dx (N, D)."""
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def accuracy(self, x: Array, t: Array) -> float:
        """Share of examples whose highest score is the target class."""
        scores = self.predict(backend.to_device(x, like=self.params[0]))
        labels = backend.to_device(t, like=scores)
        if labels.ndim == 2:
            labels = labels.argmax(axis=1)
        return float((scores.argmax(axis=1) == labels).mean())


def _check_sizes(model: TwoLayerNet, input_size: int, hidden_size: int, output_size: int, *args: Any) -> None:
    for name, value in (
        ("input_size", input_size),
        ("hidden_size", hidden_size),
        ("output_size", output_size),
    ):
        validate.check_count(value, "TwoLayerNet", name)


def _check_predict(model: TwoLayerNet, x: Array) -> None:
    W1 = model.params[0]
    validate.check_numeric(x, "TwoLayerNet", "x", f"(N, D) with D = {W1.shape[0]}")
    if x.ndim != 2 or x.shape[1] != W1.shape[0]:
        raise validate.ShapeError(
            f"TwoLayerNet: x has shape {tuple(x.shape)}, expected (N, D) with D = input_size = {W1.shape[0]}."
        )


def _check_forward(model: TwoLayerNet, x: Array, t: Array) -> None:
    _check_predict(model, x)
    C = model.params[-1].shape[0]
    validate.check_array(t, "TwoLayerNet.forward", "t", f"(N,) labels or (N, {C}) one-hot rows")
    if t.shape == (x.shape[0], C):
        validate.check_one_hot(t, t.shape, "TwoLayerNet.forward")
    else:
        validate.check_same_shape(
            t, x.shape[:1], "TwoLayerNet.forward", "t", f"(N,) labels (or (N, {C}) one-hot)"
        )
        validate.check_labels(t, C, "TwoLayerNet.forward")


def _check_backward(model: TwoLayerNet, dout: float = 1) -> None:
    validate.check_backward_ready(model.loss_layer.y, "TwoLayerNet")
    validate.check_scalar_dout(dout, "TwoLayerNet")


# Inputs are checked once, where a batch enters the model (see course.validate.guard).
validate.guard(
    TwoLayerNet,
    __init__=_check_sizes,
    predict=_check_predict,
    forward=_check_forward,
    backward=_check_backward,
)
