"""The array backend: NumPy on the CPU, CuPy on an NVIDIA GPU.

This is the only module of the course that imports ``numpy`` or ``cupy`` by
name. Everything else asks it for an array module:

* ``xp()`` gives the module of the backend in use (for creating new arrays);
* ``array_module(*arrays)`` gives the module that owns the arrays passed in,
  so a model built on the GPU stays there whatever the global setting says.

Switch the backend with ``course.use("cupy")`` or by setting
``COURSE_BACKEND=cupy`` before the course is imported. The operations that
differ between NumPy and CuPy (scatter-add, host transfer, random numbers)
are wrapped here and nowhere else.

A third backend, ``"strict"`` (``course.strict``), runs on the CPU by CuPy's
rules: its arrays refuse implicit host conversion and host/device mixing, so
the test suite finds GPU mistakes on machines without a GPU.
"""

from __future__ import annotations

import contextlib
import os
import random as _pyrandom
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy

__all__ = [
    "BackendError",
    "BackendWarning",
    "array_module",
    "asarray",
    "gpu_available",
    "host",
    "is_array",
    "name",
    "randn",
    "rng",
    "rng_restore",
    "rng_snapshot",
    "scatter_add",
    "seed",
    "synchronize",
    "to_device",
    "to_host",
    "use",
    "xp",
    "zeros",
]


class BackendError(RuntimeError):
    """Raised when the requested backend cannot run here."""


_BACKENDS = ("numpy", "strict", "cupy")
_state: dict[str, Any] = {"name": "numpy", "module": numpy}
# One random generator per array module, created lazily and replaced by seed().
_generators: dict[str, Any] = {}
_seed: dict[str, int | None] = {"value": None}


def _import_cupy() -> ModuleType:
    """Import CuPy and check that a CUDA device answers, or explain why not."""
    try:
        import cupy  # noqa: PLC0415 - optional dependency, imported on demand
    except ImportError as exc:
        raise BackendError(
            "The CuPy backend was requested but CuPy is not installed "
            f"({exc}). Install it with `pip install -e .[gpu]` (CUDA 12: "
            "cupy-cuda12x), or use the NumPy backend: course.use('numpy')."
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA raises its own error types
        raise BackendError(
            "The CuPy backend was requested but no CUDA device could be "
            f"opened ({type(exc).__name__}: {exc}). Check `nvidia-smi` and "
            "the NVIDIA driver, or use the NumPy backend: course.use('numpy')."
        ) from None
    if count < 1:
        raise BackendError(
            "The CuPy backend was requested but this machine has no CUDA "
            "device. Run on a machine with an NVIDIA GPU, or use the NumPy "
            "backend: course.use('numpy')."
        )
    return cupy


def _import_strict() -> ModuleType:
    from course import strict  # noqa: PLC0415 - loaded only when asked for

    return strict


def gpu_available() -> bool:
    """True when CuPy is installed and a CUDA device answers."""
    try:
        _import_cupy()
    except BackendError:
        return False
    return True


def use(backend: str) -> ModuleType:
    """Select the array backend for new arrays: ``"numpy"``, ``"strict"`` or ``"cupy"``.

    Example: ``course.use("cupy")`` before building a model puts it on the GPU.
    ``course.use("strict")`` keeps arrays on the CPU under CuPy's rules (for
    tests). Returns the array module now in use.
    """
    key = str(backend).strip().lower()
    if key not in _BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}: choose one of {', '.join(_BACKENDS)}.")
    module = {"numpy": lambda: numpy, "strict": _import_strict, "cupy": _import_cupy}[key]()
    _state["name"] = key
    _state["module"] = module
    return module


def name() -> str:
    """The name of the backend in use: ``"numpy"``, ``"strict"`` or ``"cupy"``."""
    return _state["name"]


def xp() -> ModuleType:
    """The array module of the backend in use (``numpy``, ``course.strict`` or ``cupy``)."""
    return _state["module"]


