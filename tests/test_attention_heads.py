"""The Transformer's attention widget: every layer and head, for the example picked."""

from __future__ import annotations

import numpy as np
import pytest

import course
from course import backend
from course.datasets import sequence
from course.models.attention_seq2seq import AttentionSeq2seq
from course.models.transformer import TransformerSeq2seq
from course.widgets import AttentionHeadsMap

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True, params=["numpy", "strict"])
def backend_in_use(request):
    """On NumPy and on the strict stand-in for CuPy: the widget plots host copies."""
    course.use(request.param)
    course.seed(0)
    yield request.param
    course.use("numpy")


@pytest.fixture
def dates():
    (x, t), _ = sequence.load_data("dates", n=60, test_size=10, reverse=True)
    (plain, _), _ = sequence.load_data("dates", n=60, test_size=10, reverse=False)
    char_to_id, id_to_char = sequence.get_vocab("dates")
    course.seed(0)
    model = TransformerSeq2seq(len(char_to_id), D=8, num_heads=2, D_ff=8, num_layers=2, max_len=32,
                               pad_id=char_to_id[" "])  # fmt: skip
    model.decoder.affine.params[1][char_to_id[" "]] = -10.0  # untrained: never end an answer at once
    return model, x[:6], t[:6], plain[:6], id_to_char


def test_every_layer_and_head_sums_to_one_without_padding(dates):
    model, x, t, plain, id_to_char = dates
    view = AttentionHeadsMap(model, x, id_to_char, t=t, reversed=True)
    question = sequence.decode(plain[:1], id_to_char)[0]
    assert view.question == question and len(view.output_chars) == 10
    for kind, shape in (
        ("cross", (10, len(question))),
        ("encoder", (len(question),) * 2),
        ("decoder", (10, 10)),
    ):
        for layer in (0, 1):
            with view.hold_refresh():  # the data only: drawing each would take seconds
                view.kind.value, view.layer.value = kind, layer
            view.compute()
            assert view.head_weights.shape == (2, *shape) and view.heads_shown == [0, 1]
            np.testing.assert_allclose(view.head_weights.sum(axis=2), 1.0, rtol=1e-5)
    # Decoder self-attention is causal: nothing above the diagonal.
    assert np.allclose(np.triu(view.head_weights[0], 1), 0.0)
    view.head.value = 1
    assert view.head_weights.shape == (1, 10, 10) and len(view.figure.axes) == 2  # one map and its colour bar


def test_shows_the_models_own_weights_in_reading_order(dates):
    model, x, t, _, id_to_char = dates
    view = AttentionHeadsMap(model, x, id_to_char, t=t, reversed=True, index=3, kind="cross", layer=1, head=0)
    model.generate(x[3:4], int(t[0, 0]), t.shape[1] - 1)
    n_in = len(view.input_chars)
    alone = backend.to_host(model.attention_maps()["cross"][1])[0, 0, :, :n_in][:, ::-1]
    np.testing.assert_allclose(view.head_weights[0], alone, rtol=1e-4, atol=1e-6)
    bundle = view._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and "image/png" in bundle


def test_asks_for_a_transformer_and_valid_choices(dates):
    _, x, t, _, id_to_char = dates
    lstm = AttentionSeq2seq(len(id_to_char), 4, 6, pad_id=0)
    with pytest.raises(TypeError, match="AttentionHeatmap"):
        AttentionHeadsMap(lstm, x, id_to_char, t=t)
    with pytest.raises(ValueError, match="layer"):
        AttentionHeadsMap(dates[0], x, id_to_char, t=t, layer=5)
