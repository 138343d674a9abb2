"""Negative sampling: word2vec's output layer as a handful of binary decisions.

Instead of a softmax over all V words, the model scores the true word and
``sample_size`` "negative" words drawn at random, and learns to say yes to
the first and no to the others. ``UnigramSampler`` draws the negatives;
``NegativeSamplingLoss`` scores them with one ``EmbeddingDot`` and returns
the summed binary cross-entropy. ``SparseNegativeSamplingLoss`` is the same
loss on the row-sparse ``SparseEmbeddingDot`` (it has ``grad_rows``), for
training.
"""

from __future__ import annotations

from typing import Any

from course import backend, validate
from course.answers import model_answer
from course.functions import sigmoid
from course.layers.embedding import EmbeddingDot, SparseEmbeddingDot

Array = Any


@model_answer("unigram_sampler", chapter="ch04", methods=("__init__", "get_negative_sample"))
class UnigramSampler:
    """Draws negative words with probability proportional to count(word) ** power.

    corpus: (N,) word ids (counts come from it; the vocabulary size is
    max id + 1). power: 0.75 in word2vec, which gives rare words a little more
    weight than their counts. sample_size: negatives per target word.

    Attributes: ``vocab_size`` V, ``sample_size``, ``power``, ``word_p`` (V,)
    the probability of each word id (a host array summing to 1) and ``cdf``
    (V,) its cumulative sum, ending at exactly 1.0.

    ``get_negative_sample(target)``: target (N,) ids -> (N, sample_size) ids.
    Draws are independent and with replacement (as in word2vec's C code), but
    never the target word itself: a draw equal to its row's target is drawn
    again, so row n follows count ** power restricted to the other words.
    The whole batch is drawn at once with the course's random generator
    (``backend.rng``), the same way on NumPy and CuPy; ``course.seed(n)``
    makes it repeat.
    """

    max_redraws = 1000  # give up (a corpus of almost one word) after this many rounds

    def __init__(self, corpus: Array, power: float, sample_size: int) -> None:
        np = backend.host()
        ids = np.asarray(backend.to_host(corpus)).reshape(-1)
        if ids.size == 0 or ids.dtype.kind not in "iu" or int(ids.min()) < 0:
            raise ValueError("UnigramSampler needs a non-empty corpus of non-negative integer word ids.")
        counts = np.bincount(ids)
        if int((counts > 0).sum()) < 2:
            raise ValueError("UnigramSampler needs at least two different words to draw negatives from.")
        if int(sample_size) < 1:
            raise ValueError(f"sample_size must be at least 1, got {sample_size}.")
        weights = counts.astype(np.float64) ** float(power)
        self.vocab_size = int(counts.size)
        self.sample_size = int(sample_size)
        self.power = float(power)
        self.word_p = weights / weights.sum()  # (V,) on the host
        cdf = np.cumsum(self.word_p)
        self.cdf = cdf / cdf[-1]  # ends at exactly 1.0, so every draw in [0, 1) lands

    def get_negative_sample(self, target: Array) -> Array:
        """Negative word ids (N, sample_size) for target ids (N,), never equal to the row's target."""
        xp = backend.array_module(target)
        cdf = xp.asarray(self.cdf)  # no copy on the host; a small one to a GPU
        gen = backend.rng(xp)
        # A uniform number u in [0, 1) falls in word w's slice of the cdf with probability word_p[w].
        negative = xp.searchsorted(cdf, gen.random((*target.shape, self.sample_size)), side="right")
        clash = negative == target[..., None]
        for _ in range(self.max_redraws):
            count = int(clash.sum())
            if count == 0:
                return negative
            negative[clash] = xp.searchsorted(cdf, gen.random(count), side="right")
            clash = negative == target[..., None]
        raise RuntimeError(
            "UnigramSampler: could not draw negatives different from the target after "
            f"{self.max_redraws} tries; the corpus is dominated by one word."
        )


def softplus(x: Array) -> Array:
    """log(1 + exp(x)) without overflow."""
    xp = backend.array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