def host() -> ModuleType:
    """The host-side array module (NumPy), for values already in host memory."""
    return numpy


def _devices() -> list[ModuleType]:
    """The device array modules loaded in this process (CuPy, the strict stand-in)."""
    return [m for m in (sys.modules.get("cupy"), sys.modules.get("course.strict")) if m is not None]


def _device_module(x: Any) -> ModuleType | None:
    for module in _devices():
        if isinstance(x, module.ndarray):
            return module
    return None


def is_array(x: Any) -> bool:
    """True for a NumPy, CuPy or strict stand-in array."""
    return isinstance(x, numpy.ndarray) or _device_module(x) is not None


def array_module(*arrays: Any) -> ModuleType:
    """The module owning ``arrays``: the device module if any is a device array, else numpy.

    With no arrays at all (e.g. only Python numbers), the backend in use.
    """
    seen_array = False
    for a in arrays:
        module = _device_module(a)
        if module is not None:
            return module
        seen_array = seen_array or isinstance(a, numpy.ndarray)
    return numpy if seen_array else xp()


def asarray(x: Any, dtype: Any = None) -> Any:
    """``x`` as an array of the backend in use (copied to the GPU if needed)."""
    return xp().asarray(x, dtype=dtype)


def to_host(x: Any) -> Any:
    """``x`` as a NumPy array in host memory (a no-op for NumPy arrays)."""
    module = _device_module(x)
    if module is not None:
        return module.asnumpy(x)
    return numpy.asarray(x)


def to_device(x: Any, like: Any = None) -> Any:
    """``x`` on the device of ``like`` (or of the backend in use)."""
    module = array_module(like) if like is not None else xp()
    return module.asarray(x)


def scatter_add(target: Any, indices: Any, values: Any) -> None:
    """Add ``values`` into ``target`` at ``indices`` along axis 0, in place.

    Repeated indices accumulate (``target[i] += v`` for every pair), unlike
    plain fancy-index assignment. Shapes: target (V, ...), indices (N,),
    values (N, ...).
    """
    module = array_module(target)
    # Host ids for a device target are copied over, as CuPy's own scatter does.
    indices = module.asarray(indices).reshape(-1)
    row = int(numpy.prod(target.shape[1:], dtype=numpy.int64))
    if target.ndim > 1 and target.flags.c_contiguous and row > 1:
        # One 1-D scatter over the flat entries: NumPy's add.at is many times
        # faster in 1-D than over rows (CuPy is fast either way).
        flat = indices.astype(module.int64)[:, None] * row + module.arange(row, dtype=module.int64)
        module.add.at(target.reshape(-1), flat.reshape(-1), values.reshape(-1))
    else:
        module.add.at(target, indices, values)


def synchronize() -> None:
    """Wait until the GPU has finished the work queued so far (a no-op on the CPU).

    CuPy launches kernels asynchronously, so a timer read without this measures
    only the launches.
    """
    cupy = sys.modules.get("cupy")
    if _state["name"] == "cupy" and cupy is not None:
        cupy.cuda.get_current_stream().synchronize()


def seed(value: int) -> None:
    """Make a run reproducible: seed Python's, NumPy's and CuPy's generators.

    After ``course.seed(n)`` the course's random numbers (weight init, dropout
    masks, negative samples, batch order) repeat exactly on either backend.
    """
    value = int(value)
    _seed["value"] = value
    _pyrandom.seed(value)
    numpy.random.seed(value % 2**32)
    _generators.clear()
    for module in _devices():
        # Without a device the CuPy generator is never used, so failing is harmless.
        with contextlib.suppress(Exception):
            module.random.seed(value % 2**32)
    if _followers:
        rng_snapshot()  # tells the followers


