"""Spiral data: C interleaved spiral arms in the plane, one class per arm.

Generated from a seed by this project; nothing is downloaded.
"""

from __future__ import annotations

from typing import Any

from course import backend

Array = Any


def load_data(
    seed: int = 1984, n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2
) -> tuple[Array, Array]:
    """Points on ``n_classes`` noisy spiral arms.

    Returns (x, t): x (N, 2) float32 coordinates, t (N, C) float32 one-hot
    targets, with N = n_per_class * n_classes, as host (NumPy) arrays.
    The same seed always gives the same data.
    """
    np = backend.host()
    gen = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0.0, 1.0, n_per_class, endpoint=False), n_classes)
    label = np.repeat(np.arange(n_classes), n_per_class)
    # Each arm starts at its own angle and winds 4 radians outwards.
    theta = 2 * np.pi * label / n_classes + 4.0 * radius + noise * gen.standard_normal(radius.size)
    x = np.stack([radius * np.sin(theta), radius * np.cos(theta)], axis=1).astype(np.float32)
    t = np.eye(n_classes, dtype=np.float32)[label]
    return x, t
