# Known-answer and contract tests for metercrypto's 64-bit block ciphers: DES (STS EA09) and
# MISTY1 (STS EA11). Runs in both interpreters (and against the x64 native .mpy via
# tests/test_crypto_natmod.py). Differential tests: tests/test_crypto_diff.py.
# mp-heap: 8M
import os
from mptest import raises, eq, alloc_delta

try:
    from mc_impl import mc  # test hook for the native .mpy (see mpt_crypto.py)
except ImportError:
    import metercrypto as mc

h = bytes.fromhex
QUICK = (os.getenv("MC_TEST_QUICK") or "") == "1"

# The worked example of FIPS 46-3's algorithm (as in the classic DES tutorials): one block.
DES_EXAMPLE = ("133457799bbcdff1", "0123456789abcdef", "85e813540f0ab405")
# FIPS 81 Appendix B, table B1 (ECB): key 0123456789abcdef, "Now is the time for all ".
FIPS81_KEY = "0123456789abcdef"
FIPS81_PT = b"Now is the time for all "
FIPS81_CT = "3fa40e8a984d48156a271787ab8883f9893d51ec4b563b53"
# NBS SP 500-20 / NIST SP 800-17 variable-plaintext KAT (key 0101...01, plaintext = bit i set),
# first 8 rows, and variable-key KAT (plaintext 0, key = bit i set plus odd parity), first 8 rows.
DES_VAR_PT = ["95f8a5e5dd31d900", "dd7f121ca5015619", "2e8653104f3834ea", "4bd388ff6cd81d4f",
              "20b9e767b2fb1456", "55579380d77138ef", "6cc5defaaf04512f", "0d9f279ba5d87260"]
DES_VAR_KEY = [("8001010101010101", "95a8d72813daa94d"), ("4001010101010101", "0eec1487dd8c26d5"),
               ("2001010101010101", "7ad16ffb79c45926"), ("1001010101010101", "d3746294ca6a6cf3"),
               ("0801010101010101", "809f5f873c1fd761"), ("0401010101010101", "c02faffec989d1fc"),
               ("0201010101010101", "4615aa1d33e72f10"), ("0180010101010101", "2055123350c00858")]

# RFC 2994 section 3 (test data).
MISTY_KEY = "00112233445566778899aabbccddeeff"
MISTY_VECTORS = [("0123456789abcdef", "8b1da5f56ab3d07c"), ("fedcba9876543210", "04b68240b13be95d")]


def xor_ff(b):
    return bytes(x ^ 0xFF for x in b)


def test_des_known_answers():
    k, p, c = DES_EXAMPLE
    eq(mc.des_ecb_encrypt(h(k), h(p)), h(c))
    eq(mc.des_ecb_decrypt(h(k), h(c)), h(p))
    eq(mc.des_ecb_encrypt(h(FIPS81_KEY), FIPS81_PT), h(FIPS81_CT))
    eq(mc.des_ecb_decrypt(h(FIPS81_KEY), h(FIPS81_CT)), FIPS81_PT)


def test_des_sp800_17_rows():
    for i, c in enumerate(DES_VAR_PT):
        p = bytearray(8)
        p[i >> 3] = 0x80 >> (i & 7)
        eq(mc.des_ecb_encrypt(h("0101010101010101"), p), h(c), i)
        eq(mc.des_ecb_decrypt(h("0101010101010101"), h(c)), bytes(p), i)
    for k, c in DES_VAR_KEY:
        eq(mc.des_ecb_encrypt(h(k), bytes(8)), h(c), k)
        eq(mc.des_ecb_decrypt(h(k), h(c)), bytes(8), k)


def test_des_structure():
    # Parity bits (the low bit of each key byte) are ignored.
    k, p, c = DES_EXAMPLE
    eq(mc.des_ecb_encrypt(bytes(b ^ 1 for b in h(k)), h(p)), h(c))
    # Complementation property: E(~K, ~P) = ~E(K, P).
    eq(mc.des_ecb_encrypt(xor_ff(h(k)), xor_ff(h(p))), xor_ff(h(c)))
    # Weak keys: encryption is an involution.
    for wk in ("0101010101010101", "fefefefefefefefe", "e0e0e0e0f1f1f1f1", "1f1f1f1f0e0e0e0e"):
        eq(mc.des_ecb_encrypt(h(wk), mc.des_ecb_encrypt(h(wk), FIPS81_PT)), FIPS81_PT, wk)
    # ECB: blocks are independent.
    ct = mc.des_ecb_encrypt(h(FIPS81_KEY), FIPS81_PT)
    eq(mc.des_ecb_encrypt(h(FIPS81_KEY), FIPS81_PT[8:16]), ct[8:16])


