"""The judge: runs one prepared notebook in a fresh Python process and scores its test cells.

It runs inside the sandbox (``python -m autograder.judge --report FD``). The
job comes on stdin as JSON: a secret token and the cells, in order, each
``{"kind": "code" | "test", "source": ..., "grade_id": ..., "trusted": ...}``;
the test cells are the course's own, restored by the grader. Nothing of the job
is written to disk. Each result goes to the report pipe as one JSON line
signed with the token, so output the student's code prints can never pass for
a result.

Why a plain process and not a Jupyter kernel: the student's code cannot reach
the machinery that decides a score. The judge keeps its own state on the main
thread and runs every cell, tests included, on a thread of its own; a cell's
code cannot see the main thread's frames, and nothing it makes is freed on
the main thread (so none of its code runs there). Between cells the main thread:

* puts back every module the tests and the judge rely on (builtins, NumPy,
  SciPy, ``course``, ``autograder``, json, hmac, ...) and the classes they
  define, exactly as they were before any student code ran; anything a test
  cell changed while it ran fails that test;
* reads the cell's outcome only from the single record the runner leaves.

An audit hook, installed before the first student cell and impossible to
remove, refuses what a submission never needs: starting processes or
threads, sockets, ctypes, the garbage collector's object lists, other threads'
frames, tracing, reading process memory, and changing the functions and
classes of the course, the grader and NumPy. The hook, the runner and the
restoring code keep everything they use in closures made before any student
code runs, so patching a module cannot change what they do.
"""

from __future__ import annotations

import _thread
import argparse
import builtins
import gc
import hashlib
import hmac
import io
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from types import CodeType, FunctionType, ModuleType
from typing import Any

TRUSTED = frozenset(
    {"builtins", "numpy", "scipy", "course", "autograder", "math", "cmath", "inspect", "warnings"}
    | {"json", "hmac", "hashlib", "io", "traceback", "linecache", "threading", "copy", "copyreg", "__main__"}
)
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
    "sys.settrace": "tracing",
    "sys.addaudithook": "audit hooks",
}
_CACHES = frozenset({"__slotnames__"})  # filled in by copy and pickle on first use
_IMMUTABLE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE: built-in and extension types cannot be patched


def _trusted_module(name: Any) -> bool:
    return type(name) is str and name.split(".")[0] in TRUSTED


def _library_codes() -> frozenset:
    """Every code object of threadpoolctl, which limits BLAS threads through ctypes.

    Found through the garbage collector before any student code runs (methods
    hide behind decorators), then with their nested functions.
    """
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


def make_audit_hook(main_thread: int) -> tuple[Callable[[str, tuple], None], Callable[[bool], list[str]]]:
    """The hook and a switch that turns enforcement on while student code may run.

    Everything the hook uses is bound here, before any student code runs.
    """
    state: dict[str, Any] = {"on": False, "refused": []}
    blocked = dict(_BLOCKED)
    library = _library_codes()
    trusted = TRUSTED
    get_ident, getframe, fsdecode = _thread.get_ident, sys._getframe, os.fsdecode
    isinstance_, getattr_, callable_, type_, str_, bytes_ = isinstance, getattr, callable, type, str, bytes
    module_type, permission_error, sep, sorted_, set_ = ModuleType, PermissionError, os.sep, sorted, set

    def from_trusted(obj: Any) -> bool:
        if isinstance_(obj, module_type):
            name = getattr_(obj, "__name__", None)
        else:
            name = getattr_(obj, "__module__", None)
        return type_(name) is str_ and name.split(".")[0] in trusted

    def library_calls_ctypes() -> bool:
        frame = getframe(3)  # hook <- check <- the ctypes call
        while frame is not None and sep + "ctypes" + sep in frame.f_code.co_filename:
            frame = frame.f_back
        return frame is not None and frame.f_code in library

    def check(event: str, args: tuple) -> None:
        what = blocked.get(event)
        if event == "_thread.start_new_thread" and get_ident() == main_thread:
            what = None  # the judge starts the runner threads
        if what is None and event.startswith("ctypes.") and not library_calls_ctypes():
            what = "ctypes"
        if what is None and event == "open" and isinstance_(args[0], str_ | bytes_):
            path = fsdecode(args[0])
            if path.startswith("/proc/") and path.endswith(("/mem", "/environ")):
                what = "reading process memory or environment"
        if what is None and event == "object.__setattr__":
            target = args[0]
            if (isinstance_(target, type_ | module_type) or callable_(target)) and from_trusted(target):
                what = "changing " + str_(getattr_(target, "__qualname__", "the grader's code"))
        if what is not None:
            state["refused"].append(what)
            raise permission_error(f"The grader does not allow {what} in a submission ({event}).")

    def hook(event: str, args: tuple) -> None:
        if state["on"] and not state.get("busy"):
            state["busy"] = True  # the hook's own calls (sys._getframe) are not checked
            try:
                check(event, args)
            finally:
                state["busy"] = False

    def switch(on: bool) -> list[str]:
        """Turn enforcement on or off; return what was refused since the last switch."""
        state["on"] = on
        refused, state["refused"] = state["refused"], []
        return sorted_(set_(refused))

    return hook, switch


