"""Scaled dot-product attention: every query looks at every key at once.

Chapter 8's decoder scored each encoder state against its own hidden state.
The Transformer does the same for a whole set of queries in two matrix
products and no loop over time:

    S = q k^T / sqrt(d)       scores (..., Tq, Tk)
    A = softmax(S)            weights over the keys, one row per query
    out = A v                 (..., Tq, dv)

Dividing by sqrt(d) keeps the scores' spread independent of the vector size
d: without it the dot products of random d-vectors have variance ~d and the
softmax saturates on one key, where its gradient vanishes.

A mask says which keys a query may look at (True = may attend). It is any
boolean array that broadcasts to (..., Tq, Tk): a padding mask (N, 1, Tk) or
(N, 1, 1, Tk) hides the padding of each key sequence; :func:`causal_mask`
(Tq, Tk) hides the future. A query whose mask is False everywhere gets
weights 0 (and an output of 0), never NaN.

Shapes: N batch, Tq queries, Tk keys, d query/key size, dv value size; any
leading axes (e.g. N and the heads h) are batch axes.
"""

from __future__ import annotations

import math
from typing import Any

from course import backend, validate
from course.answers import model_answer
from course.layers.attention import masked_softmax

Array = Any


@model_answer("causal_mask", chapter="ch09")
def causal_mask(T: int) -> Array:
    """(T, T) booleans, True where query i may look at key j: at j <= i (itself and the past).

    Built on the backend in use, so it broadcasts against device scores.
    """
    xp = backend.xp()
    return xp.tril(xp.ones((T, T), dtype=bool))


@model_answer("scaled_attention", chapter="ch09", methods=("forward", "backward"), derivation=True)
class ScaledDotProductAttention:
    """out = softmax(q k^T / sqrt(d)) v, with an optional mask; no parameters.

    forward(q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv), mask=None) -> (..., Tq, dv);
    mask: booleans broadcastable to (..., Tq, Tk), True where a query may attend.
    The weights of the last forward are kept in ``attention_weights`` (..., Tq, Tk).
    backward(dout (..., Tq, dv)) -> (dq, dk, dv), shaped like q, k and v.
    """

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.attention_weights: Array | None = None
        self.cache: tuple | None = None

    def forward(self, q: Array, k: Array, v: Array, mask: Array | None = None) -> Array:
        scale = 1.0 / math.sqrt(q.shape[-1])
        scores = (q @ k.swapaxes(-1, -2)) * scale  # (..., Tq, Tk)
        a = masked_softmax(scores, mask)
        self.attention_weights = a
        self.cache = (q, k, v, a, scale)
        return a @ v

    def backward(self, dout: Array) -> tuple[Array, Array, Array]:
        q, k, v, a, scale = self.cache
        dv = a.swapaxes(-1, -2) @ dout
        da = dout @ v.swapaxes(-1, -2)
        dscores = a * (da - (a * da).sum(axis=-1, keepdims=True)) * scale
        dq = dscores @ k
        dk = dscores.swapaxes(-1, -2) @ q
        return dq, dk, dv


# --------------------------------------------------------------------------
# Input checks, installed around the chapter's answers above (see course.validate.guard).
# --------------------------------------------------------------------------


def check_attention_mask(mask: Any, scores_shape: tuple, who: str) -> None:
    """None, or booleans that broadcast to the scores' shape (..., Tq, Tk)."""
    if mask is None:
        return
    validate.check_array(mask, who, "mask", f"of booleans broadcastable to {tuple(scores_shape)}")
    if mask.dtype.kind != "b":
        raise validate.InputTypeError(
            f"{who}: mask must hold booleans (True where a query may attend), got dtype {mask.dtype}. "
            "Build it with a comparison, e.g. xs != pad_id, or with causal_mask(T)."
        )
    fits = mask.ndim <= len(scores_shape) and all(
        m in (1, s) for m, s in zip(mask.shape[::-1], scores_shape[::-1], strict=False)
    )
    if not fits:
        raise validate.ShapeError(
            f"{who}: mask has shape {tuple(mask.shape)}, which does not broadcast to the scores "
            f"(..., Tq, Tk) = {tuple(scores_shape)}. Use (Tq, Tk) for a causal mask, (N, 1, Tk) or "
            "(N, 1, 1, Tk) for padding."
        )


def _check_forward(self: Any, q: Array, k: Array, v: Array, mask: Array | None = None) -> None:
    who = "ScaledDotProductAttention.forward"
    validate.check_float(q, who, "q", "(..., Tq, d): one query per row")
    validate.check_float(k, who, "k", "(..., Tk, d): one key per row")
    validate.check_float(v, who, "v", "(..., Tk, dv): one value per key")
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise validate.ShapeError(
            f"{who}: q, k and v must have the same number of axes (at least 2); got shapes "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}."
        )
    d = q.shape[-1]
    if tuple(k.shape[:-2]) != tuple(q.shape[:-2]) or k.shape[-1] != d:
        expected = (*q.shape[:-2], k.shape[-2], d)
        raise validate.ShapeError(
            f"{who}: k has shape {tuple(k.shape)}, expected (..., Tk, d) = {expected}: the batch axes "
            "of q and the same vector size d as the queries."
        )
    if tuple(v.shape[:-1]) != tuple(k.shape[:-1]):
        expected = (*k.shape[:-1], v.shape[-1])
        raise validate.ShapeError(
            f"{who}: v has shape {tuple(v.shape)}, expected (..., Tk, dv) = {expected}: one value per key."
        )
    check_attention_mask(mask, (*q.shape[:-1], k.shape[-2]), who)


def _check_backward(self: Any, dout: Array) -> None:
    validate.check_backward_ready(self.cache, "ScaledDotProductAttention")
    q, v = self.cache[0], self.cache[2]
    validate.check_dout(dout, (*q.shape[:-1], v.shape[-1]), "ScaledDotProductAttention")


validate.guard(ScaledDotProductAttention, forward=_check_forward, backward=_check_backward)
