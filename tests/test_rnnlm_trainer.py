"""RnnlmTrainer (truncated-BPTT batches, clipping, History, progress) and eval_perplexity."""

from __future__ import annotations

import math

import numpy as np
import pytest

import course
from course import backend
from course.functions import log_softmax
from course.models.rnnlm import BetterRnnlm, Rnnlm
from course.optim import SGD, Adam
from course.train import RnnlmTrainer, eval_perplexity


def test_each_batch_row_continues_its_own_stream():
    L, B, T = 50, 4, 3
    corpus = np.arange(L)
    trainer = RnnlmTrainer(Rnnlm(L, 2, 2), SGD())
    blocks = [trainer.get_batch(corpus, corpus + 100, B, T) for _ in range(6)]
    jump = L // B
    for n in range(B):
        row = np.concatenate([bx[n] for bx, _ in blocks])
        want = [(n * jump + k) % L for k in range(6 * T)]
        np.testing.assert_array_equal(row, want)
    np.testing.assert_array_equal(blocks[2][1], blocks[2][0] + 100)  # targets at the same positions
    assert trainer.time_idx == 6 * T


def test_fit_records_every_iteration_and_continues_between_calls(capsys):
    course.seed(0)
    V, B, T = 20, 2, 5
    corpus = np.random.default_rng(0).integers(0, V, 203)
    events = []

    class Monitor:
        def start(self, history):
            events.append("start")

        def update(self, history):
            events.append("update")

        def finish(self, history):
            events.append("finish")

    trainer = RnnlmTrainer(Rnnlm(V, 4, 6), SGD(lr=0.5))
    history = trainer.fit(
        corpus[:-1], corpus[1:], max_epoch=2, batch_size=B, time_size=T, max_grad=0.05, eval_interval=7,
        monitor=Monitor(),
    )  # fmt: skip
    iters = 202 // (B * T)
    assert len(history) == 2 * iters and trainer.time_idx == 2 * iters * T
    assert history.param_norms.shape == (2 * iters, 6)
    assert history.param_names == ["embed.W", "lstm.Wx", "lstm.Wh", "lstm.b", "affine.W", "affine.b"]
    assert np.all(history.grad_norm_clipped <= 0.05 + 1e-6)
    np.testing.assert_allclose(trainer.ppl_list[0], math.exp(history.loss[:7].mean()))
    assert events[0] == "start" and events[-1] == "finish" and "update" in events
    assert "ppl=" in capsys.readouterr().err
    trainer.fit(corpus[:-1], corpus[1:], max_epoch=1, batch_size=B, time_size=T)
    assert len(history) == 3 * iters and set(history.epoch) == {1, 2, 3}


def test_training_learns_a_repeating_sequence(xp):
    course.seed(1)
    corpus = np.tile(np.array([0, 1, 2, 3, 1, 0, 3, 2]), 60)
    model = Rnnlm(4, 8, 16)
    before = eval_perplexity(model, corpus)
    trainer = RnnlmTrainer(model, Adam(lr=0.02))
    trainer.fit(
        corpus[:-1], corpus[1:], max_epoch=30, batch_size=4, time_size=8, max_grad=5.0, progress=False
    )
    assert before == pytest.approx(4.0, rel=0.05)
    assert eval_perplexity(model, corpus) < 1.2


def test_fit_rejects_mismatched_or_too_short_corpora():
    trainer = RnnlmTrainer(Rnnlm(10, 2, 2), SGD())
    with pytest.raises(ValueError, match="corpus\\[:-1\\] and corpus\\[1:\\]"):
        trainer.fit(np.arange(10), np.arange(9))
    with pytest.raises(ValueError, match="fewer than one block"):
        trainer.fit(np.arange(9), np.arange(9), batch_size=5, time_size=2)


def test_uniform_model_has_perplexity_equal_to_the_vocabulary_size(xp):
    model = Rnnlm(17, 3, 4)
    model.affine.params[0][...] = 0
    assert eval_perplexity(model, np.arange(40) % 17) == pytest.approx(17.0, rel=1e-6)


@pytest.mark.parametrize("batch_size,time_size", [(1, 4), (3, 2), (4, 50), (100, 3)])
def test_eval_perplexity_counts_every_prediction_once(xp, batch_size, time_size):
    course.seed(2)
    V = 11
    corpus = np.random.default_rng(5).integers(0, V, 23)
    model = Rnnlm(V, 4, 5)
    for p in model.params:
        p[...] = backend.to_device(np.random.default_rng(6).standard_normal(p.shape), like=p)
    got = eval_perplexity(model, corpus, batch_size=batch_size, time_size=time_size)
    # Reference: each stream read in one piece from a zero state, all 22 predictions averaged.
    n = len(corpus) - 1
    B = min(batch_size, n)
    stream = -(-n // B)
    total = 0.0
    for b in range(B):
        lo, hi = b * stream, min((b + 1) * stream, n)
        if lo >= hi:
            continue
        model.reset_state()
        scores = backend.to_host(model.predict(xp.asarray(corpus[None, lo:hi])))[0].astype(float)
        total -= log_softmax(scores)[np.arange(hi - lo), corpus[lo + 1 : hi + 1]].sum()
    assert got == pytest.approx(math.exp(total / n), rel=1e-5)


def test_eval_perplexity_switches_dropout_off_and_resets_state(xp):
    course.seed(3)
    model = BetterRnnlm(15, 6, 6, dropout_ratio=0.5)
    corpus = np.arange(60) % 15
    assert eval_perplexity(model, corpus) == eval_perplexity(model, corpus)
    assert all(layer.h is None for layer in model.rnn_layers)


def test_eval_perplexity_needs_two_ids():
    with pytest.raises(ValueError, match="at least 2 ids"):
        eval_perplexity(Rnnlm(5, 2, 2), np.array([1]))
