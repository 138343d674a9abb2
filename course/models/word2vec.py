"""word2vec: CBOW and skip-gram, first with a full softmax, then fast.

* ``SimpleCBOW`` and ``SimpleSkipGram`` take one-hot vectors through MatMul
  layers and a softmax over the whole vocabulary: the models of the small
  examples, written the way the chapter draws them.
* ``CBOW`` and ``SkipGram`` look words up with ``Embedding`` and replace the
  softmax by ``NegativeSamplingLoss``. They share one skeleton (the
  parameters and layers built by ``CBOW.__init__``) and differ only in how
  forward and backward wire them: CBOW predicts the target from the mean of
  its context words, skip-gram predicts each context word from the target.
* ``SparseCBOW`` and ``SparseSkipGram`` are the same models on row-sparse
  layers (``SparseEmbedding``, ``SparseNegativeSamplingLoss``): same values
  and gradients, plus ``grad_rows``, so that a training step costs O(rows
  used), not O(V). These are the ones to train on the Penn Treebank.

Every model has ``params`` = [W_in, W_out], ``grads`` (same order),
``forward(contexts, target) -> loss``, ``backward(dout=1)`` and ``word_vecs``
(the rows of W_in, one vector per word id).

Shared weights are declared, not discovered: the input matrix W_in serves
every context position, is listed once in ``params``, and the gradients of
all its uses are added into its one ``grads`` entry.

Shapes: N batch, V vocabulary, H hidden (vector) size, C = 2 * window_size
context words per target.
"""

from __future__ import annotations

from typing import Any

from course import backend, validate
from course.answers import model_answer
from course.layers.basic import MatMul, SoftmaxWithLoss
from course.layers.embedding import Embedding, SparseEmbedding
from course.layers.negative_sampling import NegativeSamplingLoss, SparseNegativeSamplingLoss

Array = Any


def as_one_hot(x: Array, vocab_size: int, dtype: Any, id_ndim: int, what: str) -> Array:
    """Float one-hot rows of ``dtype`` from word ids or from one-hot rows.

    x: ids with ``id_ndim`` axes, e.g. (N,) or (N, C), giving (N, V) or (N, C, V);
    one-hot rows (one more axis, of length V = vocab_size) are only cast.
    ``what`` names the argument in the error message.
    """
    validate.check_array(x, "as_one_hot", what, f"of word ids with {id_ndim} axes")
    # A new array: on the backend in use, unless the ids already live on a device.
    xp = backend.array_module(x) if backend.array_module(x) is not backend.host() else backend.xp()
    if x.ndim == id_ndim + 1 and x.shape[-1] == vocab_size:
        validate.check_one_hot(x, x.shape, f"{what} (one-hot rows)")
        return xp.asarray(x, dtype=dtype)
    if x.ndim != id_ndim or x.dtype.kind not in "iu":
        raise validate.InputTypeError(
            f"{what} must be integer word ids with {id_ndim} axes or one-hot rows of length "
            f"V={vocab_size}; got dtype {x.dtype} and shape {x.shape}."
        )
    validate.check_ids(x, vocab_size, what)
    out = xp.zeros((*x.shape, vocab_size), dtype=dtype)
    out.reshape(-1, vocab_size)[xp.arange(x.size), x.reshape(-1)] = 1
    return out


def check_batch(contexts: Array, target: Array, n_context: int, model: str) -> None:
    """A ValueError that says how to build the batch if contexts/target have the wrong shapes."""
    if not (backend.is_array(contexts) and backend.is_array(target)):
        validate.check_array(contexts, f"{model}.forward", "contexts", f"(N, {n_context}) of word ids")
        validate.check_array(target, f"{model}.forward", "target", "(N,) of word ids")
    if target.ndim not in (1, 2):
        raise validate.ShapeError(
            f"{model}.forward expects target (N,) word ids (or (N, V) one-hot rows for the Simple models); "
            f"got target {target.shape}. Build it with create_contexts_target(corpus, window_size)."
        )
    if contexts.ndim < 2 or contexts.shape[1] != n_context or contexts.shape[0] != target.shape[0]:
        raise validate.ShapeError(
            f"{model}.forward expects contexts with {n_context} context words per example "
            f"(N, {n_context}) or (N, {n_context}, V), and N targets; got contexts {contexts.shape}, "
            f"target {target.shape}. Build them with create_contexts_target(corpus, window_size)."
        )


