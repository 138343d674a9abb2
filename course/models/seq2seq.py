"""Encoder-decoder models: Seq2seq and its peeky variant.

The encoder reads the question xs (N, T) and sums it up in its final hidden
state h (N, H); the decoder starts from h and predicts the answer one
character at a time. Training feeds the decoder the right answer shifted by
one (teacher forcing): inputs ts[:, :-1], targets ts[:, 1:].

Padding. With ``pad_id`` set (the padding character's id), each question's
length is the position of its last non-padding character; the encoder hands
over its state at that position, so a padded question gives exactly the
answer it gives alone. Answers count up to and including their first
padding character (it marks the end); the padding after it is ignored by the
loss, and generated answers are cut there. With ``pad_id=None`` padding is
an ordinary character, as in the book.

Shapes: N batch, T question length, D character-vector size, H hidden size,
V vocabulary size.
"""

from __future__ import annotations

from typing import Any

from course import backend, validate
from course import generate as decoding
from course.answers import model_answer
from course.datasets.sequence import lengths as row_lengths
from course.functions import log_softmax
from course.layers.time import TimeAffine, TimeEmbedding, TimeSoftmaxWithLoss
from course.layers.time_lstm import FusedTimeLSTM

Array = Any


def lstm_weights(D: int, H: int) -> tuple[Array, Array, Array]:
    """Xavier-style LSTM weights Wx (D, 4H), Wh (H, 4H) and zero b (4H,), float32."""
    return (
        backend.randn(D, 4 * H, scale=1 / D**0.5),
        backend.randn(H, 4 * H, scale=1 / H**0.5),
        backend.zeros(4 * H),
    )


def char_vectors(V: int, D: int) -> Array:
    """Character vectors (V, D), float32, drawn from N(0, 1).

    Unit scale, not the 0.01 used for word vectors in the book: with tiny
    vectors the LSTM hardly sees which character it reads, and the first
    epoch goes by before attention learns where to look (dates: 1-5% right
    after one epoch at 0.01, 97-99.8% at 1).
    """
    return backend.randn(V, D, scale=1.0)


def collect(layers: list[tuple[str, Any]]) -> tuple[list[Array], list[Array], list[str]]:
    """params, grads and dotted names of named layers, in order."""
    params, grads, names = [], [], []
    for prefix, layer in layers:
        own = list(getattr(layer, "param_names", None) or [f"p{i}" for i in range(len(layer.params))])
        params += layer.params
        grads += layer.grads
        names += [f"{prefix}.{n}" for n in own]
    return params, grads, names


def question_lengths(xs: Array, pad_id: int | None) -> Array:
    """(N,) real length of each question (all T when there is no padding id)."""
    xp = backend.array_module(xs)
    if pad_id is None:
        return xp.full(xs.shape[0], xs.shape[1])
    L = row_lengths(xs, pad_id)
    if int(L.min()) < 1:
        raise ValueError("A question is empty (padding only); every question needs a character.")
    return L


def answer_targets(ts: Array, pad_id: int | None) -> Array:
    """Decoder targets (N, T-1): after the first padding character, -1 (ignored)."""
    targets = ts[:, 1:]
    if pad_id is None:
        return targets
    xp = backend.array_module(ts)
    is_pad = targets == pad_id
    after_end = (xp.cumsum(is_pad, axis=1) - is_pad) > 0
    return xp.where(after_end, -1, targets)


def cut_at_end(ids: Array, pad_id: int | None) -> Array:
    """Generated ids (N, S) with everything after the first padding id set to padding."""
    if pad_id is None:
        return ids
    xp = backend.array_module(ids)
    ended = xp.cumsum(ids == pad_id, axis=1) > 0
    return xp.where(ended, pad_id, ids)


def vocab_size_of(model: Any) -> int:
    """V, the number of character ids a seq2seq model reads (rows of its encoder's embedding)."""
    return int(model.encoder.embed.params[0].shape[0])


