"""Chapter 7 (generation and seq2seq): next_id_distribution, Encoder, Decoder, PeekyDecoder, beam_search."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autograder.students.checks import (
    assert_gradients_ok,
    assert_grads_written_in_place,
    assert_same_as_reference,
    course_version,
    host_rng,
)
from course import backend
from course import generate as ref_generate
from course.models import seq2seq as ref


def next_id_distribution(fn: Callable, seed: int = 71) -> None:
    rng = host_rng(seed)
    np = backend.host()
    for V in (2, 5, 40):
        scores = rng.standard_normal(V) * 3
        cases = [
            {"temperature": t, "top_k": k, "skip_ids": s}
            for t in (0.5, 1.0, 2.0)
            for k in (None, 1, 3)
            for s in (None, [0])
            if not (s and V <= 2 and k == 1)
        ]
        for case in cases:
            got = np.asarray(fn(scores.copy(), **case), dtype=float)
            want = ref_generate.next_id_distribution(scores.copy(), **case)
            if got.shape != want.shape or not np.allclose(got, want, atol=1e-9):
                raise AssertionError(
                    f"For {case} on {V} scores the distribution differs from the expected one."
                )
    p = np.asarray(fn(np.array([1000.0, 0.0, -1000.0]), temperature=0.5), dtype=float)
    if p.shape != (3,) or not np.all(np.isfinite(p)) or abs(float(p.sum()) - 1) > 1e-9:
        raise AssertionError("Scores of ±1000 must still give a finite distribution summing to 1.")


def _copy_weights(student: Any, reference: Any) -> tuple[Any, Any]:
    for mine, theirs in zip(student.params, reference.params, strict=True):
        mine[...] = theirs
    return student, reference


def _questions(rng: Any, n: int, t: int, V: int, pad: bool) -> Any:
    x = rng.integers(1, V, (n, t))
    if pad:
        lengths = rng.integers(1, t + 1, n)
        x[backend.host().arange(t)[None, :] >= lengths[:, None]] = 0
    return x


V, D, H = 6, 3, 4  # small sizes keep the numerical gradients quick
# Entries checked numerically per array (each costs two forward passes in the subject);
# the comparison with the reference covers every entry.
COORDS = 16


def encoder(Encoder: type, seed: int = 72) -> None:
    rng = host_rng(seed)

    def make(pad: int | None) -> tuple[Any, Any]:
        return _copy_weights(Encoder(V, D, H, pad_id=pad), ref.Encoder(V, D, H, pad_id=pad))

    for pad in (None, 0):
        x = _questions(rng, 3, 5, V, pad is not None)
        assert_gradients_ok(make(pad)[0], x, what=f"Encoder with pad_id={pad}", max_coords=COORDS)
        assert_same_as_reference(lambda pad=pad: make(pad), (x,), rng.standard_normal((3, H)), what="Encoder")
    x = _questions(rng, 2, 4, V, True)
    assert_grads_written_in_place(make(0)[0], "Encoder", (x,), (rng.standard_normal((2, H)),))


def _check_decoder(student: Any, reference: type, name: str, rng: Any) -> None:
    def make() -> tuple[Any, Any]:
        return _copy_weights(student(V, D, H), reference(V, D, H))

    for n, t in ((1, 2), (3, 4)):
        xs, h = rng.integers(0, V, (n, t)), rng.standard_normal((n, H))
        assert_gradients_ok(make()[0], xs, h, what=f"{name} with N={n}, T={t}", max_coords=COORDS)
        assert_same_as_reference(make, (xs, h), rng.standard_normal((n, t, V)), what=name)
    xs, h = rng.integers(0, V, (2, 3)), rng.standard_normal((2, H))
    assert_grads_written_in_place(make()[0], name, (xs, h), (rng.standard_normal((2, 3, V)),))


def decoder(Decoder: type, seed: int = 73) -> None:
    _check_decoder(Decoder, ref.Decoder, "Decoder", host_rng(seed))


def peeky_decoder(PeekyDecoder: type, seed: int = 74) -> None:
    _check_decoder(PeekyDecoder, ref.PeekyDecoder, "PeekyDecoder", host_rng(seed))


# -- beam search ---------------------------------------------------------------


def _log_prob_table(rng: Any, N: int, V: int, length: int) -> Any:
    """Random log-probabilities (N, R, V) for a TableScorer: every row sums to 1 as probabilities."""
    np = backend.host()
    scores = rng.standard_normal((N, ref_generate.TableScorer.rows(V, length), V)) * 2
    return scores - np.log(np.exp(scores).sum(axis=2, keepdims=True))


def _searched(fn: Callable, scorer: Any, start: Any, length: int, k: int, end_id: Any, V: int) -> tuple:
    """The student's (ids, totals) on the host, after checking their shapes."""
    np = backend.host()
    out = fn(scorer, start.copy(), length, k, end_id=end_id)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise AssertionError("beam_search must return two arrays: (ids (N, K, length), totals (N, K)).")
    ids, totals = (np.asarray(backend.to_host(a)) for a in out)
    K = min(k, V**length)
    want = (len(start), K, length)
    if ids.shape != want or totals.shape != want[:2]:
        raise AssertionError(
            f"With N={len(start)}, beam_width={k}, V={V} and length={length}, expected ids of shape "
            f"{want} and totals of shape {want[:2]} (K = min(beam_width, V**length)); got "
            f"{ids.shape} and {totals.shape}."
        )
    return ids, totals


