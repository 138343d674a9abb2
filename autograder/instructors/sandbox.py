"""Run a student's code in a sandbox: a scratch folder, limits, and a kill that always works.

What a sandboxed process gets, when the grader runs as root with bubblewrap
(``bwrap``, Debian package ``bubblewrap``) installed:

* its own mount namespace: the operating system, Python and the installed
  ``course``/``autograder`` code read-only, ``COURSE_DATA_DIR`` read-only, a
  private ``/tmp``, and one writable folder, the scratch copy of the
  submission. The course directory (source notebooks, gradebook, other
  students' work) is not there at all;
* no network (a network namespace with only loopback), its own PID, IPC and
  UTS namespaces, a new session (no terminal), a clean environment;
* a user id of its own (not root, not the grader's), with limits on address
  space, processes (fork bombs stop there), file size, open files and core
  dumps;
* a wall-clock limit for the whole run; at the limit the whole process tree is
  killed with SIGKILL, which no code can ignore.

Without bubblewrap or without root, :func:`isolation` says what is missing and
the run falls back to the limits and the scratch folder alone.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

try:
    import resource
except ImportError:  # Windows: no rlimits
    resource = None  # type: ignore[assignment]

REPO = Path(__file__).resolve().parents[2]
_PACKAGES = ("course", "autograder", "benchmarks")  # benchmarks/: the analogy questions
# Sandboxed runs take user ids from this range, one per concurrent run, so that
# the process limit of one run never counts another run's processes.
_UID_BASE, _UID_SPAN = 62000, 2000


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run."""

    wall_s: float = 300.0
    memory_mb: int = 3072  # address space per process
    processes: int = 64  # per run (its own user id)
    file_mb: int = 64  # largest file it may write
    open_files: int = 256


@dataclass
class Finished:
    """How a sandboxed run ended."""

    returncode: int
    wall_s: float
    timed_out: bool
    stderr_tail: str


