"""Optimizers and gradient clipping.

Each optimizer has ``update(params, grads)``: it changes every array in
``params`` in place, using the matching array of ``grads``. Per-parameter
state (velocities, running averages) is created on the first call with the
shapes and device of the parameters.

Row-sparse gradients: a model whose gradients are non-zero in only a few
rows (word2vec's embeddings touch a few hundred of V rows per batch) can
pass ``rows``, a list aligned with ``grads`` whose entry i is None (a dense
gradient) or the distinct row ids outside which ``grads[i]`` is exactly
zero. ``grad_norms``, ``scale_grads`` and ``clip_grads_sparse`` then read only those
rows (same results), and ``SGD``, ``AdaGrad`` and ``LazyAdam`` update only
those rows: exactly the dense step for SGD and AdaGrad; for ``LazyAdam`` a
*lazy* Adam step, in which rows without gradient keep their values and moment
estimates instead of drifting on old momentum (the usual sparse Adam). Plain
``Adam`` (the chapter 1 exercise) always takes the dense step.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Sequence
from typing import Any

from course import backend, row_blocks, validate
from course.answers import model_answer

Array = Any
_EPS = 1e-7


def _rows_for(rows: Sequence[Array | None] | None, count: int) -> list[Array | None]:
    """``rows`` checked against the number of gradients (None: all dense)."""
    if rows is None:
        return [None] * count
    if len(rows) != count:
        raise validate.InputError(
            f"rows has {len(rows)} entries but there are {count} gradients; align them."
        )
    return list(rows)


def check_rows(rows: Sequence[Array | None] | None, grads: Sequence[Array], who: str) -> None:
    """Each ``rows`` entry None, or integer row ids of its gradient (``rows``: see the module notes)."""
    if rows is None or not validate.checking():
        return
    for i, (r, g) in enumerate(zip(_rows_for(rows, len(grads)), grads, strict=True)):
        if r is not None:
            validate.check_ids(
                r, g.shape[0], who, f"rows[{i}]", "rows[i] lists the rows of grads[i] that are not zero."
            )


def _takes_rows(update: Any) -> bool:
    try:
        return "rows" in inspect.signature(update).parameters
    except (TypeError, ValueError):
        return False


@functools.cache
def _class_takes_rows(cls: type) -> bool:
    return _takes_rows(getattr(cls, "update", None))


def supports_rows(optimizer: Any) -> bool:
    """True when ``optimizer.update`` takes the ``rows`` of row-sparse gradients."""
    if "update" in getattr(optimizer, "__dict__", {}):
        return _takes_rows(optimizer.update)
    return _class_takes_rows(type(optimizer))  # cached: the Trainer asks every step


def _check_grads(grads: Any, who: str) -> None:
    """grads: a list of arrays (not one array, whose rows zip would walk through)."""
    if backend.is_array(grads) or not isinstance(grads, Sequence) or not all(map(backend.is_array, grads)):
        raise validate.InputTypeError(
            f"{who}: grads must be a list of gradient arrays, got {type(grads).__name__}. Pass "
            "model.grads (or [dW] for a single array)."
        )


_LR_HINT = "A learning rate is a small positive step such as 0.01; a negative one would climb the loss."
_CLIP_HINT = (
    "max_norm (max_grad) is the largest global gradient norm allowed, e.g. 5.0; 0 would zero every "
    "gradient and a negative value would flip their signs. Pass None to the Trainer for no clipping."
)


# Values per block of the in-place updates below: a block and its scratch stay in a core's cache.
_BLOCK_VALUES = 1 << 18


def subtract_scaled(p: Array, g: Array, lr: float) -> None:
    """p -= lr * g in place, with the same result, without a temporary the size of p.

    On the CPU the work runs in cache-sized blocks, shared among the cores
    (``course.row_blocks``); elsewhere it is the one expression.
    """
    xp = backend.array_module(p)
    if xp is not backend.host() or not (p.flags.c_contiguous and g.flags.c_contiguous):
        p -= lr * g
        return
    pf, gf = p.reshape(-1), g.reshape(-1)

    def blocks(start: int, stop: int) -> None:
        scratch = xp.empty(min(_BLOCK_VALUES, stop - start), dtype=p.dtype)
        for a in range(start, stop, _BLOCK_VALUES):
            b = min(a + _BLOCK_VALUES, stop)
            lr_g = xp.multiply(gf[a:b], lr, out=scratch[: b - a])
            pf[a:b] -= lr_g

    row_blocks.for_row_blocks(blocks, pf.size, 2 * pf.size)


def _scale(g: Array, rate: float) -> None:
    """g *= rate in place, shared among the CPU's cores when g is big."""
    xp = backend.array_module(g)
    if xp is not backend.host() or not g.flags.c_contiguous:
        g *= rate
        return
    flat = g.reshape(-1)

    def blocks(start: int, stop: int) -> None:
        flat[start:stop] *= rate

    row_blocks.for_row_blocks(blocks, flat.size, flat.size)


