"""Text generation with a trained language model.

``generate(model, start_ids, length)`` feeds the start ids through the model
and then samples one id at a time, feeding each sample back in. It works for
any model with ``predict(xs (1, T)) -> scores (1, T, V)`` and
``reset_state()``: word-level or character-level, RNN, LSTM or GRU.
Turn the ids back into text with the vocabulary, e.g. ``corpus.decode(ids)``.

``beam_search(next_log_probs, start_ids, length, beam_width)`` looks for the
most likely whole sequences instead: at every step it keeps the beam_width
best prefixes found so far. ``next_log_probs`` is any function of prefixes
(N, B, t) giving log-probabilities (N, B, V): a seq2seq model's
(``course.models.seq2seq.AnswerScorer``) or a made-up table's (``TableScorer``).
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from course import backend, validate
from course.answers import model_answer

Array = Any


def _predict(model: Any, ids: Array) -> Array:
    """Scores of the last step, (V,) on the host; dropout off where the model has the switch."""
    try:
        takes_flag = "train_flg" in inspect.signature(model.predict).parameters
    except (TypeError, ValueError):
        takes_flag = False
    like = model.params[0] if getattr(model, "params", None) else None
    xs = backend.to_device(ids, like=like)
    scores = model.predict(xs, train_flg=False) if takes_flag else model.predict(xs)
    return backend.to_host(scores[0, -1]).astype("float64")


def _as_id_list(start_ids: int | Sequence[int] | Array) -> list[int]:
    np = backend.host()
    ids = np.asarray(backend.to_host(start_ids)).reshape(-1)
    if ids.size == 0:
        raise ValueError("start_ids is empty: give at least one id to start from.")
    if ids.dtype.kind not in "iu":
        raise TypeError(f"start_ids must be integer word ids, got dtype {ids.dtype}.")
    return [int(i) for i in ids]


@model_answer("next_id_distribution", chapter="ch07")
def next_id_distribution(
    scores: Array, temperature: float = 1.0, top_k: int | None = None, skip_ids: Sequence[int] | None = None
) -> Array:
    """The sampling distribution (V,) for one step's scores (V,), on the host.

    Skipped ids get probability 0; only the top_k highest scores stay; the
    rest are softmax(scores / temperature): below 1 sharper, above 1 flatter.
    """
    np = backend.host()
    logits = np.array(scores, dtype=np.float64)
    V = logits.shape[0]
    if skip_ids:
        logits[np.asarray(list(skip_ids), dtype=np.int64)] = -np.inf
    if top_k is not None and top_k < V:
        cut = np.partition(logits, V - top_k)[V - top_k]
        logits[logits < cut] = -np.inf
    logits = logits / temperature
    logits -= logits.max()
    p = np.exp(logits)
    return p / p.sum()


def generate(
    model: Any,
    start_ids: int | Sequence[int],
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    skip_ids: Sequence[int] | None = None,
    greedy: bool = False,
    seed: int | None = None,
) -> list[int]:
    """Continue ``start_ids`` with ``length`` new ids drawn from the model.

    Args:
        model: a language model (``predict`` of (1, T) ids -> (1, T, V) scores,
            ``reset_state``); its carried state is reset before and after.
        start_ids: one id or a sequence of ids to start from (all are fed in).
        length: how many new ids to generate.
        temperature: divides the scores before the softmax (> 0).
        top_k: sample only among the k most likely ids.
        skip_ids: ids never generated (e.g. the id of "<unk>").
        greedy: always take the most likely id instead of sampling.
        seed: seed of the sampler, for a repeatable text; None uses the
            course's generator (``course.seed``).

    Returns the list start_ids + generated ids (length len(start_ids) + length).
    """
    ids = _as_id_list(start_ids)
    _check_options(length, temperature, top_k)
    np = backend.host()
    sampler = np.random.default_rng(seed) if seed is not None else backend.rng(np)
    model.reset_state()
    try:
        scores = _predict(model, np.asarray([ids], dtype=np.int64))
        _check_skip_ids(skip_ids, scores.shape[0])
        for k in range(length):
            p = next_id_distribution(scores, 1.0 if greedy else temperature, top_k, skip_ids)
            nxt = int(p.argmax()) if greedy else int(sampler.choice(p.shape[0], p=p))
            ids.append(nxt)
            if k + 1 < length:
                scores = _predict(model, np.asarray([[nxt]], dtype=np.int64))
    finally:
        model.reset_state()
    return ids


@model_answer("beam_search", chapter="ch07")
def beam_search(
    next_log_probs: Callable[[Array], Array],
    start_ids: Array,
    length: int,
    beam_width: int,
    end_id: int | None = None,
) -> tuple[Array, Array]:
    """The beam_width most likely continuations of each start id that a beam search finds.

    next_log_probs(prefixes (N, B, t)) -> (N, B, V): the log-probability of
    every next id after each prefix (a prefix starts with its start id).
    start_ids (N,) -> (ids (N, K, length) without the start ids, their summed
    log-probabilities (N, K)), best first; K = beam_width, or fewer when fewer
    sequences exist. Equal scores: the candidate that comes first in
    (prefix, next id) order wins, as with argmax. After end_id, a sequence
    can only go on with end_id, which costs nothing.
    """
    xp = backend.array_module(start_ids)
    N = start_ids.shape[0]
    rows = xp.arange(N)[:, None]
    prefixes = start_ids.reshape(N, 1, 1)
    totals = xp.zeros((N, 1))
    for _ in range(length):
        log_probs = next_log_probs(prefixes)
        V = log_probs.shape[2]
        if end_id is not None and prefixes.shape[2] > 1:
            ended = prefixes[:, :, -1:] == end_id  # (N, B, 1)
            only_end = xp.where(xp.arange(V) == end_id, 0.0, -xp.inf)
            log_probs = xp.where(ended, only_end, log_probs)
        candidates = (totals[:, :, None] + log_probs).reshape(N, -1)  # (N, B * V): prefix-major
        # A stable sort keeps equal scores in (prefix, id) order.
        best = xp.argsort(-candidates, axis=1, kind="stable")[:, :beam_width]
        prefixes = xp.concatenate([prefixes[rows, best // V], (best % V)[:, :, None]], axis=2)
        totals = candidates[rows, best]
    return prefixes[:, :, 1:], totals


def exhaustive_search(
    next_log_probs: Callable[[Array], Array], start_ids: Array, length: int, end_id: int | None = None
) -> tuple[Array, Array]:
    """Every sequence of length ids after each start id, scored, best first: what beam search approximates.

    Arguments as for :func:`beam_search`. Returns ids (N, V**length, length)
    and summed log-probabilities (N, V**length); a sequence that goes on after
    end_id with anything but end_id scores -inf. V**length grows fast: for
    tiny vocabularies only.
    """
    xp = backend.array_module(start_ids)
    N = start_ids.shape[0]
    V = next_log_probs(start_ids.reshape(N, 1, 1)).shape[2]
    # All V**length sequences in counting order: digit i of s in base V, most significant first.
    place = V ** xp.arange(length - 1, -1, -1)
    every = (xp.arange(V**length)[:, None] // place) % V  # (S, length)
    S = every.shape[0]
    prefixes = xp.concatenate(
        [xp.broadcast_to(start_ids[:, None, None], (N, S, 1)), xp.broadcast_to(every, (N, S, length))], axis=2
    )
    totals = xp.zeros((N, S))
    for t in range(length):
        nxt = prefixes[:, :, t + 1]
        step = xp.take_along_axis(next_log_probs(prefixes[:, :, : t + 1]), nxt[:, :, None], axis=2)[:, :, 0]
        if end_id is not None and t > 0:
            ended = (prefixes[:, :, 1 : t + 1] == end_id).any(axis=2)
            step = xp.where(ended, xp.where(nxt == end_id, 0.0, -xp.inf), step)
        totals = totals + step
    order = xp.argsort(-totals, axis=1, kind="stable")
    return prefixes[xp.arange(N)[:, None], order, 1:], xp.take_along_axis(totals, order, axis=1)


class TableScorer:
    """A made-up model for beam search: the next id's log-probabilities read from a table.

    table (N, R, V) holds, for each of N questions, one row of V
    log-probabilities per possible prefix of generated ids (the start id does
    not count), shortest first and in counting order: the empty prefix; 0, 1,
    ..., V-1; 00, 01, ...; and so on, so R = 1 + V + V**2 + ... Called like a
    model: prefixes (N, B, t) -> (N, B, V). V is at least 2.
    """

    def __init__(self, table: Array) -> None:
        self.table = table

    def __call__(self, prefixes: Array) -> Array:
        xp = backend.array_module(prefixes)
        N, _, t = prefixes.shape
        V = self.table.shape[2]
        shorter = (V ** (t - 1) - 1) // (V - 1)  # rows of all prefixes shorter than these
        place = V ** xp.arange(t - 2, -1, -1)  # a prefix read as a number in base V
        row = shorter + (prefixes[:, :, 1:] * place).sum(axis=2)
        return self.table[xp.arange(N)[:, None], row]

    @staticmethod
    def rows(V: int, length: int) -> int:
        """R, the number of prefixes shorter than length over V ids."""
        return (V**length - 1) // (V - 1)


def _check_options(length: int, temperature: float, top_k: int | None) -> None:
    validate.check_count(length, "generate", "length", minimum=0)
    validate.check_positive(
        temperature,
        "generate",
        "temperature",
        "Below 1 sharpens, above 1 flattens; use greedy=True for the argmax.",
    )
    if top_k is not None:
        validate.check_count(top_k, "generate", "top_k")


def _check_skip_ids(skip_ids: Sequence[int] | None, vocab_size: int) -> None:
    if skip_ids is None:
        return
    if not isinstance(skip_ids, (list, tuple, set, frozenset, range)) or not all(
        isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in skip_ids
    ):
        raise validate.InputTypeError(
            f"skip_ids must be a list of word ids (integers), got {skip_ids!r}; "
            "pass a list (ids.tolist() for an array), "
            "e.g. skip_ids=[word_to_id['<unk>']]."
        )
    bad = [int(i) for i in skip_ids if not 0 <= int(i) < vocab_size]
    if bad:
        raise ValueError(f"skip_ids {bad} are outside the vocabulary 0..{vocab_size - 1}.")
    if len({int(i) for i in skip_ids}) >= vocab_size:
        raise ValueError("skip_ids covers the whole vocabulary: nothing is left to generate.")


def _check_next_id_distribution(
    scores: Array, temperature: float = 1.0, top_k: int | None = None, skip_ids: Sequence[int] | None = None
) -> None:
    who = "next_id_distribution"
    values = backend.to_host(scores)  # a list is accepted, as by the function itself
    validate.check_numeric(values, who, "scores", "(V,)")
    validate.check_ndim(values, 1, who, "scores", "(V,): one score per word of the vocabulary")
    _check_options(0, temperature, top_k)
    _check_skip_ids(skip_ids, values.shape[0])


# next_id_distribution is a chapter's answer, shown in the notebook as written above:
# its inputs are checked around it (see course.validate.guarded).
next_id_distribution = validate.guarded(next_id_distribution, _check_next_id_distribution)


def _check_beam_search(
    next_log_probs: Callable[[Array], Array],
    start_ids: Array,
    length: int,
    beam_width: int,
    end_id: int | None = None,
) -> None:
    who = "beam_search"
    if not callable(next_log_probs):
        raise validate.InputTypeError(
            f"{who}: next_log_probs must be a function of prefixes (N, B, t) -> (N, B, V), "
            f"got {type(next_log_probs).__name__}."
        )
    validate.check_array(start_ids, who, "start_ids", "(N,) of ids")
    validate.check_ndim(start_ids, 1, who, "start_ids", "(N,): one start id per sequence")
    validate.check_count(length, who, "length", minimum=0)
    validate.check_count(beam_width, who, "beam_width")
    if end_id is not None:
        validate.check_count(end_id, who, "end_id", minimum=0)


# beam_search runs the model it is given: its own calls are checked as usual.
beam_search = validate.guarded(beam_search, _check_beam_search, trust_inside=False)
