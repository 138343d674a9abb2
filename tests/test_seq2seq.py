"""seq2seq decoders and beam search: greedy generation, exhaustive search, ties, the end id."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from course import backend
from course.functions import log_softmax
from course.generate import TableScorer, beam_search, exhaustive_search
from course.gradcheck import check_layer
from course.models.seq2seq import AnswerScorer, Decoder, PeekyDecoder, PeekySeq2seq, Seq2seq
from course.validate import InputError, InputTypeError

PAD, START = 0, 1


def _log_probs(rng, N, V, length):
    """Random log-probabilities (N, R, V) for a TableScorer."""
    scores = rng.standard_normal((N, TableScorer.rows(V, length), V)) * 2
    return scores - np.log(np.exp(scores).sum(axis=2, keepdims=True))


def _host(*arrays):
    return [np.asarray(backend.to_host(a)) for a in arrays]


@pytest.mark.parametrize("decoder_class", [Decoder, PeekyDecoder])
def test_decoders_pass_gradcheck(xp, rng, decoder_class):
    decoder = decoder_class(7, 3, 4)
    xs, h = xp.asarray(rng.integers(0, 7, (3, 4))), xp.asarray(rng.standard_normal((3, 4)))
    check_layer(decoder, xs, h).assert_ok()


@pytest.mark.parametrize("decoder_class", [Decoder, PeekyDecoder])
def test_generate_equals_stepping_the_lstm_with_its_carried_state(xp, rng, decoder_class):
    """generate reads the whole answer again each step; one step at a time with the state gives the same."""
    decoder = decoder_class(9, 3, 5)
    h = xp.asarray(rng.standard_normal((4, 5)), dtype=xp.float32)
    got = decoder.generate(h, START, 6)
    peeky = decoder_class is PeekyDecoder
    x = xp.full((4, 1), START)
    decoder.lstm.set_state(h)
    want = []
    for _ in range(6):
        e = decoder.embed.forward(x)
        out = decoder.lstm.forward(xp.concatenate([h[:, None], e], axis=2) if peeky else e)
        scores = decoder.affine.forward(xp.concatenate([h[:, None], out], axis=2) if peeky else out)
        x = scores.argmax(axis=-1)
        want.append(x)
    np.testing.assert_array_equal(*_host(got, xp.concatenate(want, axis=1)))


def test_table_scorer_rows_count_prefixes_in_order(xp):
    V, length = 3, 3
    R = TableScorer.rows(V, length)
    assert R == 1 + 3 + 9
    table = xp.asarray(np.arange(R, dtype=float)[None, :, None] * np.ones((1, 1, V)))
    scorer = TableScorer(table)
    prefixes = [()] + [p for n in (1, 2) for p in itertools.product(range(V), repeat=n)]
    for row, prefix in enumerate(prefixes):
        ids = xp.asarray([[[START, *prefix]]])
        assert float(backend.to_host(scorer(ids))[0, 0, 0]) == row


@pytest.mark.parametrize("end_id", [None, 0])
@pytest.mark.parametrize("V,length", [(2, 4), (3, 3), (5, 2)])
def test_a_beam_as_wide_as_all_sequences_is_exhaustive_search(xp, rng, V, length, end_id):
    scorer = TableScorer(xp.asarray(_log_probs(rng, 3, V, length)))
    start = xp.asarray([1, 1, V - 1])
    ids, totals = _host(*beam_search(scorer, start, length, V**length, end_id=end_id))
    best_ids, best_totals = _host(*exhaustive_search(scorer, start, length, end_id))
    assert ids.shape == (3, V**length, length) and totals.shape == (3, V**length)
    finite = np.isfinite(best_totals)
    np.testing.assert_array_equal(np.isfinite(totals), finite)
    np.testing.assert_allclose(totals[finite], best_totals[finite], rtol=1e-12)
    for got, want, keep in zip(ids, best_ids, finite, strict=True):
        np.testing.assert_array_equal(got[keep], want[keep])


def test_exhaustive_search_scores_every_sequence_by_its_summed_log_probabilities(rng):
    table = _log_probs(rng, 1, 3, 2)
    ids, totals = exhaustive_search(TableScorer(table), np.array([0]), 2)
    assert ids.shape == (1, 9, 2)
    for (a, b), total in zip(ids[0], totals[0], strict=True):
        assert total == pytest.approx(table[0, 0, a] + table[0, 1 + a, b])
    assert np.all(np.diff(totals[0]) <= 0)


@pytest.mark.parametrize("end_id", [None, 0])
def test_beam_of_one_is_greedy_decoding(xp, rng, end_id):
    table = _log_probs(rng, 4, 3, 4)
    ids, totals = _host(*beam_search(TableScorer(xp.asarray(table)), xp.asarray([2, 1, 2, 1]), 4, 1, end_id))
    for n in range(4):
        seq, total = [], 0.0
        for _ in range(4):
            row = sum(v * 3**i for i, v in enumerate(reversed(seq))) + TableScorer.rows(3, len(seq))
            if end_id is not None and seq and seq[-1] == end_id:
                seq.append(end_id)
                continue
            best = int(table[n, row].argmax())
            seq.append(best)
            total += table[n, row, best]
        assert ids[n, 0].tolist() == seq
        assert totals[n, 0] == pytest.approx(total)


def test_equal_totals_go_to_the_first_prefix_and_id(xp):
    ids, totals = _host(*beam_search(TableScorer(xp.zeros((1, 13, 3))), xp.asarray([0]), 3, 4))
    assert ids[0].tolist() == [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 1, 0]]
    assert np.all(totals == 0)


def test_a_narrow_beam_keeps_the_best_candidates_over_all_prefixes():
    """After 0 (0.5) and 1 (0.4), the two best answers both extend 1: 1-0 (0.36) and 0-0 (0.175) is wrong."""
    probs = np.array([[[0.5, 0.4, 0.1], [0.35, 0.35, 0.3], [0.9, 0.05, 0.05], [0.4, 0.3, 0.3]]])
    ids, totals = beam_search(TableScorer(np.log(probs)), np.array([0]), 2, 2)
    assert ids[0].tolist() == [[1, 0], [0, 0]]
    np.testing.assert_allclose(np.exp(totals[0]), [0.36, 0.175])
    greedy, _ = beam_search(TableScorer(np.log(probs)), np.array([0]), 2, 1)
    assert greedy[0].tolist() == [[0, 0]]


def test_a_finished_sequence_keeps_its_total():
    """V=2, end 0: after 0 only 0 follows, at no cost; its total is the first step's."""
    table = np.log(np.array([[[0.6, 0.4], [0.5, 0.5], [0.9, 0.1]]]))
    ids, totals = beam_search(TableScorer(table), np.array([1]), 2, 4, end_id=0)
    assert ids[0].tolist()[:3] == [[0, 0], [1, 0], [1, 1]]
    np.testing.assert_allclose(np.exp(totals[0, :3]), [0.6, 0.36, 0.04])
    assert totals[0, 3] == -np.inf  # 0 then 1: not a sequence once 0 has ended it


