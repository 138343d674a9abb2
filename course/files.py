"""Files a student keeps, written so that a crash never leaves half of one.

``atomic_write(path, write)`` hands ``write`` a temporary file in the same
folder as ``path``; once it has written everything, the bytes are flushed
and synced to disk and the temporary file replaces ``path`` in one step
(``os.replace``). Whatever happens in between - an exception, a full disk,
a kernel restarted in the middle - ``path`` is either the old file or the
complete new one, and no temporary file stays behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["atomic_copy", "atomic_write", "atomic_write_bytes"]


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable where the system allows it (POSIX; a no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> Path:
    """Write ``path`` through ``write(file)`` so that it is the old file or the whole new one.

    The temporary file is created next to ``path`` (so the final rename stays
    on one file system) with the permissions of the file it replaces, or the
    usual ones for a new file. Returns ``path``.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Cannot save {path.name!r}: the folder {str(folder)!r} does not exist. Create it first "
            "(os.makedirs(folder, exist_ok=True)) or choose another path."
        )
    if path.is_dir():
        raise IsADirectoryError(f"Cannot save to {str(path)!r}: it is a folder; give a file name inside it.")
    tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "xb") as f:  # "x": never reuse an existing file
            write(f)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(OSError):
            shutil.copymode(path, tmp)  # keep the permissions of the file being replaced
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_folder(folder)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_copy(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Copy ``source`` to ``target`` atomically: ``target`` is never half-written."""

    def copy(f: IO[bytes]) -> None:
        with open(source, "rb") as src:
            shutil.copyfileobj(src, f)

    return atomic_write(target, copy)