def rng(module: ModuleType | None = None) -> Any:
    """The course's random generator for ``module`` (default: backend in use).

    A ``numpy.random.Generator`` for NumPy and a ``cupy.random.Generator`` for
    CuPy, seeded by :func:`seed`. Both offer ``random``, ``standard_normal``
    and ``integers``.
    """
    module = module or xp()
    key = module.__name__
    gen = _generators.get(key)
    if gen is None:
        base = _seed["value"]
        seed_value = None if base is None else base % 2**32
        gen = module.random.default_rng(seed_value)
        _generators[key] = gen
    return gen


def randn(*shape: int, scale: float = 1.0, dtype: str = "float32") -> Any:
    """Normal(0, scale^2) samples of the given shape on the backend in use.

    The course's weight initialiser: ``randn(D, H, scale=0.01)``.
    """
    module = xp()
    out = rng(module).standard_normal(shape, dtype=module.dtype(dtype).type)
    return out * module.asarray(scale, dtype=out.dtype) if scale != 1.0 else out


def zeros(*shape: int, dtype: str = "float32") -> Any:
    """An array of zeros of the given shape on the backend in use."""
    return xp().zeros(shape, dtype=dtype)


_followers: list[Callable[[dict[str, Any]], None]] = []


def follow_random_state(follower: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
    """Call ``follower(snap)`` whenever the random state is captured or put back.

    The grader keeps a student's process drawing the same random numbers as the
    reference this way. Returns a function that stops following.
    """
    _followers.append(follower)
    return lambda: _followers.remove(follower) if follower in _followers else None


def rng_snapshot() -> dict[str, Any]:
    """Capture every random state the course or a student may draw from.

    Covers Python's ``random``, NumPy's global ``numpy.random`` functions and
    the course's own generators, so that a stochastic layer (dropout, negative
    sampling) can be run twice with the same random numbers.
    """
    import copy  # noqa: PLC0415

    snap: dict[str, Any] = {
        "python": _pyrandom.getstate(),
        "numpy": numpy.random.get_state(),
        "generators": {k: copy.deepcopy(g) for k, g in _generators.items()},
        "seed": _seed["value"],
    }
    snap["device_globals"] = {
        m.__name__: copy.deepcopy(m.random.get_random_state())
        for m in _devices()
        if m.__name__ in _generators
    }
    for follower in list(_followers):
        follower(snap)
    return snap


def rng_restore(snap: dict[str, Any]) -> None:
    """Put back the random states captured by :func:`rng_snapshot`."""
    import copy  # noqa: PLC0415

    _pyrandom.setstate(snap["python"])
    numpy.random.set_state(snap["numpy"])
    _generators.clear()
    _generators.update({k: copy.deepcopy(g) for k, g in snap["generators"].items()})
    _seed["value"] = snap["seed"]
    modules = {m.__name__: m for m in _devices()}
    for key, state in snap.get("device_globals", {}).items():
        modules[key].random.set_random_state(copy.deepcopy(state))
    for follower in list(_followers):
        follower(snap)


class BackendWarning(UserWarning):
    """COURSE_BACKEND asked for a backend that cannot run here; NumPy is used instead."""


def _from_environment() -> None:
    """Apply ``COURSE_BACKEND``; a value that cannot work warns and leaves NumPy, never breaks the import."""
    raw = os.environ.get("COURSE_BACKEND", "")
    requested = raw.strip().lower()
    if not requested or requested == "numpy":
        return
    try:
        use(requested)
    except (ValueError, BackendError) as exc:
        import warnings  # noqa: PLC0415

        message = (
            f"COURSE_BACKEND={raw!r} cannot be used, so the course runs on NumPy. {exc} "
            "Set COURSE_BACKEND to numpy, strict or cupy, or unset it."
        )
        try:
            warnings.warn(message, BackendWarning, stacklevel=3)
        except Warning:  # warnings turned into errors: say it, but let the import succeed
            print(f"BackendWarning: {message}", file=sys.stderr)


_from_environment()
