# A-XDR encoding of COSEM data (IEC 62056-6-2 clause 4.1.5 "Data", IEC 61334-6 A-XDR rules).
#
# Values are tuples (tag, payload), the same shape in and out:
#   NULL (0, None)                       BOOLEAN (3, True/False)
#   ARRAY / STRUCTURE (1/2, list-or-tuple of values, or a Rows for a lazily produced array)
#   BIT_STRING (4, (nbits, bytes))       OCTET/VISIBLE/UTF8 STRING, BCD-string (9/10/12, bytes)
#   integers: INTEGER, LONG, UNSIGNED, LONG_UNSIGNED, DOUBLE_LONG(_UNSIGNED), LONG64(_UNSIGNED),
#             ENUM, BCD (int)            FLOAT32 / FLOAT64 (float)
#   DATE_TIME / DATE / TIME (25/26/27, bytes of 12/5/4)
# Compact-array (19) is not supported: decoding it raises AxdrError(BAD_TAG).
#
# Decoding is bounded: a length running past the end -> TRUNCATED, nesting deeper than MAX_DEPTH
# -> TOO_DEEP, more than `max_items` values in one decode -> TOO_MANY (so a 2 KB APDU of empty
# arrays cannot build thousands of objects), an unknown tag -> BAD_TAG, a bad length form ->
# BAD_LENGTH. Nothing is preallocated from a length read off the wire.
# Encoding writes into a caller-provided bytearray and raises AxdrError(OVERFLOW) when it does not
# fit (nothing past len(buf) is touched).
from micropython import const
import struct

NULL = const(0)
ARRAY = const(1)
STRUCTURE = const(2)
BOOLEAN = const(3)
BIT_STRING = const(4)
DOUBLE_LONG = const(5)
DOUBLE_LONG_UNSIGNED = const(6)
OCTET_STRING = const(9)
VISIBLE_STRING = const(10)
UTF8_STRING = const(12)
BCD = const(13)
INTEGER = const(15)
LONG = const(16)
UNSIGNED = const(17)
LONG_UNSIGNED = const(18)
COMPACT_ARRAY = const(19)
LONG64 = const(20)
LONG64_UNSIGNED = const(21)
ENUM = const(22)
FLOAT32 = const(23)
FLOAT64 = const(24)
DATE_TIME = const(25)
DATE = const(26)
TIME = const(27)

# error codes (AxdrError.code)
TRUNCATED = const(1)
BAD_TAG = const(2)
TOO_DEEP = const(3)
TOO_MANY = const(4)
BAD_LENGTH = const(5)
OVERFLOW = const(6)
BAD_VALUE = const(7)

MAX_DEPTH = const(8)
MAX_ITEMS = const(256)

NULL_VALUE = (NULL, None)

# fixed-size integer/float types: tag -> (struct format, size)
_FIXED = {
    BOOLEAN: ("B", 1), DOUBLE_LONG: (">i", 4), DOUBLE_LONG_UNSIGNED: (">I", 4), BCD: ("b", 1),
    INTEGER: ("b", 1), LONG: (">h", 2), UNSIGNED: ("B", 1), LONG_UNSIGNED: (">H", 2),
    LONG64: (">q", 8), LONG64_UNSIGNED: (">Q", 8), ENUM: ("B", 1), FLOAT32: (">f", 4),
    FLOAT64: (">d", 8),
}
# integer ranges checked before packing (MicroPython's struct truncates silently)
_RANGE = {
    DOUBLE_LONG: (-0x80000000, 0x7FFFFFFF), DOUBLE_LONG_UNSIGNED: (0, 0xFFFFFFFF), BCD: (-128, 127),
    INTEGER: (-128, 127), LONG: (-32768, 32767), UNSIGNED: (0, 255), LONG_UNSIGNED: (0, 65535),
    LONG64: (-0x8000000000000000, 0x7FFFFFFFFFFFFFFF), LONG64_UNSIGNED: (0, 0xFFFFFFFFFFFFFFFF),
    ENUM: (0, 255),
}
_FIXED_BYTES = {DATE_TIME: 12, DATE: 5, TIME: 4}
_STRINGS = (OCTET_STRING, VISIBLE_STRING, UTF8_STRING)


