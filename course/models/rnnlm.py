"""Recurrent language models: SimpleRnnlm, Rnnlm, BetterRnnlm, GRURnnlm and the PTB presets.

Every model reads word ids xs (N, T) and predicts the next word at every
step: scores (N, T, V) for a vocabulary of V words. The layers are

    TimeEmbedding -> [TimeDropout] -> recurrent layer(s) [-> TimeDropout] -> TimeAffine

followed by TimeSoftmaxWithLoss. The recurrent layers are stateful: the
hidden state of one block of T steps is where the next block starts
(truncated BPTT); ``reset_state()`` forgets it.

Common interface:

* ``predict(xs, train_flg=False)`` -> scores (N, T, V);
* ``forward(xs, ts, train_flg=True)`` -> mean loss over the counted tokens
  (labels of -1 are ignored);
* ``backward(dout=1)`` fills ``grads``;
* ``reset_state()``; ``generate(start_ids, length)``;
* ``save_params(path)`` / ``load_params(path)`` (float32 ``.npz``).

Weight tying (``tie_weights=True``): the embedding matrix (V, D) is also the
output weight. It appears once in ``params``, and ``backward`` adds the
gradients of both uses into its single ``grads`` entry.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from typing import Any

from course import backend, validate
from course.files import atomic_write
from course.generate import generate
from course.layers.time import TimeAffine, TimeDropout, TimeEmbedding, TimeSoftmaxWithLoss
from course.layers.time_gru import TimeGRU
from course.layers.time_lstm import FusedTimeLSTM
from course.layers.time_rnn import FusedTimeRNN

Array = Any

_CELLS = {"rnn": (FusedTimeRNN, 1), "lstm": (FusedTimeLSTM, 4), "gru": (TimeGRU, 3)}


def _uniform(shape: tuple[int, ...], scale: float, dtype: str) -> Array:
    """Uniform(-scale, scale) samples on the backend in use."""
    xp = backend.xp()
    u = backend.rng(xp).random(shape, dtype=xp.dtype(dtype).type)
    u *= 2.0 * scale
    u -= scale
    return u


def _weight(rows: int, cols: int, init_scale: float | None, fan_in: int, dtype: str) -> Array:
    """N(0, 1/fan_in) weights (the book's choice), or Uniform(±init_scale) when given."""
    if init_scale is not None:
        return _uniform((rows, cols), init_scale, dtype)
    return backend.randn(rows, cols, scale=1.0 / math.sqrt(fan_in), dtype=dtype)


def _sizes(vocab_size: Any, wordvec_size: Any, hidden_size: Any) -> list[tuple[str, Any]]:
    return [("vocab_size", vocab_size), ("wordvec_size", wordvec_size), ("hidden_size", hidden_size)]


class RecurrentLanguageModel:
    """Embedding, stacked recurrent layers with optional dropout, output layer, softmax loss.

    vocab_size V, wordvec_size D, hidden_size H; ``cell`` is "rnn", "lstm"
    or "gru"; ``num_layers`` recurrent layers; ``dropout_ratio`` > 0 puts a
    TimeDropout after the embedding and after every recurrent layer;
    ``tie_weights`` reuses the embedding matrix as the output weight (needs
    D == H). ``init_scale`` None gives the book's initialisation
    (embedding N(0, 0.01^2), weights N(0, 1/fan_in), zero biases); a number
    s draws every weight from Uniform(-s, s) (the PTB presets).

    Shapes: xs, ts (N, T) word ids; scores (N, T, V).
    """

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        cell: str = "lstm",
        num_layers: int = 1,
        dropout_ratio: float = 0.0,
        tie_weights: bool = False,
        init_scale: float | None = None,
        dtype: str = "float32",
    ) -> None:
        who = type(self).__name__
        V, D, H = (validate.check_count(v, who, n) for n, v in _sizes(vocab_size, wordvec_size, hidden_size))
        validate.check_rate(dropout_ratio, who, "dropout_ratio")
        if init_scale is not None:
            validate.check_positive(init_scale, who, "init_scale")
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}.")
        num_layers = validate.check_count(num_layers, who, "num_layers")
        if tie_weights and D != H:
            raise ValueError(
                f"Weight tying reuses the (V, D) embedding as the output weight, so wordvec_size ({D}) "
                f"must equal hidden_size ({H})."
            )
        time_layer, gates = _CELLS[cell]
        self.config = {
            "vocab_size": V,
            "wordvec_size": D,
            "hidden_size": H,
            "cell": cell,
            "num_layers": num_layers,
            "dropout_ratio": dropout_ratio,
            "tie_weights": tie_weights,
            "init_scale": init_scale,
        }
        self.tie_weights = tie_weights
        embed_W = (
            _uniform((V, D), init_scale, dtype)
            if init_scale is not None
            else backend.randn(V, D, scale=0.01, dtype=dtype)
        )
        self.embed = TimeEmbedding(embed_W)
        named: list[tuple[str, Any]] = [("embed", self.embed)]
        self.dropouts: list[TimeDropout] = []
        self.rnn_layers: list[Any] = []

        def add_dropout() -> None:
            if dropout_ratio > 0:
                self.dropouts.append(TimeDropout(dropout_ratio))
                named.append((f"dropout{len(self.dropouts)}", self.dropouts[-1]))

        add_dropout()
        for k in range(num_layers):
            d_in = D if k == 0 else H
            layer = time_layer(
                _weight(d_in, gates * H, init_scale, d_in, dtype),
                _weight(H, gates * H, init_scale, H, dtype),
                backend.zeros(gates * H, dtype=dtype),
                stateful=True,
            )
            self.rnn_layers.append(layer)
            named.append((f"{cell}{k + 1}" if num_layers > 1 else cell, layer))
            add_dropout()
        if tie_weights:
            self.affine = TimeAffine(embed_W, backend.zeros(V, dtype=dtype), transposed=True)
            # One gradient array for the shared matrix: the output layer writes its part,
            # then the embedding (whose backward runs last) adds its rows.
            self.embed.accumulate = True
            self.embed.grads[0] = self.affine.grads[0]
        else:
            self.affine = TimeAffine(_weight(H, V, init_scale, H, dtype), backend.zeros(V, dtype=dtype))
        named.append(("affine", self.affine))
        self.layers = [layer for _, layer in named]
        self.loss_layer = TimeSoftmaxWithLoss()
        self._collect_params(named)

    def _collect_params(self, named: list[tuple[str, Any]]) -> None:
        """One flat params/grads list; the tied matrix is listed once, with its own grads entry."""
        self.params: list[Array] = []
        self.grads: list[Array] = []
        self.param_names: list[str] = []
        for lname, layer in named:
            names = getattr(layer, "param_names", ())
            for pname, p, g in zip(names, layer.params, layer.grads, strict=True):
                if self.tie_weights and layer is self.affine and pname == "W":
                    continue  # the embedding matrix, already listed
                self.params.append(p)
                self.grads.append(g)
                self.param_names.append(f"{lname}.{pname}")

    @classmethod
    def from_preset(cls, name: str, vocab_size: int, **overrides: Any) -> RecurrentLanguageModel:
        """The model of a named configuration ("book", "small", "medium", "large"; see ``PRESETS``).

        Example: ``BetterRnnlm.from_preset("medium", 10000)``; keyword arguments
        override preset fields, e.g. ``tie_weights=True``.
        """
        return get_preset(name, **overrides).build(vocab_size)

    # ------------------------------------------------------------------ passes

    def predict(self, xs: Array, train_flg: bool = False) -> Array:
        """Scores (N, T, V) for word ids xs (N, T); dropout only when train_flg."""
        for layer in self.dropouts:
            layer.train_flg = train_flg
        out = xs
        for layer in self.layers:
            out = layer.forward(out)
        return out

    def forward(self, xs: Array, ts: Array, train_flg: bool = True) -> Array:
        """Mean cross-entropy of predicting ts (N, T) from xs (N, T); labels of -1 are skipped."""
        return self.loss_layer.forward(self.predict(xs, train_flg), ts)

    def backward(self, dout: float = 1) -> None:
        """Backpropagate through all layers; fills ``grads``."""
        d = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            d = layer.backward(d)

    def reset_state(self) -> None:
        """Forget the hidden state carried between blocks of T steps."""
        for layer in self.rnn_layers:
            layer.reset_state()

    def generate(self, start_ids: int | list[int], length: int = 100, **options: Any) -> list[int]:
        """``start_ids`` and ``length`` generated ids (options: see :func:`course.generate.generate`)."""
        return generate(self, start_ids, length, **options)

    # ------------------------------------------------------------------ files

    def save_params(self, path: str | os.PathLike | None = None) -> None:
        """Write every parameter, as float32, to an ``.npz`` file (keys: ``param_names``).

        The default path is the class name, e.g. ``Rnnlm.npz``; ``.npz`` is
        added to a path without it. The file is written safely: to a
        temporary file next to it, then renamed, so an interrupted save leaves
        the previous checkpoint as it was, never half a file.
        """
        np = backend.host()
        arrays = {
            name: backend.to_host(p).astype(np.float32)
            for name, p in zip(self.param_names, self.params, strict=True)
        }
        if hasattr(path, "write"):  # an open file: the caller owns it
            np.savez(path, **arrays)
            return
        path = os.fsdecode(f"{type(self).__name__}.npz" if path is None else path)
        if not path.endswith(".npz"):
            path += ".npz"  # as np.savez names it
        atomic_write(path, lambda f: np.savez(f, **arrays))

    def load_params(self, path: str | os.PathLike | None = None) -> None:
        """Read parameters written by :meth:`save_params` into this model, in place.

        The file (default: the class name, e.g. ``Rnnlm.npz``) must hold every
        parameter of this model with the same shape; otherwise a ValueError
        names the parameter and both shapes.
        """
        np = backend.host()
        path = os.fspath(f"{type(self).__name__}.npz" if path is None else path)
        if not os.path.exists(path) and os.path.exists(path + ".npz"):
            path += ".npz"
        if not os.path.exists(path):
            raise FileNotFoundError(f"No parameter file at {path!r}; save one with model.save_params(path).")
        with np.load(path, allow_pickle=False) as data:
            missing = [n for n in self.param_names if n not in data.files]
            if missing:
                raise ValueError(
                    f"{path!r} does not hold the parameters {missing} of this model (it has "
                    f"{sorted(data.files)}); was it saved from a different model class or configuration?"
                )
            loaded = {n: _read_array(data, n, path) for n in self.param_names}
        for name, p in zip(self.param_names, self.params, strict=True):
            if loaded[name].shape != p.shape:
                raise ValueError(
                    f"Parameter {name!r} has shape {loaded[name].shape} in {path!r} but {p.shape} in this "
                    "model; build the model with the sizes the file was saved with."
                )
        for name, p in zip(self.param_names, self.params, strict=True):
            p[...] = backend.to_device(loaded[name].astype(p.dtype), like=p)