def _greedy(scorer: Any, start: Any, length: int, end_id: Any) -> Any:
    """Greedy decoding, one argmax a step; after end_id only end_id."""
    np = backend.host()
    prefixes = start[:, None, None]
    for _ in range(length):
        best = np.asarray(scorer(prefixes))[:, 0].argmax(axis=1)
        if end_id is not None and prefixes.shape[2] > 1:
            best = np.where(prefixes[:, 0, -1] == end_id, end_id, best)
        prefixes = np.concatenate([prefixes, best[:, None, None]], axis=2)
    return prefixes[:, 0, 1:]


def _same_search(got: tuple, want: tuple, what: str, tol: float = 1e-9) -> None:
    np = backend.host()
    finite = np.isfinite(want[1])
    if not np.array_equal(np.isfinite(got[1]), finite) or not np.allclose(
        got[1][finite], want[1][finite], rtol=tol, atol=tol
    ):
        raise AssertionError(f"{what}: the totals (summed log-probabilities) differ from the expected ones.")
    ids_ok = all(np.array_equal(g[f], w[f]) for g, w, f in zip(got[0], want[0], finite, strict=True))
    if not ids_ok:
        raise AssertionError(f"{what}: the sequences differ from the expected ones (or are not best first).")


def _against_exhaustive(fn: Callable, rng: Any, N: int, V: int, length: int, end_id: Any) -> None:
    """A random table: a beam as wide as all sequences, a beam of 1, beams of 2 and 3."""
    np = backend.host()
    table = _log_prob_table(rng, N, V, length)
    mine = course_version(fn, "course.generate:TableScorer")(table)
    ours = ref_generate.TableScorer(table)
    start = rng.integers(1, V, N)  # never the end id 0
    case = f"V={V}, length={length}, end_id={end_id}"
    best = ref_generate.exhaustive_search(ours, start, length, end_id)
    wide = _searched(fn, mine, start, length, V**length, end_id, V)
    _same_search(wide, best, f"A beam as wide as all {V**length} sequences ({case}) vs. exhaustive search")
    greedy = _searched(fn, mine, start, length, 1, end_id, V)[0][:, 0]
    if not np.array_equal(greedy, _greedy(ours, start, length, end_id)):
        raise AssertionError(f"beam_width=1 must be greedy decoding: the best id at every step ({case}).")
    for k in (2, 3):
        got = _searched(fn, mine, start, length, k, end_id, V)
        if np.any(got[1][:, 0] > best[1][:, 0] + 1e-9):
            raise AssertionError(f"beam_width={k} ({case}): a total beats exhaustive search's best.")
        want = ref_generate.beam_search(ours, start, length, k, end_id=end_id)
        _same_search(got, want, f"beam_width={k} ({case}): keep the {k} best of all candidates at each step")


def _ties(fn: Callable, rng: Any) -> None:
    """Scores in steps of 0.5 add up exactly: equal totals, won by the first (prefix, id) candidate."""
    table = -0.5 * rng.integers(1, 4, (3, ref_generate.TableScorer.rows(3, 3), 3))
    mine = course_version(fn, "course.generate:TableScorer")(table)
    ours = ref_generate.TableScorer(table)
    start = backend.host().array([1, 2, 1])
    for k in (1, 2, 4, 27):
        got = _searched(fn, mine, start, 3, k, None, 3)
        want = ref_generate.beam_search(ours, start, 3, k)
        _same_search(got, want, f"Equal totals (beam_width={k}): the first in (prefix, id) order must win")


def beam_search(beam_search: Callable, seed: int = 75) -> None:
    rng = host_rng(seed)
    for N, V, length in ((2, 2, 3), (3, 3, 3), (2, 4, 2)):
        for end_id in (None, 0):
            _against_exhaustive(beam_search, rng, N, V, length, end_id)
    _ties(beam_search, rng)
    _on_a_model(beam_search, rng)


def _on_a_model(beam_search: Callable, rng: Any) -> None:
    """A tiny random seq2seq model: its greedy answers, and a beam of 3 as the course's."""
    np = backend.host()
    ours = ref.Seq2seq(V, D, H, pad_id=0)
    model = course_version(beam_search, "course.models.seq2seq:Seq2seq")(V, D, H, pad_id=0)
    for mine, theirs in zip(model.params, ours.params, strict=True):
        mine[...] = theirs
    xs = _questions(rng, 4, 5, V, True)
    scorer = course_version(beam_search, "course.models.seq2seq:AnswerScorer")(model, xs)
    start = np.full(4, 1)
    greedy = _searched(beam_search, scorer, start, 4, 1, 0, V)[0][:, 0]
    if not np.array_equal(greedy, np.asarray(backend.to_host(ours.generate(xs, 1, 4)))):
        raise AssertionError("On a seq2seq model, beam_width=1 must give the model's greedy answers.")
    got = _searched(beam_search, scorer, start, 4, 3, 0, V)
    want = ref_generate.beam_search(ref.AnswerScorer(ours, xs), start, 4, 3, end_id=0)
    _same_search(tuple(backend.host().asarray(a) for a in got), want, "On a seq2seq model", tol=1e-5)
