"""Where a seq2seq model with attention looks while it writes each output character.

:class:`AttentionHeatmap` answers a set of questions with the model
(``generate``, greedy) once, in batches, and keeps every step's attention
weights; an index slider picks the example to show as a matrix with the
output characters down the side and the question's characters along the
bottom. Padding is left out on both axes: the model gives padded question
positions zero weight (when it knows its ``pad_id``), so every row shown
still sums to 1, and output steps after the answer's end are dropped.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from course import backend
from course.widgets.figure import FigureWidget

Array = Any
START = "_"


def _visible(char: str) -> str:
    return "␣" if char == " " else char


class AttentionHeatmap(FigureWidget):
    """Pick an example, see the attention matrix of the model's answer to it.

    Example: ``AttentionHeatmap(model, x_test[:100], id_to_char, t=t_test[:100], reversed=True)``.

    Args:
        model: a model with ``generate(xs (N, T), start_id, sample_size) -> ids
            (N, S)`` that leaves ``attention_weights`` (N, S, T) behind, e.g.
            ``course.models.attention_seq2seq.AttentionSeq2seq``.
        x: (N, T) question ids. t: optional (N, 1 + S) right answers starting
            with the start symbol (sets S and marks right and wrong answers).
        id_to_char: the task's vocabulary (``sequence.get_vocab(name)[1]``).
        reversed: the questions were reversed for the model
            (``load_data(..., reverse=True)``); they are shown in reading
            order, with the attention columns reordered to match.
        start_id, answer_length: needed only when ``t`` is not given.

    Data behind the figure: ``weights`` (S', T') the matrix shown (rows:
    output characters, columns: question characters, padding left out),
    ``input_chars``, ``output_chars``, ``question``, ``answer``,
    ``correct``; ``all_ids`` (N, S) and ``all_weights`` (N, S, T) for every
    example. Outside a notebook, ``show_static()`` draws the same figure.
    """

    figsize = (8.0, 3.8)

    def __init__(
        self,
        model: Any,
        x: Array,
        id_to_char: dict[int, str],
        t: Array | None = None,
        reversed: bool = False,
        index: int = 0,
        start_id: int | None = None,
        answer_length: int | None = None,
        batch_size: int = 500,
    ) -> None:
        super().__init__()
        np = backend.host()
        self.model, self.id_to_char, self.reversed = model, id_to_char, reversed
        self.x = np.asarray(backend.to_host(x))
        if self.x.ndim != 2 or len(self.x) == 0:
            raise ValueError(f"x must be (N, T) question ids with N >= 1, got shape {self.x.shape}.")
        self.t = None if t is None else np.asarray(backend.to_host(t))
        start_id, answer_length = self._answer_shape(start_id, answer_length)
        self.pad_id = getattr(model, "pad_id", None)
        self.all_ids, self.all_weights = self._answer_all(start_id, answer_length, batch_size)
        self.index = widgets.IntSlider(
            value=index, min=0, max=len(self.x) - 1, description="example", continuous_update=False
        )
        self.controls = [self.index]
        self._build()
        self._watch(self.index)
        self.refresh()

    def _answer_shape(self, start_id: int | None, answer_length: int | None) -> tuple[int, int]:
        if self.t is not None:
            if len(self.t) != len(self.x):
                raise ValueError(f"x has {len(self.x)} questions but t has {len(self.t)} answers.")
            return int(self.t[0, 0]), self.t.shape[1] - 1
        if answer_length is None:
            raise ValueError("Give the right answers t, or answer_length (how many characters to generate).")
        if start_id is None:
            ids = [i for i, c in self.id_to_char.items() if c == START]
            if not ids:
                raise ValueError(f"No start symbol {START!r} in id_to_char; pass start_id.")
            start_id = ids[0]
        return int(start_id), int(answer_length)

    def _answer_all(self, start_id: int, length: int, batch_size: int) -> tuple[Array, Array]:
        """Greedy answers (N, S) and attention weights (N, S, T) for every question, in batches."""
        np = backend.host()
        like = self.model.params[0] if getattr(self.model, "params", None) else None
        ids, weights = [], []
        for i in range(0, len(self.x), batch_size):
            xs = backend.to_device(self.x[i : i + batch_size], like=like)
            ids.append(backend.to_host(self.model.generate(xs, start_id, length)))
            weights.append(backend.to_host(self.model.attention_weights))
        return np.concatenate(ids), np.concatenate(weights)

    # -------------------------------------------------------------- data

    def _length(self, row: Array) -> int:
        """Characters before the padding (all of them when the model has no pad_id)."""
        np = backend.host()
        if self.pad_id is None:
            return len(row)
        real = np.flatnonzero(row != self.pad_id)
        return int(real[-1]) + 1 if real.size else 0

    def compute(self) -> None:
        i = self.index.value
        question = self.x[i]
        n_in = self._length(question)
        ids = self.all_ids[i]
        ended = [k for k, c in enumerate(ids.tolist()) if c == self.pad_id]
        n_out = ended[0] if ended else len(ids)
        weights = self.all_weights[i, :n_out, :n_in]
        chars = [self.id_to_char[int(c)] for c in question[:n_in]]
        if self.reversed:  # back to reading order, columns with it
            weights, chars = weights[:, ::-1], chars[::-1]
        self.weights = weights
        self.input_chars = chars
        self.output_chars = [self.id_to_char[int(c)] for c in ids[:n_out]]
        self.question = "".join(chars)
        self.answer = "".join(self.output_chars)
        self.correct: bool | None = None
        text = f"<b>{self.question}</b> → <b>{self.answer}</b>"
        if self.t is not None:
            right = "".join(self.id_to_char[int(c)] for c in self.t[i, 1:]).rstrip(" ")
            self.correct = self.answer == right
            text += " ✓" if self.correct else f" ✗ (right answer: {right})"
        self.note = text

    def summary(self) -> str:
        return f"attention of example {self.index.value}: {self.question} -> {self.answer}"

    # -------------------------------------------------------------- drawing

    def draw(self) -> None:
        fig = self.figure
        fig.clear()
        ax = fig.subplots()
        if self.weights.size == 0:
            ax.set_axis_off()
            ax.set_title(f"example {self.index.value}: the answer is empty (the model ended it at once)")
            return
        image = ax.imshow(self.weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(self.input_chars)), [_visible(c) for c in self.input_chars])
        ax.set_yticks(range(len(self.output_chars)), [_visible(c) for c in self.output_chars])
        ax.set_xlabel("question")
        ax.set_ylabel("answer")
        ax.set_title(f"example {self.index.value}: where each answer character looks", fontsize=10)
        fig.colorbar(image, ax=ax, label="attention weight")
