"""Watch a gradient travel back through time: exploding, vanishing, and what clipping does.

:func:`gradient_flow` runs a real forward and backward pass of the course's
cells (``course.layers.recurrent.RNN`` or ``LSTM``) over T steps and records
the norm of the gradient reaching every hidden state. The loss sits at the
last step: its gradient dh_T (N, H) has unit rows, and everything before is
what backpropagation through time delivers.

Wh is a random orthogonal matrix times ``scale``, so every singular value of
Wh (the largest included) equals ``scale``. With no activation, the
gradient k steps back is exactly scale**k: it explodes above 1 and vanishes
below. tanh saturates (its slope is at most 1), which tips the balance
towards vanishing; ReLU zeroes about half the units.

Clipping (``max_grad``) acts as ``Trainer`` does: after the backward pass the
whole parameter gradient is scaled down to norm ``max_grad``. That bounds
the size of the update (exploding fixed), but it scales every step's
gradient by the same factor: the far past still dominates an exploding
gradient, and a vanished one stays vanished.

:class:`GradientFlowExplorer` puts sliders on all of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets

from course import backend
from course.layers.recurrent import LSTM, RNN
from course.optim import clip_rate
from course.widgets.figure import FigureWidget, log_y

Array = Any
ACTIVATIONS = ("tanh", "relu", "none")
CELLS = ("RNN", "LSTM")


class ActivationRNN(RNN):
    """The plain RNN cell with another activation: h_next = act(x Wx + h_prev Wh + b).

    activation: "relu" (max(a, 0)) or "none" (the identity); for tanh use
    :class:`course.layers.recurrent.RNN` itself. Shapes as for RNN:
    forward(x (N, D), h_prev (N, H)) -> h_next (N, H);
    backward(dh_next (N, H)) -> (dx (N, D), dh_prev (N, H)).
    """

    def __init__(self, Wx: Array, Wh: Array, b: Array, activation: str = "relu") -> None:
        if activation not in ("relu", "none"):
            raise ValueError(f"activation must be 'relu' or 'none' (tanh is RNN itself), got {activation!r}.")
        super().__init__(Wx, Wh, b)
        self.activation = activation

    def forward(self, x: Array, h_prev: Array) -> Array:
        xp = backend.array_module(x, h_prev)
        Wx, Wh, b = self.params
        a = x @ Wx + h_prev @ Wh + b
        self.cache = (x, h_prev, a)
        return xp.maximum(a, 0.0) if self.activation == "relu" else a

    def backward(self, dh_next: Array) -> tuple[Array, Array]:
        Wx, Wh, _ = self.params
        x, h_prev, a = self.cache
        da = dh_next * (a > 0) if self.activation == "relu" else dh_next
        self.grads[0][...] = x.T @ da
        self.grads[1][...] = h_prev.T @ da
        self.grads[2][...] = da.sum(axis=0)
        return da @ Wx.T, da @ Wh.T


@dataclass
class GradientFlow:
    """The gradient norms of one backward pass through T steps.

    norms: (T,) mean over the N sequences of ||dL/dh_t||, t = 1..T (the loss is at T).
    cell_norms: (T,) the same for the LSTM cell state c_t (None for the RNN).
    grad_norm: global norm of the parameter gradient (Wx, Wh, b summed over
    time) of the mean loss over the N sequences.
    rate: the clipping factor (1.0 when clipping is off or not needed);
    norms_clipped = rate * norms and grad_norm_clipped = rate * grad_norm.
    inputs: what the pass ran on, for checking it: "Wx", "Wh", "b", "xs"
    (T, N, D) and "dh" (N, H), the gradient the loss sends to h_T.
    """

    norms: Array
    cell_norms: Array | None
    grad_norm: float
    rate: float
    max_grad: float | None
    inputs: dict[str, Array] = field(default_factory=dict)

    @property
    def norms_clipped(self) -> Array:
        return self.norms * self.rate

    @property
    def grad_norm_clipped(self) -> float:
        return self.grad_norm * self.rate

    @property
    def growth(self) -> float:
        """||dh_1|| / ||dh_T||: far above 1 exploding, far below vanishing."""
        return float(self.norms[0] / self.norms[-1])


def _orthogonal(gen: Any, H: int) -> Array:
    """A random (H, H) orthogonal matrix (QR of a Gaussian, signs fixed)."""
    np = backend.host()
    q, r = np.linalg.qr(gen.standard_normal((H, H)))
    return q * np.sign(np.diag(r))


def gradient_flow(
    cell: str = "RNN",
    scale: float = 1.0,
    T: int = 40,
    activation: str = "tanh",
    forget_bias: float = 2.0,
    max_grad: float | None = None,
    hidden_size: int = 32,
    batch_size: int = 16,
    input_size: int = 8,
    input_scale: float = 0.1,
    seed: int = 0,
) -> GradientFlow:
    """One forward and backward pass of an RNN or LSTM over T steps; the gradient norm at every step.

    Shapes: N = batch_size sequences of T inputs (N, D) with D = input_size
    (Gaussian, std ``input_scale``), H = hidden_size. Wh is orthogonal times
    ``scale`` (each (H, H) gate block of the LSTM's (H, 4H) Wh too); Wx (D, H)
    or (D, 4H) is Gaussian / sqrt(D); biases are 0 except the LSTM's forget
    gate (``forget_bias``). The same ``seed`` gives the same weights and
    inputs, so only the knob you turn changes. Returns a :class:`GradientFlow`.
    """
    cell = cell.upper()
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}.")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}.")
    if T < 1:
        raise ValueError(f"T must be at least 1, got {T}.")
    if max_grad is not None and not max_grad > 0:
        raise ValueError(f"max_grad must be > 0 (or None for no clipping), got {max_grad}.")
    np = backend.host()
    gen = np.random.default_rng(seed)
    N, D, H = batch_size, input_size, hidden_size
    gates = 4 if cell == "LSTM" else 1
    Wh = np.concatenate([_orthogonal(gen, H) for _ in range(gates)], axis=1) * scale
    Wx = gen.standard_normal((D, gates * H)) / math.sqrt(D)
    b = np.zeros(gates * H)
    if cell == "LSTM":
        b[H : 2 * H] = forget_bias
    dh = gen.standard_normal((N, H))
    dh /= np.linalg.norm(dh, axis=1, keepdims=True)
    xs = gen.standard_normal((T, N, D)) * input_scale  # drawn last: a longer T extends the same inputs
    inputs = {"Wx": Wx, "Wh": Wh, "b": b, "xs": xs, "dh": dh.copy()}
    # One cell per step, all sharing Wx, Wh, b (each keeps its own cache and grads), as TimeRNN does.
    if cell == "LSTM":
        flow = _lstm_flow([LSTM(Wx, Wh, b) for _ in range(T)], xs, dh, max_grad)
    elif activation == "tanh":
        flow = _rnn_flow([RNN(Wx, Wh, b) for _ in range(T)], xs, dh, max_grad)
    else:
        flow = _rnn_flow([ActivationRNN(Wx, Wh, b, activation) for _ in range(T)], xs, dh, max_grad)
    flow.inputs = inputs
    return flow


def _clip(grad_sums: list[Array], batch_size: int, max_grad: float | None) -> tuple[float, float]:
    """Norm of the gradient of the mean loss over the batch, and the clipping factor for it."""
    total = math.sqrt(sum(float((g * g).sum()) for g in grad_sums)) / batch_size
    return total, (clip_rate(total, max_grad) if max_grad is not None else 1.0)


def _rnn_flow(steps: list[Any], xs: Array, dh: Array, max_grad: float | None) -> GradientFlow:
    np = backend.host()
    T, N = xs.shape[0], xs.shape[1]
    h = np.zeros((N, dh.shape[1]))
    for step, x in zip(steps, xs, strict=True):
        h = step.forward(x, h)
    norms = np.empty(T)
    grad_sums = [np.zeros_like(p) for p in steps[0].params]
    for t in range(T - 1, -1, -1):
        norms[t] = np.linalg.norm(dh, axis=1).mean()
        _, dh = steps[t].backward(dh)
        for total, g in zip(grad_sums, steps[t].grads, strict=True):
            total += g
    grad_norm, rate = _clip(grad_sums, N, max_grad)
    return GradientFlow(norms, None, grad_norm, rate, max_grad)


def _lstm_flow(steps: list[Any], xs: Array, dh: Array, max_grad: float | None) -> GradientFlow:
    np = backend.host()
    T, N = xs.shape[0], xs.shape[1]
    h = c = np.zeros((N, dh.shape[1]))
    for step, x in zip(steps, xs, strict=True):
        h, c = step.forward(x, h, c)
    norms, cell_norms = np.empty(T), np.empty(T)
    dc = np.zeros_like(dh)
    grad_sums = [np.zeros_like(p) for p in steps[0].params]
    for t in range(T - 1, -1, -1):
        norms[t] = np.linalg.norm(dh, axis=1).mean()
        cell_norms[t] = np.linalg.norm(dc, axis=1).mean()
        _, dh, dc = steps[t].backward(dh, dc)
        for total, g in zip(grad_sums, steps[t].grads, strict=True):
            total += g
    grad_norm, rate = _clip(grad_sums, N, max_grad)
    return GradientFlow(norms, cell_norms, grad_norm, rate, max_grad)


def _verdict(growth: float) -> str:
    if growth > 10:
        return "exploding"
    if growth < 0.1:
        return "vanishing"
    return "steady"


class GradientFlowExplorer(FigureWidget):
    """Sliders for the backward pass of an RNN (or LSTM) over T steps; ||dh_t|| against t on a log axis.

    Example: ``GradientFlowExplorer()`` as the last line of a notebook cell.

    Controls: ``cell`` (RNN / LSTM), ``activation`` (tanh / relu / none,
    RNN only), ``scale`` (every singular value of Wh), ``T``, ``forget_bias``
    (LSTM only), ``clip`` and ``max_grad``. Set a control's ``.value`` and the
    figure is recomputed. The data behind the figure: ``flow`` (the
    :class:`GradientFlow` shown), ``norms`` (T,) ||dh_t||, ``norms_clipped``,
    ``cell_norms`` (T,) ||dc_t|| for the LSTM, ``rnn_norms`` (T,) the plain
    tanh RNN at the same scale (shown beside the LSTM for comparison),
    ``steps`` (T,) the t of each point. Outside a notebook,
    ``show_static()`` draws the same figure.
    """

    figsize = (9.0, 3.6)

    def __init__(
        self,
        cell: str = "RNN",
        scale: float = 1.0,
        T: int = 40,
        activation: str = "tanh",
        clip: bool = False,
        max_grad: float = 5.0,
        forget_bias: float = 2.0,
        seed: int = 0,
        **sizes: int | float,
    ) -> None:
        super().__init__()
        self.seed, self.sizes = seed, sizes
        self.cell = widgets.ToggleButtons(options=list(CELLS), value=cell.upper(), description="cell")
        self.activation = widgets.Dropdown(
            options=list(ACTIVATIONS), value=activation, description="activation"
        )
        self.scale = widgets.FloatSlider(
            value=scale, min=0.5, max=2.5, step=0.05, description="scale of Wh", continuous_update=False
        )
        self.T = widgets.IntSlider(value=T, min=2, max=120, description="T", continuous_update=False)
        self.forget_bias = widgets.FloatSlider(
            value=forget_bias, min=-3.0, max=6.0, step=0.5, description="forget bias", continuous_update=False
        )
        self.clip = widgets.Checkbox(value=clip, description="clip gradients")
        self.max_grad = widgets.FloatLogSlider(
            value=max_grad, base=10, min=-2, max=3, step=0.25, description="max_grad", continuous_update=False
        )
        self.controls = [
            self.cell,
            self.activation,
            self.forget_bias,
            self.scale,
            self.T,
            self.clip,
            self.max_grad,
        ]
        self.flow: GradientFlow | None = None
        self.rnn_norms: Array | None = None
        self._build()
        self._watch(*self.controls)
        self.refresh()

    # -------------------------------------------------------------- data

    @property
    def norms(self) -> Array:
        return self.flow.norms

    @property
    def norms_clipped(self) -> Array:
        return self.flow.norms_clipped

    @property
    def cell_norms(self) -> Array | None:
        return self.flow.cell_norms

    @property
    def steps(self) -> Array:
        return backend.host().arange(1, len(self.flow.norms) + 1)

    def compute(self) -> None:
        lstm = self.cell.value == "LSTM"
        self.activation.disabled = lstm
        self.forget_bias.disabled = not lstm
        self.max_grad.disabled = not self.clip.value
        common = {"scale": self.scale.value, "T": self.T.value, "seed": self.seed, **self.sizes}
        max_grad = self.max_grad.value if self.clip.value else None
        self.flow = gradient_flow(
            self.cell.value,
            activation=self.activation.value,
            forget_bias=self.forget_bias.value,
            max_grad=max_grad,
            **common,
        )
        self.rnn_norms = gradient_flow("RNN", activation="tanh", **common).norms if lstm else None
        self.note = self._explain()

    def _explain(self) -> str:
        flow = self.flow
        what = _verdict(flow.growth)
        cell = "LSTM" if self.cell.value == "LSTM" else f"RNN ({self.activation.value})"
        text = (
            f"{cell}, scale of Wh {self.scale.value:g}, T = {self.T.value}: "
            f"the gradient reaching t = 1 is {flow.growth:.2g} times the one at t = T: <b>{what}</b>. "
            f"Parameter gradient norm {flow.grad_norm:.3g}."
        )
        if self.clip.value:
            if flow.rate < 1.0:
                text += (
                    f" Clipping scales the whole gradient by {flow.rate:.2g} to norm {flow.max_grad:g}: the "
                    "update is bounded, but every step shrinks by the same factor, so the far past still "
                    "dominates."
                )
            else:
                text += " Clipping does nothing here: the norm is below max_grad."
            if what == "vanishing":
                text += " Clipping only ever scales down: it cannot bring back a vanished gradient."
        return text

    def summary(self) -> str:
        flow = self.flow
        return f"{self.cell.value} T={self.T.value} scale={self.scale.value:g}: growth {flow.growth:.3g}"

    # -------------------------------------------------------------- drawing

    def draw(self) -> None:
        np = backend.host()
        flow, fig = self.flow, self.figure
        fig.clear()
        ax, bars = fig.subplots(1, 2, width_ratios=[3, 1])
        t = self.steps
        ax.plot(t, flow.norms, color="C3", lw=1.8, label="||dh_t||")
        if flow.cell_norms is not None:
            cell = np.where(flow.cell_norms > 0, flow.cell_norms, np.nan)  # c_T gets no gradient: no point
            ax.plot(t, cell, color="C2", lw=1.8, label="||dc_t|| (cell path)")
            ax.plot(t, self.rnn_norms, color="0.6", lw=1.2, ls="--", label="plain RNN (tanh), same scale")
        if self.clip.value:
            ax.plot(t, flow.norms_clipped, color="C0", lw=1.4, ls=":", label="||dh_t|| after clipping")
        log_y(ax)
        ax.set_xlabel("time step t (the loss is at t = T)")
        ax.set_ylabel("gradient norm")
        label = "LSTM" if self.cell.value == "LSTM" else f"RNN, {self.activation.value}"
        ax.set_title(f"{label}, scale of Wh = {self.scale.value:g}: {_verdict(flow.growth)}", fontsize=10)
        ax.legend(fontsize=8, loc="best")
        if self.clip.value:
            bars.bar(["before", "after"], [flow.grad_norm, flow.grad_norm_clipped], color=["C3", "C0"])
            bars.axhline(flow.max_grad, color="k", ls="--", lw=0.9, label=f"max_grad = {flow.max_grad:g}")
            bars.legend(fontsize=8)
        else:
            bars.bar(["no clipping"], [flow.grad_norm], color="C3")
        log_y(bars)
        values = [flow.grad_norm, flow.grad_norm_clipped] + ([flow.max_grad] if self.clip.value else [])
        bars.set_ylim(min(values) / 10, max(values) * 3)  # log bars need a floor below every bar
        bars.set_title("parameter gradient norm", fontsize=10)
