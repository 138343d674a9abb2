"""Chapter 9 (the Transformer): scaled attention, the causal mask, split and merge of heads, LayerNorm."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autograder.students.checks import (
    assert_gradients_ok,
    assert_grads_written_in_place,
    assert_same_as_reference,
    host_rng,
    right_padding,
    sizes,
)
from course import backend
from course.layers import layer_norm as ref_norm
from course.layers import multi_head_attention as ref_heads
from course.layers import scaled_attention as ref

# Entries of each array checked numerically (each costs two forward passes in the subject when
# judged); the comparison with the reference covers every entry.
COORDS = 16


def _tril(t: int) -> Any:
    np = backend.host()
    return np.tril(np.ones((t, t), dtype=bool))


def scaled_attention(ScaledDotProductAttention: type, seed: int = 91) -> None:
    """Gradients and agreement with the reference without a mask, with padding, causal, and with heads."""
    rng = host_rng(seed)
    np = backend.host()
    for n, t, d in sizes(rng):
        tk, dv = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        q, k, v = (
            rng.standard_normal((n, t, d)),
            rng.standard_normal((n, tk, d)),
            rng.standard_normal((n, tk, dv)),
        )
        what = f"ScaledDotProductAttention with N={n}, Tq={t}, Tk={tk}, d={d}, dv={dv}"
        assert_gradients_ok(ScaledDotProductAttention(), q, k, v, what=what, max_coords=COORDS)
        pad = right_padding(rng, n, tk)[:, None, :]
        assert_gradients_ok(
            ScaledDotProductAttention(), q, k, v, pad, what=f"{what} and a padding mask", max_coords=COORDS
        )
        dout = rng.standard_normal((n, t, dv))
        make = lambda: (ScaledDotProductAttention(), ref.ScaledDotProductAttention())  # noqa: E731
        assert_same_as_reference(make, (q, k, v, pad), dout, what="ScaledDotProductAttention (padding)")
        kk, vv = rng.standard_normal((n, t, d)), rng.standard_normal((n, t, dv))
        assert_same_as_reference(make, (q, kk, vv, _tril(t)), dout, what="ScaledDotProductAttention (causal)")
    h = 2  # heads: a fourth axis, and a padding mask (N, 1, 1, Tk)
    q, k, v = (rng.standard_normal((3, h, 4, 2)) for _ in range(3))
    pad = right_padding(rng, 3, 4)[:, None, None, :]
    assert_gradients_ok(
        ScaledDotProductAttention(), q, k, v, pad, what="ScaledDotProductAttention, 4 axes", max_coords=COORDS
    )
    layer = ScaledDotProductAttention()
    layer.forward(q, k, v, pad)
    weights = getattr(layer, "attention_weights", None)
    if weights is None or tuple(weights.shape) != (3, h, 4, 4):
        raise AssertionError("Keep the weights (..., Tq, Tk) = (3, 2, 4, 4) in self.attention_weights.")
    # A query with no key to look at: zero weights and a zero output, never NaN.
    none = np.zeros((1, 1, 3), dtype=bool)
    out = np.asarray(ScaledDotProductAttention().forward(q[:1, 0], k[:1, 0, :3], v[:1, 0, :3], none))
    if not np.all(np.isfinite(out)) or np.abs(out).max() != 0:
        raise AssertionError("A fully masked query must get weights 0 and an output of 0, not NaN.")
    big = ScaledDotProductAttention().forward(*(np.ones((1, 2, 3)) * 1e3 for _ in range(3)))
    if not np.all(np.isfinite(np.asarray(big))):
        raise AssertionError("Large scores overflow: subtract each row's maximum before exp.")


def causal_mask(fn: Callable, seed: int = 92) -> None:
    """Exactly the lower triangle, booleans, for several sizes."""
    np = backend.host()
    for t in (1, 2, 3, 5, 8):
        got = np.asarray(fn(t))
        if got.shape != (t, t) or got.dtype != bool:
            raise AssertionError(
                f"causal_mask({t}) must be a ({t}, {t}) array of booleans; got {got.dtype} {got.shape}."
            )
        if not np.array_equal(got, _tril(t)):
            raise AssertionError(
                f"causal_mask({t}): query i may look at keys j <= i (itself and the past), and nowhere else."
            )


def split_heads(fn: Callable, seed: int = 93) -> None:
    """Against the reference on random shapes, including one head and dk = 1."""
    rng = host_rng(seed)
    np = backend.host()
    for n, t, h in [*sizes(rng), (2, 3, 1)]:
        dk = int(rng.integers(1, 4))
        x = rng.standard_normal((n, t, h * dk))
        got, want = np.asarray(fn(x.copy(), h)), ref_heads.split_heads(x, h)
        if got.shape != want.shape:
            raise AssertionError(
                f"split_heads of {x.shape} into {h} heads must be {want.shape}; got {got.shape}."
            )
        if not np.array_equal(got, want):
            raise AssertionError(
                f"split_heads of {x.shape} into {h} heads: head i must hold features i*dk ... (i+1)*dk - 1 "
                "of every position, in order."
            )


def merge_heads(fn: Callable, seed: int = 94) -> None:
    """Against the reference on random shapes; the inverse of the course's split_heads."""
    rng = host_rng(seed)
    np = backend.host()
    for n, h, t in [*sizes(rng), (2, 1, 3)]:
        dk = int(rng.integers(1, 4))
        x = rng.standard_normal((n, h, t, dk))
        got, want = np.asarray(fn(x.copy())), ref_heads.merge_heads(x)
        if got.shape != want.shape or not np.array_equal(got, want):
            raise AssertionError(
                f"merge_heads of {x.shape} must give {want.shape}, the heads side by side at every position "
                "(the inverse of split_heads)."
            )


def layer_norm(LayerNorm: type, seed: int = 95) -> None:
    """Gradients with random gamma and beta, agreement with the reference, grads written in place."""
    rng = host_rng(seed)
    for n, t, d in sizes(rng, 3, 3, 1, 5):
        d += 1  # D >= 2: with one feature every vector normalizes to 0
        gamma, beta = rng.standard_normal(d), rng.standard_normal(d)

        def make(d=d, gamma=gamma, beta=beta):
            student, reference = LayerNorm(d), ref_norm.LayerNorm(d)
            for layer in (student, reference):
                layer.params[0][...] = gamma
                layer.params[1][...] = beta
            return student, reference

        x = rng.standard_normal((n, t, d)) * 2 + 1
        assert_gradients_ok(make()[0], x, what=f"LayerNorm with N={n}, T={t}, D={d}", max_coords=None)
        assert_same_as_reference(make, (x,), rng.standard_normal((n, t, d)), what="LayerNorm")
    x = rng.standard_normal((4, 3))
    assert_gradients_ok(LayerNorm(3), x, what="LayerNorm on (N, D) = (4, 3)")
    layer = LayerNorm(3)
    layer.params[0][...] = rng.standard_normal(3)
    assert_grads_written_in_place(layer, "LayerNorm", (x,), (rng.standard_normal((4, 3)),))
