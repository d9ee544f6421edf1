# EA07, the STS Standard Transfer Algorithm (IEC 62055-41 STA): decryption of one 64-bit block.
#
# STA is a 16-round substitution-permutation cipher with a 64-bit key and no key schedule beyond a
# rotation. Decryption, per round j = 0..15 (bits numbered 0 = least significant):
#   1. permutation: block bit i moves to bit P_D[i], P_D being the inverse of the encryption table;
#   2. substitution: every nibble n goes through the inverse of substitution table 1 if bit 4n of
#      the round key is 1, else through the inverse of table 2;
#   3. the round key rotates right by one bit (round 0 uses the decoder key as it is).
# (Encryption runs the mirror image from a complemented key rotated right by 12: its round 15 key
# selects with the nibbles' most significant bit what decryption round 0 selects with bit 4n.)
#
# Tables: the STA tables in force for STS-certified equipment. The text of IEC 62055-41 prints
# *sample* tables (substitution table 1 starting 12, 10, 8, 4 ...); those do not reproduce the
# STS conformance tokens (CTSA01 in shared/vectors/sts.json), these do, bit for bit.
#
# Speed on a bytecode interpreter: a substitution followed by the next round's permutation maps
# each input nibble to a fixed 64-bit pattern, so the two are folded into one table indexed by
# (nibble position, table choice, nibble value) -> four 16-bit words, 4 KB: generated constants in
# sta_tables.py (host_tools/gen_sta_tables.py), split into low and high bytes, so a frozen image
# keeps them in flash instead of building them on the heap at import. Decryption is then P, [I P] x 15, I: the first lone P is the folded step applied to
# a block pre-substituted with the forward table that step undoes. The 64-bit block lives in four
# 16-bit words (31-bit small ints on 32-bit ports); decrypt_into allocates nothing.
from array import array

from meter.cores.sts.sta_tables import T0L, T0H, T1L, T1H, T2L, T2H, T3L, T3H

SUBST1 = b"\x0e\x0a\x07\x09\x0c\x03\x02\x05\x0d\x00\x0f\x01\x04\x08\x06\x0b"
SUBST2 = b"\x0c\x08\x02\x0d\x07\x06\x01\x03\x0b\x05\x09\x0f\x00\x04\x0a\x0e"
# encryption permutation: block bit i goes to bit PERM[i]
PERM = bytes((55, 42, 10, 18, 24, 21, 44, 35, 2, 22, 56, 43, 27, 58, 9, 50, 6, 36, 12, 61, 37, 38,
             53, 16, 62, 3, 7, 4, 32, 20, 63, 25, 51, 52, 54, 33, 49, 19, 46, 29, 48, 31, 23, 30,
             41, 28, 13, 5, 40, 60, 39, 11, 15, 17, 1, 0, 57, 34, 59, 8, 47, 14, 45, 26))


def _inverse(t):
    r = bytearray(len(t))
    for i in range(len(t)):
        r[t[i]] = i
    return r


_I1 = _inverse(SUBST1)
_I2 = _inverse(SUBST2)


_KB = bytearray(77)  # _KB[i] = decoder key bit (i - 1) & 63: index f + 4n for folded step f
_ST = array("H", (0, 0, 0, 0))  # the block, _ST[0] = bits 15..0


def _substitute(st, kb, off, s1, s2):
    """Nibble n of the block through s1 if key bit _KB[4n + off] is 1, else through s2."""
    for n in range(16):
        q = n >> 2
        sh = (n & 3) << 2
        w = st[q]
        f = s1 if kb[(n << 2) + off] else s2
        st[q] = (w & ~(15 << sh)) | (f[(w >> sh) & 15] << sh)


