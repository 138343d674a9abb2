"""A map of word vectors, with the nearest words and analogies a box away.

:class:`EmbeddingExplorer` projects chosen word vectors to two dimensions and
labels them: PCA through an SVD of the unit-length vectors (so distances on
the map follow cosine similarity), or t-SNE when scikit-learn is installed.
Two text boxes ask the current vectors questions with
:func:`course.text.most_similar` and :func:`course.text.analogy`; unknown
words get the same polite answer those functions print, shown in the widget.
"""

from __future__ import annotations

import contextlib
import html
import importlib.util
import io
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets

from course import backend
from course.text import analogy, most_similar, normalize
from course.widgets.figure import FigureWidget

Array = Any
METHODS = ("PCA", "t-SNE")


def has_tsne() -> bool:
    """True when scikit-learn (for t-SNE) is installed."""
    return importlib.util.find_spec("sklearn") is not None


def pca_2d(vectors: Array) -> Array:
    """Coordinates (n, 2) of n vectors (n, D) on their first two principal axes (SVD of the centred data).

    Signs are fixed so the largest loading of each axis is positive: the same
    vectors always give the same map.
    """
    np = backend.host()
    X = np.asarray(vectors, dtype=float)
    X = X - X.mean(axis=0)
    if X.shape[0] < 2:
        return np.zeros((X.shape[0], 2))
    U, S, Vt = np.linalg.svd(X, full_matrices=False)
    k = min(2, len(S))
    signs = np.sign(Vt[np.arange(k), np.abs(Vt[:k]).argmax(axis=1)])
    points = np.zeros((X.shape[0], 2))
    points[:, :k] = U[:, :k] * S[:k] * signs
    return points


def tsne_2d(vectors: Array, seed: int = 0) -> Array:
    """t-SNE coordinates (n, 2) of n vectors (n, D) with cosine distances (needs scikit-learn)."""
    from sklearn.manifold import TSNE  # noqa: PLC0415 - optional dependency

    n = len(vectors)
    perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, metric="cosine", init="pca", random_state=seed)
    return tsne.fit_transform(backend.host().asarray(vectors, dtype=float))


def _split_words(text: str, vocab: Mapping[str, int]) -> list[str]:
    """Words separated by spaces; punctuation around a word is dropped unless the vocabulary has it.

    "man : king = woman : ?" gives ["man", "king", "woman"]; "king, queen"
    gives ["king", "queen"], but a vocabulary token such as "first," stays whole.
    """
    words = []
    for token in text.split():
        word = token if token in vocab else token.strip(",;:=?")
        if word:
            words.append(word)
    return words


