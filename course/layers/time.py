"""Layers over whole sequences: the ``Time*`` layers of the language models.

Every layer here takes a mini-batch of N sequences of T steps at once:

* ``TimeEmbedding(W)``: word ids (N, T) -> vectors (N, T, D);
* ``TimeAffine(W, b)``: (N, T, D) -> scores (N, T, V), one matrix product over all N*T rows;
* ``TimeSoftmaxWithLoss()``: scores (N, T, V) and labels (N, T) -> mean loss over the
  tokens whose label is not -1;
* ``TimeDropout(ratio)``: inverted dropout, switched off with ``train_flg = False``.

The recurrent ones have a file each: :mod:`course.layers.time_rnn`,
:mod:`course.layers.time_lstm`, :mod:`course.layers.time_gru`, and what they
share (the carried state) in :mod:`course.layers.time_recurrent`.
"""

from __future__ import annotations

from typing import Any

from course import backend, row_blocks, validate
from course.answers import model_answer

Array = Any

# Rows of scores processed together by the softmax: ~256k values stay in the
# CPU cache while max, exp and sum run over them.
_SOFTMAX_CHUNK_VALUES = 1 << 18


def time_major(x: Array) -> Array:
    """(N, T, K) -> a contiguous (T, N, K) copy."""
    return backend.array_module(x).ascontiguousarray(x.transpose(1, 0, 2))


def batch_major(x: Array) -> Array:
    """(T, N, K) -> a contiguous (N, T, K) copy."""
    return backend.array_module(x).ascontiguousarray(x.transpose(1, 0, 2))


class TimeEmbedding:
    """Word vectors for a batch of sequences: out[n, t] = W[ids[n, t]].

    W: (V, D). forward(xs (N, T) int) -> (N, T, D).
    backward(dout (N, T, D)) -> None (the ids have no gradient); grads[0] (V, D)
    receives every row's gradient with one scatter-add over the N*T ids, so a
    word used several times in the batch adds up.

    With ``accumulate=True`` backward adds into grads[0] instead of
    overwriting it: for a matrix shared with a layer whose backward ran first
    and wrote its own gradient there (weight tying).
    """

    param_names = ("W",)

    def __init__(self, W: Array, accumulate: bool = False) -> None:
        validate.check_weight(W, "TimeEmbedding", "W", 2, "(V, D): one row per word")
        self.params = [W]
        self.grads = [backend.array_module(W).zeros_like(W)]
        self.accumulate = accumulate
        self.idx: Array | None = None

    def forward(self, xs: Array) -> Array:
        (W,) = self.params
        validate.check_ids(xs, W.shape[0], "TimeEmbedding.forward", "ids")
        self.idx = xs
        return W[xs]

    def backward(self, dout: Array) -> None:
        (dW,) = self.grads
        validate.check_backward_ready(self.idx, "TimeEmbedding")
        validate.check_dout(dout, (*self.idx.shape, dW.shape[1]), "TimeEmbedding")
        if not self.accumulate:
            dW[...] = 0
        backend.scatter_add(dW, self.idx.reshape(-1), dout.reshape(-1, dW.shape[1]))
        return None


@model_answer(
    "time_affine",
    chapter="ch06",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.basic:Affine",),
)
class TimeAffine:
    """Scores for every step: out = x W + b over all N*T rows at once.

    W: (D, V), or (V, D) with ``transposed=True`` (an embedding matrix reused as
    the output weight, for weight tying); b: (V,).
    forward(xs (N, T, D)) -> (N, T, V). backward(dout (N, T, V)) -> dxs (N, T, D).
    """

    param_names = ("W", "b")

    def __init__(self, W: Array, b: Array, transposed: bool = False) -> None:
        xp = backend.array_module(W)
        self.params = [W, b]
        self.grads = [xp.zeros_like(W), xp.zeros_like(b)]
        self.transposed = transposed
        self.x: Array | None = None

    def forward(self, xs: Array) -> Array:
        W, b = self.params
        if self.transposed:
            W = W.T  # a (D, V) view of the (V, D) embedding matrix: nothing is copied
        N, T, D = xs.shape
        x = xs.reshape(N * T, D)
        out = x @ W
        out += b
        self.x = x
        return out.reshape(N, T, -1)

    def backward(self, dout: Array) -> Array:
        W, _ = self.params
        N, T, V = dout.shape
        x = self.x
        d = dout.reshape(N * T, V)
        if self.transposed:
            self.grads[0][...] = d.T @ x
            dx = d @ W
        else:
            self.grads[0][...] = x.T @ d
            dx = d @ W.T
        self.grads[1][...] = d.sum(axis=0)
        return dx.reshape(N, T, -1)


