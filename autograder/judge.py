"""The judge: runs one prepared notebook in a fresh Python process and scores its test cells.

It runs inside the sandbox (``python -m autograder.judge --report FD``). The
job comes on stdin as JSON: a secret token and the cells, in order, each
``{"kind": "code" | "test", "source": ..., "grade_id": ...}``; the test cells
are the course's own, restored by the grader. Nothing of the job is written to
disk. Each result goes to the report pipe as one JSON line signed with the
token, so output the student's code prints can never pass for a result.

Why a plain process and not a Jupyter kernel: the student's code cannot reach
the machinery that decides a score (no IPython shell to patch, no
``set_custom_exc``), and the judge defends what the tests rely on:

* before each test cell, every module the tests use (builtins, NumPy, SciPy,
  ``course``, ``autograder``, math, ...) is put back exactly as it was before
  any student code ran, as are the names the course's own cells defined; after
  the cell, anything the student's code changed during the test fails it;
* an audit hook, installed before the first student cell and impossible to
  remove, refuses what a submission never needs: starting processes or
  threads, sockets, ctypes, the garbage collector's object lists, other
  threads' frames, reading process memory, and changing the classes and
  functions of the course, the grader and NumPy.
"""

from __future__ import annotations

import argparse
import builtins
import hashlib
import hmac
import io
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable
from types import CodeType, FunctionType, ModuleType
from typing import Any

TRUSTED = ("builtins", "numpy", "scipy", "course", "autograder", "math", "cmath", "inspect", "warnings")
OUTPUT_LIMIT = 20_000  # characters of a cell's printed output kept for feedback
_BLOCKED = {
    "os.fork": "starting processes",
    "os.forkpty": "starting processes",
    "os.system": "starting processes",
    "os.exec": "starting processes",
    "os.posix_spawn": "starting processes",
    "os.spawn": "starting processes",
    "subprocess.Popen": "starting processes",
    "pty.spawn": "starting processes",
    "_thread.start_new_thread": "starting threads",
    "socket.connect": "network access",
    "socket.bind": "network access",
    "socket.getaddrinfo": "network access",
    "socket.sendto": "network access",
    "socket.__new__": "network access",
    "gc.get_objects": "the garbage collector's object lists",
    "gc.get_referrers": "the garbage collector's object lists",
    "gc.get_referents": "the garbage collector's object lists",
    "sys._current_frames": "other threads' frames",
    "sys.settrace": "tracing the grader",
    "sys.addaudithook": "audit hooks",
}


def _trusted_module(name: str) -> bool:
    return name.split(".")[0] in TRUSTED


def _owned_by_trusted(obj: Any) -> bool:
    module = getattr(obj, "__module__", None)
    return isinstance(module, str) and _trusted_module(module)


def _library_codes() -> frozenset:
    """Every code object of threadpoolctl, which limits BLAS threads through ctypes.

    Found through the garbage collector before any student code runs (methods
    hide behind decorators), then with their nested functions.
    """
    import gc  # noqa: PLC0415

    import threadpoolctl  # noqa: PLC0415

    todo = [
        o.__code__
        for o in gc.get_objects()
        if isinstance(o, FunctionType) and o.__code__.co_filename == threadpoolctl.__file__
    ]
    codes: set[CodeType] = set()
    while todo:
        code = todo.pop()
        if code not in codes:
            codes.add(code)
            todo += [c for c in code.co_consts if isinstance(c, CodeType)]
    return frozenset(codes)


def _library_calls_ctypes(codes: frozenset) -> bool:
    """Is the Python code behind a ctypes event threadpoolctl's own (not look-alike code)?"""
    frame = sys._getframe(2)
    while frame is not None and os.sep + "ctypes" + os.sep in frame.f_code.co_filename:
        frame = frame.f_back
    return frame is not None and frame.f_code in codes


def make_audit_hook() -> tuple[Callable[[str, tuple], None], Callable[[bool], list[str]]]:
    """The hook and a switch that turns enforcement on once student code may run."""
    state: dict[str, Any] = {"on": False, "refused": []}
    library = _library_codes()

    def hook(event: str, args: tuple) -> None:
        if not state["on"]:
            return
        what = _BLOCKED.get(event)
        if what is None and event.startswith("ctypes.") and not _library_calls_ctypes(library):
            what = "ctypes"
        if what is None and event == "open" and isinstance(args[0], str | bytes):
            path = os.fsdecode(args[0])
            if path.startswith("/proc/") and path.endswith(("/mem", "/environ")):
                what = "reading process memory or environment"
        if what is None and event == "object.__setattr__":
            target = args[0]
            if (isinstance(target, type | ModuleType) or callable(target)) and (
                _owned_by_trusted(target)
                or (isinstance(target, ModuleType) and _trusted_module(target.__name__))
            ):
                what = f"changing {getattr(target, '__qualname__', target)!s}"
        if what is not None:
            state["refused"].append(what)
            raise PermissionError(f"The grader does not allow {what} in a submission ({event}).")

    def switch(on: bool) -> list[str]:
        """Turn enforcement on or off; return what was refused since the last switch."""
        state["on"] = on
        refused, state["refused"] = state["refused"], []
        return sorted(set(refused))

    return hook, switch


