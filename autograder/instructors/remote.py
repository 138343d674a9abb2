"""The judge's side of a subject: start it in the sandbox, ask it questions, get data back.

A :class:`Subject` is one sandboxed process holding a student's definitions
(see :mod:`autograder.instructors.subject`). On this side its classes, functions and
objects are proxies that behave like the real thing for the course's tests:
``Affine = subject.lookup("Affine")`` is callable, ``layer = Affine(W, b)``
has ``params`` and ``grads`` (arrays of this process, kept in step with the
subject's) and ``layer.forward(x)`` returns an array. So
:func:`course.gradcheck.check_layer` and the hidden tests run here unchanged,
while every computation of the student's runs there.

What comes back is data only, decoded by :mod:`autograder.instructors.protocol`; each
request has a time limit, and a subject that dies, hangs, lies about its
framing or floods its output fails the test that asked, with a message,
and nothing else.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import re
import select
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any

import numpy

from autograder.instructors import sandbox, stubs
from autograder.instructors.protocol import Handle, ProtocolError, decode, encode, frame_length
from course import backend

AUTOGRADER_DIR = Path(__file__).resolve().parents[1]
# All of the grader a subject sees: the package markers, the wire format and the subject's own loop.
_SUBJECT_FILES = (
    "__init__.py",
    "instructors/__init__.py",
    "instructors/protocol.py",
    "instructors/subject.py",
)
_BUILTIN_ERRORS = {
    name: value
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, Exception) and not issubclass(value, OSError)
}


class SubjectError(RuntimeError):
    """The subject did not answer with data: it died, hung or broke the protocol."""


class StudentError(Exception):
    """An error the student's code raised that is not one of Python's own."""


def _raise(error: Any) -> None:
    """Raise the student's exception here, as data: its class name and message only."""
    if not isinstance(error, dict):
        raise SubjectError("the subject answered with an error that is not data")
    name, message = str(error.get("type", "Error"))[:100], str(error.get("message", ""))[:2000]
    where = error.get("where") if isinstance(error.get("where"), list) else []
    if not message and name == "NotImplementedError":
        message = "this part of your answer is not written yet"
    text = message + (f" (at {str(where[-1])[:200]})" if where else "")
    cls = _BUILTIN_ERRORS.get(name)
    if cls is not None:
        raise cls(text)
    raise StudentError(f"{name}: {text}")


