"""Attention: which encoder states should the decoder look at now?

One decoder step with hidden state h (N, H) looks at the encoder states
hs (N, T, H):

* ``AttentionWeight``: scores s_t = hs_t . h, weights a = softmax(s) (N, T);
* ``WeightSum``: the context vector c = sum_t a_t hs_t (N, H);
* ``Attention``: both in one layer.

``TimeAttention`` does this for all Ty decoder steps at once with batched
matrix products: S = H_dec hs^T (N, Ty, T), A = softmax(S), C = A hs. A mask
(N, T) of real (not padding) encoder positions gives padded positions a
weight of exactly zero.
"""

from __future__ import annotations

from typing import Any

from course import backend, validate
from course.answers import model_answer

Array = Any


def masked_softmax(scores: Array, mask: Array | None) -> Array:
    """Softmax over the last axis; positions where mask is False get weight 0.

    scores: (..., T); mask: booleans broadcastable to scores' shape
    ((N, 1, T), (N, T), a causal (T, T)...), or None. A row whose mask is
    False everywhere has nothing to look at: its weights are all 0, not NaN.
    """
    xp = backend.array_module(scores)
    if mask is None:
        e = xp.exp(scores - scores.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    scores = xp.where(mask, scores, -xp.inf)
    top = scores.max(axis=-1, keepdims=True)
    top = xp.where(xp.isfinite(top), top, 0.0)  # a fully masked row: exp(-inf) = 0 everywhere
    e = xp.exp(scores - top)
    total = e.sum(axis=-1, keepdims=True)
    return e / xp.where(total > 0, total, 1.0)


@model_answer("weight_sum", chapter="ch08", methods=("forward", "backward"), derivation=True)
class WeightSum:
    """Context vector: c = sum over t of a[:, t] * hs[:, t].

    forward(hs (N, T, H), a (N, T)) -> c (N, H).
    backward(dc (N, H)) -> (dhs (N, T, H), da (N, T)).
    """

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.cache: tuple | None = None

    def forward(self, hs: Array, a: Array) -> Array:
        self.cache = (hs, a)
        return (hs * a[:, :, None]).sum(axis=1)

    def backward(self, dc: Array) -> tuple[Array, Array]:
        hs, a = self.cache
        dhs = dc[:, None, :] * a[:, :, None]
        da = (hs * dc[:, None, :]).sum(axis=2)
        return dhs, da


@model_answer("attention_weight", chapter="ch08", methods=("forward", "backward"), derivation=True)
class AttentionWeight:
    """Attention weights from dot-product scores: a = softmax_t(hs[:, t] . h).

    forward(hs (N, T, H), h (N, H)) -> a (N, T).
    backward(da (N, T)) -> (dhs (N, T, H), dh (N, H)).
    """

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.cache: tuple | None = None

    def forward(self, hs: Array, h: Array, mask: Array | None = None) -> Array:
        scores = (hs * h[:, None, :]).sum(axis=2)
        a = masked_softmax(scores, mask)
        self.cache = (hs, h, a)
        return a

    def backward(self, da: Array) -> tuple[Array, Array]:
        hs, h, a = self.cache
        ds = a * (da - (a * da).sum(axis=1, keepdims=True))  # softmax backward
        dhs = ds[:, :, None] * h[:, None, :]
        dh = (ds[:, :, None] * hs).sum(axis=1)
        return dhs, dh


class Attention:
    """One decoder step of attention: c = WeightSum(hs, AttentionWeight(hs, h)).

    forward(hs (N, T, H), h (N, H)) -> c (N, H); ``attention_weight`` keeps a (N, T).
    backward(dc (N, H)) -> (dhs (N, T, H), dh (N, H)).
    """

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.weight_layer = AttentionWeight()
        self.sum_layer = WeightSum()
        self.attention_weight: Array | None = None

    def forward(self, hs: Array, h: Array, mask: Array | None = None) -> Array:
        a = self.weight_layer.forward(hs, h, mask)
        self.attention_weight = a
        return self.sum_layer.forward(hs, a)

    def backward(self, dc: Array) -> tuple[Array, Array]:
        dhs_sum, da = self.sum_layer.backward(dc)
        dhs_weight, dh = self.weight_layer.backward(da)
        return dhs_sum + dhs_weight, dh


@model_answer(
    "time_attention",
    chapter="ch08",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.attention:Attention",),
)
class TimeAttention:
    """Attention for every decoder step at once.

    forward(hs_enc (N, T, H), hs_dec (N, Ty, H), mask=None) -> cs (N, Ty, H);
    mask (N, T) marks the real encoder positions (None: all). The weights of
    the last forward are kept in ``attention_weights`` (N, Ty, T).
    backward(dcs (N, Ty, H)) -> (dhs_enc (N, T, H), dhs_dec (N, Ty, H)).
    Equal to running ``Attention`` at each step, without a Python loop.
    """

    def __init__(self) -> None:
        self.params, self.grads = [], []
        self.attention_weights: Array | None = None
        self.cache: tuple | None = None

    def forward(self, hs_enc: Array, hs_dec: Array, mask: Array | None = None) -> Array:
        scores = hs_dec @ hs_enc.transpose(0, 2, 1)  # (N, Ty, T)
        a = masked_softmax(scores, None if mask is None else mask[:, None, :])
        self.attention_weights = a
        self.cache = (hs_enc, hs_dec, a)
        return a @ hs_enc

    def backward(self, dcs: Array) -> tuple[Array, Array]:
        hs_enc, hs_dec, a = self.cache
        da = dcs @ hs_enc.transpose(0, 2, 1)  # (N, Ty, T)
        dscores = a * (da - (a * da).sum(axis=2, keepdims=True))
        dhs_enc = a.transpose(0, 2, 1) @ dcs + dscores.transpose(0, 2, 1) @ hs_dec
        dhs_dec = dscores @ hs_enc
        return dhs_enc, dhs_dec


# --------------------------------------------------------------------------
# Input checks, installed around the chapters' answers above (see course.validate.guard).
# --------------------------------------------------------------------------


def _check_states(who: str, hs: Array, h: Array, h_name: str, h_shape: str, hs_name: str = "hs") -> None:
    """hs (N, T, H) floats, and h with the same N and H (h_shape names its shape)."""
    validate.check_float(hs, who, hs_name, "(N, T, H): the encoder's hidden states")
    validate.check_ndim(hs, 3, who, hs_name, "(N, T, H): the encoder's hidden states")
    validate.check_float(h, who, h_name, h_shape)
    ndim = h_shape.count(",") + 1
    if h.ndim != ndim or h.shape[0] != hs.shape[0] or h.shape[-1] != hs.shape[2]:
        N, _, H = hs.shape
        raise validate.ShapeError(
            f"{who}: {h_name} has shape {tuple(h.shape)} but {hs_name} is {tuple(hs.shape)}; {h_name} must "
            f"be {h_shape} with N = {N} and H = {H} (the same batch and hidden size as {hs_name})."
        )


def _check_weight_sum_forward(self: Any, hs: Array, a: Array) -> None:
    who = "WeightSum.forward"
    validate.check_float(hs, who, "hs", "(N, T, H)")
    validate.check_ndim(hs, 3, who, "hs", "(N, T, H)")
    validate.check_float(a, who, "a", f"(N, T) = {hs.shape[:2]}: one weight per position")
    validate.check_same_shape(a, hs.shape[:2], who, "a", "(N, T)", "One weight per encoder position.")


def _check_weight_sum_backward(self: Any, dc: Array) -> None:
    validate.check_backward_ready(self.cache, "WeightSum")
    hs = self.cache[0]
    validate.check_dout(dc, (hs.shape[0], hs.shape[2]), "WeightSum", "dc")


def _check_attention_weight_forward(self: Any, hs: Array, h: Array, mask: Array | None = None) -> None:
    who = "AttentionWeight.forward"
    _check_states(who, hs, h, "h", "(N, H)")
    validate.check_mask(mask, hs.shape[:2], who)


def _check_attention_weight_backward(self: Any, da: Array) -> None:
    validate.check_backward_ready(self.cache, "AttentionWeight")
    validate.check_dout(da, self.cache[2].shape, "AttentionWeight", "da")


def _check_time_attention_forward(self: Any, hs_enc: Array, hs_dec: Array, mask: Array | None = None) -> None:
    who = "TimeAttention.forward"
    _check_states(who, hs_enc, hs_dec, "hs_dec", "(N, Ty, H)", "hs_enc")
    validate.check_mask(mask, hs_enc.shape[:2], who)


def _check_time_attention_backward(self: Any, dcs: Array) -> None:
    validate.check_backward_ready(self.cache, "TimeAttention")
    validate.check_dout(dcs, self.cache[1].shape, "TimeAttention", "dcs")


validate.guard(WeightSum, forward=_check_weight_sum_forward, backward=_check_weight_sum_backward)
validate.guard(
    AttentionWeight, forward=_check_attention_weight_forward, backward=_check_attention_weight_backward
)
validate.guard(TimeAttention, forward=_check_time_attention_forward, backward=_check_time_attention_backward)