def _read_array(data: Any, name: str, path: str) -> Array:
    """One array of an .npz file; pickled Python objects are refused, never loaded."""
    try:
        return data[name]
    except ValueError:
        raise ValueError(
            f"{path!r} stores {name!r} as Python objects (pickled data), which the course never "
            "loads; save parameters with model.save_params(path)."
        ) from None


def _check_ids(model: Any, ids: Array, who: str, name: str) -> None:
    """ids (N, T) integer word ids within the model's vocabulary."""
    validate.check_array(ids, who, name, "(N, T) of word ids")
    validate.check_ndim(
        ids, 2, who, name, "(N, T): N sequences of T word ids", "For one sequence of ids pass ids[None, :]."
    )
    validate.check_ids(ids, model.config["vocab_size"], who, name)


def _check_predict(model: Any, xs: Array, train_flg: bool = False) -> None:
    _check_ids(model, xs, f"{type(model).__name__}.predict", "xs")


def _check_forward(model: Any, xs: Array, ts: Array, train_flg: bool = True) -> None:
    who = f"{type(model).__name__}.forward"
    _check_ids(model, xs, who, "xs")
    validate.check_array(ts, who, "ts", "(N, T) of next-word ids")
    validate.check_same_shape(ts, xs.shape, who, "ts", "the shape of xs (N, T)", "One next word per input.")
    validate.check_labels(ts, model.config["vocab_size"], who, ignore=model.loss_layer.ignore_label)


