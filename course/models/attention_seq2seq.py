"""Seq2seq with attention: the decoder looks back at every encoder state.

The encoder returns all its hidden states hs (N, T, H) instead of only the
last one; at each step the decoder's LSTM output picks a weighted average of
them (``TimeAttention``) and predicts from that context and its own state.
With ``bidirectional=True`` the encoder reads each question both ways (a
``BidirectionalLSTM`` of H/2 units per direction, whose states are
concatenated), so every position knows what follows it too.

Padding works as in :mod:`course.models.seq2seq` (``pad_id``): padded
positions get zero attention and the decoder starts from the state at the
question's end, so a question gives the same answer padded or alone.

Shapes: N batch, T question length, D character-vector size, H hidden size,
V vocabulary size.
"""

from __future__ import annotations

from typing import Any

from course import backend, validate
from course.answers import model_answer
from course.layers.attention import TimeAttention
from course.layers.bidirectional import FusedBidirectionalLSTM
from course.layers.time import TimeAffine, TimeEmbedding, TimeSoftmaxWithLoss
from course.layers.time_lstm import FusedTimeLSTM as TimeLSTM  # answers say TimeLSTM; models run fused
from course.models.seq2seq import (
    answer_targets,
    char_vectors,
    check_backward,
    check_batch,
    check_generate,
    check_sizes,
    collect,
    cut_at_end,
    lstm_weights,
    question_lengths,
)

Array = Any


def real_positions(xs: Array, pad_id: int | None) -> tuple[Array, Array]:
    """(lengths (N,), mask (N, T)) of questions xs (N, T): the mask is True at real characters."""
    xp = backend.array_module(xs)
    L = question_lengths(xs, pad_id)
    return L, xp.arange(xs.shape[1])[None, :] < L[:, None]


class AttentionEncoder:
    """Embedding -> LSTM, returning every hidden state.

    forward(xs (N, T) ids) -> hs (N, T, H); ``final`` (N, H) is the state at
    each question's end and ``mask`` (N, T) marks its real positions.
    backward(dhs (N, T, H), dfinal (N, H)) -> None.
    """

    def __init__(
        self, vocab_size: int, wordvec_size: int, hidden_size: int, pad_id: int | None = None
    ) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.embed = TimeEmbedding(char_vectors(V, D))
        self.lstm = TimeLSTM(*lstm_weights(D, H), stateful=False)
        self.pad_id = pad_id
        self.params, self.grads, self.param_names = collect([("embed", self.embed), ("lstm", self.lstm)])
        self.final: Array | None = None
        self.mask: Array | None = None
        self.ends: Array | None = None

    def forward(self, xs: Array) -> Array:
        xp = backend.array_module(xs)
        L, self.mask = real_positions(xs, self.pad_id)
        self.ends = L - 1
        # With lengths, the LSTM skips the padding instead of reading it.
        hs = self.lstm.forward(self.embed.forward(xs), lengths=None if self.pad_id is None else L)
        self.final = hs[xp.arange(hs.shape[0]), self.ends]
        return hs

    def backward(self, dhs: Array, dfinal: Array) -> None:
        xp = backend.array_module(dhs)
        dhs = dhs.copy()
        dhs[xp.arange(dhs.shape[0]), self.ends] += dfinal
        self.embed.backward(self.lstm.backward(dhs))


class AttentionBiEncoder:
    """A bidirectional encoder: embedding -> a bidirectional LSTM of H/2 units per direction.

    forward(xs (N, T) ids) -> hs (N, T, H), both directions' states side by
    side; ``mask`` (N, T) marks the real positions. The backward direction
    reads each question from its last real character, so padding never
    reaches a real position. ``final`` (N, H) joins the forward direction's
    state at the question's end and the backward direction's at its first
    character: each has read the whole question.
    backward(dhs (N, T, H), dfinal (N, H)) -> None.

    ``layer`` is the bidirectional LSTM's class, built as ``layer(Wx1, Wh1,
    b1, Wx2, Wh2, b2)`` and run as ``forward(xs, lengths)``: the course's fast
    one by default, or chapter 8's answer.
    """

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        pad_id: int | None = None,
        layer: type = FusedBidirectionalLSTM,
    ) -> None:
        if hidden_size % 2:
            raise ValueError(f"A bidirectional encoder splits hidden_size in two; {hidden_size} is odd.")
        V, D, H2 = vocab_size, wordvec_size, hidden_size // 2
        self.embed = TimeEmbedding(char_vectors(V, D))
        self.lstm = layer(*lstm_weights(D, H2), *lstm_weights(D, H2))
        self.pad_id = pad_id
        self.params, self.grads, self.param_names = collect([("embed", self.embed), ("lstm", self.lstm)])
        self.final: Array | None = None
        self.mask: Array | None = None
        self.ends: Array | None = None

    def forward(self, xs: Array) -> Array:
        xp = backend.array_module(xs)
        L, self.mask = real_positions(xs, self.pad_id)
        self.ends = L - 1
        hs = self.lstm.forward(self.embed.forward(xs), None if self.pad_id is None else L)
        H2 = hs.shape[2] // 2
        rows = xp.arange(hs.shape[0])
        self.final = xp.concatenate([hs[rows, self.ends, :H2], hs[:, 0, H2:]], axis=1)
        return hs

    def backward(self, dhs: Array, dfinal: Array) -> None:
        xp = backend.array_module(dhs)
        H2 = dhs.shape[2] // 2
        rows = xp.arange(dhs.shape[0])
        dhs = dhs.copy()
        dhs[rows, self.ends, :H2] += dfinal[:, :H2]
        dhs[:, 0, H2:] += dfinal[:, H2:]
        self.embed.backward(self.lstm.backward(dhs))


