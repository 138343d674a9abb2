"""Bounded input: how big a submitted notebook may be, and how much of its output is kept.

A submission is untrusted: it may be a zip bomb's worth of JSON, nested a
million levels deep, hold a hundred thousand cells or carry megabytes of
stored output. :func:`read_notebook` refuses such a file before (size) or
while (depth, cells) parsing it, with a reason a person can read;
:func:`cap_outputs` cuts stored outputs per cell and in total before a graded
notebook or its feedback is written.

The size limit is set here once (``MAX_NOTEBOOK_BYTES``) and can be changed
for a run with the environment variable ``COURSE_MAX_NOTEBOOK_MB``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import nbformat
import numpy as np

MAX_NOTEBOOK_BYTES = 20_000_000  # one notebook, as stored
MAX_DEPTH = 100  # nesting of JSON arrays and objects
MAX_CELLS = 2000
LIMIT_VARIABLE = "COURSE_MAX_NOTEBOOK_MB"


class RefusedError(ValueError):
    """A notebook that is not read; ``status`` is the outcome to record ("too-large" or "invalid")."""

    status = "invalid"


class TooLargeError(RefusedError):
    status = "too-large"


def notebook_limit() -> int:
    """The size limit of one notebook in bytes: ``COURSE_MAX_NOTEBOOK_MB`` if set, else the default."""
    value = os.environ.get(LIMIT_VARIABLE, "").strip()
    if not value:
        return MAX_NOTEBOOK_BYTES
    try:
        megabytes = float(value)
    except ValueError:
        raise ValueError(f"{LIMIT_VARIABLE}={value!r} is not a number of megabytes") from None
    if megabytes <= 0:
        raise ValueError(f"{LIMIT_VARIABLE}={value!r} must be above zero")
    return int(megabytes * 1_000_000)


def human(size: float) -> str:
    """A size for people: 512 B, 100 kB, 7.9 MB, 1.2 GB (decimal units)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{int(size)} B"


def check_size(size: int, limit: int, name: str) -> None:
    """Raise TooLargeError when ``size`` bytes are over ``limit``."""
    if size > limit:
        raise TooLargeError(f"{name} is {human(size)}, over the {human(limit)} limit for a notebook")


def json_depth(data: bytes, chunk: int = 1 << 20) -> int:
    """How deeply arrays and objects nest in a JSON text, without parsing it (brackets in strings skipped).

    Exact for valid JSON; for anything else a number json.loads will refuse anyway.
    Reads ``chunk`` bytes at a time, so memory stays small whatever the text.
    """
    depth = deepest = 0
    inside = False  # within a string at the chunk's start
    run = 0  # backslashes ending the previous chunk
    for begin in range(0, len(data), chunk):
        c = np.frombuffer(data, np.uint8, count=min(chunk, len(data) - begin), offset=begin)
        quotes = np.flatnonzero(c == ord('"'))
        slashes = np.flatnonzero(c == ord("\\"))
        if quotes.size and (slashes.size or run):
            # a quote right after an odd run of backslashes is escaped
            breaks = np.flatnonzero(np.diff(slashes) != 1)
            starts = np.r_[slashes[:1], slashes[breaks + 1]]
            ends = np.r_[slashes[breaks], slashes[-1:]]
            lengths = ends - starts + 1
            if run and starts.size and starts[0] == 0:
                lengths[0] += run
            after = ends[lengths % 2 == 1] + 1
            escaped = after[after < c.size]
            escaped = escaped[c[escaped] == ord('"')]
            if run % 2 and c[0] == ord('"') and not (slashes.size and slashes[0] == 0):
                escaped = np.r_[0, escaped]
            quotes = np.setdiff1d(quotes, escaped, assume_unique=True)
        if slashes.size and slashes[-1] == c.size - 1:
            other = np.flatnonzero(c != ord("\\"))
            start = int(other[-1]) + 1 if other.size else 0
            run = c.size - start + (run if start == 0 else 0)
        else:
            run = 0
        brackets = np.flatnonzero((c == ord("[")) | (c == ord("{")) | (c == ord("]")) | (c == ord("}")))
        outside = brackets[(np.searchsorted(quotes, brackets) + inside) % 2 == 0]
        if outside.size:
            steps = np.where((c[outside] == ord("[")) | (c[outside] == ord("{")), 1, -1)
            levels = np.cumsum(steps) + depth
            deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
        inside ^= bool(quotes.size % 2)
    return deepest


