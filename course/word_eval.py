"""Judging word vectors: human similarity ratings and analogy questions.

``similarity(pairs, word_to_id, word_matrix)`` compares the cosine
similarity of each pair with the people's ratings by Spearman's rank
correlation; ``analogies(questions, word_to_id, word_matrix)`` is the
share of "a is to b as c is to ?" questions answered right by 3CosAdd
(``course.text.analogy_accuracy``). Both keep only the pairs or questions
whose words are all in the vocabulary, and say how many that is: a score
on 237 of 353 pairs is not a score on the whole test set.

``evaluate`` runs the public sets of ``course.datasets.word_benchmarks``
(and any extra question list) at once and returns a flat dict of scores.

word_matrix: (V, D) vectors, NumPy or CuPy; the scores are Python floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scipy.stats import spearmanr

from course import backend
from course.datasets import word_benchmarks
from course.text import analogy_accuracy, normalize

Array = Any
_CHUNK = 1024  # questions scored per matrix product: keeps the (M, V) scores small


@dataclass(frozen=True)
class Score:
    """A score on the ``covered`` items (of ``total``) whose words are all in the vocabulary."""

    value: float
    covered: int
    total: int

    def __str__(self) -> str:
        return f"{self.value:.3f} ({self.covered}/{self.total})"


def in_vocab(items: Iterable[Sequence[Any]], word_to_id: Mapping[str, int], n_words: int) -> list:
    """The items whose first ``n_words`` entries are all words of the vocabulary."""
    return [item for item in items if all(w in word_to_id for w in item[:n_words])]


def similarity(
    pairs: Sequence[tuple[str, str, float]], word_to_id: Mapping[str, int], word_matrix: Array
) -> Score:
    """Spearman correlation between cosine similarities and human scores, on the covered pairs."""
    kept = in_vocab(pairs, word_to_id, 2)
    if len(kept) < 2:
        return Score(float("nan"), len(kept), len(pairs))
    xp = backend.array_module(word_matrix)
    vecs = normalize(word_matrix)
    a = xp.asarray([word_to_id[w1] for w1, _, _ in kept])
    b = xp.asarray([word_to_id[w2] for _, w2, _ in kept])
    cosines = backend.to_host((vecs[a] * vecs[b]).sum(axis=1))
    rho = spearmanr(cosines, [score for _, _, score in kept]).statistic
    return Score(float(rho), len(kept), len(pairs))


def analogies(
    questions: Sequence[tuple[str, str, str, str]], word_to_id: Mapping[str, int], word_matrix: Array
) -> Score:
    """Top-1 3CosAdd accuracy on the covered questions (a, b, c, d); a, b, c excluded as answers."""
    kept = in_vocab(questions, word_to_id, 4)
    if not kept:
        return Score(float("nan"), 0, len(questions))
    correct = 0.0
    for start in range(0, len(kept), _CHUNK):
        chunk = kept[start : start + _CHUNK]
        accuracy, _ = analogy_accuracy(chunk, word_to_id, word_matrix)
        correct += accuracy * len(chunk)
    return Score(correct / len(kept), len(kept), len(questions))


def evaluate(
    word_to_id: Mapping[str, int],
    word_matrix: Array,
    extra_questions: Sequence[tuple[str, str, str, str]] = (),
    sets: Mapping[str, Any] | None = None,
) -> dict[str, Score]:
    """Scores on WordSim-353, SimLex-999 and the Google analogies (+ ``extra_questions``).

    ``sets`` (from :func:`load_sets`) saves re-reading the files on every call.
    Keys: ``ws353``, ``simlex``, ``google`` and, with extra questions, ``own``.
    """
    sets = sets if sets is not None else load_sets()
    scores = {
        "ws353": similarity(sets["ws353"], word_to_id, word_matrix),
        "simlex": similarity(sets["simlex"], word_to_id, word_matrix),
        "google": analogies(sets["google"], word_to_id, word_matrix),
    }
    if extra_questions:
        scores["own"] = analogies(extra_questions, word_to_id, word_matrix)
    return scores


def load_sets(**where: Any) -> dict[str, Any]:
    """The three public sets, read once: {"ws353": pairs, "simlex": pairs, "google": questions}."""
    google = word_benchmarks.load_analogies("google", **where)
    return {
        "ws353": word_benchmarks.load_similarity("wordsim353", **where),
        "simlex": word_benchmarks.load_similarity("simlex999", **where),
        "google": [q for section in google.values() for q in section],
    }
