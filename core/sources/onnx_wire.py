"""Count the messages in an ONNX file before protobuf parses it, so a parse cannot exhaust memory.

An empty ``NodeProto`` is two bytes on the wire and ~150 bytes once parsed:
a 10 MB file of empty nodes peaks at ~730 MB inside ``onnx.load``, 100 MB at
7 GB — all within the 2 GB a single ONNX file may hold. This module walks the
protobuf wire format of the message types that repeat (model → graph → node →
attribute → subgraph, initializers and their external-data entries,
functions) without decoding payloads, counting every field it meets, and
stops as soon as the count passes the budget. Weight payloads (``raw_data``)
are skipped by their length prefix, so a genuine multi-gigabyte-weights file
costs a few thousand steps.

Field numbers are ``onnx.proto``'s (IR version 10); unknown fields are
counted and skipped, so a newer file is still bounded.
"""

from __future__ import annotations

import mmap
from pathlib import Path

from lmscope.core.errors import FileFormatError

# protobuf message fields lmscope descends into, per message type: field number -> message type
_SCHEMA: dict[str, dict[int, str]] = {
    "model": {7: "graph", 8: "leaf", 14: "leaf", 20: "training", 25: "function"},
    "training": {1: "graph", 2: "graph", 3: "leaf", 4: "leaf"},
    "graph": {1: "node", 5: "tensor", 11: "value", 12: "value", 13: "value", 14: "leaf", 15: "sparse"},
    "function": {7: "node", 9: "leaf", 11: "attribute", 12: "value", 14: "leaf"},
    "node": {5: "attribute"},
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
    "sparse": {1: "tensor", 2: "tensor"},
    "tensor": {13: "leaf"},
    "value": {},
    "leaf": {},
}
MAX_FIELDS = 1_000_000  # ~150 bytes each once parsed: 150 MB; an 80-layer unfused LLM graph has ~150,000
MAX_NESTING = 32


class _Walk:
    def __init__(self, buf: mmap.mmap | bytes, name: str, budget: int) -> None:
        self.buf = buf
        self.name = name
        self.left = budget

    def fail(self, why: str) -> FileFormatError:
        return FileFormatError(f"{self.name}: not a readable ONNX model ({why})")

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        buf = self.buf
        value = shift = 0
        while True:
            if pos >= end or shift > 63:
                raise self.fail("a truncated or overlong number")
            byte = buf[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value, pos
            shift += 7

    def message(self, kind: str, pos: int, end: int, depth: int) -> None:
        if depth > MAX_NESTING:
            raise self.fail(f"messages nested more than {MAX_NESTING} deep")
        schema = _SCHEMA[kind]
        buf = self.buf
        while pos < end:
            self.left -= 1
            if self.left < 0:
                raise FileFormatError(
                    f"{self.name}: holds more than {MAX_FIELDS:,} protobuf fields (a real graph has far fewer); "
                    "parsing it would exhaust memory, refusing it"
                )
            key = buf[pos]  # one-byte keys and lengths are the rule: decode them inline
            pos += 1
            if key >= 0x80:
                key, pos = self.varint(pos - 1, end)
            wire = key & 7
            if wire == 2:
                if pos >= end:
                    raise self.fail("a truncated field")
                length = buf[pos]
                pos += 1
                if length >= 0x80:
                    length, pos = self.varint(pos - 1, end)
                if length > end - pos:
                    raise self.fail("a field longer than the rest of the file")
                sub = schema.get(key >> 3)
                if sub is not None and sub != "leaf":
                    self.message(sub, pos, pos + length, depth + 1)
                pos += length
            elif wire == 0:
                _, pos = self.varint(pos, end)
            elif wire == 1:
                pos += 8
            elif wire == 5:
                pos += 4
            else:  # groups (3, 4) are not used by ONNX; 6 and 7 do not exist
                raise self.fail(f"wire type {wire}")
            if pos > end:
                raise self.fail("a field past the end of its message")


def check_onnx_structure(path: Path, budget: int = MAX_FIELDS) -> None:
    """Raise :class:`FileFormatError` when ``path`` holds more protobuf fields than ``budget`` (or broken framing)."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            return  # an empty file parses as an empty model; the caller says "no graph"
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            _Walk(buf, path.name, budget).message("model", 0, size, 0)


# TensorProto fields that carry the data itself (float_data, int32_data, string_data, int64_data, raw_data,
# double_data, uint64_data): everything else (name, dims, data_type, external_data, ...) is kept.
_TENSOR_PAYLOAD = frozenset({4, 5, 6, 7, 9, 10, 11})
_RAW_DATA = 9


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class _Strip(_Walk):
    """Copies a model's wire bytes without the payload of the main graph's initializers."""

    def __init__(self, buf: mmap.mmap | bytes, name: str) -> None:
        super().__init__(buf, name, MAX_FIELDS)
        self.raw_lengths: list[int | None] = []

    def fields(self, pos: int, end: int):
        """(field number, wire type, start of the field, start of its value, end of the field) for each field."""
        while pos < end:
            start = pos
            key, pos = self.varint(pos, end)
            wire = key & 7
            if wire == 2:
                length, pos = self.varint(pos, end)
                if length > end - pos:
                    raise self.fail("a field longer than the rest of the file")
                value = pos
                pos += length
            elif wire == 0:
                value = pos
                _, pos = self.varint(pos, end)
            elif wire == 1:
                value, pos = pos, pos + 8
            elif wire == 5:
                value, pos = pos, pos + 4
            else:
                raise self.fail(f"wire type {wire}")
            if pos > end:
                raise self.fail("a field past the end of its message")
            yield key >> 3, wire, start, value, pos

    def copy(self, kind: str, pos: int, end: int) -> bytes:
        out = bytearray()
        raw: int | None = None
        for number, wire, start, value, stop in self.fields(pos, end):
            if kind == "model" and number == 7 and wire == 2:
                inner = self.copy("graph", value, stop)
            elif kind == "graph" and number == 5 and wire == 2:
                inner = self.copy("tensor", value, stop)
            elif kind == "tensor" and number in _TENSOR_PAYLOAD:
                if number == _RAW_DATA and wire == 2:
                    raw = (raw or 0) + (stop - value)
                continue
            else:
                out += self.buf[start:stop]
                continue
            out += _varint_bytes((number << 3) | 2) + _varint_bytes(len(inner)) + inner
        if kind == "tensor":
            self.raw_lengths.append(raw)
        return bytes(out)


def load_onnx_structure(path: Path):
    """The ONNX model at ``path`` without its initializers' data, and each main-graph initializer's raw_data length.

    Why: ``onnx.load`` holds the file and then every initializer's bytes again (≈ 2 × the file, up to
    4 GB for a 2 GB file) although lmscope reads only names, types, shapes and the graph. The payload
    fields are skipped by their length prefix on a memory map (their pages are never touched) and the
    rest — the graph's structure — is parsed by protobuf. Lengths are in initializer order (None: no
    raw_data field). Call :func:`check_onnx_structure` first (the field budget).
    """
    import onnx

    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            return onnx.ModelProto(), []
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            strip = _Strip(buf, path.name)
            data = strip.copy("model", 0, size)
    model = onnx.ModelProto()
    model.ParseFromString(data)
    return model, strip.raw_lengths