@model_answer("simple_cbow", chapter="ch03", methods=("forward", "backward"), derivation=True)
class SimpleCBOW:
    """Continuous bag of words with a softmax over the vocabulary.

    The C context words go through C MatMul layers that share W_in (V, H);
    their mean h (N, H) is scored against every word by W_out (H, V).
    forward(contexts, target): contexts (N, C, V) one-hot or (N, C) ids;
    target (N, V) one-hot or (N,) ids. Returns the mean cross-entropy.
    """

    param_names = ("W_in", "W_out")

    def __init__(
        self, vocab_size: int, hidden_size: int, window_size: int = 1, dtype: str = "float32"
    ) -> None:
        V, H = int(vocab_size), int(hidden_size)
        W_in = backend.randn(V, H, scale=0.01, dtype=dtype)
        W_out = backend.randn(H, V, scale=0.01, dtype=dtype)
        self.vocab_size = V
        # One matrix, one layer per context position: the weight is shared.
        self.in_layers = [MatMul(W_in) for _ in range(2 * int(window_size))]
        self.out_layer = MatMul(W_out)
        self.loss_layer = SoftmaxWithLoss()
        self.params = [W_in, W_out]
        self.grads = [backend.array_module(W_in).zeros_like(W_in), self.out_layer.grads[0]]

    @property
    def word_vecs(self) -> Array:
        """(V, H): the vector of word id i is row i of W_in."""
        return self.params[0]

    def forward(self, contexts: Array, target: Array) -> Array:
        check_batch(contexts, target, len(self.in_layers), type(self).__name__)
        x = as_one_hot(contexts, self.vocab_size, self.params[0].dtype, 2, "contexts")
        h = sum(layer.forward(x[:, i]) for i, layer in enumerate(self.in_layers)) / len(self.in_layers)
        return self.loss_layer.forward(self.out_layer.forward(h), target)

    def backward(self, dout: float = 1) -> None:
        dh = self.out_layer.backward(self.loss_layer.backward(dout)) / len(self.in_layers)
        for layer in self.in_layers:
            layer.backward(dh)
        # The shared W_in's gradient is the sum over the positions that used it.
        self.grads[0][...] = sum(layer.grads[0] for layer in self.in_layers)


@model_answer("simple_skip_gram", chapter="ch03", methods=("forward", "backward"), derivation=True)
class SimpleSkipGram:
    """Skip-gram with a softmax over the vocabulary: predict every context word from the target.

    h = target one-hot @ W_in (V, H); scores = h @ W_out (H, V), one softmax
    loss per context position. forward(contexts, target): contexts (N, C, V)
    one-hot or (N, C) ids; target (N, V) one-hot or (N,) ids. Returns the sum
    over the C positions of the mean cross-entropy.
    """

    param_names = ("W_in", "W_out")

    def __init__(
        self, vocab_size: int, hidden_size: int, window_size: int = 1, dtype: str = "float32"
    ) -> None:
        V, H = int(vocab_size), int(hidden_size)
        W_in = backend.randn(V, H, scale=0.01, dtype=dtype)
        W_out = backend.randn(H, V, scale=0.01, dtype=dtype)
        self.vocab_size = V
        self.in_layer = MatMul(W_in)
        self.out_layer = MatMul(W_out)
        self.loss_layers = [SoftmaxWithLoss() for _ in range(2 * int(window_size))]
        self.params = [W_in, W_out]
        self.grads = [self.in_layer.grads[0], self.out_layer.grads[0]]

    @property
    def word_vecs(self) -> Array:
        """(V, H): the vector of word id i is row i of W_in."""
        return self.params[0]

    def forward(self, contexts: Array, target: Array) -> Array:
        check_batch(contexts, target, len(self.loss_layers), type(self).__name__)
        x = as_one_hot(target, self.vocab_size, self.params[0].dtype, 1, "target")
        score = self.out_layer.forward(self.in_layer.forward(x))
        return sum(layer.forward(score, contexts[:, i]) for i, layer in enumerate(self.loss_layers))

    def backward(self, dout: float = 1) -> None:
        dscore = sum(layer.backward(dout) for layer in self.loss_layers)
        self.in_layer.backward(self.out_layer.backward(dscore))


