"""Training word2vec the way word2vec itself does: subsampling and a decaying SGD step.

``train_word2vec(model, corpus, epochs)`` trains a :class:`SparseCBOW` or
:class:`SparseSkipGram` (or the plain models, slowly) with a
:class:`Word2VecRecipe`. Every epoch it

1. drops frequent words at random (``subsample``: word2vec's rule, with
   threshold ``sample``; a word of frequency f survives with probability
   min(1, (sqrt(f / sample) + 1) * sample / f)), so "the" and ``<eos>`` stop
   dominating the updates and the windows reach further;
2. builds the (contexts, target) pairs of what is left, gives each example
   a window b drawn from 1..window_size (``shrink_window``) and groups the
   shuffled examples into batches that share b (``epoch_batches``);
3. steps through the batches with SGD on the rows each batch uses, the
   per-example learning rate falling linearly from ``lr`` to
   ``lr * final_lr`` over the whole run.

``RECIPE`` is the course's default, chosen by ``benchmarks/word_vectors.py``
(the measured table is in chapter 4 and benchmarks/README.md).

Shapes: N corpus length, V vocabulary, H vector size, C = 2 * window.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from course import backend, validate
from course.models.word2vec import SkipGram
from course.optim import SGD, LazyAdam, supports_rows
from course.text import check_corpus, create_contexts_target

Array = Any


@dataclass(frozen=True)
class Word2VecRecipe:
    """How to train a word2vec model; ``RECIPE`` holds the course's default.

    optimizer: ``"sgd"`` (plain steps on the rows used) or ``"lazyadam"``.
    lr: the first learning rate; None takes word2vec's defaults (SGD: 0.05
    for CBOW, 0.025 for skip-gram; LazyAdam: 0.003). For SGD it is per
    example, as in word2vec: the models return the batch's *mean* loss, so
    the step uses ``lr * batch_size`` and each example moves the weights as
    much as in word2vec, whatever the batch size. For LazyAdam it is Adam's
    own rate.
    final_lr: the last step's rate as a fraction of ``lr`` (linear decay;
    1.0 keeps it constant).
    batch_size: examples per step.
    sample: subsampling threshold (0 keeps every word; word2vec uses 1e-3).
    context_step: CBOW with SGD only. CBOW's exact gradient shares each
    step of the averaged context between its C words (1/C each); word2vec
    gives every context word the whole step. True does as word2vec: the
    input vectors' rate is C times the output vectors'.
    shrink_window: word2vec's reduced window. Each example draws a window b
    from 1 to the model's ``window_size`` and uses only its 2b nearest context
    words, so a word at distance d counts with weight (window - d + 1) / window:
    near words count more, and the mean window is about half as wide (faster).
    """

    optimizer: str = "sgd"
    lr: float | None = None
    final_lr: float = 1e-4
    batch_size: int = 500
    sample: float = 1e-3
    context_step: bool = True
    shrink_window: bool = True

    def with_(self, **changes: Any) -> Word2VecRecipe:
        """A copy with some fields changed: ``RECIPE.with_(batch_size=2000)``."""
        return replace(self, **changes)


RECIPE = Word2VecRecipe()


def keep_probability(counts: Array, sample: float) -> Array:
    """word2vec's chance of keeping each word, from the (V,) word counts: (V,) floats in [0, 1]."""
    xp = backend.array_module(counts)
    freq = counts / max(float(counts.sum()), 1.0)
    ratio = xp.where(freq > 0, freq / sample, 1.0)
    return xp.minimum(1.0, (xp.sqrt(ratio) + 1.0) / ratio)


def subsample(corpus: Array, sample: float = 1e-3, seed: int | None = None) -> Array:
    """The corpus (N,) with frequent words dropped at random (word2vec's rule), order kept.

    sample: the threshold t; a word of frequency f stays with probability
    min(1, (sqrt(f / t) + 1) * t / f), so words rarer than about t always stay.
    ``sample=0`` returns the corpus unchanged. Draws with the course's random
    generator (``course.seed``), or a fresh one seeded with ``seed``.
    """
    if sample <= 0:
        return corpus
    xp = backend.array_module(corpus)
    keep = keep_probability(xp.bincount(corpus).astype(xp.float64), sample)
    gen = backend.rng(xp) if seed is None else xp.random.default_rng(seed)
    return corpus[gen.random(corpus.shape[0]) < keep[corpus]]


def first_lr(recipe: Word2VecRecipe, model: Any) -> float:
    """The recipe's first learning rate for ``model``: its own, or word2vec's default."""
    if recipe.lr is not None:
        return float(recipe.lr)
    if recipe.optimizer == "lazyadam":
        return 0.003
    return 0.05 if _is_cbow(model) else 0.025


def make_optimizer(recipe: Word2VecRecipe) -> Any:
    """The recipe's optimizer (its ``lr`` is then set at every step)."""
    if recipe.optimizer == "sgd":
        return SGD(lr=recipe.lr or 0.025)
    if recipe.optimizer == "lazyadam":
        return LazyAdam(lr=recipe.lr or 0.003)
    raise ValueError(f"Unknown optimizer {recipe.optimizer!r}: choose 'sgd' or 'lazyadam'.")


