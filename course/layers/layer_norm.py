"""Layer normalization: every vector rescaled to mean 0 and variance 1, then a learned scale and shift.

Each row x (D,) of the input - one position of one sequence - is normalized
on its own, over its D features:

    mu = mean(x),  var = mean((x - mu)^2),  xhat = (x - mu) / sqrt(var + eps)
    y = gamma * xhat + beta

Unlike batch normalization nothing depends on the other rows, so training
and generation compute the same thing and a batch of one works.

Shapes: any leading axes (N, T, ...), D features on the last axis.
"""

from __future__ import annotations

from typing import Any

from course import backend, validate
from course.answers import model_answer

Array = Any


@model_answer("layer_norm", chapter="ch09", methods=("backward",), derivation=True)
class LayerNorm:
    """y = gamma * (x - mean) / sqrt(var + eps) + beta over the last axis.

    params: gamma (D,) (ones), beta (D,) (zeros).
    forward(x (..., D)) -> (..., D). backward(dout (..., D)) -> dx (..., D);
    grads[0] (D,) and grads[1] (D,) receive the gradients of gamma and beta.
    """

    param_names = ("gamma", "beta")

    def __init__(self, D: int, eps: float = 1e-5, dtype: str = "float32") -> None:
        xp = backend.xp()
        self.params = [xp.ones(D, dtype=dtype), xp.zeros(D, dtype=dtype)]
        self.grads = [xp.zeros(D, dtype=dtype), xp.zeros(D, dtype=dtype)]
        self.eps = eps
        self.cache: tuple | None = None

    def forward(self, x: Array) -> Array:
        gamma, beta = self.params
        mu = x.mean(axis=-1, keepdims=True)
        xc = x - mu
        std = ((xc**2).mean(axis=-1, keepdims=True) + self.eps) ** 0.5
        xhat = xc / std
        self.cache = (xhat, std)
        return gamma * xhat + beta

    def backward(self, dout: Array) -> Array:
        gamma, _ = self.params
        xhat, std = self.cache
        D = xhat.shape[-1]
        self.grads[0][...] = (dout * xhat).reshape(-1, D).sum(axis=0)
        self.grads[1][...] = dout.reshape(-1, D).sum(axis=0)
        dxhat = dout * gamma
        mean_dxhat = dxhat.mean(axis=-1, keepdims=True)
        mean_dxhat_xhat = (dxhat * xhat).mean(axis=-1, keepdims=True)
        return (dxhat - mean_dxhat - xhat * mean_dxhat_xhat) / std


# --------------------------------------------------------------------------
# Input checks, installed around the chapter's answer above (see course.validate.guard).
# --------------------------------------------------------------------------


def _check_init(self: Any, D: int, eps: float = 1e-5, dtype: str = "float32") -> None:
    validate.check_count(D, "LayerNorm", "D (the number of features)")
    validate.check_positive(eps, "LayerNorm", "eps", "A small number such as 1e-5 keeps the division finite.")


def _check_forward(self: Any, x: Array) -> None:
    who = "LayerNorm.forward"
    D = self.params[0].shape[0]
    validate.check_float(x, who, "x", f"(..., D) with D = {D}")
    if x.ndim < 1 or x.shape[-1] != D:
        raise validate.ShapeError(
            f"{who}: x has shape {tuple(x.shape)}, expected (..., D) with D = {D}: the layer normalizes "
            f"vectors of {D} features (its gamma and beta have {D} entries)."
        )


def _check_backward(self: Any, dout: Array) -> None:
    validate.check_backward_ready(self.cache, "LayerNorm")
    validate.check_dout(dout, self.cache[0].shape, "LayerNorm")


validate.guard(LayerNorm, __init__=_check_init, forward=_check_forward, backward=_check_backward)