@model_answer(
    "cbow",
    chapter="ch04",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.models.word2vec:SparseCBOW",),
)
class CBOW:
    """Continuous bag of words with embeddings and negative sampling.

    h (N, H) is the mean of the context words' rows of W_in (V, H); the loss
    asks h · W_out[target] to be high and h · W_out[negative] low for
    ``sample_size`` negatives drawn from the corpus's unigram counts ** power.
    forward(contexts (N, C) ids, target (N,) ids) -> scalar loss, with
    C = 2 * window_size. backward(dout=1) writes the gradients of W_in and
    W_out into ``grads``.

    One Embedding looks up all C context positions at once, so W_in is listed
    once and its gradient already sums over the positions.
    """

    param_names = ("W_in", "W_out")

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        window_size: int,
        corpus: Array,
        sample_size: int = 5,
        power: float = 0.75,
        dtype: str = "float32",
    ) -> None:
        V, H = int(vocab_size), int(hidden_size)
        W_in = backend.randn(V, H, scale=0.01, dtype=dtype)
        W_out = backend.randn(V, H, scale=0.01, dtype=dtype)
        self.window_size = int(window_size)
        self.in_layer = Embedding(W_in)
        self.ns_loss = NegativeSamplingLoss(W_out, corpus, power=power, sample_size=sample_size)
        self.params = [W_in, W_out]
        self.grads = [self.in_layer.grads[0], self.ns_loss.grads[0]]

    @property
    def word_vecs(self) -> Array:
        """(V, H): the vector of word id i is row i of W_in."""
        return self.params[0]

    def forward(self, contexts: Array, target: Array) -> Array:
        check_batch(contexts, target, 2 * self.window_size, type(self).__name__)
        h = self.in_layer.forward(contexts).mean(axis=1)  # (N, C, H) -> (N, H)
        return self.ns_loss.forward(h, target)

    def backward(self, dout: float = 1) -> None:
        C = 2 * self.window_size
        dh = self.ns_loss.backward(dout)  # (N, H)
        xp = backend.array_module(dh)
        self.in_layer.backward(xp.repeat(dh[:, None, :] / C, C, axis=1))


@model_answer(
    "skip_gram",
    chapter="ch04",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.models.word2vec:SparseSkipGram",),
)
class SkipGram(CBOW):
    """Skip-gram with embeddings and negative sampling: predict each context word from the target.

    The parameters and layers are CBOW's (its ``__init__``); only the wiring
    differs. h = W_in[target] (N, H) is scored against each of the
    C = 2 * window_size context words, with ``sample_size`` negatives for
    each. forward(contexts (N, C) ids, target (N,) ids) -> the sum over the C
    positions of the negative-sampling loss (each a mean over the N examples).
    One call of ``self.ns_loss`` scores all N * C (hidden vector, context
    word) pairs, row n * C + c pairing example n with its c-th context word,
    so W_out is listed once. backward(dout=1) writes both gradients.
    """

    def forward(self, contexts: Array, target: Array) -> Array:
        check_batch(contexts, target, 2 * self.window_size, type(self).__name__)
        C = contexts.shape[1]
        h = self.in_layer.forward(target)  # (N, H)
        xp = backend.array_module(h)
        # The loss layer averages over its N * C rows; the C positions add up, hence the factor C.
        return C * self.ns_loss.forward(xp.repeat(h, C, axis=0), contexts.reshape(-1))

    def backward(self, dout: float = 1) -> None:
        C = 2 * self.window_size
        dh = self.ns_loss.backward(C * dout)  # (N * C, H), row n * C + c
        self.in_layer.backward(dh.reshape(-1, C, dh.shape[1]).sum(axis=1))