class Snapshot:
    """The namespaces the tests rely on, as they were before student code ran.

    Module dictionaries and the dictionaries of the classes they define
    (assigning to a class attribute raises no audit event, so it is checked here).
    """

    def __init__(self) -> None:
        self.modules = {
            name: (mod, dict(vars(mod)))
            for name, mod in list(sys.modules.items())
            if isinstance(mod, ModuleType) and _trusted_module(name)
        }
        self.classes = {
            cls: dict(vars(cls))
            for name, (_, saved) in self.modules.items()
            for cls in saved.values()
            if isinstance(cls, type) and cls.__module__ == name and not cls.__flags__ & _IMMUTABLE
        }

    def restore(self) -> list[str]:
        """Put everything back; return what had been changed."""
        changed = []
        for name, (mod, saved) in self.modules.items():
            if sys.modules.get(name) is not mod:
                sys.modules[name] = mod
                changed.append(f"sys.modules[{name!r}]")
            changed += _restore_dict(name, vars(mod), saved)
        for cls, saved in self.classes.items():
            current = vars(cls)
            label = f"{cls.__module__}.{cls.__qualname__}"
            for key in [k for k in current if k not in saved and k not in _CACHES]:
                delattr(cls, key)
                changed.append(f"{label}.{key}")
            for key, value in saved.items():
                if current.get(key, _MISSING) is not value:
                    setattr(cls, key, value)
                    changed.append(f"{label}.{key}")
        return changed


def _restore_dict(name: str, current: dict, saved: dict) -> list[str]:
    changed = []
    for key in [k for k in current if k not in saved]:
        value = current[key]
        if isinstance(value, ModuleType) and value.__name__ == f"{name}.{key}":
            continue  # a submodule imported since: the import system's doing
        del current[key]
        changed.append(f"{name}.{key}")
    for key, value in saved.items():
        if current.get(key, _MISSING) is not value:
            current[key] = value
            changed.append(f"{name}.{key}")
    return changed


_CACHES = {"__slotnames__"}  # filled in by copy and pickle on first use
_IMMUTABLE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE: built-in and extension types cannot be patched
_MISSING = object()


class Capture(io.TextIOBase):
    """A cell's printed output, kept up to OUTPUT_LIMIT characters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = OUTPUT_LIMIT - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(len(text), room)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def value(self) -> str:
        out = "".join(self.parts)
        if self.dropped:
            out += f"\n[... {self.dropped} more characters of output not kept]"
        return out


def _error_text(exc: BaseException) -> tuple[str, str, str]:
    """(name, message, traceback limited to the notebook's own cells)."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:
        message = "(the error's message could not be shown)"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    lines = [f"  {f.filename}, line {f.lineno}: {f.line or ''}" for f in frames[-5:]]
    return name, message[:2000], "\n".join(lines)


def _run_cell(code: Any, namespace: dict) -> tuple[str, tuple[str, str, str] | None]:
    capture = Capture()
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = capture
    error = None
    try:
        exec(code, namespace)
    except BaseException as exc:
        error = _error_text(exc)
    finally:
        sys.stdout, sys.stderr = saved
    return capture.value(), error


def _import_trusted() -> None:
    """Everything the tests use, imported before any student code runs."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import tqdm  # noqa: PLC0415

    tqdm.tqdm.monitor_interval = 0  # no monitor thread: a submission may not start threads
    import numpy  # noqa: PLC0415
    import numpy.testing  # noqa: F401, PLC0415

    import autograder.checks  # noqa: PLC0415
    import autograder.exercises  # noqa: PLC0415
    import course  # noqa: PLC0415
    import course.gradcheck  # noqa: F401, PLC0415

    for name in sorted(
        f"autograder.exercises.{p[:-3]}"
        for p in os.listdir(os.path.dirname(autograder.exercises.__file__))
        if p.startswith("ch") and p.endswith(".py")
    ):
        __import__(name)


def judge(job: dict, report: Callable[[dict], None]) -> None:
    """Run every cell; report one result per cell, then {"done": true}."""
    _import_trusted()
    hook, enforce = make_audit_hook()
    sys.addaudithook(hook)
    snapshot = Snapshot()
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    trusted_names: dict[str, Any] = {}
    for index, cell in enumerate(job["cells"]):
        code_or_error = _compile(cell["source"], index)
        if cell["kind"] == "test":
            changed = snapshot.restore()
            namespace["__builtins__"] = builtins
            namespace.update(trusted_names)
            sys.settrace(None)
            sys.setprofile(None)
        enforce(True)
        if isinstance(code_or_error, tuple):
            output, error = "", code_or_error
        else:
            output, error = _run_cell(code_or_error, namespace)
        refused = enforce(False)
        result: dict[str, Any] = {"index": index, "output": output, "error": error, "refused": refused}
        if cell["kind"] == "test":
            after = snapshot.restore()
            result["grade_id"] = cell.get("grade_id")
            result["tampered"] = sorted(set(after))[:20]
            result["changed_before"] = sorted(set(changed))[:20]
            result["passed"] = error is None and not after
        elif cell.get("trusted"):
            trusted_names.update(
                {k: v for k, v in namespace.items() if isinstance(v, ModuleType) or _owned_by_trusted(v)}
            )
        report(result)
    report({"done": True})


def _compile(source: str, index: int) -> Any:
    try:
        return compile(source, f"<cell {index}>", "exec")
    except SyntaxError as exc:
        return (
            "SyntaxError",
            f"{exc.msg} (line {exc.lineno}); magics (%...) and shell commands (!...) do not run in grading",
            "",
        )


def _signer(token: bytes, fd: int) -> Callable[[dict], None]:
    out = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def report(body: dict) -> None:
        text = json.dumps(body, sort_keys=True)
        mac = hmac.new(token, text.encode(), hashlib.sha256).hexdigest()
        out.write(json.dumps({"body": text, "mac": mac}) + "\n")
        out.flush()

    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=int, required=True, help="file descriptor for the signed results")
    args = parser.parse_args()
    # A flood of output then fails with an error instead of killing the judge.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    job = json.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    token = bytes.fromhex(job.pop("token"))
    judge(job, _signer(token, args.report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