def make_restorer() -> Callable[[list], list[str]]:
    """Snapshot the trusted modules and their classes now; return a function that puts them back.

    The function returns what had been changed. It looks only at exact str
    names and compares values by identity, so nothing a notebook made runs
    inside it; what it replaces goes to the graveyard list, never freed here.
    """
    list_, type_, str_, len_, any_, sorted_, set_ = list, type, str, len, any, sorted, set
    setattr_, delattr_, module_type, caches = setattr, delattr, ModuleType, _CACHES
    modules_dict = sys.modules
    modules = [
        (name, mod, dict(vars(mod)))
        for name, mod in list(sys.modules.items())
        if isinstance(mod, ModuleType) and _trusted_module(name)
    ]
    classes = [
        (f"{cls.__module__}.{cls.__qualname__}", cls, dict(vars(cls)))
        for name, _, saved in modules
        for cls in saved.values()
        if isinstance(cls, type) and cls.__module__ == name and not cls.__flags__ & _IMMUTABLE
    ]

    def restore_module(name: str, current: dict, saved: dict, submodules: dict, changed: list) -> None:
        items = list_(current.items())
        if any_(type_(k) is not str_ for k, _ in items):  # odd keys: start again from the snapshot
            current.clear()
            current.update(saved)
            changed.append(name + ".(a name that is not text)")
            return
        present = {k for k, _ in items}
        for key, value in items:
            if key in saved:
                if saved[key] is not value:
                    current[key] = saved[key]
                    changed.append(name + "." + key)
            elif submodules.get(name + "." + key) is not value:  # a submodule imported since is fine
                del current[key]
                changed.append(name + "." + key)
        for key, value in saved.items():
            if key not in present:
                current[key] = value
                changed.append(name + "." + key)

    def restore(graveyard: list) -> list[str]:
        changed: list[str] = []
        entries = list_(modules_dict.items())
        graveyard.append(entries)
        submodules = {n: m for n, m in entries if type_(n) is str_ and type_(m) is module_type}
        for name, mod, saved in modules:
            if submodules.get(name) is not mod:
                modules_dict[name] = mod
                changed.append("sys.modules[" + name + "]")
            current = mod.__dict__
            graveyard.append(list_(current.items()))
            restore_module(name, current, saved, submodules, changed)
        for label, cls, saved in classes:
            items = list_(cls.__dict__.items())
            graveyard.append(items)
            if any_(type_(k) is not str_ for k, _ in items):
                changed.append(label + ".(a name that is not text)")
                continue
            present = {k for k, _ in items}
            for key, value in items:
                if key not in saved and key not in caches:
                    delattr_(cls, key)
                    changed.append(label + "." + key)
                elif key in saved and saved[key] is not value:
                    setattr_(cls, key, saved[key])
                    changed.append(label + "." + key)
            for key, value in saved.items():
                if key not in present:
                    setattr_(cls, key, value)
                    changed.append(label + "." + key)
        return sorted_(set_(changed)) if len_(changed) else []

    return restore


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


def _error_text(exc: BaseException) -> list[str]:
    """[name, message, traceback limited to the notebook's own cells]."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:
        message = "(the error's message could not be shown)"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    lines = [f"  {f.filename}, line {f.lineno}: {f.line or ''}" for f in frames[-5:]]
    return [name, message[:2000], "\n".join(lines)]


def trusted_names(namespace: dict) -> dict:
    """Names a course cell defined that refer to modules or the course's own objects."""
    return {
        k: v
        for k, v in list(namespace.items())
        if type(k) is str
        and (
            type(v) is ModuleType
            or _trusted_module(getattr(type(v), "__module__", None))
            or _trusted_module(getattr(v, "__module__", None) if isinstance(v, type | FunctionType) else None)
        )
    }


