"""Text generation: greedy and sampled continuation, top-k, temperature, skipped ids, seeds,
and character-level training plus generation on the Chinese sample."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import course
from course import backend
from course.datasets.corpus import load_sample
from course.generate import generate, next_id_distribution
from course.models.rnnlm import BetterRnnlm, Rnnlm
from course.optim import Adam
from course.train import RnnlmTrainer, eval_perplexity


class BigramModel:
    """Scores depend only on the last id: row ``ids[-1]`` of a fixed table (V, V)."""

    def __init__(self, table):
        self.table = np.asarray(table, dtype=float)
        self.params = [self.table]
        self.resets = 0

    def predict(self, xs):
        return self.table[np.asarray(xs)]

    def reset_state(self):
        self.resets += 1


def _table(rng, V=6):
    return rng.standard_normal((V, V)) * 2


def test_greedy_follows_the_highest_score(rng):
    table = _table(rng)
    ids = generate(BigramModel(table), [2], 8, greedy=True)
    want = [2]
    for _ in range(8):
        want.append(int(table[want[-1]].argmax()))
    assert ids == want


def test_start_ids_are_all_fed_and_kept(rng):
    table = _table(rng)
    model = BigramModel(table)
    ids = generate(model, [1, 4, 3], 2, greedy=True)
    assert ids[:3] == [1, 4, 3] and ids[3] == int(table[3].argmax())
    assert model.resets == 2  # before and after
    assert generate(model, 5, 0) == [5]


def test_skip_ids_are_never_generated(rng):
    table = _table(rng)
    table[:, 0] = 100.0  # id 0 is everyone's favourite
    ids = generate(BigramModel(table), [1], 200, skip_ids=[0], seed=1)
    assert 0 not in ids[1:]
    assert 0 not in generate(BigramModel(table), [1], 20, skip_ids=[0], greedy=True)[1:]


def test_top_k_one_is_greedy_and_top_k_limits_the_choice(rng):
    table = _table(rng)
    greedy = generate(BigramModel(table), [3], 30, greedy=True)
    assert generate(BigramModel(table), [3], 30, top_k=1, seed=5) == greedy
    ids = generate(BigramModel(table), [3], 300, top_k=2, seed=5)
    for prev, nxt in itertools.pairwise(ids):
        assert nxt in np.argsort(table[prev])[-2:]


def test_seed_makes_sampling_repeatable(rng):
    table = np.zeros((8, 8))  # uniform: every sequence is possible
    a = generate(BigramModel(table), [0], 50, seed=11)
    assert generate(BigramModel(table), [0], 50, seed=11) == a
    assert generate(BigramModel(table), [0], 50, seed=12) != a
    course.seed(4)
    b = generate(BigramModel(table), [0], 50)
    course.seed(4)
    assert generate(BigramModel(table), [0], 50) == b


def test_samples_follow_the_tempered_distribution(rng):
    scores = np.array([2.0, 1.0, 0.0, -1.0])
    table = np.tile(scores, (4, 1))
    ids = np.array(generate(BigramModel(table), [0], 20000, temperature=2.0, seed=3)[1:])
    want = np.exp(scores / 2) / np.exp(scores / 2).sum()
    np.testing.assert_allclose(np.bincount(ids, minlength=4) / len(ids), want, atol=0.015)
    np.testing.assert_allclose(next_id_distribution(scores, temperature=2.0), want, rtol=1e-12)


def test_distribution_options_combine(rng):
    # Skipped ids go first; top_k then keeps the k best of the rest.
    p = next_id_distribution(np.array([3.0, 2.0, 1.0, 0.0]), top_k=2, skip_ids=[0])
    assert p[0] == 0 and p[3] == 0
    np.testing.assert_allclose(p[1:3], np.exp([2.0, 1.0]) / np.exp([2.0, 1.0]).sum())


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"temperature": 0.0}, "temperature must be > 0"),
        ({"top_k": 0}, "top_k must be at least 1"),
        ({"skip_ids": [9]}, "outside the vocabulary"),
        ({"skip_ids": list(range(6))}, "whole vocabulary"),
        ({"length": -1}, "length must be 0 or more"),
    ],
)
def test_bad_options_are_explained(rng, kwargs, match):
    args = {"length": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        generate(BigramModel(_table(rng)), [1], **args)


def test_empty_start_is_explained(rng):
    with pytest.raises(ValueError, match="start_ids is empty"):
        generate(BigramModel(_table(rng)), [], 3)


def test_generation_with_a_recurrent_model_uses_no_dropout_and_resets_state(xp):
    course.seed(0)
    model = BetterRnnlm(30, 8, 8, dropout_ratio=0.5)
    a = generate(model, [1, 2, 3], 12, greedy=True)
    b = generate(model, [1, 2, 3], 12, greedy=True)
    assert a == b and len(a) == 15 and all(0 <= i < 30 for i in a)
    assert all(layer.h is None for layer in model.rnn_layers)


@pytest.mark.heavy
def test_char_level_chinese_training_and_generation_end_to_end(xp):
    course.seed(0)
    corpus = load_sample("chinese", level="char")
    ids = corpus.ids
    model = Rnnlm(corpus.vocab_size, 32, 64)
    before = eval_perplexity(model, ids, batch_size=4, time_size=16)
    assert before == pytest.approx(corpus.vocab_size, rel=0.05)  # an untrained model is uniform
    trainer = RnnlmTrainer(model, Adam(lr=0.02))
    trainer.fit(ids[:-1], ids[1:], max_epoch=20, batch_size=8, time_size=16, max_grad=5.0, progress=False)
    after = eval_perplexity(model, ids, batch_size=4, time_size=16)
    assert after < before / 10
    start = corpus.encode("小林")
    out = generate(model, start, 40, top_k=3, seed=0, skip_ids=[corpus.word_to_id["\n"]])
    text = corpus.decode(out)
    assert text.startswith("小林") and len(text) == 42
    assert sum("\u4e00" <= ch <= "\u9fff" for ch in text[2:]) >= 30  # mostly Chinese characters
    # What it learned is the sample's own text: most generated character pairs occur in it.
    source = backend.to_host(ids).tolist()
    pairs = set(itertools.pairwise(source))
    seen = np.mean([(a, b) in pairs for a, b in itertools.pairwise(out)])
    assert seen > 0.8
