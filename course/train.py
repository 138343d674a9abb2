"""Training loops and their record: ``Trainer``, ``RnnlmTrainer`` and ``History``.

``Trainer(model, optimizer).fit(x, t, ...)`` runs mini-batch training of any
model with ``forward(x, t) -> loss``, ``backward()``, ``params`` and
``grads``. Every iteration is written to a :class:`History`: the loss, the
global gradient norm before and after clipping, and each parameter's
gradient norm before and after clipping, so the widgets and plots can show
exploding or vanishing gradients.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import inspect
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from tqdm.auto import tqdm

from course import backend, validate
from course.answers import model_answer
from course.optim import _CLIP_HINT, check_lr, clip_rate, grad_norms, scale_grads, supports_rows

Array = Any


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite; the History up to that point is kept."""


class History:
    """Per-iteration record of a training run.

    Attributes (host arrays, one entry per iteration):
        loss: (I,) training loss.
        grad_norm: (I,) global gradient norm before clipping.
        grad_norm_clipped: (I,) global gradient norm after clipping.
        param_norms: (I, P) per-parameter gradient norm before clipping.
        param_norms_clipped: (I, P) per-parameter gradient norm after clipping.
        epoch: (I,) the epoch each iteration belongs to.
    ``param_names`` names the P parameters; ``max_grad`` is the clip threshold.
    """

    def __init__(self, param_names: Sequence[str] = (), max_grad: float | None = None) -> None:
        self.param_names = list(param_names)
        self.max_grad = max_grad
        self._loss: list[float] = []
        self._norms: list[list[float]] = []
        self._rates: list[float] = []
        self._epochs: list[int] = []
        self.eval_losses: list[float] = []
        self.eval_iterations: list[int] = []
        self.seconds = 0.0

    def record(self, loss: float, norms: Sequence[float], rate: float, epoch: int) -> None:
        """Add one iteration: its loss, its per-parameter norms before clipping, the clip rate."""
        self._loss.append(float(loss))
        self._norms.append(list(norms))
        self._rates.append(float(rate))
        self._epochs.append(int(epoch))

    def record_eval(self, loss: float) -> None:
        """Add an averaged loss (one point of the learning curve)."""
        self.eval_losses.append(float(loss))
        self.eval_iterations.append(len(self._loss))

    def __len__(self) -> int:
        return len(self._loss)

    @property
    def loss(self) -> Array:
        return backend.host().asarray(self._loss, dtype=float)

    @property
    def epoch(self) -> Array:
        return backend.host().asarray(self._epochs, dtype=int)

    @property
    def param_norms(self) -> Array:
        np = backend.host()
        return np.asarray(self._norms, dtype=float).reshape(len(self._norms), len(self.param_names))

    @property
    def param_norms_clipped(self) -> Array:
        rates = backend.host().asarray(self._rates, dtype=float)
        return self.param_norms * rates[:, None]

    @property
    def grad_norm(self) -> Array:
        return backend.host().sqrt((self.param_norms**2).sum(axis=1))

    @property
    def grad_norm_clipped(self) -> Array:
        return self.grad_norm * backend.host().asarray(self._rates, dtype=float)

    @property
    def clipped_fraction(self) -> float:
        """Share of iterations in which clipping changed the gradients."""
        return float((backend.host().asarray(self._rates) < 1.0).mean()) if self._rates else 0.0

    def norms_of(self, name: str, clipped: bool = False) -> Array:
        """Gradient norm per iteration of one named parameter."""
        if name not in self.param_names:
            raise KeyError(f"No parameter named {name!r}; choose one of {self.param_names}.")
        col = self.param_names.index(name)
        return (self.param_norms_clipped if clipped else self.param_norms)[:, col]

    def plot(self, ylim: tuple[float, float] | None = None, ax: Any = None, ylabel: str = "loss") -> Any:
        """Draw the loss curve (raw per iteration, and the averaged evaluation points)."""
        import matplotlib.pyplot as plt  # noqa: PLC0415

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(range(1, len(self) + 1), self.loss, color="0.75", lw=0.8, label="per iteration")
        if self.eval_losses:
            ax.plot(self.eval_iterations, self.eval_losses, color="C0", lw=1.8, label="average")
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.legend()
        return ax

    def plot_grad_norms(self, ax: Any = None, log: bool = True) -> Any:
        """Draw the global gradient norm before and after clipping."""
        import matplotlib.pyplot as plt  # noqa: PLC0415

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        it = range(1, len(self) + 1)
        ax.plot(it, self.grad_norm, color="C3", lw=0.9, label="before clipping")
        ax.plot(it, self.grad_norm_clipped, color="C0", lw=0.9, label="after clipping")
        if self.max_grad is not None:
            ax.axhline(self.max_grad, color="k", ls="--", lw=0.8, label=f"max_grad = {self.max_grad:g}")
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_ylabel("gradient norm")
        ax.legend()
        return ax


