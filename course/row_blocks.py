"""Elementwise work over blocks of rows, spread over the CPU's cores.

NumPy runs each elementwise operation (a ufunc) on one core, while BLAS
products, and PyTorch's elementwise kernels, use every core. A ufunc's inner
loop releases the GIL, so ranges of rows handed to a few threads run at the
same time. The library's fast paths use this for the big elementwise passes
of a training step (the softmax of the loss, gradient clipping, the
optimizer's update); the chapters' exercises stay plain.

``COURSE_THREADS`` sets the number of threads (default: the cores this
process may run on); 1 turns the threads off.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

# Below this many values a hand-off to another thread costs more than it saves.
MIN_PARALLEL_VALUES = 1 << 17

_pool: dict[str, object] = {}
_lock = threading.Lock()


def threads() -> int:
    """How many threads share elementwise work (``COURSE_THREADS``, else the usable cores)."""
    text = os.environ.get("COURSE_THREADS", "").strip()
    if text:
        try:
            return max(1, int(text))
        except ValueError:
            raise ValueError(f"COURSE_THREADS must be a whole number such as 2, got {text!r}.") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _executor(workers: int) -> ThreadPoolExecutor:
    """One pool per process and size (a forked child builds its own: threads do not survive a fork)."""
    key = (os.getpid(), workers)
    with _lock:
        if _pool.get("key") != key:
            _pool["key"] = key
            _pool["executor"] = ThreadPoolExecutor(workers, thread_name_prefix="course-rows")
        return _pool["executor"]  # type: ignore[return-value]


def split(rows: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous (start, stop) ranges covering range(rows), as even as possible."""
    parts = max(1, min(parts, rows))
    bounds = [rows * k // parts for k in range(parts + 1)]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def for_row_blocks(work: Callable[[int, int], None], rows: int, values: int, parallel: bool = True) -> None:
    """Call ``work(start, stop)`` over ranges covering range(rows), on several threads when it pays.

    ``values`` is the total number of array values the work touches; small
    work, one thread configured, or ``parallel=False`` (arrays that are not
    NumPy's) run it in one call on this thread. Each range must be written by
    its call alone.
    """
    workers = threads() if parallel and values >= MIN_PARALLEL_VALUES else 1
    ranges = split(rows, workers)
    if len(ranges) <= 1:
        if rows:
            work(0, rows)
        return
    executor = _executor(workers)
    futures = [executor.submit(work, a, b) for a, b in ranges[1:]]
    work(*ranges[0])  # this thread takes the first range itself
    for future in futures:
        future.result()  # re-raises an error from a worker here
