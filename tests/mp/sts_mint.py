# Test helper (runs in MicroPython, not a test file): mint STS tokens inside the interpreter, for
# the tests in mpt_sts_*.py and the driver sts_driver.py. It takes a different road from the
# decoder under test: STA *encryption* on long ints, bit by bit (the decoder only decrypts, with
# folded tables and 16-bit words), a bitwise CRC (the decoder uses metercrypto), and long-int
# digits (the decoder uses 16-bit limbs). Only the STA tables are shared (sta.SUBST1, SUBST2,
# PERM); the public vectors pin those (tests/test_sts_vectors.py).
from meter.cores.sts import sta

M64 = (1 << 64) - 1


def crc16(data):
    c = 0xFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


def block(cls, sub, fields):
    """64-bit plaintext: subclass, then (value, bits) fields (44 bits in all), then the CRC."""
    head = sub
    width = 4
    for v, bits in fields:
        assert 0 <= v < (1 << bits), (v, bits)
        head = (head << bits) | v
        width += bits
    assert width == 48, width
    c = crc16(((cls << 48) | head).to_bytes(7, "big"))
    return (head << 16) | ((c & 0xFF) << 8) | (c >> 8)


def key_int(key8):
    return int.from_bytes(bytes(key8), "big")


def encrypt(key8, blk):
    k = key_int(key8) ^ M64
    k = ((k >> 12) | (k << 52)) & M64  # key alignment: complement, rotate right 12
    for _ in range(16):
        s = 0
        for n in range(16):
            t = sta.SUBST2 if (k >> (4 * n + 3)) & 1 else sta.SUBST1
            s |= t[(blk >> (4 * n)) & 15] << (4 * n)
        blk = 0
        for i in range(64):
            if (s >> i) & 1:
                blk |= 1 << sta.PERM[i]
        k = ((k << 1) | (k >> 63)) & M64
    return blk


def digits(cls, cipher):
    displaced = (cipher >> 27) & 3
    n = (displaced << 64) | (cipher & (M64 ^ (3 << 27))) | (cls << 27)
    s = str(n)
    return "0" * (20 - len(s)) + s


def seal(key8, cls, plain, enc=None):
    """The digits of a plaintext block: class 1 as it is, else encrypted with STA, or with
    enc(key, block) (a stand-in cipher for the EA09 / EA11 dispatch tests)."""
    if cls == 1:
        return digits(cls, plain)
    return digits(cls, (enc or encrypt)(key8, plain))


def tid_token(key8, cls, sub, value, tid, rnd=0):
    return seal(key8, cls, block(cls, sub, ((rnd, 4), (tid, 24), (value, 16))))


def credit(key8, field, tid, sub=0, rnd=0):
    return tid_token(key8, 0, sub, field, tid, rnd)


def kct_set(key8, new_key, kt=2, krn=2, ti=1, ken=255, ro=0, sgc=0, enc=None):
    """The key change tokens [3, 4] (64-bit new key) or [3, 4, 8, 9] (128-bit)."""
    nk = bytes(new_key)
    w = lambda a: int.from_bytes(nk[a:a + 4], "big")  # noqa: E731
    wide = len(nk) == 16
    out = [seal(key8, 2, block(2, 3, ((ken >> 4, 4), (krn, 4), (ro, 1), (0, 1), (kt, 2), (w(0), 32))), enc),
           seal(key8, 2, block(2, 4, ((ken & 15, 4), (ti, 8), (w(12 if wide else 4), 32))), enc)]
    if wide:
        out.append(seal(key8, 2, block(2, 8, ((sgc & 0xFFF, 12), (w(8), 32))), enc))
        out.append(seal(key8, 2, block(2, 9, ((sgc >> 12, 12), (w(4), 32))), enc))
    return out


def test_token(sub, control, mfr):
    if sub == 0:
        return seal(None, 1, block(1, 0, ((control, 36), (mfr, 8))))
    return seal(None, 1, block(1, 1, ((control, 28), (mfr, 16))))