def param_names_of(model: Any) -> list[str]:
    """The model's own parameter names, or params[0], params[1], ..."""
    names = list(getattr(model, "param_names", None) or [])
    return names if len(names) == len(model.params) else [f"params[{i}]" for i in range(len(model.params))]


def as_loss(value: Any, model: Any) -> float:
    """The loss a model's forward returned, as a float; a clear error if it is not one number."""
    if backend.is_array(value) and value.size != 1:
        raise validate.ShapeError(
            f"{type(model).__name__}.forward returned an array of shape {tuple(value.shape)}; training needs "
            "one number, the mean loss of the batch (e.g. return loss.mean())."
        )
    try:
        return float(value)
    except (TypeError, ValueError):
        raise validate.InputTypeError(
            f"{type(model).__name__}.forward returned {type(value).__name__}; training needs one number, "
            "the loss of the batch."
        ) from None


def check_finite(loss: float, iteration: int, epoch: int) -> None:
    """Stop with a clear message when the loss is NaN or infinite."""
    if not math.isfinite(loss):
        raise TrainingDivergedError(
            f"The loss became {loss} at iteration {iteration} (epoch {epoch}). Training stopped; "
            "the history so far is in trainer.history. Try a smaller learning rate, gradient "
            "clipping (max_grad=5.0), or check the forward pass for log(0) or division by zero."
        )


def train_batch(
    model: Any, optimizer: Any, bx: Any, bt: Any, max_grad: float | None, history: Any, epoch: int
) -> float:
    """One iteration on a batch whose data the trainer checked up front: forward, backward, step, record."""
    loss = as_loss(model.forward(bx, bt), model)
    check_finite(loss, len(history) + 1, epoch)
    model.backward()
    with validate.trusted():  # checked once, before the loop
        norms, rate = step(model, optimizer, max_grad)
    history.record(loss, norms, rate, epoch)
    return loss


def step(model: Any, optimizer: Any, max_grad: float | None) -> tuple[list[float], float]:
    """Clip the model's gradients, update its parameters; return (norms, clip rate).

    A model with ``grad_rows`` (row-sparse gradients, e.g. word2vec) has only
    those rows read, clipped and, by an optimizer that takes ``rows``, updated.
    """
    rows = getattr(model, "grad_rows", None)
    norms = grad_norms(model.grads, rows)
    rate = 1.0
    if max_grad is not None:
        rate = clip_rate(math.sqrt(sum(n * n for n in norms)), max_grad)
        if rate < 1.0:
            scale_grads(model.grads, rate, rows)
    if rows is not None and supports_rows(optimizer):
        optimizer.update(model.params, model.grads, rows=rows)
    else:
        optimizer.update(model.params, model.grads)
    return norms, rate


