"""A live figure of gradient norms and the loss while a model trains.

``Trainer.fit`` and ``RnnlmTrainer.fit`` call a monitor's ``start``,
``update`` (every ``eval_interval`` iterations) and ``finish`` with their
:class:`course.train.History`. :class:`GradientNormMonitor` turns that into two
panels: the global gradient norm before and after clipping with the clip
threshold (and one parameter's norms, picked from a dropdown), and the loss
or perplexity.

Drawing a figure costs far more than a training step of a small model, so
the monitor rations it: it redraws at most every ``every`` iterations, and
only while the time spent drawing, counting the final draw still to come,
stays under ``max_share`` of the time the run has taken (5% by default).
The last state is always drawn when training ends, so a run shorter than
about 20 draws' time (a few seconds) pays for that one draw alone.
"""

from __future__ import annotations

import math
import time
from typing import Any

import ipywidgets as widgets

from course import backend
from course.widgets.figure import FigureWidget, in_kernel, log_y

Array = Any
NO_PARAM = "(none)"


def _binned(values: Array, size: int, how: str) -> Array:
    """Reduce consecutive runs of ``size`` values (the last may be shorter) to their max or mean."""
    np = backend.host()
    if size <= 1:
        return values
    starts = np.arange(0, len(values), size)
    if how == "max":
        return np.maximum.reduceat(values, starts)
    counts = np.diff(np.append(starts, len(values)))
    return np.add.reduceat(values, starts) / counts


