"""Text generation with a trained language model.

``generate(model, start_ids, length)`` feeds the start ids through the model
and then samples one id at a time, feeding each sample back in. It works for
any model with ``predict(xs (1, T)) -> scores (1, T, V)`` and
``reset_state()``: word-level or character-level, RNN, LSTM or GRU.
Turn the ids back into text with the vocabulary, e.g. ``corpus.decode(ids)``.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Sequence
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
