"""Loaders that cannot hang: impossible requests fail at once, text cleaning takes linear time."""

from __future__ import annotations

import time

import numpy as np
import pytest

from course import validate
from course.datasets import corpus, sequence

# ---------------------------------------------------------------- finite generators


@pytest.mark.parametrize(
    "name,n,maximum",
    [("addition", 1_000_001, "1,000,000"), ("addition", 10**9, "1,000,000"), ("dates", 10**7, "5,000,000")],
)
def test_more_distinct_questions_than_exist_fail_at_once_naming_the_maximum(name, n, maximum):
    start = time.perf_counter()
    with pytest.raises(validate.InputError, match=f"at most {maximum} (distinct )?questions"):
        sequence.load_data(name, n=n)
    assert time.perf_counter() - start < 5  # up front, before generating anything


@pytest.mark.parametrize(
    "kwargs,error,phrase",
    [
        ({"n": 100.5}, TypeError, "n must be a whole number"),
        ({"n": 1}, ValueError, "n must be at least 2"),
        ({"n": 100, "test_size": 100}, ValueError, "test_size must be between 1 and 99"),
        ({"n": 100, "test_size": 0}, ValueError, "test_size must be between 1 and 99"),
    ],
)
def test_sizes_are_checked_before_generating(kwargs, error, phrase):
    with pytest.raises(error, match=phrase):
        sequence.load_data("addition", **kwargs)


def _addition_pairs_as_before(n, seed):
    """The original generator, a Python loop: the data must not change for the sizes it could make."""
    gen = np.random.default_rng(seed)
    seen = {}
    while len(seen) < n:
        a, b = sequence._operands(gen, 2 * n), sequence._operands(gen, 2 * n)
        for pair in zip(a.tolist(), b.tolist(), strict=True):
            seen.setdefault(pair)
            if len(seen) == n:
                break
    return [(f"{a}+{b}", f"_{a + b}") for a, b in seen]


@pytest.mark.parametrize("n", [1, 37, 5_000])
def test_the_addition_data_is_the_same_as_before(n):
    assert sequence.addition_pairs(n=n, seed=1984) == _addition_pairs_as_before(n, 1984)


def test_near_the_maximum_the_rest_is_picked_from_the_pairs_not_drawn(monkeypatch):
    monkeypatch.setattr(sequence, "_DRAW_ROUNDS", 0)  # as if random draws had stopped finding new pairs
    pairs = sequence.addition_pairs(n=3_000, seed=5)
    assert len(set(pairs)) == 3_000
    assert all(int(q.split("+")[0]) + int(q.split("+")[1]) == int(a[1:]) for q, a in pairs)
    assert pairs == sequence.addition_pairs(n=3_000, seed=5)  # still repeatable


# ---------------------------------------------------------------- text cleaning in linear time


def _seconds(fn, text, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - start)
    return best


def _growth(fn, make, n):
    """Time of an input 4 times as long over the time of one of size n (about 4 when linear, 16 when
    quadratic); the best of three tries, so a busy machine does not fail the test."""
    ratios = []
    for _ in range(3):
        small, large = _seconds(fn, make(n)), _seconds(fn, make(4 * n))
        ratios.append(large / max(small, 1e-6))
        if ratios[-1] < 8:
            break
    return min(ratios)


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "word" + " " * n + "word\nnext line",  # the run of spaces that took 23 s at 100,000
        lambda n: " " * n,
        lambda n: "a" + "\t\u3000\xa0 " * (n // 4) + "b",
        lambda n: "line \n" * (n // 6),
        lambda n: "[" * n + "\n" + "【" * n,
        lambda n: "(" * n,
    ],
    ids=["spaces-mid-line", "only-spaces", "mixed-blanks", "many-lines", "open-brackets", "open-parens"],
)
def test_cleaning_a_text_takes_time_linear_in_its_length(make):
    assert _growth(corpus.clean_text, make, 100_000) < 8


def test_four_hundred_thousand_spaces_are_cleaned_at_once():
    text = "start" + " " * 400_000 + "end\n"
    assert corpus.clean_text(text) == "start" + " " * 400_000 + "end"
    assert corpus.strip_lines("  a  \n\t b \u3000") == "a\nb"


def test_decoding_ids_outside_the_vocabulary_is_explained():
    _, id_to_char = sequence.get_vocab("addition")
    with pytest.raises(validate.IdRangeError, match="not in id_to_char"):
        sequence.decode(np.array([[1, 99]]), id_to_char)
    text = corpus.corpus_from_text("abc")
    with pytest.raises(validate.IdRangeError, match=r"ids must be integers in 0\.\.2"):
        text.decode(np.array([0, 5]))
