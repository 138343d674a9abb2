"""A strict stand-in for CuPy on the CPU: NumPy computes, CuPy's rules apply.

Code that runs on NumPy can still fail on a GPU, because CuPy refuses what
NumPy lets pass: an implicit copy of a device array to the host, a host array
in device arithmetic, a device value used as a Python index. No CUDA device is
needed to find those mistakes: ``course.use("strict")`` (or
``COURSE_BACKEND=strict``) makes every new array a :class:`ndarray` of this
module, which is not a ``numpy.ndarray``, computes with NumPy underneath and
behaves as CuPy's documented rules say (https://docs.cupy.dev/en/stable/
user_guide/difference.html, and CuPy's ``cupy/_core/core.pyx``):

* ``numpy.asarray(device)`` raises ``TypeError``; ``.get()`` (or
  ``course.backend.to_host``) is the explicit copy, so matplotlib and NumPy
  cannot take device arrays by accident.
* Ufuncs and array functions accept device arrays and scalars only: a host
  array (or a list) among their operands raises ``TypeError``.
* Reductions and scalar indexing give 0-d device arrays, not NumPy scalars;
  they are not hashable and have no ``__index__``, so ``vocab[i]`` with a
  device ``i`` fails as on CuPy. ``int()``, ``float()``, ``bool()``,
  ``.item()`` and ``.tolist()`` copy to the host, as CuPy's do, and count as
  device synchronizations (see :func:`allow_synchronize`).
* Integer-array indices out of bounds wrap around instead of raising; host
  index arrays and host values in assignments are copied to the device.
* Sorting is always stable and accepts ``kind`` None or "stable" only;
  ``take`` has no ``mode``.
* ``ufunc.at`` exists for add, subtract, maximum, minimum and the bitwise
  ufuncs only; ``random.default_rng`` gives a generator with CuPy's methods
  (no ``choice`` or ``permutation``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import numpy
from numpy.lib.mixins import NDArrayOperatorsMixin

__all__ = [
    "DeviceSynchronized",
    "allow_synchronize",
    "asnumpy",
    "get_array_module",
    "ndarray",
    "scatter_add",
    "synchronizations",
]

# CuPy implements ``ufunc.at`` for these only (docs/source/reference/ufunc.rst).
_AT_UFUNCS = {"add", "subtract", "maximum", "minimum", "bitwise_and", "bitwise_or", "bitwise_xor"}
# ``ufunc.reduce``/``accumulate`` exist for add and multiply only (cupy/_core/_kernel.pyx).
_REDUCE_UFUNCS = {"add", "multiply"}
_NUMERIC_KINDS = set("biufc")


class DeviceSynchronized(RuntimeError):  # noqa: N818 - cupyx's name
    """A device value was copied to the host where synchronization is disallowed.

    The stand-in's ``cupyx.DeviceSynchronized``.
    """


_sync: dict[str, Any] = {"allowed": True, "count": 0}


@contextlib.contextmanager
def allow_synchronize(allow: bool) -> Iterator[None]:
    """Allow or forbid device-to-host copies inside the block, as ``cupyx.allow_synchronize``.

    ``float(loss)`` in a training step makes the GPU wait for the CPU at every
    step; inside ``allow_synchronize(False)`` it raises :class:`DeviceSynchronized`.
    """
    before = _sync["allowed"]
    _sync["allowed"] = bool(allow)
    try:
        yield
    finally:
        _sync["allowed"] = before


def synchronizations() -> int:
    """How many device-to-host copies have happened so far (a counter)."""
    return _sync["count"]


def _synchronize(what: str) -> None:
    _sync["count"] += 1
    if not _sync["allowed"]:
        raise DeviceSynchronized(
            f"{what} copies a device value to the host, which makes the GPU wait, "
            "inside a block where that is disallowed (allow_synchronize(False)). "
            "Keep the value on the device (e.g. accumulate the loss as an array) "
            "and copy it once, outside the hot loop."
        )


def _host_array_error(where: str) -> TypeError:
    return TypeError(
        f"Unsupported type <class 'numpy.ndarray'>: {where} mixes a host (NumPy) array "
        "with device arrays, which CuPy refuses. Move it to the device first "
        "(course.backend.to_device(x, like=...)) or bring the device array to the "
        "host (course.backend.to_host(x))."
    )


def _device_data(a: numpy.ndarray) -> numpy.ndarray:
    if a.dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(f"Unsupported dtype {a.dtype}: device arrays hold numbers only, as in CuPy.")
    return a


class ndarray(NDArrayOperatorsMixin):  # noqa: N801 - mirrors cupy.ndarray
    """A device array of the stand-in: a NumPy array behind CuPy's rules."""

    __slots__ = ("_a",)
    __hash__ = None  # like CuPy's (and NumPy's) arrays: unhashable
    __array_priority__ = 100

    def __init__(self, data: numpy.ndarray) -> None:
        if not isinstance(data, numpy.ndarray):
            raise TypeError("course.strict.ndarray wraps a NumPy array; create arrays with asarray().")
        self._a = _device_data(data)

    # --- what a device array is ------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray(self._a.T))
    real = property(lambda self: ndarray(self._a.real))
    device = "strict:0"

    @shape.setter
    def shape(self, value: tuple[int, ...]) -> None:
        self._a.shape = value

    def __repr__(self) -> str:
        return repr(self._a)

    def __str__(self) -> str:
        return str(self._a)

    def __format__(self, spec: str) -> str:
        _synchronize("format()")
        return format(self._a[()] if self._a.ndim == 0 else self._a, spec)

    def __len__(self) -> int:
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return len(self._a)

    def __iter__(self) -> Iterator[ndarray]:
        # CuPy yields device arrays, not host scalars.
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self._a.shape[0]))

    # --- explicit and scalar transfers -----------------------------------------
    def __array__(self, dtype: Any = None, copy: Any = None) -> numpy.ndarray:
        # cupy/_core/core.pyx, ndarray.__array__: no implicit conversion.
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` "
            "to construct a NumPy array explicitly (in the course: course.backend.to_host(x))."
        )

    def get(self) -> numpy.ndarray:
        """A host copy (CuPy's ``ndarray.get``)."""
        _synchronize(".get()")
        return self._a.copy()

    def item(self) -> Any:
        _synchronize(".item()")
        if self._a.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return self._a.item()

    def tolist(self) -> Any:
        _synchronize(".tolist()")
        return self._a.tolist()

    def __float__(self) -> float:
        _synchronize("float()")
        return float(self._a)

    def __int__(self) -> int:
        _synchronize("int()")
        return int(self._a)

    def __complex__(self) -> complex:
        _synchronize("complex()")
        return complex(self._a)

    def __bool__(self) -> bool:
        _synchronize("bool() (an `if` or `while` on a device value)")
        return bool(self._a)

    def __index__(self) -> int:
        # CuPy's ndarray has no __index__: a device value is not a Python index.
        raise TypeError(
            "A device array cannot be used as a Python index (list, dict, range). "
            "Convert it explicitly with int(x), once, outside hot loops."
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return asarray, (self._a.copy(),)

    def __deepcopy__(self, memo: dict[int, Any]) -> ndarray:
        return ndarray(self._a.copy())

    def __copy__(self) -> ndarray:
        return ndarray(self._a.copy())

    # --- indexing -------------------------------------------------------------
    def __getitem__(self, key: Any) -> ndarray:
        return _wrap(self._a[key if _basic(key) else _index(key, self._a.shape)])

    def __setitem__(self, key: Any, value: Any) -> None:
        if type(value) is ndarray:
            value = value._a
        elif isinstance(value, (list, tuple)):
            value = _unwrap_nested(value, "assignment")
        # A host value is copied to the device, as CuPy does in __setitem__.
        self._a[key if _basic(key) else _index(key, self._a.shape)] = value

    # --- dispatch -------------------------------------------------------------
    def __array_ufunc__(self, ufunc: numpy.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return _apply_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return _apply_function(func, args, kwargs)

    # --- methods with CuPy's own rules -----------------------------------------
    def sort(self, axis: int = -1, kind: str | None = None) -> None:
        _check_sort_kind(kind)
        self._a.sort(axis=axis, kind="stable")

    def argsort(self, axis: int = -1, kind: str | None = None) -> ndarray:
        _check_sort_kind(kind)
        return ndarray(self._a.argsort(axis=axis, kind="stable"))

    def take(self, indices: Any, axis: int | None = None, out: Any = None) -> ndarray:
        return take(self, indices, axis=axis, out=out)

    def __getattr__(self, name: str) -> Any:
        # Every other ndarray method, with device operands only and device results.
        if name.startswith("__") or name == "_a":
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)
        return _method(name).__get__(self)


# --- operators: straight to the ufunc, without NumPy's dispatch in between ---------------


def _binary(ufunc: numpy.ufunc) -> tuple[Any, Any, Any]:
    def forward(self: ndarray, other: Any) -> Any:
        return _call_ufunc(ufunc, (self, other))

    def reflected(self: ndarray, other: Any) -> Any:
        return _call_ufunc(ufunc, (other, self))

    def inplace(self: ndarray, other: Any) -> ndarray:
        ufunc(self._a, _ufunc_operand(other, ufunc.__name__), out=self._a)
        return self

    return forward, reflected, inplace


for _name, _ufunc in {
    "add": numpy.add,
    "sub": numpy.subtract,
    "mul": numpy.multiply,
    "matmul": numpy.matmul,
    "truediv": numpy.true_divide,
    "floordiv": numpy.floor_divide,
    "mod": numpy.remainder,
    "pow": numpy.power,
    "and": numpy.bitwise_and,
    "or": numpy.bitwise_or,
    "xor": numpy.bitwise_xor,
    "lshift": numpy.left_shift,
    "rshift": numpy.right_shift,
}.items():
    _f, _r, _i = _binary(_ufunc)
    setattr(ndarray, f"__{_name}__", _f)
    setattr(ndarray, f"__r{_name}__", _r)
    setattr(ndarray, f"__i{_name}__", _i)


def _method(name: str) -> Any:
    """``ndarray.name`` delegated to NumPy's method, with device operands only."""

    def method(self: ndarray, *args: Any, **kwargs: Any) -> Any:
        if any(isinstance(a, (ndarray, numpy.ndarray, list, tuple)) for a in (*args, *kwargs.values())):
            args, kwargs = _unwrap_call(args, kwargs, f"ndarray.{name}")
        return _wrap(getattr(self._a, name)(*args, **kwargs))

    method.__name__ = name
    return method


# The methods a training step calls most, defined once instead of looked up at every call.
for _name in [
    "reshape",
    "astype",
    "copy",
    "transpose",
    "ravel",
    "flatten",
    "swapaxes",
    "squeeze",
    "sum",
    "mean",
    "max",
    "min",
    "argmax",
    "argmin",
    "any",
    "all",
    "cumsum",
    "prod",
    "std",
    "var",
    "fill",
    "view",
    "repeat",
    "clip",
    "dot",
    "nonzero",
    "round",
]:
    setattr(ndarray, _name, _method(_name))

for _name, _ufunc in {
    "lt": numpy.less,
    "le": numpy.less_equal,
    "gt": numpy.greater,
    "ge": numpy.greater_equal,
    "eq": numpy.equal,
    "ne": numpy.not_equal,
}.items():
    setattr(ndarray, f"__{_name}__", _binary(_ufunc)[0])
for _name, _ufunc in {
    "neg": numpy.negative,
    "pos": numpy.positive,
    "abs": numpy.absolute,
    "invert": numpy.invert,
}.items():
    setattr(ndarray, f"__{_name}__", lambda self, _u=_ufunc: _call_ufunc(_u, (self,)))


# --- wrapping -------------------------------------------------------------------


def _device(a: numpy.ndarray) -> ndarray:
    """A device array around ``a`` (a NumPy array just computed), without the constructor's checks."""
    if a.dtype.kind not in _NUMERIC_KINDS:
        _device_data(a)
    out = _new(ndarray)
    out._a = a
    return out


_new = object.__new__


def _wrap(result: Any) -> Any:
    """NumPy results as device results: arrays and NumPy scalars become device arrays."""
    if type(result) is numpy.ndarray:
        return _device(result)
    if isinstance(result, numpy.ndarray):
        return ndarray(result)
    if isinstance(result, numpy.generic):
        # CuPy returns 0-d arrays where NumPy returns scalars (reductions, a[i, j]).
        return ndarray(numpy.asarray(result))
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if isinstance(result, list):
        return [_wrap(r) for r in result]
    return result


def _unwrap_nested(value: Any, where: str) -> Any:
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, numpy.ndarray):
        raise _host_array_error(where)
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap_nested(v, where) for v in value)
    return value


def _unwrap_call(args: Any, kwargs: dict[str, Any], where: str) -> tuple[Any, dict[str, Any]]:
    args = tuple(_unwrap_nested(a, where) for a in args)
    kwargs = {k: _unwrap_nested(v, where) for k, v in kwargs.items()}
    return args, kwargs


def _check_sort_kind(kind: str | None) -> None:
    # cupy/_core/core.pyx, _check_kind_sort: CuPy sorts stably and knows no other kind.
    if kind is not None and kind != "stable":
        raise ValueError("kind can only be None or 'stable'")


_BASIC_INDEX = (int, slice, type(None), type(Ellipsis))


def _basic(key: Any) -> bool:
    """A key of integers, slices, None and ... only: NumPy's own indexing is CuPy's."""
    if type(key) is tuple:
        return all(type(k) in _BASIC_INDEX for k in key)
    return type(key) in _BASIC_INDEX


def _index_part(part: Any) -> Any:
    if isinstance(part, ndarray):
        return part._a
    if isinstance(part, (list, numpy.ndarray)):
        # CuPy copies host index arrays (and lists) to the device.
        return numpy.asarray(part)
    return part


def _wrap_out_of_bounds(key: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[Any, ...]:
    # CuPy wraps out-of-bounds integer-array indices around where NumPy raises
    # (user_guide/difference.html, "Out-of-bounds indices").
    if any(k is None or k is Ellipsis for k in key):
        return key
    out = []
    for axis, part in enumerate(key):
        if (
            isinstance(part, numpy.ndarray)
            and part.dtype.kind in "iu"
            and axis < len(shape)
            and shape[axis] > 0
        ):
            part = part % shape[axis]
        out.append(part)
    return tuple(out)


def _index(key: Any, shape: tuple[int, ...]) -> Any:
    if isinstance(key, tuple):
        return _wrap_out_of_bounds(tuple(_index_part(k) for k in key), shape)
    return _wrap_out_of_bounds((_index_part(key),), shape)


# --- ufuncs and functions ---------------------------------------------------------


_SCALARS = (bool, int, float, complex, numpy.generic)


def _ufunc_operand(x: Any, where: str) -> Any:
    if type(x) is ndarray:
        return x._a
    if isinstance(x, numpy.ndarray):
        raise _host_array_error(where)
    if isinstance(x, _SCALARS):
        return x
    # CuPy's ufuncs take device arrays and scalars only (difference.html).
    raise TypeError(f"Unsupported type {type(x)}: {where} takes device arrays and scalars only.")


def _call_ufunc(ufunc: numpy.ufunc, inputs: Any) -> Any:
    """The common case, kept short: ``ufunc(*inputs)`` with no keywords."""
    args = [x._a if type(x) is ndarray else _ufunc_operand(x, ufunc.__name__) for x in inputs]
    result = ufunc(*args)
    return _device(result) if type(result) is numpy.ndarray else _wrap(result)


def _apply_ufunc(ufunc: numpy.ufunc, method: str, inputs: Any, kwargs: dict[str, Any]) -> Any:
    if method == "__call__":
        if not kwargs:
            return _call_ufunc(ufunc, inputs)
        out = kwargs.get("out")
        if len(kwargs) == 1 and type(out) is ndarray:  # ufunc(a, b, out=c): the other common case
            args = [x._a if type(x) is ndarray else _ufunc_operand(x, ufunc.__name__) for x in inputs]
            ufunc(*args, out=out._a)
            return out
    where = f"{ufunc.__name__}" if method == "__call__" else f"{ufunc.__name__}.{method}"
    if method == "at":
        if ufunc.__name__ not in _AT_UFUNCS:
            raise NotImplementedError(f"`{ufunc.__name__}.at` is not supported yet")
        target, indices, *values = inputs
        if not isinstance(target, ndarray):
            raise _host_array_error(where)
        # Indices and values may come from the host: CuPy's scatter copies them over.
        values = [v._a if isinstance(v, ndarray) else v for v in values]
        idx = _index(indices, target.shape)
        ufunc.at(target._a, idx[0] if len(idx) == 1 else idx, *values)
        return None
    if method in ("reduce", "accumulate") and ufunc.__name__ not in _REDUCE_UFUNCS:
        raise NotImplementedError(f"`{ufunc.__name__}.{method}` is not supported yet")
    if method not in ("__call__", "outer", "reduce", "accumulate", "reduceat"):
        return NotImplemented
    args = tuple(_ufunc_operand(x, where) for x in inputs)
    out = kwargs.get("out")
    if out is not None:
        outs = out if isinstance(out, tuple) else (out,)
        kwargs["out"] = tuple(_ufunc_operand(o, where) for o in outs)
    result = getattr(ufunc, method)(*args, **kwargs)
    if out is not None:
        return out[0] if isinstance(out, tuple) and len(out) == 1 else out
    return _wrap(result)


# Functions whose CuPy version differs from NumPy's in something the course touches.
_SPECIAL: dict[str, Any] = {}


def _special(func: Any) -> Any:
    _SPECIAL[func.__name__] = func
    return func


def _apply_function(func: Any, args: Any, kwargs: dict[str, Any]) -> Any:
    special = _SPECIAL.get(func.__name__)
    if special is not None:
        return special(*args, **kwargs)
    args, kwargs = _unwrap_call(args, kwargs, f"{func.__name__}()")
    return _wrap(func(*args, **kwargs))


@_special
def sort(a: Any, axis: int | None = -1, kind: str | None = None) -> ndarray:
    """Stable sort (CuPy's ``sort``: ``kind`` None or "stable" only)."""
    _check_sort_kind(kind)
    return ndarray(numpy.sort(_as_device(a, "sort()")._a, axis=axis, kind="stable"))


@_special
def argsort(a: Any, axis: int | None = -1, kind: str | None = None) -> ndarray:
    """Stable argsort (CuPy's ``argsort``: ``kind`` None or "stable" only)."""
    _check_sort_kind(kind)
    return ndarray(numpy.argsort(_as_device(a, "argsort()")._a, axis=axis, kind="stable"))


@_special
def take(a: Any, indices: Any, axis: int | None = None, out: Any = None) -> ndarray:
    """Fancy indexing on one axis; out-of-bounds indices wrap (CuPy's ``take`` has no ``mode``)."""
    a = _as_device(a, "take()")
    idx = _index_part(indices)
    result = numpy.take(a._a, idx, axis=axis, mode="wrap")
    if out is not None:
        out._a[...] = result
        return out
    return _wrap(result)


def _as_device(a: Any, where: str) -> ndarray:
    if isinstance(a, ndarray):
        return a
    if isinstance(a, numpy.ndarray):
        raise _host_array_error(where)
    return asarray(a)


class _Ufunc:
    """A NumPy ufunc called through the stand-in's module (``strict.exp``)."""

    def __init__(self, ufunc: numpy.ufunc) -> None:
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__
        self.__doc__ = ufunc.__doc__

    def __call__(self, *inputs: Any, **kwargs: Any) -> Any:
        if not kwargs:
            return _call_ufunc(self._ufunc, inputs)
        return _apply_ufunc(self._ufunc, "__call__", inputs, kwargs)

    def __getattr__(self, method: str) -> Any:
        if method not in ("at", "outer", "reduce", "accumulate", "reduceat"):
            return getattr(self._ufunc, method)
        return lambda *inputs, **kwargs: _apply_ufunc(self._ufunc, method, inputs, kwargs)


def _function(func: Any) -> Any:
    special = _SPECIAL.get(getattr(func, "__name__", ""))
    if special is not None:
        return special

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        args, kwargs = _unwrap_call(args, kwargs, f"{func.__name__}()")
        return _wrap(func(*args, **kwargs))

    return call


# --- creating arrays and moving them -----------------------------------------------


def asarray(a: Any, dtype: Any = None, order: Any = None) -> ndarray:
    """``a`` on the device: host data is copied over (CuPy's ``asarray``)."""
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == dtype else ndarray(a._a.astype(dtype))
    data = _unwrap_nested(a, "asarray()") if isinstance(a, (list, tuple)) else a
    # A copy: device memory never aliases host memory.
    return ndarray(numpy.array(data, dtype=dtype, order=order or "K", copy=True))


def array(a: Any, dtype: Any = None, copy: bool = True, order: Any = None, ndmin: int = 0) -> ndarray:
    """A new device array from ``a`` (CuPy's ``array``)."""
    if isinstance(a, ndarray):
        a = a._a
    elif isinstance(a, (list, tuple)):
        a = _unwrap_nested(a, "array()")
    return ndarray(numpy.array(a, dtype=dtype, copy=True, order=order or "K", ndmin=ndmin))


def ascontiguousarray(a: Any, dtype: Any = None) -> ndarray:
    return ndarray(numpy.ascontiguousarray(_as_device(a, "ascontiguousarray()")._a, dtype=dtype))


def asnumpy(a: Any) -> numpy.ndarray:
    """A host copy of ``a`` (CuPy's ``asnumpy``); host input is returned as an array."""
    if isinstance(a, ndarray):
        return a.get()
    return numpy.asarray(a)


def get_array_module(*args: Any) -> Any:
    """This module if any argument is a device array, else NumPy (CuPy's ``get_array_module``)."""
    import sys  # noqa: PLC0415

    return sys.modules[__spec__.name] if any(isinstance(a, ndarray) for a in args) else numpy


def scatter_add(a: ndarray, slices: Any, value: Any) -> None:
    """``a[slices] += value`` with repeated indices accumulating (``cupyx.scatter_add``)."""
    _apply_ufunc(numpy.add, "at", (a, slices, value), {})


# --- random numbers -----------------------------------------------------------------


class Generator:
    """CuPy's ``cupy.random.Generator`` on NumPy's bit generator.

    Only CuPy's methods exist: ``choice``, ``permutation`` and ``shuffle`` do
    not (cupy/random/_generator_api.pyx), so host-side sampling stays on a host
    generator.
    """

    def __init__(self, seed: Any = None) -> None:
        self._gen = numpy.random.default_rng(seed)

    def random(self, size: Any = None, dtype: Any = numpy.float64, out: Any = None) -> ndarray:
        return _fill(self._gen.random(size, dtype=dtype), out)

    def standard_normal(self, size: Any = None, dtype: Any = numpy.float64, out: Any = None) -> ndarray:
        return _fill(self._gen.standard_normal(size, dtype=dtype), out)

    def uniform(
        self, low: float = 0.0, high: float = 1.0, size: Any = None, dtype: Any = numpy.float64
    ) -> ndarray:
        return ndarray(numpy.asarray(self._gen.uniform(low, high, size)).astype(dtype))

    def integers(
        self, low: Any, high: Any = None, size: Any = None, dtype: Any = numpy.int64, endpoint: bool = False
    ) -> ndarray:
        low, high = (_scalar_bound(b) for b in (low, high))
        return ndarray(numpy.asarray(self._gen.integers(low, high, size, dtype=dtype, endpoint=endpoint)))

    def standard_exponential(self, size: Any = None, dtype: Any = numpy.float64) -> ndarray:
        return ndarray(numpy.asarray(self._gen.standard_exponential(size, dtype=dtype)))

    def __deepcopy__(self, memo: dict[int, Any]) -> Generator:
        import copy  # noqa: PLC0415

        twin = Generator.__new__(Generator)
        twin._gen = copy.deepcopy(self._gen, memo)
        return twin


def _scalar_bound(bound: Any) -> Any:
    if isinstance(bound, ndarray):
        return bound._a
    if isinstance(bound, numpy.ndarray):
        raise _host_array_error("Generator.integers()")
    return bound


def _fill(values: Any, out: Any) -> ndarray:
    if out is None:
        return ndarray(numpy.asarray(values))
    out._a[...] = values
    return out


class _Random:
    """``strict.random``: CuPy's module-level random functions and ``default_rng``."""

    def __init__(self) -> None:
        self._state = numpy.random.RandomState()

    def default_rng(self, seed: Any = None) -> Generator:
        return Generator(seed)

    def seed(self, seed: Any = None) -> None:
        self._state.seed(seed)

    def get_random_state(self) -> numpy.random.RandomState:
        return self._state

    def set_random_state(self, state: numpy.random.RandomState) -> None:
        self._state = state

    def __getattr__(self, name: str) -> Any:
        draw = getattr(self._state, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            args, kwargs = _unwrap_call(args, kwargs, f"random.{name}()")
            return _wrap(draw(*args, **kwargs))

        return call


random = _Random()


class _Linalg:
    """``strict.linalg``: NumPy's linear algebra with device operands only."""

    def __getattr__(self, name: str) -> Any:
        return _function(getattr(numpy.linalg, name))


linalg = _Linalg()

# Names passed through as they are: types, dtypes and helpers that take no arrays.
_PASS = {
    "dtype",
    "finfo",
    "iinfo",
    "result_type",
    "promote_types",
    "can_cast",
    "issubdtype",
    "isscalar",
    "newaxis",
    "pi",
    "e",
    "inf",
    "nan",
    "ndim",
    "shape",
    "broadcast_shapes",
    "generic",
    "number",
    "integer",
    "floating",
    "signedinteger",
    "unsignedinteger",
    "bool_",
}


# NumPy names CuPy does not have (from cupy/__init__.py): asking for one fails here as on a GPU.
_NOT_IN_CUPY = frozenset(
    [
        "asmatrix",
        "block",
        "bmat",
        "busday_count",
        "busday_offset",
        "char",
        "core",
        "ctypeslib",
        "datetime_as_string",
        "datetime_data",
        "einsum_path",
        "emath",
        "errstate",
        "frompyfunc",
        "fromregex",
        "geomspace",
        "getbufsize",
        "geterr",
        "geterrcall",
        "histogram_bin_edges",
        "info",
        "insert",
        "is_busday",
        "isnat",
        "lib",
        "ma",
        "matrix",
        "matvec",
        "memmap",
        "nanpercentile",
        "nanquantile",
        "ndenumerate",
        "nditer",
        "nested_iters",
        "polyder",
        "polydiv",
        "polyint",
        "rec",
        "recarray",
        "setbufsize",
        "seterr",
        "seterrcall",
        "spacing",
        "strings",
        "unstack",
        "vecdot",
        "vecmat",
    ]
)


@functools.cache
def _module_attribute(name: str) -> Any:
    if name in _NOT_IN_CUPY:
        raise AttributeError(name)
    value = getattr(numpy, name)
    if isinstance(value, numpy.ufunc):
        return _Ufunc(value)
    if name in _PASS or isinstance(value, type) or not callable(value):
        return value
    return _function(value)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return _module_attribute(name)
    except AttributeError:
        raise AttributeError(f"the CuPy stand-in course.strict has no attribute {name!r}") from None
