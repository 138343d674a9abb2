"""Transformer models: whole-model gradient checks (masks, pre/post norm, dropout), causality, a tiny fit."""

from __future__ import annotations

import numpy as np
import pytest

import course
from course import backend
from course.datasets.corpus import load_sample
from course.gradcheck import check_model
from course.models.transformer import TransformerLM, TransformerSeq2seq
from course.optim import Adam, WarmupSchedule
from course.train import RnnlmTrainer, Trainer, eval_perplexity, eval_seq2seq

PAD, START, V = 0, 1, 9


def _batch(xp, rng, n=3, t_in=5, t_out=4, pad=True):
    """Right-padded questions and answers starting with START."""
    x = rng.integers(2, V, (n, t_in))
    t = rng.integers(2, V, (n, t_out))
    t[:, 0] = START
    if pad:
        x[0, 3:] = PAD
        x[1, 4:] = PAD
        t[0, 2:] = PAD
    return xp.asarray(x), xp.asarray(t)


def _small_seq2seq(pad_id, pre_norm, dropout, num_layers=1):
    return TransformerSeq2seq(
        V, D=8, num_heads=2, D_ff=12, num_layers=num_layers, max_len=8, dropout_ratio=dropout,
        pre_norm=pre_norm, pad_id=pad_id, label_smoothing=0.1,
    )  # fmt: skip


# Each case is one of each: masks on and off, pre- and post-norm, one or two layers. A few entries
# of every parameter array (there are ~100 arrays) keep the check to seconds.
SEQ2SEQ_CASES = [
    (PAD, True, 1),
    (None, False, 1),
    pytest.param(PAD, False, 2, marks=pytest.mark.heavy),  # two blocks: the memory's gradient adds up
]


@pytest.mark.parametrize("pad_id,pre_norm,layers", SEQ2SEQ_CASES, ids=["pad-pre", "nopad-post", "pad-post-2"])
def test_seq2seq_passes_check_model(xp, rng, pad_id, pre_norm, layers):
    course.seed(3)
    model = _small_seq2seq(pad_id, pre_norm, dropout=0.2, num_layers=layers)  # dropout is replayed
    report = check_model(model, *_batch(xp, rng), max_coords=6)
    report.assert_ok()
    assert set(report.errors) == set(model.param_names)


@pytest.mark.parametrize("pre_norm", [True, False], ids=["pre", "post"])
def test_language_model_passes_check_model(xp, rng, pre_norm):
    course.seed(4)
    model = TransformerLM(V, D=8, num_heads=2, D_ff=12, num_layers=2, max_len=6, dropout_ratio=0.2,
                          pre_norm=pre_norm, positional="learned")  # fmt: skip
    xs, ts = rng.integers(0, V, (2, 5)), rng.integers(0, V, (2, 5))
    ts[1, 3:] = -1
    check_model(model, xp.asarray(xs), xp.asarray(ts), max_coords=8).assert_ok()


def test_language_model_is_causal(xp, rng):
    course.seed(5)
    model = TransformerLM(V, D=8, num_heads=2, D_ff=12, num_layers=2, max_len=8, dropout_ratio=0.0)
    xs = rng.integers(0, V, (2, 7))
    changed = xs.copy()
    changed[:, 4] = (changed[:, 4] + 1) % V
    a = backend.to_host(model.predict(xp.asarray(xs)))
    model.reset_state()
    b = backend.to_host(model.predict(xp.asarray(changed)))
    np.testing.assert_allclose(a[:, :4], b[:, :4], rtol=1e-5, atol=1e-6)  # the past never sees the future
    assert not np.allclose(a[:, 4:], b[:, 4:])
    # Reading one id at a time in context gives the scores of reading the block at once.
    model.reset_state()
    steps = [backend.to_host(model.predict(xp.asarray(xs[:, i : i + 1])))[:, 0] for i in range(7)]
    np.testing.assert_allclose(np.stack(steps, axis=1), a, rtol=1e-4, atol=1e-5)
    model.reset_state()
    ids = model.generate([1, 2], length=5, top_k=3, temperature=0.8)
    assert len(ids) == 7 and ids[:2] == [1, 2]


def test_padding_does_not_change_the_answer(xp, rng):
    course.seed(6)
    model = _small_seq2seq(PAD, True, dropout=0.0, num_layers=2)
    x, _ = _batch(xp, rng, pad=False)
    short = x[:, :3]
    padded = xp.concatenate([short, xp.zeros((3, 2), dtype=short.dtype)], axis=1)
    a, b = model.generate(short, START, 4), model.generate(padded, START, 4)
    np.testing.assert_array_equal(backend.to_host(a), backend.to_host(b))
    maps = model.attention_maps()
    assert [m.shape for m in maps["cross"]] == [(3, 2, 4, 5)] * 2
    assert float(backend.to_host(maps["cross"][0])[:, :, :, 3:].max()) == 0.0
    assert model.attention_weights.shape == (3, 4, 5)


def test_tiny_copy_task_is_learned(xp):
    """Copy 3-character questions: a few seconds of training answer them all."""
    course.seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(2, V, (256, 3))
    t = np.concatenate([np.full((256, 1), START), x], axis=1)
    model = TransformerSeq2seq(V, D=16, num_heads=2, D_ff=32, num_layers=1, max_len=4, dropout_ratio=0.0)
    trainer = Trainer(model, WarmupSchedule(Adam(lr=0.01), warmup_steps=10))
    trainer.fit(xp.asarray(x), xp.asarray(t), max_epoch=12, batch_size=32, progress=False)
    chars = {i: str(i) for i in range(V)}
    assert eval_seq2seq(model, x[:64], t[:64], chars) == 1.0


def test_language_model_trains_on_the_chinese_sample_and_writes(xp):
    """Chapter 7's Chinese text through RnnlmTrainer and generate, as the recurrent models use them."""

    story = load_sample("chinese", level="char")
    course.seed(0)
    model = TransformerLM(story.vocab_size, D=16, num_heads=2, D_ff=32, num_layers=1, max_len=16)
    before = eval_perplexity(model, story.ids, batch_size=4, time_size=16)
    RnnlmTrainer(model, Adam(lr=0.01)).fit(
        story.ids[:-1], story.ids[1:], max_epoch=4, batch_size=4, time_size=16, progress=False
    )
    assert eval_perplexity(model, story.ids, batch_size=4, time_size=16) < before / 2
    text = story.decode(model.generate(story.encode("小林"), 20, temperature=0.8, top_k=5, seed=1))
    assert text.startswith("小林") and len(text) == 22
