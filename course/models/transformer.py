"""Transformer models: an encoder-decoder for seq2seq tasks and a decoder-only language model.

Built from chapter 9's layers. A *block* is two or three sub-layers, each
wrapped in a residual connection with dropout and layer normalization:

* encoder block: self-attention over the question, then a position-wise
  feed-forward network;
* decoder block: causal self-attention over the answer so far,
  cross-attention to the encoder's output (the *memory*), feed-forward.

``pre_norm=True`` normalizes the input of each sub-layer and adds the
sub-layer's output to the unnormalized stream (x + f(LN(x))), with one more
layer norm at the top of the stack: the residual path is a clean sum from
input to output, so deep stacks train without a careful warm-up.
``pre_norm=False`` is the original arrangement, LN(x + f(x)), normalizing
after every addition.

Dropout sits where the original Transformer puts it: on the sum of the
character vectors and positions, and on each sub-layer's output before the
residual addition. ``train_flg=False`` (generation, evaluation) turns it off.

Shapes: N batch, T question length, S answer length, D model size, h heads,
D_ff feed-forward size, V vocabulary size.
"""

from __future__ import annotations

from typing import Any

from course import backend, validate
from course.generate import generate as sample_text
from course.layers.basic import Dropout
from course.layers.feed_forward import PositionwiseFeedForward
from course.layers.layer_norm import LayerNorm
from course.layers.multi_head_attention import MultiHeadAttention
from course.layers.positional import PositionalEmbedding, PositionalEncoding
from course.layers.scaled_attention import causal_mask
from course.layers.time import TimeAffine, TimeEmbedding, TimeSoftmaxWithLoss
from course.models.attention_seq2seq import real_positions
from course.models.seq2seq import (
    answer_targets,
    check_backward,
    check_batch,
    check_generate,
    collect,
    cut_at_end,
)

Array = Any


class Sublayer:
    """One residual sub-layer: dropout and layer norm around a function of the stream.

    pre-norm: y = x + dropout(f(LN(x))); post-norm: y = LN(x + dropout(f(x))).
    ``forward(x, f, train_flg)`` calls ``f(z)`` on the (normalized) stream z
    (N, T, D); ``backward(dy, df)`` calls ``df(dout)`` with the gradient of
    f's output and expects back the gradient of its input z.
    """

    def __init__(self, D: int, dropout_ratio: float, pre_norm: bool) -> None:
        self.norm = LayerNorm(D)
        self.dropout = Dropout(dropout_ratio)
        self.pre_norm = pre_norm
        self.params, self.grads = self.norm.params, self.norm.grads
        self.param_names = ["ln.gamma", "ln.beta"]

    def forward(self, x: Array, f: Any, train_flg: bool) -> Array:
        if self.pre_norm:
            return x + self.dropout.forward(f(self.norm.forward(x)), train_flg)
        return self.norm.forward(x + self.dropout.forward(f(x), train_flg))

    def backward(self, dy: Array, df: Any) -> Array:
        if self.pre_norm:
            return dy + self.norm.backward(df(self.dropout.backward(dy)))
        ds = self.norm.backward(dy)
        return ds + df(self.dropout.backward(ds))


def _named(parts: list[tuple[str, Any]]) -> tuple[list[Array], list[Array], list[str]]:
    """params, grads and dotted names of named parts (their own ``param_names`` where they have them)."""
    return collect(parts)


class EncoderBlock:
    """Self-attention, then feed-forward; each a residual sub-layer.

    forward(x (N, T, D), mask=None, train_flg=True) -> (N, T, D); mask: booleans
    broadcastable to (N, h, T, T), True where a position may attend (padding:
    (N, 1, T); causal: (T, T)). backward(dout (N, T, D)) -> dx (N, T, D).
    """

    def __init__(
        self,
        D: int,
        num_heads: int,
        D_ff: int,
        dropout_ratio: float = 0.1,
        pre_norm: bool = True,
        activation: str = "relu",
    ) -> None:
        self.attention = MultiHeadAttention(D, num_heads)
        self.ffn = PositionwiseFeedForward(D, D_ff, activation=activation)
        self.sub_attention = Sublayer(D, dropout_ratio, pre_norm)
        self.sub_ffn = Sublayer(D, dropout_ratio, pre_norm)
        self.params, self.grads, self.param_names = _named(
            [
                ("attn", self.attention),
                ("sub1", self.sub_attention),
                ("ffn", self.ffn),
                ("sub2", self.sub_ffn),
            ]
        )

    def forward(self, x: Array, mask: Array | None = None, train_flg: bool = True) -> Array:
        y = self.sub_attention.forward(x, lambda z: self.attention.forward(z, z, mask), train_flg)
        return self.sub_ffn.forward(y, self.ffn.forward, train_flg)

    def backward(self, dout: Array) -> Array:
        dy = self.sub_ffn.backward(dout, self.ffn.backward)
        return self.sub_attention.backward(dy, lambda d: sum(self.attention.backward(d)))

    @property
    def attention_weights(self) -> Array | None:
        """(N, h, T, T) self-attention weights of the last forward."""
        return self.attention.attention_weights