def check_training(
    who: str, model: Any, optimizer: Any, max_grad: float | None, **counts: Any
) -> dict[str, int]:
    """The checks of a fit call, once before training starts; returns the counts as ints.

    The model must have matching ``params``/``grads`` lists, the optimizer an
    ``update`` method (and a finite ``lr`` > 0, if it has one), ``max_grad``
    be None or a finite number > 0, and every count (max_epoch, batch_size,
    ...) a whole number >= 1. The update step of every iteration then skips
    these checks (``validate.trusted``); the model still checks each batch.
    """
    for name in ("params", "grads"):
        if not isinstance(getattr(model, name, None), list):
            raise validate.InputTypeError(
                f"{who}: the model must have a `{name}` list (the layer contract), got "
                f"{type(getattr(model, name, None)).__name__}."
            )
    validate.check_params_and_grads(model.params, model.grads, f"{who} (model.params, model.grads)")
    if isinstance(optimizer, type) or not callable(getattr(optimizer, "update", None)):
        raise validate.InputTypeError(
            f"{who}: the optimizer must have an update(params, grads) method, got "
            f"{getattr(optimizer, '__name__', type(optimizer).__name__)}; pass an instance such as "
            "SGD(lr=0.1), not the class SGD."
        )
    if max_grad is not None:
        validate.check_positive(max_grad, who, "max_grad", _CLIP_HINT)
    if getattr(optimizer, "lr", None) is not None:  # it may have been changed since the optimizer was made
        check_lr(optimizer.lr, f"{who} ({type(optimizer).__name__})")
    return {name: validate.check_count(value, who, name) for name, value in counts.items()}


def _check_examples(who: str, name: str, data: Any) -> None:
    validate.check_array(data, who, name, "with one example per row")
    validate.check_ndim(data, (1, 2, 3, 4), who, name, "(N, ...) with one example per row")


def _batches_checked_by(model: Any, x: Array, t: Array) -> Callable[[], Any]:
    """Check all the data at once with the model's own check of a batch; what each batch then runs in.

    When ``model.forward`` checks its inputs (the course's models do), that
    check runs here, once, on the whole data set, and every batch - rows of
    the same arrays - then runs in ``validate.trusted()``: nothing is checked
    per iteration. For any other model, batches run as they are.
    """
    return validate.trusted if validate.precheck(model.forward, x, t) else contextlib.nullcontext


def _notify(monitor: Any, event: str, history: History) -> None:
    handler = getattr(monitor, event, None) if monitor is not None else None
    if handler is not None:
        handler(history)


