"""Where a token stands: positional encodings added to the token vectors.

Attention treats its keys as a set: permute the input sequence and the
outputs are permuted the same way, nothing else changes. To tell "the cat
bit the dog" from "the dog bit the cat", each position p adds a vector of
its own to the token vector at p:

* :func:`sinusoidal_encoding` / :class:`PositionalEncoding`: fixed sines and
  cosines of geometrically spaced frequencies (Vaswani et al., 2017),
  PE[p, 2i] = sin(p / 10000^(2i/D)), PE[p, 2i+1] = cos(p / 10000^(2i/D));
  nothing to learn, any length up to ``max_len``;
* :class:`PositionalEmbedding`: a learned vector per position, W (max_len, D).

Shapes: N batch, T positions (T <= max_len), D model size.
"""

from __future__ import annotations

from typing import Any

from course import backend, validate

Array = Any


def sinusoidal_encoding(T: int, D: int, dtype: str = "float32") -> Array:
    """(T, D) fixed encodings: sin at even features, cos at odd ones, wavelengths 2pi ... 10000*2pi."""
    xp = backend.xp()
    pos = xp.arange(T, dtype="float64")[:, None]  # (T, 1)
    pair = xp.arange(0, D, 2, dtype="float64")[None, :]  # (1, ceil(D/2)): 2i
    angle = pos / 10000.0 ** (pair / D)  # (T, ceil(D/2))
    pe = xp.zeros((T, D), dtype="float64")
    pe[:, 0::2] = xp.sin(angle)
    pe[:, 1::2] = xp.cos(angle[:, : D // 2])  # odd D: one sine more than cosines
    return pe.astype(dtype)


def _check_positions(who: str, x: Any, max_len: int, D: int) -> None:
    """x (N, T, D) floats with T <= max_len."""
    validate.check_float(x, who, "x", f"(N, T, D) with D = {D}, T <= {max_len}")
    if x.ndim != 3 or x.shape[2] != D or x.shape[1] > max_len:
        raise validate.ShapeError(
            f"{who}: x has shape {tuple(x.shape)}, expected (N, T, D) with D = {D} and T <= max_len = "
            f"{max_len}: one encoding per position. Build the layer with a larger max_len for longer "
            "sequences."
        )


class PositionalEncoding:
    """out = x + PE[:T], with the fixed sinusoidal table PE (max_len, D); no parameters.

    forward(x (N, T, D)) -> (N, T, D). backward(dout (N, T, D)) -> dx (N, T, D) (= dout).
    """

    def __init__(self, max_len: int, D: int, dtype: str = "float32") -> None:
        self.max_len = validate.check_count(max_len, "PositionalEncoding", "max_len")
        self.D = validate.check_count(D, "PositionalEncoding", "D")
        self.params, self.grads = [], []
        self.table = sinusoidal_encoding(max_len, D, dtype)
        self.shape: tuple | None = None

    def forward(self, x: Array) -> Array:
        _check_positions("PositionalEncoding.forward", x, self.max_len, self.D)
        self.shape = tuple(x.shape)
        return x + self.table[: x.shape[1]]

    def backward(self, dout: Array) -> Array:
        validate.check_backward_ready(self.shape, "PositionalEncoding")
        validate.check_dout(dout, self.shape, "PositionalEncoding")
        return dout


class PositionalEmbedding:
    """out = x + W[:T], with a learned vector per position.

    params: W (max_len, D), drawn from N(0, 0.1^2): small beside unit-scale token vectors.
    forward(x (N, T, D)) -> (N, T, D). backward(dout (N, T, D)) -> dx (N, T, D);
    grads[0] (max_len, D) gets the batch's summed gradient in its first T rows, 0 below.
    """

    param_names = ("W",)

    def __init__(self, max_len: int, D: int, dtype: str = "float32") -> None:
        max_len = validate.check_count(max_len, "PositionalEmbedding", "max_len")
        D = validate.check_count(D, "PositionalEmbedding", "D")
        W = backend.randn(max_len, D, scale=0.1, dtype=dtype)
        self.params = [W]
        self.grads = [backend.array_module(W).zeros_like(W)]
        self.shape: tuple | None = None

    def forward(self, x: Array) -> Array:
        (W,) = self.params
        _check_positions("PositionalEmbedding.forward", x, W.shape[0], W.shape[1])
        self.shape = tuple(x.shape)
        return x + W[: x.shape[1]]

    def backward(self, dout: Array) -> Array:
        validate.check_backward_ready(self.shape, "PositionalEmbedding")
        validate.check_dout(dout, self.shape, "PositionalEmbedding")
        (dW,) = self.grads
        T = dout.shape[1]
        dW[...] = 0
        dW[:T] = dout.sum(axis=0)
        return dout
