"""Elementwise work shared among threads: every row once, errors surface, results unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from course import row_blocks
from course.layers.time import TimeSoftmaxWithLoss


@pytest.mark.parametrize("rows, parts", [(0, 2), (1, 4), (7, 2), (10, 3), (5, 8)])
def test_split_covers_every_row_once(rows, parts):
    ranges = row_blocks.split(rows, parts)
    covered = [r for a, b in ranges for r in range(a, b)]
    assert covered == list(range(rows))
    assert len(ranges) <= max(1, parts)


def test_every_range_runs_once_on_several_threads(monkeypatch):
    monkeypatch.setenv("COURSE_THREADS", "3")
    seen = np.zeros(1000, dtype=np.int64)

    def work(a: int, b: int) -> None:
        seen[a:b] += 1

    row_blocks.for_row_blocks(work, 1000, row_blocks.MIN_PARALLEL_VALUES)
    assert (seen == 1).all()


def test_an_error_in_a_worker_reaches_the_caller(monkeypatch):
    monkeypatch.setenv("COURSE_THREADS", "2")

    def work(a: int, b: int) -> None:
        if a > 0:
            raise RuntimeError(f"rows {a}:{b}")

    with pytest.raises(RuntimeError, match="rows 50:100"):
        row_blocks.for_row_blocks(work, 100, row_blocks.MIN_PARALLEL_VALUES)


def test_a_bad_thread_count_names_the_variable(monkeypatch):
    monkeypatch.setenv("COURSE_THREADS", "two")
    with pytest.raises(ValueError, match="COURSE_THREADS must be a whole number"):
        row_blocks.threads()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_loss_is_the_same_on_one_thread_and_on_three(monkeypatch, dtype):
    """The rows are split, never the arithmetic of a row: the results are bit for bit equal."""
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((6, 40, 2000)).astype(dtype) * 3
    ts = rng.integers(0, 2000, (6, 40))
    ts[0, :5] = -1
    results = []
    for threads in ("1", "3"):
        monkeypatch.setenv("COURSE_THREADS", threads)
        layer = TimeSoftmaxWithLoss()
        loss = layer.forward(xs, ts)
        results.append((loss, layer.backward()))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])
