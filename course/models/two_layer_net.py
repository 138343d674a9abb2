"""The review model: a two-layer network, Affine -> Sigmoid -> Affine -> softmax loss."""

from __future__ import annotations

from typing import Any

from course import backend
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
