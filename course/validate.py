"""Checks at the public boundary: a wrong input is an error in words, never a wrong number.

Layers, models, optimizers, trainers and data loaders check what a student
can get wrong - a shape that does not fit the weights, a word id outside the
vocabulary, a label of -1 where nothing is ignored, float ids, a negative
learning rate or clipping threshold, a gradient list that does not match the
parameters, backward before forward - and stop with ONE error whose message
says what was given, what was expected and what to do.

Checked once, where the input enters:

* each public call checks its inputs, a Time layer once per forward (never
  per time step); the course calls it makes inside run unchecked (a CBOW
  checks its batch, its Embedding does not check it again): see
  :func:`guard`, :func:`checking` and :func:`trusted`;
* the trainers check the whole data set once, through the model's own check
  (:func:`precheck`), then run every batch unchecked;
* every check is O(1) Python work or one pass over integer ids.

The model answers of the chapters are shown in the notebooks exactly as they
are written in ``course/``, so their checks are installed around them
(:func:`guard`) rather than written inside them.

The errors are ordinary ``ValueError`` / ``TypeError`` subclasses, so code
that catches those keeps working:

* :class:`ShapeError` - an array of the wrong shape;
* :class:`IdRangeError` - ids or labels outside 0..V-1 (also an ``IndexError``);
* :class:`InputTypeError` - not an array, or the wrong dtype family (also a ``ValueError``);
* :class:`CallOrderError` - e.g. backward before forward (also a ``RuntimeError``);
* :class:`InputError` - any other value out of range (a learning rate, a size).
"""

from __future__ import annotations

import functools
import inspect
import linecache
import math
import numbers
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from course import backend

Array = Any

__all__ = [
    "CallOrderError",
    "IdRangeError",
    "InputError",
    "InputTypeError",
    "ShapeError",
    "check_array",
    "check_backward_ready",
    "check_count",
    "check_dout",
    "check_float",
    "check_ids",
    "check_labels",
    "check_mask",
    "check_ndim",
    "check_numeric",
    "check_one_hot",
    "check_params_and_grads",
    "check_positive",
    "check_rate",
    "check_same_shape",
    "check_scalar_dout",
    "check_weight",
    "checking",
    "guard",
    "guarded",
    "outside",
    "precheck",
    "trusted",
]


class InputError(ValueError):
    """A value passed to the course does not fit; the message says what to pass instead."""


class ShapeError(InputError):
    """An array has a shape that does not fit the weights or the other inputs."""


class IdRangeError(InputError, IndexError):
    """Word ids or class labels outside 0..V-1 (or -1 where nothing is ignored)."""


class InputTypeError(InputError, TypeError):
    """Not an array, or an array of the wrong dtype family (float ids, integer weights...)."""


class CallOrderError(InputError, RuntimeError):
    """Methods called in an order that cannot work, e.g. backward before forward."""


_NUMERIC = "biuf"


def _dtype_of(x: Any) -> str:
    dtype = getattr(x, "dtype", None)
    return str(dtype) if dtype is not None else type(x).__name__


def check_array(x: Any, who: str, what: str, expected: str) -> Array:
    """x itself if it is a NumPy/CuPy array; else an InputTypeError.

    ``expected`` describes the array wanted, e.g. "(N, D) floats".
    """
    if not backend.is_array(x):
        raise InputTypeError(
            f"{who}: {what} must be an array {expected}, got {type(x).__name__}. "
            "Wrap lists with np.asarray(...) (or xp.asarray on the GPU)."
        )
    return x


def check_numeric(x: Any, who: str, what: str, expected: str) -> Array:
    """x if it is an array of numbers (bool, int or float); else an InputTypeError."""
    check_array(x, who, what, expected)
    if x.dtype.kind not in _NUMERIC:
        raise InputTypeError(
            f"{who}: {what} must hold numbers {expected}, got dtype {x.dtype}. "
            "Convert it with .astype(np.float32) (strings and objects cannot be computed with)."
        )
    return x


