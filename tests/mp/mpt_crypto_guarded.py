# Guarded-buffer exerciser for metercrypto.
# mp-only: unix
#
# Every input and output of every call lives in its own malloc() block of exactly its size (via
# ffi and uctypes.bytearray_at), outside MicroPython's GC heap. Run under valgrind memcheck (see
# tests/test_crypto_memcheck.py), a read or write even one byte past any buffer, or a read of the
# never-initialised output blocks, is reported; inside the GC heap it would go unnoticed (the
# heap is one big allocation and GC blocks are padded). Outside valgrind the file still checks
# every guarded result against the one-shot API, so it also runs in the normal suite.
# 64-bit interpreter only (the 32-bit build has no ffi).
import uctypes
from mptest import eq, raises, SkipTest

try:
    from mc_impl import mc  # hook used by tests/test_crypto_memcheck.py for the native .mpy
except ImportError:
    import metercrypto as mc

try:
    import ffi

    _libc = ffi.open("libc.so.6")
    _malloc = _libc.func("p", "malloc", "l")
    _free = _libc.func("v", "free", "p")
except (ImportError, OSError):
    _libc = None

LENGTHS = (0, 1, 2, 3, 4, 5, 12, 15, 16, 17, 31, 32, 33, 47, 48, 49, 64, 65)


class Arena:
    """Exact-size malloc() blocks viewed as bytearrays; freed together."""

    def __init__(self):
        if _libc is None:
            raise SkipTest("needs ffi (64-bit Unix interpreter)")
        self.addrs = []

    def buf(self, init):
        """A guarded bytearray: init is bytes (copied in) or an int (size, left uninitialised)."""
        n = init if isinstance(init, int) else len(init)
        a = _malloc(n)  # malloc(0) returns a unique zero-size block: any access is an error
        if not a:
            raise MemoryError
        self.addrs.append(a)
        b = uctypes.bytearray_at(a, n)
        if not isinstance(init, int) and n:
            b[:] = init
        return b

    def free(self):
        for a in self.addrs:
            _free(a)
        self.addrs = []


def pattern(n, seed):
    return bytes((i * 131 + seed * 7 + 11) & 0xFF for i in range(n))


def test_guarded_block_modes():
    g = Arena()
    try:
        for kl in (16, 24, 32):
            key = g.buf(pattern(kl, kl))
            iv = g.buf(pattern(16, 99))
            for n in LENGTHS:
                data = pattern(n, n)
                src = g.buf(data)
                out = g.buf(n)
                if n % 16 == 0:
                    eq(mc.ecb_encrypt_into(key, src, out), n)
                    eq(bytes(out), mc.ecb_encrypt(bytes(key), data))
                    eq(mc.ecb_decrypt(key, out), data)
                    eq(mc.ecb_decrypt_into(key, out, out), n)
                    eq(bytes(out), data)
                    eq(mc.cbc_encrypt_into(key, iv, src, out), n)
                    eq(bytes(out), mc.cbc_encrypt(bytes(key), bytes(iv), data))
                    eq(mc.cbc_decrypt(key, iv, out), data)
                    eq(mc.cbc_decrypt_into(key, iv, out, out), n)
                    eq(bytes(out), data)
                else:
                    raises(ValueError, mc.cbc_decrypt_into, key, iv, src, out)
                eq(mc.ctr_crypt_into(key, iv, src, out), n)
                eq(bytes(out), mc.ctr_crypt(bytes(key), bytes(iv), data))
                eq(mc.ctr_crypt(key, iv, out), data)
                mac = g.buf(16)
                eq(mc.cmac_into(key, src, mac), 16)
                eq(bytes(mac), mc.cmac(bytes(key), data))
                mac5 = g.buf(5)
                eq(mc.cmac_into(key, src, mac5), 5)
                eq(bytes(mac5), bytes(mac)[:5])
                small = g.buf(max(n - 1, 0))
                if n:
                    raises(ValueError, mc.ctr_crypt_into, key, iv, src, small)
            g.free()
    finally:
        g.free()