class AxdrError(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Rows:
    """A lazily produced ARRAY: count elements, element i is item(i). Used for profile buffers
    and the object list so that a long array is encoded piecewise, never held whole."""
    __slots__ = ("count", "item")

    def __init__(self, count, item):
        self.count = count
        self.item = item


# ---- lengths (A-XDR / BER definite form, X.690 8.1.3) ----

def read_length(buf, pos, end):
    """-> (length, new_pos). The length is not checked against the remaining data."""
    if pos >= end:
        raise AxdrError(TRUNCATED)
    n = buf[pos]
    pos += 1
    if n < 0x80:
        return n, pos
    n &= 0x7F
    if n == 0 or n > 3:  # indefinite form, or lengths over 16 MB: never legal here
        raise AxdrError(BAD_LENGTH)
    if pos + n > end:
        raise AxdrError(TRUNCATED)
    v = 0
    for _ in range(n):
        v = (v << 8) | buf[pos]
        pos += 1
    return v, pos


def length_size(n):
    return 1 if n < 0x80 else (2 if n < 0x100 else (3 if n < 0x10000 else 4))


def write_length(buf, pos, n):
    size = length_size(n)
    if pos + size > len(buf):
        raise AxdrError(OVERFLOW)
    if size == 1:
        buf[pos] = n
    else:
        buf[pos] = 0x80 | (size - 1)
        for i in range(size - 1, 0, -1):
            buf[pos + i] = n & 0xFF
            n >>= 8
    return pos + size


# ---- decoding ----

class _Budget:
    __slots__ = ("left",)


def decode(buf, pos, end, max_items=MAX_ITEMS):
    """Decode one Data value from buf[pos:end] -> (value, new_pos)."""
    b = _Budget()
    b.left = max_items
    return _dec(buf, pos, end, 0, b)


def decode_all(buf, pos, end, max_items=MAX_ITEMS):
    """Decode one value that must fill buf[pos:end] exactly."""
    v, p = decode(buf, pos, end, max_items)
    if p != end:
        raise AxdrError(BAD_LENGTH)
    return v


def _dec(buf, pos, end, depth, budget):
    if pos >= end:
        raise AxdrError(TRUNCATED)
    budget.left -= 1
    if budget.left < 0:
        raise AxdrError(TOO_MANY)
    tag = buf[pos]
    pos += 1
    if tag == ARRAY or tag == STRUCTURE:
        if depth >= MAX_DEPTH:
            raise AxdrError(TOO_DEEP)
        n, pos = read_length(buf, pos, end)
        if n > end - pos:  # every element takes at least one byte
            raise AxdrError(TRUNCATED)
        if n > budget.left:
            raise AxdrError(TOO_MANY)
        items = []
        for _ in range(n):
            v, pos = _dec(buf, pos, end, depth + 1, budget)
            items.append(v)
        return (tag, items), pos
    if tag == NULL:
        return NULL_VALUE, pos
    f = _FIXED.get(tag)
    if f is not None:
        fmt, size = f
        if pos + size > end:
            raise AxdrError(TRUNCATED)
        v = struct.unpack_from(fmt, buf, pos)[0]
        if tag == BOOLEAN:
            v = v != 0
        return (tag, v), pos + size
    if tag in _STRINGS:
        n, pos = read_length(buf, pos, end)
        if n > end - pos:
            raise AxdrError(TRUNCATED)
        return (tag, bytes(buf[pos:pos + n])), pos + n
    if tag == BIT_STRING:
        n, pos = read_length(buf, pos, end)
        nb = (n + 7) >> 3
        if nb > end - pos:
            raise AxdrError(TRUNCATED)
        return (tag, (n, bytes(buf[pos:pos + nb]))), pos + nb
    size = _FIXED_BYTES.get(tag)
    if size is not None:
        if pos + size > end:
            raise AxdrError(TRUNCATED)
        return (tag, bytes(buf[pos:pos + size])), pos + size
    raise AxdrError(BAD_TAG)


# ---- encoding ----

def _room(buf, pos, n):
    if pos + n > len(buf):
        raise AxdrError(OVERFLOW)


def encode(buf, pos, value, depth=0):
    """Write value at buf[pos:], return the new position."""
    tag, v = value
    if tag == ARRAY or tag == STRUCTURE:
        if depth >= MAX_DEPTH:
            raise AxdrError(TOO_DEEP)
        if isinstance(v, Rows):
            _room(buf, pos, 1)
            buf[pos] = tag
            pos = write_length(buf, pos + 1, v.count)
            item = v.item
            for i in range(v.count):
                pos = encode(buf, pos, item(i), depth + 1)
            return pos
        _room(buf, pos, 1)
        buf[pos] = tag
        pos = write_length(buf, pos + 1, len(v))
        for x in v:
            pos = encode(buf, pos, x, depth + 1)
        return pos
    if tag == NULL:
        _room(buf, pos, 1)
        buf[pos] = 0
        return pos + 1
    f = _FIXED.get(tag)
    if f is not None:
        fmt, size = f
        _room(buf, pos, 1 + size)
        buf[pos] = tag
        if tag == BOOLEAN:
            v = 1 if v else 0
        else:
            r = _RANGE.get(tag)
            if r is not None and not (isinstance(v, int) and r[0] <= v <= r[1]):
                raise AxdrError(BAD_VALUE)
        struct.pack_into(fmt, buf, pos + 1, v)
        return pos + 1 + size
    if tag in _STRINGS:
        if isinstance(v, str):
            v = v.encode()
        n = len(v)
        _room(buf, pos, 1 + length_size(n) + n)
        buf[pos] = tag
        pos = write_length(buf, pos + 1, n)
        buf[pos:pos + n] = v
        return pos + n
    if tag == BIT_STRING:
        nbits, data = v
        nb = (nbits + 7) >> 3
        if len(data) < nb:
            raise AxdrError(BAD_VALUE)
        _room(buf, pos, 1 + length_size(nbits) + nb)
        buf[pos] = tag
        pos = write_length(buf, pos + 1, nbits)
        buf[pos:pos + nb] = data[:nb]
        return pos + nb
    size = _FIXED_BYTES.get(tag)
    if size is not None:
        if len(v) != size:
            raise AxdrError(BAD_VALUE)
        _room(buf, pos, 1 + size)
        buf[pos] = tag
        buf[pos + 1:pos + 1 + size] = v
        return pos + 1 + size
    raise AxdrError(BAD_TAG)


def encoded(value, size=256):
    """Convenience (tests, setup code): the encoding as bytes."""
    buf = bytearray(size)
    return bytes(buf[:encode(buf, 0, value)])


# ---- small constructors for mapping code (each is one tuple) ----

def octets(b):
    return (OCTET_STRING, b)


def struct_(*items):
    return (STRUCTURE, items)


def array(items):
    return (ARRAY, items)
