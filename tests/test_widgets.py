"""The widgets, driven from Python: set a control, let it recompute, check the numbers behind the figure."""

from __future__ import annotations

import html
import math
import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure

import course
from course.datasets import sequence, spiral
from course.datasets.corpus import corpus_from_text
from course.generate import generate
from course.gradcheck import check_layer
from course.layers.recurrent import LSTM, RNN
from course.models import TwoLayerNet
from course.models.attention_seq2seq import AttentionSeq2seq
from course.models.rnnlm import Rnnlm
from course.optim import SGD
from course.text import analogy, most_similar
from course.train import RnnlmTrainer, Trainer
from course.widgets import (
    ActivationRNN,
    AttentionHeatmap,
    EmbeddingExplorer,
    GradientFlowExplorer,
    GradientNormMonitor,
    TemperatureExplorer,
    generation,
    gradient_flow,
)
from course.widgets.embedding_explorer import has_tsne, pca_2d
from course.widgets.figure import font_for

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True, params=["numpy", "strict"])
def backend_in_use(request):
    """Every widget test on NumPy and on the strict stand-in for CuPy: widgets plot host copies."""
    course.use(request.param)
    course.seed(0)
    yield request.param
    course.use("numpy")


def _check_display(widget) -> None:
    """The display carries the widget view and a static PNG for places without widgets."""
    bundle = widget._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and "image/png" in bundle and "text/plain" in bundle
    assert bundle[WIDGET_VIEW]["model_id"] == widget.widget.model_id


# --------------------------------------------------------------------------
# Gradient flow
# --------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "none"])
def test_activation_rnn_cell_passes_the_gradient_check(activation, rng):
    D, H, N = 3, 4, 5
    Wx, Wh, b = rng.normal(size=(D, H)), rng.normal(size=(H, H)), rng.normal(size=H)
    x, h = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    check_layer(ActivationRNN(Wx, Wh, b, activation), x, h).assert_ok()


def test_activation_rnn_rejects_tanh_with_a_pointer():
    w = np.zeros((2, 2))
    with pytest.raises(ValueError, match="tanh is RNN itself"):
        ActivationRNN(w, w, np.zeros(2), "tanh")


@pytest.mark.parametrize("scale", [0.7, 1.0, 1.3])
def test_without_activation_the_norm_is_exactly_a_power_of_the_scale(scale):
    # Wh = scale * orthogonal, so each step back multiplies ||dh|| by exactly scale.
    T = 25
    flow = gradient_flow("RNN", scale=scale, T=T, activation="none")
    expected = scale ** np.arange(T - 1, -1, -1, dtype=float)
    np.testing.assert_allclose(flow.norms, expected, rtol=1e-9)


@pytest.mark.parametrize("activation", ["tanh", "relu", "none"])
def test_norms_grow_above_one_and_shrink_below(activation):
    big = gradient_flow("RNN", scale=2.2, T=40, activation=activation)
    small = gradient_flow("RNN", scale=0.6, T=40, activation=activation)
    assert big.norms[0] > 10 * big.norms[-1]
    assert small.norms[0] < 1e-3 * small.norms[-1]
    growth = [gradient_flow("RNN", scale=s, T=40, activation=activation).growth for s in (0.6, 1.0, 1.6, 2.2)]
    assert growth == sorted(growth)