def loads(
    data: bytes | str,
    name: str = "the notebook",
    *,
    max_depth: int = MAX_DEPTH,
    max_cells: int = MAX_CELLS,
) -> nbformat.NotebookNode:
    """Parse an untrusted notebook (version 4 returned) within the nesting and cell limits."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    depth = json_depth(raw)
    if depth > max_depth:
        raise RefusedError(f"{name} nests {depth} levels deep, over the limit of {max_depth}")
    try:
        tree = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise RefusedError(f"{name} is not valid JSON ({_first_line(exc)})") from None
    if not isinstance(tree, dict):
        raise RefusedError(f"{name} is JSON but not a notebook (no notebook object at the top)")
    cells = tree.get("cells")
    if cells is None:  # version 3 kept its cells in worksheets
        sheets = tree.get("worksheets")
        cells = [c for s in sheets if isinstance(s, dict) for c in s.get("cells") or []] if sheets else []
    if not isinstance(cells, list):
        raise RefusedError(f"{name} is JSON but not a notebook (its cells are not a list)")
    if len(cells) > max_cells:
        raise TooLargeError(f"{name} has {len(cells)} cells, over the limit of {max_cells}")
    _check_cells(cells, name)
    try:
        major, minor = nbformat.reader.get_version(tree)
        if major not in nbformat.versions:
            raise ValueError(f"notebook format {major} is not supported")
        nb = nbformat.versions[major].to_notebook_json(tree, minor=minor)
        nb = nbformat.convert(nb, 4)
    except Exception as exc:
        raise RefusedError(f"{name} is JSON but not a readable notebook ({_first_line(exc)})") from None
    return nb


def _check_cells(cells: list, name: str) -> None:
    """Each cell a cell: a known type, text for its source, an object for its metadata (added if none)."""
    for number, cell in enumerate(cells, 1):
        source = cell.get("source", cell.get("input")) if isinstance(cell, dict) else None
        if (
            not isinstance(cell, dict)
            or cell.get("cell_type") not in ("code", "markdown", "raw", "heading")
            or not (
                isinstance(source, str)
                or (isinstance(source, list) and all(isinstance(s, str) for s in source))
            )
            or not isinstance(cell.get("metadata", {}), dict)
            or not isinstance(cell.get("outputs", []), list)
        ):
            raise RefusedError(f"{name} is JSON but not a notebook (cell {number} is not a notebook cell)")
        cell.setdefault("metadata", {})


def read_notebook(
    path: Path,
    max_bytes: int | None = None,
    *,
    name: str | None = None,
    max_depth: int = MAX_DEPTH,
    max_cells: int = MAX_CELLS,
) -> nbformat.NotebookNode:
    """Read an untrusted notebook file: its size is checked before a byte of it is parsed.

    ``max_bytes``: the size limit (default: :func:`notebook_limit`); ``name``: the
    file as messages call it (default: its file name). Raises
    :class:`TooLargeError` or :class:`RefusedError` (both ValueErrors) with a
    reason naming the file.
    """
    path = Path(path)
    name = name or path.name
    limit = notebook_limit() if max_bytes is None else max_bytes
    check_size(path.stat().st_size, limit, name)
    with path.open("rb") as f:
        data = f.read(limit + 1)  # the file may have grown since
    check_size(len(data), limit, name)
    return loads(data, name, max_depth=max_depth, max_cells=max_cells)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:150]


# --- outputs ---------------------------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_CUTTABLE = ("text/plain",)  # kept in part; anything else (images, HTML, JSON) is kept whole or dropped
_ERROR_KEEP = 200  # characters of an error's message kept even past the limits


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return sum(map(len, value))
    return len(json.dumps(value))


def output_size(output: Any) -> int:
    """Characters an output stores (stream text, every representation, an error's traceback)."""
    kind = output.get("output_type")
    if kind == "stream":
        return len(_text(output.get("text", "")))
    if kind == "error":
        return sum(len(str(output.get(k, ""))) for k in ("ename", "evalue")) + sum(
            len(str(line)) for line in output.get("traceback") or []
        )
    return sum(_value_size(v) for v in (output.get("data") or {}).values())


def _clean(output: Any) -> None:
    kind = output.get("output_type")
    if kind == "stream":
        output["text"] = strip_ansi(_text(output.get("text", "")))
    elif kind == "error":
        output["evalue"] = strip_ansi(str(output.get("evalue", "")))
        output["traceback"] = [strip_ansi(str(line)) for line in output.get("traceback") or []]
    elif "text/plain" in (output.get("data") or {}):
        output["data"]["text/plain"] = strip_ansi(_text(output["data"]["text/plain"]))


def _cut_output(output: Any, room: int) -> tuple[Any | None, int]:
    """The output cut to ``room`` characters (None: nothing left of it) and the characters it keeps."""
    kind = output.get("output_type")
    if kind == "stream":
        if room <= 0:
            return None, 0
        output["text"] = output["text"][:room]
        return output, room
    if kind == "error":  # what went wrong is always kept, briefly; the traceback from its end
        output["ename"] = str(output.get("ename", ""))[:100]
        output["evalue"] = str(output.get("evalue", ""))[: max(room // 2, _ERROR_KEEP)]
        left = room - len(output["ename"]) - len(output["evalue"])
        kept: list[str] = []
        for line in reversed(output.get("traceback") or []):
            if len(line) > left:
                break
            kept.insert(0, line)
            left -= len(line)
        output["traceback"] = kept or [f"{output['ename']}: {output['evalue']}"]
        return output, output_size(output)
    data = output.get("data") or {}
    for mime in list(data):
        size = _value_size(data[mime])
        if size <= room:
            room -= size
        elif mime in _CUTTABLE and room > 0:
            data[mime] = _text(data[mime])[:room]
            room = 0
        else:
            del data[mime]
    if not data:
        return None, 0
    return output, output_size(output)


_MARK = "\n[output cut: "


def _is_mark(output: Any) -> bool:
    """A mark of an earlier cut (only a cell's last output, and short, can be one: it is not counted)."""
    text = _text(output.get("text", ""))
    return output.get("output_type") == "stream" and text.startswith(_MARK) and len(text) < 200


def cap_outputs(nb: nbformat.NotebookNode, per_cell: int = 100_000, total: int = 1_000_000) -> list[str]:
    """Cut the notebook's stored outputs, in place, to ``per_cell`` characters a cell and ``total`` in all.

    ANSI escape sequences are removed from streams, tracebacks and plain text.
    Text is cut at its end; an image, HTML or other representation that does not
    fit is dropped whole; an error keeps its name and the start of its message.
    Every cut cell gets a visible last line such as
    ``[output cut: 7.9 MB over the 100 kB limit]``. Returns one line per cut
    cell, for the review list.
    """
    review, used = [], 0
    for number, cell in enumerate(nb.cells, 1):
        outputs = cell.get("outputs")
        if not outputs:
            continue
        for output in outputs:
            _clean(output)
        if _is_mark(outputs[-1]):  # cut before: its mark is not counted again
            outputs = outputs[:-1]
        size = sum(output_size(o) for o in outputs)
        room = max(min(per_cell, total - used), 0)
        if size <= room:
            used += size
            continue
        kept, kept_size = [], 0
        for output in outputs:
            cut, cut_size = _cut_output(output, room - kept_size)
            if cut is not None:
                kept.append(cut)
                kept_size += cut_size
        limit = f"the {human(per_cell)} limit" if room == per_cell else f"the notebook's {human(total)} limit"
        what = f"{human(max(size - kept_size, 0))} over {limit}"
        kept.append(nbformat.v4.new_output("stream", name="stderr", text=f"{_MARK}{what}]\n"))
        cell.outputs = kept
        used += kept_size
        grade_id = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
        review.append(f"cell {number}" + (f" ({grade_id})" if grade_id else "") + f": output cut: {what}")
    return review
