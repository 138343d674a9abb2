"""Layers over whole sequences: the ``Time*`` layers of the language models.

Every layer here takes a mini-batch of N sequences of T steps at once:

* ``TimeEmbedding(W)``: word ids (N, T) -> vectors (N, T, D);
* ``TimeAffine(W, b)``: (N, T, D) -> scores (N, T, V), one matrix product over all N*T rows;
* ``TimeSoftmaxWithLoss()``: scores (N, T, V) and labels (N, T) -> mean loss over the
  tokens whose label is not -1;
* ``TimeDropout(ratio)``: inverted dropout, switched off with ``train_flg = False``;
* ``TimeRNN``, ``TimeLSTM``, ``TimeGRU``: a recurrent cell (see :mod:`course.layers.recurrent`)
  run over T steps, with backpropagation through time;
* ``TimeBiLSTM``: two ``TimeLSTM`` reading the sequence in both directions;
* ``WithInitialState(layer)``: a recurrent layer with its initial state as an input,
  so ``course.gradcheck.check_layer`` can check the gradient flowing into it.

The recurrent layers keep the hidden state between calls when ``stateful=True``
(truncated BPTT: the state flows forward, the gradient stops at the block
boundary). ``reset_state()`` forgets it; ``set_state(h[, c])`` sets the state
the next forward starts from; after ``backward`` the gradient with respect to
that initial state is in ``dh`` (and ``dc`` for the LSTM).

Speed: the input projection ``x Wx + b`` of all T steps is one matrix product
before the loop and the weight gradients are one product each after it, so the
loop over time does only the unavoidable per-step work (``h Wh``, the gates).
Internally the recurrent layers keep their arrays time-major, (T, N, ...), so
each step reads contiguous memory; ``TimeLSTM`` goes further, (T, 4H, N), so
every gate block is contiguous too, and it skips the padding of sequences of
different lengths (``lengths=``).
"""

from __future__ import annotations

from typing import Any

from course import backend, validate
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

    def _weight(self) -> Array:
        """The (D, V) matrix the rows are multiplied with (a view when transposed)."""
        W = self.params[0]
        return W.T if self.transposed else W

    def forward(self, xs: Array) -> Array:
        _, b = self.params
        W = self._weight()
        if xs.shape[-1] != W.shape[0]:
            raise ValueError(f"TimeAffine: inputs have {xs.shape[-1]} features but W expects {W.shape[0]}.")
        x = xs.reshape(-1, W.shape[0])
        out = x @ W
        out += b
        self.x = x
        return out.reshape(*xs.shape[:-1], W.shape[1])

    def backward(self, dout: Array) -> Array:
        W = self._weight()
        x = self.x
        d = dout.reshape(-1, W.shape[1])
        xp = backend.array_module(d)
        # Written straight into the gradient arrays: no (D, V) temporary.
        if self.transposed:
            xp.matmul(d.T, x, out=self.grads[0])
        else:
            xp.matmul(x.T, d, out=self.grads[0])
        xp.sum(d, axis=0, out=self.grads[1])
        return (d @ W.T).reshape(*dout.shape[:-1], W.shape[0])


class TimeSoftmaxWithLoss:
    """Softmax and cross-entropy at every step, averaged over the counted tokens.

    forward(xs (N, T, V) scores, ts (N, T) labels) -> scalar loss: the mean of
    -log softmax(xs)[label] over the positions whose label is not
    ``ignore_label`` (-1: padding, or the end of a corpus). One-hot ts
    (N, T, V) are accepted too.
    backward(dout=1) -> dxs (N, T, V); ignored positions get zero gradient.

    No one-hot matrix is built: the label's score is picked by index, and the
    softmax runs over row blocks small enough to stay in the CPU cache.
    """

    def __init__(self, ignore_label: int = -1) -> None:
        self.params, self.grads = [], []
        self.ignore_label = ignore_label
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
        scores = xs.reshape(-1, V)
        labels = ts.reshape(-1)
        valid = labels != self.ignore_label
        count = max(int(valid.sum()), 1)
        safe = xp.where(valid, labels, 0)
        weight = valid.astype(scores.dtype) / count
        probs, lse = _softmax_and_logsumexp(scores, weight)
        rows = xp.arange(scores.shape[0])
        loss = ((lse - scores[rows, safe]) * valid).sum() / count
        probs[rows, safe] -= weight  # softmax - one-hot, already divided by the count
        self.dx = probs.reshape(xs.shape)
        return loss

    def backward(self, dout: Any = 1) -> Array:
        validate.check_backward_ready(self.dx, "TimeSoftmaxWithLoss")
        validate.check_scalar_dout(dout, "TimeSoftmaxWithLoss")
        return self.dx if (not backend.is_array(dout) and dout == 1) else self.dx * dout


