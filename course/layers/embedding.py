"""Embedding layers: look up rows of a weight matrix by word id.

``Embedding(W)`` replaces "one-hot vector times W" by picking rows of W,
and ``EmbeddingDot(W)`` scores hidden vectors against chosen rows of W
(the output side of word2vec with negative sampling). These two are the
chapter's answers: the plain layers a student writes.

Row-sparse versions for training (``SparseEmbedding``, ``SparseEmbeddingDot``):
a batch touches only a few hundred of the V rows of W, so they keep
``grad_rows``, a list next to ``grads`` holding the ids of the rows of
``grads[0]`` that the last backward wrote. ``grads[0]`` is exactly zero
everywhere else: it is still the full, dense gradient that the layer contract
promises (gradient checks and any optimizer work as usual), but backward
clears only the rows it wrote last time instead of all V rows, and optimizers
given ``grad_rows`` update only those rows (see ``course.optim``). Their
values and gradients are those of the plain layers (tests/test_embedding.py).
"""

from __future__ import annotations

from typing import Any

from scipy.sparse import csc_array

from course import backend, validate
from course.answers import model_answer

Array = Any


def check_ids(idx: Array, where: str) -> Array:
    """idx itself if it is an integer array of word ids; else a TypeError naming ``where``."""
    if not backend.is_array(idx) or idx.dtype.kind not in "iu":
        kind = getattr(idx, "dtype", type(idx).__name__)
        raise validate.InputTypeError(
            f"{where} expects an integer array of word ids, got {kind}. Pass ids such as "
            "contexts or target from create_contexts_target (not one-hot rows or floats)."
        )
    return idx


def scatter_rows(target: Array, idx: Array, values: Array) -> None:
    """Add ``values`` into the rows ``idx`` of ``target`` in place; repeated ids accumulate.

    target: (V, D); idx: int array of any shape S; values: S + (D,).
    """
    backend.scatter_add(target, idx.reshape(-1), values.reshape(-1, target.shape[-1]))


@model_answer(
    "embedding",
    chapter="ch04",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.time:TimeEmbedding", "course.layers.embedding:SparseEmbedding"),
)
class Embedding:
    """Rows of W picked by word id: out = W[idx].

    W: (V, D). forward(idx): idx int array (N,) or (N, C) -> out (N, D) or
    (N, C, D). backward(dout) with dout of the shape of out: writes the
    gradient of W (V, D) into grads[0] and returns None (ids have no
    gradient). A word used twice in a batch gets the gradient of both uses.
    """

    param_names = ("W",)

    def __init__(self, W: Array) -> None:
        xp = backend.array_module(W)
        self.params = [W]
        self.grads = [xp.zeros_like(W)]
        self.idx = None

    def forward(self, idx: Array) -> Array:
        (W,) = self.params
        self.idx = check_ids(idx, "Embedding.forward")
        return W[idx]

    def backward(self, dout: Array) -> None:
        (dW,) = self.grads
        dW[...] = 0
        # Repeated ids must add up: a plain dW[idx] = dout would keep only one of them.
        scatter_rows(dW, self.idx, dout)
        return None


@model_answer(
    "embedding_dot",
    chapter="ch04",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.embedding:SparseEmbeddingDot",),
)
class EmbeddingDot:
    """Dot products of hidden vectors with chosen rows of W: out[n, k] = h[n] · W[idx[n, k]].

    W: (V, H). forward(h, idx): h (N, H); idx (N,) -> out (N,), or idx (N, K)
    -> out (N, K) (e.g. the true word and K - 1 negative words per example).
    backward(dout) with dout of the shape of out -> dh (N, H); the gradient of
    W goes to the rows used, through ``self.embed``.
    """

    param_names = ("W",)

    def __init__(self, W: Array) -> None:
        self.embed = Embedding(W)
        self.params = self.embed.params
        self.grads = self.embed.grads
        self.cache = None

    def forward(self, h: Array, idx: Array) -> Array:
        rows = self.embed.forward(idx)  # (N, H) or (N, K, H)
        self.cache = (h, rows)
        if idx.ndim == 1:
            return (rows * h).sum(axis=1)
        return (rows @ h[:, :, None])[:, :, 0]  # (N, K, H) @ (N, H, 1): one matrix product per example

    def backward(self, dout: Array) -> Array:
        h, rows = self.cache
        if dout.ndim == 1:
            self.embed.backward(dout[:, None] * h)
            return dout[:, None] * rows
        self.embed.backward(dout[:, :, None] * h[:, None, :])
        return (dout[:, None, :] @ rows)[:, 0, :]


