#!/usr/bin/env python3
"""Generate firmware/metercrypto/mc_tables.h (constant tables for mc_core.c).

Run from anywhere:  python3 firmware/metercrypto/tools/gen_tables.py
Every table is computed from first principles (GF(2^8) arithmetic, the CRC polynomials, the
fractional parts of cube roots of primes), so the checked-in header can be re-derived and reviewed.
All tables are plain integer arrays: no pointers, hence no relocations in any build.
"""
import os


def xtime(a):
    a <<= 1
    return (a ^ 0x11B) if a & 0x100 else a


def gmul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a = xtime(a)
        b >>= 1
    return r


def sbox():
    inv = [0] * 256
    for a in range(1, 256):
        for b in range(1, 256):
            if gmul(a, b) == 1:
                inv[a] = b
                break
    s = []
    for x in range(256):
        b = inv[x]
        r = b
        for i in range(1, 5):
            r ^= ((b << i) | (b >> (8 - i))) & 0xFF
        s.append(r ^ 0x63)
    return s


def le32(b0, b1, b2, b3):
    return b0 | b1 << 8 | b2 << 16 | b3 << 24


def crc_nibble_reflected(poly, width):
    out = []
    for i in range(16):
        c = i
        for _ in range(4):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        out.append(c & ((1 << width) - 1))
    return out


def crc_nibble_normal16(poly):
    out = []
    for i in range(16):
        c = i << 12
        for _ in range(4):
            c = ((c << 1) ^ poly) if c & 0x8000 else c << 1
            c &= 0xFFFF
        out.append(c)
    return out


def primes(n):
    p, k = [], 2
    while len(p) < n:
        if all(k % q for q in p):
            p.append(k)
        k += 1
    return p


def icbrt(n):
    # integer cube root (floor)
    x = int(round(n ** (1.0 / 3)))
    while x ** 3 > n:
        x -= 1
    while (x + 1) ** 3 <= n:
        x += 1
    return x


def fmt(name, ctype, vals, width, per_line):
    lines = ["static const %s %s[%d] = {" % (ctype, name, len(vals))]
    for i in range(0, len(vals), per_line):
        lines.append("    " + " ".join("0x%0*x," % (width, v) for v in vals[i:i + per_line]))
    lines.append("};")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# DES (FIPS 46-3). These tables are the standard's own data (they have no algebraic derivation);
# gen() checks what can be checked: every S-box row is a permutation of 0..15, every permutation
# table uses distinct positions, and FP is computed as the inverse of IP.

DES_IP = [58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
          62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
          57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
          61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7]
DES_P = [16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
         2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25]
DES_PC1 = [57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18,
           10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36,
           63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22,
           14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4]
DES_PC2 = [14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
           41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32]
DES_S = [
    [14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
     4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13],
    [15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
     0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9],
    [10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
     13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12],
    [7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
     10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14],
    [2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
     4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3],
    [12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
     9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13],
    [4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
     1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12],
    [13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
     7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11],
]


def des_tables():
    for row in (DES_IP, DES_P, DES_PC1, DES_PC2):
        assert len(set(row)) == len(row)
    assert sorted(DES_IP) == list(range(1, 65)) and sorted(DES_P) == list(range(1, 33))
    assert not any(p % 8 == 0 for p in DES_PC1)  # parity bits are dropped
    for s in DES_S:
        for r in range(4):
            assert sorted(s[16 * r:16 * r + 16]) == list(range(16))
    fp = [0] * 64
    for i, src in enumerate(DES_IP):
        fp[src - 1] = i + 1
    # S-boxes indexed directly by the 6-bit input b1..b6 (row = b1 b6, column = b2..b5), two 4-bit
    # entries per byte (even input in the low nibble): 256 bytes instead of 512.
    packed = []
    for s in DES_S:
        direct = [s[16 * (((x >> 4) & 2) | (x & 1)) + ((x >> 1) & 0xF)] for x in range(64)]
        packed += [direct[2 * i] | direct[2 * i + 1] << 4 for i in range(32)]
    return fp, packed