class Trainer:
    """Mini-batch training for any model with forward(x, t) / backward().

    Example::

        trainer = Trainer(TwoLayerNet(2, 10, 3), SGD(lr=1.0))
        trainer.fit(x, t, max_epoch=300, batch_size=30)
        trainer.history.plot()
    """

    def __init__(self, model: Any, optimizer: Any) -> None:
        self.model = model
        self.optimizer = optimizer
        self.history = History(param_names_of(model))
        self.current_epoch = 0

    @property
    def loss_list(self) -> list[float]:
        """Averaged losses, one per eval_interval (as in the book)."""
        return list(self.history.eval_losses)

    def fit(
        self,
        x: Array,
        t: Array,
        max_epoch: int = 10,
        batch_size: int = 32,
        max_grad: float | None = None,
        eval_interval: int = 20,
        monitor: Any = None,
        progress: bool = True,
    ) -> History:
        """Train for ``max_epoch`` epochs of shuffled mini-batches.

        x: (N, ...) inputs; t: (N, ...) targets (host or device arrays: each
        batch is moved to the device of the model's parameters).
        max_grad: clip the global gradient norm to this value (None: no clip).
        eval_interval: iterations between averaged-loss points and bar updates.
        monitor: optional object with ``start/update/finish(history)`` methods
        (e.g. ``course.widgets.GradientNormMonitor``), called as training runs.
        Returns the History (also ``trainer.history``).
        """
        who = "Trainer.fit"
        _check_examples(who, "x", x)
        _check_examples(who, "t", t)
        sizes = check_training(
            who, self.model, self.optimizer, max_grad,
            max_epoch=max_epoch, batch_size=batch_size, eval_interval=eval_interval,
        )  # fmt: skip
        max_epoch, batch_size, eval_interval = sizes["max_epoch"], sizes["batch_size"], sizes["eval_interval"]
        n = len(x)
        if len(t) != n:
            raise validate.ShapeError(f"x has {n} examples but t has {len(t)}; they must match.")
        if n < batch_size:
            raise validate.InputError(
                f"batch_size={batch_size} is larger than the {n} examples; use a smaller batch."
            )
        model, history = self.model, self.history
        history.max_grad = max_grad
        if hasattr(type(model), "grad_rows") and not supports_rows(self.optimizer):
            print(
                f"note: {type(model).__name__} changes only the rows of the words in each batch; "
                f"{type(self.optimizer).__name__} updates every row. SGD, AdaGrad or LazyAdam update "
                "just those rows and train many times faster."
            )
        batch_region = _batches_checked_by(model, x, t)
        iters = n // batch_size
        like = model.params[0] if model.params else None
        host_rng = backend.rng(backend.host())
        total, count = 0.0, 0
        start = time.perf_counter()
        _notify(monitor, "start", history)
        bar = tqdm(total=max_epoch * iters, disable=not progress, desc="training", unit="it")
        try:
            for _ in range(max_epoch):
                self.current_epoch += 1
                order = host_rng.permutation(n)
                for i in range(iters):
                    idx = order[i * batch_size : (i + 1) * batch_size]
                    bx = backend.to_device(x[_index_for(x, idx)], like=like)
                    bt = backend.to_device(t[_index_for(t, idx)], like=like)
                    with batch_region():
                        loss = train_batch(
                            model, self.optimizer, bx, bt, max_grad, history, self.current_epoch
                        )
                    total, count = total + loss, count + 1
                    bar.update(1)
                    if count == eval_interval or (i == iters - 1 and count):
                        history.record_eval(total / count)
                        bar.set_postfix(epoch=self.current_epoch, loss=f"{total / count:.4f}")
                        total, count = 0.0, 0
                        _notify(monitor, "update", history)
        finally:
            bar.close()
            history.seconds += time.perf_counter() - start
            _notify(monitor, "finish", history)
        return history

    def plot(self, ylim: tuple[float, float] | None = None) -> Any:
        """Draw the loss curve."""
        return self.history.plot(ylim=ylim)


def _index_for(data: Array, idx: Array) -> Array:
    """Host indices for host data, device indices for device data."""
    return backend.to_device(idx, like=data) if backend.array_module(data) is not backend.host() else idx


# --------------------------------------------------------------------------
# Language models: truncated BPTT over one long corpus
# --------------------------------------------------------------------------


@model_answer("bptt_positions", chapter="ch05")
def bptt_positions(length: int, batch_size: int, time_size: int, time_idx: int = 0) -> Array:
    """Corpus positions of one truncated-BPTT block: an int array (N, T), N = batch_size, T = time_size.

    A corpus of ``length`` ids is read as N streams starting at offsets
    offset_n = n * (length // N). Row n holds offset_n + time_idx + (0..T-1),
    wrapped around at the end of the corpus (modulo ``length``), so block
    k = time_idx / T continues block k - 1 in every row. One index array, no loop.
    """
    np = backend.host()
    jump = length // batch_size
    pos = np.arange(batch_size)[:, None] * jump + (time_idx + np.arange(time_size))[None, :]
    pos %= length
    return pos