class TimeSoftmaxWithLoss:
    """Softmax and cross-entropy at every step, averaged over the counted tokens.

    forward(xs (N, T, V) scores, ts (N, T) labels) -> scalar loss: the mean of
    -log softmax(xs)[label] over the positions whose label is not
    ``ignore_label`` (-1: padding, or the end of a corpus). One-hot ts
    (N, T, V) are accepted too.
    backward(dout=1) -> dxs (N, T, V); ignored positions get zero gradient.

    No one-hot matrix is built: the label's score is picked by index, and the
    softmax runs over row blocks small enough to stay in the CPU cache.

    ``label_smoothing=eps`` trains toward (1 - eps) on the label and eps / V
    spread over every class instead of a one-hot target (a model that is never
    asked for certainty keeps its scores moderate; the Transformer's recipe
    uses 0.1). The loss is then the cross-entropy with that target, so it no
    longer reaches 0; evaluate perplexity with eps = 0.
    """

    def __init__(self, ignore_label: int = -1, label_smoothing: float = 0.0) -> None:
        self.params, self.grads = [], []
        self.ignore_label = ignore_label
        self.label_smoothing = validate.check_rate(label_smoothing, "TimeSoftmaxWithLoss", "label_smoothing")
        self.dx: Array | None = None

    def forward(self, xs: Array, ts: Array) -> Array:
        who = "TimeSoftmaxWithLoss.forward"
        xp = backend.array_module(xs)
        validate.check_numeric(xs, who, "xs", "(N, T, V) scores")
        validate.check_ndim(xs, (2, 3), who, "xs", "(N, T, V) scores (or (N, V))")
        validate.check_array(ts, who, "ts", "(N, T) of labels")
        V = xs.shape[-1]
        if ts.ndim == xs.ndim:
            validate.check_one_hot(ts, xs.shape, who)
            ts = ts.argmax(axis=-1)
        if ts.shape != xs.shape[:-1]:
            raise validate.ShapeError(
                f"TimeSoftmaxWithLoss: labels must have shape {xs.shape[:-1]} (one per score row), "
                f"got {ts.shape}."
            )
        validate.check_labels(ts, V, "TimeSoftmaxWithLoss labels", ignore=self.ignore_label)
        ts = backend.to_device(ts, like=xs)  # host labels for device scores: copied over, as CuPy indexes
        scores = xs.reshape(-1, V)
        labels = ts.reshape(-1)
        valid = labels != self.ignore_label
        count = max(int(valid.sum()), 1)
        safe = xp.where(valid, labels, 0)
        weight = valid.astype(scores.dtype) / count
        probs, lse = _softmax_and_logsumexp(scores, weight)
        rows = xp.arange(scores.shape[0])
        eps = self.label_smoothing
        target_score = scores[rows, safe]
        if eps:
            # Cross-entropy with the smoothed target: (1 - eps) on the label, eps / V on every class.
            target_score = (1.0 - eps) * target_score + (eps / V) * scores.sum(axis=1)
            probs -= (weight * (eps / V))[:, None]
        loss = ((lse - target_score) * valid).sum() / count
        probs[rows, safe] -= weight * (1.0 - eps)  # softmax - target, already divided by the count
        self.dx = probs.reshape(xs.shape)
        return loss

    def backward(self, dout: Any = 1) -> Array:
        validate.check_backward_ready(self.dx, "TimeSoftmaxWithLoss")
        validate.check_scalar_dout(dout, "TimeSoftmaxWithLoss")
        return self.dx if (not backend.is_array(dout) and dout == 1) else self.dx * dout


