"""Optimizers and gradient clipping.

Each optimizer has ``update(params, grads)``: it changes every array in
``params`` in place, using the matching array of ``grads``. Per-parameter
state (velocities, running averages) is created on the first call with the
shapes and device of the parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from course import backend

Array = Any
_EPS = 1e-7


def grad_norms(grads: Sequence[Array]) -> list[float]:
    """The L2 norm of each gradient array, as Python floats."""
    norms = []
    for g in grads:
        flat = g.reshape(-1)
        norms.append(math.sqrt(max(float(backend.array_module(g).vdot(flat, flat)), 0.0)))
    return norms


def scale_grads(grads: Sequence[Array], rate: float) -> None:
    """Multiply every gradient by ``rate`` in place."""
    for g in grads:
        g *= rate


def clip_rate(total_norm: float, max_norm: float) -> float:
    """The factor that brings a global norm down to ``max_norm`` (1 if already below)."""
    return max_norm / (total_norm + 1e-6) if total_norm > max_norm else 1.0


def clip_grads(grads: Sequence[Array], max_norm: float) -> float:
    """Rescale ``grads`` in place so their global L2 norm is at most ``max_norm``.

    Returns the global norm *before* clipping (useful for plotting how often
    and how hard clipping acts).
    """
    total = math.sqrt(sum(n * n for n in grad_norms(grads)))
    rate = clip_rate(total, max_norm)
    if rate < 1.0:
        scale_grads(grads, rate)
    return total


class _Optimizer:
    """Keeps one state array per parameter, created lazily."""

    def _zeros_like(self, params: Sequence[Array]) -> list[Array]:
        return [backend.array_module(p).zeros_like(p) for p in params]

    def _check(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        if len(params) != len(grads):
            raise ValueError(
                f"{type(self).__name__}.update: got {len(params)} params but {len(grads)} "
                "grads; pass model.params and model.grads (same order, same length)."
            )


class SGD(_Optimizer):
    """Stochastic gradient descent: p <- p - lr * g."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        self._check(params, grads)
        for p, g in zip(params, grads, strict=True):
            p -= self.lr * g


class Momentum(_Optimizer):
    """SGD with momentum: v <- m v - lr g; p <- p + v."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr, self.momentum = lr, momentum
        self.v: list[Array] | None = None

    def update(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        self._check(params, grads)
        if self.v is None:
            self.v = self._zeros_like(params)
        for p, g, v in zip(params, grads, self.v, strict=True):
            v *= self.momentum
            v -= self.lr * g
            p += v


class Nesterov(_Optimizer):
    """Nesterov's accelerated gradient (Sutskever et al., 2013 form).

    v <- m v - lr g; p <- p + m v - lr g: the step looks ahead along the
    updated velocity.
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr, self.momentum = lr, momentum
        self.v: list[Array] | None = None

    def update(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        self._check(params, grads)
        if self.v is None:
            self.v = self._zeros_like(params)
        for p, g, v in zip(params, grads, self.v, strict=True):
            v *= self.momentum
            v -= self.lr * g
            p += self.momentum * v - self.lr * g


class AdaGrad(_Optimizer):
    """AdaGrad: h <- h + g^2; p <- p - lr g / (sqrt(h) + 1e-7)."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr
        self.h: list[Array] | None = None

    def update(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        self._check(params, grads)
        if self.h is None:
            self.h = self._zeros_like(params)
        for p, g, h in zip(params, grads, self.h, strict=True):
            h += g * g
            p -= self.lr * g / (backend.array_module(h).sqrt(h) + _EPS)


class RMSprop(_Optimizer):
    """RMSprop: h <- d h + (1 - d) g^2; p <- p - lr g / (sqrt(h) + 1e-7)."""

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        self.lr, self.decay_rate = lr, decay_rate
        self.h: list[Array] | None = None

    def update(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        self._check(params, grads)
        if self.h is None:
            self.h = self._zeros_like(params)
        for p, g, h in zip(params, grads, self.h, strict=True):
            h *= self.decay_rate
            h += (1 - self.decay_rate) * g * g
            p -= self.lr * g / (backend.array_module(h).sqrt(h) + _EPS)


class Adam(_Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction folded into the step size.

    m <- m + (1 - b1)(g - m); v <- v + (1 - b2)(g^2 - v);
    p <- p - lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + 1e-7).
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m: list[Array] | None = None
        self.v: list[Array] | None = None

    def update(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        self._check(params, grads)
        if self.m is None:
            self.m, self.v = self._zeros_like(params), self._zeros_like(params)
        self.iter += 1
        t = self.iter
        lr_t = self.lr * math.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m += (1 - self.beta1) * (g - m)
            v += (1 - self.beta2) * (g * g - v)
            p -= lr_t * m / (backend.array_module(v).sqrt(v) + _EPS)


OPTIMIZERS = {
    "SGD": SGD,
    "Momentum": Momentum,
    "Nesterov": Nesterov,
    "AdaGrad": AdaGrad,
    "RMSprop": RMSprop,
    "Adam": Adam,
}
