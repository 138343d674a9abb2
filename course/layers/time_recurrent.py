"""What every recurrent Time layer shares: the state carried between calls, and a checkable initial state.

The recurrent layers keep the hidden state between calls when ``stateful=True``
(truncated BPTT: the state flows forward, the gradient stops at the block
boundary). ``reset_state()`` forgets it; ``set_state(h[, c])`` sets the state
the next forward starts from; after ``backward`` the gradient with respect to
that initial state is in ``dh`` (and ``dc`` for the LSTM).

``WithInitialState(layer)`` makes that initial state an input, so
``course.gradcheck.check_layer`` can check the gradient flowing into it.
"""

from __future__ import annotations

from typing import Any

from course import backend, validate
from course.layers.time import time_major

Array = Any


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