def check_float(x: Any, who: str, what: str, expected: str, hint: str = "") -> Array:
    """x if it is a floating-point array; else an InputTypeError (``hint``: what to do)."""
    check_array(x, who, what, expected)
    if x.dtype.kind != "f":
        raise InputTypeError(
            f"{who}: {what} must be a floating-point array {expected}, got dtype {x.dtype}. "
            + (hint or "Convert it with .astype(np.float32), or pass the output of the layer before.")
        )
    return x


def check_weight(W: Any, who: str, name: str, ndim: int, expected: str) -> Array:
    """A weight: a float array with ``ndim`` axes (integer weights would get integer gradients)."""
    check_float(
        W, who, name, expected, "Weights must be floats: e.g. np.random.randn(...) or W.astype(np.float32)."
    )
    if W.ndim != ndim:
        raise ShapeError(f"{who}: {name} must be {expected}, got an array of shape {tuple(W.shape)}.")
    return W


def check_ndim(
    x: Array, ndims: int | tuple[int, ...], who: str, what: str, expected: str, hint: str = ""
) -> None:
    """A ShapeError unless x.ndim is ``ndims`` (an int or a tuple of allowed values)."""
    allowed = (ndims,) if isinstance(ndims, int) else ndims
    if x.ndim not in allowed:
        raise ShapeError(f"{who}: {what} must be {expected}, got shape {tuple(x.shape)}. {hint}".rstrip())


def check_same_shape(x: Array, shape: tuple, who: str, what: str, expected: str, hint: str = "") -> None:
    """A ShapeError unless x.shape == shape (``expected`` names the shape in the course's letters)."""
    if tuple(x.shape) != tuple(shape):
        raise ShapeError(
            f"{who}: {what} has shape {tuple(x.shape)}, expected {expected} = {tuple(shape)}. {hint}".rstrip()
        )


def check_ids(ids: Any, size: int, who: str, what: str = "word ids", hint: str = "") -> Array:
    """ids if it is an integer array with every value in 0..size-1; else a clear error.

    A negative id is refused: NumPy would silently read it from the end.
    """
    if not backend.is_array(ids) or ids.dtype.kind not in "iu":
        raise InputTypeError(
            f"{who}: {what} must be integers (an integer array of word ids in 0..{size - 1}), got "
            f"{_dtype_of(ids)}. "
            "Pass ids such as those of preprocess or create_contexts_target (not one-hot rows or floats); "
            "convert with .astype(np.int64) if they are whole numbers stored as floats."
        )
    if ids.size and outside(ids, size):
        low, high = int(ids.min()), int(ids.max())
        raise IdRangeError(
            f"{who}: {what} must lie in 0..{size - 1} (the weights have V = {size} rows); got values "
            f"from {low} to {high}. "
            + ("A negative id would silently pick a row from the end. " if low < 0 else "")
            + (hint or "Check that the vocabulary size V of the model matches the corpus (len(word_to_id)).")
        )
    return ids


_UNSIGNED = {1: "u1", 2: "u2", 4: "u4", 8: "u8"}


def outside(ids: Array, size: int) -> bool:
    """True when an integer id lies outside 0..size-1, in one pass over the ids.

    Read as unsigned integers of the same width (a view, no copy), a negative
    id is larger than any legal one, so one max() finds both kinds of error.
    """
    if not ids.size:
        return False
    try:
        unsigned = ids if ids.dtype.kind == "u" else ids.view(_UNSIGNED[ids.dtype.itemsize])
    except (KeyError, TypeError, ValueError):  # an array that cannot be viewed so: two passes
        return int(ids.min()) < 0 or int(ids.max()) >= size
    return int(unsigned.max()) >= size


