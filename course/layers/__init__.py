"""The course's layers, one file per family; each follows the layer contract.

Contract: ``params`` and ``grads`` are lists of arrays (same order, same
shapes); ``forward(...)`` returns the output; ``backward(dout)`` returns the
input gradient(s) and writes parameter gradients into ``grads`` in place.
"""

from course.layers.basic import (
    Affine,
    Dropout,
    MatMul,
    Relu,
    Sigmoid,
    SigmoidWithLoss,
    Softmax,
    SoftmaxWithLoss,
)

__all__ = [
    "Affine",
    "Dropout",
    "MatMul",
    "Relu",
    "Sigmoid",
    "SigmoidWithLoss",
    "Softmax",
    "SoftmaxWithLoss",
]
