# Allocation-free text writing into a telegram buffer: constant pieces copied with struct.pack_into,
# decimal digits and hex written in place.
import struct

P10 = (1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000)
HEX = b"0123456789ABCDEF"
PREFIX = {"k": 3, "m": -3, "M": 6}


def hexstr(b):
    out = []
    for c in b:
        out.append("%02X" % c)
    return "".join(out)


def printable(s, what, extra_bad="/!"):
    for ch in s:
        o = ord(ch)
        if o < 0x20 or o > 0x7E or ch in extra_bad:
            raise ValueError("P1: %s must be printable ASCII without %s" % (what, extra_bad))


# struct formats of the short pieces as literals (ROM on a frozen image; one made with '%' is a
# heap string for the life of the builder)
_SFMT = ("0s", "1s", "2s", "3s", "4s", "5s", "6s", "7s", "8s", "9s", "10s", "11s", "12s",
         "13s", "14s", "15s", "16s", "17s", "18s", "19s", "20s", "21s", "22s", "23s", "24s")


def piece(s):
    """A constant byte string with its struct format, (fmt, bytes), for allocation-free copies by
    put(). A bytes argument is kept as it is (a literal stays in ROM on a frozen image); a 2-tuple
    takes 16 bytes of heap where an object with three attributes took 48."""
    b = s.encode() if isinstance(s, str) else bytes(s)
    n = len(b)
    return (_SFMT[n] if n < len(_SFMT) else "%ds" % n, b)


def put(buf, pos, pc):
    struct.pack_into(pc[0], buf, pos, pc[1])
    return pos + len(pc[1])


def wdig(buf, end, n, nd, dec):
    """Write n as nd digits ending before buf[end], skipping the '.' after dec decimals."""
    i = end - 1
    k = 0
    while k < nd:
        if k == dec and k:
            i -= 1
        buf[i] = 48 + n % 10
        n //= 10
        i -= 1
        k += 1


def wuint(buf, pos, n):
    """Write n >= 0 without padding; return the new position."""
    nd = 1
    m = n
    while m >= 10:
        m //= 10
        nd += 1
    wdig(buf, pos + nd, n, nd, 0)
    return pos + nd


def whex(buf, pos, b, n):
    i = 0
    while i < n:
        c = b[i]
        buf[pos] = HEX[c >> 4]
        buf[pos + 1] = HEX[c & 15]
        pos += 2
        i += 1
    return pos