def check_labels(t: Any, classes: int, who: str, ignore: int | None = None, hint: str = "") -> Array:
    """Integer class labels in 0..classes-1 (``ignore``: one more legal value, e.g. -1)."""
    if not backend.is_array(t) or t.dtype.kind not in "iu":
        raise InputTypeError(
            f"{who}: labels must be integers in 0..{classes - 1}, got {_dtype_of(t)}. "
            "Pass class ids (e.g. t.astype(np.int64)) or one-hot rows of the shape of the scores."
        )
    if t.size and (ignore is not None or outside(t, classes)):
        low, high = int(t.min()), int(t.max())
        # With an ignore label outside 0..C-1, a second pass is needed only if other values may hide
        # between it and the legal range (never for the usual -1).
        bad_high = high >= classes and (
            ignore is None
            or ignore < classes
            or high > ignore
            or (ignore > classes and _has_other(t, ignore, classes))
        )
        bad_low = low < 0 and (
            ignore is None or low < ignore or ignore >= 0 or (ignore < -1 and _has_other(t, ignore, 0))
        )
        if bad_high or bad_low:
            if ignore is None:
                legal = f"0..{classes - 1}"
                note = (
                    " This loss ignores no label: a -1 would silently be read as the last class "
                    "(TimeSoftmaxWithLoss is the one that ignores -1)."
                    if low < 0
                    else ""
                )
            else:
                legal = f"0..{classes - 1} (or {ignore} to ignore a position)"
                note = ""
            raise IdRangeError(
                f"{who}: labels must lie in {legal}, C = {classes} classes; got values from {low} to "
                f"{high}.{note} "
                + (hint or "Check that the number of classes of the scores matches the labels.")
            )
    return t


def _has_other(t: Array, ignore: int, bound: int) -> bool:
    """True when t has a value outside [0, bound) other than ``ignore`` on that side."""
    outside = (t < 0) if bound == 0 else (t >= bound)
    return bool((outside & (t != ignore)).any())


def check_one_hot(t: Array, shape: tuple, who: str) -> None:
    """One-hot targets: the shape of the scores, 0/1 entries, exactly one 1 per row."""
    if tuple(t.shape) != tuple(shape):
        raise ShapeError(
            f"{who}: one-hot targets must have the shape of the scores {tuple(shape)} (one column per "
            f"class), got {tuple(t.shape)}. Pass integer labels of shape {tuple(shape[:-1])} instead, "
            "or one-hot rows as wide as the number of classes."
        )
    if t.dtype.kind not in _NUMERIC:
        raise InputTypeError(f"{who}: one-hot targets must hold 0 and 1, got dtype {t.dtype}.")
    if t.size and not bool((((t == 0) | (t == 1)).all()) & (t.sum(axis=-1) == 1).all()):
        raise InputError(
            f"{who}: one-hot targets must hold a single 1 per row and 0 elsewhere. Pass integer labels, "
            "or build the rows with convert_one_hot(labels, C)."
        )


def check_backward_ready(ready: Any, who: str) -> None:
    """A CallOrderError when ``ready`` (what forward keeps for backward) is still None."""
    if ready is None:
        raise CallOrderError(
            f"{who}.backward was called before forward: backward needs what forward keeps. "
            "Call forward on the batch first, then backward."
        )


def check_dout(dout: Any, shape: tuple, who: str, what: str = "dout") -> Array:
    """dout an array of the shape of forward's output; else a clear error."""
    check_array(dout, f"{who}.backward", what, f"of shape {tuple(shape)} (the shape of forward's output)")
    if tuple(dout.shape) != tuple(shape):
        raise ShapeError(
            f"{who}.backward: {what} has shape {tuple(dout.shape)}, expected {tuple(shape)}, the shape of "
            "the output of the last forward. Pass the gradient of that output (same shape)."
        )
    return dout


def check_scalar_dout(dout: Any, who: str) -> None:
    """dout of a loss layer: a number (the gradient of the scalar loss, 1 by default)."""
    if type(dout) in (int, float):
        return
    if backend.is_array(dout):
        if dout.ndim == 0 or dout.size == 1:
            return
        raise ShapeError(
            f"{who}.backward: dout must be a number (the gradient of the scalar loss, usually 1), got an "
            f"array of shape {tuple(dout.shape)}. Call backward() or backward(1)."
        )
    _as_real(dout, f"{who}.backward", "dout")


