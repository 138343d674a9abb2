"""One-step recurrent cells: RNN, LSTM and GRU.

Each cell computes a single time step for a batch of N sequences; the
``Time*`` layers (:mod:`course.layers.time_rnn` and its siblings) run T of these steps at once.
The cells keep the book's signatures so a reader can follow the chapters:

* ``RNN(Wx, Wh, b)``: ``forward(x, h_prev) -> h_next``,
  ``backward(dh_next) -> (dx, dh_prev)``;
* ``LSTM(Wx, Wh, b)``: ``forward(x, h_prev, c_prev) -> (h_next, c_next)``,
  ``backward(dh_next, dc_next) -> (dx, dh_prev, dc_prev)``;
* ``GRU(Wx, Wh, b)``: ``forward(x, h_prev) -> h_next``,
  ``backward(dh_next) -> (dx, dh_prev)``.

Shapes: N batch, D input features, H hidden units. Parameter gradients are
written into ``grads`` in place, as for every layer of the course.

Gate layouts (columns of Wx, Wh and b, in blocks of H):

* LSTM: ``[i, f, g, o]`` - input gate, forget gate, cell candidate, output
  gate (the order PyTorch uses);
* GRU: ``[z, r, h~]`` - update gate, reset gate, candidate state.
"""

from __future__ import annotations

from typing import Any

from course import backend, validate
from course.answers import model_answer
from course.functions import sigmoid

Array = Any


def zeros_like_all(*arrays: Array) -> list[Array]:
    """One zero array per argument, same shape, dtype and device (a cell's ``grads``)."""
    xp = backend.array_module(*arrays)
    return [xp.zeros_like(a) for a in arrays]


def check_gate_shapes(name: str, Wx: Array, Wh: Array, b: Array, gates: int) -> None:
    """Fail early, in words, when the weights do not fit together.

    With H = Wh.shape[0] and G = ``gates``: Wx must be (D, G*H), Wh (H, G*H), b (G*H,).
    """
    for w, shape in ((Wx, "(D, G*H)"), (Wh, "(H, G*H)"), (b, "(G*H,)")):
        validate.check_float(
            w, name, "every weight", shape, "Weights must be floats, e.g. W.astype(np.float32)."
        )
    H = Wh.shape[0]
    expected = (gates * H,)
    if Wh.ndim != 2 or Wh.shape != (H, gates * H) or Wx.shape[1:] != expected or b.shape != expected:
        raise ValueError(
            f"{name}: with H = Wh.shape[0] = {H} hidden units, Wx must be (D, {gates * H}), "
            f"Wh ({H}, {gates * H}) and b ({gates * H},); got Wx {Wx.shape}, Wh {Wh.shape}, b {b.shape}."
        )


@model_answer(
    "rnn",
    chapter="ch05",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.time_rnn:FusedTimeRNN",),
)
class RNN:
    """The simple (Elman) recurrent cell: h_next = tanh(x Wx + h_prev Wh + b).

    Wx: (D, H), Wh: (H, H), b: (H,).
    forward(x (N, D), h_prev (N, H)) -> h_next (N, H).
    backward(dh_next (N, H)) -> (dx (N, D), dh_prev (N, H)).
    """

    param_names = ("Wx", "Wh", "b")

    def __init__(self, Wx: Array, Wh: Array, b: Array) -> None:
        check_gate_shapes("RNN", Wx, Wh, b, 1)
        self.params = [Wx, Wh, b]
        self.grads = zeros_like_all(Wx, Wh, b)
        self.cache: tuple | None = None

    def forward(self, x: Array, h_prev: Array) -> Array:
        xp = backend.array_module(x, h_prev)
        Wx, Wh, b = self.params
        h_next = xp.tanh(x @ Wx + h_prev @ Wh + b)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next: Array) -> tuple[Array, Array]:
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        da = dh_next * (1.0 - h_next * h_next)
        self.grads[0][...] = x.T @ da
        self.grads[1][...] = h_prev.T @ da
        self.grads[2][...] = da.sum(axis=0)
        return da @ Wx.T, da @ Wh.T


@model_answer(
    "lstm",
    chapter="ch06",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.time_lstm:FusedTimeLSTM",),
)
class LSTM:
    """Long short-term memory cell.

    Wx: (D, 4H), Wh: (H, 4H), b: (4H,), gate blocks ``[i, f, g, o]``:
    a = x Wx + h_prev Wh + b; i, f, o = sigmoid(a_i, a_f, a_o); g = tanh(a_g);
    c_next = f * c_prev + i * g; h_next = o * tanh(c_next).

    forward(x (N, D), h_prev (N, H), c_prev (N, H)) -> (h_next, c_next), both (N, H).
    backward(dh_next, dc_next) -> (dx (N, D), dh_prev (N, H), dc_prev (N, H)).
    """

    param_names = ("Wx", "Wh", "b")

    def __init__(self, Wx: Array, Wh: Array, b: Array) -> None:
        check_gate_shapes("LSTM", Wx, Wh, b, 4)
        self.params = [Wx, Wh, b]
        self.grads = zeros_like_all(Wx, Wh, b)
        self.cache: tuple | None = None

    def forward(self, x: Array, h_prev: Array, c_prev: Array) -> tuple[Array, Array]:
        xp = backend.array_module(x, h_prev, c_prev)
        Wx, Wh, b = self.params
        H = Wh.shape[0]
        a = x @ Wx + h_prev @ Wh + b
        i, f = sigmoid(a[:, :H]), sigmoid(a[:, H : 2 * H])
        g, o = xp.tanh(a[:, 2 * H : 3 * H]), sigmoid(a[:, 3 * H :])
        c_next = f * c_prev + i * g
        tanh_c = xp.tanh(c_next)
        h_next = o * tanh_c
        self.cache = (x, h_prev, c_prev, i, f, g, o, tanh_c)
        return h_next, c_next

    def backward(self, dh_next: Array, dc_next: Array) -> tuple[Array, Array, Array]:
        xp = backend.array_module(dh_next, dc_next)
        Wx, Wh, _ = self.params
        x, h_prev, c_prev, i, f, g, o, tanh_c = self.cache
        dc = dc_next + dh_next * o * (1.0 - tanh_c * tanh_c)
        da = xp.concatenate(
            [
                dc * g * i * (1.0 - i),
                dc * c_prev * f * (1.0 - f),
                dc * i * (1.0 - g * g),
                dh_next * tanh_c * o * (1.0 - o),
            ],
            axis=1,
        )
        self.grads[0][...] = x.T @ da
        self.grads[1][...] = h_prev.T @ da
        self.grads[2][...] = da.sum(axis=0)
        return da @ Wx.T, da @ Wh.T, dc * f


