"""The LSTM over whole sequences: TimeLSTM (a loop over LSTM cells), FusedTimeLSTM, TimeBiLSTM.

``TimeLSTM`` is chapter 6's answer: one ``LSTM`` cell per step, the hidden
and cell states carried forward, their gradients carried back. The models
run ``FusedTimeLSTM``, which computes the same (a test proves it) faster: the
input projection of all T steps is one matrix product before the loop;
inside, arrays are time-major, (T, N, 4H), so the rows running at a step are
one block; sequences of different lengths skip their padding (``lengths=``).
"""

from __future__ import annotations

from typing import Any

from course import backend, row_blocks, validate
from course.answers import model_answer
from course.layers.recurrent import LSTM, check_gate_shapes, zeros_like_all
from course.layers.time_recurrent import TimeRecurrent

Array = Any


@model_answer(
    "time_lstm",
    chapter="ch06",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.time_lstm:FusedTimeLSTM",),
)
class TimeLSTM:
    """The LSTM cell over T steps: one ``LSTM`` per step, in ``self.layers``.

    Wx: (D, 4H), Wh: (H, 4H), b: (4H,), gate blocks ``[i, f, g, o]`` as in ``LSTM``.
    forward(xs (N, T, D)) -> hs (N, T, H); backward(dhs (N, T, H)) -> dxs (N, T, D).

    The first step starts from ``self.h`` and ``self.c`` (N, H), zeros when
    None (``set_state(h, c)`` sets them, ``reset_state()`` forgets them). A
    stateful layer keeps its last h and c there for the next forward
    (truncated BPTT); a stateless one forgets them. After backward, ``dh`` and
    ``dc`` (N, H) are the gradients with respect to the state the first step
    started from.
    """

    param_names = ("Wx", "Wh", "b")

    def __init__(self, Wx: Array, Wh: Array, b: Array, stateful: bool = False) -> None:
        check_gate_shapes("TimeLSTM", Wx, Wh, b, 4)
        self.params = [Wx, Wh, b]
        self.grads = zeros_like_all(Wx, Wh, b)
        self.layers: list[LSTM] = []
        self.stateful = stateful
        self.h: Array | None = None
        self.c: Array | None = None
        self.dh: Array | None = None
        self.dc: Array | None = None

    def set_state(self, h: Array, c: Array | None = None) -> None:
        """Start the next forward from hidden state h (N, H) and cell state c (N, H) (None: zeros)."""
        self.h, self.c = h, c

    def reset_state(self) -> None:
        """Forget the carried state: the next forward starts from zeros."""
        self.h, self.c = None, None

    def forward(self, xs: Array) -> Array:
        xp = backend.array_module(xs)
        Wx, Wh, b = self.params
        N, T, _ = xs.shape
        H = Wh.shape[0]
        h = xp.zeros((N, H), dtype=xs.dtype) if self.h is None else self.h
        c = xp.zeros_like(h) if self.c is None else self.c
        hs = xp.empty((N, T, H), dtype=xs.dtype)
        self.layers = []
        for t in range(T):
            layer = LSTM(Wx, Wh, b)
            h, c = layer.forward(xs[:, t], h, c)
            hs[:, t] = h
            self.layers.append(layer)
        # Stateful: the next block goes on from here. Stateless: the next forward starts from zeros.
        self.h, self.c = (h, c) if self.stateful else (None, None)
        return hs

    def backward(self, dhs: Array) -> Array:
        xp = backend.array_module(dhs)
        N, T, H = dhs.shape
        D = self.params[0].shape[0]
        dxs = xp.empty((N, T, D), dtype=dhs.dtype)
        dh = xp.zeros((N, H), dtype=dhs.dtype)
        dc = xp.zeros_like(dh)
        for grad in self.grads:
            grad[...] = 0.0
        for t in reversed(range(T)):
            layer = self.layers[t]
            # h_t went two ways: to the output at step t and into step t + 1.
            dxs[:, t], dh, dc = layer.backward(dhs[:, t] + dh, dc)
            for grad, step_grad in zip(self.grads, layer.grads, strict=True):
                grad += step_grad
        self.dh, self.dc = dh, dc
        return dxs