def check_questions(model: Any, xs: Array, who: str) -> None:
    """xs (N, T) integer character ids within the model's vocabulary."""
    validate.check_array(xs, who, "xs", "(N, T) of character ids")
    validate.check_ndim(
        xs, 2, who, "xs", "(N, T): N questions of T character ids", "For one question: xs[None]."
    )
    validate.check_ids(xs, vocab_size_of(model), who, "xs", "Build the model with V = len(char_to_id).")


def check_batch(model: Any, xs: Array, ts: Array) -> None:
    """Questions xs (N, T) and answers ts (N, T_out >= 2) as integer ids, with the same N."""
    who = f"{type(model).__name__}.forward"
    check_questions(model, xs, who)
    validate.check_array(ts, who, "ts", "(N, T_out) of character ids")
    if ts.ndim != 2 or ts.shape[0] != xs.shape[0] or ts.shape[1] < 2:
        raise validate.ShapeError(
            f"{who}: ts has shape {tuple(ts.shape)}, expected (N, T_out) = ({xs.shape[0]}, T_out) with "
            "T_out >= 2: each answer is the start symbol followed by its characters, one row per question."
        )
    validate.check_ids(ts, vocab_size_of(model), who, "ts", "Build the model with V = len(char_to_id).")


def check_sizes(
    model: Any, vocab_size: int, wordvec_size: int, hidden_size: int, pad_id: int | None = None, *args: Any
) -> None:
    """The sizes of a seq2seq model (whole numbers >= 1) and its padding id (None or an id < V)."""
    who = type(model).__name__
    V = validate.check_count(vocab_size, who, "vocab_size")
    validate.check_count(wordvec_size, who, "wordvec_size")
    validate.check_count(hidden_size, who, "hidden_size")
    if pad_id is not None and validate.check_count(pad_id, who, "pad_id", minimum=0) >= V:
        raise validate.IdRangeError(
            f"{who}: pad_id must be a character id in 0..{V - 1} (or None), got {pad_id}."
        )


def check_backward(model: Any, dout: float = 1) -> None:
    """backward: forward has run, and dout is a number."""
    validate.check_backward_ready(model.softmax.dx, type(model).__name__)
    validate.check_scalar_dout(dout, type(model).__name__)


def check_generate(model: Any, xs: Array, start_id: int, sample_size: int) -> None:
    """generate's arguments: questions, a start id within the vocabulary, a length >= 1."""
    who = f"{type(model).__name__}.generate"
    check_questions(model, xs, who)
    V = vocab_size_of(model)
    start = validate.check_count(start_id, who, "start_id", minimum=0)
    if start >= V:
        raise validate.IdRangeError(f"{who}: start_id must lie in 0..{V - 1}, got {start_id}.")
    validate.check_count(sample_size, who, "sample_size")


@model_answer("encoder", chapter="ch07", methods=("forward", "backward"), derivation=True)
class Encoder:
    """Embedding -> LSTM; the summary is the hidden state at each question's end.

    forward(xs (N, T) ids) -> h (N, H). backward(dh (N, H)) -> None.
    """

    def __init__(
        self, vocab_size: int, wordvec_size: int, hidden_size: int, pad_id: int | None = None
    ) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.embed = TimeEmbedding(char_vectors(V, D))
        self.lstm = FusedTimeLSTM(*lstm_weights(D, H), stateful=False)
        self.pad_id = pad_id
        self.params, self.grads, self.param_names = collect([("embed", self.embed), ("lstm", self.lstm)])
        self.hs: Array | None = None
        self.ends: Array | None = None
        self.final: Array | None = None

    def forward(self, xs: Array) -> Array:
        xp = backend.array_module(xs)
        L = question_lengths(xs, self.pad_id)
        # With lengths, the LSTM skips the padding instead of reading it.
        hs = self.lstm.forward(self.embed.forward(xs), lengths=None if self.pad_id is None else L)
        self.hs = hs
        self.ends = L - 1
        self.final = hs[xp.arange(hs.shape[0]), self.ends]
        return self.final

    def backward(self, dh: Array) -> None:
        xp = backend.array_module(dh)
        dhs = xp.zeros_like(self.hs)
        dhs[xp.arange(dh.shape[0]), self.ends] = dh
        self.embed.backward(self.lstm.backward(dhs))


