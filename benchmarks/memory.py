"""Peak memory of one training step of the big language models, per batch size.

A GPU has a fixed amount of memory, and a batch that does not fit ends the run
with an out-of-memory error. The arrays a training step holds are the same on
the CPU and on the GPU (float32 weights, gradients, optimizer state and the
activations kept for backward), so their peak, measured here with
``tracemalloc`` on NumPy (which reports every array buffer to it), tells a GPU
user which batch fits: add CuPy's memory-pool slack and the CUDA context
(a few hundred MiB) to the figure.

For each configuration and batch size it builds the model, runs one step to
allocate the lasting state (gradients, optimizer moments), then measures the
peak of a second step: forward, backward, clipping and the update.

    python benchmarks/memory.py
    python benchmarks/memory.py --configs medium --batches 20 40 80 160
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import course
from course import backend
from course.models.rnnlm import BetterRnnlm
from course.optim import SGD, clip_grads_sparse

V = 10_000  # PTB's vocabulary
CONFIGS = {
    # wordvec D, hidden H, LSTM layers, dropout, tied, time steps
    "better": dict(D=650, H=650, layers=2, dropout=0.5, tie=True, time=35),
    "medium": dict(D=650, H=650, layers=2, dropout=0.5, tie=False, time=35),
}
MiB = 2**20


def step(model, optimizer, x, t) -> None:
    model.forward(x, t)
    model.backward()
    clip_grads_sparse(model.grads, 0.25)
    optimizer.update(model.params, model.grads)


def peak_of_a_step(name: str, batch: int) -> tuple[float, float, float]:
    """(parameters MiB, memory held between steps MiB, peak during a step MiB)."""
    cfg = CONFIGS[name]
    course.seed(0)
    tracemalloc.start()
    model = BetterRnnlm(V, cfg["D"], cfg["H"], cfg["dropout"], cfg["layers"], cfg["tie"])
    optimizer = SGD(lr=1.0)
    x = backend.rng().integers(0, V, size=(batch, cfg["time"]))
    t = backend.rng().integers(0, V, size=(batch, cfg["time"]))
    params = sum(p.nbytes for p in model.params) / MiB
    step(model, optimizer, x, t)  # gradients and lasting buffers exist from here on
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    step(model, optimizer, x, t)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return params, held / MiB, peak / MiB


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--batches", nargs="+", type=int, default=[10, 20, 40, 80])
    args = parser.parse_args()
    print(f"V = {V}, float32; MiB of array memory (NumPy buffers, measured with tracemalloc)")
    print(f"{'model':8s} {'batch':>5s} {'params':>8s} {'held':>8s} {'peak':>8s} {'peak-held':>10s}")
    for name in args.configs:
        for batch in args.batches:
            params, held, peak = peak_of_a_step(name, batch)
            print(
                f"{name:8s} {batch:5d} {params:8.1f} {held:8.1f} {peak:8.1f} {peak - held:10.1f}", flush=True
            )


if __name__ == "__main__":
    main()
