"""Widgets that show what training does inside: gradients, attention, word vectors, sampling.

* :class:`GradientNormMonitor` - live gradient norms (before / after clipping) and loss while training;
* :class:`GradientFlowExplorer` - ||dh_t|| through T steps of an RNN or LSTM, with sliders;
* :class:`AttentionHeatmap` - where a seq2seq model with attention looks, character by character;
* :class:`AttentionHeadsMap` - the same for a Transformer, per layer and per head;
* :class:`EmbeddingExplorer` - a 2-D map of word vectors, nearest words and analogies;
* :class:`TemperatureExplorer` - text from a language model, regenerated as the temperature moves.

Each is an ipywidgets layout around a matplotlib figure; the data behind the
figure stays on the object, and ``show_static()`` draws the same figure
where widgets cannot run.
"""

from course.widgets.attention_heads import AttentionHeadsMap
from course.widgets.attention_heatmap import AttentionHeatmap
from course.widgets.embedding_explorer import EmbeddingExplorer
from course.widgets.generation import TemperatureExplorer
from course.widgets.gradient_flow import ActivationRNN, GradientFlow, GradientFlowExplorer, gradient_flow
from course.widgets.gradient_monitor import GradientNormMonitor

__all__ = [
    "ActivationRNN",
    "AttentionHeadsMap",
    "AttentionHeatmap",
    "EmbeddingExplorer",
    "GradientFlow",
    "GradientFlowExplorer",
    "GradientNormMonitor",
    "TemperatureExplorer",
    "gradient_flow",
]