def test_guarded_gcm():
    g = Arena()
    try:
        for kl in (16, 32):
            key = g.buf(pattern(kl, 3))
            for ivl in (1, 12, 13, 60):
                iv = g.buf(pattern(ivl, ivl))
                for al in (0, 1, 16, 20):
                    aad = g.buf(pattern(al, 5))
                    for n in (0, 1, 15, 16, 17, 33):
                        data = pattern(n, n + al)
                        src = g.buf(data)
                        out = g.buf(n)
                        tag = g.buf(12 + (n % 5))
                        eq(mc.gcm_encrypt_into(key, iv, aad, src, out, tag), n)
                        ct, t = mc.gcm_encrypt(bytes(key), bytes(iv), bytes(aad), data, len(tag))
                        eq((bytes(out), bytes(tag)), (ct, t))
                        eq(mc.gcm_decrypt(key, iv, aad, out, tag), data)
                        back = g.buf(n)
                        eq(mc.gcm_decrypt_into(key, iv, aad, out, back, tag), n)
                        eq(bytes(back), data)
                        tag[0] ^= 1
                        untouched = g.buf(b"\x77" * n)
                        raises(ValueError, mc.gcm_decrypt_into, key, iv, aad, out, untouched, tag)
                        eq(bytes(untouched), b"\x77" * n)
                        raises(ValueError, mc.gcm_decrypt, key, iv, aad, out, tag)
                        inplace = g.buf(ct)
                        eq(mc.gcm_decrypt_into(key, iv, aad, inplace, inplace, t), n)
                        eq(bytes(inplace), data)
                g.free()
                key = g.buf(pattern(kl, 3))
    finally:
        g.free()


def test_guarded_hashes_crcs_3of6():
    g = Arena()
    try:
        for n in LENGTHS + (63, 119, 120, 200):
            data = pattern(n, n)
            src = g.buf(data)
            out = g.buf(32)
            eq(mc.sha256_into(src, out), 32)
            eq(bytes(out), mc.sha256(data))
            out7 = g.buf(7)
            eq(mc.sha256_into(src, out7), 7)
            for kl in (0, 1, 32, 64, 65, 100):
                key = g.buf(pattern(kl, 1))
                eq(mc.hmac_sha256_into(key, src, out), 32)
                eq(bytes(out), mc.hmac_sha256(bytes(key), data))
            eq(mc.crc16_arc(src), mc.crc16_arc(data))
            eq(mc.crc16_modbus(src), mc.crc16_modbus(data))
            eq(mc.crc16_en13757(src), mc.crc16_en13757(data))
            eq(mc.crc32(src), mc.crc32(data))
            enc_len = n + (n + 1) // 2
            enc = g.buf(enc_len)
            eq(mc.encode_3of6_into(src, enc), enc_len)
            eq(bytes(enc), mc.encode_3of6(data))
            dec = g.buf(n)
            eq(mc.decode_3of6_into(enc, dec), n)
            eq(bytes(dec), data)
            eq(mc.decode_3of6(enc), data)
            eq(mc.decode_3of6_into(enc, enc), n)  # in place (shrinking)
            if n >= 3:
                bad = g.buf(b"\xff" * (3 * (n // 3)))
                raises(ValueError, mc.decode_3of6_into, bad, dec)
            other = g.buf(data)
            eq(mc.compare_digest(src, other), True)
            g.free()
    finally:
        g.free()


def test_guarded_block64_sha512_ed25519():
    # DES / MISTY1 _into (also in place), SHA-512 over lengths around its 128-byte block, and
    # Ed25519 with key, message and signature each in an exact-size block.
    g = Arena()
    try:
        for f_enc, f_dec, f_enc1, kl in ((mc.des_ecb_encrypt_into, mc.des_ecb_decrypt_into, mc.des_ecb_encrypt, 8),
                                         (mc.misty1_ecb_encrypt_into, mc.misty1_ecb_decrypt_into,
                                          mc.misty1_ecb_encrypt, 16)):
            key = g.buf(pattern(kl, 7))
            for n in (0, 8, 16, 24, 64):
                data = pattern(n, n)
                src = g.buf(data)
                out = g.buf(n)
                eq(f_enc(key, src, out), n)
                eq(bytes(out), f_enc1(bytes(key), data))
                eq(f_dec(key, out, out), n)
                eq(bytes(out), data)
            g.free()
        for n in (0, 1, 111, 112, 127, 128, 129, 255, 256, 300):
            data = pattern(n, n)
            src = g.buf(data)
            out = g.buf(64)
            eq(mc.sha512_into(src, out), 64)
            eq(bytes(out), mc.sha512(data))
            out9 = g.buf(9)
            eq(mc.sha512_into(src, out9), 9)
            g.free()
        # RFC 8032 TEST 3.
        pk = g.buf(bytes.fromhex("fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025"))
        sig = g.buf(bytes.fromhex("6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
                                  "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"))
        msg = g.buf(b"\xaf\x82")
        eq(mc.ed25519_verify(pk, msg, sig), True)
        eq(mc.ed25519_verify(pk, g.buf(b""), sig), False)
        eq(mc.ed25519_verify(pk, msg[:1], sig), False)
    finally:
        g.free()