@functools.cache
def bwrap_path() -> str | None:
    """bubblewrap, if installed and able to make namespaces here (containers may forbid it)."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = [path, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--die-with-parent", "true"]
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return path if ok else None


def can_switch_user() -> bool:
    """Inside bubblewrap, as root, a run drops to a user id of its own (setpriv, util-linux).

    Without bubblewrap the run keeps the grader's user id: Python itself may live
    where another user cannot read (a pyenv under /root, say).
    """
    return (
        hasattr(os, "geteuid")
        and os.geteuid() == 0
        and bwrap_path() is not None
        and bool(shutil.which("setpriv"))
    )


def isolation() -> str:
    """One line saying what isolation this machine gives a sandboxed run."""
    parts = ["bubblewrap namespaces" if bwrap_path() else "no bubblewrap (apt-get install bubblewrap)"]
    parts.append(
        "separate user ids" if can_switch_user() else "the grader's own user id (grade as root for more)"
    )
    parts.append("rlimits" if resource is not None else "no rlimits on this system")
    return ", ".join(parts) + ", wall-clock kill"


def _slot_uid() -> int:
    return _UID_BASE + (os.getpid() % _UID_SPAN)


def _read_only_roots() -> list[str]:
    """Folders the sandbox needs to see, read-only: Python and its packages."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.realpath(sys.executable)}
    paths.update(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib"))
    roots: list[str] = []
    for p in sorted(paths, key=len):
        p = os.path.realpath(p)
        if os.path.isfile(p):
            p = os.path.dirname(os.path.dirname(p))  # .../bin/python -> the prefix
        if os.path.exists(p) and not any(p == r or p.startswith(r + os.sep) for r in roots):
            roots.append(p)
    return roots


def _package_files() -> list[str]:
    """The course's own code: the .py and .txt files of course/, autograder/ and benchmarks/.

    The autograder folder is also the default course root; its generated
    folders (submissions, the gradebook) stay out of the sandbox.
    """
    files = []
    for pkg in _PACKAGES:
        for folder, dirs, names in os.walk(REPO / pkg):
            here = Path(folder)
            dirs[:] = sorted(d for d in dirs if not generated((here / d).relative_to(REPO / pkg)))
            files += [str(here / n) for n in sorted(names) if n.endswith((".py", ".txt"))]
    return files


def generated(rel: Path) -> bool:
    """Whether a path under the default course root is a generated folder (not the course's code)."""
    return rel.parts[0] in {
        "release",
        "submitted",
        "autograded",
        "feedback",
        "source",
        "exchange",
        "outbound",
    }


def _parents(path: str) -> list[str]:
    out = []
    p = os.path.dirname(path)
    while p not in ("/", ""):
        out.append(p)
        p = os.path.dirname(p)
    return out[::-1]


def bwrap_command(
    argv: Sequence[str],
    scratch: Path,
    env: dict[str, str],
    uid: int | None,
    code: Sequence[tuple[str, str]] | None = None,
) -> list[str]:
    """The bubblewrap command line that runs argv inside the sandbox.

    ``code`` lists (path here, path inside) of the course's code to show, read-only;
    by default the files of course/, autograder/ and benchmarks/, each where it is.
    """
    cmd = [bwrap_path() or "bwrap", "--die-with-parent", "--new-session"]
    cmd += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    # /proc, /dev and a private /tmp first: binds below may live under /tmp (a checkout there).
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    cmd += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = f"/{link}"
        if os.path.islink(target):
            cmd += ["--symlink", os.readlink(target), target]
        elif os.path.isdir(target):
            cmd += ["--ro-bind", target, target]
    binds = [(p, p) for p in _read_only_roots()]
    binds += [(p, p) for p in _package_files()] if code is None else list(code)
    data = os.environ.get("COURSE_DATA_DIR")
    if data and os.path.isdir(data):
        binds.append((os.path.realpath(data), os.path.realpath(data)))
    made: set[str] = {"/usr", "/etc", "/tmp", "/proc", "/dev"}
    for source, path in binds:
        for parent in _parents(path):
            if parent not in made and not parent.startswith(("/usr/", "/etc/")):
                cmd += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        cmd += ["--ro-bind", source, path]
    for parent in _parents(str(scratch)):
        if parent not in made:
            cmd += ["--perms", "0755", "--dir", parent]
            made.add(parent)
    cmd += ["--bind", str(scratch), str(scratch), "--chdir", str(scratch), "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    if uid is not None:
        cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
    return cmd + list(argv)


def environment(scratch: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment a sandboxed run sees: nothing of the grader's."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch),
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(scratch / ".matplotlib"),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
    }
    if os.environ.get("COURSE_DATA_DIR"):
        env["COURSE_DATA_DIR"] = os.path.realpath(os.environ["COURSE_DATA_DIR"])
    env.update(extra or {})
    return env


def _limit(limits: Limits) -> None:
    """Runs in the child between fork and exec."""
    mb = 1024 * 1024
    wanted = [
        ("RLIMIT_AS", limits.memory_mb * mb),
        ("RLIMIT_FSIZE", limits.file_mb * mb),
        ("RLIMIT_NOFILE", limits.open_files),
        ("RLIMIT_CORE", 0),
        ("RLIMIT_NPROC", limits.processes),
    ]
    for name, value in wanted if resource is not None else []:
        # Some systems (macOS) refuse some limits: keep the others.
        with contextlib.suppress(AttributeError, ValueError, OSError):
            resource.setrlimit(getattr(resource, name), (value, value))
    os.setsid()


def _prepare_scratch(scratch: Path, uid: int | None) -> None:
    (scratch / ".matplotlib").mkdir(exist_ok=True)
    try:  # the grader's font cache, so matplotlib does not rebuild it in every run
        import matplotlib  # noqa: PLC0415

        for cached in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
            shutil.copy2(cached, scratch / ".matplotlib" / cached.name)
    except Exception:
        pass
    if uid is not None:
        for path in [scratch, *scratch.rglob("*")]:
            os.chown(path, uid, uid, follow_symlinks=False)


def start(
    argv: Sequence[str],
    scratch: Path,
    limits: Limits,
    env: dict[str, str] | None = None,
    code: Sequence[tuple[str, str]] | None = None,
    pass_fds: Sequence[int] = (),
    stdout: int | None = None,
) -> tuple[subprocess.Popen, Path]:
    """Start argv in the sandbox with scratch as its only writable folder; stdin is a pipe.

    stdout is a pipe when ``stdout`` is ``subprocess.PIPE``, else the log file;
    stderr always goes to the log file (returned), where a flood of prints hits the
    file-size limit instead of the grader's memory. Stop it with :func:`stop`.
    """
    scratch = Path(scratch).resolve()
    uid = _slot_uid() if can_switch_user() else None
    _prepare_scratch(scratch, uid)
    full_env = environment(scratch, env)
    if bwrap_path() is not None:
        command, proc_env = bwrap_command(argv, scratch, full_env, uid, code), {"PATH": "/usr/bin:/bin"}
    else:
        command, proc_env = list(argv), full_env
    log_path = scratch.parent / f"{scratch.name}.out"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=log if stdout is None else stdout,
            stderr=log,
            cwd=scratch,
            env=proc_env,
            pass_fds=tuple(pass_fds),
            preexec_fn=lambda: _limit(limits),
        )
    return proc, log_path


def stop(proc: subprocess.Popen) -> None:
    """Kill the run's whole process tree and reap it."""
    _kill_tree(proc)
    proc.wait()


def tail(log_path: Path, size: int = 4000) -> str:
    """The last characters a run wrote to its log."""
    if not log_path.exists():
        return ""
    with open(log_path, "rb") as f:
        f.seek(max(0, log_path.stat().st_size - size))
        return f.read().decode("utf-8", "replace")


def run(
    argv: Sequence[str],
    scratch: Path,
    limits: Limits,
    stdin: bytes = b"",
    pass_fds: Sequence[int] = (),
    env: dict[str, str] | None = None,
) -> Finished:
    """Run argv in the sandbox to its end or its wall-clock limit; scratch is its only writable folder."""
    begin = time.monotonic()
    proc, log_path = start(argv, scratch, limits, env, pass_fds=pass_fds)
    timed_out = False
    try:
        proc.communicate(stdin, timeout=limits.wall_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    except BrokenPipeError:
        pass
    finally:
        stop(proc)
    return Finished(proc.returncode, time.monotonic() - begin, timed_out, tail(log_path))


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the run's whole session (its process group, set up by setsid)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