class DecoderBlock:
    """Causal self-attention, cross-attention to the memory, feed-forward; each a residual sub-layer.

    forward(x (N, S, D), memory (N, T, D), self_mask, memory_mask, train_flg)
    -> (N, S, D); self_mask is usually causal_mask(S); memory_mask (N, 1, T)
    hides the question's padding. backward(dout (N, S, D)) -> (dx (N, S, D),
    dmemory (N, T, D)).
    """

    def __init__(
        self,
        D: int,
        num_heads: int,
        D_ff: int,
        dropout_ratio: float = 0.1,
        pre_norm: bool = True,
        activation: str = "relu",
    ) -> None:
        self.self_attention = MultiHeadAttention(D, num_heads)
        self.cross_attention = MultiHeadAttention(D, num_heads)
        self.ffn = PositionwiseFeedForward(D, D_ff, activation=activation)
        self.subs = [Sublayer(D, dropout_ratio, pre_norm) for _ in range(3)]
        self.params, self.grads, self.param_names = _named(
            [
                ("self_attn", self.self_attention),
                ("sub1", self.subs[0]),
                ("cross_attn", self.cross_attention),
                ("sub2", self.subs[1]),
                ("ffn", self.ffn),
                ("sub3", self.subs[2]),
            ]
        )
        self.dmemory: Array | None = None

    def forward(
        self,
        x: Array,
        memory: Array,
        self_mask: Array | None = None,
        memory_mask: Array | None = None,
        train_flg: bool = True,
    ) -> Array:
        s1, s2, s3 = self.subs
        y = s1.forward(x, lambda z: self.self_attention.forward(z, z, self_mask), train_flg)
        u = s2.forward(y, lambda z: self.cross_attention.forward(z, memory, memory_mask), train_flg)
        return s3.forward(u, self.ffn.forward, train_flg)

    def backward(self, dout: Array) -> tuple[Array, Array]:
        s1, s2, s3 = self.subs
        du = s3.backward(dout, self.ffn.backward)

        def cross_backward(d: Array) -> Array:
            dz, self.dmemory = self.cross_attention.backward(d)
            return dz

        dy = s2.backward(du, cross_backward)
        dx = s1.backward(dy, lambda d: sum(self.self_attention.backward(d)))
        return dx, self.dmemory


class TokenInput:
    """Character vectors plus positions, then dropout: ids (N, T) -> (N, T, D).

    ``positional="sinusoidal"`` adds the fixed encoding (no parameters);
    ``"learned"`` adds a trained vector per position. backward(dout) -> None.
    """

    def __init__(
        self, vocab_size: int, D: int, max_len: int, dropout_ratio: float, positional: str = "sinusoidal"
    ) -> None:
        if positional not in ("sinusoidal", "learned"):
            raise ValueError(f"positional must be 'sinusoidal' or 'learned', got {positional!r}.")
        # Unit-variance vectors: the same scale as the sinusoids they are added to.
        self.embed = TimeEmbedding(backend.randn(vocab_size, D, scale=1.0))
        self.position = (
            PositionalEncoding(max_len, D) if positional == "sinusoidal" else PositionalEmbedding(max_len, D)
        )
        self.dropout = Dropout(dropout_ratio)
        self.max_len = max_len
        self.params, self.grads, self.param_names = _named([("embed", self.embed), ("pos", self.position)])

    def forward(self, ids: Array, train_flg: bool = True) -> Array:
        if ids.shape[1] > self.max_len:
            raise validate.ShapeError(
                f"The sequences have {ids.shape[1]} positions but the model was built for max_len = "
                f"{self.max_len}; build it with a larger max_len."
            )
        return self.dropout.forward(self.position.forward(self.embed.forward(ids)), train_flg)

    def backward(self, dout: Array) -> None:
        self.embed.backward(self.position.backward(self.dropout.backward(dout)))


