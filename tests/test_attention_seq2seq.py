"""seq2seq and attention: gradient checks, padding, and batched generation."""

from __future__ import annotations

import numpy as np
import pytest

import course
from course import backend
from course.gradcheck import check_layer, check_model, float64_copy
from course.layers.attention import Attention, AttentionWeight, TimeAttention, WeightSum
from course.models.attention_seq2seq import AttentionSeq2seq
from course.models.seq2seq import PeekySeq2seq, Seq2seq

PAD, START = 0, 1


def _arr(xp, rng, *shape):
    return xp.asarray(rng.standard_normal(shape))


@pytest.mark.parametrize("n,t,h", [(1, 1, 1), (2, 3, 4), (3, 5, 2)])
def test_attention_layers_pass_gradcheck(xp, rng, n, t, h):
    hs, h_dec, a = _arr(xp, rng, n, t, h), _arr(xp, rng, n, h), xp.asarray(rng.random((n, t)))
    check_layer(WeightSum(), hs, a).assert_ok()
    check_layer(AttentionWeight(), hs, h_dec).assert_ok()
    check_layer(Attention(), hs, h_dec).assert_ok()
    check_layer(TimeAttention(), hs, _arr(xp, rng, n, 4, h)).assert_ok()


def test_time_attention_with_a_mask_passes_gradcheck_and_ignores_padding(xp, rng):
    enc, dec = _arr(xp, rng, 3, 5, 4), _arr(xp, rng, 3, 2, 4)
    mask = xp.asarray([[True] * 5, [True, True, False, False, False], [True] * 4 + [False]])
    check_layer(TimeAttention(), enc, dec, mask).assert_ok()
    layer = TimeAttention()
    layer.forward(enc, dec, mask)
    a = backend.to_host(layer.attention_weights)
    assert np.all(a[1, :, 2:] == 0) and np.all(a[2, :, 4] == 0)
    np.testing.assert_allclose(a.sum(axis=2), 1.0)


def test_time_attention_equals_attention_at_every_step(xp, rng):
    enc, dec = _arr(xp, rng, 2, 6, 3), _arr(xp, rng, 2, 4, 3)
    dcs = _arr(xp, rng, 2, 4, 3)
    layer = TimeAttention()
    cs = layer.forward(enc, dec)
    denc, ddec = layer.backward(dcs)
    denc_loop = xp.zeros_like(enc)
    for t in range(4):
        step = Attention()
        np.testing.assert_allclose(backend.to_host(step.forward(enc, dec[:, t])), backend.to_host(cs[:, t]))
        dhs, dh = step.backward(dcs[:, t])
        denc_loop += dhs
        np.testing.assert_allclose(backend.to_host(dh), backend.to_host(ddec[:, t]), rtol=1e-10)
    np.testing.assert_allclose(backend.to_host(denc_loop), backend.to_host(denc), rtol=1e-10)


def _batch(xp, rng, n=3, t_in=5, t_out=4, vocab=9, pad=True):
    """Right-padded questions and answers starting with START."""
    x = rng.integers(2, vocab, (n, t_in))
    t = rng.integers(2, vocab, (n, t_out))
    t[:, 0] = START
    if pad:
        x[0, 3:] = PAD  # length 3
        x[1, 4:] = PAD  # length 4
        t[0, 2:] = PAD  # answer ends early
    return xp.asarray(x), xp.asarray(t)


MODELS = [
    ("seq2seq", lambda pad: Seq2seq(9, 4, 5, pad_id=pad)),
    ("peeky", lambda pad: PeekySeq2seq(9, 4, 5, pad_id=pad)),
    ("attention", lambda pad: AttentionSeq2seq(9, 4, 6, pad_id=pad)),
    ("bidirectional", lambda pad: AttentionSeq2seq(9, 4, 6, pad_id=pad, bidirectional=True)),
]


