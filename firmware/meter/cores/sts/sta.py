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
# (nibble position, table choice, nibble value) -> four 16-bit words (2048 words, 4 KB, built once
# at import). Decryption is then P, [I P] x 15, I: the first lone P is the folded step applied to
# a block pre-substituted with the forward table that step undoes. The 64-bit block lives in four
# 16-bit words (31-bit small ints on 32-bit ports); decrypt_into allocates nothing.
from array import array

_S1 = b"\x0e\x0a\x07\x09\x0c\x03\x02\x05\x0d\x00\x0f\x01\x04\x08\x06\x0b"
_S2 = b"\x0c\x08\x02\x0d\x07\x06\x01\x03\x0b\x05\x09\x0f\x00\x04\x0a\x0e"
# encryption permutation: block bit i goes to bit _PE[i]
_PE = bytes((55, 42, 10, 18, 24, 21, 44, 35, 2, 22, 56, 43, 27, 58, 9, 50, 6, 36, 12, 61, 37, 38,
             53, 16, 62, 3, 7, 4, 32, 20, 63, 25, 51, 52, 54, 33, 49, 19, 46, 29, 48, 31, 23, 30,
             41, 28, 13, 5, 40, 60, 39, 11, 15, 17, 1, 0, 57, 34, 59, 8, 47, 14, 45, 26))


def _inverse(t):
    r = bytearray(len(t))
    for i in range(len(t)):
        r[t[i]] = i
    return r


_I1 = _inverse(_S1)
_I2 = _inverse(_S2)


def _fold():
    pd = _inverse(_PE)
    t = array("H", bytes(4096))
    for n in range(16):
        for s in range(2):
            inv = _I1 if s else _I2
            for v in range(16):
                x = inv[v]
                base = (n << 7) | (s << 6) | (v << 2)
                for b in range(4):
                    if x >> b & 1:
                        d = pd[(n << 2) | b]
                        t[base + (d >> 4)] |= 1 << (d & 15)
    return t


_T = _fold()
_KB = bytearray(64)  # decoder key bits, _KB[i] = bit i
_ST = array("H", (0, 0, 0, 0))  # the block, _ST[0] = bits 15..0


def decrypt_into(key, blk):
    """Decrypt the 8-byte block blk (big-endian, bytearray or writable memoryview) in place with
    the 8-byte decoder key. Allocates nothing; leaves the key's bits in a module scratch buffer,
    which it overwrites on the next call (call wipe() to clear it at once)."""
    kb = _KB
    for i in range(64):
        kb[i] = (key[7 - (i >> 3)] >> (i & 7)) & 1
    st = _ST
    st[3] = blk[0] << 8 | blk[1]
    st[2] = blk[2] << 8 | blk[3]
    st[1] = blk[4] << 8 | blk[5]
    st[0] = blk[6] << 8 | blk[7]
    # pre-substitute with the forward table that the first folded step inverts (selection bit
    # 4n - 1 = the first folded step's), so that step is the bare first permutation
    for n in range(16):
        q = n >> 2
        sh = (n & 3) << 2
        w = st[q]
        f = _S1 if kb[((n << 2) + 63) & 63] else _S2
        st[q] = (w & ~(15 << sh)) | (f[(w >> sh) & 15] << sh)
    t = _T
    for j in range(63, 79):  # folded step j-63: inverse substitution of round j-64, then P
        a0 = a1 = a2 = a3 = 0
        for n in range(16):
            i = (n << 7) | (kb[(j + (n << 2)) & 63] << 6) | (((st[n >> 2] >> ((n & 3) << 2)) & 15) << 2)
            a0 |= t[i]
            a1 |= t[i + 1]
            a2 |= t[i + 2]
            a3 |= t[i + 3]
        st[0] = a0
        st[1] = a1
        st[2] = a2
        st[3] = a3
    for n in range(16):  # the last inverse substitution, round 15: selection bit 4n + 15
        q = n >> 2
        sh = (n & 3) << 2
        w = st[q]
        f = _I1 if kb[((n << 2) + 15) & 63] else _I2
        st[q] = (w & ~(15 << sh)) | (f[(w >> sh) & 15] << sh)
    for q in range(4):
        w = st[3 - q]
        blk[q << 1] = w >> 8
        blk[(q << 1) + 1] = w & 0xFF


def wipe():
    """Clear the key bits and block left in the scratch buffers."""
    for i in range(64):
        _KB[i] = 0
    for q in range(4):
        _ST[q] = 0