@model_answer("decoder", chapter="ch07", methods=("forward", "backward"), derivation=True)
class Decoder:
    """Embedding -> LSTM (started from the encoder's h) -> Affine.

    forward(xs (N, T') ids, h (N, H)) -> scores (N, T', V).
    backward(dscore (N, T', V)) -> dh (N, H).
    generate(h, start_id, sample_size) -> ids (N, sample_size), greedy.
    """

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.embed = TimeEmbedding(char_vectors(V, D))
        self.lstm = FusedTimeLSTM(*lstm_weights(D, H), stateful=True)
        self.affine = TimeAffine(backend.randn(H, V, scale=1 / H**0.5), backend.zeros(V))
        named = [("embed", self.embed), ("lstm", self.lstm), ("affine", self.affine)]
        self.params, self.grads, self.param_names = collect(named)

    def forward(self, xs: Array, h: Array) -> Array:
        self.lstm.set_state(h)
        return self.affine.forward(self.lstm.forward(self.embed.forward(xs)))

    def backward(self, dscore: Array) -> Array:
        dout = self.affine.backward(dscore)
        self.embed.backward(self.lstm.backward(dout))
        return self.lstm.dh

    def generate(self, h: Array, start_id: int, sample_size: int) -> Array:
        xp = backend.array_module(h)
        ids = xp.full((h.shape[0], 1), start_id, dtype=xp.int32)
        for _ in range(sample_size):
            # The answer so far is read again at every step: answers are short, and
            # any decoder with this forward (the peeky one too) generates this way.
            best = self.forward(ids, h)[:, -1].argmax(axis=-1).astype(xp.int32)
            ids = xp.concatenate([ids, best[:, None]], axis=1)
        return ids[:, 1:]


@model_answer("peeky_decoder", chapter="ch07", methods=("forward", "backward"), derivation=True)
class PeekyDecoder(Decoder):
    """A decoder that sees the encoder's h at every step, not only at the start.

    At every step h is put in front of the LSTM's input (D + H values) and in
    front of the LSTM's output on its way to the Affine layer (2H values).
    forward(xs (N, T') ids, h (N, H)) -> scores (N, T', V).
    backward(dscore (N, T', V)) -> dh (N, H). generate is the Decoder's.
    """

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.embed = TimeEmbedding(char_vectors(V, D))
        self.lstm = FusedTimeLSTM(*lstm_weights(D + H, H), stateful=True)
        self.affine = TimeAffine(backend.randn(2 * H, V, scale=1 / (2 * H) ** 0.5), backend.zeros(V))
        named = [("embed", self.embed), ("lstm", self.lstm), ("affine", self.affine)]
        self.params, self.grads, self.param_names = collect(named)
        self.H = H

    def forward(self, xs: Array, h: Array) -> Array:
        xp = backend.array_module(h)
        hs = xp.repeat(h[:, None, :], xs.shape[1], axis=1)  # (N, T', H): h at every step
        self.lstm.set_state(h)
        out = self.lstm.forward(xp.concatenate([hs, self.embed.forward(xs)], axis=2))
        return self.affine.forward(xp.concatenate([hs, out], axis=2))

    def backward(self, dscore: Array) -> Array:
        H = self.H
        dcat = self.affine.backward(dscore)
        dh_affine, dout = dcat[:, :, :H], dcat[:, :, H:]
        dcat = self.lstm.backward(dout)
        dh_lstm, dembed = dcat[:, :, :H], dcat[:, :, H:]
        self.embed.backward(dembed)
        return self.lstm.dh + dh_affine.sum(axis=1) + dh_lstm.sum(axis=1)