@model_answer(
    "gru",
    chapter="ch06",
    methods=("forward", "backward"),
    derivation=True,
    twins=("course.layers.time_gru:TimeGRU",),
)
class GRU:
    """Gated recurrent unit (Cho et al., 2014), with biases.

    Wx: (D, 3H), Wh: (H, 3H), b: (3H,), blocks ``[z, r, h~]``:
    z = sigmoid(x Wx_z + h Wh_z + b_z); r = sigmoid(x Wx_r + h Wh_r + b_r);
    h~ = tanh(x Wx_h + (r * h) Wh_h + b_h); h_next = (1 - z) * h + z * h~.

    forward(x (N, D), h_prev (N, H)) -> h_next (N, H).
    backward(dh_next (N, H)) -> (dx (N, D), dh_prev (N, H)).
    """

    param_names = ("Wx", "Wh", "b")

    def __init__(self, Wx: Array, Wh: Array, b: Array) -> None:
        check_gate_shapes("GRU", Wx, Wh, b, 3)
        self.params = [Wx, Wh, b]
        self.grads = zeros_like_all(Wx, Wh, b)
        self.cache: tuple | None = None

    def forward(self, x: Array, h_prev: Array) -> Array:
        xp = backend.array_module(x, h_prev)
        Wx, Wh, b = self.params
        H = Wh.shape[0]
        ax = x @ Wx + b
        zr = sigmoid(ax[:, : 2 * H] + h_prev @ Wh[:, : 2 * H])
        z, r = zr[:, :H], zr[:, H:]
        rh = r * h_prev
        h_hat = xp.tanh(ax[:, 2 * H :] + rh @ Wh[:, 2 * H :])
        h_next = h_prev + z * (h_hat - h_prev)
        self.cache = (x, h_prev, z, r, rh, h_hat)
        return h_next

    def backward(self, dh_next: Array) -> tuple[Array, Array]:
        xp = backend.array_module(dh_next)
        Wx, Wh, _ = self.params
        H = Wh.shape[0]
        x, h_prev, z, r, rh, h_hat = self.cache
        da_h = dh_next * z * (1.0 - h_hat * h_hat)
        drh = da_h @ Wh[:, 2 * H :].T
        da_z = dh_next * (h_hat - h_prev) * z * (1.0 - z)
        da_r = drh * h_prev * r * (1.0 - r)
        da_zr = xp.concatenate([da_z, da_r], axis=1)
        da = xp.concatenate([da_zr, da_h], axis=1)
        self.grads[0][...] = x.T @ da
        self.grads[1][:, : 2 * H] = h_prev.T @ da_zr
        self.grads[1][:, 2 * H :] = rh.T @ da_h
        self.grads[2][...] = da.sum(axis=0)
        dh_prev = dh_next * (1.0 - z) + drh * r + da_zr @ Wh[:, : 2 * H].T
        return da @ Wx.T, dh_prev


# --------------------------------------------------------------------------
# Input checks, installed around the chapters' answers above (see course.validate.guard).
# --------------------------------------------------------------------------


def _check_step(self: Any, x: Array, *states: Array) -> None:
    """x (N, D) and each state (N, H) against the weights."""
    who = f"{type(self).__name__}.forward"
    Wx, Wh = self.params[0], self.params[1]
    D, H = Wx.shape[0], Wh.shape[0]
    validate.check_numeric(x, who, "x", f"(N, D) with D = {D}")
    if x.ndim != 2 or x.shape[1] != D:
        raise validate.ShapeError(
            f"{who}: x has shape {tuple(x.shape)}, expected (N, D) with D = Wx.shape[0] = {D}: one time "
            "step of N sequences. (For (N, T, D) sequences use the Time layer.)"
        )
    names = ("h_prev", "c_prev")
    for name, state in zip(names, states, strict=False):
        validate.check_numeric(state, who, name, f"(N, H) = ({x.shape[0]}, {H})")
        validate.check_same_shape(
            state, (x.shape[0], H), who, name, "(N, H)", "One state row per row of x; start from zeros."
        )


def _check_step_backward(self: Any, *douts: Array) -> None:
    who = type(self).__name__
    validate.check_backward_ready(self.cache, who)
    shape = self.cache[1].shape  # h_prev: (N, H)
    for name, d in zip(("dh_next", "dc_next"), douts, strict=False):
        validate.check_dout(d, shape, who, name)


validate.guard(RNN, forward=_check_step, backward=_check_step_backward)
validate.guard(LSTM, forward=_check_step, backward=_check_step_backward)
validate.guard(GRU, forward=_check_step, backward=_check_step_backward)
