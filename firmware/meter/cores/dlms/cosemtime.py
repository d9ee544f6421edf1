# COSEM date-time octet strings (Blue Book 4.1.6.1): 12 bytes
#   year (u16, 0xFFFF not specified) | month | day | weekday (1 = Monday .. 7, 0xFF) | hour |
#   minute | second | hundredths (0xFF not specified) | deviation (i16 minutes, 0x8000 not
#   specified) | clock status
# Deviation follows the DLMS convention: local time = UTC - deviation (CET is -60, CEST -120).
# Clock status bits: 0x01 invalid value, 0x02 doubtful value, 0x04 different clock base, 0x08
# invalid clock status, 0x80 daylight saving active. Civil-date arithmetic is the caller's
# (meter.timeutil); this module only packs and unpacks fields.
from micropython import const
import struct

DEVIATION_UNSPECIFIED = const(-0x8000)
STATUS_INVALID = const(0x01)
STATUS_DOUBTFUL = const(0x02)
STATUS_DST = const(0x80)
UNSPEC = const(0xFF)


def pack(buf, pos, y, mo, d, wd, h, mi, s, hs=0, dev=DEVIATION_UNSPECIFIED, status=0):
    """Write 12 bytes at buf[pos:] (no allocation)."""
    struct.pack_into(">HBBBBBBBhB", buf, pos, y, mo, d, wd, h, mi, s, hs, dev, status)
    return pos + 12


def datetime(y, mo, d, h, mi, s, wd=UNSPEC, hs=0, dev=DEVIATION_UNSPECIFIED, status=0):
    b = bytearray(12)
    pack(b, 0, y, mo, d, wd, h, mi, s, hs, dev, status)
    return bytes(b)


def unpack(b):
    """-> (year, month, day, weekday, hour, minute, second, hundredths, deviation, status);
    ValueError when not 12 bytes."""
    if len(b) != 12:
        raise ValueError("date-time length")
    return struct.unpack(">HBBBBBBBhB", b)


def valid(f):
    """True when an unpacked date-time names one instant to the second (no wildcards)."""
    y, mo, d, wd, h, mi, s = f[0], f[1], f[2], f[3], f[4], f[5], f[6]
    return (y != 0xFFFF and 1 <= mo <= 12 and 1 <= d <= 31 and (wd == UNSPEC or 1 <= wd <= 7)
            and h < 24 and mi < 60 and s < 60)
