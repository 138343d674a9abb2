"""Where one training iteration of a language model spends its time: ours and PyTorch's, part by part.

Used by ``language_model.py --profile``. Ours: every layer's forward and
backward and the three parts of the update step are timed with wall clocks
around the real calls. PyTorch: ``torch.profiler`` records the same
iterations; forward parts are named scopes, and each backward node
(``autograd::engine::evaluate_function: <Node>``) is assigned to the part
that created it. Both tables give milliseconds per iteration.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Any

from course.optim import grad_norms, scale_grads

PARTS = (
    "embedding",
    "dropout",
    "LSTM",
    "output affine",
    "softmax + cross-entropy",
    "clip (norms + scale)",
    "optimizer step",
    "other",
)


def _part_of_layer(layer: Any) -> str:
    name = type(layer).__name__
    for key, part in (
        ("Embedding", "embedding"),
        ("Dropout", "dropout"),
        ("LSTM", "LSTM"),
        ("RNN", "LSTM"),
        ("Affine", "output affine"),
        ("Softmax", "softmax + cross-entropy"),
    ):
        if key in name:
            return part
    return "other"


class Timings:
    """Accumulated seconds per (part, direction)."""

    def __init__(self) -> None:
        self.seconds: dict[tuple[str, str], float] = collections.defaultdict(float)

    def timed(self, part: str, direction: str, fn: Callable) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[part, direction] += time.perf_counter() - t0

        return wrapper


def profile_ours(model: Any, optimizer: Any, batches: Callable, iters: int, max_grad: float) -> dict:
    """ms per iteration for each (part, direction) of our model; batches() gives (bx, bt)."""
    timings = Timings()
    for layer in [*model.layers, model.loss_layer]:
        part = _part_of_layer(layer)
        layer.forward = timings.timed(part, "forward", layer.forward)
        layer.backward = timings.timed(part, "backward", layer.backward)
    clip = timings.timed("clip (norms + scale)", "update", _clip)
    update = timings.timed("optimizer step", "update", optimizer.update)
    total = 0.0
    for _ in range(iters):
        bx, bt = batches()
        t0 = time.perf_counter()
        model.forward(bx, bt)
        model.backward()
        clip(model.grads, max_grad)
        update(model.params, model.grads)
        total += time.perf_counter() - t0
    for layer in [*model.layers, model.loss_layer]:
        del layer.forward, layer.backward  # the class's methods again
    table = {key: 1000 * s / iters for key, s in timings.seconds.items()}
    table["other", "total"] = 1000 * total / iters - sum(table.values())
    table["total", "total"] = 1000 * total / iters
    return table


def _clip(grads: list, max_grad: float) -> None:
    norms = grad_norms(grads)
    total = sum(n * n for n in norms) ** 0.5
    if total > max_grad:
        scale_grads(grads, max_grad / (total + 1e-6))


# Backward nodes of PyTorch's autograd graph, by the part of the model that made them.
_TORCH_BACKWARD = (
    ("Embedding", "embedding"),
    ("Dropout", "dropout"),
    ("Rnn", "LSTM"),
    ("Lstm", "LSTM"),
    ("LSTM", "LSTM"),
    ("Addmm", "output affine"),
    ("Mm", "output affine"),
    ("Linear", "output affine"),
    ("Softmax", "softmax + cross-entropy"),
    ("NllLoss", "softmax + cross-entropy"),
    ("Mul", "dropout"),
)


def _torch_part(node: str) -> str:
    for key, part in _TORCH_BACKWARD:
        if key in node:
            return part
    return "other"


def profile_torch(peer: Any, batches: Callable, iters: int) -> dict:
    """ms per iteration for each (part, direction) of the PyTorch twin (``TorchTrainer``)."""
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    model, opt, loss_fn = peer.model, peer.opt, peer.loss

    def one(bx: Any, bt: Any) -> None:
        x, t = torch.from_numpy(bx), torch.from_numpy(bt)
        if peer.state is not None:
            peer.state = tuple(s.detach() for s in peer.state)
        with record_function("fwd:embedding"):
            e = model.embed(x)
        with record_function("fwd:dropout"):
            e = model.drop(e)
        with record_function("fwd:LSTM"):
            y, peer.state = model.lstm(e, peer.state)
        with record_function("fwd:dropout"):
            y = model.drop(y)
        with record_function("fwd:output affine"):
            out = model.out(y)
        with record_function("fwd:softmax + cross-entropy"):
            loss = loss_fn(out.reshape(-1, out.shape[-1]), t.reshape(-1))
        opt.zero_grad(set_to_none=False)
        loss.backward()
        with record_function("upd:clip (norms + scale)"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), peer.max_grad)
        with record_function("upd:optimizer step"):
            opt.step()

    model.train()
    data = [batches() for _ in range(iters)]
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for bx, bt in data:
            one(bx, bt)
    total = time.perf_counter() - t0
    table: dict[tuple[str, str], float] = collections.defaultdict(float)
    for event in prof.key_averages():
        name = event.key
        if name.startswith(("fwd:", "upd:")):
            kind, part = name.split(":", 1)
            table[part, "forward" if kind == "fwd" else "update"] += event.cpu_time_total / 1000 / iters
        elif name.startswith("autograd::engine::evaluate_function: "):
            node = name.split(": ", 1)[1]
            table[_torch_part(node), "backward"] += event.cpu_time_total / 1000 / iters
    # The profiler's own overhead inflates the parts a little; scale them to the measured wall time.
    measured = sum(table.values())
    table = {k: v for k, v in table.items()}
    table["other", "total"] = max(1000 * total / iters - measured, 0.0)
    table["total", "total"] = 1000 * total / iters
    return table


def print_tables(name: str, ours: dict, peer: dict) -> None:
    """Side by side: ms per iteration of each part and direction, ours and PyTorch's, and the ratio."""
    print(f"\nprofile of {name}: ms per iteration (ratio = ours / PyTorch; above 1 ours is slower)")
    print(f"  {'part':26s} {'direction':9s} {'numpy':>9s} {'torch':>9s} {'ratio':>7s}")
    keys = sorted(set(ours) | set(peer), key=lambda k: (_order(k[0]), k[1]))
    for part, direction in keys:
        a, b = ours.get((part, direction), 0.0), peer.get((part, direction), 0.0)
        ratio = f"{a / b:7.2f}" if b > 0.05 else "      -"
        print(f"  {part:26s} {direction:9s} {a:9.2f} {b:9.2f} {ratio}")


def _order(part: str) -> int:
    return PARTS.index(part) if part in PARTS else len(PARTS)