def _softmax_and_logsumexp(scores: Array, weight: Array) -> tuple[Array, Array]:
    """Row softmax scaled by ``weight`` (M,), and each row's log-sum-exp (M,).

    scores: (M, V). Works through blocks of rows on the CPU (cache-sized) and
    all rows at once on a GPU.
    """
    xp = backend.array_module(scores)
    M, V = scores.shape
    out = xp.empty_like(scores)
    lse = xp.empty(M, dtype=scores.dtype)
    step = max(1, _SOFTMAX_CHUNK_VALUES // V) if xp is backend.host() else max(M, 1)
    for r0 in range(0, M, step):
        s, y = scores[r0 : r0 + step], out[r0 : r0 + step]
        m = s.max(axis=1, keepdims=True)
        xp.subtract(s, m, out=y)
        xp.exp(y, out=y)
        z = y.sum(axis=1, keepdims=True)
        lse[r0 : r0 + step] = xp.log(z[:, 0]) + m[:, 0]
        y *= weight[r0 : r0 + step, None] / z
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


class TimeRecurrent:
    """State handling shared by TimeRNN, TimeLSTM and TimeGRU.

    ``self.h`` (and ``self.c``) is the state the next forward starts from:
    None means zeros. A stateful layer keeps its last state there after
    forward; a stateless one starts from zeros unless ``set_state`` was called.

    Helpers for a subclass's forward: ``_inputs(xs (N, T, D))`` -> (X (T*N, D)
    time-major, N, T); ``_initial(self.h, N, like, "hidden")`` -> the start
    state (N, H), zeros when None; ``_keep_state(h_T[, c_T])`` stores the
    last state when stateful.
    """

    param_names = ("Wx", "Wh", "b")
    gates = 1
    has_cell = False

    def __init__(self, Wx: Array, Wh: Array, b: Array, stateful: bool = False) -> None:
        xp = backend.array_module(Wx)
        for w, shape in ((Wx, "(D, G*H)"), (Wh, "(H, G*H)"), (b, "(G*H,)")):
            validate.check_float(
                w,
                type(self).__name__,
                "every weight",
                shape,
                "Weights must be floats, e.g. W.astype(np.float32).",
            )
        H, G = Wh.shape[0], self.gates
        if Wh.shape != (H, G * H) or Wx.shape[1:] != (G * H,) or b.shape != (G * H,):
            raise validate.ShapeError(
                f"{type(self).__name__}: with H = Wh.shape[0] = {H}, Wx must be (D, {G * H}), Wh "
                f"({H}, {G * H}) and b ({G * H},); got Wx {Wx.shape}, Wh {Wh.shape}, b {b.shape}."
            )
        self.params = [Wx, Wh, b]
        self.grads = [xp.zeros_like(Wx), xp.zeros_like(Wh), xp.zeros_like(b)]
        self.stateful = stateful
        self.h: Array | None = None
        self.c: Array | None = None
        self.dh: Array | None = None
        self.dc: Array | None = None
        self.cache: tuple | None = None

    def reset_state(self) -> None:
        """Forget the carried state: the next forward starts from zeros."""
        self.h, self.c = None, None

    def set_state(self, h: Array, c: Array | None = None) -> None:
        """Start the next forward from hidden state h (N, H) (and cell state c (N, H))."""
        self.h = h
        if self.has_cell:
            self.c = c
        elif c is not None:
            raise TypeError(f"{type(self).__name__} has no cell state; call set_state(h).")

    def _initial(self, state: Array | None, N: int, like: Array, what: str) -> Array:
        """The state (N, H) to start from: ``state``, or zeros (dtype of ``like``) when None."""
        H = self.params[1].shape[0]
        xp = backend.array_module(like)
        if state is None:
            return xp.zeros((N, H), dtype=like.dtype)
        if state.shape != (N, H):
            raise ValueError(
                f"{type(self).__name__}: the {what} state to start from has shape {state.shape} but this "
                f"batch needs ({N}, {H}). After changing the batch size call reset_state() "
                "(or set_state with the right shape)."
            )
        return state

    def _check_inputs(self, xs: Array) -> None:
        """A clear error unless xs is (N, T, D) floats with the D of Wx; notes the output shape."""
        Wx = self.params[0]
        who = type(self).__name__
        validate.check_float(
            xs, who, "inputs xs", f"(N, T, D) with D = {Wx.shape[0]}",
            "Recurrent layers read vectors: pass word ids through a TimeEmbedding first.",
        )  # fmt: skip
        if xs.ndim != 3 or xs.shape[2] != Wx.shape[0]:
            raise validate.ShapeError(
                f"{who}: inputs must be (N, T, D) with D = {Wx.shape[0]}, got {xs.shape}. "
                "One D-vector per step of each sequence (a TimeEmbedding makes them from ids)."
            )
        self._out_shape = (xs.shape[0], xs.shape[1], self.params[1].shape[0])

    def _check_dhs(self, dhs: Array) -> None:
        """Backward's checks: forward has run, and dhs has the shape of its output (N, T, H)."""
        who = type(self).__name__
        validate.check_backward_ready(self.cache, who)
        validate.check_dout(dhs, self._out_shape, who, "dhs")

    def _inputs(self, xs: Array) -> tuple[Array, int, int]:
        """Checked inputs xs (N, T, D) as one time-major matrix (T*N, D), with N and T."""
        self._check_inputs(xs)
        N, T, D = xs.shape
        X = time_major(xs).reshape(T * N, D)
        return X, N, T

    def _keep_state(self, h: Array, c: Array | None = None) -> None:
        """After forward: keep the last state (N, H) when stateful, forget it otherwise."""
        if self.stateful:
            self.h = h.copy()
            self.c = None if c is None else c.copy()
        else:
            self.h, self.c = None, None


@model_answer("time_rnn", chapter="ch05", methods=("forward", "backward"), derivation=True)
class TimeRNN(TimeRecurrent):
    """The simple RNN cell over T steps: h_t = tanh(x_t Wx + h_{t-1} Wh + b).

    Wx: (D, H), Wh: (H, H), b: (H,).
    forward(xs (N, T, D)) -> hs (N, T, H); backward(dhs (N, T, H)) -> dxs (N, T, D),
    and ``dh`` (N, H) is the gradient with respect to the initial state.
    """

    gates = 1

    def forward(self, xs: Array) -> Array:
        xp = backend.array_module(xs)
        Wx, Wh, b = self.params
        X, N, T = self._inputs(xs)
        H = Wh.shape[0]
        A = (X @ Wx + b).reshape(T, N, H)
        hs = xp.empty((T + 1, N, H), dtype=A.dtype)
        hs[0] = self._initial(self.h, N, A, "hidden")
        for t in range(T):
            a = A[t]
            a += hs[t] @ Wh
            xp.tanh(a, out=hs[t + 1])
        self.cache = (X, hs)
        self._keep_state(hs[T])
        return batch_major(hs[1:])

    def backward(self, dhs: Array) -> Array:
        xp = backend.array_module(dhs)
        Wx, Wh, _ = self.params
        X, hs = self.cache
        T, N, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        dH = time_major(dhs)
        local = 1.0 - hs[1:] * hs[1:]  # tanh' for all steps at once
        dA = xp.empty_like(local)
        dh = xp.zeros((N, H), dtype=dA.dtype)
        for t in range(T - 1, -1, -1):
            dh = dH[t] + dh
            xp.multiply(dh, local[t], out=dA[t])
            dh = dA[t] @ Wh.T
        dA2 = dA.reshape(T * N, H)
        xp.matmul(X.T, dA2, out=self.grads[0])
        xp.matmul(hs[:-1].reshape(T * N, H).T, dA2, out=self.grads[1])
        xp.sum(dA2, axis=0, out=self.grads[2])
        self.dh = dh
        return batch_major((dA2 @ Wx.T).reshape(T, N, -1))


def _lstm_gate_scale(xp: Any, H: int, dtype: Any) -> Array:
    """Per-row scale (4H,) of the LSTM pre-activations: 0.5 for the blocks i, f, o, 1 for g.

    sigmoid(a) = 0.5 * tanh(a / 2) + 0.5, so with the sigmoid blocks halved
    before, one tanh over all 4H rows (and ``0.5 * t + 0.5`` on those blocks
    after) gives every gate at once.
    """
    scale = xp.full(4 * H, 0.5, dtype=dtype)
    scale[2 * H : 3 * H] = 1.0
    return scale


class TimeLSTM(TimeRecurrent):
    """The LSTM cell over T steps (gate blocks ``[i, f, g, o]``, see ``course.layers.recurrent.LSTM``).

    Wx: (D, 4H), Wh: (H, 4H), b: (4H,).
    forward(xs (N, T, D), lengths=None) -> hs (N, T, H); backward(dhs (N, T, H)) -> dxs (N, T, D).
    ``set_state(h, c)`` sets the initial hidden and cell states (N, H); after
    backward, ``dh`` and ``dc`` (N, H) are the gradients with respect to them
    (None after a forward that started from zeros, with no state to receive
    them: that saves step 0's product with Wh).

    ``lengths`` (N,) ints in 0..T: row n is read only for its first
    ``lengths[n]`` steps (padded sequences); after that its state stays as it
    was, so its outputs repeat its last state and the state carried out is the
    one at its end. Rows are sorted by length inside, so each step computes
    only the rows still running: padding costs no work.

    Speed: inside, arrays are feature-major, (T, 4H, N) and (T, H, N), so every
    gate block is contiguous memory. Starting from a zero state, step 0 skips
    its h Wh product. Backward writes the gate gradients of the running rows
    side by side into one (4H, S) matrix, S the number of running (step, row)
    pairs, so dWh, dWx and db come out of a single matrix product over those
    pairs only.
    """

    gates = 4
    has_cell = True

    def _work(self, name: str, shape: tuple[int, ...], like: Array) -> Array:
        """A scratch array kept between calls (dtype and module of ``like``).

        Big arrays freshly allocated on every call cost page faults that can
        take longer than the arithmetic; reusing them keeps training fast.
        """
        xp = backend.array_module(like)
        buffers = self.__dict__.setdefault("_buffers", {})
        buf = buffers.get(name)
        fits = buf is not None and buf.shape == shape and buf.dtype == like.dtype
        if not fits or backend.array_module(buf) is not xp:
            buf = buffers[name] = xp.empty(shape, dtype=like.dtype)
        return buf

    def forward(self, xs: Array, lengths: Array | None = None) -> Array:
        xp = backend.array_module(xs)
        Wx, Wh, b = self.params
        self._check_inputs(xs)
        N, T, D = xs.shape
        H = Wh.shape[0]
        order, inverse, counts = self._packing(xp, lengths, N, T)
        if order is not None:
            xs = xs[order]
        # Pre-scaled so that one tanh over all 4H rows makes every gate:
        # sigmoid(a) = 0.5 * tanh(a / 2) + 0.5 for the blocks i, f, o. The
        # bias rides along as a row of Wx matched by a row of ones in X.
        scale = _lstm_gate_scale(xp, H, xs.dtype)
        X = self._work("X", (T, D + 1, N), xs)
        X[:, :D] = xs.transpose(1, 2, 0)
        X[:, D] = 1.0
        Wxb = self._work("Wxb", (D + 1, 4 * H), xs)
        Wxb[:D], Wxb[D] = Wx, b
        Wxb *= scale
        A = xp.matmul(Wxb.T, X, out=self._work("A", (T, 4 * H, N), xs))  # (T, 4H, N)
        WhT = xp.multiply(Wh, scale, out=self._work("Wh", Wh.shape, xs)).T  # (4H, H)
        hs = self._work("hs", (T + 1, H, N), xs)
        cs = self._work("cs", (T + 1, H, N), xs)
        tanh_c = self._work("tanh_c", (T, H, N), xs)
        hh = self._work("hh", (4 * H, N), xs)
        self._load_state(hs[0], self.h, order, xs, "hidden")
        self._load_state(cs[0], self.c, order, xs, "cell")
        from_zero = self.h is None
        for t in range(T):
            n = counts[t]
            a = A[t, :, :n]
            if t > 0 or not from_zero:  # from a zero state, h0 Wh is zero
                a += xp.matmul(WhT, hs[t], out=hh) if n == N else WhT @ hs[t, :, :n]
            xp.tanh(a, out=a)
            for gate in (a[: 2 * H], a[3 * H :]):  # sigmoid blocks i, f and o
                gate *= 0.5
                gate += 0.5
            i, f, g, o = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :]
            c = cs[t + 1, :, :n]
            xp.multiply(f, cs[t, :, :n], out=c)
            c += i * g
            xp.tanh(c, out=tanh_c[t, :, :n])
            xp.multiply(o, tanh_c[t, :, :n], out=hs[t + 1, :, :n])
            if n < N:  # finished rows keep their state; zeros keep backward's arithmetic finite
                A[t, :, n:] = 0.0
                tanh_c[t, :, n:] = 0.0
                hs[t + 1, :, n:] = hs[t, :, n:]
                cs[t + 1, :, n:] = cs[t, :, n:]
        self.cache = (X, A, hs, cs, tanh_c, order, inverse, counts, from_zero)
        out = xp.empty((N, T, H), dtype=xs.dtype)  # never a view of the reused hs
        rows = slice(None) if order is None else order  # each row back to the caller's place
        for t in range(T):  # one (H, N) transpose per step: faster than one 3-D transposing copy
            out[rows, t] = hs[t + 1].T
        h_T = c_T = None
        if self.stateful:
            h_T, c_T = hs[T].T, cs[T].T
            if order is not None:
                h_T, c_T = h_T[inverse], c_T[inverse]
        self._keep_state(h_T, c_T)
        return out

    def _load_state(
        self, out: Array, state: Array | None, order: Array | None, like: Array, what: str
    ) -> None:
        """Write the state to start from, (N, H), into out (H, N), rows in packed order; None: zeros."""
        if state is None:
            out[...] = 0.0
            return
        state = self._initial(state, out.shape[1], like, what)
        out[...] = (state if order is None else state[order]).T

    @staticmethod
    def _packing(
        xp: Any, lengths: Array | None, N: int, T: int
    ) -> tuple[Array | None, Array | None, list[int]]:
        """(row order longest first and its inverse, or None; number of rows running at each step)."""
        if lengths is None:
            return None, None, [N] * T
        host = backend.host()
        L = host.asarray(backend.to_host(lengths)).reshape(-1)
        if L.shape != (N,) or L.dtype.kind not in "iu" or (N and (L.min() < 0 or L.max() > T)):
            raise ValueError(
                f"TimeLSTM: lengths must be {N} integers between 0 and {T} (one per row), "
                f"got {L.dtype} values of shape {L.shape}."
            )
        order = host.argsort(-L, kind="stable")
        inverse = host.empty_like(order)
        inverse[order] = host.arange(N)
        # Rows running at step t: those longer than t.
        counts = (N - host.bincount(L, minlength=T + 1).cumsum()[:T]).tolist()
        return xp.asarray(order), xp.asarray(inverse), counts

    def backward(self, dhs: Array) -> Array:
        self._check_dhs(dhs)
        xp = backend.array_module(dhs)
        Wx, Wh, _ = self.params
        X, A, hs, cs, tanh_c, order, inverse, counts, from_zero = self.cache
        T, H, N = tanh_c.shape
        D = X.shape[1] - 1
        if order is not None:
            dhs = dhs[order]
        dH = self._work("dH", (T, H, N), A)
        dH[...] = dhs.transpose(1, 2, 0)
        local, through_tanh = self._local_derivatives(A, hs, cs, tanh_c)
        f = A[:, H : 2 * H]
        # Step t's gate gradients go straight into their columns of dA (4H, S):
        # one column per row still running at t, the steps one after another,
        # so the weight gradients below are one product over all S columns.
        starts = [0]
        for n in counts:
            starts.append(starts[-1] + n)
        S = starts[-1]
        dA = self._work("dA", (4 * H, S), A)
        dh = xp.zeros((H, N), dtype=A.dtype)
        dc = xp.zeros_like(dh)
        for t in range(T - 1, -1, -1):
            n, da = counts[t], dA[:, starts[t] : starts[t + 1]]
            dh += dH[t]  # finished rows: the gradient flows on to their carried state
            dh_n, dc_n = dh[:, :n], dc[:, :n]
            dc_n += dh_n * through_tanh[t, :, :n]
            xp.multiply(dc_n, local[t, : 3 * H, :n].reshape(3, H, n), out=da[: 3 * H].reshape(3, H, n))
            xp.multiply(dh_n, local[t, 3 * H :, :n], out=da[3 * H :])
            if t > 0 or not from_zero:  # a zero start state takes no gradient
                dh[:, :n] = Wh @ da
                dc_n *= f[t, :, :n]
        # [h_{t-1}; x_t; 1] for every running (step, row), one (H + D + 1, S) matrix:
        # dWh, dWx and db come out of one product.
        Z = self._work("Z", (H + D + 1, S), A)
        self._columns(Z[:H], hs[:-1], counts, starts)
        self._columns(Z[H:], X, counts, starts)
        dW = xp.matmul(Z, dA.T, out=self._work("dW", (H + D + 1, 4 * H), A))
        self.grads[1][...], self.grads[0][...], self.grads[2][...] = dW[:H], dW[H : H + D], dW[H + D]
        dX = Wx @ dA  # (D, S)
        dxs = xp.zeros((N, T, D), dtype=A.dtype)  # finished rows' inputs have no gradient
        for t in range(T):
            dxs[: counts[t], t] = dX[:, starts[t] : starts[t + 1]].T
        if order is not None:
            dxs = dxs[inverse]
        self.dh, self.dc = (
            (None, None) if from_zero else (self._unpack(dh, inverse), self._unpack(dc, inverse))
        )
        return dxs

    @staticmethod
    def _unpack(state: Array, inverse: Array | None) -> Array:
        """A state (H, N) in packed row order as a contiguous (N, H) in the caller's order."""
        rows = state.T if inverse is None else state.T[inverse]
        return backend.array_module(state).ascontiguousarray(rows)

    @staticmethod
    def _columns(out: Array, src: Array, counts: list[int], starts: list[int]) -> None:
        """Write the running rows of src (T, K, N), step after step, into out (K, S)."""
        T, K, N = src.shape
        if starts[-1] == T * N:  # every row runs every step: one transposing copy
            out.reshape(K, T, N)[...] = src.transpose(1, 0, 2)
        else:
            for t in range(T):
                out[:, starts[t] : starts[t + 1]] = src[t, :, : counts[t]]

    def _local_derivatives(self, A: Array, hs: Array, cs: Array, tanh_c: Array) -> tuple[Array, Array]:
        """Every step's local derivatives at once, (T, 4H, N) and (T, H, N).

        d a_gate = dc * local[i, f, g] or dh * local[o]; dc += dh * through_tanh.
        Written in place, without temporaries. With h = o tanh(c) already in
        hs: tanh(c) o(1-o) = h(1-o) and o(1-tanh(c)^2) = o - h tanh(c).
        """
        xp = backend.array_module(A)
        H = tanh_c.shape[1]
        i, g, o = A[:, :H], A[:, 2 * H : 3 * H], A[:, 3 * H :]
        h = hs[1:]
        local = self._work("local", A.shape, A)
        sig = local[:, : 2 * H]  # i(1-i) g and f(1-f) c_prev
        xp.subtract(1.0, A[:, : 2 * H], out=sig)
        sig *= A[:, : 2 * H]
        local[:, :H] *= g
        local[:, H : 2 * H] *= cs[:-1]
        dg = local[:, 2 * H : 3 * H]  # i(1-g^2)
        xp.multiply(g, g, out=dg)
        xp.subtract(1.0, dg, out=dg)
        dg *= i
        do = local[:, 3 * H :]  # h(1-o)
        xp.subtract(1.0, o, out=do)
        do *= h
        through_tanh = self._work("through_tanh", tanh_c.shape, A)  # o - h tanh(c)
        xp.multiply(h, tanh_c, out=through_tanh)
        xp.subtract(o, through_tanh, out=through_tanh)
        return local, through_tanh