def _stack_sizes(who: str, D: int, num_heads: int, num_layers: int, dropout_ratio: float) -> None:
    validate.check_count(D, who, "D (the model size)")
    validate.check_count(num_heads, who, "num_heads")
    validate.check_count(num_layers, who, "num_layers")
    validate.check_rate(dropout_ratio, who, "dropout_ratio")
    if D % num_heads:
        raise validate.InputError(f"{who}: D = {D} must be a multiple of num_heads = {num_heads}.")


class TransformerEncoder:
    """Token input, then ``num_layers`` encoder blocks (and a final layer norm when pre-norm).

    forward(xs (N, T) ids, train_flg) -> memory (N, T, D); ``mask`` (N, 1, T)
    marks the real positions (None without a padding id).
    backward(dmemory (N, T, D)) -> None.
    """

    def __init__(self, vocab_size: int, D: int, num_heads: int, D_ff: int, num_layers: int, **options: Any):
        pad_id = options.pop("pad_id", None)
        max_len, pre_norm = options.pop("max_len"), options["pre_norm"]
        positional = options.pop("positional", "sinusoidal")
        self.input = TokenInput(vocab_size, D, max_len, options["dropout_ratio"], positional)
        self.embed = self.input.embed  # the vocabulary the model reads (checks use it)
        self.blocks = [EncoderBlock(D, num_heads, D_ff, **options) for _ in range(num_layers)]
        self.norm = LayerNorm(D) if pre_norm else None
        parts = [("input", self.input)] + [(f"block{i}", b) for i, b in enumerate(self.blocks)]
        parts += [("ln", self.norm)] if self.norm is not None else []
        self.params, self.grads, self.param_names = _named(parts)
        self.pad_id = pad_id
        self.mask: Array | None = None

    def forward(self, xs: Array, train_flg: bool = True) -> Array:
        self.mask = None if self.pad_id is None else real_positions(xs, self.pad_id)[1][:, None, :]
        x = self.input.forward(xs, train_flg)
        for block in self.blocks:
            x = block.forward(x, self.mask, train_flg)
        return x if self.norm is None else self.norm.forward(x)

    def backward(self, dout: Array) -> None:
        if self.norm is not None:
            dout = self.norm.backward(dout)
        for block in reversed(self.blocks):
            dout = block.backward(dout)
        self.input.backward(dout)


class TransformerDecoder:
    """Token input, ``num_layers`` decoder blocks, a final layer norm (pre-norm), the output Affine.

    forward(ys (N, S) ids, memory (N, T, D), memory_mask, train_flg) -> scores
    (N, S, V). backward(dscores (N, S, V)) -> dmemory (N, T, D), the sum over
    the blocks (each one's cross-attention reads the same memory).
    """

    def __init__(self, vocab_size: int, D: int, num_heads: int, D_ff: int, num_layers: int, **options: Any):
        max_len, pre_norm = options.pop("max_len"), options["pre_norm"]
        positional = options.pop("positional", "sinusoidal")
        self.input = TokenInput(vocab_size, D, max_len, options["dropout_ratio"], positional)
        self.blocks = [DecoderBlock(D, num_heads, D_ff, **options) for _ in range(num_layers)]
        self.norm = LayerNorm(D) if pre_norm else None
        self.affine = TimeAffine(backend.randn(D, vocab_size, scale=D**-0.5), backend.zeros(vocab_size))
        parts = [("input", self.input)] + [(f"block{i}", b) for i, b in enumerate(self.blocks)]
        parts += ([("ln", self.norm)] if self.norm is not None else []) + [("affine", self.affine)]
        self.params, self.grads, self.param_names = _named(parts)

    def forward(
        self, ys: Array, memory: Array, memory_mask: Array | None = None, train_flg: bool = True
    ) -> Array:
        x = self.input.forward(ys, train_flg)
        causal = causal_mask(ys.shape[1])
        for block in self.blocks:
            x = block.forward(x, memory, causal, memory_mask, train_flg)
        if self.norm is not None:
            x = self.norm.forward(x)
        return self.affine.forward(x)

    def backward(self, dscores: Array) -> Array:
        d = self.affine.backward(dscores)
        if self.norm is not None:
            d = self.norm.backward(d)
        dmemory = None
        for block in reversed(self.blocks):
            d, dm = block.backward(d)
            dmemory = dm if dmemory is None else dmemory + dm
        self.input.backward(d)
        return dmemory


