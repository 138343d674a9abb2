"""The subject: a sandboxed process that holds a student's definitions and answers the judge with data.

Started by the judge (``python -m autograder.instructors.subject`` inside the sandbox, see
:mod:`autograder.instructors.remote`), it runs the cells it is sent (the release's setup
cells and the student's own), then answers requests read from stdin with
frames of :mod:`autograder.instructors.protocol` on stdout: build an object, call a
function or method, read an attribute, copy an object, set the random state.
Nothing here is trusted: the student's code shares this process and may
change any of it. The judge treats every reply as data from the student and
checks it; the course's answer to the exercise being judged is a stub in this
process's course tree, so it cannot be borrowed.

Every object the judge holds a handle to keeps the ``params`` and ``grads``
arrays it had when it was made (what an optimizer holds); replies carry
those arrays' values, so a backward pass that replaces ``grads[i]`` instead of
writing into it shows as stale gradients, as it would in training.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import linecache
import os
import random
import sys
import traceback
import types
from typing import Any

import numpy

from autograder.instructors.protocol import Handle, ProtocolError, decode, encode, frame_length

_LIMIT_MESSAGE = 2000
_LIMIT_PRINTED = 20_000


class Channel:
    """Frames over two file descriptors the student's code is not told about."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd

    def _read_exact(self, n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = os.read(self.read_fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def receive(self) -> Any:
        return decode(self._read_exact(frame_length(self._read_exact(8))))

    def send(self, message: Any) -> None:
        try:
            data = encode(message)
        except Exception as exc:  # a reply that cannot be data (an object array, say)
            data = encode({"error": {"type": "ProtocolError", "message": str(exc)[:500], "where": []}})
        view = memoryview(data)
        while view:
            view = view[os.write(self.write_fd, view) :]


def _detach_stdio() -> Channel:
    """Keep stdin/stdout for the protocol; the student's prints go to stderr (the run's log)."""
    channel = Channel(os.dup(0), os.dup(1))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    return channel


class _Later(types.ModuleType):
    """A module imported on first use: plotting costs the grading nothing unless it happens."""

    def __getattr__(self, attr: str) -> Any:
        for name in _LATER:
            if isinstance(sys.modules.get(name), _Later):
                del sys.modules[name]
        real = importlib.import_module(self.__name__)
        if self.__name__ == "matplotlib":
            real.use("Agg")
        return getattr(real, attr)


_LATER = ("matplotlib", "matplotlib.pyplot")


def _defer_plotting() -> None:
    modules = {name: _Later(name) for name in _LATER}
    modules["matplotlib"].pyplot = modules["matplotlib.pyplot"]
    sys.modules.update(modules)


def _error(exc: BaseException) -> dict:
    """An exception as data: its class name, message and the student's lines in the traceback."""
    try:
        message = str(exc)
    except Exception:
        message = "(the error's message could not be shown)"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    where = [f"{f.filename}, line {f.lineno}: {(f.line or '').strip()}" for f in frames[-3:]]
    return {"type": type(exc).__name__, "message": message[:_LIMIT_MESSAGE], "where": where}


def _source(text: str) -> str:
    """A cell's code with IPython's magics and shell lines blanked: they do not run in grading."""
    return "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines())


class Subject:
    """The objects the judge holds and the operations it may ask for."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
        self.objects: dict[int, Any] = {}
        self.held: dict[int, tuple[list, list]] = {}
        self.next_id = 1
        self.random_states: dict[int, dict] = {}
        self.failed: dict[int, BaseException] = {}

    # -- cells ---------------------------------------------------------------
    def run_cells(self, cells: list[dict]) -> dict:
        errors = []
        for cell in cells:
            try:
                name, text = f"<cell {cell['index'] + 1}>", _source(cell["source"])
                linecache.cache[name] = (len(text), None, text.splitlines(keepends=True), name)
                code = compile(text, name, "exec")
                exec(code, self.namespace)
            except BaseException as exc:  # a failing cell never stops the definitions after it
                errors.append({"cell": cell["index"] + 1, **_error(exc)})
        return {"errors": errors}

    # -- objects -------------------------------------------------------------
    def resolve(self, target: Any) -> Any:
        if isinstance(target, Handle):
            if target.id in self.failed:
                raise self.failed[target.id]
            return self.objects[target.id]
        if ":" in target:
            module, _, name = target.partition(":")
            value: Any = importlib.import_module(module)
            for part in name.split("."):
                value = getattr(value, part)
            return value
        if target not in self.namespace:
            raise NameError(f"name '{target}' is not defined in your notebook")
        return self.namespace[target]

    def register(self, obj: Any, as_id: int | None = None) -> Handle:
        handle = Handle(self.next_id if as_id is None else as_id)
        if as_id is None:
            self.next_id += 1
        self.objects[handle.id] = obj
        params, grads = getattr(obj, "params", None), getattr(obj, "grads", None)
        if _array_list(params) and _array_list(grads):
            self.held[handle.id] = (list(params), list(grads))
        return handle

    def state(self, handle_id: int) -> dict:
        obj = self.objects[handle_id]
        info: dict[str, Any] = {"class": type(obj).__name__}
        if handle_id in self.held:
            params, grads = self.held[handle_id]
            now = list(getattr(obj, "grads", []) or [])
            info["params"] = list(params)
            info["grads"] = list(grads)
            info["alias"] = _aliases(params)
            same = len(now) == len(grads) and all(a is b for a, b in zip(now, grads, strict=True))
            info["replaced"] = not same
        return info

    def push(self, pushed: dict) -> None:
        for key, values in pushed.items():
            params = self.held[int(key)][0]
            for target, value in zip(params, values, strict=True):
                target[...] = value

    def value(self, result: Any, made: list[int]) -> Any:
        """A result as protocol data; anything else becomes a handle."""
        if result is None or isinstance(result, (bool, int, float, str, numpy.ndarray, numpy.generic)):
            return result
        if isinstance(result, (list, tuple)):
            items = [self.value(v, made) for v in result]
            return tuple(items) if isinstance(result, tuple) else items
        if isinstance(result, dict) and all(isinstance(k, (str, int, float, bool, tuple)) for k in result):
            return {k: self.value(v, made) for k, v in result.items()}
        if hasattr(result, "get") and hasattr(result, "__cuda_array_interface__"):
            return result.get()  # a CuPy array
        handle = self.register(result)
        made.append(handle.id)
        return handle

    def arguments(self, value: Any, arrays: list) -> Any:
        """Handles replaced by their objects; every array passed is remembered, to send back."""
        if isinstance(value, Handle):
            return self.objects[value.id]
        if isinstance(value, numpy.ndarray):
            arrays.append(value)
            return value
        if isinstance(value, list):
            return [self.arguments(v, arrays) for v in value]
        if isinstance(value, tuple):
            return tuple(self.arguments(v, arrays) for v in value)
        if isinstance(value, dict):
            return {k: self.arguments(v, arrays) for k, v in value.items()}
        return value

    # -- requests ------------------------------------------------------------
    def handle(self, request: dict) -> dict | None:
        op = request["op"]
        self.push(request.get("push") or {})
        made: list[int] = []
        touched = [h.id for h in _handles(request)]
        if op == "cells":
            return self.run_cells(request["cells"])
        if op == "lookup":
            try:
                target = self.resolve(request["target"])
            except Exception:
                return {"kind": "missing"}
            kind = "class" if isinstance(target, type) else "function" if callable(target) else "value"
            return {"kind": kind}
        if op == "call":
            arrays: list = []
            target = self.resolve(request["target"])
            if request.get("method"):
                target = getattr(target, request["method"])
            args = self.arguments(request.get("args", []), arrays)
            kwargs = self.arguments(request.get("kwargs", {}), arrays)
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                result = target(*args, **kwargs)
            text = printed.getvalue()
            reply = {"result": self.value(result, made), "arrays": arrays, "printed": text[:_LIMIT_PRINTED]}
        elif op == "get":
            value = getattr(self.resolve(request["target"]), request["attr"])
            if callable(value) and not isinstance(value, (numpy.ndarray, type)):
                reply = {"method": True}
            else:
                reply = {"result": self.value(value, made)}
        elif op == "set":
            setattr(self.resolve(request["target"]), request["attr"], self.arguments(request["value"], []))
            reply = {}
        elif op == "copy":  # no reply: the judge names the copy (a negative id); a failure waits for its use
            from course.gradcheck import float64_copy  # noqa: PLC0415 - the subject's own course tree

            try:
                obj = self.resolve(request["target"])
                twin = float64_copy(obj) if request.get("float64") else copy.deepcopy(obj)
                self.register(twin, as_id=request["as"])
            except BaseException as exc:
                self.failed[request["as"]] = exc
            return None
        elif op == "state":
            self.resolve(request["target"])
            reply = {}
        elif op == "bind":
            self.namespace[request["name"]] = self.resolve(request["target"])
            reply = {}
        elif op == "random":  # no reply: the judge does not wait for it
            if "state" in request:
                self.random_states[request["token"]] = request["state"]
            _set_random_state(self.random_states[request["token"]])
            return None
        elif op == "release":
            for h in request["handles"]:
                self.objects.pop(h, None)
                self.held.pop(h, None)
                self.failed.pop(h, None)
            reply = {}
        else:
            raise ProtocolError(f"unknown operation {op!r}")
        reply["states"] = {str(h): self.state(h) for h in dict.fromkeys(touched + made) if h in self.objects}
        return reply


def _array_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(a, numpy.ndarray) for a in value)


def _aliases(arrays: list) -> list:
    """For each array, the index of an earlier entry that is the same array (tied weights), or None."""
    first: dict[int, int] = {}
    out: list[int | None] = []
    for i, a in enumerate(arrays):
        out.append(first.get(id(a)))
        first.setdefault(id(a), i)
    return out


def _handles(value: Any) -> list[Handle]:
    if isinstance(value, Handle):
        return [value]
    if isinstance(value, (list, tuple)):
        return [h for v in value for h in _handles(v)]
    if isinstance(value, dict):
        return [h for v in value.values() for h in _handles(v)]
    return []


def _set_random_state(state: dict) -> None:
    """The judge's random state, so that the subject draws the same numbers as the reference."""
    from course import backend  # noqa: PLC0415

    python = state["python"]
    random.setstate((python[0], tuple(int(v) for v in python[1]), python[2]))
    numpy.random.set_state(tuple(state["numpy"]))
    generators = {}
    for key, bit_state in state["generators"].items():
        generator = numpy.random.default_rng()
        generator.bit_generator.state = bit_state
        generators[key] = generator
    backend._generators.clear()
    backend._generators.update(generators)
    backend._seed["value"] = state["seed"]


def main() -> int:
    channel = _detach_stdio()
    _defer_plotting()
    subject = Subject()
    while True:
        try:
            request = channel.receive()
        except (EOFError, ProtocolError):
            return 0
        try:
            reply = subject.handle(request)
        except BaseException as exc:  # the student's error is an answer too
            reply = {"error": _error(exc)}
        if reply is not None:
            channel.send(reply)


if __name__ == "__main__":
    sys.exit(main())
