"""Multi-head attention: h attentions side by side, each on its own slice of a projection.

The queries, keys and values are projected (Wq, Wk, Wv, each (D, D)), cut
into h heads of D/h features (:func:`split_heads`), attended to per head by
:class:`~course.layers.scaled_attention.ScaledDotProductAttention`, glued
back together (:func:`merge_heads`) and projected once more (Wo). Each head
can look somewhere else: one at the previous token, one at the matching
word of the source...

Self-attention passes the same sequence as queries and keys/values
(``forward(x, x)``); cross-attention (a decoder looking at its encoder) passes
the decoder states as queries and the encoder states as keys/values.

Shapes: N batch, Tq query positions, Tk key/value positions, D model size,
h heads of dk = D/h features.
"""

from __future__ import annotations

from typing import Any

from course import backend, validate
from course.answers import model_answer
from course.layers.scaled_attention import ScaledDotProductAttention, check_attention_mask

Array = Any


@model_answer("split_heads", chapter="ch09")
def split_heads(x: Array, num_heads: int) -> Array:
    """(N, T, D) -> (N, h, T, D/h): head i gets the features i*D/h ... (i+1)*D/h - 1 of every position."""
    N, T, D = x.shape
    return x.reshape(N, T, num_heads, D // num_heads).transpose(0, 2, 1, 3)


@model_answer("merge_heads", chapter="ch09")
def merge_heads(x: Array) -> Array:
    """(N, h, T, dk) -> (N, T, h*dk): the heads side by side again, undoing :func:`split_heads`."""
    N, h, T, dk = x.shape
    return x.transpose(0, 2, 1, 3).reshape(N, T, h * dk)


def head_mask(mask: Array | None) -> Array | None:
    """A mask for the scores (N, h, Tq, Tk): (N, Tq|1, Tk) gets a head axis; (Tq, Tk) and 4-D pass."""
    return mask[:, None] if mask is not None and mask.ndim == 3 else mask


class MultiHeadAttention:
    """Multi-head attention with input and output projections.

    params: Wq, bq, Wk, bk, Wv, bv, Wo, bo (W (D, D), b (D,)).
    forward(x_q (N, Tq, D), x_kv (N, Tk, D), mask=None) -> (N, Tq, D); mask:
    booleans, True where a query may attend: (Tq, Tk) (causal), (N, 1, Tk) or
    (N, Tq, Tk) (the same for every head), or (N, 1|h, 1|Tq, Tk).
    ``attention_weights`` keeps the last weights (N, h, Tq, Tk).
    backward(dout (N, Tq, D)) -> (dx_q, dx_kv); for self-attention the caller adds the two.
    """

    param_names = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")

    def __init__(self, D: int, num_heads: int, dtype: str = "float32") -> None:
        D = validate.check_count(D, "MultiHeadAttention", "D (the model size)")
        num_heads = validate.check_count(num_heads, "MultiHeadAttention", "num_heads")
        if D % num_heads:
            raise validate.InputError(
                f"MultiHeadAttention: D = {D} is not a multiple of num_heads = {num_heads}; each head gets "
                "D / num_heads features, so pick sizes that divide."
            )
        self.num_heads = num_heads
        self.params = []
        for _ in range(4):  # q, k, v and output projections: Xavier-style weights, zero biases
            self.params += [backend.randn(D, D, scale=D**-0.5, dtype=dtype), backend.zeros(D, dtype=dtype)]
        xp = backend.array_module(self.params[0])
        self.grads = [xp.zeros_like(p) for p in self.params]
        self.attention = ScaledDotProductAttention()
        self.attention_weights: Array | None = None
        self.cache: tuple | None = None

    def forward(self, x_q: Array, x_kv: Array, mask: Array | None = None) -> Array:
        Wq, bq, Wk, bk, Wv, bv, Wo, bo = self.params
        h = self.num_heads
        q = split_heads(x_q @ Wq + bq, h)
        k = split_heads(x_kv @ Wk + bk, h)
        v = split_heads(x_kv @ Wv + bv, h)
        context = merge_heads(self.attention.forward(q, k, v, head_mask(mask)))  # (N, Tq, D)
        self.attention_weights = self.attention.attention_weights
        self.cache = (x_q, x_kv, context)
        return context @ Wo + bo

    def backward(self, dout: Array) -> tuple[Array, Array]:
        Wq, _, Wk, _, Wv, _, Wo, _ = self.params
        dWq, dbq, dWk, dbk, dWv, dbv, dWo, dbo = self.grads
        x_q, x_kv, context = self.cache
        D = Wo.shape[0]
        rows = lambda a: a.reshape(-1, D)  # noqa: E731 - every position is one row of the projections
        dWo[...] = rows(context).T @ rows(dout)
        dbo[...] = rows(dout).sum(axis=0)
        dq, dk, dv = self.attention.backward(split_heads(dout @ Wo.T, self.num_heads))
        dq, dk, dv = merge_heads(dq), merge_heads(dk), merge_heads(dv)
        for dW, db, x, d in ((dWq, dbq, x_q, dq), (dWk, dbk, x_kv, dk), (dWv, dbv, x_kv, dv)):
            dW[...] = rows(x).T @ rows(d)
            db[...] = rows(d).sum(axis=0)
        return dq @ Wq.T, dk @ Wk.T + dv @ Wv.T


# --------------------------------------------------------------------------
# Input checks (see course.validate.guard).
# --------------------------------------------------------------------------


def _check_split(x: Array, num_heads: int) -> None:
    who = "split_heads"
    validate.check_numeric(x, who, "x", "(N, T, D)")
    validate.check_ndim(x, 3, who, "x", "(N, T, D)")
    h = validate.check_count(num_heads, who, "num_heads")
    if x.shape[2] % h:
        raise validate.ShapeError(
            f"{who}: x has shape {tuple(x.shape)}; its D = {x.shape[2]} is not a multiple of num_heads = {h}."
        )


def _check_merge(x: Array) -> None:
    validate.check_numeric(x, "merge_heads", "x", "(N, h, T, dk)")
    validate.check_ndim(x, 4, "merge_heads", "x", "(N, h, T, dk)")


def _check_forward(self: Any, x_q: Array, x_kv: Array, mask: Array | None = None) -> None:
    who = "MultiHeadAttention.forward"
    D = self.params[0].shape[0]
    for name, x, T in (("x_q", x_q, "Tq"), ("x_kv", x_kv, "Tk")):
        validate.check_float(x, who, name, f"(N, {T}, D) with D = {D}")
        if x.ndim != 3 or x.shape[2] != D:
            raise validate.ShapeError(
                f"{who}: {name} has shape {tuple(x.shape)}, expected (N, {T}, D) with D = {D} (the size of "
                "the projections Wq, Wk, Wv)."
            )
    if x_kv.shape[0] != x_q.shape[0]:
        raise validate.ShapeError(
            f"{who}: x_q has N = {x_q.shape[0]} sequences but x_kv has {x_kv.shape[0]}; they must match."
        )
    scores = (x_q.shape[0], self.num_heads, x_q.shape[1], x_kv.shape[1])
    if mask is not None:
        validate.check_array(mask, who, "mask", f"of booleans broadcastable to {scores}")
    check_attention_mask(head_mask(mask), scores, who)


def _check_backward(self: Any, dout: Array) -> None:
    validate.check_backward_ready(self.cache, "MultiHeadAttention")
    validate.check_dout(dout, self.cache[0].shape, "MultiHeadAttention")


split_heads = validate.guarded(split_heads, _check_split)
merge_heads = validate.guarded(merge_heads, _check_merge)
validate.guard(MultiHeadAttention, forward=_check_forward, backward=_check_backward)
