"""Models built from the course's layers."""

from course.models.rnnlm import (
    PRESETS,
    BetterRnnlm,
    GRURnnlm,
    RecurrentLanguageModel,
    Rnnlm,
    SimpleRnnlm,
    from_preset,
)
from course.models.two_layer_net import TwoLayerNet
from course.models.word2vec import (
    CBOW,
    SimpleCBOW,
    SimpleSkipGram,
    SkipGram,
    SparseCBOW,
    SparseSkipGram,
)

__all__ = [
    "CBOW",
    "PRESETS",
    "BetterRnnlm",
    "GRURnnlm",
    "RecurrentLanguageModel",
    "Rnnlm",
    "SimpleCBOW",
    "SimpleRnnlm",
    "SimpleSkipGram",
    "SkipGram",
    "SparseCBOW",
    "SparseSkipGram",
    "TwoLayerNet",
    "from_preset",
]