class AnswerScorer:
    """A seq2seq model's next-character log-probabilities for beam search.

    Built from a model and its questions xs (N, T), which it encodes once;
    called with answer prefixes (N, B, t) (B prefixes per question, each
    starting with the start symbol), it returns the log-probabilities of every
    next character, (N, B, V). Each call reads the prefixes from the start:
    answers are a few characters long.
    """

    def __init__(self, model: Any, xs: Array) -> None:
        self.decoder = model.decoder
        self.h = model.encoder.forward(xs)

    def __call__(self, prefixes: Array) -> Array:
        xp = backend.array_module(prefixes)
        N, B, t = prefixes.shape
        h = xp.repeat(self.h, B, axis=0)  # row n * B + b answers question n
        scores = self.decoder.forward(prefixes.reshape(N * B, t), h)[:, -1]
        return log_softmax(scores).reshape(N, B, -1)


class Seq2seq:
    """Encoder + Decoder + softmax loss.

    forward(xs (N, T) questions, ts (N, T_out) answers starting with the start
    symbol) -> mean loss; backward(dout=1). generate(xs, start_id, sample_size)
    -> (N, sample_size) answer ids (greedy), without the start symbol.
    """

    decoder_class = Decoder

    def __init__(
        self, vocab_size: int, wordvec_size: int, hidden_size: int, pad_id: int | None = None
    ) -> None:
        V, D, H = vocab_size, wordvec_size, hidden_size
        self.pad_id = pad_id
        self.encoder = Encoder(V, D, H, pad_id=pad_id)
        self.decoder = self.decoder_class(V, D, H)
        self.softmax = TimeSoftmaxWithLoss()
        self.params = self.encoder.params + self.decoder.params
        self.grads = self.encoder.grads + self.decoder.grads
        self.param_names = [f"encoder.{n}" for n in self.encoder.param_names] + [
            f"decoder.{n}" for n in self.decoder.param_names
        ]

    def forward(self, xs: Array, ts: Array) -> Array:
        h = self.encoder.forward(xs)
        score = self.decoder.forward(ts[:, :-1], h)
        return self.softmax.forward(score, answer_targets(ts, self.pad_id))

    def backward(self, dout: float = 1) -> None:
        dh = self.decoder.backward(self.softmax.backward(dout))
        self.encoder.backward(dh)

    def generate(self, xs: Array, start_id: int, sample_size: int) -> Array:
        xs = backend.to_device(xs, like=self.params[0])  # host questions for a model on a GPU
        h = self.encoder.forward(xs)
        return cut_at_end(self.decoder.generate(h, start_id, sample_size), self.pad_id)

    def beam_search(self, xs: Array, start_id: int, sample_size: int, beam_width: int) -> Array:
        """The most likely answers (N, sample_size) that a beam of beam_width finds.

        beam_width=1 gives generate's greedy answers; the padding id ends an answer.
        """
        xp = backend.array_module(self.params[0])
        xs = backend.to_device(xs, like=self.params[0])  # host questions for a model on a GPU
        start = xp.full(xs.shape[0], start_id, dtype=xp.int32)
        ids, _ = decoding.beam_search(
            AnswerScorer(self, xs), start, sample_size, beam_width, end_id=self.pad_id
        )
        return ids[:, 0].astype(xp.int32)


class PeekySeq2seq(Seq2seq):
    """Seq2seq with a PeekyDecoder."""

    decoder_class = PeekyDecoder


def check_beam_search(model: Any, xs: Array, start_id: int, sample_size: int, beam_width: int) -> None:
    """beam_search's arguments: generate's, and a beam width >= 1."""
    check_generate(model, xs, start_id, sample_size)
    validate.check_count(beam_width, f"{type(model).__name__}.beam_search", "beam_width")


# Inputs are checked once, where a batch enters the model (see course.validate.guard).
validate.guard(
    Seq2seq,
    __init__=check_sizes,
    forward=check_batch,
    backward=check_backward,
    generate=check_generate,
    beam_search=check_beam_search,
)
