"""What watching costs: training with and without a GradientNormMonitor, in one run.

Three workloads, each trained the same way (same seed, same batches) with no
monitor and with a ``GradientNormMonitor`` (its default 5% drawing budget),
alternating in rounds so a busy machine slows both alike:

* ``spiral`` - the review chapter's TwoLayerNet (2-100-3) on the spiral data,
  1,000 epochs of 10 batches: 10,000 iterations of well under a millisecond,
  about a second in all - the worst case, where the one draw the monitor
  always makes at the end is most of its cost;
* ``spiral-long`` - the same for 5,000 epochs (about five seconds), long
  enough for the drawing budget to allow draws while it trains;
* ``rnnlm`` - the chapter-6 Rnnlm (embedding 100, LSTM 100, V = 10,000) on
  the first 84,000 words of the Penn Treebank, batch 20, 35 steps, one
  epoch of 120 iterations, reported every 5 (``GradientNormMonitor(every=5)``;
  needs COURSE_DATA_DIR with ptb/ptb.train.txt, skipped without it).

The monitor draws for real (matplotlib renders every PNG it would send to a
notebook), so the time measured is the time a student would lose. A first,
untimed round warms matplotlib up (font cache, first import). Printed per
workload and clock (wall seconds, and CPU seconds of this process, which
other programs on a shared machine disturb less): the median and the
fastest time of both, the ratios with / without of each, and the ratio of
every round; then the monitor's draws per run and its drawing seconds.
The matrix library runs on ``--threads`` threads (default 1: idle BLAS
threads spin, which makes CPU time on a busy machine meaningless).

    COURSE_DATA_DIR=../shared/data python benchmarks/monitor_overhead.py
    python benchmarks/monitor_overhead.py --workload spiral --repeats 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from threadpoolctl import threadpool_limits

import course
from course.widgets import GradientNormMonitor

Timer = Callable[[Any], tuple[float, float]]


def _timed(fit: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fit()
    return time.perf_counter() - wall, time.process_time() - cpu


def spiral_run(epochs: int) -> Timer:
    from course.datasets import spiral
    from course.models import TwoLayerNet
    from course.optim import SGD
    from course.train import Trainer

    x, t = spiral.load_data()

    def run(monitor: Any) -> tuple[float, float]:
        course.seed(0)
        trainer = Trainer(TwoLayerNet(2, 100, 3), SGD(lr=1.0))
        return _timed(
            lambda: trainer.fit(
                x, t, max_epoch=epochs, batch_size=30, max_grad=1.0, monitor=monitor, progress=False
            )
        )

    return run


def rnnlm_run() -> Timer | None:
    if not os.environ.get("COURSE_DATA_DIR"):
        return None
    from course.datasets import ptb
    from course.models.rnnlm import Rnnlm
    from course.optim import SGD
    from course.train import RnnlmTrainer

    corpus, word_to_id, _ = ptb.load_data("train", progress=False)
    corpus = corpus[:84_001]

    def run(monitor: Any) -> tuple[float, float]:
        course.seed(0)
        trainer = RnnlmTrainer(Rnnlm(len(word_to_id), 100, 100), SGD(lr=20.0))
        return _timed(
            lambda: trainer.fit(
                corpus[:-1], corpus[1:], max_epoch=1, batch_size=20, time_size=35, max_grad=0.25,
                eval_interval=5, monitor=monitor, progress=False,
            )
        )  # fmt: skip

    return run


def measure(name: str, run: Timer, every: int, repeats: int) -> None:
    run(GradientNormMonitor(every=every))  # warm-up, not timed
    plain, watched, draws, drawing = [], [], [], []
    for _ in range(repeats):
        plain.append(run(None))
        monitor = GradientNormMonitor(every=every)
        watched.append(run(monitor))
        draws.append(len(monitor.drawn_at))
        drawing.append(monitor._draw_seconds)
    for k, clock in enumerate(("wall", "CPU")):
        a, b = [p[k] for p in plain], [w[k] for w in watched]
        ma, mb, fa, fb = statistics.median(a), statistics.median(b), min(a), min(b)
        rounds = ", ".join(f"{y / x:.3f}" for x, y in zip(a, b, strict=True))
        print(
            f"{name:<8} {clock:<4} median {ma:7.3f} s -> {mb:7.3f} s (ratio {mb / ma:.3f})   "
            f"fastest {fa:7.3f} s -> {fb:7.3f} s (ratio {fb / fa:.3f})   rounds: {rounds}"
        )
    print(
        f"{name:<8} monitor: {statistics.median(draws):.0f} draws per run, "
        f"{statistics.median(drawing):.3f} s drawing"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=["spiral", "spiral-long", "rnnlm", "all"], default="all")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="threads of the matrix library")
    args = parser.parse_args()
    threadpool_limits(args.threads)
    print(
        f"{args.repeats} rounds per workload, {args.threads} BLAS thread(s); times: without -> with monitor"
    )
    if args.workload in ("spiral", "all"):
        measure("spiral", spiral_run(1000), 20, args.repeats)
    if args.workload in ("spiral-long", "all"):
        measure("spiral5k", spiral_run(5000), 20, args.repeats)
    if args.workload in ("rnnlm", "all"):
        run = rnnlm_run()
        if run is None:
            print("rnnlm    skipped: set COURSE_DATA_DIR to a folder with ptb/ptb.train.txt")
        else:
            measure("rnnlm", run, 5, args.repeats)


if __name__ == "__main__":
    main()