def _lstm_gate_scale(xp: Any, H: int, dtype: Any) -> Array:
    """Per-row scale (4H,) of the LSTM pre-activations: 0.5 for the blocks i, f, o, 1 for g.

    sigmoid(a) = 0.5 * tanh(a / 2) + 0.5, so with the sigmoid blocks halved
    before, one tanh over all 4H rows (and ``0.5 * t + 0.5`` on those blocks
    after) gives every gate at once.
    """
    scale = xp.full(4 * H, 0.5, dtype=dtype)
    scale[2 * H : 3 * H] = 1.0
    return scale


class FusedTimeLSTM(TimeRecurrent):
    """TimeLSTM, fast: the same answers, values and gradients, with ``lengths=`` for padded batches.

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

    Speed: inside, arrays are time-major, (T, N, 4H) and (T, N, H), so the
    rows running at step t are one contiguous block. The input projection of
    all T steps is a single matrix product (T*N, D+1) x (D+1, 4H) before the
    loop; each step then adds the product of Wh with the previous state,
    computed as (4H, H) x (H, n), the orientation BLAS runs fastest for a
    small batch on several cores. Starting from a zero state, step 0 skips
    that product. Backward writes the gate
    gradients of the running rows one step after another into one (S, 4H)
    matrix, S the number of running (step, row) pairs, so dWh, dWx and db come
    out of matrix products over those pairs only.
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
        # Pre-scaled so that one tanh over all 4H columns makes every gate:
        # sigmoid(a) = 0.5 * tanh(a / 2) + 0.5 for the blocks i, f and o. The
        # bias rides along as a row of Wx matched by a column of ones in X.
        scale = _lstm_gate_scale(xp, H, xs.dtype)
        X = self._work("X", (T, N, D + 1), xs)
        X[:, :, :D] = xs.transpose(1, 0, 2)
        X[:, :, D] = 1.0
        Wxb = self._work("Wxb", (D + 1, 4 * H), xs)
        Wxb[:D], Wxb[D] = Wx, b
        Wxb *= scale
        A = self._work("A", (T, N, 4 * H), xs)
        xp.matmul(X.reshape(T * N, D + 1), Wxb, out=A.reshape(T * N, 4 * H))
        WhT = self._work("WhT", (4 * H, H), xs)  # scaled Wh, transposed: (4H, H), contiguous
        xp.multiply(Wh.T, scale[:, None], out=WhT)
        hs = self._work("hs", (T + 1, N, H), xs)
        cs = self._work("cs", (T + 1, N, H), xs)
        tanh_c = self._work("tanh_c", (T, N, H), xs)
        hh = self._work("hh", (4 * H, N), xs)
        self._load_state(hs[0], self.h, order, xs, "hidden")
        self._load_state(cs[0], self.c, order, xs, "cell")
        from_zero = self.h is None
        for t in range(T):
            n = counts[t]
            a = A[t, :n]
            if t > 0 or not from_zero:  # from a zero state, h0 Wh is zero
                # (4H, H) x (H, n): on two or more cores BLAS runs this orientation fastest.
                a += (xp.matmul(WhT, hs[t].T, out=hh) if n == N else WhT @ hs[t, :n].T).T
            xp.tanh(a, out=a)
            for gate in (a[:, : 2 * H], a[:, 3 * H :]):  # sigmoid blocks i, f and o
                gate *= 0.5
                gate += 0.5
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            c = cs[t + 1, :n]
            xp.multiply(f, cs[t, :n], out=c)
            c += i * g
            xp.tanh(c, out=tanh_c[t, :n])
            xp.multiply(o, tanh_c[t, :n], out=hs[t + 1, :n])
            if n < N:  # finished rows keep their state; zeros keep backward's arithmetic finite
                A[t, n:] = 0.0
                tanh_c[t, n:] = 0.0
                hs[t + 1, n:] = hs[t, n:]
                cs[t + 1, n:] = cs[t, n:]
        self.cache = (X, A, hs, cs, tanh_c, order, inverse, counts, from_zero)
        out = hs[1:].transpose(1, 0, 2)  # (N, T, H), rows in packed order
        # A fresh array, never a view of the reused hs; each row back in the caller's place.
        out = out.copy() if order is None else out[inverse]
        h_T = c_T = None
        if self.stateful:
            h_T, c_T = hs[T], cs[T]
            if order is not None:
                h_T, c_T = h_T[inverse], c_T[inverse]
        self._keep_state(h_T, c_T)
        return out

    def _load_state(
        self, out: Array, state: Array | None, order: Array | None, like: Array, what: str
    ) -> None:
        """Write the state to start from, (N, H), into out (N, H), rows in packed order; None: zeros."""
        if state is None:
            out[...] = 0.0
            return
        state = self._initial(state, out.shape[0], like, what)
        out[...] = state if order is None else state[order]

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
                f"FusedTimeLSTM: lengths must be {N} integers between 0 and {T} (one per row), "
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
        T, N, H = tanh_c.shape
        D = X.shape[2] - 1
        if order is not None:
            dhs = dhs[order]
        dH = self._work("dH", (T, N, H), A)
        dH[...] = dhs.transpose(1, 0, 2)
        local, through_tanh = self._local_derivatives(A, hs, cs, tanh_c)
        f = A[:, :, H : 2 * H]
        # Step t's gate gradients go straight into their rows of dA (S, 4H):
        # one row per row still running at t, the steps one after another,
        # so the weight gradients below are products over all S rows at once.
        starts = [0]
        for n in counts:
            starts.append(starts[-1] + n)
        S = starts[-1]
        dA = self._work("dA", (S, 4 * H), A)
        dA4 = dA.reshape(S, 4, H)
        dhT = self._work("dhT", (H, N), A)
        dh = xp.zeros((N, H), dtype=A.dtype)
        dc = xp.zeros_like(dh)
        for t in range(T - 1, -1, -1):
            n, da = counts[t], dA4[starts[t] : starts[t + 1]]
            dh += dH[t]  # finished rows: the gradient flows on to their carried state
            dh_n, dc_n = dh[:n], dc[:n]
            dc_n += dh_n * through_tanh[t, :n]
            xp.multiply(dc_n[:, None, :], local[t, :n, :3], out=da[:, :3])
            xp.multiply(dh_n, local[t, :n, 3], out=da[:, 3])
            if t > 0 or not from_zero:  # a zero start state takes no gradient
                # (H, 4H) x (4H, n), the fast orientation, as in forward.
                da_T = da.reshape(n, 4 * H).T
                dh_n[...] = (xp.matmul(Wh, da_T, out=dhT) if n == N else Wh @ da_T).T
                dc_n *= f[t, :n]
        # Inputs of every running (step, row): h_{t-1} (S, H) and [x_t, 1] (S, D + 1).
        H_in, X_in = self._rows(hs[:-1], counts, starts, "H_in"), self._rows(X, counts, starts, "X_in")
        xp.matmul(H_in.T, dA, out=self.grads[1])
        dWxb = xp.matmul(X_in.T, dA, out=self._work("dWxb", (D + 1, 4 * H), A))
        self.grads[0][...], self.grads[2][...] = dWxb[:D], dWxb[D]
        dX = xp.matmul(dA, Wx.T, out=self._work("dX", (S, D), A))
        if S == T * N:  # every row ran every step
            dxs = dX.reshape(T, N, D).transpose(1, 0, 2)
            dxs = dxs.copy() if order is None else dxs[inverse]
        else:
            dxs = xp.zeros((N, T, D), dtype=A.dtype)  # finished rows' inputs have no gradient
            for t in range(T):
                dxs[: counts[t], t] = dX[starts[t] : starts[t + 1]]
            if order is not None:
                dxs = dxs[inverse]
        self.dh, self.dc = (
            (None, None) if from_zero else (self._unpack(dh, inverse), self._unpack(dc, inverse))
        )
        return dxs

    @staticmethod
    def _unpack(state: Array, inverse: Array | None) -> Array:
        """A state (N, H) in packed row order, back in the caller's order."""
        return state if inverse is None else state[inverse]

    def _rows(self, src: Array, counts: list[int], starts: list[int], name: str) -> Array:
        """The running rows of src (T, N, K), step after step, as one (S, K) matrix."""
        T, N, K = src.shape
        if starts[-1] == T * N:  # every row runs every step: already in that order
            return src.reshape(T * N, K)
        out = self._work(name, (starts[-1], K), src)
        for t in range(T):
            out[starts[t] : starts[t + 1]] = src[t, : counts[t]]
        return out

    def _local_derivatives(self, A: Array, hs: Array, cs: Array, tanh_c: Array) -> tuple[Array, Array]:
        """Every step's local derivatives at once: (T, N, 4, H) and (T, N, H).

        d a_gate = dc * local[i, f, g] or dh * local[o]; dc += dh * through_tanh.
        Written in place, without temporaries, the steps shared among the CPU's
        cores. With h = o tanh(c) already in hs: tanh(c) o(1-o) = h(1-o) and
        o(1-tanh(c)^2) = o - h tanh(c).
        """
        xp = backend.array_module(A)
        T, N, H = tanh_c.shape
        local4 = self._work("local", (T, N, 4, H), A)
        through_tanh = self._work("through_tanh", tanh_c.shape, A)  # o - h tanh(c)

        def steps(t0: int, t1: int) -> None:
            a, local = A[t0:t1], local4[t0:t1].reshape(t1 - t0, N, 4 * H)
            i, g, o = a[:, :, :H], a[:, :, 2 * H : 3 * H], a[:, :, 3 * H :]
            h = hs[t0 + 1 : t1 + 1]
            sig = local[:, :, : 2 * H]  # i(1-i) g and f(1-f) c_prev
            xp.subtract(1.0, a[:, :, : 2 * H], out=sig)
            sig *= a[:, :, : 2 * H]
            local[:, :, :H] *= g
            local[:, :, H : 2 * H] *= cs[t0:t1]
            dg = local[:, :, 2 * H : 3 * H]  # i(1-g^2)
            xp.multiply(g, g, out=dg)
            xp.subtract(1.0, dg, out=dg)
            dg *= i
            do = local[:, :, 3 * H :]  # h(1-o)
            xp.subtract(1.0, o, out=do)
            do *= h
            tt = through_tanh[t0:t1]
            xp.multiply(h, tanh_c[t0:t1], out=tt)
            xp.subtract(o, tt, out=tt)

        row_blocks.for_row_blocks(steps, T, 12 * A.size, parallel=xp is backend.host())
        return local4, through_tanh