class GradientNormMonitor(FigureWidget):
    """Gradient norms (before / after clipping) and the loss, live while a trainer runs.

    Example: ``trainer.fit(x, t, max_grad=5.0, monitor=GradientNormMonitor(every=20))``.

    Args:
        every: redraw at most every this many iterations (the trainer reports
            every ``eval_interval`` iterations, so both bound the rate).
        param: the parameter whose norms are shown first (the ``param``
            dropdown changes it; ``None`` shows only the global norm).
        log: log scale for the gradient norms (the ``log`` checkbox).
        perplexity: show exp(loss) instead of the loss (the ``metric`` toggle).
        max_share: most of the run's time that drawing may take (None: no
            limit, draw every ``every`` iterations however long it takes).
        max_points: longer runs are drawn in bins (the max norm and the mean
            loss of each bin), so a spike is never hidden.

    ``GradientNormMonitor.from_history(history)`` shows a finished run. The
    data behind the figure is ``lines``: "iteration" (I,), "grad_norm",
    "grad_norm_clipped", "max_grad", "param", "param_norm",
    "param_norm_clipped", "loss" (loss or perplexity per iteration),
    "eval_iteration" and "eval_loss" (the averaged points). Outside a
    notebook, ``show_static()`` draws the same figure.
    """

    _last_cost = 0.15  # seconds of the last draw of any monitor: a new monitor's first guess
    figsize = (9.5, 3.4)
    dpi = 80
    layout = None  # a fixed layout: much cheaper to redraw than "constrained"

    def __init__(
        self,
        every: int = 20,
        param: str | None = None,
        log: bool = True,
        perplexity: bool = False,
        max_share: float | None = 0.05,
        max_points: int = 1000,
    ) -> None:
        if every < 1:
            raise ValueError(f"every must be at least 1 iteration, got {every}.")
        if max_share is not None and not 0 < max_share < 1:
            raise ValueError(
                f"max_share must be between 0 and 1 (a share of the run's time), got {max_share}."
            )
        super().__init__()
        self.every, self.max_share, self.max_points = int(every), max_share, int(max_points)
        self.param = widgets.Dropdown(options=[NO_PARAM], value=NO_PARAM, description="parameter")
        self._wanted_param = param
        self.log = widgets.Checkbox(value=log, description="log scale")
        self.metric = widgets.ToggleButtons(
            options=["loss", "perplexity"], value="perplexity" if perplexity else "loss"
        )
        self.controls = [self.param, self.log, self.metric]
        self.history: Any = None
        self.lines: dict[str, Any] = {}
        self._make_axes()
        self._build()
        self._watch(*self.controls)
        self._shown = False
        self._handle: Any = None
        self._drawn_at = 0  # iterations in the history at the last draw
        self.drawn_at: list[int] = []  # the same, for every draw so far
        self._start = time.perf_counter()
        self._draw_seconds = 0.0
        self._cost = GradientNormMonitor._last_cost  # expected seconds per draw, refined by every draw

    @classmethod
    def from_history(cls, history: Any, **options: Any) -> GradientNormMonitor:
        """A monitor showing a finished run's History (display it, or call ``show_static()``)."""
        monitor = cls(**options)
        monitor._attach(history)
        monitor.update_figure()
        return monitor

    # -------------------------------------------------------------- trainer hooks

    def start(self, history: Any) -> None:
        """Called by the trainer before the first iteration: show the (empty) widget."""
        self._attach(history)
        self._start, self._draw_seconds = time.perf_counter(), 0.0
        self.message.value = "training ... the figure appears after the first iterations"
        if in_kernel() and not self._shown:
            from IPython.display import display  # noqa: PLC0415

            self._handle = display(self, display_id=True)
            self._shown = True

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        self._shown = True  # shown by hand before training: start() does not show it again
        return super()._repr_mimebundle_(include, exclude)

    def update(self, history: Any = None) -> None:
        """Called by the trainer every eval_interval iterations: redraw when it is time."""
        if history is not None and history is not self.history:
            self._attach(history)
        if self.history is None or len(self.history) - self._drawn_at < self.every:
            return
        if self.max_share is not None:
            # Room for this draw and for the final one that finish() always makes.
            elapsed = time.perf_counter() - self._start
            if self._draw_seconds + 2 * self._cost > self.max_share * elapsed:
                return
        self.update_figure()

    def finish(self, history: Any) -> None:
        """Called by the trainer when training ends (or stops): draw the final state."""
        if history is not self.history:
            self._attach(history)
        if len(self.history) != self._drawn_at or not self.image.value:
            self.update_figure()
        if self._handle is not None:
            self._handle.update(self)  # the saved notebook's static copy shows the final figure

    # -------------------------------------------------------------- data

    def _attach(self, history: Any) -> None:
        self.history = history
        names = [NO_PARAM, *history.param_names]
        if self._wanted_param is not None and self._wanted_param not in names:
            raise ValueError(
                f"GradientNormMonitor(param={self._wanted_param!r}): the model has no parameter of that "
                f"name; choose one of {history.param_names} (or None)."
            )
        if list(self.param.options) != names:
            wanted = self._wanted_param if self._wanted_param in names else self.param.value
            with self.hold_refresh():
                self.param.options = names
                self.param.value = wanted if wanted in names else NO_PARAM

    def compute(self) -> None:
        np = backend.host()
        h = self.history
        n = len(h) if h is not None else 0
        size = max(1, math.ceil(n / self.max_points))
        perplexity = self.metric.value == "perplexity"
        name = self.param.value if self.param.value != NO_PARAM else None
        lines: dict[str, Any] = {"param": name, "max_grad": getattr(h, "max_grad", None), "bin": size}
        if n == 0:
            empty = np.zeros(0)
            lines.update(
                iteration=empty, grad_norm=empty, grad_norm_clipped=empty, param_norm=None,
                param_norm_clipped=None, loss=empty, eval_iteration=empty, eval_loss=empty,
            )  # fmt: skip
            self.lines = lines
            return
        iteration = np.arange(1, n + 1)
        if size > 1:
            iteration = np.minimum(np.arange(size, n + size, size), n)
        norms, clipped = h.param_norms, h.param_norms_clipped
        lines["iteration"] = iteration
        lines["grad_norm"] = _binned(np.sqrt((norms**2).sum(axis=1)), size, "max")
        lines["grad_norm_clipped"] = _binned(np.sqrt((clipped**2).sum(axis=1)), size, "max")
        col = h.param_names.index(name) if name is not None else None
        lines["param_norm"] = _binned(norms[:, col], size, "max") if col is not None else None
        lines["param_norm_clipped"] = _binned(clipped[:, col], size, "max") if col is not None else None
        loss = _binned(h.loss, size, "mean")
        eval_loss = np.asarray(h.eval_losses, dtype=float)
        if perplexity:
            loss, eval_loss = np.exp(np.minimum(loss, 700.0)), np.exp(np.minimum(eval_loss, 700.0))
        lines["loss"] = loss
        lines["eval_iteration"] = np.asarray(h.eval_iterations, dtype=int)
        lines["eval_loss"] = eval_loss
        self.lines = lines
        self.note = self._status(h, n)

    def _status(self, h: Any, n: int) -> str:
        text = f"iteration {n:,} · loss {h.loss[-1]:.4g} · gradient norm {self.lines['grad_norm'][-1]:.3g}"
        if h.max_grad is not None:
            text += f" · clipped in {100 * h.clipped_fraction:.0f}% of iterations (max_grad = {h.max_grad:g})"
        return text

    def summary(self) -> str:
        n = len(self.history) if self.history is not None else 0
        return f"gradient norms of {n} iterations"

    # -------------------------------------------------------------- drawing

    def _on_change(self, change: Any = None) -> None:
        if not self._holding:
            self.update_figure()

    def update_figure(self) -> None:
        """Recompute the lines from the History and redraw now (no rationing)."""
        began = time.perf_counter()
        self.refresh()
        self._cost = GradientNormMonitor._last_cost = time.perf_counter() - began
        self._draw_seconds += self._cost
        self._drawn_at = len(self.history) if self.history is not None else 0
        self.drawn_at.append(self._drawn_at)

    def _make_axes(self) -> None:
        fig = self.figure
        fig.subplots_adjust(left=0.07, right=0.99, bottom=0.15, top=0.8, wspace=0.22)
        self.ax_norm, self.ax_loss = fig.subplots(1, 2, width_ratios=[3, 2])
        ax = self.ax_norm
        (self._before,) = ax.plot([], [], color="C3", lw=0.9, label="global, before clipping")
        (self._after,) = ax.plot([], [], color="C0", lw=0.9, label="global, after clipping")
        (self._p_before,) = ax.plot([], [], color="C2", lw=0.9, label="parameter")
        (self._p_after,) = ax.plot([], [], color="C2", lw=0.9, ls="--", label="parameter, after")
        self._threshold = ax.axhline(1.0, color="k", ls="--", lw=0.8, label="max_grad")
        ax.set_xlabel("iteration")
        ax.set_ylabel("gradient norm")
        (self._loss,) = self.ax_loss.plot([], [], color="0.7", lw=0.7, label="per iteration")
        (self._eval,) = self.ax_loss.plot([], [], color="C0", lw=1.6, label="average")
        self.ax_loss.set_xlabel("iteration")

    def draw(self) -> None:
        lines, ax = self.lines, self.ax_norm
        it = lines.get("iteration", [])
        self._before.set_data(it, lines.get("grad_norm", []))
        self._after.set_data(it, lines.get("grad_norm_clipped", []))
        shown = [self._before, self._after]
        name = lines.get("param")
        for line, key, suffix in (
            (self._p_before, "param_norm", ""),
            (self._p_after, "param_norm_clipped", ", after"),
        ):
            visible = name is not None and lines.get(key) is not None
            line.set_visible(visible)
            if visible:
                line.set_data(it, lines[key])
                line.set_label(f"{name}{suffix}")
                shown.append(line)
        max_grad = lines.get("max_grad")
        self._threshold.set_visible(max_grad is not None)
        if max_grad is not None:
            self._threshold.set_ydata([max_grad, max_grad])
            self._threshold.set_label(f"max_grad = {max_grad:g}")
            shown.append(self._threshold)
        if self.log.value != (ax.get_yscale() == "log"):
            if self.log.value:
                log_y(ax)
            else:
                ax.set_yscale("linear")
        ax.relim(visible_only=True)
        ax.autoscale_view()
        # Above the axes, so it never hides a spike.
        ax.legend(
            handles=shown, fontsize=8, ncols=3, loc="lower left", bbox_to_anchor=(0, 1.01), frameon=False
        )
        metric = self.metric.value
        self._loss.set_data(it, lines.get("loss", []))
        self._eval.set_data(lines.get("eval_iteration", []), lines.get("eval_loss", []))
        self.ax_loss.relim()
        self.ax_loss.autoscale_view()
        self.ax_loss.set_title(metric, fontsize=10)
        self.ax_loss.legend(fontsize=8, loc="upper right")