def check_lr(lr: Any, who: str) -> float:
    """A finite learning rate > 0; else an error naming ``who``."""
    return validate.check_positive(lr, who, "lr (the learning rate)", _LR_HINT)


def grad_norms(grads: Sequence[Array], rows: Sequence[Array | None] | None = None) -> list[float]:
    """The L2 norm of each gradient array, as Python floats (``rows``: see the module notes)."""
    if validate.checking():
        _check_grads(grads, "grad_norms")
        check_rows(rows, grads, "grad_norms")
    if not grads:
        return []
    xp = backend.array_module(grads[0])
    squares = []
    for g, r in zip(grads, _rows_for(rows, len(grads)), strict=True):
        flat = (g if r is None else g.take(r, axis=0)).reshape(-1)
        squares.append(xp.vdot(flat, flat))
    # One copy to the host for all of them: on a GPU each float() would wait for the device.
    return [math.sqrt(max(float(s), 0.0)) for s in backend.to_host(xp.stack(squares)).tolist()]


def scale_grads(grads: Sequence[Array], rate: float, rows: Sequence[Array | None] | None = None) -> None:
    """Multiply every gradient by ``rate`` in place (``rows``: see the module notes)."""
    if validate.checking():
        _check_grads(grads, "scale_grads")
        check_rows(rows, grads, "scale_grads")
        validate.check_positive(
            rate, "scale_grads", "rate", "It multiplies every gradient; clip_grads clips.", True
        )
    for g, r in zip(grads, _rows_for(rows, len(grads)), strict=True):
        if r is None:
            _scale(g, rate)
        else:
            g[r] *= rate


def clip_rate(total_norm: float, max_norm: float) -> float:
    """The factor that brings a global norm down to ``max_norm`` (1 if already below)."""
    if validate.checking():
        validate.check_positive(max_norm, "clip_rate", "max_norm", _CLIP_HINT)
    return max_norm / (total_norm + 1e-6) if total_norm > max_norm else 1.0


@model_answer("clip_grads", chapter="ch06", twins=("course.optim:clip_grads_sparse",))
def clip_grads(grads: Sequence[Array], max_norm: float) -> float:
    """Rescale ``grads`` in place so their global L2 norm is at most ``max_norm``.

    grads: a list of arrays of any shapes (a model's ``grads``). Returns the
    global norm *before* clipping (useful for plotting how often and how hard
    clipping acts).
    """
    total = math.sqrt(sum(float((g * g).sum()) for g in grads))
    if total > max_norm:
        rate = max_norm / (total + 1e-6)
        for g in grads:
            g *= rate  # in place: the optimizer holds these very arrays
    return total


def clip_grads_sparse(
    grads: Sequence[Array], max_norm: float, rows: Sequence[Array | None] | None = None
) -> float:
    """``clip_grads`` for row-sparse gradients: reads and scales only ``rows`` (see the module notes).

    The same result as ``clip_grads`` (a test proves it), at the cost of the
    touched rows only: word2vec's embeddings touch a few hundred of V rows.
    """
    total = math.sqrt(sum(n * n for n in grad_norms(grads, rows)))
    rate = clip_rate(total, max_norm)
    if rate < 1.0:
        scale_grads(grads, rate, rows)
    return total