def check_mask(mask: Any, shape: tuple, who: str) -> None:
    """An attention mask: None, or booleans (N, T), True at the real (not padding) positions."""
    if mask is None:
        return
    check_array(mask, who, "mask", f"of booleans {tuple(shape)}")
    if mask.dtype.kind not in "biu":
        raise InputTypeError(
            f"{who}: mask must hold booleans (True at real positions, False at padding), got dtype "
            f"{mask.dtype}. Build it with a comparison, e.g. xs != pad_id."
        )
    if tuple(mask.shape) != tuple(shape):
        raise ShapeError(
            f"{who}: mask has shape {tuple(mask.shape)}, expected (N, T) = {tuple(shape)}, one entry per "
            "encoder position."
        )


def _as_real(value: Any, who: str, what: str) -> float:
    if type(value) in (float, int):  # the usual case, without the slower abstract-class test
        return float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if backend.is_array(value) and value.ndim == 0 and value.dtype.kind in "iuf":
            return float(value)
        raise InputTypeError(f"{who}: {what} must be a number, got {type(value).__name__} {value!r}.")
    return float(value)


def check_positive(value: Any, who: str, what: str, hint: str = "", allow_zero: bool = False) -> float:
    """A finite number > 0 (>= 0 with ``allow_zero``); returns it as a float."""
    v = _as_real(value, who, what)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{who}: {what} must be {bound} (a finite number), got {value!r}. {hint}".rstrip())
    return v


def check_rate(value: Any, who: str, what: str, low: float = 0.0, high: float = 1.0) -> float:
    """A number in [low, high) (decay rates, momentum, dropout ratios); returns it as a float."""
    v = _as_real(value, who, what)
    if not (low <= v < high):
        raise InputError(f"{who}: {what} must be in [{low:g}, {high:g}), got {value!r}.")
    return v


def check_count(value: Any, who: str, what: str, minimum: int = 1, maximum: int | None = None) -> int:
    """A whole number >= minimum (and <= maximum); returns it as an int."""
    whole = isinstance(value, numbers.Integral) or (
        isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer()
    )
    if isinstance(value, bool) or not whole:
        raise InputTypeError(f"{who}: {what} must be a whole number, got {type(value).__name__} {value!r}.")
    v = int(value)
    if v < minimum or (maximum is not None and v > maximum):
        if maximum is not None:
            bound = f"between {minimum} and {maximum}"
        else:
            bound = "0 or more" if minimum == 0 else f"at least {minimum}"
        raise InputError(f"{who}: {what} must be {bound}, got {value!r}.")
    return v


def _pairs_fit(params: Any, grads: Any, state: Sequence[Array] | None) -> bool:
    """The fast path of :func:`check_params_and_grads`: True when everything fits (one loop, no message)."""
    if type(params) not in (list, tuple) or type(grads) not in (list, tuple) or len(params) != len(grads):
        return False
    if state is not None and len(state) != len(params):
        return False
    is_array = backend.is_array
    for p, g in zip(params, grads, strict=True):
        if not (is_array(p) and is_array(g)) or p.shape != g.shape or p.dtype.kind != "f":
            return False
    return state is None or all(s.shape == p.shape for s, p in zip(state, params, strict=True))