class TimeGRU(TimeRecurrent):
    """The GRU cell over T steps (blocks ``[z, r, h~]``, see ``course.layers.recurrent.GRU``).

    Wx: (D, 3H), Wh: (H, 3H), b: (3H,).
    forward(xs (N, T, D)) -> hs (N, T, H); backward(dhs (N, T, H)) -> dxs (N, T, D),
    and ``dh`` (N, H) is the gradient with respect to the initial state.
    """

    gates = 3

    def forward(self, xs: Array) -> Array:
        xp = backend.array_module(xs)
        Wx, Wh, b = self.params
        X, N, T = self._inputs(xs)
        H = Wh.shape[0]
        A = (X @ Wx + b).reshape(T, N, 3 * H)
        A[..., : 2 * H] *= 0.5  # sigmoid(a) = 0.5 tanh(a / 2) + 0.5
        Wh_zr = Wh[:, : 2 * H] * 0.5
        Wh_h = Wh[:, 2 * H :]
        hs = xp.empty((T + 1, N, H), dtype=A.dtype)
        rh = xp.empty((T, N, H), dtype=A.dtype)
        hs[0] = self._initial(self.h, N, A, "hidden")
        for t in range(T):
            zr, ah = A[t, :, : 2 * H], A[t, :, 2 * H :]
            zr += hs[t] @ Wh_zr
            xp.tanh(zr, out=zr)
            zr *= 0.5
            zr += 0.5
            z, r = zr[:, :H], zr[:, H:]
            xp.multiply(r, hs[t], out=rh[t])
            ah += rh[t] @ Wh_h
            xp.tanh(ah, out=ah)
            xp.subtract(ah, hs[t], out=hs[t + 1])
            hs[t + 1] *= z
            hs[t + 1] += hs[t]
        self.cache = (X, A, hs, rh)
        self._keep_state(hs[T])
        return batch_major(hs[1:])

    def backward(self, dhs: Array) -> Array:
        self._check_dhs(dhs)
        xp = backend.array_module(dhs)
        Wx, Wh, _ = self.params
        X, A, hs, rh = self.cache
        T, N, H = rh.shape
        dH = time_major(dhs)
        z, r, h_hat = A[..., :H], A[..., H : 2 * H], A[..., 2 * H :]
        h_prev = hs[:-1]
        # Local derivatives for all steps at once.
        local_h = z * (1.0 - h_hat * h_hat)
        local_z = (h_hat - h_prev) * z * (1.0 - z)
        local_r = h_prev * r * (1.0 - r)
        keep = 1.0 - z
        Wh_zr_T, Wh_h_T = Wh[:, : 2 * H].T, Wh[:, 2 * H :].T
        dA = xp.empty_like(A)
        dh = xp.zeros((N, H), dtype=A.dtype)
        for t in range(T - 1, -1, -1):
            dh = dH[t] + dh
            da_h = xp.multiply(dh, local_h[t], out=dA[t, :, 2 * H :])
            drh = da_h @ Wh_h_T
            xp.multiply(dh, local_z[t], out=dA[t, :, :H])
            xp.multiply(drh, local_r[t], out=dA[t, :, H : 2 * H])
            dh = dh * keep[t]
            dh += drh * r[t]
            dh += dA[t, :, : 2 * H] @ Wh_zr_T
        dA2 = dA.reshape(T * N, 3 * H)
        xp.matmul(X.T, dA2, out=self.grads[0])
        self.grads[1][:, : 2 * H] = h_prev.reshape(T * N, H).T @ dA2[:, : 2 * H]
        self.grads[1][:, 2 * H :] = rh.reshape(T * N, H).T @ dA2[:, 2 * H :]
        xp.sum(dA2, axis=0, out=self.grads[2])
        self.dh = dh
        return batch_major((dA2 @ Wx.T).reshape(T, N, -1))