class TransformerSeq2seq:
    """Encoder-decoder Transformer with the seq2seq models' interface.

    forward(xs (N, T), ts (N, S + 1), train_flg=True) -> mean loss (teacher
    forcing: the decoder reads ts[:, :-1] and predicts ts[:, 1:]);
    backward(dout=1); generate(xs, start_id, sample_size) -> (N, sample_size)
    greedy ids, after which ``attention_maps()`` gives every layer's and
    head's weights for the generated answers and ``attention_weights``
    (N, sample_size, T) the last layer's cross-attention averaged over heads.

    Padding as in :mod:`course.models.seq2seq` (``pad_id``): no query attends
    to the question's padding, and answers count up to their first padding
    character. ``label_smoothing`` is passed to the loss.
    """

    def __init__(
        self,
        vocab_size: int,
        D: int = 64,
        num_heads: int = 4,
        D_ff: int = 128,
        num_layers: int = 2,
        max_len: int = 64,
        dropout_ratio: float = 0.1,
        pre_norm: bool = True,
        pad_id: int | None = None,
        label_smoothing: float = 0.0,
        activation: str = "relu",
        positional: str = "sinusoidal",
    ) -> None:
        who = "TransformerSeq2seq"
        V = validate.check_count(vocab_size, who, "vocab_size")
        _stack_sizes(who, D, num_heads, num_layers, dropout_ratio)
        if pad_id is not None and not 0 <= pad_id < V:
            raise validate.IdRangeError(f"{who}: pad_id must be a character id in 0..{V - 1} (or None).")
        options = dict(max_len=max_len, positional=positional)
        options.update(dropout_ratio=dropout_ratio, pre_norm=pre_norm, activation=activation)
        self.encoder = TransformerEncoder(V, D, num_heads, D_ff, num_layers, pad_id=pad_id, **options)
        self.decoder = TransformerDecoder(V, D, num_heads, D_ff, num_layers, **options)
        self.softmax = TimeSoftmaxWithLoss(label_smoothing=label_smoothing)
        self.pad_id = pad_id
        self.params = self.encoder.params + self.decoder.params
        self.grads = self.encoder.grads + self.decoder.grads
        self.param_names = [f"encoder.{n}" for n in self.encoder.param_names] + [
            f"decoder.{n}" for n in self.decoder.param_names
        ]
        self._answers: Array | None = None

    def forward(self, xs: Array, ts: Array, train_flg: bool = True) -> Array:
        memory = self.encoder.forward(xs, train_flg)
        scores = self.decoder.forward(ts[:, :-1], memory, self.encoder.mask, train_flg)
        return self.softmax.forward(scores, answer_targets(ts, self.pad_id))

    def backward(self, dout: float = 1) -> None:
        self.encoder.backward(self.decoder.backward(self.softmax.backward(dout)))

    def generate(self, xs: Array, start_id: int, sample_size: int) -> Array:
        """Greedy answers: the decoder reruns on the answer so far and its last position picks the next id."""
        xs = backend.to_device(xs, like=self.params[0])
        xp = backend.array_module(xs)
        memory = self.encoder.forward(xs, train_flg=False)
        ys = xp.full((xs.shape[0], 1), start_id, dtype=xp.int32)
        for _ in range(sample_size):
            scores = self.decoder.forward(ys, memory, self.encoder.mask, train_flg=False)
            nxt = scores[:, -1].argmax(axis=-1).astype(xp.int32)
            ys = xp.concatenate([ys, nxt[:, None]], axis=1)
        # The last pass read ys[:, :-1]: its weights are those of every generated character.
        return cut_at_end(ys[:, 1:], self.pad_id)

    def attention_maps(self) -> dict[str, list[Array]]:
        """The last forward's weights, per layer, each (N, h, Tq, Tk).

        "encoder": self-attention over the question; "decoder": causal
        self-attention over the answer; "cross": each answer position over the
        question.
        """
        return {
            "encoder": [b.attention_weights for b in self.encoder.blocks],
            "decoder": [b.self_attention.attention_weights for b in self.decoder.blocks],
            "cross": [b.cross_attention.attention_weights for b in self.decoder.blocks],
        }

    @property
    def attention_weights(self) -> Array | None:
        """(N, S, T): the last layer's cross-attention, averaged over the heads."""
        last = self.decoder.blocks[-1].cross_attention.attention_weights
        return None if last is None else last.mean(axis=1)