def check_params_and_grads(params: Any, grads: Any, who: str, state: Sequence[Array] | None = None) -> None:
    """params and grads: lists of the same length, each gradient shaped like its parameter.

    ``state``: per-parameter arrays an optimizer created on its first call
    (velocities, moments); the list must still match them.
    """
    if _pairs_fit(params, grads, state):
        return
    if backend.is_array(params) or backend.is_array(grads) or not isinstance(params, Sequence):
        raise InputTypeError(
            f"{who}: params and grads must be lists of arrays, got {type(params).__name__} and "
            f"{type(grads).__name__}. Pass model.params and model.grads (or [W], [dW] for one array)."
        )
    if not isinstance(grads, Sequence) or len(params) != len(grads):
        n_grads = len(grads) if isinstance(grads, Sequence) else type(grads).__name__
        raise InputError(
            f"{who}: got {len(params)} params but {n_grads} grads; pass model.params and model.grads "
            "(same order, same length). Nothing was updated."
        )
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        if not backend.is_array(p) or not backend.is_array(g):
            raise InputTypeError(
                f"{who}: params[{i}] and grads[{i}] must be arrays, got {type(p).__name__} and "
                f"{type(g).__name__}. Nothing was updated."
            )
        if p.shape != g.shape:
            raise ShapeError(
                f"{who}: grads[{i}] has shape {tuple(g.shape)} but params[{i}] has shape {tuple(p.shape)}; "
                "each gradient must have the shape of its parameter (pass the grads in the order of the "
                "params). Nothing was updated."
            )
        if p.dtype.kind != "f":
            raise InputTypeError(
                f"{who}: params[{i}] has dtype {p.dtype}; parameters must be floating-point arrays to be "
                "updated in place. Build the weights as floats (e.g. .astype(np.float32))."
            )
    if state is not None and (
        len(state) != len(params) or any(s.shape != p.shape for s, p in zip(state, params, strict=False))
    ):
        raise InputError(
            f"{who}: this optimizer was first used with {len(state)} parameters of shapes "
            f"{[tuple(s.shape) for s in state]}, now it gets {len(params)} of shapes "
            f"{[tuple(p.shape) for p in params]}. Use one optimizer per model (make a new one for a new "
            "model). Nothing was updated."
        )


# --------------------------------------------------------------------------
# Guards: checks installed around code that must stay as the chapters show it
# --------------------------------------------------------------------------


class _Calls(threading.local):
    depth = 0  # checked course calls running on this thread (a class default: reading it never misses)


_calls = _Calls()


def checking() -> bool:
    """True unless the caller runs inside course code that has already checked its inputs.

    Inputs are checked once, at the outermost public call: a CBOW's forward
    checks the batch, and the Embedding it then calls does not check again;
    ``trusted()`` marks such a region by hand (the Trainer's update step).
    """
    return not _calls.depth


class _Trusted:
    """The context manager of :func:`trusted` (one object, no generator: it runs every iteration)."""

    __slots__ = ()

    def __enter__(self) -> None:
        _calls.depth += 1

    def __exit__(self, *exc: object) -> None:
        _calls.depth -= 1


_TRUSTED = _Trusted()


def trusted() -> _Trusted:
    """``with trusted():`` course calls in the block skip the checks of inputs the caller has checked."""
    return _TRUSTED


_HERE = os.path.dirname(os.path.abspath(__file__))
_WRAPPER = """def {name}({params}):
    if _course_calls.depth:
        return _course_func({args})
{convert}    _course_check({args})
{run}"""
_IDS_TO_DEVICE = """    ({args},) = _course_ids_to_device({args})
"""
_RUN_TRUSTED = """    _course_calls.depth = 1
    try:
        return _course_func({args})
    finally:
        _course_calls.depth = 0
"""
_RUN_PLAIN = """    return _course_func({args})
"""


def _parameters(func: Callable) -> tuple[str, str, dict[str, Any]] | None:
    """(parameter list with defaults, argument list, defaults by name) to call ``func`` with, or None.

    Only for plain positional-or-keyword parameters; anything else (``*args``,
    keyword-only) gets the generic wrapper.
    """
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return None
    declared, passed, defaults = [], [], {}
    for i, p in enumerate(parameters):
        if p.kind is not p.POSITIONAL_OR_KEYWORD or p.name.startswith("_course_"):
            return None
        if p.default is p.empty:
            declared.append(p.name)
        else:
            defaults[f"_course_default{i}"] = p.default
            declared.append(f"{p.name}=_course_default{i}")
        passed.append(p.name)
    return ", ".join(declared), ", ".join(passed), defaults