class TimeBiLSTM:
    """A bidirectional LSTM: one FusedTimeLSTM reads left to right, one right to left.

    Wx1, Wh1, b1 (forward direction) and Wx2, Wh2, b2 (backward direction), each
    shaped as for TimeLSTM. forward(xs (N, T, D)) -> (N, T, 2H): at every step
    the forward direction's h (first H) next to the backward direction's h.
    backward(dhs (N, T, 2H)) -> dxs (N, T, D). Each call reads a whole
    sequence, so there is no state carried between calls.
    """

    param_names = ("Wx_fwd", "Wh_fwd", "b_fwd", "Wx_bwd", "Wh_bwd", "b_bwd")

    def __init__(self, Wx1: Array, Wh1: Array, b1: Array, Wx2: Array, Wh2: Array, b2: Array) -> None:
        self.forward_lstm = FusedTimeLSTM(Wx1, Wh1, b1)
        self.backward_lstm = FusedTimeLSTM(Wx2, Wh2, b2)
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


# --------------------------------------------------------------------------
# Input checks, installed around the chapter's answer above (see course.validate.guard).
# --------------------------------------------------------------------------


def _check_time_lstm_forward(self: Any, xs: Array) -> None:
    """xs (N, T, D) floats with the D of Wx; a state to start from must be (N, H)."""
    TimeRecurrent._check_inputs(self, xs)
    for state, what in ((self.h, "hidden"), (self.c, "cell")):
        if state is not None:
            TimeRecurrent._initial(self, state, xs.shape[0], xs, what)


def _check_time_lstm_backward(self: Any, dhs: Array) -> None:
    validate.check_backward_ready(self.layers or None, "TimeLSTM")
    validate.check_dout(dhs, self._out_shape, "TimeLSTM", "dhs")


validate.guard(TimeLSTM, forward=_check_time_lstm_forward, backward=_check_time_lstm_backward)