def _softmax_and_logsumexp(scores: Array, weight: Array) -> tuple[Array, Array]:
    """Row softmax scaled by ``weight`` (M,), and each row's log-sum-exp (M,).

    scores: (M, V). On the CPU, the rows are shared among the cores
    (``course.row_blocks``), and each core works through blocks of rows small
    enough to stay in its cache; on a GPU, all rows at once.
    """
    xp = backend.array_module(scores)
    M, V = scores.shape
    out = xp.empty_like(scores)
    lse = xp.empty(M, dtype=scores.dtype)
    on_host = xp is backend.host()
    step = max(1, _SOFTMAX_CHUNK_VALUES // V) if on_host else max(M, 1)

    def softmax_rows(start: int, stop: int) -> None:
        for r0 in range(start, stop, step):
            r1 = min(r0 + step, stop)
            s, y = scores[r0:r1], out[r0:r1]
            m = s.max(axis=1, keepdims=True)
            xp.subtract(s, m, out=y)
            xp.exp(y, out=y)
            z = y.sum(axis=1, keepdims=True)
            lse[r0:r1] = xp.log(z[:, 0]) + m[:, 0]
            y *= weight[r0:r1, None] / z

    row_blocks.for_row_blocks(softmax_rows, M, M * V, parallel=on_host)
    return out, lse


@model_answer(
    "time_dropout",
    chapter="ch06",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.basic:Dropout",),
)
class TimeDropout:
    """Inverted dropout over a whole sequence: zero each value with probability ``dropout_ratio``.

    Kept values are scaled by 1 / (1 - ratio) during training, so at
    evaluation (``train_flg = False``, set on the layer or passed to forward)
    the layer does nothing. forward(xs (N, T, H)) -> (N, T, H).
    """

    def __init__(self, dropout_ratio: float = 0.5) -> None:
        if not 0.0 <= dropout_ratio < 1.0:
            raise ValueError(f"dropout_ratio must be in [0, 1), got {dropout_ratio}.")
        self.params, self.grads = [], []
        self.dropout_ratio = dropout_ratio
        self.train_flg = True
        self.mask: Array | None = None

    def forward(self, xs: Array, train_flg: bool | None = None) -> Array:
        train = self.train_flg if train_flg is None else train_flg
        if not train or self.dropout_ratio == 0.0:
            self.mask = None
            return xs
        xp = backend.array_module(xs)
        keep = 1.0 - self.dropout_ratio
        mask = (backend.rng(xp).random(xs.shape, dtype=xp.float32) < keep).astype(xs.dtype)
        mask *= 1.0 / keep
        self.mask = mask
        return xs * mask

    def backward(self, dout: Array) -> Array:
        return dout if self.mask is None else dout * self.mask


# --------------------------------------------------------------------------
# Input checks, installed around the chapters' answers above (see course.validate.guard).
# --------------------------------------------------------------------------


def _check_time_affine_init(self: Any, W: Array, b: Array, transposed: bool = False) -> None:
    validate.check_weight(W, "TimeAffine", "W", 2, "(V, D) (transposed)" if transposed else "(D, V)")
    V = W.shape[0] if transposed else W.shape[1]
    validate.check_weight(b, "TimeAffine", "b", 1, f"(V,) with V = {V}")
    validate.check_same_shape(b, (V,), "TimeAffine", "b", "(V,)", "b has one entry per output score.")


def _check_time_affine_forward(self: Any, xs: Array) -> None:
    W = self.params[0].T if self.transposed else self.params[0]  # (D, V)
    validate.check_numeric(xs, "TimeAffine.forward", "xs", f"(N, T, D) with D = {W.shape[0]}")
    if xs.ndim != 3 or xs.shape[-1] != W.shape[0]:
        raise validate.ShapeError(
            f"TimeAffine: inputs have shape {tuple(xs.shape)}, so {xs.shape[-1] if xs.ndim else 0} features, "
            f"but W expects {W.shape[0]}: xs must be (N, T, D) with D = {W.shape[0]}."
        )
    self._out_shape = (*xs.shape[:-1], W.shape[1])


def _check_time_affine_backward(self: Any, dout: Array) -> None:
    validate.check_backward_ready(self.x, "TimeAffine")
    validate.check_dout(dout, self._out_shape, "TimeAffine")


def _check_time_dropout_forward(self: Any, xs: Array, train_flg: bool | None = None) -> None:
    validate.check_float(xs, "TimeDropout.forward", "xs", "(N, T, H)")


def _check_time_dropout_backward(self: Any, dout: Array) -> None:
    if self.mask is not None:
        validate.check_dout(dout, self.mask.shape, "TimeDropout")


validate.guard(
    TimeAffine,
    __init__=_check_time_affine_init,
    forward=_check_time_affine_forward,
    backward=_check_time_affine_backward,
)
validate.guard(TimeDropout, forward=_check_time_dropout_forward, backward=_check_time_dropout_backward)