class RnnlmTrainer:
    """Truncated-BPTT training of a recurrent language model on one long corpus.

    The corpus is read as ``batch_size`` streams that start at equal offsets;
    batch row n always continues stream n, so the hidden state a stateful
    model carries from one block of ``time_size`` steps to the next belongs to
    the text that follows. Every iteration is recorded in the same
    :class:`History` as :class:`Trainer` (loss, per-parameter gradient norms
    before and after clipping).

    Example::

        trainer = RnnlmTrainer(Rnnlm(vocab_size), SGD(lr=20.0))
        trainer.fit(corpus[:-1], corpus[1:], max_epoch=4, batch_size=20, time_size=35, max_grad=0.25)
        print(trainer.ppl_list[-1])
    """

    def __init__(self, model: Any, optimizer: Any) -> None:
        self.model = model
        self.optimizer = optimizer
        self.history = History(param_names_of(model))
        self.time_idx = 0
        self.current_epoch = 0

    @property
    def ppl_list(self) -> list[float]:
        """Perplexity of each averaged point (one per eval_interval), as in the book."""
        return [math.exp(loss) for loss in self.history.eval_losses]

    def get_batch(self, xs: Array, ts: Array, batch_size: int, time_size: int) -> tuple[Array, Array]:
        """The next block: inputs and targets (N, T) with N = batch_size, T = time_size.

        Row n reads positions offset_n + time_idx + (0..T-1), wrapping at the end
        of the corpus, with offset_n = n * (len(xs) // N); one index array does it.
        """
        pos = bptt_positions(len(xs), batch_size, time_size, self.time_idx)
        self.time_idx += time_size
        return xs[_index_for(xs, pos)], ts[_index_for(ts, pos)]

    def fit(
        self,
        xs: Array,
        ts: Array,
        max_epoch: int = 10,
        batch_size: int = 20,
        time_size: int = 35,
        max_grad: float | None = None,
        eval_interval: int = 20,
        monitor: Any = None,
        progress: bool = True,
    ) -> History:
        """Train for ``max_epoch`` passes over the corpus.

        xs: (L,) word ids; ts: (L,) the next word of each (usually
        ``corpus[:-1]`` and ``corpus[1:]``). Each iteration trains on a block
        (N, T) = (batch_size, time_size); an epoch is L // (N * T) iterations.
        Calling fit again continues where the last call stopped (same
        streams, same carried state), so a loop can change the learning rate
        between epochs. max_grad clips the global gradient norm; the progress
        bar shows the perplexity averaged over eval_interval iterations;
        monitor as for :meth:`Trainer.fit`. Returns the History.
        """
        who = "RnnlmTrainer.fit"
        for name, ids in (("xs", xs), ("ts", ts)):
            validate.check_array(ids, who, name, "(L,) of word ids")
            validate.check_ndim(ids, 1, who, name, "(L,): one long corpus of word ids", "Pass corpus[:-1].")
            if ids.dtype.kind not in "iu":
                raise validate.InputTypeError(
                    f"{who}: {name} must be integer word ids, got dtype {ids.dtype}."
                )
        sizes = check_training(
            who, self.model, self.optimizer, max_grad,
            max_epoch=max_epoch, batch_size=batch_size, time_size=time_size, eval_interval=eval_interval,
        )  # fmt: skip
        max_epoch, batch_size = sizes["max_epoch"], sizes["batch_size"]
        time_size, eval_interval = sizes["time_size"], sizes["eval_interval"]
        n = len(xs)
        if len(ts) != n:
            raise validate.ShapeError(
                f"xs has {n} ids but ts has {len(ts)}; pass corpus[:-1] and corpus[1:]."
            )
        iters = n // (batch_size * time_size)
        if iters < 1:
            raise validate.InputError(
                f"The corpus has {n} ids, fewer than one block of batch_size * time_size = "
                f"{batch_size} * {time_size}; use a smaller batch_size or time_size."
            )
        model, history = self.model, self.history
        history.max_grad = max_grad
        batch_region = _batches_checked_by(model, xs[None, :], ts[None, :])  # blocks are windows of it
        like = model.params[0] if model.params else None
        total, count = 0.0, 0
        start = time.perf_counter()
        _notify(monitor, "start", history)
        bar = tqdm(total=max_epoch * iters, disable=not progress, desc="training", unit="it")
        try:
            for _ in range(max_epoch):
                self.current_epoch += 1
                for i in range(iters):
                    bx, bt = self.get_batch(xs, ts, batch_size, time_size)
                    bx, bt = backend.to_device(bx, like=like), backend.to_device(bt, like=like)
                    with batch_region():
                        loss = train_batch(
                            model, self.optimizer, bx, bt, max_grad, history, self.current_epoch
                        )
                    total, count = total + loss, count + 1
                    bar.update(1)
                    if count == eval_interval or (i == iters - 1 and count):
                        history.record_eval(total / count)
                        bar.set_postfix(epoch=self.current_epoch, ppl=f"{math.exp(total / count):.2f}")
                        total, count = 0.0, 0
                        _notify(monitor, "update", history)
        finally:
            bar.close()
            history.seconds += time.perf_counter() - start
            _notify(monitor, "finish", history)
        return history

    def plot(self, ylim: tuple[float, float] | None = None, ax: Any = None) -> Any:
        """Draw the perplexity curve (one point per eval_interval iterations)."""
        import matplotlib.pyplot as plt  # noqa: PLC0415

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(self.history.eval_iterations, self.ppl_list, color="C0", lw=1.5, label="train")
        ax.set_xlabel("iteration")
        ax.set_ylabel("perplexity")
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.legend()
        return ax