class Subject:
    """One sandboxed process with a student's definitions, for one exercise.

    ``stub`` names the course's answers that do not exist in it (``module:Name``);
    ``cells`` are the code cells it runs first, as ``{"index": i, "source": text}``.
    """

    def __init__(
        self,
        cells: list[dict],
        stub: tuple[str, ...],
        limits: sandbox.Limits,
        call_timeout: float = 60.0,
        cells_timeout: float | None = None,
    ) -> None:
        self.limits = limits
        self.call_timeout = call_timeout
        self.deadline = time.monotonic() + limits.wall_s
        self.proxies: weakref.WeakValueDictionary[int, RemoteObject] = weakref.WeakValueDictionary()
        self.methods: set[tuple[int, str]] = set()
        self.sent_states: dict[int, int] = {}
        self.copies = 0
        self.sent_states_keep: dict[int, dict] = {}
        self.dead = ""
        self._tmp = tempfile.TemporaryDirectory(prefix="course-subject-")
        scratch = Path(self._tmp.name) / "work"
        scratch.mkdir()
        code = [(str(stubs.tree(stub)), str(stubs.COURSE_DIR))]
        code += [(str(AUTOGRADER_DIR / f), str(AUTOGRADER_DIR / f)) for f in _SUBJECT_FILES]
        self.proc, self.log = sandbox.start(
            [sys.executable, "-m", "autograder.instructors.subject"],
            scratch,
            limits,
            env={"COURSE_FAST": "1"},
            code=code,
            stdout=subprocess.PIPE,
        )
        self._unfollow = backend.follow_random_state(self._follow)
        self.cell_errors: list[dict] = []
        self.sources = {c["index"] + 1: c["source"] for c in cells}
        reply = self.request({"op": "cells", "cells": cells}, timeout=cells_timeout or limits.wall_s)
        errors = reply.get("errors")
        self.cell_errors = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []

    # -- the channel ---------------------------------------------------------
    def request(self, message: dict, timeout: float | None = None) -> dict:
        """Send one request; the reply as a dict, or SubjectError / the student's exception."""
        if self.dead:
            raise SubjectError(self.dead)
        message.setdefault("push", self._push(message))
        limit = min(timeout or self.call_timeout, self.deadline - time.monotonic())
        try:
            self.proc.stdin.write(encode(message))
            self.proc.stdin.flush()
            body = self._read(self._read(8, limit, header=True), limit)
            reply = decode(body)
        except (OSError, ValueError, ProtocolError, TimeoutError, EOFError) as exc:
            self._die(self._why(exc))
            raise SubjectError(self.dead) from None
        if not isinstance(reply, dict):
            self._die("the subject answered with something that is not a reply")
            raise SubjectError(self.dead)
        if "error" in reply:
            _raise(reply["error"])
        self._states(reply.get("states"))
        return reply

    def _read(self, size: bytes | int, limit: float, header: bool = False) -> bytes:
        n = frame_length(size) if isinstance(size, bytes) else size
        end = time.monotonic() + max(limit, 0.0)
        fd = self.proc.stdout.fileno()
        chunks, left = [], n
        while left:
            wait = end - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _why(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return "your code did not answer in time (it ran past the time limit)"
        if isinstance(exc, ProtocolError):
            return f"the grader received something that is not data from your code's process ({exc})"
        self.proc.poll()
        time.sleep(0.05)
        code = self.proc.poll()
        last = sandbox.tail(self.log, 600).strip().splitlines()
        hint = f": {last[-1][:200]}" if last else ""
        if "MemoryError" in hint or "Cannot allocate" in hint:
            return f"your code ran out of memory ({self.limits.memory_mb} MB){hint}"
        return f"your code's process ended (exit code {code}){hint}"

    def _die(self, why: str) -> None:
        self.dead = why
        self.close()

    def close(self) -> None:
        """Stop the subject; every later request fails."""
        if self._unfollow is not None:
            self._unfollow()
            self._unfollow = None
        if self.proc.poll() is None or self.proc.returncode is None:
            sandbox.stop(self.proc)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        self.dead = self.dead or "the subject was closed"
        self._tmp.cleanup()

    def __enter__(self) -> Subject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the judge asks for --------------------------------------------
    def lookup(self, name: str) -> Any:
        """The student's definition called ``name``, as a proxy (or AssertionError if missing)."""
        kind = self.request({"op": "lookup", "target": name}).get("kind")
        if kind == "class":
            return RemoteClass(self, name)
        if kind == "function":
            return RemoteFunction(self, name)
        raise AssertionError(self.missing(name))

    def course(self, qualified: str) -> Any:
        """A definition of the course inside the subject (``"course.models.rnnlm:SimpleRnnlm"``)."""
        kind = self.request({"op": "lookup", "target": qualified}).get("kind")
        return RemoteClass(self, qualified) if kind == "class" else RemoteFunction(self, qualified)

    def missing(self, name: str) -> str:
        """Why ``name`` is not there: the error of the cell that defines it (or of the first that failed)."""
        errors = [e for e in self.cell_errors if isinstance(e.get("type"), str)]
        defines = re.compile(rf"^\s*(class|def)\s+{re.escape(name)}\b|^\s*{re.escape(name)}\s*=", re.M)
        own = [
            e
            for e in errors
            if type(e.get("cell")) is int and defines.search(self.sources.get(e["cell"], ""))
        ]
        if own or errors:
            first = (own or errors)[0]
            return (
                f"{name} is not defined: your code cell {first.get('cell', '?')} failed with "
                f"{first['type']}: {str(first.get('message', ''))[:300]}"
            )
        return f"{name} is not defined in your notebook: keep the name the exercise gives."

    def _states(self, states: Any) -> None:
        if not isinstance(states, dict):
            return
        for key, state in states.items():
            proxy = self.proxies.get(int(key)) if key.lstrip("-").isdigit() else None
            if proxy is not None and isinstance(state, dict):
                proxy._receive(state)

    def _follow(self, snap: dict) -> None:
        """Keep the subject's random state equal to the judge's (see backend.follow_random_state).

        A state is sent whole once, then named by number; no reply is awaited.
        """
        if self.dead:
            return
        token = self.sent_states.get(id(snap))
        message: dict[str, Any] = {"op": "random", "token": token}
        if token is None or self.sent_states_keep.get(token) is not snap:
            token = len(self.sent_states_keep)
            self.sent_states[id(snap)] = token
            self.sent_states_keep[token] = snap  # alive, so its id is not reused
            message = {"op": "random", "token": token, "state": random_state(snap)}
        self.tell(message)

    def tell(self, message: dict) -> None:
        """Send a message the subject does not answer (the next request's reply says if it failed)."""
        if self.dead:
            raise SubjectError(self.dead)
        message.setdefault("push", self._push(message))
        try:
            self.proc.stdin.write(encode(message))
        except (OSError, ValueError):
            self._die(self._why(EOFError()))
            raise SubjectError(self.dead) from None

    def wrap(self, value: Any, states: Any) -> Any:
        """A reply's value with handles turned into proxies."""
        if isinstance(value, Handle):
            state = states.get(str(value.id)) if isinstance(states, dict) else None
            name = state.get("class") if isinstance(state, dict) else "object"
            proxy = _proxy_type(str(name))(self, value.id)
            if isinstance(state, dict):
                proxy._receive(state)
            return proxy
        if isinstance(value, list):
            return [self.wrap(v, states) for v in value]
        if isinstance(value, tuple):
            return tuple(self.wrap(v, states) for v in value)
        if isinstance(value, dict):
            return {k: self.wrap(v, states) for k, v in value.items()}
        return value

    def call(self, target: Any, method: str | None, args: tuple, kwargs: dict) -> Any:
        """Call target(.method) with args; arrays passed are updated in place as the subject left them."""
        arrays: list[numpy.ndarray] = []
        message = {
            "op": "call",
            "target": target,
            "method": method,
            "args": _outgoing(args, arrays),
            "kwargs": _outgoing(kwargs, arrays),
        }
        reply = self.request(message)
        back = reply.get("arrays")
        if not isinstance(back, list) or len(back) != len(arrays):
            raise SubjectError("the subject did not send back the arrays it was given")
        for mine, theirs in zip(arrays, back, strict=True):
            _write_back(mine, theirs, "an argument")
        printed = reply.get("printed")
        if isinstance(printed, str) and printed:
            sys.stdout.write(printed[:20_000])  # what the student's call printed, where a check can see it
        return self.wrap(reply.get("result"), reply.get("states"))

    def _push(self, message: dict) -> dict:
        """Parameters the judge changed here since the subject last sent them (a gradient check's nudges)."""
        pushed = {}
        for handle in _handles(message):
            proxy = self.proxies.get(handle.id)
            if proxy is not None and proxy._params is not None and proxy._changed():
                pushed[str(handle.id)] = list(proxy._params)
        return pushed


def _outgoing(value: Any, arrays: list) -> Any:
    """Arguments as protocol data: proxies as handles, arrays to host memory, remembered."""
    if isinstance(value, RemoteObject):
        return Handle(value._handle)
    if isinstance(value, (RemoteClass, RemoteFunction)):
        return value._target
    if isinstance(value, numpy.ndarray):
        arrays.append(value)
        return value
    if backend.is_array(value):
        raise TypeError("the judge sends host arrays only")
    if isinstance(value, list):
        return [_outgoing(v, arrays) for v in value]
    if isinstance(value, tuple):
        return tuple(_outgoing(v, arrays) for v in value)
    if isinstance(value, dict):
        return {k: _outgoing(v, arrays) for k, v in value.items()}
    if isinstance(value, numpy.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot send a {type(value).__name__} to the subject")


def _handles(value: Any) -> list[Handle]:
    if isinstance(value, Handle):
        return [value]
    if isinstance(value, RemoteObject):
        return [Handle(value._handle)]
    if isinstance(value, (list, tuple)):
        return [h for v in value for h in _handles(v)]
    if isinstance(value, dict):
        return [h for v in value.values() for h in _handles(v)]
    return []


def _write_back(mine: numpy.ndarray, theirs: Any, what: str) -> None:
    if not isinstance(theirs, numpy.ndarray) or theirs.shape != mine.shape:
        raise SubjectError(
            f"{what} came back with shape {getattr(theirs, 'shape', None)}, not {mine.shape}: "
            "change arrays in place, keeping their shape"
        )
    mine[...] = theirs


class RemoteClass:
    """A class of the subject's: calling it builds an object there and returns its proxy."""

    def __init__(self, subject: Subject, target: str) -> None:
        self._subject, self._target = subject, target
        self.__name__ = target.rpartition(":")[2]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._subject.call(self._target, None, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        reply = self._subject.request({"op": "get", "target": self._target, "attr": name})
        if reply.get("method"):
            return lambda *a, **k: self._subject.call(self._target, name, a, k)
        return self._subject.wrap(reply.get("result"), reply.get("states"))

    def __repr__(self) -> str:
        return f"<the student's {self.__name__}>"


class RemoteFunction(RemoteClass):
    """A function of the subject's: calling it runs it there."""


_TYPES: dict[str, type] = {}


def _proxy_type(name: str) -> type:
    """A proxy class named like the student's class, so that reports name it."""
    safe = name if name.isidentifier() else "RemoteObject"
    if safe not in _TYPES:
        _TYPES[safe] = type(safe, (RemoteObject,), {"__slots__": ()})
    return _TYPES[safe]


class RemoteObject:
    """An object of the subject's, with the layer contract on this side.

    ``params`` and ``grads`` are arrays of the judge's, refreshed in place from
    every reply; changes the judge makes to ``params`` are sent before the next
    request. Attribute reads and writes and method calls go to the subject.
    Copying (``copy.deepcopy``, as the gradient checker does) copies it there,
    with floating arrays in float64.
    """

    __slots__ = ("__weakref__", "_grads", "_handle", "_params", "_replaced", "_sent", "_subject")

    def __init__(self, subject: Subject, handle: int) -> None:
        object.__setattr__(self, "_subject", subject)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_params", None)
        object.__setattr__(self, "_grads", None)
        object.__setattr__(self, "_sent", None)
        object.__setattr__(self, "_replaced", False)
        subject.proxies[handle] = self

    def _receive(self, state: dict) -> None:
        params, grads = state.get("params"), state.get("grads")
        if not (isinstance(params, list) and isinstance(grads, list)):
            return
        if not all(isinstance(a, numpy.ndarray) for a in params + grads):
            raise SubjectError("the subject sent params or grads that are not arrays")
        if self._params is None:
            alias = state.get("alias") if isinstance(state.get("alias"), list) else []
            local = [p.copy() for p in params]
            for i, j in enumerate(alias[: len(local)]):
                if isinstance(j, int) and 0 <= j < i and local[j].shape == local[i].shape:
                    local[i] = local[j]  # tied weights stay one array here too
            object.__setattr__(self, "_params", local)
            object.__setattr__(self, "_grads", [g.copy() for g in grads])
        else:
            if len(params) != len(self._params) or len(grads) != len(self._grads):
                raise SubjectError("the number of params or grads changed after the object was built")
            for mine, theirs in zip(self._params, params, strict=True):
                _write_back(mine, theirs, "params")
            for mine, theirs in zip(self._grads, grads, strict=True):
                _write_back(mine, theirs, "grads")
        object.__setattr__(self, "_sent", [p.copy() for p in self._params])
        object.__setattr__(self, "_replaced", bool(state.get("replaced")))

    def _changed(self) -> bool:
        return self._sent is None or any(
            not numpy.array_equal(a, b) for a, b in zip(self._params, self._sent, strict=True)
        )

    def _state(self) -> None:
        if self._params is None:
            self._subject.request({"op": "state", "target": Handle(self._handle)})

    @property
    def params(self) -> list:
        self._state()
        if self._params is None:
            raise AttributeError(f"{type(self).__name__} has no params list of arrays")
        return self._params

    @property
    def grads(self) -> list:
        self._state()
        if self._grads is None:
            raise AttributeError(f"{type(self).__name__} has no grads list of arrays")
        return self._grads

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("params", "grads"):  # those two are kept here, in step
            raise AttributeError(name)
        subject = self._subject
        key = (self._handle, name)
        if key not in subject.methods:
            reply = subject.request({"op": "get", "target": Handle(self._handle), "attr": name})
            if not reply.get("method"):
                return subject.wrap(reply.get("result"), reply.get("states"))
            subject.methods.add(key)
        return lambda *a, **k: subject.call(Handle(self._handle), name, a, k)

    def __setattr__(self, name: str, value: Any) -> None:
        self._subject.request(
            {"op": "set", "target": Handle(self._handle), "attr": name, "value": _outgoing(value, [])}
        )

    def __deepcopy__(self, memo: dict) -> RemoteObject:
        subject = self._subject
        subject.copies -= 1  # the judge names copies with negative numbers: no round trip
        subject.tell({"op": "copy", "target": Handle(self._handle), "float64": True, "as": subject.copies})
        return type(self)(subject, subject.copies)

    def __repr__(self) -> str:
        return f"<the student's {type(self).__name__} object>"


def random_state(snap: dict) -> dict:
    """The random states of a ``backend.rng_snapshot()`` as plain data."""
    python = snap["python"]
    legacy = snap["numpy"]
    return {
        "python": [python[0], numpy.array(python[1], dtype=numpy.uint64), python[2]],
        "numpy": tuple(legacy),
        "generators": {k: g.bit_generator.state for k, g in snap["generators"].items() if k == "numpy"},
        "seed": snap["seed"],
    }


def replaced_grads(layer: Any) -> bool:
    """Whether the student's layer replaced arrays of its ``grads`` list (an optimizer would not see them)."""
    return isinstance(layer, RemoteObject) and layer._replaced


def of(thing: Any) -> Subject | None:
    """The subject a proxy lives in; None for the course's own (local) objects."""
    if isinstance(thing, (RemoteClass, RemoteObject)):
        return thing._subject
    return None