@model_answer(
    "negative_sampling_loss",
    chapter="ch04",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.negative_sampling:SparseNegativeSamplingLoss",),
)
class NegativeSamplingLoss:
    """Loss of word2vec with negative sampling.

    W: (V, H) output word vectors; corpus (N,) ids for the sampler's counts;
    ``power`` and ``sample_size`` as for :class:`UnigramSampler`.

    forward(h, target): h (N, H) hidden vectors, target (N,) true word ids.
    Scores s = h · W[w] for the true word (label 1) and ``sample_size``
    negatives (label 0), and returns the scalar loss
    (1/N) * sum_n [ -log sigmoid(s_true) - sum_k log sigmoid(-s_neg_k) ],
    one sigmoid cross-entropy per scored word, summed over the words and
    averaged over the examples. backward(dout=1) -> dh (N, H); the gradient
    of W lands only on the rows scored.
    """

    param_names = ("W",)

    def __init__(self, W: Array, corpus: Array, power: float = 0.75, sample_size: int = 5) -> None:
        self.sample_size = int(sample_size)
        self.sampler = UnigramSampler(corpus, power, sample_size)
        if self.sampler.vocab_size > W.shape[0]:
            raise ValueError(
                f"The corpus has word ids up to {self.sampler.vocab_size - 1} but W has only "
                f"{W.shape[0]} rows; W must be (V, H) with V = len(word_to_id)."
            )
        self.embed_dot = EmbeddingDot(W)
        self.params = self.embed_dot.params
        self.grads = self.embed_dot.grads
        self.cache = None

    def forward(self, h: Array, target: Array) -> Array:
        xp = backend.array_module(h)
        negative = self.sampler.get_negative_sample(target)
        idx = xp.concatenate([target[:, None], negative], axis=1)  # (N, 1 + K): the true word first
        score = self.embed_dot.forward(h, idx)
        label = xp.zeros_like(score)
        label[:, 0] = 1
        self.cache = (sigmoid(score), label)
        # -log sigmoid(s) = softplus(-s) when the label is 1, -log(1 - sigmoid(s)) = softplus(s) when 0.
        return (softplus(score) - label * score).sum() / h.shape[0]

    def backward(self, dout: Array = 1) -> Array:
        y, label = self.cache
        dscore = (y - label) * (dout / y.shape[0])
        return self.embed_dot.backward(dscore)


class SparseNegativeSamplingLoss(NegativeSamplingLoss):
    """NegativeSamplingLoss scoring through a :class:`SparseEmbeddingDot`, so it has ``grad_rows``.

    Arguments, shapes, values and gradients as :class:`NegativeSamplingLoss`;
    after backward, ``grad_rows[0]`` holds the rows of W scored (targets and
    negatives) and ``grads[0]`` is zero elsewhere.
    """

    def __init__(self, W: Array, corpus: Array, power: float = 0.75, sample_size: int = 5) -> None:
        super().__init__(W, corpus, power=power, sample_size=sample_size)
        # The same scores, read through the row-sparse lookup.
        self.embed_dot = SparseEmbeddingDot(W)
        self.grads = self.embed_dot.grads
        self.grad_rows = self.embed_dot.grad_rows


# --------------------------------------------------------------------------
# Input checks, installed around the chapters' answers above (see course.validate.guard).
# --------------------------------------------------------------------------


def _check_sampler_target(self: Any, target: Array) -> None:
    if not backend.is_array(target) or target.dtype.kind not in "iu":
        raise validate.InputTypeError(
            "UnigramSampler.get_negative_sample: target must be an integer array (N,) of word ids, got "
            f"{getattr(target, 'dtype', type(target).__name__)}."
        )


def _check_ns_loss_init(
    self: Any, W: Array, corpus: Array, power: float = 0.75, sample_size: int = 5
) -> None:
    who = "NegativeSamplingLoss"
    validate.check_weight(W, who, "W", 2, "(V, H): one output vector per word")
    validate.check_count(sample_size, who, "sample_size")
    validate.check_positive(power, who, "power", allow_zero=True)


def _check_ns_loss_forward(self: Any, h: Array, target: Array) -> None:
    who = "NegativeSamplingLoss.forward"
    V, H = self.params[0].shape
    validate.check_numeric(h, who, "h", f"(N, H) with H = {H}")
    validate.check_array(target, who, "target", "(N,) of word ids")
    if target.ndim != 1 or h.ndim != 2 or h.shape[1] != H or target.shape[0] != h.shape[0]:
        raise validate.ShapeError(
            f"{who} expects h (N, H) with H = W.shape[1] = {H} and target (N,); got h {tuple(h.shape)}, "
            f"target {tuple(target.shape)}. One target word id per hidden vector."
        )
    validate.check_ids(target, V, who, "target")


def _check_ns_loss_backward(self: Any, dout: Array = 1) -> None:
    validate.check_backward_ready(self.cache, "NegativeSamplingLoss")
    validate.check_scalar_dout(dout, "NegativeSamplingLoss")


validate.guard(UnigramSampler, get_negative_sample=_check_sampler_target)
validate.guard(
    NegativeSamplingLoss,
    __init__=_check_ns_loss_init,
    forward=_check_ns_loss_forward,
    backward=_check_ns_loss_backward,
)