def _numerical_state_gradients(flow, make_cell, lstm: bool):
    """Central differences of L = sum(dh * h_T) with respect to every state, forward passes only.

    Returns (T, N, H) gradients for h_t (and for c_t with an LSTM). Rows are separate
    sequences, so one column of all rows is perturbed at a time.
    """
    ins = flow.inputs
    cell = make_cell(ins["Wx"], ins["Wh"], ins["b"])
    xs, dh, eps = ins["xs"], ins["dh"], 1e-6
    T, (N, H) = len(xs), dh.shape

    def loss_from(i, h, c):  # per-row loss of running steps i+1..T-1 from the state after step i
        for x in xs[i + 1 :]:
            h, c = cell.forward(x, h, c) if lstm else (cell.forward(x, h), None)
        return (dh * h).sum(axis=1)

    states, h, c = [], np.zeros((N, H)), np.zeros((N, H))
    for x in xs:
        h, c = cell.forward(x, h, c) if lstm else (cell.forward(x, h), None)
        states.append((h, c))
    grads = np.zeros((2, T, N, H))
    for i, (h, c) in enumerate(states):
        for j in range(H):
            step = np.zeros((N, H))
            step[:, j] = eps
            grads[0, i, :, j] = (loss_from(i, h + step, c) - loss_from(i, h - step, c)) / (2 * eps)
            if lstm:
                grads[1, i, :, j] = (loss_from(i, h, c + step) - loss_from(i, h, c - step)) / (2 * eps)
    return grads


SMALL = {"hidden_size": 4, "batch_size": 3, "input_size": 2, "input_scale": 0.8}


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_rnn_gradient_norms_match_numerical_gradients(activation):
    flow = gradient_flow("RNN", scale=1.3, T=6, activation=activation, **SMALL)
    make = RNN if activation == "tanh" else lambda *w: ActivationRNN(*w, activation)
    numerical = _numerical_state_gradients(flow, make, lstm=False)[0]
    np.testing.assert_allclose(flow.norms, np.linalg.norm(numerical, axis=2).mean(axis=1), rtol=1e-6)