@model_answer("attention_decoder", chapter="ch08", methods=("forward", "backward"), derivation=True)
class AttentionDecoder:
    """Embedding -> LSTM -> TimeAttention over the encoder states -> Affine on [context, h].

    forward(xs (N, T') ids, enc_hs (N, T, H), h0 (N, H), mask (N, T)) -> scores (N, T', V).
    backward(dscore (N, T', V)) -> (denc_hs (N, T, H), dh0 (N, H)).
    generate(enc_hs, h0, mask, start_id, sample_size) -> ids (N, sample_size); the
    attention weights of every generated step are kept in ``attention_weights``
    (N, sample_size, T).
    """

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.embed = TimeEmbedding(char_vectors(V, D))
        self.lstm = TimeLSTM(*lstm_weights(D, H), stateful=True)
        self.attention = TimeAttention()
        self.affine = TimeAffine(backend.randn(2 * H, V, scale=1 / (2 * H) ** 0.5), backend.zeros(V))
        named = [("embed", self.embed), ("lstm", self.lstm), ("affine", self.affine)]
        self.params, self.grads, self.param_names = collect(named)
        self.attention_weights: Array | None = None
        self.H = H

    def forward(self, xs: Array, enc_hs: Array, h0: Array, mask: Array | None = None) -> Array:
        xp = backend.array_module(enc_hs)
        self.lstm.set_state(h0)
        dec_hs = self.lstm.forward(self.embed.forward(xs))
        c = self.attention.forward(enc_hs, dec_hs, mask)
        return self.affine.forward(xp.concatenate([c, dec_hs], axis=2))

    def backward(self, dscore: Array) -> tuple[Array, Array]:
        H = self.H
        dout = self.affine.backward(dscore)
        dc, ddec = dout[:, :, :H], dout[:, :, H:]
        denc_hs, ddec_att = self.attention.backward(dc)
        # The decoder's states went two ways (attention's query and the Affine input): add both.
        self.embed.backward(self.lstm.backward(ddec + ddec_att))
        return denc_hs, self.lstm.dh

    def generate(
        self, enc_hs: Array, h0: Array, mask: Array | None, start_id: int, sample_size: int
    ) -> Array:
        xp = backend.array_module(enc_hs)
        x = xp.full((enc_hs.shape[0], 1), start_id, dtype=xp.int32)
        self.lstm.set_state(h0)
        ids, weights = [], []
        for _ in range(sample_size):
            # One step of forward; the stateful LSTM goes on from the step before.
            dec_h = self.lstm.forward(self.embed.forward(x))
            c = self.attention.forward(enc_hs, dec_h, mask)
            scores = self.affine.forward(xp.concatenate([c, dec_h], axis=2))
            x = scores.argmax(axis=-1).astype(xp.int32)
            ids.append(x)
            weights.append(self.attention.attention_weights)
        self.attention_weights = xp.concatenate(weights, axis=1)
        return xp.concatenate(ids, axis=1)


class AttentionSeq2seq:
    """Seq2seq with attention (optionally a bidirectional encoder).

    forward(xs (N, T), ts (N, T_out)) -> mean loss; backward(dout=1).
    generate(xs, start_id, sample_size) -> (N, sample_size) ids; afterwards
    ``attention_weights`` (N, sample_size, T) holds where each output character
    looked, for plotting. With ``bidirectional=True``, ``bilstm`` is the class
    of the encoder's bidirectional LSTM (see ``AttentionBiEncoder``).
    """

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        pad_id: int | None = None,
        bidirectional: bool = False,
        bilstm: type = FusedBidirectionalLSTM,
    ) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.pad_id = pad_id
        if bidirectional:
            self.encoder = AttentionBiEncoder(V, D, H, pad_id=pad_id, layer=bilstm)
        else:
            self.encoder = AttentionEncoder(V, D, H, pad_id=pad_id)
        self.decoder = AttentionDecoder(V, D, H)
        self.softmax = TimeSoftmaxWithLoss()
        self.params = self.encoder.params + self.decoder.params
        self.grads = self.encoder.grads + self.decoder.grads
        self.param_names = [f"encoder.{n}" for n in self.encoder.param_names] + [
            f"decoder.{n}" for n in self.decoder.param_names
        ]

    @property
    def attention_weights(self) -> Array | None:
        return self.decoder.attention_weights

    def forward(self, xs: Array, ts: Array) -> Array:
        enc_hs = self.encoder.forward(xs)
        score = self.decoder.forward(ts[:, :-1], enc_hs, self.encoder.final, self.encoder.mask)
        return self.softmax.forward(score, answer_targets(ts, self.pad_id))

    def backward(self, dout: float = 1) -> None:
        denc_hs, dh0 = self.decoder.backward(self.softmax.backward(dout))
        self.encoder.backward(denc_hs, dh0)

    def generate(self, xs: Array, start_id: int, sample_size: int) -> Array:
        xs = backend.to_device(xs, like=self.params[0])  # host questions for a model on a GPU
        enc_hs = self.encoder.forward(xs)
        ids = self.decoder.generate(enc_hs, self.encoder.final, self.encoder.mask, start_id, sample_size)
        return cut_at_end(ids, self.pad_id)


# Inputs are checked once, where a batch enters the model (see course.validate.guard).
validate.guard(
    AttentionSeq2seq,
    __init__=check_sizes,
    forward=check_batch,
    backward=check_backward,
    generate=check_generate,
)