def forward_eval(model: Any, xs: Array, ts: Array) -> float:
    """The model's loss on xs, ts (N, T) with dropout off (train_flg=False) when it has that switch."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        params = {}
    if "train_flg" in params:
        return float(model.forward(xs, ts, train_flg=False))
    return float(model.forward(xs, ts))


_forward_eval = forward_eval  # the name used before it was public


@model_answer("eval_perplexity", chapter="ch05")
def eval_perplexity(
    model: Any, corpus: Array, batch_size: int = 10, time_size: int = 35, progress: bool = False
) -> float:
    """Perplexity exp(mean loss) of a language model on every next-word prediction of a corpus.

    corpus: (length,) word ids. It is cut into batch_size streams read time_size
    steps at a time, in batches (N, T) = (batch_size, time_size); the padding
    after the last word gets label -1, which the loss ignores, so all length - 1
    predictions count exactly once. Dropout is off. The model's state is
    reset before and after (each stream starts from a zero state).
    """
    np = backend.host()
    ids = np.asarray(backend.to_host(corpus)).reshape(-1)
    n = len(ids) - 1
    if n < 1:
        raise ValueError("eval_perplexity needs a corpus of at least 2 ids.")
    B = max(1, min(int(batch_size), n))
    per_stream = -(-n // B)  # ceil(n / B): the predictions in one stream
    inputs = np.zeros(B * per_stream, dtype=ids.dtype)
    targets = np.full(B * per_stream, -1, dtype=np.int64 if ids.dtype.kind == "u" else ids.dtype)
    inputs[:n], targets[:n] = ids[:-1], ids[1:]
    inputs, targets = inputs.reshape(B, per_stream), targets.reshape(B, per_stream)
    like = model.params[0] if getattr(model, "params", None) else None
    total, counted = 0.0, 0
    model.reset_state()
    try:
        for s in tqdm(range(0, per_stream, time_size), disable=not progress, desc="evaluating", unit="it"):
            bx = np.ascontiguousarray(inputs[:, s : s + time_size])
            bt = np.ascontiguousarray(targets[:, s : s + time_size])
            c = int((bt != -1).sum())
            loss = forward_eval(model, backend.to_device(bx, like=like), backend.to_device(bt, like=like))
            total += loss * c
            counted += c
    finally:
        model.reset_state()
    return math.exp(total / counted)


def eval_seq2seq(
    model: Any,
    x: Array,
    t: Array,
    id_to_char: dict[int, str],
    batch_size: int = 1000,
    show: int = 0,
    reverse: bool = False,
    color: bool | None = None,
) -> float:
    """Exact-match accuracy of a seq2seq model's greedy answers.

    x: (N, T) questions; t: (N, T_out) right answers, each starting with the
    start symbol (its id is read from t). Questions are answered
    ``batch_size`` at a time. ``show=k`` prints the first k examples with a
    mark: coloured in a terminal, plain ✓/✗ elsewhere (a notebook);
    ``reverse=True`` undoes reversed questions for printing; ``color``
    forces colours on or off.
    """
    import sys  # noqa: PLC0415

    np = backend.host()
    for name, data in (("x", x), ("t", t)):
        validate.check_array(data, "eval_seq2seq", name, "(N, T) of character ids")
        validate.check_ndim(data, 2, "eval_seq2seq", name, "(N, T) of character ids")
    batch_size = validate.check_count(batch_size, "eval_seq2seq", "batch_size")
    show = validate.check_count(show, "eval_seq2seq", "show", minimum=0)
    host_x, host_t = np.asarray(backend.to_host(x)), np.asarray(backend.to_host(t))
    if len(host_x) != len(host_t) or len(host_x) == 0 or host_t.shape[1] < 2:
        raise validate.ShapeError(
            f"eval_seq2seq: {len(host_x)} questions but {len(host_t)} answers (answers {host_t.shape}); pass "
            "as many answers as questions, each the start symbol followed by at least one character."
        )
    guesses = _greedy_answers(model, host_x, host_t, batch_size)
    right = (guesses == host_t[:, 1:]).all(axis=1)
    if show:
        color = sys.stdout.isatty() if color is None else color
        _print_examples(
            host_x[:show], host_t[:show, 1:], guesses[:show], right[:show], id_to_char, reverse, color
        )
    return float(right.mean())


def _greedy_answers(model: Any, host_x: Array, host_t: Array, batch_size: int) -> Array:
    """(N, T_out - 1) host ids: the model's greedy answers, batch_size questions at a time."""
    np = backend.host()
    like = model.params[0] if getattr(model, "params", None) else None
    start_id, size = int(host_t[0, 0]), host_t.shape[1] - 1
    return np.concatenate(
        [
            backend.to_host(
                model.generate(backend.to_device(host_x[i : i + batch_size], like=like), start_id, size)
            )
            for i in range(0, len(host_x), batch_size)
        ]
    )