# ---------------------------------------------------------------------------------------------
# MISTY1 (RFC 2994, section 2.3: S7TABLE and S9TABLE). Standard data too; gen() checks that both
# are permutations with differential uniformity 2 (Matsui built them as APN functions), which any
# single transcription error would break.

MISTY_S7 = [
    0x1b, 0x32, 0x33, 0x5a, 0x3b, 0x10, 0x17, 0x54, 0x5b, 0x1a, 0x72, 0x73, 0x6b, 0x2c, 0x66, 0x49,
    0x1f, 0x24, 0x13, 0x6c, 0x37, 0x2e, 0x3f, 0x4a, 0x5d, 0x0f, 0x40, 0x56, 0x25, 0x51, 0x1c, 0x04,
    0x0b, 0x46, 0x20, 0x0d, 0x7b, 0x35, 0x44, 0x42, 0x2b, 0x1e, 0x41, 0x14, 0x4b, 0x79, 0x15, 0x6f,
    0x0e, 0x55, 0x09, 0x36, 0x74, 0x0c, 0x67, 0x53, 0x28, 0x0a, 0x7e, 0x38, 0x02, 0x07, 0x60, 0x29,
    0x19, 0x12, 0x65, 0x2f, 0x30, 0x39, 0x08, 0x68, 0x5f, 0x78, 0x2a, 0x4c, 0x64, 0x45, 0x75, 0x3d,
    0x59, 0x48, 0x03, 0x57, 0x7c, 0x4f, 0x62, 0x3c, 0x1d, 0x21, 0x5e, 0x27, 0x6a, 0x70, 0x4d, 0x3a,
    0x01, 0x6d, 0x6e, 0x63, 0x18, 0x77, 0x23, 0x05, 0x26, 0x76, 0x00, 0x31, 0x2d, 0x7a, 0x7f, 0x61,
    0x50, 0x22, 0x11, 0x06, 0x47, 0x16, 0x52, 0x4e, 0x71, 0x3e, 0x69, 0x43, 0x34, 0x5c, 0x58, 0x7d,
]
MISTY_S9 = [
    0x1c3, 0x0cb, 0x153, 0x19f, 0x1e3, 0x0e9, 0x0fb, 0x035, 0x181, 0x0b9, 0x117, 0x1eb, 0x133, 0x009, 0x02d, 0x0d3,
    0x0c7, 0x14a, 0x037, 0x07e, 0x0eb, 0x164, 0x193, 0x1d8, 0x0a3, 0x11e, 0x055, 0x02c, 0x01d, 0x1a2, 0x163, 0x118,
    0x14b, 0x152, 0x1d2, 0x00f, 0x02b, 0x030, 0x13a, 0x0e5, 0x111, 0x138, 0x18e, 0x063, 0x0e3, 0x0c8, 0x1f4, 0x01b,
    0x001, 0x09d, 0x0f8, 0x1a0, 0x16d, 0x1f3, 0x01c, 0x146, 0x07d, 0x0d1, 0x082, 0x1ea, 0x183, 0x12d, 0x0f4, 0x19e,
    0x1d3, 0x0dd, 0x1e2, 0x128, 0x1e0, 0x0ec, 0x059, 0x091, 0x011, 0x12f, 0x026, 0x0dc, 0x0b0, 0x18c, 0x10f, 0x1f7,
    0x0e7, 0x16c, 0x0b6, 0x0f9, 0x0d8, 0x151, 0x101, 0x14c, 0x103, 0x0b8, 0x154, 0x12b, 0x1ae, 0x017, 0x071, 0x00c,
    0x047, 0x058, 0x07f, 0x1a4, 0x134, 0x129, 0x084, 0x15d, 0x19d, 0x1b2, 0x1a3, 0x048, 0x07c, 0x051, 0x1ca, 0x023,
    0x13d, 0x1a7, 0x165, 0x03b, 0x042, 0x0da, 0x192, 0x0ce, 0x0c1, 0x06b, 0x09f, 0x1f1, 0x12c, 0x184, 0x0fa, 0x196,
    0x1e1, 0x169, 0x17d, 0x031, 0x180, 0x10a, 0x094, 0x1da, 0x186, 0x13e, 0x11c, 0x060, 0x175, 0x1cf, 0x067, 0x119,
    0x065, 0x068, 0x099, 0x150, 0x008, 0x007, 0x17c, 0x0b7, 0x024, 0x019, 0x0de, 0x127, 0x0db, 0x0e4, 0x1a9, 0x052,
    0x109, 0x090, 0x19c, 0x1c1, 0x028, 0x1b3, 0x135, 0x16a, 0x176, 0x0df, 0x1e5, 0x188, 0x0c5, 0x16e, 0x1de, 0x1b1,
    0x0c3, 0x1df, 0x036, 0x0ee, 0x1ee, 0x0f0, 0x093, 0x049, 0x09a, 0x1b6, 0x069, 0x081, 0x125, 0x00b, 0x05e, 0x0b4,
    0x149, 0x1c7, 0x174, 0x03e, 0x13b, 0x1b7, 0x08e, 0x1c6, 0x0ae, 0x010, 0x095, 0x1ef, 0x04e, 0x0f2, 0x1fd, 0x085,
    0x0fd, 0x0f6, 0x0a0, 0x16f, 0x083, 0x08a, 0x156, 0x09b, 0x13c, 0x107, 0x167, 0x098, 0x1d0, 0x1e9, 0x003, 0x1fe,
    0x0bd, 0x122, 0x089, 0x0d2, 0x18f, 0x012, 0x033, 0x06a, 0x142, 0x0ed, 0x170, 0x11b, 0x0e2, 0x14f, 0x158, 0x131,
    0x147, 0x05d, 0x113, 0x1cd, 0x079, 0x161, 0x1a5, 0x179, 0x09e, 0x1b4, 0x0cc, 0x022, 0x132, 0x01a, 0x0e8, 0x004,
    0x187, 0x1ed, 0x197, 0x039, 0x1bf, 0x1d7, 0x027, 0x18b, 0x0c6, 0x09c, 0x0d0, 0x14e, 0x06c, 0x034, 0x1f2, 0x06e,
    0x0ca, 0x025, 0x0ba, 0x191, 0x0fe, 0x013, 0x106, 0x02f, 0x1ad, 0x172, 0x1db, 0x0c0, 0x10b, 0x1d6, 0x0f5, 0x1ec,
    0x10d, 0x076, 0x114, 0x1ab, 0x075, 0x10c, 0x1e4, 0x159, 0x054, 0x11f, 0x04b, 0x0c4, 0x1be, 0x0f7, 0x029, 0x0a4,
    0x00e, 0x1f0, 0x077, 0x04d, 0x17a, 0x086, 0x08b, 0x0b3, 0x171, 0x0bf, 0x10e, 0x104, 0x097, 0x15b, 0x160, 0x168,
    0x0d7, 0x0bb, 0x066, 0x1ce, 0x0fc, 0x092, 0x1c5, 0x06f, 0x016, 0x04a, 0x0a1, 0x139, 0x0af, 0x0f1, 0x190, 0x00a,
    0x1aa, 0x143, 0x17b, 0x056, 0x18d, 0x166, 0x0d4, 0x1fb, 0x14d, 0x194, 0x19a, 0x087, 0x1f8, 0x123, 0x0a7, 0x1b8,
    0x141, 0x03c, 0x1f9, 0x140, 0x02a, 0x155, 0x11a, 0x1a1, 0x198, 0x0d5, 0x126, 0x1af, 0x061, 0x12e, 0x157, 0x1dc,
    0x072, 0x18a, 0x0aa, 0x096, 0x115, 0x0ef, 0x045, 0x07b, 0x08d, 0x145, 0x053, 0x05f, 0x178, 0x0b2, 0x02e, 0x020,
    0x1d5, 0x03f, 0x1c9, 0x1e7, 0x1ac, 0x044, 0x038, 0x014, 0x0b1, 0x16b, 0x0ab, 0x0b5, 0x05a, 0x182, 0x1c8, 0x1d4,
    0x018, 0x177, 0x064, 0x0cf, 0x06d, 0x100, 0x199, 0x130, 0x15a, 0x005, 0x120, 0x1bb, 0x1bd, 0x0e0, 0x04f, 0x0d6,
    0x13f, 0x1c4, 0x12a, 0x015, 0x006, 0x0ff, 0x19b, 0x0a6, 0x043, 0x088, 0x050, 0x15f, 0x1e8, 0x121, 0x073, 0x17e,
    0x0bc, 0x0c2, 0x0c9, 0x173, 0x189, 0x1f5, 0x074, 0x1cc, 0x1e6, 0x1a8, 0x195, 0x01f, 0x041, 0x00d, 0x1ba, 0x032,
    0x03d, 0x1d1, 0x080, 0x0a8, 0x057, 0x1b9, 0x162, 0x148, 0x0d9, 0x105, 0x062, 0x07a, 0x021, 0x1ff, 0x112, 0x108,
    0x1c0, 0x0a9, 0x11d, 0x1b0, 0x1a6, 0x0cd, 0x0f3, 0x05c, 0x102, 0x05b, 0x1d9, 0x144, 0x1f6, 0x0ad, 0x0a5, 0x03a,
    0x1cb, 0x136, 0x17f, 0x046, 0x0e1, 0x01e, 0x1dd, 0x0e6, 0x137, 0x1fa, 0x185, 0x08c, 0x08f, 0x040, 0x1b5, 0x0be,
    0x078, 0x000, 0x0ac, 0x110, 0x15e, 0x124, 0x002, 0x1bc, 0x0a2, 0x0ea, 0x070, 0x1fc, 0x116, 0x15c, 0x04c, 0x1c2,
]