def test_misty1_rfc2994():
    k = h(MISTY_KEY)
    for p, c in MISTY_VECTORS:
        eq(mc.misty1_ecb_encrypt(k, h(p)), h(c), p)
        eq(mc.misty1_ecb_decrypt(k, h(c)), h(p), p)
    both_p = h(MISTY_VECTORS[0][0] + MISTY_VECTORS[1][0])
    both_c = h(MISTY_VECTORS[0][1] + MISTY_VECTORS[1][1])
    eq(mc.misty1_ecb_encrypt(k, both_p), both_c)
    eq(mc.misty1_ecb_decrypt(k, both_c), both_p)


def _ciphers():
    # (name, encrypt, decrypt, encrypt_into, decrypt_into, key length)
    return [
        ("des", mc.des_ecb_encrypt, mc.des_ecb_decrypt, mc.des_ecb_encrypt_into, mc.des_ecb_decrypt_into, 8),
        ("misty1", mc.misty1_ecb_encrypt, mc.misty1_ecb_decrypt, mc.misty1_ecb_encrypt_into,
         mc.misty1_ecb_decrypt_into, 16),
    ]


def test_into_and_in_place():
    data = bytes(range(40))
    for name, enc, dec, enc_into, dec_into, kl in _ciphers():
        k = bytes(range(100, 100 + kl))
        ct = enc(k, data)
        eq(dec(k, ct), data, name)
        dst = bytearray(48)
        eq(enc_into(k, data, dst), 40, name)
        eq(bytes(dst[:40]), ct, name)
        eq(bytes(dst[40:]), bytes(8), name)  # bytes beyond the output untouched
        buf = bytearray(ct)
        eq(dec_into(k, buf, buf), 40, name)  # in place
        eq(bytes(buf), data, name)
        mv = memoryview(buf)
        eq(enc_into(k, mv, mv), 40, name)  # in place through a memoryview
        eq(bytes(buf), ct, name)
        eq(enc(k, b""), b"", name)
        eq(dec_into(k, b"", bytearray(0)), 0, name)


def test_bad_arguments():
    for name, enc, dec, enc_into, dec_into, kl in _ciphers():
        k = bytes(kl)
        for n in (0, 7, 9, 15, 17, 24, 32):
            if n == kl:
                continue
            for f in (enc, dec):
                e = raises(ValueError, f, bytes(n), bytes(8))
                if "key" not in str(e):
                    raise AssertionError("%s message: %r" % (name, e))
            raises(ValueError, enc_into, bytes(n), bytes(8), bytearray(8))
        for n in (1, 7, 9, 12, 15):
            raises(ValueError, enc, k, bytes(n))
            raises(ValueError, dec, k, bytes(n))
            raises(ValueError, dec_into, k, bytes(n), bytearray(16))
        for bad in (1, None, "01234567"):
            raises(TypeError, enc, bad, bytes(8))
            raises(TypeError, enc, k, bad)
            raises(TypeError, enc_into, k, bytes(8), bad)
        raises(TypeError, enc_into, k, bytes(8), bytes(8))  # read-only output
        raises(TypeError, enc, k)
        raises(TypeError, enc, k, bytes(8), bytes(8))
        raises(ValueError, enc_into, k, bytes(16), bytearray(15))  # too small
        buf = bytearray(32)
        mv = memoryview(buf)
        raises(ValueError, enc_into, k, mv[:16], mv[8:24])  # partial overlap
        raises(ValueError, dec_into, k, mv[8:24], mv[:16])


def test_into_zero_allocation():
    src = bytearray(range(64))
    dst = bytearray(64)
    k8, k16 = bytes(8), bytes(16)

    def run():
        mc.des_ecb_encrypt_into(k8, src, dst)
        mc.des_ecb_decrypt_into(k8, dst, dst)
        mc.misty1_ecb_encrypt_into(k16, src, dst)
        mc.misty1_ecb_decrypt_into(k16, dst, dst)

    loops = 5 if QUICK else 100
    eq(alloc_delta(run, loops), 0, "bytes allocated by %d rounds of DES/MISTY1 _into calls" % loops)
    eq(bytes(dst), bytes(src))