@dataclasses.dataclass
class DateScores:
    """How a model answers date questions (answers in ISO form, ``1994-09-27``).

    ``answers``: the model's answers as text; ``right``: (N,) exact match;
    ``valid``: (N,) whether an answer is a real date at all (``datetime``
    reads it); ``families``: the family of each question, if given.
    """

    answers: list[str]
    right: Array
    valid: Array
    families: list[str] | None = None

    @property
    def accuracy(self) -> float:
        """Exact-match accuracy."""
        return float(self.right.mean())

    @property
    def invalid(self) -> int:
        """How many answers are no date at all (month 14, 31 April, a stray letter ...)."""
        return int((~self.valid).sum())

    def wrong(self) -> list[int]:
        """Indices of the wrong answers."""
        return [int(i) for i in backend.host().flatnonzero(~self.right)]

    def by_family(self) -> dict[str, tuple[int, int, int]]:
        """family -> (right, invalid, total), in the order the families first appear."""
        table: dict[str, list[int]] = {}
        for family, ok, valid in zip(self.families or [], self.right, self.valid, strict=False):
            row = table.setdefault(family, [0, 0, 0])
            row[0] += bool(ok)
            row[1] += not valid
            row[2] += 1
        return {family: (r, bad, n) for family, (r, bad, n) in table.items()}

    def table(self) -> str:
        """The per-family accuracy and invalid answers as aligned text, with the total last."""
        width = max([len(f) for f in self.by_family()] + [5])
        lines = [f"{'family':<{width}} {'right':>9} {'accuracy':>9} {'invalid':>8}"]
        rows = [*self.by_family().items(), ("all", (int(self.right.sum()), self.invalid, len(self.right)))]
        for family, (right, invalid, total) in rows:
            lines.append(f"{family:<{width}} {f'{right}/{total}':>9} {right / total:>9.2%} {invalid:>8}")
        return "\n".join(lines)


