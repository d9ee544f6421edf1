# CRC-32 (IEEE 802.3, as zlib): the one wrapper the firmware uses (journal records, calendar files,
# parameter-write event values). metercrypto.crc32 (native, running form) when the board has it,
# else the port's binascii.crc32. Both compute the same function; the result is always 0..2**32-1.
try:
    from metercrypto import crc32 as _crc
    IMPL = "metercrypto"
except ImportError:  # a board image without the native module
    from binascii import crc32 as _crc
    IMPL = "binascii"


def crc32(data, crc=0):
    """CRC-32 of data, continued from `crc` (crc32(b, crc32(a)) == crc32(a + b))."""
    return _crc(data, crc) & 0xFFFFFFFF


def crc32_signed(data):
    """CRC-32 as a signed 32-bit int (event log a/b values are i32)."""
    c = _crc(data, 0) & 0xFFFFFFFF
    return c - 0x100000000 if c >= 0x80000000 else c
