"""Pure-Python MISTY1 written from RFC 2994 (section 2), for the differential tests only: no peer
library implements MISTY1, so tests/test_crypto_diff.py checks the C module against this.

Independent of mc_core.c in structure: it follows the RFC's pseudo-code literally (the 32-entry
expanded key EK with its 9-bit and 7-bit halves, '%' and '/' as written, FL/FLINV by key index,
the round sequence spelled out). The S-box data S7/S9 is the RFC's table, taken from
firmware/metercrypto/tools/gen_tables.py (the one transcription in the project), which checks it
for what the MISTY1 design guarantees: both are permutations with differential uniformity 2;
the RFC's own test vectors (tests/mp/mpt_crypto_block64.py) check it end to end.
"""
import importlib.util
import os

_GEN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware", "metercrypto", "tools",
                    "gen_tables.py")
_spec = importlib.util.spec_from_file_location("mc_gen_tables", _GEN)
_gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_gen)
S7TABLE = _gen.MISTY_S7
S9TABLE = _gen.MISTY_S9


def FI(fi_in, fi_key):
    d9 = fi_in >> 7
    d7 = fi_in & 0x7F
    d9 = S9TABLE[d9] ^ d7
    d7 = S7TABLE[d7] ^ d9
    d7 = d7 & 0x7F
    d7 = d7 ^ (fi_key >> 9)
    d9 = d9 ^ (fi_key & 0x1FF)
    d9 = S9TABLE[d9] ^ d7
    return (d7 << 9) | d9


def key_schedule(key):
    assert len(key) == 16
    EK = [0] * 32
    for i in range(8):
        EK[i] = key[i * 2] * 256 + key[i * 2 + 1]
    for i in range(8):
        EK[i + 8] = FI(EK[i], EK[(i + 1) % 8])
        EK[i + 16] = EK[i + 8] & 0x1FF
        EK[i + 24] = EK[i + 8] >> 9
    return EK


def FO(EK, fo_in, k):
    t0 = fo_in >> 16
    t1 = fo_in & 0xFFFF
    t0 = t0 ^ EK[k]
    t0 = FI(t0, EK[(k + 5) % 8 + 8])
    t0 = t0 ^ t1
    t1 = t1 ^ EK[(k + 2) % 8]
    t1 = FI(t1, EK[(k + 1) % 8 + 8])
    t1 = t1 ^ t0
    t0 = t0 ^ EK[(k + 7) % 8]
    t0 = FI(t0, EK[(k + 3) % 8 + 8])
    t0 = t0 ^ t1
    t1 = t1 ^ EK[(k + 4) % 8]
    return (t1 << 16) | t0


def FL(EK, fl_in, k):
    d0 = fl_in >> 16
    d1 = fl_in & 0xFFFF
    if k % 2 == 0:
        d1 = d1 ^ (d0 & EK[k // 2])
        d0 = d0 ^ (d1 | EK[(k // 2 + 6) % 8 + 8])
    else:
        d1 = d1 ^ (d0 & EK[((k - 1) // 2 + 2) % 8 + 8])
        d0 = d0 ^ (d1 | EK[((k - 1) // 2 + 4) % 8])
    return (d0 << 16) | d1


def FLINV(EK, fl_in, k):
    d0 = fl_in >> 16
    d1 = fl_in & 0xFFFF
    if k % 2 == 0:
        d0 = d0 ^ (d1 | EK[(k // 2 + 6) % 8 + 8])
        d1 = d1 ^ (d0 & EK[k // 2])
    else:
        d0 = d0 ^ (d1 | EK[((k - 1) // 2 + 4) % 8])
        d1 = d1 ^ (d0 & EK[((k - 1) // 2 + 2) % 8 + 8])
    return (d0 << 16) | d1


def encrypt_block(EK, p):
    D0 = int.from_bytes(p[:4], "big")
    D1 = int.from_bytes(p[4:], "big")
    # 0 round
    D0 = FL(EK, D0, 0)
    D1 = FL(EK, D1, 1)
    D1 = D1 ^ FO(EK, D0, 0)
    # 1 round
    D0 = D0 ^ FO(EK, D1, 1)
    # 2 round
    D0 = FL(EK, D0, 2)
    D1 = FL(EK, D1, 3)
    D1 = D1 ^ FO(EK, D0, 2)
    # 3 round
    D0 = D0 ^ FO(EK, D1, 3)
    # 4 round
    D0 = FL(EK, D0, 4)
    D1 = FL(EK, D1, 5)
    D1 = D1 ^ FO(EK, D0, 4)
    # 5 round
    D0 = D0 ^ FO(EK, D1, 5)
    # 6 round
    D0 = FL(EK, D0, 6)
    D1 = FL(EK, D1, 7)
    D1 = D1 ^ FO(EK, D0, 6)
    # 7 round
    D0 = D0 ^ FO(EK, D1, 7)
    # final
    D0 = FL(EK, D0, 8)
    D1 = FL(EK, D1, 9)
    return D1.to_bytes(4, "big") + D0.to_bytes(4, "big")


def decrypt_block(EK, c):
    D1 = int.from_bytes(c[:4], "big")
    D0 = int.from_bytes(c[4:], "big")
    D0 = FLINV(EK, D0, 8)
    D1 = FLINV(EK, D1, 9)
    D0 = D0 ^ FO(EK, D1, 7)
    D1 = D1 ^ FO(EK, D0, 6)
    D0 = FLINV(EK, D0, 6)
    D1 = FLINV(EK, D1, 7)
    D0 = D0 ^ FO(EK, D1, 5)
    D1 = D1 ^ FO(EK, D0, 4)
    D0 = FLINV(EK, D0, 4)
    D1 = FLINV(EK, D1, 5)
    D0 = D0 ^ FO(EK, D1, 3)
    D1 = D1 ^ FO(EK, D0, 2)
    D0 = FLINV(EK, D0, 2)
    D1 = FLINV(EK, D1, 3)
    D0 = D0 ^ FO(EK, D1, 1)
    D1 = D1 ^ FO(EK, D0, 0)
    D0 = FLINV(EK, D0, 0)
    D1 = FLINV(EK, D1, 1)
    return D0.to_bytes(4, "big") + D1.to_bytes(4, "big")


def ecb(key, data, encrypt=True):
    assert len(data) % 8 == 0
    EK = key_schedule(key)
    f = encrypt_block if encrypt else decrypt_block
    return b"".join(f(EK, data[i:i + 8]) for i in range(0, len(data), 8))


def _self_test():
    k = bytes.fromhex("00112233445566778899aabbccddeeff")
    assert ecb(k, bytes.fromhex("0123456789abcdef")) == bytes.fromhex("8b1da5f56ab3d07c")
    assert ecb(k, bytes.fromhex("fedcba9876543210")) == bytes.fromhex("04b68240b13be95d")
    assert ecb(k, bytes.fromhex("8b1da5f56ab3d07c"), False) == bytes.fromhex("0123456789abcdef")


_self_test()