class RowSparse:
    """The fast word2vec models' part: row-sparse layers on the same weights, and ``grad_rows``.

    Mixed in before CBOW or SkipGram, it lets their ``__init__`` build the
    weights (the same random draws) and then reads them through
    :class:`SparseEmbedding` and :class:`SparseNegativeSamplingLoss`, which
    compute the same values and gradients but clear and record only the rows
    a batch uses. ``grad_rows`` gives, per parameter, the row ids where the
    last backward left non-zero gradient; the Trainer hands them to the
    optimizer so a step costs O(rows used), not O(V).
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        window_size: int,
        corpus: Array,
        sample_size: int = 5,
        power: float = 0.75,
        dtype: str = "float32",
    ) -> None:
        super().__init__(vocab_size, hidden_size, window_size, corpus, sample_size, power, dtype)
        W_in, W_out = self.params
        self.in_layer = SparseEmbedding(W_in)
        self.ns_loss = SparseNegativeSamplingLoss(W_out, corpus, power=power, sample_size=sample_size)
        self.grads = [self.in_layer.grads[0], self.ns_loss.grads[0]]

    @property
    def grad_rows(self) -> list[Array]:
        """Per parameter, the row ids where the last backward left non-zero gradient."""
        return [self.in_layer.grad_rows[0], self.ns_loss.grad_rows[0]]


class SparseCBOW(RowSparse, CBOW):
    """:class:`CBOW` on row-sparse layers (see :class:`RowSparse`): the one to train on large corpora."""


class SparseSkipGram(RowSparse, SkipGram):
    """:class:`SkipGram` on row-sparse layers (see :class:`RowSparse`): the one to train on large corpora."""


# --------------------------------------------------------------------------
# Input checks around the models above (see course.validate.guard): the
# chapters' answers among them are shown in the notebooks exactly as written.
# --------------------------------------------------------------------------


def _check_sizes(
    self: Any, vocab_size: int, hidden_size: int, window_size: int = 1, *args: Any, **kw: Any
) -> None:
    who = type(self).__name__
    validate.check_count(vocab_size, who, "vocab_size")
    validate.check_count(hidden_size, who, "hidden_size")
    validate.check_count(window_size, who, "window_size")


def _check_fast_batch(self: Any, contexts: Array, target: Array) -> None:
    """CBOW and SkipGram: contexts (N, C) and target (N,) integer ids within the vocabulary."""
    V = self.params[0].shape[0]
    fits = (
        backend.is_array(contexts)
        and backend.is_array(target)
        and contexts.ndim == 2
        and target.ndim == 1
        and contexts.dtype.kind in "iu"
        and target.dtype.kind in "iu"
    )
    if fits and not validate.outside(contexts, V) and not validate.outside(target, V):
        return  # the usual case, decided without building a message
    who = f"{type(self).__name__}.forward"
    validate.check_array(contexts, who, "contexts", "(N, C) of word ids")
    validate.check_array(target, who, "target", "(N,) of word ids")
    validate.check_ndim(contexts, 2, who, "contexts", "(N, C) word ids", "Pass ids, not one-hot rows.")
    validate.check_ndim(target, 1, who, "target", "(N,) word ids", "Pass ids, not one-hot rows.")
    validate.check_ids(contexts, V, who, "contexts")
    validate.check_ids(target, V, who, "target")


def _check_fast_backward(self: Any, dout: float = 1) -> None:
    validate.check_backward_ready(self.ns_loss.cache, type(self).__name__)
    validate.check_scalar_dout(dout, type(self).__name__)


def _check_simple_backward(self: Any, dout: float = 1) -> None:
    loss = self.loss_layer if hasattr(self, "loss_layer") else self.loss_layers[0]
    validate.check_backward_ready(loss.y, type(self).__name__)
    validate.check_scalar_dout(dout, type(self).__name__)


validate.guard(SimpleCBOW, __init__=_check_sizes, backward=_check_simple_backward)
validate.guard(SimpleSkipGram, __init__=_check_sizes, backward=_check_simple_backward)
validate.guard(CBOW, __init__=_check_sizes, forward=_check_fast_batch, backward=_check_fast_backward)
validate.guard(SkipGram, forward=_check_fast_batch, backward=_check_fast_backward)
