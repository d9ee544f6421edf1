# wM-Bus modes and frame formats seen from the radio: which mode a packet is in, judged from the
# first bytes after the sync word, and how many bytes the packet has on air (EN 13757-4).
#
# One CC1101 register set receives T1 and C1 together (TI SWRA522, "wM-Bus C-mode and T-mode
# with one CC1101 configuration"): both modes use 100 kchip/s 2-FSK on 868.95 MHz and the chip
# syncs on 0x543D, which is the tail of the T preamble plus the T sync "0000111101" and also the
# C-mode sync word. After it:
#   C1 format A: 0x54 0xCD, then the frame (EN 13757-4 mode C, second sync word, format A)
#   C1 format B: 0x54 0x3D, then the frame
#   T1:          the 3-of-6 coded frame. 0x54 = 010101|00 cannot start a 3-of-6 stream, since
#                010101 is not one of the 16 code words, so the first byte tells C from T.
# Format B ambiguity: its second sync word 0x543D equals the first, so a receiver that started
# hunting late (after an overflow or a previous packet, inside this packet's preamble) syncs on the
# second one and sees the L-field first, with no 0x54 marker. A first byte that is neither 0x54 nor
# a valid 3-of-6 start is therefore taken as a late-synced C1 format B frame (MODE_C1B_LATE); the
# block CRCs decide whether it really was one.
# S1 (868.3 MHz, 32.768 kchip/s) has its own register set: sync 0x7696, Manchester-coded frame.
import metercrypto
from micropython import const

MODE_T1 = const(1)
MODE_C1A = const(2)
MODE_C1B = const(3)
MODE_C1B_LATE = const(4)  # C1 format B synced on its second sync word: no marker bytes
MODE_S1 = const(5)

FAMILY_TC = const(0)  # the T1+C1 receive register set
FAMILY_S = const(1)  # the S1 receive register set

FMT_A = const(0)
FMT_B = const(1)

NEED_MORE = const(-1)  # not enough bytes yet to tell
BAD = const(-2)  # not a wM-Bus packet (noise, or a length no frame can have)

C_MARKER = const(0x54)
C_FMT_A = const(0xCD)
C_FMT_B = const(0x3D)

PROBE = const(3)  # bytes after sync that always suffice to tell mode and length (S1: 4)

# 6-bit code word -> nibble, 0xFF for the 48 invalid words; derived from metercrypto's own encoder
# at import (one table in the firmware, not two): encode_3of6(0xNN) packs the words of both nibbles.
_DEC6 = bytearray(b"\xff" * 64)
for _n in range(16):
    _e = metercrypto.encode_3of6(bytes((_n * 17,)))  # nibble _n twice -> 12 bits + 0101
    _DEC6[_e[0] >> 2] = _n
del _n, _e


def t1_valid(b, n):
    """True if b[0:n] (n a multiple of 3) holds only valid 3-of-6 code words (EN 13757-4 9.2.2):
    checked before the native decoder, whose ValueError on a bad word would allocate per frame."""
    d = _DEC6
    for i in range(0, n, 3):
        x = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2]  # 24 bits: a small int on 32-bit builds
        if d[x >> 18] == 0xFF or d[(x >> 12) & 63] == 0xFF or d[(x >> 6) & 63] == 0xFF \
                or d[x & 63] == 0xFF:
            return False
    return True


