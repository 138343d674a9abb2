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
* ``show_static()`` shows the current state as a picture (displayed under
  IPython, saved with ``path=``) in a script, a terminal or a notebook whose
  widget front-end is missing; ``static_figure()`` returns it as a
  matplotlib ``Figure``.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from course.files import atomic_write_bytes

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


def log_y(ax: Any) -> None:
    """Log scale on y with plain tick labels (0.01, 0.2, 5, 1e+06).

    Matplotlib's default log labels are typeset with mathtext, which makes a
    redraw several times slower.
    """
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0), numticks=8))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_locator(NullLocator())  # every tick costs a redraw: majors at 1, 2, 5 are enough


@functools.cache
def _characters_of(font_path: str) -> frozenset[int]:
    try:
        return frozenset(FT2Font(font_path).get_charmap())
    except (OSError, RuntimeError):  # a font file matplotlib lists but cannot open
        return frozenset()


def font_for(texts: Iterable[str]) -> font_manager.FontProperties | None:
    """A font that draws every character of ``texts``, or None when no installed font does.

    matplotlib's default font when it can; otherwise the first installed font
    that can (e.g. a CJK font for Chinese labels). With None, draw something
    else: the default font would show boxes and warn once per missing glyph.
    """
    needed = {ord(c) for text in texts for c in text if not c.isspace()}
    default = font_manager.FontProperties()
    if needed <= _characters_of(font_manager.findfont(default)):
        return default
    for entry in font_manager.fontManager.ttflist:
        # LastResort "has" every character, as a placeholder box: not a real fallback.
        if "LastResort" not in entry.fname and needed <= _characters_of(entry.fname):
            return font_manager.FontProperties(fname=entry.fname)
    return None


class FigureWidget:
    """Base class: controls, a figure rendered to PNG, and a message line.

    Subclasses build ``self.controls`` (a list of ipywidgets), then call
    ``_build()``; they implement ``compute()`` (update the data from the
    controls, and ``self.note``, the line shown under the figure) and
    ``draw()`` (draw that data on ``self.figure``). ``refresh()`` does both.
    """

    figsize: tuple[float, float] = (8.0, 3.4)
    dpi: int = 80
    layout: str | None = "constrained"

    def __init__(self) -> None:
        self.figure = Figure(figsize=self.figsize, dpi=self.dpi, layout=self.layout)
        # Shown at its own pixel size: a PNG stretched to the output's width looks blurred.
        width = f"{int(self.figsize[0] * self.dpi)}px"
        self.image = widgets.Image(format="png", layout=widgets.Layout(width=width, max_width="100%"))
        self.message = widgets.HTML()
        self.note = ""  # set by compute(); shown below the figure once the figure is drawn
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
        """Draw the current data, put the PNG into the image widget, then show the note."""
        self.draw()
        self.image.value = self.png()
        self.message.value = self.note  # after the image: the text never describes a figure not yet shown
        self.draw_count += 1

    def png(self) -> bytes:
        """The figure as PNG bytes (as it is now)."""
        buffer = io.BytesIO()
        # Light compression: a slightly larger PNG, encoded several times faster.
        self.figure.savefig(buffer, format="png", dpi=self.dpi, pil_kwargs={"compress_level": 1})
        return buffer.getvalue()

    def static_figure(self) -> Figure:
        """The current state drawn on a plain matplotlib Figure (to save, embed or inspect)."""
        self.draw()
        return self.figure

    def save(self, path: str | os.PathLike) -> None:
        """Save the current figure to ``path`` (format from its suffix, PNG without one).

        Written atomically: an interrupted save never leaves half a picture.
        """
        suffix = Path(path).suffix.lstrip(".").lower()
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format=suffix or "png", dpi=self.dpi)
        atomic_write_bytes(path, buffer.getvalue())

    def show_static(self, path: str | None = None) -> None:
        """Show the current state as a picture where widgets cannot run.

        Under IPython (a terminal, or a notebook whose widget front-end is
        missing) the PNG is displayed; with ``path`` it is also saved there.
        Elsewhere, without ``path``, a line says how to get the figure.
        """
        self.draw()
        if path is not None:
            self.save(path)
        shown = False
        try:
            from IPython.display import Image  # noqa: PLC0415 - IPython is optional outside notebooks
        except ImportError:
            pass
        else:
            shown = _show_in_ipython(Image(data=self.png()))
        if not shown and path is None:
            print(
                f"{type(self).__name__}: no notebook here to show the figure in; "
                "show_static(path='figure.png') saves it, static_figure() returns it."
            )

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
        return type(self).__name__

    def display(self) -> None:
        """Show the widget in a notebook; elsewhere show the static figure."""
        if in_kernel():
            _show_in_ipython(self)
        else:
            self.show_static()