def train_word2vec(
    model: Any,
    corpus: Array,
    epochs: int = 10,
    recipe: Word2VecRecipe = RECIPE,
    on_epoch: Callable[[int, float, float], None] | None = None,
) -> list[float]:
    """Train ``model`` on ``corpus`` (N,) word ids for ``epochs`` epochs with ``recipe``.

    model: CBOW, SkipGram or their Sparse* twins (``window_size``, ``params``,
    ``grads``, forward(contexts, target), backward()); the Sparse* ones with
    ``grad_rows`` make a step cost O(rows used). on_epoch(epoch, seconds,
    mean loss) runs after each epoch (e.g. to evaluate the vectors so far).
    Returns the mean loss of each epoch.

    With ``recipe.shrink_window`` a batch whose examples drew window b uses
    only their 2b nearest context words: the model's ``window_size`` is b for
    that batch (and is restored at the end).
    """
    epochs = validate.check_count(epochs, "train_word2vec", "epochs")
    corpus = check_corpus(corpus, "train_word2vec")
    like = model.params[0]
    xp = backend.array_module(like)
    corpus = backend.to_device(corpus, like=like)
    recipe = recipe.with_(lr=first_lr(recipe, model))
    optimizer = make_optimizer(recipe)
    sparse = getattr(model, "grad_rows", None) is not None and supports_rows(optimizer)
    window = int(model.window_size)
    # The rate falls with the share of the run's (expected) examples done so far.
    total = max(1.0, epochs * corpus.shape[0] * subsample_share(corpus, recipe.sample))
    done, losses = 0, []
    try:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            contexts, target = create_contexts_target(subsample(corpus, recipe.sample), window)
            validate.precheck(model.forward, contexts, target)  # the model's own check, once
            loss_sum = xp.zeros((), dtype=xp.float64)
            batches = epoch_batches(target.shape[0], window, recipe, xp)
            with validate.trusted():  # every batch is rows of the arrays checked above
                for b, rows in batches:
                    model.window_size = b
                    loss_sum += model.forward(contexts[rows, window - b : window + b], target[rows])
                    model.backward()
                    rate = recipe.lr * (1.0 - (1.0 - recipe.final_lr) * min(done / total, 1.0))
                    _update(optimizer, model, recipe, rate, rows.shape[0], b, sparse)
                    done += rows.shape[0]
            losses.append(float(loss_sum) / max(len(batches), 1))
            if on_epoch is not None:
                on_epoch(epoch, time.perf_counter() - start, losses[-1])
    finally:
        model.window_size = window
    return losses


def epoch_batches(n: int, window: int, recipe: Word2VecRecipe, xp: Any) -> list[tuple[int, Array]]:
    """One epoch's batches in random order: (window b, example ids (<= batch_size,)).

    Without ``shrink_window`` every batch has b = window. With it, each
    example draws b uniformly from 1..window, as word2vec does, so nearer
    words count more; the examples are grouped by b so a batch shares one b.
    """
    gen = backend.rng(xp)
    # Drawn on the host (CuPy's generator has no permutation), the same stream as before on NumPy.
    order = xp.asarray(backend.rng(backend.host()).permutation(n))
    size = recipe.batch_size
    if not recipe.shrink_window:
        groups = [(window, order)]
    else:
        drawn = gen.integers(1, window + 1, n)[order]
        groups = [(b, order[drawn == b]) for b in range(1, window + 1)]
    batches = [(b, ids[i : i + size]) for b, ids in groups for i in range(0, ids.shape[0], size)]
    host = backend.host()
    return [batches[i] for i in host.random.default_rng(int(gen.integers(1 << 30))).permutation(len(batches))]


def subsample_share(corpus: Array, sample: float) -> float:
    """The expected share of the corpus that :func:`subsample` keeps."""
    if sample <= 0:
        return 1.0
    xp = backend.array_module(corpus)
    counts = xp.bincount(corpus).astype(xp.float64)
    return float((counts * keep_probability(counts, sample)).sum() / counts.sum())


def _is_cbow(model: Any) -> bool:
    return not isinstance(model, SkipGram)


def _update(
    optimizer: Any, model: Any, recipe: Word2VecRecipe, rate: float, n: int, window: int, sparse: bool
) -> None:
    """One step on the rows used (when ``sparse``) at the per-example ``rate``.

    SGD: the loss is the mean over the n examples, so the step is rate * n and
    each example moves the weights as much as in word2vec; CBOW's input rows
    get 2 * window times more with ``context_step``. LazyAdam: the rate as is.
    """
    rows = model.grad_rows if sparse else None
    if recipe.optimizer != "sgd":
        optimizer.lr = rate
        optimizer.update(model.params, model.grads, rows=rows)
        return
    scales = [2 * window if recipe.context_step and _is_cbow(model) else 1, 1]
    # SGD keeps no state, so one parameter at a time is the same step with its own rate.
    for i, (p, g, scale) in enumerate(zip(model.params, model.grads, scales, strict=True)):
        optimizer.lr = rate * n * scale
        optimizer.update([p], [g], rows=None if rows is None else [rows[i]])