class SparseEmbedding(Embedding):
    """Embedding with row-sparse gradients: the same values and gradients, less work per step.

    W: (V, D); forward as :class:`Embedding`. backward(dout) clears only the
    rows its previous call wrote (not all V) before adding the new gradient,
    and leaves in ``grad_rows[0]`` the sorted distinct ids it wrote, so
    ``grads[0]`` is zero outside those rows.
    """

    def __init__(self, W: Array) -> None:
        super().__init__(W)
        xp = backend.array_module(W)
        self.grad_rows = [xp.zeros(0, dtype=xp.int64)]
        self._seen = xp.zeros(W.shape[0], dtype=bool)  # (V,) scratch mask, all False between calls
        self._slot = xp.zeros(W.shape[0], dtype=xp.int64)  # (V,) scratch: row id -> place in grad_rows

    def backward(self, dout: Array) -> None:
        (dW,) = self.grads
        # Only the rows written last time can be non-zero: clear those, not all V.
        dW[self.grad_rows[0]] = 0
        rows = self._distinct(self.idx)
        if backend.array_module(dW) is backend.host():
            dW[rows] = self._row_sums(rows, dout)
        else:
            scatter_rows(dW, self.idx, dout)  # the GPU's atomic adds are fast already
        self.grad_rows[0] = rows
        return None

    def _row_sums(self, rows: Array, dout: Array) -> Array:
        """(R, D) sums of dout's rows per distinct id, as one sparse (R, M) x (M, D) product.

        On the CPU this beats NumPy's add.at several times over: column m of the
        0/1 matrix has its one entry in the row of id idx[m], so no sorting is needed.
        """
        np = backend.host()
        flat_idx = self.idx.reshape(-1)
        values = dout.reshape(flat_idx.size, -1)
        self._slot[rows] = np.arange(rows.size)
        ones = np.ones(flat_idx.size, dtype=values.dtype)
        picks = csc_array(
            (ones, self._slot[flat_idx], np.arange(flat_idx.size + 1)), (rows.size, flat_idx.size)
        )
        return picks @ values

    def _distinct(self, idx: Array) -> Array:
        """The sorted distinct ids in idx: marking them in a V-long mask beats sorting them."""
        xp = backend.array_module(idx)
        self._seen[idx] = True
        rows = xp.flatnonzero(self._seen)
        self._seen[rows] = False
        return rows


class SparseEmbeddingDot(EmbeddingDot):
    """EmbeddingDot that reads W through a :class:`SparseEmbedding`, so it has ``grad_rows`` too.

    Shapes, values and gradients as :class:`EmbeddingDot`.
    """

    def __init__(self, W: Array) -> None:
        self.embed = SparseEmbedding(W)
        self.params = self.embed.params
        self.grads = self.embed.grads
        self.grad_rows = self.embed.grad_rows
        self.cache = None


# --------------------------------------------------------------------------
# Input checks, installed around the chapters' answers above (see course.validate.guard).
# --------------------------------------------------------------------------


def _check_embedding_init(self: Any, W: Array) -> None:
    validate.check_weight(W, type(self).__name__, "W", 2, "(V, D): one row per word")


def _check_embedding_forward(self: Any, idx: Array) -> None:
    validate.check_ids(idx, self.params[0].shape[0], "Embedding.forward")


def _check_embedding_backward(self: Any, dout: Array) -> None:
    validate.check_backward_ready(self.idx, "Embedding")
    validate.check_dout(dout, (*self.idx.shape, self.params[0].shape[1]), "Embedding")


def _check_embedding_dot_forward(self: Any, h: Array, idx: Array) -> None:
    who = "EmbeddingDot.forward"
    V, H = self.params[0].shape
    validate.check_ids(idx, V, who, "idx")
    validate.check_numeric(h, who, "h", f"(N, H) with H = {H}")
    if h.ndim != 2 or h.shape[1] != H or idx.ndim not in (1, 2) or idx.shape[0] != h.shape[0]:
        raise validate.ShapeError(
            f"{who} expects h (N, H) with H = W.shape[1] = {H} and idx (N,) or (N, K) with the same N; "
            f"got h {tuple(h.shape)}, idx {tuple(idx.shape)}. h holds one hidden vector per example."
        )


def _check_embedding_dot_backward(self: Any, dout: Array) -> None:
    validate.check_backward_ready(self.cache, "EmbeddingDot")
    validate.check_dout(dout, self.cache[1].shape[:-1], "EmbeddingDot")


validate.guard(
    Embedding,
    __init__=_check_embedding_init,
    forward=_check_embedding_forward,
    backward=_check_embedding_backward,
)
validate.guard(SparseEmbedding, backward=_check_embedding_backward)
validate.guard(
    EmbeddingDot,
    __init__=_check_embedding_init,
    forward=_check_embedding_dot_forward,
    backward=_check_embedding_dot_backward,
)