def _check_update(optimizer: Any, params: Sequence[Array], grads: Sequence[Array], state: Any) -> None:
    """An update's checks (lists that pair up, a valid lr), skipped where the caller has checked them."""
    if validate.checking():
        who = type(optimizer).__name__
        check_params_and_grads(params, grads, who, state)
        check_lr(optimizer.lr, who)


def check_params_and_grads(
    params: Sequence[Array], grads: Sequence[Array], who: str, state: Sequence[Array] | None = None
) -> None:
    """A clear error, before anything is updated, when params and grads cannot be paired up.

    Lists of the same length, each gradient shaped like its parameter, and
    (``state``: what the optimizer built on its first call) the same
    parameters as before.
    """
    validate.check_params_and_grads(params, grads, f"{who}.update", state)


def zeros_like_each(arrays: Sequence[Array]) -> list[Array]:
    """One zero array per input array, same shape, dtype and device."""
    return [backend.array_module(a).zeros_like(a) for a in arrays]


class SGD:
    """Stochastic gradient descent: p <- p - lr * g."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = check_lr(lr, type(self).__name__)

    def update(
        self, params: Sequence[Array], grads: Sequence[Array], rows: Sequence[Array | None] | None = None
    ) -> None:
        _check_update(self, params, grads, None)
        check_rows(rows, grads, "SGD.update")
        for p, g, r in zip(params, grads, _rows_for(rows, len(params)), strict=True):
            if r is None:
                subtract_scaled(p, g, self.lr)
            else:
                # take() gathers rows faster than fancy indexing; one write back.
                pr, gr = p.take(r, axis=0), g.take(r, axis=0)
                gr *= self.lr
                pr -= gr
                p[r] = pr


class Momentum:
    """SGD with momentum: v <- m v - lr g; p <- p + v."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = check_lr(lr, type(self).__name__)
        self.momentum = validate.check_rate(momentum, type(self).__name__, "momentum")
        self.v: list[Array] | None = None

    def update(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        _check_update(self, params, grads, self.v)
        if self.v is None:
            self.v = zeros_like_each(params)
        for p, g, v in zip(params, grads, self.v, strict=True):
            v *= self.momentum
            v -= self.lr * g
            p += v


class Nesterov:
    """Nesterov's accelerated gradient (Sutskever et al., 2013 form).

    v <- m v - lr g; p <- p + m v - lr g: the step looks ahead along the
    updated velocity.
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = check_lr(lr, type(self).__name__)
        self.momentum = validate.check_rate(momentum, type(self).__name__, "momentum")
        self.v: list[Array] | None = None

    def update(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        _check_update(self, params, grads, self.v)
        if self.v is None:
            self.v = zeros_like_each(params)
        for p, g, v in zip(params, grads, self.v, strict=True):
            v *= self.momentum
            v -= self.lr * g
            p += self.momentum * v - self.lr * g


class AdaGrad:
    """AdaGrad: h <- h + g^2; p <- p - lr g / (sqrt(h) + 1e-7)."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = check_lr(lr, type(self).__name__)
        self.h: list[Array] | None = None

    def update(
        self, params: Sequence[Array], grads: Sequence[Array], rows: Sequence[Array | None] | None = None
    ) -> None:
        _check_update(self, params, grads, self.h)
        check_rows(rows, grads, "AdaGrad.update")
        if self.h is None:
            self.h = zeros_like_each(params)
        for p, g, h, r in zip(params, grads, self.h, _rows_for(rows, len(params)), strict=True):
            if r is None:
                h += g * g
                p -= self.lr * g / (backend.array_module(h).sqrt(h) + _EPS)
            else:
                # Rows with zero gradient would not move: skipping them is exact.
                gr = g[r]
                hr = h[r] + gr * gr
                h[r] = hr
                p[r] -= self.lr * gr / (backend.array_module(hr).sqrt(hr) + _EPS)


class RMSprop:
    """RMSprop: h <- d h + (1 - d) g^2; p <- p - lr g / (sqrt(h) + 1e-7)."""

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        self.lr = check_lr(lr, type(self).__name__)
        self.decay_rate = validate.check_rate(decay_rate, type(self).__name__, "decay_rate")
        self.h: list[Array] | None = None

    def update(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        _check_update(self, params, grads, self.h)
        if self.h is None:
            self.h = zeros_like_each(params)
        for p, g, h in zip(params, grads, self.h, strict=True):
            h *= self.decay_rate
            h += (1 - self.decay_rate) * g * g
            p -= self.lr * g / (backend.array_module(h).sqrt(h) + _EPS)


@model_answer("adam", chapter="ch01", methods=("update",), twins=("course.optim:LazyAdam",))
class Adam:
    """Adam (Kingma & Ba, 2015) with bias correction folded into the step size.

    m <- m + (1 - b1)(g - m); v <- v + (1 - b2)(g^2 - v);
    p <- p - lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + 1e-7).
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m: list[Array] | None = None
        self.v: list[Array] | None = None

    def update(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        if self.m is None:
            self.m = [backend.array_module(p).zeros_like(p) for p in params]
            self.v = [backend.array_module(p).zeros_like(p) for p in params]
        self.iter += 1
        t = self.iter
        lr_t = self.lr * math.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m += (1 - self.beta1) * (g - m)
            v += (1 - self.beta2) * (g * g - v)
            p -= lr_t * m / (backend.array_module(v).sqrt(v) + 1e-7)


class LazyAdam(Adam):
    """Adam for row-sparse gradients (word2vec's embeddings): only touched rows move.

    ``update(params, grads, rows)``: for a parameter whose ``rows`` entry is an
    id array, only those rows' moments and values change (a *lazy* Adam step:
    rows without gradient keep their values and moments instead of drifting
    on old momentum). With ``rows=None`` it is exactly :class:`Adam`.
    """

    def update(
        self, params: Sequence[Array], grads: Sequence[Array], rows: Sequence[Array | None] | None = None
    ) -> None:
        if rows is None:
            super().update(params, grads)
            return
        if self.m is None:
            self.m = zeros_like_each(params)
            self.v = zeros_like_each(params)
        self.iter += 1
        t = self.iter
        lr_t = self.lr * math.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
        self._update_rows(params, grads, _rows_for(rows, len(params)), lr_t)

    def _update_rows(
        self, params: Sequence[Array], grads: Sequence[Array], rows: list[Array | None], lr_t: float
    ) -> None:
        """The lazy step: only the given rows' moments and values change."""
        b1, b2 = self.beta1, self.beta2
        for p, g, m, v, r in zip(params, grads, self.m, self.v, rows, strict=True):
            xp = backend.array_module(p)
            if r is None:
                r = xp.arange(p.shape[0])
            # Gather the rows once, update them in place, write them back once.
            gr, mr, vr, pr = (a.take(r, axis=0) for a in (g, m, v, p))
            mr -= gr
            mr *= b1
            mr += gr  # m <- b1 m + (1 - b1) g
            gr *= gr
            vr -= gr
            vr *= b2
            vr += gr  # v <- b2 v + (1 - b2) g^2
            m[r], v[r] = mr, vr
            xp.sqrt(vr, out=vr)
            vr += 1e-7
            mr /= vr
            mr *= lr_t
            pr -= mr
            p[r] = pr


# --------------------------------------------------------------------------
# Input checks around the chapters' answers (Adam, clip_grads), which the
# notebooks show exactly as written above (see course.validate.guard).
# --------------------------------------------------------------------------


def _check_adam_init(self: Any, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
    who = type(self).__name__
    check_lr(lr, who)
    validate.check_rate(beta1, who, "beta1")
    validate.check_rate(beta2, who, "beta2")


def _check_adam(
    self: Any, params: Sequence[Array], grads: Sequence[Array], rows: Any = None, *args: Any
) -> None:
    check_params_and_grads(params, grads, type(self).__name__, self.m)
    check_lr(self.lr, type(self).__name__)
    check_rows(rows, grads, f"{type(self).__name__}.update")


def _check_clip_grads(grads: Sequence[Array], max_norm: float) -> None:
    _check_grads(grads, "clip_grads")
    validate.check_positive(max_norm, "clip_grads", "max_norm", _CLIP_HINT)


def _check_clip_grads_sparse(grads: Sequence[Array], max_norm: float, rows: Any = None) -> None:
    _check_grads(grads, "clip_grads_sparse")
    check_rows(rows, grads, "clip_grads_sparse")
    validate.check_positive(max_norm, "clip_grads_sparse", "max_norm", _CLIP_HINT)


validate.guard(Adam, __init__=_check_adam_init, update=_check_adam)
validate.guard(LazyAdam, update=_check_adam)
clip_grads = validate.guarded(clip_grads, _check_clip_grads)
clip_grads_sparse = validate.guarded(clip_grads_sparse, _check_clip_grads_sparse)


class WarmupSchedule:
    """An optimizer whose learning rate rises over a warm-up, then decays.

    ``WarmupSchedule(Adam(lr=1e-3), warmup_steps=200)`` is used like the
    optimizer it wraps (``update(params, grads)``, so the ``Trainer`` takes it
    as it is). Before every step it sets the wrapped optimizer's ``lr`` to
    ``peak_lr * rate(step)``:

    * warm-up: step / warmup_steps for the first ``warmup_steps`` steps (Adam's
      second-moment estimates are poor at first, and a Transformer's attention
      and layer norms diverge easily under full-size early steps);
    * then ``decay="inverse_sqrt"``: sqrt(warmup_steps / step) (the original
      Transformer's schedule), ``"linear"``: down to ``min_rate`` at
      ``total_steps``, or ``"constant"``: 1.

    ``lr`` is the peak learning rate (what the Trainer checks); ``current_lr``
    the one the last step used; ``step_count`` the steps taken so far.
    """

    DECAYS = ("inverse_sqrt", "linear", "constant")

    def __init__(
        self,
        optimizer: Any,
        warmup_steps: int,
        decay: str = "inverse_sqrt",
        total_steps: int | None = None,
        min_rate: float = 0.01,
    ) -> None:
        who = "WarmupSchedule"
        if not callable(getattr(optimizer, "update", None)) or getattr(optimizer, "lr", None) is None:
            raise validate.InputTypeError(
                f"{who}: wrap an optimizer instance with an lr, e.g. Adam(lr=1e-3); got {optimizer!r}."
            )
        self.warmup_steps = validate.check_count(warmup_steps, who, "warmup_steps")
        if decay not in self.DECAYS:
            raise validate.InputError(f"{who}: decay must be one of {self.DECAYS}, got {decay!r}.")
        if decay == "linear":
            total_steps = validate.check_count(total_steps, who, "total_steps", minimum=self.warmup_steps + 1)
        self.min_rate = validate.check_positive(min_rate, who, "min_rate", "The smallest rate, e.g. 0.01.")
        self.optimizer, self.decay, self.total_steps = optimizer, decay, total_steps
        self.peak_lr = check_lr(optimizer.lr, who)
        self.step_count = 0

    @property
    def lr(self) -> float:
        return self.peak_lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.peak_lr = check_lr(value, type(self).__name__)

    @property
    def current_lr(self) -> float:
        return self.optimizer.lr

    def rate(self, step: int) -> float:
        """The factor of the peak learning rate at ``step`` (1, 2, ...)."""
        w = self.warmup_steps
        if step <= w:
            return step / w
        if self.decay == "inverse_sqrt":
            return math.sqrt(w / step)
        if self.decay == "linear":
            left = max(self.total_steps - step, 0) / (self.total_steps - w)
            return self.min_rate + (1.0 - self.min_rate) * left
        return 1.0

    def update(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        self.step_count += 1
        self.optimizer.lr = self.peak_lr * self.rate(self.step_count)
        self.optimizer.update(params, grads)


OPTIMIZERS = {
    "SGD": SGD,
    "Momentum": Momentum,
    "Nesterov": Nesterov,
    "AdaGrad": AdaGrad,
    "RMSprop": RMSprop,
    "Adam": Adam,
    "LazyAdam": LazyAdam,
}