def _check_forward(model: Any, xs: Array, ts: Array, train_flg: bool = True) -> None:
    check_batch(model, xs, ts)


validate.guard(TransformerSeq2seq, forward=_check_forward, backward=check_backward, generate=check_generate)


class TransformerLM:
    """Decoder-only character (or word) language model: causal self-attention blocks.

    predict(xs (N, T), train_flg=False) -> scores (N, T, V);
    forward(xs (N, T), ts (N, T), train_flg=True) -> mean loss (labels of -1
    are skipped); backward(dout=1). Each block of T ids is read on its own
    (no state is carried between training blocks); T may be at most max_len.

    Generation goes through :func:`course.generate.generate` like the
    recurrent models: between ``reset_state()`` calls, ``predict`` in
    evaluation mode remembers the ids it has read (up to max_len) and reads
    each new id in their context, as an RNN carries its state.
    """

    def __init__(
        self,
        vocab_size: int,
        D: int = 64,
        num_heads: int = 4,
        D_ff: int = 256,
        num_layers: int = 2,
        max_len: int = 128,
        dropout_ratio: float = 0.1,
        pre_norm: bool = True,
        label_smoothing: float = 0.0,
        activation: str = "gelu",
        positional: str = "sinusoidal",
    ) -> None:
        who = "TransformerLM"
        V = validate.check_count(vocab_size, who, "vocab_size")
        _stack_sizes(who, D, num_heads, num_layers, dropout_ratio)
        self.input = TokenInput(V, D, max_len, dropout_ratio, positional)
        options = dict(dropout_ratio=dropout_ratio, pre_norm=pre_norm, activation=activation)
        self.blocks = [EncoderBlock(D, num_heads, D_ff, **options) for _ in range(num_layers)]
        self.norm = LayerNorm(D) if pre_norm else None
        self.affine = TimeAffine(backend.randn(D, V, scale=D**-0.5), backend.zeros(V))
        self.loss_layer = TimeSoftmaxWithLoss(label_smoothing=label_smoothing)
        parts = [("input", self.input)] + [(f"block{i}", b) for i, b in enumerate(self.blocks)]
        parts += ([("ln", self.norm)] if self.norm is not None else []) + [("affine", self.affine)]
        self.params, self.grads, self.param_names = _named(parts)
        self.embed = self.input.embed
        self.max_len = max_len
        self.context: Array | None = None

    def scores(self, xs: Array, train_flg: bool = True) -> Array:
        """Scores (N, T, V) of the block xs (N, T) read on its own."""
        x = self.input.forward(xs, train_flg)
        causal = causal_mask(xs.shape[1])
        for block in self.blocks:
            x = block.forward(x, causal, train_flg)
        if self.norm is not None:
            x = self.norm.forward(x)
        return self.affine.forward(x)

    def predict(self, xs: Array, train_flg: bool = False) -> Array:
        """Scores (N, T, V) of xs (N, T), read after the ids of earlier predict calls (see the class)."""
        if train_flg:
            return self.scores(xs, True)
        xp = backend.array_module(xs)
        ids = xs if self.context is None else xp.concatenate([self.context, xs], axis=1)
        ids = ids[:, -self.max_len :]
        self.context = ids
        return self.scores(ids, False)[:, -xs.shape[1] :]

    def forward(self, xs: Array, ts: Array, train_flg: bool = True) -> Array:
        return self.loss_layer.forward(self.scores(xs, train_flg), ts)

    def backward(self, dout: float = 1) -> None:
        d = self.affine.backward(self.loss_layer.backward(dout))
        if self.norm is not None:
            d = self.norm.backward(d)
        for block in reversed(self.blocks):
            d = block.backward(d)
        self.input.backward(d)

    def reset_state(self) -> None:
        """Forget the ids remembered for generation."""
        self.context = None

    def generate(self, start_ids: int | list[int], length: int = 100, **options: Any) -> list[int]:
        """``start_ids`` and ``length`` generated ids (options: see :func:`course.generate.generate`)."""
        return sample_text(self, start_ids, length, **options)

    def attention_maps(self) -> list[Array]:
        """The last forward's self-attention weights, one (N, h, T, T) per layer."""
        return [b.attention_weights for b in self.blocks]