def _check_backward(model: Any, dout: float = 1) -> None:
    validate.check_backward_ready(model.loss_layer.dx, type(model).__name__)
    validate.check_scalar_dout(dout, type(model).__name__)


# Inputs are checked once, where a batch enters the model (see course.validate.guard).
validate.guard(
    RecurrentLanguageModel, predict=_check_predict, forward=_check_forward, backward=_check_backward
)


class SimpleRnnlm(RecurrentLanguageModel):
    """The chapter 5 model: TimeEmbedding -> TimeRNN -> TimeAffine -> softmax loss.

    Shapes: xs, ts (N, T) ids; embedding (V, D) with D = wordvec_size, hidden H.
    """

    def __init__(
        self, vocab_size: int = 10000, wordvec_size: int = 100, hidden_size: int = 100, dtype: str = "float32"
    ) -> None:
        super().__init__(vocab_size, wordvec_size, hidden_size, cell="rnn", dtype=dtype)


class Rnnlm(RecurrentLanguageModel):
    """The chapter 6 model: TimeEmbedding -> TimeLSTM -> TimeAffine -> softmax loss.

    Shapes: xs, ts (N, T) ids; embedding (V, D) with D = wordvec_size, hidden H.
    """

    def __init__(
        self,
        vocab_size: int = 10000,
        wordvec_size: int = 100,
        hidden_size: int = 100,
        init_scale: float | None = None,
        dtype: str = "float32",
    ) -> None:
        super().__init__(
            vocab_size, wordvec_size, hidden_size, cell="lstm", init_scale=init_scale, dtype=dtype
        )


