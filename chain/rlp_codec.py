"""A small, strict RLP codec for the hot path (transaction admission).

Only what transactions, blocks and receipts need: byte strings and nested lists. Decoding is
strict: non-canonical lengths, leading zeros in lengths and trailing bytes are refused, so two
byte strings never decode to the same value.
"""

from __future__ import annotations

from chain.errors import MalformedInput

RlpItem = bytes | list["RlpItem"]
MAX_DEPTH = 16  # our deepest structure (receipts in a block) nests 5 lists


def encode_length(length: int, offset: int) -> bytes:
    """The RLP length prefix for a payload of `length` bytes."""
    if length < 56:
        return _SHORT_PREFIXES[offset][length]
    length_bytes = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((offset + 55 + len(length_bytes),)) + length_bytes


_SHORT_PREFIXES = {offset: tuple(bytes((offset + n,)) for n in range(56))
                   for offset in (0x80, 0xC0)}
_STRING_PREFIXES = _SHORT_PREFIXES[0x80]


def encode(item: RlpItem) -> bytes:
    """RLP-encode a byte string or a nested list of them.

    Blocks, receipts and change sets are lists of many byte strings: a list's byte-string
    elements are written in place (no call per element), nested lists recursively.
    """
    if isinstance(item, bytes | bytearray):
        length = len(item)
        if length == 1 and item[0] < 0x80:
            return bytes(item)
        if length < 56:
            return _STRING_PREFIXES[length] + item
        return encode_length(length, 0x80) + bytes(item)
    parts: list[bytes] = []
    append = parts.append
    for element in item:
        if type(element) is bytes:
            length = len(element)
            if length == 1 and element[0] < 0x80:
                append(element)
                continue
            append(_STRING_PREFIXES[length] if length < 56 else encode_length(length, 0x80))
            append(element)
        else:
            append(encode(element))
    return encode_list_payload(b"".join(parts))


def encode_bytes(item: bytes) -> bytes:
    """RLP-encode one byte string (what `encode` does for bytes, without asking which it is)."""
    length = len(item)
    if length == 1 and item[0] < 0x80:
        return item
    if length < 56:
        return _STRING_PREFIXES[length] + item
    return encode_length(length, 0x80) + item


def encode_list_payload(payload: bytes) -> bytes:
    """A list from the concatenated encodings of its items (items encoded earlier are reused)."""
    length = len(payload)
    if length < 56:
        return _SHORT_PREFIXES[0xC0][length] + payload
    return encode_length(length, 0xC0) + payload


def encode_int(value: int) -> bytes:
    """The big-endian minimal bytes of a non-negative integer (0 is the empty string)."""
    if value < 0:
        raise ValueError("RLP integers are non-negative")
    return value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""


def decode_int(raw: bytes, field: str) -> int:
    """A non-negative integer from its minimal big-endian bytes."""
    if raw[:1] == b"\0":
        raise MalformedInput(f"{field}: integer has a leading zero byte", field=field)
    return int.from_bytes(raw, "big")


def decode(data: bytes) -> RlpItem:
    """Decode exactly one RLP item that spans all of `data`."""
    item, end = _decode_at(data, 0)
    if end != len(data):
        raise MalformedInput(f"RLP: {len(data) - end} trailing bytes after the item")
    return item


def decode_list_spans(data: bytes) -> tuple[list[RlpItem], list[int]]:
    """Decode one RLP list spanning `data`; also return where each top-level item starts.

    The starts let a caller hash a prefix of the fields straight from the input (the signing
    payload of a transaction) instead of encoding them again. The last start is the list's end.
    """
    if not data or data[0] < 0xC0:
        raise MalformedInput("RLP: expected a list")
    if data[0] < 0xF8:
        body, end = 1, 1 + data[0] - 0xC0
    else:
        length, body = _long_length(data, 0, data[0] - 0xF7)
        end = body + length
    if end != len(data):
        raise MalformedInput(f"RLP: list length {end} does not match input length {len(data)}")
    items: list[RlpItem] = []
    starts = [body]
    position = body
    while position < end:  # inlined for byte strings: this is the admission hot path
        prefix = data[position]
        if prefix < 0x80:
            items.append(data[position : position + 1])
            position += 1
        elif prefix < 0xB8:
            following = position + 1 + prefix - 0x80
            if following > end or (prefix == 0x81 and data[position + 1] < 0x80):
                raise MalformedInput("RLP: short string overruns the list or is not canonical")
            items.append(data[position + 1 : following])
            position = following
        else:
            item, position = _decode_at(data, position, 1)
            items.append(item)
        starts.append(position)
    if position != end:
        raise MalformedInput("RLP: list items overrun the list length")
    return items, starts


def _decode_at(data: bytes, start: int, depth: int = 0) -> tuple[RlpItem, int]:
    if start >= len(data):
        raise MalformedInput("RLP: input ends where an item was expected")
    prefix = data[start]
    if prefix < 0x80:
        return data[start : start + 1], start + 1
    if prefix < 0xB8:
        length = prefix - 0x80
        end = start + 1 + length
        _check_end(data, end)
        if length == 1 and data[start + 1] < 0x80:
            raise MalformedInput("RLP: single byte below 0x80 must not have a prefix")
        return data[start + 1 : end], end
    if prefix < 0xC0:
        length, body = _long_length(data, start, prefix - 0xB7)
        end = body + length
        _check_end(data, end)
        return data[body:end], end
    if prefix < 0xF8:
        body, end = start + 1, start + 1 + prefix - 0xC0
    else:
        length, body = _long_length(data, start, prefix - 0xF7)
        end = body + length
    _check_end(data, end)
    if depth >= MAX_DEPTH:
        raise MalformedInput(f"RLP: lists nested deeper than {MAX_DEPTH}")
    items: list[RlpItem] = []
    position = body
    while position < end:
        item, position = _decode_at(data, position, depth + 1)
        items.append(item)
    if position != end:
        raise MalformedInput("RLP: list items overrun the list length")
    return items, end


def _long_length(data: bytes, start: int, size: int) -> tuple[int, int]:
    body = start + 1 + size
    _check_end(data, body)
    raw = data[start + 1 : body]
    if raw[0] == 0:
        raise MalformedInput("RLP: length has a leading zero byte")
    length = int.from_bytes(raw, "big")
    if length < 56:
        raise MalformedInput("RLP: long form used for a short length")
    return length, body


def _check_end(data: bytes, end: int) -> None:
    if end > len(data):
        raise MalformedInput(f"RLP: item needs {end} bytes, input has {len(data)}")
