"""Seq2seq with attention: the decoder looks back at every encoder state.

The encoder returns all its hidden states hs (N, T, H) instead of only the
last one; at each step the decoder's LSTM output picks a weighted average of
them (``TimeAttention``) and predicts from that context and its own state.
With ``bidirectional=True`` the encoder reads each question both ways (two
LSTMs of H/2 units whose states are concatenated), so every position knows
what follows it too.

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
from course.layers.time import TimeAffine, TimeEmbedding, TimeSoftmaxWithLoss
from course.layers.time_lstm import TimeLSTM
from course.models.seq2seq import (
    Encoder,
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


class AttentionEncoder(Encoder):
    """Embedding -> LSTM, returning every hidden state.

    forward(xs (N, T) ids) -> hs (N, T, H); ``final`` (N, H) is the state at
    each question's end and ``mask`` (N, T) marks its real positions.
    backward(dhs (N, T, H), dfinal (N, H)) -> None.
    """

    mask: Array | None = None

    def _lengths(self, xs: Array) -> Array | None:
        """Set ``ends`` and ``mask``; return the lengths for the LSTM (None without padding)."""
        xp = backend.array_module(xs)
        L = question_lengths(xs, self.pad_id)
        self.ends = L - 1
        self.mask = xp.arange(xs.shape[1])[None, :] < L[:, None]
        return None if self.pad_id is None else L

    def forward(self, xs: Array) -> Array:
        xp = backend.array_module(xs)
        L = self._lengths(xs)
        hs = self.lstm.forward(self.embed.forward(xs), lengths=L)
        self.final = hs[xp.arange(hs.shape[0]), self.ends]
        return hs

    def backward(self, dhs: Array, dfinal: Array) -> None:
        xp = backend.array_module(dhs)
        dhs = dhs.copy()
        dhs[xp.arange(dhs.shape[0]), self.ends] += dfinal
        self.embed.backward(self.lstm.backward(dhs))


class AttentionBiEncoder(AttentionEncoder):
    """A bidirectional encoder: one LSTM reads each question forwards, one backwards.

    Each has H/2 units; hs (N, T, H) concatenates both at every position. The
    backward LSTM reads only the real characters (reversed per question), so
    padding never reaches it. ``final`` joins the forward LSTM's last state and
    the backward LSTM's last state (at the question's first character).
    """

    def __init__(
        self, vocab_size: int, wordvec_size: int, hidden_size: int, pad_id: int | None = None
    ) -> None:
        if hidden_size % 2:
            raise ValueError(f"A bidirectional encoder splits hidden_size in two; {hidden_size} is odd.")
        V, D, H2 = vocab_size, wordvec_size, hidden_size // 2
        self.embed = TimeEmbedding(char_vectors(V, D))
        self.lstm = TimeLSTM(*lstm_weights(D, H2), stateful=False)
        self.back_lstm = TimeLSTM(*lstm_weights(D, H2), stateful=False)
        self.pad_id = pad_id
        named = [("embed", self.embed), ("lstm", self.lstm), ("back_lstm", self.back_lstm)]
        self.params, self.grads, self.param_names = collect(named)
        self.final = self.mask = self.ends = None
        self.order: Array | None = None

    def _flip(self, x: Array) -> Array:
        """Reverse the real positions of each row (the same index undoes it)."""
        xp = backend.array_module(x)
        return xp.take_along_axis(x, self.order[:, :, None], axis=1)

    def forward(self, xs: Array) -> Array:
        xp = backend.array_module(xs)
        lengths = self._lengths(xs)
        T = xs.shape[1]
        L = self.ends[:, None] + 1
        t = xp.arange(T)[None, :]
        self.order = xp.where(t < L, L - 1 - t, t)
        emb = self.embed.forward(xs)
        fwd = self.lstm.forward(emb, lengths=lengths)
        bwd = self._flip(self.back_lstm.forward(self._flip(emb), lengths=lengths))
        rows = xp.arange(xs.shape[0])
        self.final = xp.concatenate([fwd[rows, self.ends], bwd[:, 0]], axis=1)
        return xp.concatenate([fwd, bwd], axis=2)

    def backward(self, dhs: Array, dfinal: Array) -> None:
        xp = backend.array_module(dhs)
        H2 = dhs.shape[2] // 2
        rows = xp.arange(dhs.shape[0])
        dfwd, dbwd = dhs[:, :, :H2].copy(), dhs[:, :, H2:].copy()
        dfwd[rows, self.ends] += dfinal[:, :H2]
        dbwd[:, 0] += dfinal[:, H2:]
        demb = self.lstm.backward(dfwd) + self._flip(self.back_lstm.backward(self._flip(dbwd)))
        self.embed.backward(demb)


@model_answer("attention_decoder", chapter="ch08", methods=("forward", "backward"), derivation=True)
class AttentionDecoder:
    """Embedding -> LSTM -> TimeAttention over the encoder states -> Affine on [context, h].

    forward(xs (N, T') ids, enc_hs (N, T, H), h0 (N, H), mask (N, T)) -> scores (N, T', V).
    backward(dscore) -> (denc_hs (N, T, H), dh0 (N, H)).
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

    def _scores(self, dec_hs: Array, enc_hs: Array, mask: Array | None) -> Array:
        xp = backend.array_module(dec_hs)
        c = self.attention.forward(enc_hs, dec_hs, mask)
        return self.affine.forward(xp.concatenate([c, dec_hs], axis=2))

    def forward(self, xs: Array, enc_hs: Array, h0: Array, mask: Array | None = None) -> Array:
        self.lstm.set_state(h0)
        dec_hs = self.lstm.forward(self.embed.forward(xs))
        return self._scores(dec_hs, enc_hs, mask)

    def backward(self, dscore: Array) -> tuple[Array, Array]:
        H = self.H
        dout = self.affine.backward(dscore)
        dc, ddec = dout[:, :, :H], dout[:, :, H:]
        denc_hs, ddec_att = self.attention.backward(dc)
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
            dec_h = self.lstm.forward(self.embed.forward(x))
            x = self._scores(dec_h, enc_hs, mask).argmax(axis=-1).astype(xp.int32)
            ids.append(x)
            weights.append(self.attention.attention_weights)
        self.attention_weights = xp.concatenate(weights, axis=1)
        return xp.concatenate(ids, axis=1)


class AttentionSeq2seq:
    """Seq2seq with attention (optionally a bidirectional encoder).

    forward(xs (N, T), ts (N, T_out)) -> mean loss; backward(dout=1).
    generate(xs, start_id, sample_size) -> (N, sample_size) ids; afterwards
    ``attention_weights`` (N, sample_size, T) holds where each output character
    looked, for plotting.
    """

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        pad_id: int | None = None,
        bidirectional: bool = False,
    ) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        encoder_class = AttentionBiEncoder if bidirectional else AttentionEncoder
        self.pad_id = pad_id
        self.encoder = encoder_class(V, D, H, pad_id=pad_id)
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