@pytest.mark.parametrize("name,make", MODELS, ids=[m[0] for m in MODELS])
@pytest.mark.parametrize("pad_id", [None, PAD])
def test_models_pass_check_model(xp, rng, name, make, pad_id):
    course.seed(1)
    model = make(pad_id)
    x, t = _batch(xp, rng)
    report = check_model(model, x, t)
    report.assert_ok()
    assert len(report.rows) == len(model.params) and report.rows[0].name.startswith("encoder.")


@pytest.mark.parametrize("name,make", MODELS, ids=[m[0] for m in MODELS])
def test_loss_ignores_padding_after_the_end_of_the_answer(xp, rng, name, make):
    course.seed(2)
    model = make(PAD)
    x, t = _batch(xp, rng)
    base = float(model.forward(x, t))
    t2 = t.copy()
    t2[0, 3:] = 5  # change what follows the end marker of answer 0
    assert float(model.forward(x, t2)) == pytest.approx(base, rel=1e-6)
    t3 = t.copy()
    t3[0, 1] = 7  # a real answer character does count
    assert float(model.forward(x, t3)) != pytest.approx(base, rel=1e-6)


@pytest.mark.parametrize("name,make", MODELS, ids=[m[0] for m in MODELS])
def test_batch_of_different_lengths_answers_like_one_by_one(xp, rng, name, make):
    course.seed(3)
    # float64, so that batch-size-dependent float32 rounding cannot flip an argmax
    model = float64_copy(make(PAD))
    x, _ = _batch(xp, rng, n=4, t_in=7)
    x[2, 2:] = PAD
    together = backend.to_host(model.generate(x, START, 5))
    if name in ("attention", "bidirectional"):
        assert model.attention_weights.shape == (4, 5, 7)
        np.testing.assert_allclose(backend.to_host(model.attention_weights[2, :, 2:]), 0.0)
    model.encoder.forward(x)
    summaries = backend.to_host(model.encoder.final)
    for i, length in enumerate([3, 4, 2, 7]):
        alone = backend.to_host(model.generate(x[i : i + 1, :length], START, 5))
        np.testing.assert_array_equal(alone[0], together[i])
        # The encoder's summary, a continuous value, agrees too (ids alone are a coarse check).
        np.testing.assert_allclose(backend.to_host(model.encoder.final)[0], summaries[i], rtol=1e-12)


def test_empty_question_is_a_clear_error(xp):
    model = Seq2seq(5, 3, 4, pad_id=PAD)
    with pytest.raises(ValueError, match="padding only"):
        model.generate(xp.zeros((1, 3), dtype=xp.int32), START, 2)


class _Answers:
    """A stand-in model that answers with fixed ids (on the backend of its parameter)."""

    def __init__(self, xp, ids):
        self.params, self.ids = [xp.zeros(1)], xp.asarray(ids)

    def generate(self, xs, start_id, size):
        return self.ids[: len(xs), :size]


def test_eval_dates_counts_exact_matches_invalid_dates_and_families(xp):
    from course.datasets import sequence
    from course.train import eval_dates, eval_seq2seq

    char_to_id, id_to_char = sequence.get_vocab("dates")
    right = ["_1994-09-27", "_2001-02-28", "_1999-04-30", "_1970-01-01"]
    said = ["1994-09-27", "2001-02-29", "1999-14-30", "1970-01-02"]  # right, no such day, month 14, wrong
    t = sequence.encode(right, char_to_id, 11)
    x = sequence.encode(["a", "b", "c", "d"], char_to_id, 29)
    model = _Answers(xp, sequence.encode(said, char_to_id, 10))
    scores = eval_dates(model, xp.asarray(x), xp.asarray(t), id_to_char, families=["p", "q", "q", "p"])
    assert scores.accuracy == 0.25 == eval_seq2seq(model, x, t, id_to_char)
    assert scores.invalid == 2 and scores.answers == said and scores.wrong() == [1, 2, 3]
    assert scores.by_family() == {"p": (1, 0, 2), "q": (0, 2, 2)}
    lines = scores.table().splitlines()
    assert lines[1].split() == ["p", "1/2", "50.00%", "0"] and lines[-1].split() == [
        "all",
        "1/4",
        "25.00%",
        "2",
    ]