class TimeBiLSTM:
    """A bidirectional LSTM: one TimeLSTM reads left to right, one right to left.

    Wx1, Wh1, b1 (forward direction) and Wx2, Wh2, b2 (backward direction), each
    shaped as for TimeLSTM. forward(xs (N, T, D)) -> (N, T, 2H): at every step
    the forward direction's h (first H) next to the backward direction's h.
    backward(dhs (N, T, 2H)) -> dxs (N, T, D). Each call reads a whole
    sequence, so there is no state carried between calls.
    """

    param_names = ("Wx_fwd", "Wh_fwd", "b_fwd", "Wx_bwd", "Wh_bwd", "b_bwd")

    def __init__(self, Wx1: Array, Wh1: Array, b1: Array, Wx2: Array, Wh2: Array, b2: Array) -> None:
        self.forward_lstm = TimeLSTM(Wx1, Wh1, b1)
        self.backward_lstm = TimeLSTM(Wx2, Wh2, b2)
        self.params = self.forward_lstm.params + self.backward_lstm.params
        self.grads = self.forward_lstm.grads + self.backward_lstm.grads

    def reset_state(self) -> None:
        """Nothing is carried between calls; kept for a uniform interface."""
        self.forward_lstm.reset_state()
        self.backward_lstm.reset_state()

    def forward(self, xs: Array) -> Array:
        xp = backend.array_module(xs)
        left = self.forward_lstm.forward(xs)
        right = self.backward_lstm.forward(xs[:, ::-1])[:, ::-1]
        return xp.concatenate([left, right], axis=2)

    def backward(self, dhs: Array) -> Array:
        lstm = self.forward_lstm
        validate.check_backward_ready(lstm.cache, "TimeBiLSTM")
        N, T, H = lstm._out_shape
        validate.check_dout(dhs, (N, T, 2 * H), "TimeBiLSTM", "dhs")
        dx_left = self.forward_lstm.backward(dhs[:, :, :H])
        dx_right = self.backward_lstm.backward(dhs[:, ::-1, H:])
        return dx_left + dx_right[:, ::-1]


