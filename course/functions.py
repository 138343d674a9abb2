"""Numerically stable activation and loss functions.

All functions accept NumPy or CuPy arrays and return arrays of the same
module. They stay finite for logits as large as ±1e4: no overflow warning,
no NaN.
"""

from __future__ import annotations

from typing import Any

from course import backend, validate

Array = Any


def sigmoid(x: Array) -> Array:
    """Logistic function 1 / (1 + exp(-x)), elementwise, any shape.

    Written as 0.5 * (1 + tanh(x / 2)), which equals the logistic function
    and never overflows.
    """
    xp = backend.array_module(x)
    return 0.5 * (1.0 + xp.tanh(0.5 * x))


def softmax(x: Array) -> Array:
    """Softmax over the last axis. Shapes: (C,), (N, C) or (N, T, C)."""
    xp = backend.array_module(x)
    shifted = x - x.max(axis=-1, keepdims=True)
    e = xp.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(x: Array) -> Array:
    """log(softmax(x)) over the last axis, without taking the log of 0."""
    xp = backend.array_module(x)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def labels_from_targets(y: Array, t: Array, who: str = "cross_entropy_error") -> Array:
    """Class indices from t given as labels (shape y.shape[:-1]) or one-hot (shape y.shape).

    Labels must lie in 0..C-1 (C = y.shape[-1]); one-hot rows must hold a single 1.
    Host labels for device scores are copied to the device, as CuPy's indexing would.
    """
    validate.check_array(t, who, "t", f"of labels {y.shape[:-1]} or one-hot rows {y.shape}")
    if t.shape == y.shape:
        validate.check_one_hot(t, y.shape, who)
        return backend.to_device(t.argmax(axis=-1), like=y)
    if t.shape != y.shape[:-1] or t.dtype.kind not in "iu":
        error = validate.ShapeError if t.dtype.kind in "iu" else validate.InputTypeError
        raise error(
            f"{who}: targets must be integer class labels of shape {y.shape[:-1]} or one-hot rows "
            f"of shape {y.shape}; got dtype {t.dtype} and shape {t.shape}."
        )
    return backend.to_device(validate.check_labels(t, y.shape[-1], who), like=y)


def cross_entropy_error(y: Array, t: Array) -> Array:
    """Mean cross-entropy of probabilities y against targets t.

    y: (C,) or (N, C) probabilities (the output of softmax).
    t: (N,) integer labels, or (N, C) one-hot rows. Returns a scalar.
    Probabilities of exactly 0 are clipped at 1e-7 (log of 0 would be -inf).
    """
    xp = backend.array_module(y)
    validate.check_numeric(y, "cross_entropy_error", "y", "(N, C) probabilities")
    validate.check_ndim(y, (1, 2), "cross_entropy_error", "y", "(C,) or (N, C) probabilities")
    validate.check_array(t, "cross_entropy_error", "t", "of labels (N,) or one-hot rows (N, C)")
    if y.ndim == 1:
        y = y.reshape(1, -1)
        t = t.reshape(1, -1) if t.ndim == 1 and t.size == y.shape[1] else t.reshape(1)
    labels = labels_from_targets(y, t).reshape(-1)
    n = y.shape[0]
    picked = y[xp.arange(n), labels]
    return -xp.log(xp.maximum(picked, 1e-7)).sum() / n


def softmax_cross_entropy(x: Array, labels: Array) -> Array:
    """Mean cross-entropy straight from logits: (N, C) scores, (N,) labels.

    Uses log-softmax, so it is exact even where softmax underflows to 0.
    """
    xp = backend.array_module(x)
    validate.check_numeric(x, "softmax_cross_entropy", "x", "(N, C) scores")
    validate.check_ndim(x, 2, "softmax_cross_entropy", "x", "(N, C) scores")
    validate.check_labels(labels, x.shape[1], "softmax_cross_entropy")
    validate.check_same_shape(labels, x.shape[:1], "softmax_cross_entropy", "labels", "(N,)")
    n = x.shape[0]
    return -log_softmax(x)[xp.arange(n), labels].sum() / n


def sigmoid_cross_entropy(x: Array, t: Array) -> Array:
    """Mean binary cross-entropy from logits x against 0/1 targets t (same shape).

    Uses log(1 + exp(-|x|)), which never overflows.
    """
    xp = backend.array_module(x)
    validate.check_numeric(x, "sigmoid_cross_entropy", "x", "of scores")
    validate.check_numeric(t, "sigmoid_cross_entropy", "t", "of 0/1 targets")
    validate.check_same_shape(t, x.shape, "sigmoid_cross_entropy", "t", "the shape of x")
    loss = xp.maximum(x, 0) - x * t + xp.log1p(xp.exp(-xp.abs(x)))
    return loss.sum() / loss.size