def differential_uniformity(s):
    n = len(s)
    worst = 0
    for a in range(1, n):
        counts = [0] * n
        for x in range(n):
            counts[s[x] ^ s[x ^ a]] += 1
        worst = max(worst, max(counts))
    return worst


def misty_tables():
    for s in (MISTY_S7, MISTY_S9):
        assert sorted(s) == list(range(len(s)))
        assert differential_uniformity(s) == 2
    # S9 packed: low 8 bits per entry, plus the 9th bits as a 512-bit array.
    lo = [v & 0xFF for v in MISTY_S9]
    hi = [sum(((MISTY_S9[8 * i + b] >> 8) & 1) << b for b in range(8)) for i in range(64)]
    return lo, hi


# ---------------------------------------------------------------------------------------------
# SHA-512 (FIPS 180-4 4.2.3 and 5.3.5): fractional parts of cube / square roots of primes.

def iroot(n, k):
    x = int(round(n ** (1.0 / k))) if n < 1 << 1000 else 1 << (n.bit_length() // k)
    while x ** k > n:
        x -= 1
    while (x + 1) ** k <= n:
        x += 1
    return x


def sha512_tables():
    m = (1 << 64) - 1
    k = [iroot(p << 192, 3) & m for p in primes(80)]
    iv = [iroot(p << 128, 2) & m for p in primes(8)]
    assert k[0] == 0x428a2f98d728ae22 and iv[0] == 0x6a09e667f3bcc908
    return k, iv


# ---------------------------------------------------------------------------------------------
# Ed25519 (RFC 8032 5.1): field constants as 10 limbs of 26/25 bits (radix 2^25.5), the group
# order L, and the base point B (y = 4/5, x even).

P25519 = 2 ** 255 - 19
L25519 = 2 ** 252 + 27742317777372353535851937790883648493
LIMB_POS = [0, 26, 51, 77, 102, 128, 153, 179, 204, 230]


def limbs(v):
    out = []
    for i, pos in enumerate(LIMB_POS):
        width = 26 - (i & 1)
        out.append((v >> pos) & ((1 << width) - 1))
    return out


def ed25519_tables():
    p = P25519
    d = (-121665 * pow(121666, p - 2, p)) % p
    sqrtm1 = pow(2, (p - 1) // 4, p)
    assert sqrtm1 * sqrtm1 % p == p - 1
    by = 4 * pow(5, p - 2, p) % p
    xx = (by * by - 1) * pow(d * by * by + 1, p - 2, p) % p
    bx = pow(xx, (p + 3) // 8, p)
    if (bx * bx - xx) % p:
        bx = bx * sqrtm1 % p
    if bx & 1:
        bx = p - bx
    assert (-bx * bx + by * by - 1 - d * bx * bx * by * by) % p == 0
    return {"d": d, "d2": 2 * d % p, "sqrtm1": sqrtm1, "bx": bx, "by": by, "bt": bx * by % p}


def fmt64(name, vals):
    lines = ["static const uint64_t %s[%d] = {" % (name, len(vals))]
    for i in range(0, len(vals), 3):
        lines.append("    " + " ".join("UINT64_C(0x%016x)," % v for v in vals[i:i + 3]))
    lines.append("};")
    return "\n".join(lines)


def main():
    s = sbox()
    inv_s = [0] * 256
    for i, v in enumerate(s):
        inv_s[v] = i
    # Little-endian column words: byte 0 of the word is row 0 of the state column.
    te = [le32(gmul(v, 2), v, v, gmul(v, 3)) for v in s]
    td = [le32(gmul(v, 14), gmul(v, 9), gmul(v, 13), gmul(v, 11)) for v in inv_s]
    # GHASH 4-bit reduction: bit 3 of the nibble is x^124 (becomes x^128 after the shift).
    base = [0x1C20, 0x3840, 0x7080, 0xE100]
    r4 = []
    for r in range(16):
        v = 0
        for bit in range(4):
            if r >> bit & 1:
                v ^= base[bit]
        r4.append(v)
    enc36 = [0x16, 0x0D, 0x0E, 0x0B, 0x1C, 0x19, 0x1A, 0x13, 0x2C, 0x25, 0x26, 0x23, 0x34, 0x31, 0x32, 0x29]
    assert all(bin(v).count("1") == 3 for v in enc36) and len(set(enc36)) == 16
    dec36 = [0xFF] * 64
    for nib, word in enumerate(enc36):
        dec36[word] = nib
    k256 = [icbrt(p << 96) & 0xFFFFFFFF for p in primes(64)]
    des_fp, des_sbox = des_tables()
    s9lo, s9hi = misty_tables()
    k512, iv512 = sha512_tables()
    ed = ed25519_tables()
    out = [
        "// Generated by tools/gen_tables.py - do not edit by hand.",
        "// Integer-only constant tables (no pointers): they need no relocation in a native .mpy and",
        "// stay in flash (.rodata) in a firmware build.",
        "#ifndef MC_TABLES_H",
        "#define MC_TABLES_H",
        "",
        "// AES forward round table, little-endian column word (2s, s, s, 3s); s = S-box(x) is byte 1.",
        fmt("mc_te", "uint32_t", te, 8, 6),
        "",
        "// AES inverse round table, little-endian column word (14t, 9t, 13t, 11t) with t = InvS-box(x).",
        fmt("mc_td", "uint32_t", td, 8, 6),
        "",
        "// AES inverse S-box (final decryption round).",
        fmt("mc_inv_sbox", "uint8_t", inv_s, 2, 16),
        "",
        "// GHASH (4-bit Shoup tables): reduction of the 4 bits shifted out, top 16 bits of the block.",
        fmt("mc_ghash_r4", "uint16_t", r4, 4, 8),
        "",
        "// SHA-256 round constants (FIPS 180-4 4.2.2).",
        fmt("mc_sha256_k", "uint32_t", k256, 8, 8),
        "",
        "// CRC nibble tables.",
        "// Reflected 0x8005 (0xA001): CRC-16/ARC and CRC-16/MODBUS.",
        fmt("mc_crc16_a001", "uint16_t", crc_nibble_reflected(0xA001, 16), 4, 8),
        "// Non-reflected 0x3D65: CRC-16/EN-13757.",
        fmt("mc_crc16_3d65", "uint16_t", crc_nibble_normal16(0x3D65), 4, 8),
        "// Reflected 0x04C11DB7 (0xEDB88320): CRC-32 (zlib).",
        fmt("mc_crc32_tab", "uint32_t", crc_nibble_reflected(0xEDB88320, 32), 8, 8),
        "",
        "// EN 13757-4 mode T 3-of-6 code words (nibble -> 6-bit word) and the inverse (0xff: invalid).",
        fmt("mc_3of6_enc", "uint8_t", enc36, 2, 16),
        fmt("mc_3of6_dec", "uint8_t", dec36, 2, 16),
        "",
        "// DES (FIPS 46-3): bit positions are 1-based, MSB first, as in the standard's tables.",
        "// Initial permutation, its inverse (computed), P, PC-1 and PC-2.",
        fmt("mc_des_ip", "uint8_t", DES_IP, 2, 16),
        fmt("mc_des_fp", "uint8_t", des_fp, 2, 16),
        fmt("mc_des_p", "uint8_t", DES_P, 2, 16),
        fmt("mc_des_pc1", "uint8_t", DES_PC1, 2, 14),
        fmt("mc_des_pc2", "uint8_t", DES_PC2, 2, 12),
        "// S1..S8 indexed by the 6-bit input, two 4-bit outputs per byte (even input: low nibble).",
        fmt("mc_des_sbox", "uint8_t", des_sbox, 2, 16),
        "",
        "// MISTY1 (RFC 2994 2.3): S7, and S9 as low bytes plus a bit array of the ninth bits.",
        fmt("mc_misty_s7", "uint8_t", MISTY_S7, 2, 16),
        fmt("mc_misty_s9lo", "uint8_t", s9lo, 2, 16),
        fmt("mc_misty_s9hi", "uint8_t", s9hi, 2, 16),
        "",
        "// SHA-512 round constants and initial hash value (FIPS 180-4 4.2.3, 5.3.5).",
        fmt64("mc_sha512_k", k512),
        fmt64("mc_sha512_iv", iv512),
        "",
        "// Ed25519 (RFC 8032 5.1): field elements as 10 limbs of 26/25 bits (radix 2^25.5).",
        fmt("mc_ed_d", "uint32_t", limbs(ed["d"]), 8, 10),
        fmt("mc_ed_d2", "uint32_t", limbs(ed["d2"]), 8, 10),
        fmt("mc_ed_sqrtm1", "uint32_t", limbs(ed["sqrtm1"]), 8, 10),
        "// Base point B in extended coordinates: X, Y, Z = 1, T = XY (10 limbs each).",
        fmt("mc_ed_b", "uint32_t", limbs(ed["bx"]) + limbs(ed["by"]) + limbs(1) + limbs(ed["bt"]), 8, 10),
        "// Group order L, little-endian bytes.",
        fmt("mc_ed_l", "uint8_t", list(L25519.to_bytes(32, "little")), 2, 16),
        "",
        "#endif // MC_TABLES_H",
        "",
    ]
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mc_tables.h")
    with open(path, "w") as f:
        f.write("\n".join(out))
    print("wrote", path)


if __name__ == "__main__":
    main()