def ids_to_device(owner: Any, *args: Any) -> tuple[Any, ...]:
    """``(owner, *args)`` with host integer arrays among ``args`` copied to ``owner``'s device.

    Word ids and labels are indices, which CuPy copies from the host by itself
    when it indexes; a model whose weights live on a GPU takes them from the
    host the same way at its entry, so students need not move them. Float data
    is never moved: mixing host and device numbers stays an error.
    """
    params = getattr(owner, "params", None)
    if not params or not backend.is_array(params[0]):
        return (owner, *args)
    module = backend.array_module(params[0])
    if module is backend.host():
        return (owner, *args)
    host = backend.host().ndarray
    return (
        owner,
        *(module.asarray(a) if isinstance(a, host) and a.dtype.kind in "iu" else a for a in args),
    )


def guarded(
    func: Callable,
    check: Callable,
    label: str | None = None,
    trust_inside: bool = True,
    move_ids: bool = False,
) -> Callable:
    """``func`` preceded by ``check(...)`` (same arguments), which raises on bad input.

    The model answers of the chapters are shown in the notebooks exactly as
    they are written in ``course/``, so their inputs are checked here, around
    them, instead of inside them. The check runs at the outermost course call
    only: called by course code that has already checked (``checking()`` is
    False), ``func`` runs at once; and, with ``trust_inside``, the course
    calls ``func`` makes skip their checks too (pass False for a function that
    runs a student's code, such as a model given as an argument).

    The wrapper has ``func``'s exact parameters (so a call costs little more
    than a call of ``func``), its name, docstring, signature and source
    (``__wrapped__``), and a code object of its own named ``label`` (so
    tracebacks say ``MatMul.forward``, and no two guarded methods share code).
    With ``move_ids``, host integer arguments go to the device of ``self``'s
    weights first (:func:`ids_to_device`).
    """
    label = label or func.__qualname__
    spec = _parameters(func)
    params, args, namespace = spec if spec is not None else ("*args, **kwargs", "*args, **kwargs", {})
    run = (_RUN_TRUSTED if trust_inside else _RUN_PLAIN).format(args=args)
    convert = _IDS_TO_DEVICE.format(args=args) if move_ids and spec is not None else ""
    source = _WRAPPER.format(name="_course_checked", params=params, args=args, run=run, convert=convert)
    filename = os.path.join(_HERE, f"<guard of {label}>")  # inside course/: course code to the autograder
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace.update(
        _course_calls=_calls, _course_func=func, _course_check=check, _course_ids_to_device=ids_to_device
    )
    exec(compile(source, filename, "exec"), namespace)  # our own template: no outside input
    checked = namespace["_course_checked"]
    checked.__code__ = checked.__code__.replace(co_name=label, co_qualname=label)
    checked = functools.wraps(func)(checked)
    checked.course_check = check
    return checked


def precheck(method: Callable, *args: Any, **kwargs: Any) -> bool:
    """Run now, on ``args``, the input check of a guarded (bound) method; False if it has none.

    A trainer checks its whole data set this way once, through the model's own
    forward check, and can then run every batch (rows of that data) without
    checking it again.
    """
    check = getattr(getattr(method, "__func__", method), "course_check", None)
    if check is None:
        return False
    owner = getattr(method, "__self__", None)
    if owner is None:
        check(*args, **kwargs)
    else:
        check(owner, *args, **kwargs)
    return True


def guard(cls: type, **checks: Callable) -> type:
    """Check the arguments of ``cls``'s own methods before they run: ``guard(MatMul, forward=check)``.

    ``check`` takes the method's arguments (``self`` first) and raises on bad
    input (see :func:`guarded`). Methods the class does not define itself are
    skipped. A ``forward`` takes host word ids for device weights (:func:`ids_to_device`).
    """
    for name, check in checks.items():
        method = cls.__dict__.get(name)
        if callable(method):
            label = f"{cls.__qualname__}.{name}"
            setattr(cls, name, guarded(method, check, label, move_ids=name == "forward"))
    return cls