def _is_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10  # fromisoformat also reads 19940927; the task writes 1994-09-27


def eval_dates(
    model: Any,
    x: Array,
    t: Array,
    id_to_char: dict[int, str],
    families: Sequence[str] | None = None,
    batch_size: int = 1000,
) -> DateScores:
    """Score a date model: exact match, answers that are no date at all, accuracy per family.

    x: (N, T) questions; t: (N, T_out) right answers (start symbol, then
    ``YYYY-MM-DD``); families: N labels (the format family of each
    question) for ``DateScores.by_family``. The same greedy answers as
    ``eval_seq2seq``, which gives the same accuracy.
    """
    np = backend.host()
    host_x, host_t = np.asarray(backend.to_host(x)), np.asarray(backend.to_host(t))
    if families is not None and len(families) != len(host_x):
        raise validate.ShapeError(f"eval_dates: {len(host_x)} questions but {len(families)} families.")
    guesses = _greedy_answers(model, host_x, host_t, batch_size)
    right = (guesses == host_t[:, 1:]).all(axis=1)
    answers = ["".join(id_to_char[int(i)] for i in row).strip() for row in guesses.tolist()]
    valid = np.array([_is_date(a) for a in answers], dtype=bool)
    return DateScores(answers, right, valid, None if families is None else list(families))


def _print_examples(
    x: Array, t: Array, guesses: Array, right: Array, id_to_char: dict[int, str], reverse: bool, color: bool
) -> None:
    def text(row: Array) -> str:
        return "".join(id_to_char[int(i)] for i in row).rstrip()

    for q, a, g, ok in zip(x, t, guesses, right, strict=True):
        question = text(q)[::-1] if reverse else text(q)
        mark = "✓" if ok else "✗"
        if color:
            mark = f"\033[92m{mark}\033[0m" if ok else f"\033[91m{mark}\033[0m"
        print(f"Q {question:<30} T {text(a):<12} {mark} {text(g)}")


# --------------------------------------------------------------------------
# Input checks around the chapters' answers (bptt_positions, eval_perplexity),
# which the notebooks show exactly as written above (see course.validate.guard).
# --------------------------------------------------------------------------


def _check_bptt_positions(length: int, batch_size: int, time_size: int, time_idx: int = 0) -> None:
    who = "bptt_positions"
    length = validate.check_count(length, who, "length")
    validate.check_count(batch_size, who, "batch_size", maximum=length)
    validate.check_count(time_size, who, "time_size")
    validate.check_count(time_idx, who, "time_idx", minimum=0)


def _check_eval_perplexity(
    model: Any, corpus: Array, batch_size: int = 10, time_size: int = 35, progress: bool = False
) -> None:
    who = "eval_perplexity"
    validate.check_array(corpus, who, "corpus", "(L,) of word ids")
    validate.check_ndim(corpus, 1, who, "corpus", "(L,): one long corpus of word ids")
    if corpus.dtype.kind not in "iu":
        raise validate.InputTypeError(f"{who}: corpus must be integer word ids, got dtype {corpus.dtype}.")
    validate.check_count(batch_size, who, "batch_size")
    validate.check_count(time_size, who, "time_size")
    for name in ("forward", "reset_state"):
        if not callable(getattr(model, name, None)):
            raise validate.InputTypeError(
                f"{who}: the model must have {name}() (a language model such as Rnnlm), got "
                f"{type(model).__name__}."
            )


bptt_positions = validate.guarded(bptt_positions, _check_bptt_positions)
eval_perplexity = validate.guarded(
    eval_perplexity, _check_eval_perplexity, trust_inside=False
)  # runs the model
