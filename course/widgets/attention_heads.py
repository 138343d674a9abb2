"""Every layer's and every head's attention in a Transformer, for one example at a time.

:class:`AttentionHeadsMap` is :class:`~course.widgets.AttentionHeatmap` for
a model with several layers of multi-head attention
(:class:`course.models.transformer.TransformerSeq2seq`). It answers the
questions once, in batches, and keeps the weights of every layer and head;
the controls pick the example, which attention to show (the decoder's
cross-attention over the question, the encoder's self-attention over the
question, or the decoder's causal self-attention over the answer so far),
the layer, and one head or all of them side by side. Padding is left out
as in the heatmap, so every row shown sums to 1.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from course import backend
from course.widgets.attention_heatmap import START, AttentionHeatmap, _visible

Array = Any

KINDS = {
    "cross": "cross-attention: answer over question",
    "encoder": "encoder self-attention: question over question",
    "decoder": "decoder self-attention: answer over answer so far",
}


class AttentionHeadsMap(AttentionHeatmap):
    """Pick an example, an attention, a layer and a head; see its weights.

    Example: ``AttentionHeadsMap(model, x_test[:100], id_to_char, t=t_test[:100])``.

    Args:
        model: a model whose ``generate`` leaves ``attention_weights``
            (N, S, T) behind and whose ``attention_maps()`` returns, for the
            last forward, a dict of per-layer weights (N, h, Tq, Tk) under
            "cross", "encoder" and "decoder"
            (:class:`~course.models.transformer.TransformerSeq2seq`).
        x, id_to_char, t, reversed, start_id, answer_length, batch_size: as for
            :class:`~course.widgets.AttentionHeatmap`.
        kind: "cross", "encoder" or "decoder" (see ``KINDS``); layer: 0-based;
            head: a head's index, or "all" for every head side by side.

    Data behind the figure: ``head_weights`` (h', rows, cols) the matrices
    shown (one per head shown), ``row_chars`` and ``col_chars`` their labels;
    the heatmap's ``weights`` (the last layer's cross-attention averaged over
    heads), ``question``, ``answer``, ``correct``; ``all_maps[kind][layer]``
    (N, h, Tq, Tk) for every example.
    """

    figsize = (10.0, 3.6)

    def __init__(
        self,
        model: Any,
        x: Array,
        id_to_char: dict[int, str],
        t: Array | None = None,
        reversed: bool = False,
        index: int = 0,
        kind: str = "cross",
        layer: int = 0,
        head: int | str = "all",
        start_id: int | None = None,
        answer_length: int | None = None,
        batch_size: int = 500,
    ) -> None:
        if not callable(getattr(model, "attention_maps", None)):
            raise TypeError(
                f"{type(model).__name__} has no attention_maps(); this widget shows a Transformer's layers "
                "and heads. For a model with one attention use AttentionHeatmap."
            )
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}.")
        self._requested = (kind, layer, head)
        super().__init__(model, x, id_to_char, t, reversed, index, start_id, answer_length, batch_size)

    def _answer_all(self, start_id: int, length: int, batch_size: int) -> tuple[Array, Array]:
        """The heatmap's answers and weights, and every layer's and head's weights on the host."""
        np = backend.host()
        like = self.model.params[0] if getattr(self.model, "params", None) else None
        ids, weights, maps = [], [], {k: [] for k in KINDS}
        for i in range(0, len(self.x), batch_size):
            xs = backend.to_device(self.x[i : i + batch_size], like=like)
            ids.append(backend.to_host(self.model.generate(xs, start_id, length)))
            weights.append(backend.to_host(self.model.attention_weights))
            for kind, layers in self.model.attention_maps().items():
                maps[kind].append([backend.to_host(w) for w in layers])
        self.all_maps = {
            kind: [np.concatenate([batch[j] for batch in batches]) for j in range(len(batches[0]))]
            for kind, batches in maps.items()
        }
        self._build_controls()
        return np.concatenate(ids), np.concatenate(weights)

    def _build_controls(self) -> None:
        kind, layer, head = self._requested
        layers, heads = len(self.all_maps[kind]), self.all_maps[kind][0].shape[1]
        if not 0 <= layer < layers:
            raise ValueError(f"layer must be in 0..{layers - 1}, got {layer}.")
        if head != "all" and not (isinstance(head, int) and 0 <= head < heads):
            raise ValueError(f'head must be "all" or in 0..{heads - 1}, got {head!r}.')
        self.kind = widgets.Dropdown(
            options=[(v, k) for k, v in KINDS.items()], value=kind, description="attention"
        )
        self.layer = widgets.IntSlider(value=layer, min=0, max=layers - 1, description="layer")
        choices = [("all", "all"), *[(str(h), h) for h in range(heads)]]
        self.head = widgets.Dropdown(options=choices, value=head, description="head")

    def _build(self, extra: list[Any] | None = None) -> None:
        self.controls = [self.index, self.kind, self.layer, self.head]
        super()._build(extra)
        self._watch(self.kind, self.layer, self.head)

    # -------------------------------------------------------------- data

    def compute(self) -> None:
        super().compute()
        i, kind = self.index.value, self.kind.value
        n_in, n_out = len(self.input_chars), len(self.output_chars)
        # The decoder read the start symbol, then its own answer one step behind.
        answer_inputs = [START, *self.output_chars[:-1]] if n_out else []
        rows, cols = {
            "cross": (self.output_chars, self.input_chars),
            "encoder": (self.input_chars, self.input_chars),
            "decoder": (self.output_chars, answer_inputs),
        }[kind]
        m = self.all_maps[kind][self.layer.value][i]  # (h, Tq, Tk) in the model's order
        n_rows = n_in if kind == "encoder" else n_out
        n_cols = n_out if kind == "decoder" else n_in
        m = m[:, :n_rows, :n_cols]
        if self.reversed:  # the question's positions back to reading order
            m = m[:, :, ::-1] if kind != "decoder" else m
            m = m[:, ::-1] if kind == "encoder" else m
        heads = range(m.shape[0]) if self.head.value == "all" else [self.head.value]
        self.head_weights = m[list(heads)]
        self.heads_shown = list(heads)
        self.row_chars, self.col_chars = list(rows), list(cols)

    def summary(self) -> str:
        return (
            f"{self.kind.value} attention, layer {self.layer.value}, head {self.head.value}, example "
            f"{self.index.value}: {self.question} -> {self.answer}"
        )

    # -------------------------------------------------------------- drawing

    def draw(self) -> None:
        fig = self.figure
        fig.clear()
        if self.head_weights.shape[1] == 0 or self.head_weights.shape[2] == 0:
            ax = fig.subplots()
            ax.set_axis_off()
            ax.set_title(f"example {self.index.value}: the answer is empty (the model ended it at once)")
            return
        axes = fig.subplots(1, len(self.heads_shown), squeeze=False)[0]
        image = None
        for ax, h, w in zip(axes, self.heads_shown, self.head_weights, strict=True):
            image = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
            ax.set_xticks(range(len(self.col_chars)), [_visible(c) for c in self.col_chars], fontsize=7)
            ax.set_yticks(range(len(self.row_chars)), [_visible(c) for c in self.row_chars], fontsize=7)
            ax.set_title(f"head {h}", fontsize=9)
        fig.suptitle(
            f"example {self.index.value}, layer {self.layer.value}: {KINDS[self.kind.value]}", fontsize=10
        )
        fig.colorbar(image, ax=list(axes), label="attention weight")