@pytest.mark.parametrize("model_class", [Seq2seq, PeekySeq2seq])
def test_model_beam_search_of_width_one_is_generate(xp, rng, model_class):
    model = model_class(9, 4, 5, pad_id=PAD)
    xs = rng.integers(2, 9, (6, 5))
    xs[0, 3:] = PAD
    xs = xp.asarray(xs)
    np.testing.assert_array_equal(*_host(model.beam_search(xs, START, 4, 1), model.generate(xs, START, 4)))
    wide = model.beam_search(xs, START, 4, 5)
    assert wide.shape == (6, 4)


def test_answer_scorer_gives_log_probabilities_per_prefix(xp, rng):
    model = PeekySeq2seq(9, 4, 5, pad_id=PAD)
    xs = xp.asarray(rng.integers(2, 9, (2, 5)))
    prefixes = xp.asarray(rng.integers(0, 9, (2, 3, 4)))
    prefixes[:, :, 0] = START
    log_probs = AnswerScorer(model, xs)(prefixes)
    assert log_probs.shape == (2, 3, 9)
    np.testing.assert_allclose(backend.to_host(xp.exp(log_probs).sum(axis=2)), 1.0, rtol=1e-5)
    h = model.encoder.forward(xs)
    one = model.decoder.forward(prefixes[1, 2][None], h[1:2])[0, -1]  # prefix 2 of question 1, alone
    np.testing.assert_allclose(*_host(log_probs[1, 2], log_softmax(one)), rtol=1e-5, atol=1e-6)


def test_beam_search_rejects_bad_arguments():
    scorer = TableScorer(np.zeros((1, 3, 2)))
    with pytest.raises(InputError, match="beam_width"):
        beam_search(scorer, np.array([0]), 2, 0)
    with pytest.raises(InputTypeError, match="next_log_probs"):
        beam_search("model", np.array([0]), 2, 2)