def make_runner() -> Callable[..., None]:
    """The function each cell runs in, on its own thread; bound now, so patching cannot change it.

    It leaves exactly one record in ``box`` as its very last act, after every
    object the cell freed has been finalised: (sentinel, failed, texts).
    """
    exec_, base_exception, join, list_, type_, str_, map_ = exec, BaseException, "".join, list, type, str, map
    collect, collection_off, sys_, the_builtins = gc.collect, gc.disable, sys, builtins
    capture_type, error_text, find_names = Capture, _error_text, trusted_names

    def text(value: Any) -> str:
        try:
            return join([value]) if type_(value) is str_ else join(list_(map_(str_, [value])))
        except base_exception:
            return "(not shown)"

    def runner(
        code: Any, namespace: dict, extra: dict | None, names: bool, box: list, sentinel: object, done: Any
    ) -> None:
        failed, texts, found = True, ["", "Error", "the judge could not run this cell", ""], None
        try:
            capture = capture_type()
            saved = sys_.stdout, sys_.stderr
            sys_.stdout = sys_.stderr = capture
            try:
                if extra is not None:
                    namespace["__builtins__"] = the_builtins
                    namespace.update(extra)
                exec_(code, namespace)
                failed, error = False, None
            except base_exception as exc:  # SystemExit and KeyboardInterrupt are the student's too
                failed, error = True, error_text(exc)
            finally:
                sys_.stdout, sys_.stderr = saved
            texts = [text(capture.value())] + ([text(t) for t in error] if error else [])
            del capture, error
            if names and not failed:
                found = find_names(namespace)
        except base_exception:
            pass
        # Finalise the cell's cyclic garbage here, on this thread. Automatic
        # collection is off; the young generations hold everything made since the
        # last cell, and older objects that die later are simply never finalised.
        collect(1)
        collection_off()  # a cell may have switched it on: it stays off on the judge's thread
        box.append((sentinel, failed is True, texts, found))
        done.release()

    return runner


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
    gc.disable()  # cyclic garbage is collected on the runner threads, never here
    hook, enforce = make_audit_hook(_thread.get_ident())
    restore = make_restorer()
    runner = make_runner()
    # What this thread uses while a cell may still be running: bound before any cell runs.
    start, new_lock, threads, sleep = (
        _thread.start_new_thread,
        _thread.allocate_lock,
        _thread._count,
        time.sleep,
    )
    sys.addaudithook(hook)
    graveyard: list = []  # nothing a notebook made is ever freed on this thread
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    names: dict[str, Any] = {}
    report({"ready": True})  # the grader works; from here on, what happens is the notebook's doing
    for index, cell in enumerate(job["cells"]):
        is_test = cell["kind"] == "test"
        code = _compile(cell["source"], index)
        box: list = []
        sentinel, done, before = object(), new_lock(), threads()
        done.acquire()
        enforce(True)
        if isinstance(code, CodeType):
            wanted = bool(cell.get("trusted")) and not is_test
            start(runner, (code, namespace, dict(names) if is_test else None, wanted, box, sentinel, done))
            done.acquire()
            while threads() > before:  # until the cell's thread has really ended
                sleep(0.001)
        refused = enforce(False)
        changed = restore(graveyard)
        graveyard.append(box)
        result, found = _result(index, code, box, sentinel, refused)
        if is_test:
            result["grade_id"] = cell.get("grade_id")
            result["tampered"] = changed[:20]
            result["passed"] = result["error"] is None and not changed and not result.get("forged")
        else:
            result["changed"] = changed[:20]
            if found is not None and not changed:
                names = found
        report(result)
    report({"done": True})


def _result(
    index: int, code: Any, box: list, sentinel: object, refused: list[str]
) -> tuple[dict, dict | None]:
    """The cell's result from the runner's one record; anything else is a forgery."""
    if not isinstance(code, CodeType):  # did not compile: (name, message, where)
        return {"index": index, "output": "", "error": list(code), "refused": refused}, None
    record = box[0] if len(box) == 1 else None
    if type(record) is not tuple or len(record) != 4 or record[0] is not sentinel:
        error = ["Error", "the cell interfered with the judge's record of it", ""]
        return {"index": index, "output": "", "error": error, "refused": refused, "forged": True}, None
    _, failed, texts, found = record
    if type(texts) is not list or not all(type(t) is str for t in texts) or len(texts) not in (1, 4):
        error = ["Error", "the cell interfered with the judge's record of it", ""]
        return {"index": index, "output": "", "error": error, "refused": refused, "forged": True}, None
    names = {k: v for k, v in found.items() if type(k) is str} if type(found) is dict else None
    error = texts[1:4] if failed is True else None
    return {"index": index, "output": texts[0], "error": error, "refused": refused}, names


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
    os._exit(0)  # no exit handlers, no finalizers: nothing of the notebook's runs after the results


if __name__ == "__main__":
    sys.exit(main())
