# STS token codec pieces in the interpreter: the 20 digits and the class-bit transposition, the
# amount field with every boundary, the token CRC, EA07 decryption against an independent
# encryptor (sts_mint), and the zero-allocation decode path. Expected values come from the
# standard's definitions (shared/vectors/sts.json "token_structure", "amount", "crc"), computed
# here with long ints, not from the code under test.
import gc
import random
from mptest import eq, raises
from meter.cores.sts import digits, amount, crc, sta
from meter.cores.sts.token import Token
from meter.cores.sts.keyrec import KeyRecord
import sts_mint

M64 = (1 << 64) - 1


def _parse(s):
    blk = bytearray(8)
    cls = digits.parse_into(s.encode() if isinstance(s, str) else s, blk)
    return cls, int.from_bytes(blk, "big")


def test_digits_transposition_by_definition():
    random.seed(1)
    for i in range(200):
        c = random.getrandbits(32) << 32 | random.getrandbits(32)
        cls = i & 3
        # the definition: class bits replace bits 28..27, the displaced bits become 65..64
        n = (((c >> 27) & 3) << 64) | (c & (M64 ^ (3 << 27))) | (cls << 27)
        s = str(n)
        s = "0" * (20 - len(s)) + s
        eq(_parse(s), (cls, c), s)
        eq(digits.format_token(cls, c.to_bytes(8, "big")), s)


def test_digits_limits_and_rejections():
    eq(_parse("00000000000000000000"), (0, 0))
    top = (1 << 66) - 1
    eq(_parse(str(top)), (3, M64))  # the largest 66-bit value: class 3, all ones
    blk = bytearray(b"untouch!")
    for bad in (str(top + 1), "99999999999999999999", "1234567890123456789", "123456789012345678901",
                "1234567890123456789a", "1234567890-234567890", "", " 2345678901234567890"):
        eq(digits.parse_into(bad.encode(), blk), -1, bad)
        eq(bytes(blk), b"untouch!", "block untouched on " + bad)
    raises(ValueError, digits.format_token, 4, bytes(8))
    raises(ValueError, digits.format_token, 0, bytes(7))


def _amount_ref(field):
    e = field >> 14
    m = field & 0x3FFF
    return m * 10 ** e + sum((1 << 14) * 10 ** (n - 1) for n in range(1, e + 1))


def test_amount_boundaries():
    # shared/vectors/sts.json: 0x0001=0.1, 0x3FFF=1638.3, 0x4000=1638.4, 0x8000=18022.4,
    # 0xC000=181862.4, 0xFFFF=1820162.4 (in 0.1 units below)
    for field, tenths in ((0x0000, 0), (0x0001, 1), (0x3FFF, 16383), (0x4000, 16384), (0x4001, 16394),
                          (0x7FFF, 180214), (0x8000, 180224), (0xBFFF, 1818524), (0xC000, 1818624),
                          (0xFFFF, 18201624)):
        eq(amount.decode(field), tenths, hex(field))
        eq(_amount_ref(field), tenths, hex(field))
        eq(amount.encode(tenths), field, str(tenths))
    eq(amount.MAX, 18201624)
    # the gaps between exponents and the steps inside them are not representable
    for tenths in (16385, 180215, 180220, 180225, 1818525, 1818625, 18201625, -1):
        raises(ValueError, amount.encode, tenths)


def test_amount_every_field_round_trips():
    prev = -1
    for field in range(0, 0x10000, 3):  # decode is strictly increasing over the whole field
        v = amount.decode(field)
        eq(v, _amount_ref(field), hex(field))
        eq(amount.encode(v), field, hex(field))
        assert v > prev, hex(field)
        prev = v


def test_crc_check_value_and_swap():
    import metercrypto
    eq(metercrypto.crc16_modbus(b"123456789"), 0x4B37)
    eq(sts_mint.crc16(b"123456789"), 0x4B37)
    # inserted swapped: check('123456789') = 0x4B37 goes into the block as 0x374B
    buf = bytearray(9)
    mv = memoryview(buf)
    buf[0:7] = b"1234567"
    c = sts_mint.crc16(b"1234567")
    buf[7] = c & 0xFF
    buf[8] = c >> 8
    eq(crc.field(mv[0:7]), (buf[7] << 8) | buf[8])
    assert crc.matches(buf, mv[0:7])
    buf[8] ^= 1
    assert not crc.matches(buf, mv[0:7])


def test_sta_decrypts_independent_encryption():
    random.seed(2)
    blk = bytearray(8)
    for i in range(40):
        key = bytes(random.getrandbits(8) for _ in range(8))
        p = random.getrandbits(32) << 32 | random.getrandbits(32)
        c = sts_mint.encrypt(key, p)
        blk[:] = c.to_bytes(8, "big")
        sta.decrypt_into(key, blk)
        eq(int.from_bytes(blk, "big"), p, "key %d" % i)
        assert not any(sta._KB), "key bits left in the scratch buffer"


def test_sta_ctsa01_step1():
    # shared/vectors/sts.json: CTSA01 step 1 with the given decoder key (printed byte-reversed
    # there), plaintext class 0/0, RND 5, TID 2004-03-01T13:55 since 1993, amount 0x0001
    key = bytes(reversed(bytes.fromhex("6ff35b9d1f3453e6")))
    cls, c = _parse("23716100501183194197")
    eq(cls, 0)
    blk = bytearray(c.to_bytes(8, "big"))
    sta.decrypt_into(key, blk)
    eq(int.from_bytes(blk, "big"), sts_mint.block(0, 0, ((5, 4), (5871715, 24), (1, 16))))


def test_decode_path_allocates_nothing():
    key = bytes(range(8))
    tok = sts_mint.credit(key, 123, 4567, 0, 9).encode()
    k = KeyRecord(7, key, 2, 1, 1)
    t = Token()
    eq(t.decode(tok, k), 0)
    eq((t.cls, t.sub, t.rnd, t.tid, t.value), (0, 0, 9, 4567, 123))
    blk = bytearray(8)
    gc.collect()
    gc.disable()
    try:
        a = gc.mem_alloc()
        for _ in range(20):
            t.decode(tok, k)
            digits.parse_into(tok, blk)
            sta.decrypt_into(key, blk)
        used = gc.mem_alloc() - a
    finally:
        gc.enable()
    eq(used, 0, "bytes allocated by 20 decodes")
