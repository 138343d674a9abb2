"""The judge's wire format: length-prefixed frames of JSON and raw ``.npy`` arrays, nothing else.

One frame is ``[8-byte length][4-byte header length][JSON header][arrays]``,
each array ``[8-byte length][.npy bytes]``. Inside the JSON, an array is
``{"$array": i}``, a tuple ``{"$tuple": [...]}``, a dict with keys that are
not all strings ``{"$dict": [[key, value], ...]}``, an object held by the
subject ``{"$handle": k}``. Arrays are decoded with ``allow_pickle=False`` and
only numeric and boolean dtypes pass; sizes, depth and counts are capped
before anything is parsed. Both sides use this module, but only the judge's
copy matters: the subject may send anything, and :func:`decode` either turns
it into plain data or raises :class:`ProtocolError`.
"""

from __future__ import annotations

import io
import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy

MAX_FRAME = 256 * 1024 * 1024
MAX_HEADER = 8 * 1024 * 1024
MAX_ARRAYS = 4096
MAX_ELEMENTS = 32 * 1024 * 1024
MAX_NDIM = 8
MAX_DEPTH = 32
MAX_STRING = 1024 * 1024
_KINDS = frozenset("biuf")


class ProtocolError(Exception):
    """A frame that is not valid data of the course's protocol."""


@dataclass(frozen=True)
class Handle:
    """An object that lives in the subject, named by number."""

    id: int


def encode(message: Any) -> bytes:
    """One frame holding ``message`` (dicts, lists, tuples, numbers, strings, arrays, handles)."""
    arrays: list[bytes] = []

    def walk(value: Any) -> Any:
        if isinstance(value, numpy.ndarray):
            buffer = io.BytesIO()
            numpy.lib.format.write_array(buffer, numpy.ascontiguousarray(value), allow_pickle=False)
            arrays.append(buffer.getvalue())
            return {"$array": len(arrays) - 1}
        if isinstance(value, numpy.generic):
            return value.item()
        if isinstance(value, Handle):
            return {"$handle": value.id}
        if isinstance(value, tuple):
            return {"$tuple": [walk(v) for v in value]}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value):
                return {k: walk(v) for k, v in value.items()}
            return {"$dict": [[walk(k), walk(v)] for k, v in value.items()]}
        return value

    header = json.dumps(walk(message), allow_nan=True).encode()
    body = struct.pack(">I", len(header)) + header
    body += b"".join(struct.pack(">Q", len(a)) + a for a in arrays)
    return struct.pack(">Q", len(body)) + body


def frame_length(prefix: bytes) -> int:
    """The body length announced by a frame's first 8 bytes, refused above the cap."""
    (length,) = struct.unpack(">Q", prefix)
    if length > MAX_FRAME:
        raise ProtocolError(f"a frame of {length} bytes (the limit is {MAX_FRAME})")
    return length


def decode(body: bytes) -> Any:
    """The message in a frame's body, as plain data; :class:`ProtocolError` for anything else."""
    try:
        (size,) = struct.unpack_from(">I", body, 0)
    except struct.error:
        raise ProtocolError("a frame too short for its header") from None
    if size > MAX_HEADER or 4 + size > len(body):
        raise ProtocolError("a header larger than its frame or the limit")
    try:
        header = json.loads(body[4 : 4 + size].decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"a header that is not JSON ({type(exc).__name__})") from None
    arrays = _arrays(body, 4 + size)
    return _build(header, arrays, 0)


def _arrays(body: bytes, offset: int) -> list[numpy.ndarray]:
    out: list[numpy.ndarray] = []
    while offset < len(body):
        if len(out) >= MAX_ARRAYS:
            raise ProtocolError(f"more than {MAX_ARRAYS} arrays in one frame")
        try:
            (length,) = struct.unpack_from(">Q", body, offset)
        except struct.error:
            raise ProtocolError("a truncated array") from None
        start, offset = offset + 8, offset + 8 + length
        if offset > len(body):
            raise ProtocolError("an array longer than its frame")
        out.append(_array(body[start:offset]))
    return out


def _array(raw: bytes) -> numpy.ndarray:
    stream = io.BytesIO(raw)
    try:
        version = numpy.lib.format.read_magic(stream)
        read_header = {(1, 0): numpy.lib.format.read_array_header_1_0}.get(
            version, numpy.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(stream)
    except Exception as exc:
        raise ProtocolError(f"an array header that is not .npy ({type(exc).__name__})") from None
    if dtype.kind not in _KINDS or dtype.hasobject or dtype.fields is not None:
        raise ProtocolError(f"an array of dtype {dtype} (only numbers and booleans are accepted)")
    if len(shape) > MAX_NDIM or math.prod(shape) > MAX_ELEMENTS:
        raise ProtocolError(f"an array of shape {shape} (too large)")
    expected = math.prod(shape) * dtype.itemsize
    data = raw[stream.tell() :]
    if len(data) != expected:
        raise ProtocolError(f"an array of shape {shape} with {len(data)} bytes of data, not {expected}")
    array = numpy.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return array.copy()  # writable, owned


def _keyed(pairs: list, arrays: list[numpy.ndarray], depth: int) -> dict:
    """A dict whose keys are not all strings (``id_to_word``: int keys)."""
    out = {}
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ProtocolError("a dict entry that is not a key and a value")
        key = _build(pair[0], arrays, depth + 1)
        if not isinstance(key, (str, int, float, bool, tuple)) or (
            isinstance(key, tuple) and not all(isinstance(k, (str, int, float, bool)) for k in key)
        ):
            raise ProtocolError(f"a dict key of type {type(key).__name__}")
        out[key] = _build(pair[1], arrays, depth + 1)
    return out


def _build(value: Any, arrays: list[numpy.ndarray], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ProtocolError(f"data nested deeper than {MAX_DEPTH}")
    if isinstance(value, dict):
        if value.keys() == {"$array"}:
            index = value["$array"]
            if type(index) is not int or not 0 <= index < len(arrays):
                raise ProtocolError("a reference to an array that is not in the frame")
            return arrays[index]
        if value.keys() == {"$handle"}:
            if type(value["$handle"]) is not int:
                raise ProtocolError("a handle that is not a number")
            return Handle(value["$handle"])
        if value.keys() == {"$tuple"} and isinstance(value["$tuple"], list):
            return tuple(_build(v, arrays, depth + 1) for v in value["$tuple"])
        if value.keys() == {"$dict"} and isinstance(value["$dict"], list):
            return _keyed(value["$dict"], arrays, depth)
        return {str(k): _build(v, arrays, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_build(v, arrays, depth + 1) for v in value]
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise ProtocolError(f"a string of {len(value)} characters")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ProtocolError(f"a value of type {type(value).__name__}")
