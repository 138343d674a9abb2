"""The course's layers, one file per family; each follows the layer contract.

Contract: ``params`` and ``grads`` are lists of arrays (same order, same
shapes); ``forward(...)`` returns the output; ``backward(dout)`` returns the
input gradient(s) and writes parameter gradients into ``grads`` in place.
"""

from course.layers.basic import (
    Affine,
    Dropout,
    MatMul,
    Relu,
    Sigmoid,
    SigmoidWithLoss,
    Softmax,
    SoftmaxWithLoss,
)
from course.layers.embedding import Embedding, EmbeddingDot, SparseEmbedding, SparseEmbeddingDot
from course.layers.feed_forward import Gelu, PositionwiseFeedForward
from course.layers.layer_norm import LayerNorm
from course.layers.multi_head_attention import MultiHeadAttention, merge_heads, split_heads
from course.layers.negative_sampling import (
    NegativeSamplingLoss,
    SparseNegativeSamplingLoss,
    UnigramSampler,
)
from course.layers.positional import PositionalEmbedding, PositionalEncoding, sinusoidal_encoding
from course.layers.recurrent import GRU, LSTM, RNN
from course.layers.scaled_attention import ScaledDotProductAttention, causal_mask
from course.layers.time import TimeAffine, TimeDropout, TimeEmbedding, TimeSoftmaxWithLoss
from course.layers.time_gru import TimeGRU
from course.layers.time_lstm import FusedTimeLSTM, TimeBiLSTM, TimeLSTM
from course.layers.time_recurrent import WithInitialState
from course.layers.time_rnn import FusedTimeRNN, TimeRNN

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Affine",
    "Dropout",
    "Embedding",
    "EmbeddingDot",
    "FusedTimeLSTM",
    "FusedTimeRNN",
    "Gelu",
    "LayerNorm",
    "MatMul",
    "MultiHeadAttention",
    "NegativeSamplingLoss",
    "PositionalEmbedding",
    "PositionalEncoding",
    "PositionwiseFeedForward",
    "Relu",
    "ScaledDotProductAttention",
    "Sigmoid",
    "SigmoidWithLoss",
    "Softmax",
    "SoftmaxWithLoss",
    "SparseEmbedding",
    "SparseEmbeddingDot",
    "SparseNegativeSamplingLoss",
    "TimeAffine",
    "TimeBiLSTM",
    "TimeDropout",
    "TimeEmbedding",
    "TimeGRU",
    "TimeLSTM",
    "TimeRNN",
    "TimeSoftmaxWithLoss",
    "UnigramSampler",
    "WithInitialState",
    "causal_mask",
    "merge_heads",
    "sinusoidal_encoding",
    "split_heads",
]