class BetterRnnlm(RecurrentLanguageModel):
    """Stacked LSTMs with dropout and weight tying (chapter 6's improved model).

    Embedding -> dropout -> LSTM -> dropout -> LSTM -> dropout -> affine, with the
    embedding (V, D) reused as the output weight when ``tie_weights`` (needs
    D == H). Shapes: xs, ts (N, T) ids; scores (N, T, V).
    ``BetterRnnlm.from_preset("medium", V)`` builds a classic PTB configuration.
    """

    def __init__(
        self,
        vocab_size: int = 10000,
        wordvec_size: int = 650,
        hidden_size: int = 650,
        dropout_ratio: float = 0.5,
        num_layers: int = 2,
        tie_weights: bool = True,
        init_scale: float | None = None,
        dtype: str = "float32",
    ) -> None:
        super().__init__(
            vocab_size,
            wordvec_size,
            hidden_size,
            cell="lstm",
            num_layers=num_layers,
            dropout_ratio=dropout_ratio,
            tie_weights=tie_weights,
            init_scale=init_scale,
            dtype=dtype,
        )


class GRURnnlm(RecurrentLanguageModel):
    """The GRU variant: TimeEmbedding -> TimeGRU layer(s) -> TimeAffine -> softmax loss.

    Same options as BetterRnnlm (dropout, tying, several layers), with defaults
    of the single-layer Rnnlm. Shapes: xs, ts (N, T) ids; scores (N, T, V).
    """

    def __init__(
        self,
        vocab_size: int = 10000,
        wordvec_size: int = 100,
        hidden_size: int = 100,
        dropout_ratio: float = 0.0,
        num_layers: int = 1,
        tie_weights: bool = False,
        init_scale: float | None = None,
        dtype: str = "float32",
    ) -> None:
        super().__init__(
            vocab_size,
            wordvec_size,
            hidden_size,
            cell="gru",
            num_layers=num_layers,
            dropout_ratio=dropout_ratio,
            tie_weights=tie_weights,
            init_scale=init_scale,
            dtype=dtype,
        )


