"""The word2vec models: gradients, shared weights, training through the Trainer."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import course
from course import backend, text
from course.gradcheck import check_model
from course.models import CBOW, SimpleCBOW, SimpleSkipGram, SkipGram, SparseCBOW, SparseSkipGram
from course.optim import SGD, LazyAdam
from course.train import Trainer, step

SENTENCE = "You say goodbye and I say hello."


def _toy_batch(xp, window, n=6, vocab=9, seed=0):
    corpus = np.random.default_rng(seed).integers(0, vocab, 40)
    contexts, target = text.create_contexts_target(corpus, window)
    return corpus, xp.asarray(contexts[:n]), xp.asarray(target[:n])


def _build(name, vocab, hidden, window, corpus, dtype="float64"):
    if name in ("SimpleCBOW", "SimpleSkipGram"):
        return {"SimpleCBOW": SimpleCBOW, "SimpleSkipGram": SimpleSkipGram}[name](
            vocab, hidden, window, dtype=dtype
        )
    cls = {"CBOW": CBOW, "SkipGram": SkipGram, "SparseCBOW": SparseCBOW, "SparseSkipGram": SparseSkipGram}[
        name
    ]
    return cls(vocab, hidden, window, corpus, sample_size=3, dtype=dtype)


MODELS = ["SimpleCBOW", "SimpleSkipGram", "CBOW", "SkipGram", "SparseCBOW", "SparseSkipGram"]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("window", [1, 2])
def test_models_pass_gradcheck(xp, rng, name, window):
    corpus, contexts, target = _toy_batch(xp, window)
    course.seed(2)
    model = _build(name, 9, 4, window, corpus)
    # Weights of order 1 (the 0.01 start would leave gradients near the
    # finite-difference noise); the check is about the formulas, not the start.
    for p in model.params:
        p[...] = xp.asarray(rng.standard_normal(p.shape) * 0.5)
    report = check_model(model, contexts, target)
    report.assert_ok()
    assert set(report.errors) == {"W_in", "W_out"}


@pytest.mark.parametrize("name", MODELS)
def test_weights_are_listed_once_and_word_vecs_is_w_in(xp, name):
    corpus, _, _ = _toy_batch(xp, 1)
    model = _build(name, 9, 4, 2, corpus, dtype="float32")
    assert len({id(p) for p in model.params}) == len(model.params) == len(model.grads) == 2
    assert model.word_vecs is model.params[0] and model.word_vecs.shape == (9, 4)
    assert all(p.dtype == xp.float32 for p in model.params)


def test_simple_cbow_shares_w_in_between_its_input_layers(xp):
    model = SimpleCBOW(7, 3, window_size=2)
    assert len(model.in_layers) == 4
    assert all(layer.params[0] is model.params[0] for layer in model.in_layers)


@pytest.mark.parametrize("cls", [SimpleCBOW, SimpleSkipGram])
def test_simple_models_take_ids_or_one_hot_and_start_at_log_v(xp, cls):
    corpus, word_to_id, _ = text.preprocess(SENTENCE)
    V = len(word_to_id)
    contexts, target = text.create_contexts_target(xp.asarray(corpus))
    model = cls(V, 5)
    from_ids = float(model.forward(contexts, target))
    from_one_hot = float(model.forward(text.convert_one_hot(contexts, V), text.convert_one_hot(target, V)))
    assert from_ids == pytest.approx(from_one_hot, rel=1e-6)
    # Tiny weights give a uniform softmax: log V per predicted word.
    predicted = 1 if cls is SimpleCBOW else 2
    assert from_ids == pytest.approx(predicted * math.log(V), rel=1e-3)


@pytest.mark.parametrize("cls", [CBOW, SkipGram, SparseCBOW, SparseSkipGram])
def test_negative_sampling_models_start_at_the_loss_of_a_coin_flip(xp, cls):
    corpus, contexts, target = _toy_batch(xp, 2, n=20)
    model = cls(9, 8, 2, corpus, sample_size=5)
    # Scores near 0: each of the 1 + 5 binary decisions costs log 2.
    per_prediction = contexts.shape[1] if issubclass(cls, SkipGram) else 1
    assert float(model.forward(contexts, target)) == pytest.approx(per_prediction * 6 * math.log(2), rel=1e-3)


def test_models_explain_a_wrong_context_shape(xp):
    corpus, contexts, target = _toy_batch(xp, 2)
    with pytest.raises(ValueError, match="create_contexts_target"):
        CBOW(9, 4, 1, corpus).forward(contexts, target)


def test_simple_cbow_learns_the_book_sentence(xp):
    course.seed(0)
    corpus, word_to_id, id_to_word = text.preprocess(SENTENCE)
    contexts, target = text.create_contexts_target(corpus)
    model = SimpleCBOW(len(word_to_id), 5)
    history = Trainer(model, LazyAdam()).fit(contexts, target, max_epoch=1000, batch_size=3, progress=False)
    assert history.loss[:5].mean() > 1.9 and history.loss[-20:].mean() < 0.9
    # "goodbye" and "hello" both sit between "say" and another word.
    words = [
        w for w, _ in text.most_similar("goodbye", word_to_id, id_to_word, model.word_vecs, verbose=False)
    ]
    assert "hello" in words[:3]


class _Dense:
    """The same model with its row information hidden: the optimizer takes the dense path."""

    def __init__(self, model):
        self.model = model
        self.params, self.grads = model.params, model.grads

    def forward(self, *args):
        return self.model.forward(*args)

    def backward(self, dout=1):
        return self.model.backward(dout)


@pytest.mark.parametrize(("plain", "fast"), [(CBOW, SparseCBOW), (SkipGram, SparseSkipGram)])
def test_the_sparse_models_equal_the_plain_answers(xp, plain, fast):
    """Same seed, same weights and negatives: equal losses and gradients, batch after batch (float64)."""
    gen = np.random.default_rng(5)
    for _ in range(3):
        V, H, window = int(gen.integers(2, 12)), int(gen.integers(1, 6)), int(gen.integers(1, 3))
        corpus = gen.integers(0, V, 30)
        corpus[:2] = [0, 1]  # at least two distinct words to draw negatives from
        course.seed(int(gen.integers(100)))
        snap = backend.rng_snapshot()
        a = plain(V, H, window, corpus, sample_size=int(gen.integers(1, 4)), dtype="float64")
        backend.rng_restore(snap)
        b = fast(V, H, window, corpus, sample_size=a.ns_loss.sample_size, dtype="float64")
        for x, y in zip(a.params, b.params, strict=True):
            np.testing.assert_array_equal(backend.to_host(x), backend.to_host(y))
        for p, q in zip(a.params, b.params, strict=True):  # O(1) weights: gradients well above rounding
            p[...] = q[...] = xp.asarray(gen.standard_normal(p.shape))
        for _ in range(3):
            n = int(gen.integers(1, 7))
            contexts = xp.asarray(gen.integers(0, V, (n, 2 * window)))
            target = xp.asarray(gen.integers(0, V, n))
            snap = backend.rng_snapshot()
            want = float(a.forward(contexts, target))
            backend.rng_restore(snap)
            assert float(b.forward(contexts, target)) == pytest.approx(want, rel=1e-12)
            a.backward(0.7)
            b.backward(0.7)
            for x, y in zip(a.grads, b.grads, strict=True):
                np.testing.assert_allclose(backend.to_host(y), backend.to_host(x), rtol=1e-12, atol=1e-15)
        assert b.grads[0] is b.in_layer.grads[0] and b.grads[1] is b.ns_loss.grads[0]
        assert b.params[0] is b.in_layer.params[0] and b.params[1] is b.ns_loss.params[0]


def test_skip_gram_shares_cbows_skeleton():
    """The two models differ only in their wiring: same parameters, same layers, same word vectors."""
    assert SkipGram.__init__ is CBOW.__init__ and SkipGram.word_vecs is CBOW.word_vecs
    assert SparseSkipGram.__init__ is SparseCBOW.__init__
    assert not hasattr(CBOW, "grad_rows") and not hasattr(SkipGram, "grad_rows")


@pytest.mark.parametrize("cls", [SparseCBOW, SparseSkipGram])
def test_row_sparse_training_step_equals_the_dense_step_with_sgd(xp, cls):
    corpus, contexts, target = _toy_batch(xp, 2, n=10)
    course.seed(4)
    sparse_model = cls(9, 4, 2, corpus, dtype="float64")
    dense_model = copy.deepcopy(sparse_model)
    sparse_opt, dense_opt = SGD(lr=0.5), SGD(lr=0.5)
    for _ in range(3):
        snap = backend.rng_snapshot()
        sparse_model.forward(contexts, target)
        sparse_model.backward()
        backend.rng_restore(snap)  # the same negatives for both
        dense = _Dense(dense_model)
        dense.forward(contexts, target)
        dense.backward()
        norms_sparse, _ = step(sparse_model, sparse_opt, max_grad=0.05)
        norms_dense, _ = step(dense, dense_opt, max_grad=0.05)
        assert norms_sparse == pytest.approx(norms_dense)
    for a, b in zip(sparse_model.params, dense_model.params, strict=True):
        np.testing.assert_allclose(backend.to_host(a), backend.to_host(b), rtol=1e-12)


def _two_topic_corpus(seed=0, sentences=400):
    """Sentences of 6 words drawn from one of two disjoint 8-word topics, joined by '.'."""
    gen = np.random.default_rng(seed)
    topics = [[f"a{i}" for i in range(8)], [f"b{i}" for i in range(8)]]
    words = []
    for s in range(sentences):
        words += [str(w) for w in gen.choice(topics[s % 2], 6)] + ["."]
    return text.build_vocab(words)


def test_cbow_trained_with_the_trainer_groups_words_by_topic():
    course.seed(0)
    corpus, word_to_id, id_to_word = _two_topic_corpus()
    contexts, target = text.create_contexts_target(corpus, 2)
    model = SparseCBOW(len(word_to_id), 10, 2, corpus)
    history = Trainer(model, LazyAdam(lr=0.01)).fit(
        contexts, target, max_epoch=10, batch_size=20, progress=False
    )
    assert history.loss[-50:].mean() < history.loss[:10].mean() - 0.8
    for query in ("a3", "b5"):
        neighbours = text.most_similar(query, word_to_id, id_to_word, model.word_vecs, top=5, verbose=False)
        assert all(word[0] == query[0] for word, _ in neighbours), neighbours


# --------------------------------------------------------------------------
# word2vec's training recipe (course.word2vec_training)
# --------------------------------------------------------------------------


def test_keep_probability_is_word2vecs_rule():
    from course.word2vec_training import keep_probability

    counts = np.array([500.0, 50.0, 1.0, 0.0, 449.0])
    f = counts / counts.sum()
    t = 1e-2
    expected = np.minimum(1.0, (np.sqrt(f / t) + 1) * t / np.where(f > 0, f, 1.0))
    expected[3] = 1.0
    np.testing.assert_allclose(keep_probability(counts, t), expected)


def test_subsample_thins_frequent_words_only_and_keeps_the_order(xp):
    from course.word2vec_training import subsample, subsample_share

    corpus = xp.asarray(np.r_[np.zeros(9000, dtype=np.int64), np.arange(1, 1001)])
    kept = backend.to_host(subsample(corpus, 1e-3))
    rare = kept[kept > 0]
    np.testing.assert_array_equal(rare, np.arange(1, 1001))  # rare words all stay, in order
    share = subsample_share(corpus, 1e-3)
    assert abs(kept.size / 10_000 - share) < 0.01 and (kept == 0).sum() < 1000
    assert subsample(corpus, 0.0) is corpus


@pytest.mark.parametrize("cls", [SparseCBOW, SparseSkipGram, CBOW])
def test_the_recipe_trains_and_groups_words_by_topic(cls):
    from course.word2vec_training import RECIPE, train_word2vec

    course.seed(0)
    corpus, word_to_id, id_to_word = _two_topic_corpus()
    model = cls(len(word_to_id), 10, 2, corpus)
    seen = []
    losses = train_word2vec(
        model, corpus, 8, RECIPE.with_(batch_size=20, lr=0.05, sample=0.0),
        on_epoch=lambda epoch, seconds, loss: seen.append(epoch),
    )  # fmt: skip
    assert seen == list(range(1, 9)) and losses[-1] < losses[0] - 0.5
    for query in ("a3", "b5"):
        neighbours = text.most_similar(query, word_to_id, id_to_word, model.word_vecs, top=5, verbose=False)
        assert all(word[0] == query[0] for word, _ in neighbours), neighbours


def test_the_recipe_with_lazy_adam_and_subsampling_runs_and_repeats():
    from course.word2vec_training import RECIPE, train_word2vec

    corpus, word_to_id, _ = _two_topic_corpus()
    runs = []
    for _ in range(2):
        course.seed(3)
        model = SparseCBOW(len(word_to_id), 8, 2, corpus)
        recipe = RECIPE.with_(optimizer="lazyadam", lr=0.01, batch_size=16, sample=0.05)
        runs.append((train_word2vec(model, corpus, 2, recipe), model.word_vecs.copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    with pytest.raises(ValueError, match="optimizer"):
        train_word2vec(model, corpus, 1, RECIPE.with_(optimizer="adagrad"))