class EmbeddingExplorer(FigureWidget):
    """Word vectors on a 2-D map, with most_similar and analogy boxes answering from them.

    Example: ``EmbeddingExplorer(word_vecs, word_to_id, id_to_word, words=["you", "say", "hello"])``.

    Args:
        word_vecs: (V, D) word vectors (NumPy or CuPy), row i for word id i.
        word_to_id, id_to_word: the vocabulary (id_to_word a dict or a list).
        words: the words to map (default: the first 40 ids); the ``words``
            box changes them.
        method: "PCA" or "t-SNE" (t-SNE needs scikit-learn).
        top: how many answers the boxes give.

    Controls: ``words`` (a text box of words separated by spaces or commas),
    ``method``, ``query`` (most_similar), ``analogy`` ("man : king = woman :
    ?", or just three words). ``set_vectors(word_vecs)`` swaps in new vectors
    (after more training) and answers again. Data behind the figure:
    ``points`` (n, 2), ``map_words`` (n,), ``similar`` and ``analogy_answer``
    (lists of (word, similarity)), ``not_found`` (words of the box that are
    not in the vocabulary), and ``answer.value`` (what the boxes say).
    Outside a notebook, ``show_static()`` draws the map.
    """

    figsize = (6.5, 5.0)

    def __init__(
        self,
        word_vecs: Array,
        word_to_id: Mapping[str, int],
        id_to_word: Mapping[int, str] | Sequence[str],
        words: Sequence[str] | None = None,
        method: str = "PCA",
        top: int = 5,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.word_to_id, self.id_to_word, self.top, self.seed = word_to_id, id_to_word, top, seed
        self._check_vectors(word_vecs)
        self.word_vecs = word_vecs
        if words is None:
            words = [id_to_word[i] for i in range(min(40, len(word_to_id)))]
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
        if method == "t-SNE" and not has_tsne():
            raise ValueError("t-SNE needs scikit-learn: pip install scikit-learn, or use method='PCA'.")
        options = list(METHODS) if has_tsne() else ["PCA"]
        self.words = widgets.Textarea(
            value=" ".join(words), description="words", rows=2, continuous_update=False
        )
        self.method = widgets.ToggleButtons(options=options, value=method, description="map")
        self.query = widgets.Text(description="similar to", placeholder="a word", continuous_update=False)
        self.analogy = widgets.Text(
            description="analogy", placeholder="man : king = woman : ?", continuous_update=False
        )
        self.answer = widgets.HTML()
        self.controls = [self.words, self.method]
        self.similar: list[tuple[str, float]] = []
        self.analogy_answer: list[tuple[str, float]] = []
        self._build(extra=[widgets.HBox([self.query, self.analogy]), self.answer])
        self._watch(self.words, self.method)
        self.query.observe(self._on_question, names="value")
        self.analogy.observe(self._on_question, names="value")
        self.refresh()

    def _check_vectors(self, word_vecs: Array) -> None:
        shape = getattr(word_vecs, "shape", None)
        if shape is None or len(shape) != 2 or shape[0] != len(self.word_to_id):
            raise ValueError(
                f"word_vecs must be (V, D) with one row per word of the vocabulary (V = "
                f"{len(self.word_to_id)}), got shape {shape}."
            )

    def set_vectors(self, word_vecs: Array) -> None:
        """Use new vectors (V, D) for the map and the answers."""
        self._check_vectors(word_vecs)
        self.word_vecs = word_vecs
        self.refresh()
        self.ask()

    # -------------------------------------------------------------- questions

    def _on_question(self, change: Any = None) -> None:
        self.ask()
        self.redraw()

    def ask(self) -> str:
        """Answer what the query and analogy boxes hold; the text also goes to ``answer``."""
        parts = []
        self.similar, self.analogy_answer = [], []
        if self.query.value.strip():
            word = self.query.value.strip()
            self.similar, said = self._quietly(
                most_similar, word, self.word_to_id, self.id_to_word, self.word_vecs
            )
            parts.append(self._table(f"most similar to <b>{html.escape(word)}</b>", self.similar, said))
        if self.analogy.value.strip():
            parts.append(self._answer_analogy(self.analogy.value))
        self.answer.value = "<br>".join(parts)
        return self.answer.value

    def _answer_analogy(self, text: str) -> str:
        words = _split_words(text, self.word_to_id)
        if len(words) != 3:
            return "For an analogy write three words, like <code>man : king = woman : ?</code>"
        a, b, c = words
        self.analogy_answer, said = self._quietly(
            analogy, a, b, c, self.word_to_id, self.id_to_word, self.word_vecs
        )
        title = f"{html.escape(a)} : {html.escape(b)} = {html.escape(c)} : <b>?</b>"
        return self._table(title, self.analogy_answer, said)

    def _quietly(self, ask: Any, *args: Any) -> tuple[list[tuple[str, float]], str]:
        """Call a course.text question without printing; return its answer and what it would print."""
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            answer = ask(*args, top=self.top, verbose=False)
        return answer, printed.getvalue().strip()

    @staticmethod
    def _table(title: str, pairs: list[tuple[str, float]], said: str) -> str:
        if not pairs:
            return f"{title}: " + (html.escape(said).replace("\n", "<br>") or "no answer")
        rows = ", ".join(f"{html.escape(w)} ({s:.3f})" for w, s in pairs)
        return f"{title}: {rows}"

    # -------------------------------------------------------------- the map

    def compute(self) -> None:
        np = backend.host()
        wanted = list(dict.fromkeys(_split_words(self.words.value, self.word_to_id)))
        self.not_found = [w for w in wanted if w not in self.word_to_id]
        self.map_words = [w for w in wanted if w in self.word_to_id]
        ids = np.asarray([self.word_to_id[w] for w in self.map_words], dtype=np.int64)
        vectors = backend.to_host(normalize(self.word_vecs[backend.to_device(ids, like=self.word_vecs)]))
        note = ""
        if self.method.value == "t-SNE" and len(ids) >= 5:
            self.points = tsne_2d(vectors, self.seed)
        else:
            if self.method.value == "t-SNE":
                note = " (t-SNE needs at least 5 words: PCA shown)"
            self.points = pca_2d(vectors) if len(ids) else np.zeros((0, 2))
        text = f"{len(self.map_words)} words on the map{note}."
        if self.not_found:
            text += " Not in the vocabulary: " + ", ".join(html.escape(w) for w in self.not_found) + "."
        self.note = text

    def summary(self) -> str:
        return f"map of {len(self.map_words)} word vectors ({self.method.value})"

    def draw(self) -> None:
        fig = self.figure
        fig.clear()
        ax = fig.subplots()
        asked = {w for w, _ in self.similar} | {self.query.value.strip()}
        colors = ["C3" if w in asked else "C0" for w in self.map_words]
        if len(self.map_words):
            ax.scatter(self.points[:, 0], self.points[:, 1], c=colors, s=18)
        for (px, py), word, color in zip(self.points, self.map_words, colors, strict=True):
            ax.annotate(word, (px, py), xytext=(3, 3), textcoords="offset points", fontsize=9, color=color)
        ax.set_title(f"{self.method.value} of the unit word vectors", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