class WithInitialState:
    """A recurrent Time layer whose initial state is an input, for gradient checks.

    forward(xs (N, T, D), h0 (N, H)[, c0 (N, H)]) -> hs (N, T, H);
    backward(dhs) -> (dxs, dh0[, dc0]). Checking this with
    ``course.gradcheck.check_layer`` tests backpropagation through all T steps
    into the carried state, which the plain layer hides in ``dh`` / ``dc``.

    Example: ``check_layer(WithInitialState(TimeLSTM(Wx, Wh, b)), xs, h0, c0)``.
    """

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.params = layer.params
        self.grads = layer.grads
        self.param_names = getattr(layer, "param_names", None)

    def forward(self, xs: Array, h0: Array, c0: Array | None = None, **kwargs: Any) -> Array:
        if c0 is None:
            self.layer.set_state(h0)
        else:
            self.layer.set_state(h0, c0)
        self._with_cell = c0 is not None
        return self.layer.forward(xs, **kwargs)

    def backward(self, dhs: Array) -> tuple:
        dxs = self.layer.backward(dhs)
        if self._with_cell:
            return dxs, self.layer.dh, self.layer.dc
        return dxs, self.layer.dh


# --------------------------------------------------------------------------
# Input checks, installed around the chapters' answers above (see course.validate.guard).
# --------------------------------------------------------------------------


def _check_time_affine_init(self: Any, W: Array, b: Array, transposed: bool = False) -> None:
    validate.check_weight(W, "TimeAffine", "W", 2, "(V, D) (transposed)" if transposed else "(D, V)")
    V = W.shape[0] if transposed else W.shape[1]
    validate.check_weight(b, "TimeAffine", "b", 1, f"(V,) with V = {V}")
    validate.check_same_shape(b, (V,), "TimeAffine", "b", "(V,)", "b has one entry per output score.")


def _check_time_affine_forward(self: Any, xs: Array) -> None:
    W = self._weight()
    validate.check_numeric(xs, "TimeAffine.forward", "xs", f"(N, T, D) with D = {W.shape[0]}")
    if xs.ndim == 0 or xs.shape[-1] != W.shape[0]:
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
validate.guard(TimeRNN, backward=TimeRecurrent._check_dhs)