def decrypt_into(key, blk):
    """Decrypt the 8-byte block blk (big-endian, bytearray or writable memoryview) in place with
    the 8-byte decoder key. Allocates nothing; the key's bits pass through a module scratch buffer,
    cleared again before returning."""
    kb = _KB
    for q in range(8):  # bits 0..63 at 1..64, eight at a time
        v = key[7 - q]
        o = (q << 3) + 1
        kb[o] = v & 1
        kb[o + 1] = v >> 1 & 1
        kb[o + 2] = v >> 2 & 1
        kb[o + 3] = v >> 3 & 1
        kb[o + 4] = v >> 4 & 1
        kb[o + 5] = v >> 5 & 1
        kb[o + 6] = v >> 6 & 1
        kb[o + 7] = v >> 7
    kb[0] = kb[64]  # bit 63 before bit 0, bits 0..11 again after bit 63: no wrapping in the rounds
    for i in range(1, 13):
        kb[64 + i] = kb[i]
    st = _ST
    st[3] = blk[0] << 8 | blk[1]
    st[2] = blk[2] << 8 | blk[3]
    st[1] = blk[4] << 8 | blk[5]
    st[0] = blk[6] << 8 | blk[7]
    # pre-substitute with the forward table that the first folded step inverts (its selection
    # bit, 4n - 1), so that step is the bare first permutation
    _substitute(st, kb, 0, SUBST1, SUBST2)
    t0l = T0L
    t0h = T0H
    t1l = T1L
    t1h = T1H
    t2l = T2L
    t2h = T2H
    t3l = T3L
    t3h = T3H
    w0 = st[0]
    w1 = st[1]
    w2 = st[2]
    w3 = st[3]
    for j in range(16):  # folded step j: inverse substitution of round j - 1 (key bit 4n + j - 1), P
        # unrolled over the 16 nibbles (this loop is the whole cost of a token); a nibble ORs only
        # into the words its 4 bits reach under P (42 of 64 word updates; the tests check it all)
        a0 = a1 = a2 = a3 = 0
        i = kb[j] << 4 | w0 & 15
        a0 |= t0l[i] | t0h[i] << 8; a1 |= t1l[i] | t1h[i] << 8; a3 |= t3l[i] | t3h[i] << 8  # noqa: E702
        i = 32 | kb[j + 4] << 4 | w0 >> 4 & 15
        a1 |= t1l[i] | t1h[i] << 8; a2 |= t2l[i] | t2h[i] << 8  # noqa: E702
        i = 64 | kb[j + 8] << 4 | w0 >> 8 & 15
        a0 |= t0l[i] | t0h[i] << 8; a3 |= t3l[i] | t3h[i] << 8  # noqa: E702
        i = 96 | kb[j + 12] << 4 | w0 >> 12 & 15
        a1 |= t1l[i] | t1h[i] << 8; a2 |= t2l[i] | t2h[i] << 8; a3 |= t3l[i] | t3h[i] << 8  # noqa: E702
        i = 128 | kb[j + 16] << 4 | w1 & 15
        a0 |= t0l[i] | t0h[i] << 8; a1 |= t1l[i] | t1h[i] << 8; a2 |= t2l[i] | t2h[i] << 8; a3 |= t3l[i] | t3h[i] << 8  # noqa: E702
        i = 160 | kb[j + 20] << 4 | w1 >> 4 & 15
        a0 |= t0l[i] | t0h[i] << 8; a1 |= t1l[i] | t1h[i] << 8; a2 |= t2l[i] | t2h[i] << 8  # noqa: E702
        i = 192 | kb[j + 24] << 4 | w1 >> 8 & 15
        a0 |= t0l[i] | t0h[i] << 8; a1 |= t1l[i] | t1h[i] << 8; a3 |= t3l[i] | t3h[i] << 8  # noqa: E702
        i = 224 | kb[j + 28] << 4 | w1 >> 12 & 15
        a2 |= t2l[i] | t2h[i] << 8
        i = 256 | kb[j + 32] << 4 | w2 & 15
        a0 |= t0l[i] | t0h[i] << 8; a1 |= t1l[i] | t1h[i] << 8; a2 |= t2l[i] | t2h[i] << 8; a3 |= t3l[i] | t3h[i] << 8  # noqa: E702
        i = 288 | kb[j + 36] << 4 | w2 >> 4 & 15
        a1 |= t1l[i] | t1h[i] << 8; a3 |= t3l[i] | t3h[i] << 8  # noqa: E702
        i = 320 | kb[j + 40] << 4 | w2 >> 8 & 15
        a0 |= t0l[i] | t0h[i] << 8; a2 |= t2l[i] | t2h[i] << 8; a3 |= t3l[i] | t3h[i] << 8  # noqa: E702
        i = 352 | kb[j + 44] << 4 | w2 >> 12 & 15
        a0 |= t0l[i] | t0h[i] << 8; a2 |= t2l[i] | t2h[i] << 8; a3 |= t3l[i] | t3h[i] << 8  # noqa: E702
        i = 384 | kb[j + 48] << 4 | w3 & 15
        a0 |= t0l[i] | t0h[i] << 8; a2 |= t2l[i] | t2h[i] << 8  # noqa: E702
        i = 416 | kb[j + 52] << 4 | w3 >> 4 & 15
        a0 |= t0l[i] | t0h[i] << 8; a1 |= t1l[i] | t1h[i] << 8; a2 |= t2l[i] | t2h[i] << 8  # noqa: E702
        i = 448 | kb[j + 56] << 4 | w3 >> 8 & 15
        a0 |= t0l[i] | t0h[i] << 8; a3 |= t3l[i] | t3h[i] << 8  # noqa: E702
        i = 480 | kb[j + 60] << 4 | w3 >> 12 & 15
        a1 |= t1l[i] | t1h[i] << 8; a3 |= t3l[i] | t3h[i] << 8  # noqa: E702
        w0 = a0
        w1 = a1
        w2 = a2
        w3 = a3
    st[0] = w0
    st[1] = w1
    st[2] = w2
    st[3] = w3
    _substitute(st, kb, 16, _I1, _I2)  # the last inverse substitution, round 15: key bit 4n + 15
    for q in range(4):
        w = st[3 - q]
        blk[q << 1] = w >> 8
        blk[(q << 1) + 1] = w & 0xFF
    for i in range(77):
        kb[i] = 0


def wipe():
    """Clear the scratch buffers (key bits, block)."""
    for i in range(77):
        _KB[i] = 0
    for q in range(4):
        _ST[q] = 0
