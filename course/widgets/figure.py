"""What every widget of the course shares: a matplotlib figure shown as a PNG among ipywidgets controls.

A :class:`FigureWidget` draws on a plain ``matplotlib.figure.Figure`` (not
pyplot, so nothing is shown twice or kept alive by pyplot) and puts the PNG
into an ``ipywidgets.Image``. Moving a control recomputes the data, redraws
the figure and replaces the image; the data behind the figure stays on the
object for tests and curious students.

Where widgets cannot render, the widget degrades honestly:

* its display carries a static PNG of the current figure beside the widget
  view, so a notebook exported to HTML or shown on a site without a kernel
  still shows the figure (frontends that render widgets pick the widget);
* ``show_static()`` draws the current state as an ordinary figure (shown in
  IPython, saved with ``path=``, and returned as a ``Figure``) in a script,
  a terminal or a notebook whose widget front-end is missing.
"""

from __future__ import annotations

import base64
import contextlib
import io
from collections.abc import Iterator
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def in_kernel() -> bool:
    """True inside a running Jupyter kernel (where widgets can be displayed)."""
    try:
        from IPython import get_ipython  # noqa: PLC0415 - IPython is optional outside notebooks
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _show_in_ipython(obj: Any) -> bool:
    """Display ``obj`` when running under IPython; False when there is no IPython shell."""
    try:
        from IPython import get_ipython  # noqa: PLC0415
        from IPython.display import display  # noqa: PLC0415
    except ImportError:
        return False
    if get_ipython() is None:
        return False
    display(obj)
    return True


class FigureWidget:
    """Base class: controls, a figure rendered to PNG, and a message line.

    Subclasses build ``self.controls`` (a list of ipywidgets), then call
    ``_build()``; they implement ``compute()`` (update the data from the
    controls) and ``draw()`` (draw that data on ``self.figure``).
    """

    figsize: tuple[float, float] = (8.0, 3.4)
    dpi: int = 80
    layout: str | None = "constrained"

    def __init__(self) -> None:
        self.figure = Figure(figsize=self.figsize, dpi=self.dpi, layout=self.layout)
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.message = widgets.HTML()
        self.controls: list[Any] = []
        self.widget: widgets.Box | None = None
        self.draw_count = 0
        self._holding = False

    # -------------------------------------------------------------- subclass API

    def compute(self) -> None:
        """Recompute the data behind the figure from the controls."""

    def draw(self) -> None:
        """Draw the current data on ``self.figure``."""
        raise NotImplementedError

    def _build(self, extra: list[Any] | None = None) -> None:
        """Lay out the controls above the figure; ``extra`` widgets go below it."""
        rows = [widgets.HBox(self.controls[i : i + 3]) for i in range(0, len(self.controls), 3)]
        self.widget = widgets.VBox([*rows, self.image, self.message, *(extra or [])])

    def _watch(self, *controls: Any) -> None:
        """Recompute and redraw whenever one of ``controls`` changes value."""
        for control in controls:
            control.observe(self._on_change, names="value")

    def _on_change(self, change: Any = None) -> None:
        if not self._holding:
            self.refresh()

    @contextlib.contextmanager
    def hold_refresh(self) -> Iterator[None]:
        """Change several controls at once; nothing is recomputed until the block ends."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False

    # -------------------------------------------------------------- drawing

    def refresh(self) -> None:
        """Recompute from the controls and redraw the figure."""
        self.compute()
        self.redraw()

    def redraw(self) -> None:
        """Draw the current data and put the PNG into the image widget."""
        self.draw()
        self.image.value = self.png()
        self.draw_count += 1

    def png(self) -> bytes:
        """The figure as PNG bytes (as it is now)."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=self.dpi)
        return buffer.getvalue()

    def show_static(self, path: str | None = None) -> Figure:
        """Draw the current state as a plain figure: shown in IPython, saved to ``path``, returned."""
        self.draw()
        if path is not None:
            self.figure.savefig(path, dpi=self.dpi)
        png = self.png()
        try:
            from IPython.display import Image  # noqa: PLC0415
        except ImportError:
            return self.figure
        _show_in_ipython(Image(data=png))
        return self.figure

    # -------------------------------------------------------------- display

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The widget view plus a static PNG for places where widgets cannot render."""
        if not self.image.value:
            self.redraw()
        bundle = dict(self.widget._repr_mimebundle_()) if self.widget is not None else {}
        bundle["image/png"] = base64.b64encode(bytes(self.image.value)).decode("ascii")
        bundle["text/plain"] = f"<{type(self).__name__}: {self.summary()}>"
        return bundle

    def summary(self) -> str:
        """One line saying what the figure shows (the plain-text view)."""
        return self.message.value or "figure"

    def display(self) -> None:
        """Show the widget in a notebook; elsewhere show the static figure."""
        if in_kernel():
            _show_in_ipython(self)
        else:
            self.show_static()