def fmt_a_total(lf):
    """Bytes of a format A frame with CRCs: L + L bytes + 2 per block (block 1: L..A, 10 bytes,
    then blocks of up to 16). -1 if L < 9 (C, M and A alone take 9)."""
    if lf < 9:
        return -1
    return lf + 3 + 2 * ((lf + 6) // 16)


def fmt_b_total(lf):
    """Bytes of a format B frame: L counts every byte after it, CRCs included. Block 2 ends with
    its CRC at offset 126..127 when the frame is longer than 128 bytes, so L = 128 or 129 would
    leave block 3 with no data: invalid, as is L < 11 (C, M, A and one CRC)."""
    if lf < 11 or lf == 128 or lf == 129:
        return -1
    return lf + 1


def t1_start_ok(b0, b1, b2):
    """True if the first 3 coded bytes (4 code words) are valid 3-of-6."""
    return (_DEC6[b0 >> 2] != 0xFF and _DEC6[((b0 & 3) << 4) | (b1 >> 4)] != 0xFF
            and _DEC6[((b1 & 15) << 2) | (b2 >> 6)] != 0xFF and _DEC6[b2 & 63] != 0xFF)


def t1_lfield(b0, b1):
    return (_DEC6[b0 >> 2] << 4) | _DEC6[((b0 & 3) << 4) | (b1 >> 4)]


# Manchester (TI wM-Bus S mode: 0 = chips 10, 1 = 01): chip byte -> nibble (0xFF: invalid) and
# nibble -> chip byte. bytes constants: in ROM when frozen, nothing on the heap.
_MAN = (
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\x0f\x0e\xff\xff\x0d\x0c\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\x0b\x0a\xff\xff\x09\x08\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\x07\x06\xff\xff\x05\x04\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\x03\x02\xff\xff\x01\x00\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")
_MENC = b"\xaa\xa9\xa6\xa5\x9a\x99\x96\x95\x6a\x69\x66\x65\x5a\x59\x56\x55"


def detect(buf, n, family):
    """Mode of a packet from its first n bytes after sync: MODE_*, NEED_MORE or BAD."""
    if family == FAMILY_S:
        return MODE_S1 if n >= 1 and _MAN[buf[0]] != 0xFF else (NEED_MORE if n < 1 else BAD)
    if n < 1:
        return NEED_MORE
    b0 = buf[0]
    if b0 == C_MARKER:
        if n < 2:
            return NEED_MORE
        b1 = buf[1]
        return MODE_C1A if b1 == C_FMT_A else (MODE_C1B if b1 == C_FMT_B else BAD)
    if n < PROBE:
        return NEED_MORE
    if t1_start_ok(b0, buf[1], buf[2]):
        return MODE_T1
    return MODE_C1B_LATE if c_field_ok(buf[1]) else BAD


def c_field_ok(c):
    """A C-field EN 13757-4 defines: bit 7 clear; from a primary station (bit 6) SND_NKE 0,
    SND_UD 3, SND_NR 4, SND_UD2 5, SND_IR 6, ACC_NR 7, ACC_DMD 8, REQ_UD1 A, REQ_UD2 B; from a
    secondary station ACK 0, CNF_IR 6, RSP_UD 8. Used only to vet late-synced format B packets,
    which have no marker and no early CRC."""
    if c & 0x80:
        return False
    f = c & 15
    if c & 0x40:
        return f <= 8 and f not in (1, 2) or f == 10 or f == 11
    return f == 0 or f == 6 or f == 8


def expected_length(buf, n, family):
    """Bytes of the whole packet after the sync word (marker bytes included), from its first
    n bytes: the driver calls this to program the packet length. NEED_MORE or BAD otherwise."""
    m = detect(buf, n, family)
    if m < 0:
        return m
    if m == MODE_S1:
        if n < 2:
            return NEED_MORE
        hi = _MAN[buf[0]]
        lo = _MAN[buf[1]]
        if lo == 0xFF:
            return BAD
        t = fmt_a_total((hi << 4) | lo)
        return 2 * t if t > 0 else BAD
    if m == MODE_C1A or m == MODE_C1B:
        if n < 3:
            return NEED_MORE
        t = fmt_a_total(buf[2]) if m == MODE_C1A else fmt_b_total(buf[2])
        return t + 2 if t > 0 else BAD
    if m == MODE_C1B_LATE:
        t = fmt_b_total(buf[0])
        return t if t > 0 else BAD
    t = fmt_a_total(t1_lfield(buf[0], buf[1]))  # T1: 3-of-6, 3 coded bytes per 2 bytes
    return (3 * t + 1) // 2 if t > 0 else BAD


def man_decode_into(src, s0, nbytes, dst, d0):
    """Manchester chips src[s0:s0 + 2 * nbytes] -> dst[d0:d0 + nbytes]. Returns nbytes, or -1 at
    the first invalid chip pair (no allocation)."""
    man = _MAN
    j = s0
    for i in range(d0, d0 + nbytes):
        hi = man[src[j]]
        lo = man[src[j + 1]]
        if hi == 0xFF or lo == 0xFF:
            return -1
        dst[i] = (hi << 4) | lo
        j += 2
    return nbytes


def man_encode_into(src, s0, nbytes, dst, d0):
    """Bytes src[s0:s0 + nbytes] -> Manchester chips dst[d0:d0 + 2 * nbytes]. Returns 2 * nbytes."""
    enc = _MENC
    j = d0
    for i in range(s0, s0 + nbytes):
        b = src[i]
        dst[j] = enc[b >> 4]
        dst[j + 1] = enc[b & 15]
        j += 2
    return 2 * nbytes