def test_lstm_gradient_norms_match_numerical_gradients():
    flow = gradient_flow("LSTM", scale=1.3, T=6, forget_bias=1.0, **SMALL)
    dh, dc = _numerical_state_gradients(flow, LSTM, lstm=True)
    np.testing.assert_allclose(flow.norms, np.linalg.norm(dh, axis=2).mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(flow.cell_norms, np.linalg.norm(dc, axis=2).mean(axis=1), rtol=1e-6, atol=1e-9)


def test_clipping_bounds_an_exploding_gradient_but_not_its_shape():
    free = gradient_flow("RNN", scale=2.0, T=40)
    clipped = gradient_flow("RNN", scale=2.0, T=40, max_grad=1.0)
    assert free.rate == 1.0 and free.grad_norm > 100
    np.testing.assert_array_equal(clipped.norms, free.norms)
    assert clipped.rate < 1e-2
    assert clipped.grad_norm_clipped <= 1.0 + 1e-6
    np.testing.assert_allclose(clipped.norms_clipped, clipped.rate * free.norms)
    assert clipped.norms_clipped.max() < free.norms.max() / 100
    # Same factor at every step: the far past still dominates.
    assert clipped.norms_clipped[0] / clipped.norms_clipped[-1] == pytest.approx(free.growth)


def test_clipping_does_not_fix_a_vanishing_gradient():
    flow = gradient_flow("RNN", scale=0.6, T=40, max_grad=5.0)
    assert flow.rate == 1.0
    np.testing.assert_array_equal(flow.norms_clipped, flow.norms)
    assert flow.norms_clipped[0] < 1e-3
    tiny = gradient_flow("RNN", scale=0.6, T=40, max_grad=1e-3)  # clipping only ever scales down
    assert tiny.rate < 1 and np.all(tiny.norms_clipped <= tiny.norms)


def test_the_lstm_cell_path_carries_the_gradient_where_the_rnn_loses_it():
    rnn = gradient_flow("RNN", scale=0.7, T=40)
    lstm = gradient_flow("LSTM", scale=0.7, T=40, forget_bias=3.0)
    assert rnn.norms[0] < 1e-4
    assert lstm.cell_norms[0] > 0.1 and lstm.norms[0] > 0.01
    assert lstm.cell_norms[-1] == 0.0  # the loss reaches c_T only through earlier steps
    shut = gradient_flow("LSTM", scale=0.7, T=40, forget_bias=-3.0)  # forget gates closed
    assert shut.cell_norms[0] < 1e-4


def test_gradient_flow_rejects_bad_settings_in_words():
    with pytest.raises(ValueError, match="cell must be one of"):
        gradient_flow("GRU")
    with pytest.raises(ValueError, match="activation must be one of"):
        gradient_flow(activation="sigmoid")
    with pytest.raises(ValueError, match="max_grad must be > 0"):
        gradient_flow(max_grad=0.0)


def test_gradient_flow_explorer_follows_its_sliders():
    explorer = GradientFlowExplorer(T=30, seed=1)
    first = bytes(explorer.image.value)
    assert first.startswith(b"\x89PNG") and len(explorer.norms) == 30
    explorer.scale.value = 1.8
    np.testing.assert_array_equal(explorer.norms, gradient_flow("RNN", scale=1.8, T=30, seed=1).norms)
    assert explorer.norms[0] > 10 and bytes(explorer.image.value) != first
    assert "exploding" in explorer.message.value
    explorer.scale.value = 0.6
    assert explorer.norms[0] < 1e-3 and "vanishing" in explorer.message.value
    explorer.T.value = 50
    assert len(explorer.norms) == 50 and explorer.steps.tolist() == list(range(1, 51))
    explorer.activation.value = "none"
    np.testing.assert_allclose(explorer.norms, 0.6 ** np.arange(49, -1, -1, dtype=float), rtol=1e-9)
    # The figure shows the same numbers.
    np.testing.assert_allclose(explorer.figure.axes[0].lines[0].get_ydata(), explorer.norms)


def test_gradient_flow_explorer_clipping_and_lstm_modes():
    explorer = GradientFlowExplorer(scale=2.0, T=40)
    assert explorer.max_grad.disabled and explorer.forget_bias.disabled
    with explorer.hold_refresh():
        explorer.clip.value = True
        explorer.max_grad.value = 1.0
    explorer.refresh()
    assert explorer.flow.grad_norm_clipped <= 1.0 + 1e-6
    assert explorer.norms_clipped.max() < explorer.norms.max()
    assert "Clipping scales the whole gradient" in explorer.message.value
    explorer.cell.value = "LSTM"
    assert explorer.activation.disabled and not explorer.forget_bias.disabled
    assert explorer.cell_norms is not None and len(explorer.cell_norms) == 40
    np.testing.assert_array_equal(explorer.rnn_norms, gradient_flow("RNN", scale=2.0, T=40).norms)
    labels = [line.get_label() for line in explorer.figure.axes[0].lines]
    assert any("cell path" in label for label in labels)
    _check_display(explorer)


# --------------------------------------------------------------------------
# Gradient-norm monitor
# --------------------------------------------------------------------------


def _spiral_run(monitor, max_epoch=20, max_grad=0.5):
    course.seed(0)
    x, t = spiral.load_data()
    trainer = Trainer(TwoLayerNet(2, 10, 3), SGD(lr=1.0))
    return trainer.fit(
        x,
        t,
        max_epoch=max_epoch,
        batch_size=30,
        max_grad=max_grad,
        eval_interval=10,
        monitor=monitor,
        progress=False,
    )


def test_monitor_plots_exactly_what_the_history_recorded():
    monitor = GradientNormMonitor(every=10, param="W2")
    history = _spiral_run(monitor)
    lines = monitor.lines
    assert len(history) == 200 and lines["bin"] == 1
    np.testing.assert_array_equal(lines["iteration"], np.arange(1, 201))
    np.testing.assert_allclose(lines["grad_norm"], history.grad_norm, rtol=1e-12)
    np.testing.assert_allclose(lines["grad_norm_clipped"], history.grad_norm_clipped, rtol=1e-12)
    assert lines["max_grad"] == 0.5 and np.all(lines["grad_norm_clipped"] <= 0.5 + 1e-6)
    assert lines["param"] == "W2"
    np.testing.assert_array_equal(lines["param_norm"], history.norms_of("W2"))
    np.testing.assert_array_equal(lines["param_norm_clipped"], history.norms_of("W2", clipped=True))
    np.testing.assert_array_equal(lines["loss"], history.loss)
    np.testing.assert_array_equal(lines["eval_loss"], history.eval_losses)
    np.testing.assert_array_equal(lines["eval_iteration"], history.eval_iterations)
    # ... and the figure's artists hold those numbers.
    np.testing.assert_allclose(monitor._before.get_ydata(), history.grad_norm)
    np.testing.assert_allclose(monitor._threshold.get_ydata(), [0.5, 0.5])
    assert monitor.ax_norm.get_yscale() == "log"


def test_monitor_controls_redraw_the_figure():
    monitor = GradientNormMonitor(every=10)
    history = _spiral_run(monitor)
    assert list(monitor.param.options) == ["(none)", *history.param_names]
    assert monitor.lines["param_norm"] is None and not monitor._p_before.get_visible()
    before, count = bytes(monitor.image.value), monitor.draw_count
    monitor.param.value = "b1"
    np.testing.assert_array_equal(monitor.lines["param_norm"], history.norms_of("b1"))
    assert monitor._p_before.get_visible() and bytes(monitor.image.value) != before
    monitor.log.value = False
    assert monitor.ax_norm.get_yscale() == "linear"
    monitor.metric.value = "perplexity"
    np.testing.assert_allclose(monitor.lines["loss"], np.exp(history.loss))
    np.testing.assert_allclose(monitor.lines["eval_loss"], np.exp(history.eval_losses))
    assert monitor.draw_count == count + 3
    _check_display(monitor)


def test_monitor_rations_its_drawing():
    lazy = GradientNormMonitor(every=10, max_share=1e-9)
    _spiral_run(lazy)
    assert lazy.drawn_at == [200]  # only the final state
    eager = GradientNormMonitor(every=30, max_share=None)  # no time limit: only `every` counts
    history = _spiral_run(eager)
    gaps = np.diff([0, *eager.drawn_at[:-1]])
    assert len(eager.drawn_at) == 7 and np.all(gaps >= 30)  # at 30, 60, ..., 180 and the end
    assert eager.drawn_at[-1] == len(history)


def test_monitor_from_history_bins_long_runs_without_hiding_spikes():
    history = _spiral_run(None, max_epoch=30)
    monitor = GradientNormMonitor.from_history(history, max_points=100)
    lines, n = monitor.lines, len(history)
    size = lines["bin"]
    assert size == math.ceil(n / 100) and len(lines["grad_norm"]) <= 100
    assert lines["grad_norm"].max() == pytest.approx(history.grad_norm.max())
    assert lines["loss"][0] == pytest.approx(history.loss[:size].mean())
    assert lines["iteration"][-1] == n
    full = GradientNormMonitor.from_history(history)
    np.testing.assert_allclose(full.lines["grad_norm"], history.grad_norm)
    figure = full.static_figure()
    assert isinstance(figure, Figure) and len(figure.axes) == 2


def test_monitor_follows_an_rnnlm_trainer_across_fit_calls():
    course.seed(0)
    corpus = np.random.default_rng(0).integers(0, 12, size=600)
    trainer = RnnlmTrainer(Rnnlm(12, 8, 8), SGD(lr=1.0))
    monitor = GradientNormMonitor(every=2, perplexity=True)
    for _ in range(2):
        trainer.fit(
            corpus[:-1],
            corpus[1:],
            max_epoch=1,
            batch_size=4,
            time_size=10,
            eval_interval=5,
            monitor=monitor,
            progress=False,
        )
    history = trainer.history
    assert monitor.history is history and monitor.drawn_at[-1] == len(history) == 28
    np.testing.assert_allclose(monitor.lines["eval_loss"], trainer.ppl_list)
    assert monitor.lines["max_grad"] is None and not monitor._threshold.get_visible()


def test_monitor_rejects_bad_settings():
    with pytest.raises(ValueError, match=r"no parameter of that name; choose one of \['W1'"):
        _spiral_run(GradientNormMonitor(param="W3"), max_epoch=1)
    with pytest.raises(ValueError, match="every must be at least 1"):
        GradientNormMonitor(every=0)
    with pytest.raises(ValueError, match="max_share"):
        GradientNormMonitor(max_share=2)


# --------------------------------------------------------------------------
# Attention heatmap
# --------------------------------------------------------------------------


@pytest.fixture
def dates():
    (x, t), _ = sequence.load_data("dates", n=60, test_size=10, reverse=True)
    (plain, _), _ = sequence.load_data("dates", n=60, test_size=10, reverse=False)
    char_to_id, id_to_char = sequence.get_vocab("dates")
    course.seed(0)
    model = AttentionSeq2seq(len(char_to_id), 8, 16, pad_id=char_to_id[" "])
    model.decoder.affine.params[1][char_to_id[" "]] = -10.0  # untrained: never end an answer at once
    return model, x[:8], t[:8], plain[:8], id_to_char


def test_heatmap_rows_sum_to_one_over_the_question_without_padding(dates):
    model, x, t, plain, id_to_char = dates
    heatmap = AttentionHeatmap(model, x, id_to_char, t=t, reversed=True)
    for i in range(len(x)):
        heatmap.index.value = i
        question = sequence.decode(plain[i : i + 1], id_to_char)[0]
        assert heatmap.question == question  # reading order, padding left out
        assert heatmap.weights.shape == (len(heatmap.output_chars), len(question))
        np.testing.assert_allclose(heatmap.weights.sum(axis=1), 1.0, rtol=1e-5)
        # The model gave padding no weight at all.
        assert np.all(heatmap.all_weights[i][:, len(question) :] == 0)
    assert len(heatmap.output_chars) == 10 and heatmap.correct is False


def test_heatmap_shows_the_models_own_weights_for_that_example(dates):
    model, x, t, _, id_to_char = dates
    heatmap = AttentionHeatmap(model, x, id_to_char, t=t, reversed=True, index=2)
    first = bytes(heatmap.image.value)
    heatmap.index.value = 5
    assert bytes(heatmap.image.value) != first
    ids = model.generate(x[5:6], int(t[0, 0]), t.shape[1] - 1)
    n_in = len(heatmap.input_chars)
    alone = course.backend.to_host(model.attention_weights)[0, :, :n_in][:, ::-1]  # one example alone
    np.testing.assert_allclose(heatmap.weights, alone, rtol=1e-5, atol=1e-7)
    assert heatmap.answer == sequence.decode(ids, id_to_char)[0]
    axis = heatmap.figure.axes[0]
    assert [tick.get_text() for tick in axis.get_xticklabels()] == [
        "␣" if c == " " else c for c in heatmap.input_chars
    ]
    _check_display(heatmap)


def test_heatmap_without_padding_mask_and_without_answers(dates):
    _, x, _, _, id_to_char = dates
    course.seed(1)
    model = AttentionSeq2seq(len(id_to_char), 8, 16)  # no pad_id: attends to every position
    heatmap = AttentionHeatmap(model, x, id_to_char, answer_length=4)
    assert heatmap.weights.shape == (4, x.shape[1]) and heatmap.correct is None
    np.testing.assert_allclose(heatmap.weights.sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="answer_length"):
        AttentionHeatmap(model, x, id_to_char)


# --------------------------------------------------------------------------
# Embedding explorer
# --------------------------------------------------------------------------


@pytest.fixture
def vectors(rng):
    words = ["king", "queen", "man", "woman", "prince", "princess", "boy", "girl", "apple", "pear"]
    word_to_id = {w: i for i, w in enumerate(words)}
    id_to_word = dict(enumerate(words))
    return rng.normal(size=(len(words), 6)), word_to_id, id_to_word


def test_explorer_answers_as_course_text_does(vectors):
    vecs, word_to_id, id_to_word = vectors
    explorer = EmbeddingExplorer(vecs, word_to_id, id_to_word, top=3)
    explorer.query.value = "king"
    assert explorer.similar == most_similar("king", word_to_id, id_to_word, vecs, top=3, verbose=False)
    assert len(explorer.similar) == 3 and explorer.similar[0][0] in explorer.answer.value
    explorer.analogy.value = "man : king = woman : ?"
    assert explorer.analogy_answer == analogy(
        "man", "king", "woman", word_to_id, id_to_word, vecs, top=3, verbose=False
    )
    _check_display(explorer)


def test_explorer_answers_unknown_words_politely(vectors, capsys):
    vecs, word_to_id, id_to_word = vectors
    explorer = EmbeddingExplorer(vecs, word_to_id, id_to_word)
    explorer.query.value = "kign"
    assert explorer.similar == []
    assert "not in the vocabulary" in explorer.answer.value and "king" in explorer.answer.value
    explorer.query.value = ""
    explorer.analogy.value = "man king"
    assert "three words" in explorer.answer.value
    explorer.analogy.value = "man king zebra"
    assert explorer.analogy_answer == [] and "zebra" in explorer.answer.value
    assert capsys.readouterr().out == ""  # answered in the widget, not printed


def test_explorer_map_uses_the_chosen_words(vectors):
    vecs, word_to_id, id_to_word = vectors
    explorer = EmbeddingExplorer(vecs, word_to_id, id_to_word, words=["king", "queen"])
    assert explorer.map_words == ["king", "queen"]
    explorer.words.value = "king, queen man zebra apple"
    assert explorer.map_words == ["king", "queen", "man", "apple"] and explorer.not_found == ["zebra"]
    assert explorer.points.shape == (4, 2) and "zebra" in explorer.message.value
    texts = [t.get_text() for t in explorer.figure.axes[0].texts]
    assert texts == explorer.map_words


def test_pca_keeps_the_distances_of_vectors_in_a_plane(rng):
    plane = rng.normal(size=(2, 7))
    X = rng.normal(size=(12, 2)) @ plane + 3.0  # an affine plane: centring makes it 2-D
    points = pca_2d(X)
    dist = lambda A: np.linalg.norm(A[:, None] - A[None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(dist(points), dist(X), atol=1e-9)
    # In general: the variance kept is the top two eigenvalues of the scatter matrix.
    Y = rng.normal(size=(12, 7))
    Yc = Y - Y.mean(axis=0)
    top2 = np.sort(np.linalg.eigvalsh(Yc.T @ Yc))[-2:].sum()
    assert (pca_2d(Y) ** 2).sum() == pytest.approx(top2)


def test_explorer_set_vectors_answers_from_the_new_vectors(vectors, rng):
    vecs, word_to_id, id_to_word = vectors
    explorer = EmbeddingExplorer(vecs, word_to_id, id_to_word)
    explorer.query.value = "apple"
    new = rng.normal(size=vecs.shape)
    new[word_to_id["pear"]] = new[word_to_id["apple"]] * 2  # same direction: the nearest word
    explorer.set_vectors(new)
    assert explorer.similar[0] == ("pear", pytest.approx(1.0))
    with pytest.raises(ValueError, match="one row per word"):
        explorer.set_vectors(new[:3])


def test_explorer_tsne_map_when_scikit_learn_is_there(vectors):
    vecs, word_to_id, id_to_word = vectors
    if not has_tsne():
        with pytest.raises(ValueError, match="scikit-learn"):
            EmbeddingExplorer(vecs, word_to_id, id_to_word, method="t-SNE")
        pytest.skip("scikit-learn is not installed: t-SNE maps are off (PCA only)")
    explorer = EmbeddingExplorer(vecs, word_to_id, id_to_word, method="t-SNE")
    assert explorer.points.shape == (10, 2) and np.isfinite(explorer.points).all()


# --------------------------------------------------------------------------
# Temperature
# --------------------------------------------------------------------------


@pytest.fixture
def language_model():
    corpus = corpus_from_text("the cat sat on the mat\nthe dog sat on the log\n", level="word")
    course.seed(0)
    model = Rnnlm(corpus.vocab_size, 8, 8, init_scale=1.0)
    return model, corpus


def test_temperature_explorer_regenerates_as_course_generate_does(language_model):
    model, corpus = language_model
    start = corpus.encode("the cat")
    explorer = TemperatureExplorer(model, corpus, start="the cat", length=12, seed=3)
    ids = generate(model, start, 12, temperature=1.0, seed=3)
    assert explorer.ids == ids and explorer.text == corpus.decode(ids[2:])
    first = bytes(explorer.image.value)
    explorer.temperature.value = 0.1
    T = explorer.temperature.value
    assert explorer.ids == generate(model, start, 12, temperature=T, seed=3)
    assert bytes(explorer.image.value) != first
    np.testing.assert_allclose(explorer.next_probs.sum(), 1.0)
    _check_display(explorer)


def test_temperature_sharpens_and_flattens_the_next_word(language_model):
    model, corpus = language_model
    explorer = TemperatureExplorer(model, corpus, start="the", length=5)
    entropies, peaks = [], []
    for value in (0.1, 1.0, 4.0):
        explorer.temperature.value = value
        entropies.append(explorer.entropy)
        peaks.append(explorer.next_probs.max())
    assert entropies[0] < entropies[1] < entropies[2] <= math.log(corpus.vocab_size) + 1e-9
    assert peaks[0] > peaks[1] > peaks[2]


def test_temperature_explorer_with_a_word_vocabulary_and_unknown_words(language_model):
    model, corpus = language_model
    explorer = TemperatureExplorer(
        model, word_to_id=corpus.word_to_id, id_to_word=corpus.id_to_word, start="the dog", length=4
    )
    assert len(explorer.ids) == 6
    explorer.start.value = "the zebra"
    assert explorer.ids == [] and "zebra" in explorer.output.value
    with pytest.raises(ValueError, match="word_to_id and id_to_word"):
        TemperatureExplorer(model)


def test_temperature_bars_never_draw_missing_glyphs(language_model, monkeypatch):
    model, corpus = language_model
    explorer = TemperatureExplorer(model, corpus, start="the", length=3, bars=4)
    words = [corpus.decode([int(i)]) for i in explorer.bar_ids]
    assert explorer.bar_labels == words and explorer.bar_font is not None
    # Characters no installed font draws (here: none, by decree) are numbered on the axis and
    # named in the note, instead of boxes and a warning per glyph.
    monkeypatch.setattr(generation, "font_for", lambda texts: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explorer.temperature.value = 2.0
    assert explorer.bar_labels == ["1", "2", "3", "4"] and explorer.bar_font is None
    words = [corpus.decode([int(i)]) for i in explorer.bar_ids]
    assert html.escape(f"1 {words[0]}, 2 {words[1]}") in explorer.message.value


def test_font_for_finds_a_font_with_the_characters_or_says_none():
    assert font_for(["cat", "⏎"]) is not None
    # A private-use character that no font has a glyph for.
    assert font_for(["\U0010fffd"]) is None


# --------------------------------------------------------------------------
# Every widget
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls",
    [GradientNormMonitor, GradientFlowExplorer, AttentionHeatmap, EmbeddingExplorer, TemperatureExplorer],
)
def test_every_widget_has_a_one_line_example(cls):
    assert "Example: ``" in cls.__doc__


def test_static_figure_outside_a_kernel(tmp_path, capsys):
    explorer = GradientFlowExplorer(T=20)
    path = tmp_path / "flow.png"
    explorer.show_static(str(path))
    assert path.read_bytes().startswith(b"\x89PNG")
    assert isinstance(explorer.static_figure(), Figure)
    explorer.display()  # no kernel here: says how to get the figure instead of failing
    assert "show_static(path=" in capsys.readouterr().out