# ---------------------------------------------------------------------- presets


@dataclass(frozen=True)
class RnnlmPreset:
    """A language-model configuration and the training recipe that goes with it.

    The learning rate and clipping threshold are for the course's loss, the
    mean over tokens: a recipe written for a loss summed over the T steps of a
    block uses lr * T and max_grad / T here. The learning rate of epoch e
    (1-based) is ``lr * lr_decay ** max(0, e - decay_after)``.
    """

    name: str
    wordvec_size: int
    hidden_size: int
    num_layers: int
    dropout_ratio: float
    tie_weights: bool
    init_scale: float | None
    batch_size: int
    time_size: int
    lr: float
    max_grad: float
    max_epoch: int
    decay_after: int
    lr_decay: float
    note: str = ""
    extra: dict = field(default_factory=dict)

    def build(self, vocab_size: int, dtype: str = "float32") -> RecurrentLanguageModel:
        """The model of this configuration for a vocabulary of vocab_size words."""
        if self.num_layers == 1 and self.dropout_ratio == 0 and not self.tie_weights:
            return Rnnlm(
                vocab_size, self.wordvec_size, self.hidden_size, init_scale=self.init_scale, dtype=dtype
            )
        return BetterRnnlm(
            vocab_size,
            self.wordvec_size,
            self.hidden_size,
            dropout_ratio=self.dropout_ratio,
            num_layers=self.num_layers,
            tie_weights=self.tie_weights,
            init_scale=self.init_scale,
            dtype=dtype,
        )

    def lr_at(self, epoch: int) -> float:
        """Learning rate for 1-based epoch ``epoch``."""
        return self.lr * self.lr_decay ** max(0, epoch - self.decay_after)


PRESETS: dict[str, RnnlmPreset] = {
    "book": RnnlmPreset(
        "book", 100, 100, 1, 0.0, False, None, batch_size=20, time_size=35, lr=20.0, max_grad=0.25,
        max_epoch=4, decay_after=4, lr_decay=1.0,
        note="chapter 6 Rnnlm: embedding 100, one LSTM of 100 units",
    ),
    "small": RnnlmPreset(
        "small", 200, 200, 2, 0.0, False, 0.1, batch_size=20, time_size=20, lr=20.0, max_grad=0.25,
        max_epoch=13, decay_after=4, lr_decay=0.5,
        note="Zaremba et al. (2014) small: 2x200, no dropout, Uniform(±0.1)",
    ),
    "medium": RnnlmPreset(
        "medium", 650, 650, 2, 0.5, False, 0.05, batch_size=20, time_size=35, lr=35.0, max_grad=5.0 / 35,
        max_epoch=39, decay_after=6, lr_decay=0.8,
        note="Zaremba et al. (2014) medium: 2x650, dropout 0.5, Uniform(±0.05)",
    ),
    "large": RnnlmPreset(
        "large", 1500, 1500, 2, 0.65, False, 0.04, batch_size=20, time_size=35, lr=35.0, max_grad=10.0 / 35,
        max_epoch=55, decay_after=14, lr_decay=1 / 1.15,
        note="Zaremba et al. (2014) large: 2x1500, dropout 0.65, Uniform(±0.04)",
    ),
}  # fmt: skip


def get_preset(name: str, **overrides: Any) -> RnnlmPreset:
    """The named preset ("book", "small", "medium", "large"), with any fields overridden."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    return replace(PRESETS[name], **overrides) if overrides else PRESETS[name]


def from_preset(name: str, vocab_size: int, **overrides: Any) -> RecurrentLanguageModel:
    """Build the model of a named preset: ``from_preset("medium", 10000)``."""
    return get_preset(name, **overrides).build(vocab_size)
