# Known-answer and contract tests for the metercrypto C module; runs in both Unix interpreters
# (and, via tests/test_crypto_natmod.py, against the x64 native .mpy).
# mp-heap: 8M
#
# Environment: MC_TEST_QUICK=1 skips the slow vectors (million-a SHA-256, long loops); the
# valgrind run in tests/test_crypto_memcheck.py sets it.
import gc
import os
import sys
from mptest import raises, eq, SkipTest, alloc_delta

try:
    # Test hook: tests/test_crypto_natmod.py puts an mc_impl.py on the path that binds `mc` to
    # the dynamic native module (a built-in metercrypto would shadow a .mpy of the same name).
    from mc_impl import mc
except ImportError:
    import metercrypto as mc

h = bytes.fromhex
QUICK = (os.getenv("MC_TEST_QUICK") or "") == "1"

# ---------------------------------------------------------------------------------------------
# Vectors

# FIPS-197 Appendix C (C.1 AES-128, C.2 AES-192, C.3 AES-256), and Appendix B.
FIPS197 = [
    ("000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff", "69c4e0d86a7b0430d8cdb78070b4c55a"),
    ("000102030405060708090a0b0c0d0e0f1011121314151617", "00112233445566778899aabbccddeeff",
     "dda97ca4864cdfe06eaf70a0ec0d7191"),
    ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "00112233445566778899aabbccddeeff",
     "8ea2b7ca516745bfeafc49904b496089"),
    ("2b7e151628aed2a6abf7158809cf4f3c", "3243f6a8885a308d313198a2e0370734", "3925841d02dc09fbdc118597196a0b32"),
]

# SP 800-38A Appendix F: plaintext shared by all examples.
SP_PT = h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
          "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
SP_K128 = h("2b7e151628aed2a6abf7158809cf4f3c")
SP_K192 = h("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b")
SP_K256 = h("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
SP_ECB = [  # F.1.1, F.1.3, F.1.5
    (SP_K128, "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf"
              "43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4"),
    (SP_K192, "bd334f1d6e45f25ff712a214571fa5cc974104846d0ad3ad7734ecb3ecee4eef"
              "ef7afd2270e2e60adce0ba2face6444e9a4b41ba738d6c72fb16691603c18e0e"),
    (SP_K256, "f3eed1bdb5d2a03c064b5a7e3db181f8591ccb10d410ed26dc5ba74a31362870"
              "b6ed21b99ca6f4f9f153e7b1beafed1d23304b7a39f9f3ff067d8d8f9e24ecc7"),
]
SP_IV = h("000102030405060708090a0b0c0d0e0f")
SP_CBC = [  # F.2.1, F.2.3, F.2.5
    (SP_K128, "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
              "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"),
    (SP_K192, "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a"
              "571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd"),
    (SP_K256, "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
              "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"),
]
SP_CTR_NONCE = h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
SP_CTR = [  # F.5.1, F.5.3, F.5.5
    (SP_K128, "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
              "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"),
    (SP_K192, "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94"
              "1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050"),
    (SP_K256, "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
              "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6"),
]

# RFC 4493 section 4, examples 1-4 (key SP_K128, message = prefix of SP_PT).
RFC4493 = [
    (0, "bb1d6929e95937287fa37d129b756746"),
    (16, "070a16b46b4d4144f79bdd9dd04a287c"),
    (40, "dfa66747de9ae63030ca32611497c827"),
    (64, "51f0bebf7e3b9d92fc49741779363cfe"),
]

# McGrew/Viega, "The Galois/Counter Mode of Operation (GCM)", test cases 1-18.
_GK = "feffe9928665731c6d6a8f9467308308"
_GP = ("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
       "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255")
_GP60 = _GP[:120]
_GA = "feedfacedeadbeeffeedfacedeadbeefabaddad2"
_GIV = "cafebabefacedbaddecaf888"
_GIV8 = "cafebabefacedbad"
_GIV60 = ("9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"
          "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b")
GCM = [
    # (case, key, iv, aad, plaintext, ciphertext, tag)
    (1, "00" * 16, "00" * 12, "", "", "", "58e2fccefa7e3061367f1d57a4e7455a"),
    (2, "00" * 16, "00" * 12, "", "00" * 16, "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"),
    (3, _GK, _GIV, "", _GP,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985", "4d5c2af327cd64a62cf35abd2ba6fab4"),
    (4, _GK, _GIV, _GA, _GP60,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091", "5bc94fbc3221a5db94fae95ae7121a47"),
    (5, _GK, _GIV8, _GA, _GP60,
     "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423"
     "73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598", "3612d2e79e3b0785561be14aaca2fccb"),
    (6, _GK, _GIV60, _GA, _GP60,
     "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca7"
     "01e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5", "619cc5aefffe0bfa462af43c1699d050"),
    (7, "00" * 24, "00" * 12, "", "", "", "cd33b28ac773f74ba00ed1f312572435"),
    (8, "00" * 24, "00" * 12, "", "00" * 16, "98e7247c07f0fe411c267e4384b0f600", "2ff58d80033927ab8ef4d4587514f0fb"),
    (9, _GK + _GK[:16], _GIV, "", _GP,
     "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
     "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710acade256", "9924a7c8587336bfb118024db8674a14"),
    (10, _GK + _GK[:16], _GIV, _GA, _GP60,
     "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
     "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710", "2519498e80f1478f37ba55bd6d27618c"),
    (11, _GK + _GK[:16], _GIV8, _GA, _GP60,
     "0f10f599ae14a154ed24b36e25324db8c566632ef2bbb34f8347280fc4507057"
     "fddc29df9a471f75c66541d4d4dad1c9e93a19a58e8b473fa0f062f7", "65dcc57fcf623a24094fcca40d3533f8"),
    (12, _GK + _GK[:16], _GIV60, _GA, _GP60,
     "d27e88681ce3243c4830165a8fdcf9ff1de9a1d8e6b447ef6ef7b79828666e45"
     "81e79012af34ddd9e2f037589b292db3e67c036745fa22e7e9b7373b", "dcf566ff291c25bbb8568fc3d376a6d9"),
    (13, "00" * 32, "00" * 12, "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"),
    (14, "00" * 32, "00" * 12, "", "00" * 16, "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"),
    (15, _GK + _GK, _GIV, "", _GP,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad", "b094dac5d93471bdec1a502270e3cc6c"),
    (16, _GK + _GK, _GIV, _GA, _GP60,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662", "76fc6ece0f4e1768cddf8853bb2d551b"),
    (17, _GK + _GK, _GIV8, _GA, _GP60,
     "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0"
     "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f", "3a337dbf46a792c45e454913fe2ea8f2"),
    (18, _GK + _GK, _GIV60, _GA, _GP60,
     "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4"
     "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f", "a44a8266ee1c8eb0c8b5d4cf5ae9f19a"),
]

# FIPS 180-4 / NIST CSRC SHA-256 examples.
SHA256 = [
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
]

# RFC 4231 section 4, test cases 1-7 (case 5 is truncated to 128 bits).
RFC4231 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\x0c" * 20, b"Test With Truncation", "a3b6167473100ee06e0c796c2955552b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger than block-size data. "
                    b"The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
]

# OMS mode 7 vector V1 from /work/shared/vectors/wmbus.json ("frame_without_crc", "key",
# "derived"): KDF per OMS Vol.2 (CMAC(K, DC || MCR LE || ID LE || 0x07 * 7)), MAC = first 8
# bytes of CMAC(Kmac, MCL || MCR || TPL...), payload AES-CBC with Kenc and IV 0.
V1_FRAME = h("434493157856341233038C2075900F002C25B30A000021924D4F2FB66E017A7500200710"
             "9058475F4BC91DF878B80A1B0F98B629024AAC727942BFC549233C0140829B93")
V1_KEY = h("000102030405060708090A0B0C0D0E0F")
V1_KENC = h("ECCF39D475D730B8284FDFDC1995D52F")
V1_KMAC = h("C9CD19FF5A9AAD5A6BBDA13BD2C4C7AD")
V1_MAC = h("21924D4F2FB66E01")
V1_BADMAC_FRAME = h("434493157856341233038C2075900F002C25B30A000021924D4F3FB66E017A7500200710"
                    "9058475F4BC91DF878B80A1B0F98B629024AAC727942BFC549233C0140829B93")

# ---------------------------------------------------------------------------------------------
# Known answers


def test_fips197_block():
    for k, p, c in FIPS197:
        eq(mc.ecb_encrypt(h(k), h(p)), h(c), k)
        eq(mc.ecb_decrypt(h(k), h(c)), h(p), k)


def test_sp800_38a_ecb():
    for k, c in SP_ECB:
        eq(mc.ecb_encrypt(k, SP_PT), h(c))
        eq(mc.ecb_decrypt(k, h(c)), SP_PT)


def test_sp800_38a_cbc():
    for k, c in SP_CBC:
        eq(mc.cbc_encrypt(k, SP_IV, SP_PT), h(c))
        eq(mc.cbc_decrypt(k, SP_IV, h(c)), SP_PT)


def test_sp800_38a_ctr():
    for k, c in SP_CTR:
        eq(mc.ctr_crypt(k, SP_CTR_NONCE, SP_PT), h(c))
        eq(mc.ctr_crypt(k, SP_CTR_NONCE, h(c)), SP_PT)
        # Partial final block: a prefix of the keystream.
        eq(mc.ctr_crypt(k, SP_CTR_NONCE, SP_PT[:37]), h(c)[:37])


def test_ctr_counter_wraps_128_bits():
    k = SP_K128
    ks = mc.ecb_encrypt(k, b"\xff" * 16 + bytes(16) + b"\x00" * 15 + b"\x01")
    eq(mc.ctr_crypt(k, b"\xff" * 16, bytes(48)), ks)
    # Carry across the low 64 bits (not just the last 32 as GCM's inc32 would).
    n = b"\x00" * 7 + b"\x01" + b"\xff" * 8
    eq(mc.ctr_crypt(k, n, bytes(32))[16:], mc.ecb_encrypt(k, b"\x00" * 7 + b"\x02" + bytes(8)))


def test_rfc4493_cmac():
    for n, t in RFC4493:
        eq(mc.cmac(SP_K128, SP_PT[:n]), h(t), n)


def test_gcm_spec_cases():
    for case, k, iv, a, p, c, t in GCM:
        ct, tag = mc.gcm_encrypt(h(k), h(iv), h(a), h(p))
        eq(ct, h(c), "case %d ct" % case)
        eq(tag, h(t), "case %d tag" % case)
        eq(mc.gcm_decrypt(h(k), h(iv), h(a), h(c), h(t)), h(p), "case %d dec" % case)


def test_gcm_truncated_tags():
    case, k, iv, a, p, c, t = GCM[3]
    for n in range(12, 17):
        ct, tag = mc.gcm_encrypt(h(k), h(iv), h(a), h(p), n)
        eq(tag, h(t)[:n])
        ct, tag = mc.gcm_encrypt(h(k), h(iv), h(a), h(p), tag_len=n)
        eq(tag, h(t)[:n])
        eq(mc.gcm_decrypt(h(k), h(iv), h(a), ct, tag), h(p))


def test_sha256_vectors():
    for m, d in SHA256:
        eq(mc.sha256(m), h(d), m)


def test_sha256_million_a():
    if QUICK:
        raise SkipTest("MC_TEST_QUICK")
    m = b"a" * 1000000
    eq(mc.sha256(m), h("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"))


def test_rfc4231_hmac():
    for i, (k, m, d) in enumerate(RFC4231):
        eq(mc.hmac_sha256(k, m)[:len(d) // 2], h(d), "case %d" % (i + 1))


def test_crc_check_values():
    eq(mc.crc16_arc(b"123456789"), 0xBB3D)
    eq(mc.crc16_modbus(b"123456789"), 0x4B37)
    eq(mc.crc16_en13757(b"123456789"), 0xC2B7)
    eq(mc.crc32(b"123456789"), 0xCBF43926)
    eq(mc.crc16_arc(b""), 0)
    eq(mc.crc16_modbus(b""), 0xFFFF)
    eq(mc.crc16_en13757(b""), 0xFFFF)
    eq(mc.crc32(b""), 0)


def test_crc_running_values():
    msg = b"/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n!"
    for cut in (0, 1, 7, len(msg)):
        a, b = msg[:cut], msg[cut:]
        eq(mc.crc16_arc(b, mc.crc16_arc(a)), mc.crc16_arc(msg))
        eq(mc.crc16_arc(b, crc=mc.crc16_arc(a)), mc.crc16_arc(msg))
        eq(mc.crc16_modbus(b, mc.crc16_modbus(a)), mc.crc16_modbus(msg))
        eq(mc.crc32(b, mc.crc32(a)), mc.crc32(msg))
        eq(mc.crc32(b, crc=mc.crc32(a)), mc.crc32(msg))
    # Running CRC-32 values above 2**30 are long ints on the 32-bit build: still accepted.
    eq(mc.crc32(b"56789", mc.crc32(b"1234")), 0xCBF43926)
    eq(mc.crc32(b"x", 0xFFFFFFFF), mc.crc32(b"x", -1))


def test_crc_bad_args():
    raises(TypeError, mc.crc32, "123")
    raises(TypeError, mc.crc32, 123)
    raises(TypeError, mc.crc16_arc, None)
    raises(TypeError, mc.crc16_en13757, "x")
    raises(TypeError, mc.crc32, b"", "0")
    raises(TypeError, mc.crc16_arc, b"", 1.5)
    raises(ValueError, mc.crc16_arc, b"", 0x10000)
    raises(ValueError, mc.crc16_arc, b"", -1)
    raises(ValueError, mc.crc16_modbus, b"", 1 << 70)
    raises(TypeError, mc.crc32, b"", 0, 0)
    raises(TypeError, mc.crc32, b"", seed=0)
    raises(TypeError, mc.crc32, b"", 0, crc=0)


def test_3of6_known_and_roundtrip():
    # 0x12 0x34 -> 001101 001110 001011 011100 (MSB first).
    eq(mc.encode_3of6(b"\x12\x34"), h("34e2dc"))
    # Odd length: the last 4 bits are the filler chips 0101.
    eq(mc.encode_3of6(b"\x12"), h("34e5"))
    eq(mc.encode_3of6(b""), b"")
    eq(mc.decode_3of6(b""), b"")
    data = bytes(range(256))
    for n in (1, 2, 3, 4, 5, 16, 17, 255, 256):
        enc = mc.encode_3of6(data[:n])
        eq(len(enc), (n * 12 + 7) // 8)
        eq(mc.decode_3of6(enc), data[:n])
    # Every code word has exactly three ones (DC balance), and all 16 nibbles map to distinct words.
    enc = mc.encode_3of6(bytes(range(0, 256, 17)))  # 0x00, 0x11, ..., 0xff: every nibble
    v = int.from_bytes(enc, "big")
    words = set()
    for i in range(len(enc) * 8 // 6):
        w = (v >> (6 * i)) & 0x3F
        eq(bin(w).count("1"), 3, "code word %r" % w)
        words.add(w)
    eq(len(words), 16)
    # Spare bits of an odd-length frame are ignored by the decoder.
    eq(mc.decode_3of6(h("34e0")), b"\x12")


def test_3of6_invalid():
    raises(ValueError, mc.decode_3of6, h("000000"))  # 000000 is not a code word
    raises(ValueError, mc.decode_3of6, h("ffffff"))
    raises(ValueError, mc.decode_3of6, h("34e2dd"))  # last word 011101 has four ones
    raises(ValueError, mc.decode_3of6, h("34e2dc" "00"))  # length 3k+1
    raises(ValueError, mc.decode_3of6, h("3f"))  # length 1
    raises(ValueError, mc.decode_3of6, h("ffe5"))  # odd-length tail with a bad word
    raises(TypeError, mc.encode_3of6, "12")
    raises(TypeError, mc.decode_3of6, None)
    e = raises(ValueError, mc.decode_3of6, h("000000"))
    if "3-of-6" not in str(e):
        raise AssertionError("message: %r" % e)


def test_compare_digest():
    eq(mc.compare_digest(b"abc", b"abc"), True)
    eq(mc.compare_digest(b"abc", bytearray(b"abc")), True)
    eq(mc.compare_digest(b"abc", b"abd"), False)
    eq(mc.compare_digest(b"abc", b"ab"), False)
    eq(mc.compare_digest(b"", b""), True)
    eq(mc.compare_digest(memoryview(b"xabc")[1:], b"abc"), True)
    raises(TypeError, mc.compare_digest, "abc", "abc")
    raises(TypeError, mc.compare_digest, b"abc", None)


def test_oms_mode7_v1_kdf_mac_decrypt():
    f = V1_FRAME
    # L C M(2) ID(4) ver type | ELL 8C CC ACC | AFL 90 len FCL(2) MCL MCR(4) MAC(8) | TPL 7A ...
    mcr = f[18:22]
    meter_id = f[4:8]  # link-layer ID, little-endian as on air
    eq(f[13], 0x90)
    eq(mcr, h("B30A0000"))
    kenc = mc.cmac(V1_KEY, b"\x00" + mcr + meter_id + b"\x07" * 7)
    kmac = mc.cmac(V1_KEY, b"\x01" + mcr + meter_id + b"\x07" * 7)
    eq(kenc, V1_KENC)
    eq(kmac, V1_KMAC)
    tpl = f[30:]
    eq(tpl[0], 0x7A)
    mac_input = f[17:22] + tpl  # MCL || MCR || TPL (from CI 7A on)
    eq(mc.cmac(kmac, mac_input)[:8], V1_MAC)
    eq(f[22:30], V1_MAC)
    out8 = bytearray(8)
    eq(mc.cmac_into(kmac, mac_input, out8), 8)
    eq(mc.compare_digest(out8, f[22:30]), True)
    plain = mc.cbc_decrypt(kenc, bytes(16), tpl[6:])
    eq(plain[:2], b"\x2f\x2f")  # OMS decryption verification bytes
    eq(plain[2:8], h("0C1427048502"))  # volume 28504.27 m3 (BCD), as V1 "expect" says
    # V1-badmac: one MAC byte changed must fail the comparison.
    eq(mc.compare_digest(mc.cmac(kmac, mac_input)[:8], V1_BADMAC_FRAME[22:30]), False)


# ---------------------------------------------------------------------------------------------
# _into variants


def test_into_matches_oneshot():
    k, iv = SP_K256, SP_IV
    src = bytearray(SP_PT)
    dst = bytearray(64)
    eq(mc.ecb_encrypt_into(k, src, dst), 64)
    eq(bytes(dst), mc.ecb_encrypt(k, SP_PT))
    eq(mc.ecb_decrypt_into(k, bytes(dst), dst), 64)
    eq(bytes(dst), SP_PT)
    eq(mc.cbc_encrypt_into(k, iv, src, dst), 64)
    eq(bytes(dst), mc.cbc_encrypt(k, iv, SP_PT))
    eq(mc.cbc_decrypt_into(k, iv, bytes(dst), dst), 64)
    eq(bytes(dst), SP_PT)
    eq(mc.ctr_crypt_into(k, iv, src[:33], dst), 33)
    eq(bytes(dst[:33]), mc.ctr_crypt(k, iv, SP_PT[:33]))
    eq(bytes(dst[33:]), SP_PT[33:])  # bytes beyond len(src) untouched
    out = bytearray(20)
    eq(mc.cmac_into(k, SP_PT, out), 16)
    eq(bytes(out[:16]), mc.cmac(k, SP_PT))
    eq(bytes(out[16:]), bytes(4))
    out = bytearray(32)
    eq(mc.sha256_into(SP_PT, out), 32)
    eq(bytes(out), mc.sha256(SP_PT))
    eq(mc.hmac_sha256_into(k, SP_PT, out), 32)
    eq(bytes(out), mc.hmac_sha256(k, SP_PT))
    out = bytearray(10)  # truncated output
    eq(mc.hmac_sha256_into(k, SP_PT, out), 10)
    eq(bytes(out), mc.hmac_sha256(k, SP_PT)[:10])
    enc = bytearray(100)
    eq(mc.encode_3of6_into(b"\x12\x34\x56", enc), 5)
    eq(bytes(enc[:5]), mc.encode_3of6(b"\x12\x34\x56"))
    dec = bytearray(3)
    eq(mc.decode_3of6_into(enc[:5], dec), 3)
    eq(bytes(dec), b"\x12\x34\x56")
    # n: only src[0:n] is coded (a fixed buffer holding a shorter packet, no slice needed)
    raw = bytearray(100)
    eq(mc.encode_3of6_into(b"\x12\x34\x56\x78", raw, 3), 5)
    eq(bytes(raw[:5]), mc.encode_3of6(b"\x12\x34\x56"))
    eq(bytes(raw[5:]), bytes(95))  # nothing past the n bytes' code written
    dec = bytearray(b"\xee" * 4)
    eq(mc.decode_3of6_into(raw, dec, 5), 3)
    eq(bytes(dec), b"\x12\x34\x56\xee")
    eq(mc.decode_3of6_into(raw, raw, 5), 3)  # in place, as without n
    eq(bytes(raw[:3]), b"\x12\x34\x56")
    eq(mc.encode_3of6_into(b"\x12", raw, 0), 0)
    raises(ValueError, mc.encode_3of6_into, b"\x12", raw, 2)  # n beyond src
    raises(ValueError, mc.decode_3of6_into, raw, dec, -1)
    raises(ValueError, mc.decode_3of6_into, raw, dec, 4)  # 3k+1 coded bytes
    raises(ValueError, mc.decode_3of6_into, raw, bytearray(2), 5)  # output too small


def test_gcm_into():
    case, k, iv, a, p, c, t = GCM[15]
    k, iv, a, p, c, t = h(k), h(iv), h(a), h(p), h(c), h(t)
    dst = bytearray(len(p))
    tag = bytearray(16)
    eq(mc.gcm_encrypt_into(k, iv, a, p, dst, tag), len(p))
    eq(bytes(dst), c)
    eq(bytes(tag), t)
    tag12 = bytearray(12)
    mc.gcm_encrypt_into(k, iv, a, p, dst, tag12)
    eq(bytes(tag12), t[:12])
    out = bytearray(len(c))
    eq(mc.gcm_decrypt_into(k, iv, a, c, out, t), len(c))
    eq(bytes(out), p)
    eq(mc.gcm_decrypt_into(k, iv, a, c, out, t[:13]), len(c))
    # Bad tag: ValueError and dst left untouched (no unauthenticated plaintext released).
    out = bytearray(b"\xee" * len(c))
    bad = bytearray(t)
    bad[5] ^= 0x40
    raises(ValueError, mc.gcm_decrypt_into, k, iv, a, c, out, bad)
    eq(bytes(out), b"\xee" * len(c))


def test_in_place():
    k, iv = SP_K192, SP_IV
    buf = bytearray(SP_PT)
    mc.cbc_encrypt_into(k, iv, buf, buf)
    eq(bytes(buf), mc.cbc_encrypt(k, iv, SP_PT))
    mc.cbc_decrypt_into(k, iv, buf, buf)
    eq(bytes(buf), SP_PT)
    mc.ecb_encrypt_into(k, buf, buf)
    mc.ecb_decrypt_into(k, buf, buf)
    eq(bytes(buf), SP_PT)
    mc.ctr_crypt_into(k, iv, buf, buf)
    eq(bytes(buf), mc.ctr_crypt(k, iv, SP_PT))
    mc.ctr_crypt_into(k, iv, buf, buf)
    eq(bytes(buf), SP_PT)
    tag = bytearray(16)
    mc.gcm_encrypt_into(k, iv, b"hdr", buf, buf, tag)
    eq((bytes(buf), bytes(tag)), mc.gcm_encrypt(k, iv, b"hdr", SP_PT))
    mc.gcm_decrypt_into(k, iv, b"hdr", buf, buf, tag)
    eq(bytes(buf), SP_PT)
    # In place through a memoryview of the same start, and 3-of-6 decode in place.
    mv = memoryview(buf)
    mc.cbc_encrypt_into(k, iv, mv, mv)
    mc.cbc_decrypt_into(k, iv, buf, mv)
    eq(bytes(buf), SP_PT)
    enc = bytearray(mc.encode_3of6(b"\xab\xcd\xef"))
    eq(mc.decode_3of6_into(enc, enc), 3)
    eq(bytes(enc[:3]), b"\xab\xcd\xef")


def test_into_bad_outputs():
    k, iv = SP_K128, SP_IV
    src = bytes(32)
    raises(TypeError, mc.ecb_encrypt_into, k, src, bytes(32))  # immutable
    raises(TypeError, mc.cbc_decrypt_into, k, iv, src, memoryview(bytes(32)))  # read-only view
    raises(TypeError, mc.ctr_crypt_into, k, iv, src, None)
    raises(TypeError, mc.cmac_into, k, src, 16)
    raises(ValueError, mc.ecb_encrypt_into, k, src, bytearray(31))  # too small
    raises(ValueError, mc.ctr_crypt_into, k, iv, src, bytearray(31))
    raises(ValueError, mc.cmac_into, k, src, bytearray(0))
    raises(ValueError, mc.sha256_into, src, bytearray(0))
    raises(ValueError, mc.encode_3of6_into, b"\x12\x34", bytearray(2))
    raises(ValueError, mc.decode_3of6_into, h("34e2dc"), bytearray(1))
    # Partial overlap is rejected (only exact in-place is allowed).
    buf = bytearray(64)
    mv = memoryview(buf)
    raises(ValueError, mc.cbc_decrypt_into, k, iv, mv[:32], mv[16:48])
    raises(ValueError, mc.ecb_encrypt_into, k, mv[16:48], mv[:32])
    raises(ValueError, mc.encode_3of6_into, mv[:4], mv[2:10])
    raises(ValueError, mc.encode_3of6_into, mv[:4], mv)
    tag = mv[40:56]
    raises(ValueError, mc.gcm_encrypt_into, k, bytes(12), b"", mv[:32], mv[:32], mv[16:32])
    raises(ValueError, mc.gcm_encrypt_into, k, bytes(12), b"", mv[:16], mv[:16], bytearray(11))
    raises(ValueError, mc.gcm_encrypt_into, k, bytes(12), b"", mv[:16], mv[:16], bytearray(17))
    raises(ValueError, mc.gcm_encrypt_into, k, bytes(12), mv[:8], mv[:16], mv[:16], tag)  # aad in dst
    mc.gcm_encrypt_into(k, bytes(12), b"", mv[:16], mv[:16], tag)  # disjoint: fine


# ---------------------------------------------------------------------------------------------
# Bad inputs

BAD_TYPES = (1, "0123456789abcdef", None)


def _key_users(k):
    # Every entry point that takes an AES key, with otherwise valid arguments.
    d16, iv = bytes(16), bytes(16)
    return [
        (mc.ecb_encrypt, (k, d16)), (mc.ecb_decrypt, (k, d16)),
        (mc.cbc_encrypt, (k, iv, d16)), (mc.cbc_decrypt, (k, iv, d16)),
        (mc.ctr_crypt, (k, iv, d16)), (mc.cmac, (k, d16)),
        (mc.gcm_encrypt, (k, bytes(12), b"", d16)), (mc.gcm_decrypt, (k, bytes(12), b"", d16, bytes(16))),
        (mc.ecb_encrypt_into, (k, d16, bytearray(16))), (mc.cbc_decrypt_into, (k, iv, d16, bytearray(16))),
        (mc.ctr_crypt_into, (k, iv, d16, bytearray(16))), (mc.cmac_into, (k, d16, bytearray(16))),
        (mc.gcm_encrypt_into, (k, bytes(12), b"", d16, bytearray(16), bytearray(16))),
        (mc.gcm_decrypt_into, (k, bytes(12), b"", d16, bytearray(16), bytes(16))),
    ]


def test_bad_key_lengths():
    for n in (0, 1, 15, 17, 20, 23, 25, 31, 33, 64):
        for f, args in _key_users(bytes(n)):
            e = raises(ValueError, f, *args)
            if "key" not in str(e):
                raise AssertionError("message for %r: %r" % (f, e))


def test_bad_key_types():
    for bad in BAD_TYPES:
        for f, args in _key_users(bad):
            raises(TypeError, f, *args)


def test_bad_data_types():
    k, iv = bytes(16), bytes(16)
    for bad in BAD_TYPES:
        raises(TypeError, mc.ecb_encrypt, k, bad)
        raises(TypeError, mc.cbc_encrypt, k, iv, bad)
        raises(TypeError, mc.cbc_encrypt, k, bad, bytes(16))
        raises(TypeError, mc.ctr_crypt, k, bad, b"x")
        raises(TypeError, mc.cmac, k, bad)
        raises(TypeError, mc.gcm_encrypt, k, bad, b"", b"")
        raises(TypeError, mc.gcm_encrypt, k, bytes(12), bad, b"")
        raises(TypeError, mc.gcm_encrypt, k, bytes(12), b"", bad)
        raises(TypeError, mc.gcm_decrypt, k, bytes(12), b"", b"", bad)
        raises(TypeError, mc.sha256, bad)
        raises(TypeError, mc.hmac_sha256, bad, b"")
        raises(TypeError, mc.hmac_sha256, b"", bad)
        raises(TypeError, mc.encode_3of6, bad)
        raises(TypeError, mc.compare_digest, bad, b"")
    raises(TypeError, mc.gcm_encrypt, k, bytes(12), b"", b"", "16")
    raises(TypeError, mc.gcm_encrypt, k, bytes(12), b"", b"", tag_len=None)
    raises(TypeError, mc.gcm_encrypt, k, bytes(12), b"", b"", tag=16)
    raises(TypeError, mc.gcm_encrypt, k, bytes(12), b"", b"", 16, tag_len=16)
    raises(TypeError, mc.ecb_encrypt, k)
    raises(TypeError, mc.ecb_encrypt, k, b"", b"")


def test_buffer_kinds_accepted():
    import array
    k = SP_K128
    want = mc.cbc_encrypt(k, SP_IV, SP_PT)
    eq(mc.cbc_encrypt(bytearray(k), memoryview(SP_IV), bytearray(SP_PT)), want)
    eq(mc.cbc_encrypt(memoryview(b"xx" + k)[2:], SP_IV, memoryview(SP_PT)), want)
    eq(mc.sha256(array.array("B", b"abc")), mc.sha256(b"abc"))
    eq(mc.sha256(array.array("I", [1, 2])), mc.sha256(bytes(array.array("I", [1, 2]))))


def test_bad_iv_and_data_lengths():
    k = SP_K128
    for n in (0, 12, 15, 17, 32):
        raises(ValueError, mc.cbc_encrypt, k, bytes(n), bytes(16))
        raises(ValueError, mc.cbc_decrypt, k, bytes(n), bytes(16))
        raises(ValueError, mc.ctr_crypt, k, bytes(n), bytes(16))
        raises(ValueError, mc.cbc_decrypt_into, k, bytes(n), bytes(16), bytearray(16))
    for n in (1, 15, 17, 31, 33):
        raises(ValueError, mc.ecb_encrypt, k, bytes(n))
        raises(ValueError, mc.ecb_decrypt, k, bytes(n))
        raises(ValueError, mc.cbc_encrypt, k, SP_IV, bytes(n))
        raises(ValueError, mc.cbc_decrypt, k, SP_IV, bytes(n))
        eq(len(mc.ctr_crypt(k, SP_IV, bytes(n))), n)  # CTR takes any length
    raises(ValueError, mc.gcm_encrypt, k, b"", b"", b"x")  # empty IV
    raises(ValueError, mc.gcm_decrypt, k, b"", b"", b"x", bytes(16))
    for n in (0, 8, 11, 17, 32):
        raises(ValueError, mc.gcm_decrypt, k, bytes(12), b"", b"", bytes(n))
    for n in (0, 8, 11, 17, 1 << 40):
        raises(ValueError, mc.gcm_encrypt, k, bytes(12), b"", b"", n)


def test_empty_data_where_allowed():
    k = SP_K256
    eq(mc.ecb_encrypt(k, b""), b"")
    eq(mc.ecb_decrypt(k, b""), b"")
    eq(mc.cbc_encrypt(k, SP_IV, b""), b"")
    eq(mc.cbc_decrypt(k, SP_IV, b""), b"")
    eq(mc.ctr_crypt(k, SP_IV, b""), b"")
    eq(mc.ctr_crypt_into(k, SP_IV, b"", bytearray(0)), 0)
    eq(len(mc.cmac(k, b"")), 16)
    ct, tag = mc.gcm_encrypt(k, b"\x01", b"", b"")  # 1-byte IV: allowed by SP 800-38D
    eq(ct, b"")
    eq(mc.gcm_decrypt(k, b"\x01", b"", b"", tag), b"")
    eq(len(mc.hmac_sha256(b"", b"")), 32)
    eq(type(mc.sha256(b"")), bytes)


def test_gcm_tamper_rejected():
    case, k, iv, a, p, c, t = GCM[3]
    k, iv, a, p, c, t = h(k), h(iv), h(a), h(p), h(c), h(t)
    eq(mc.gcm_decrypt(k, iv, a, c, t), p)

    def flip(b, i):
        b = bytearray(b)
        b[i] ^= 1
        return bytes(b)

    for i in (0, 7, 15):
        e = raises(ValueError, mc.gcm_decrypt, k, iv, a, c, flip(t, i))
        if "tag" not in str(e):
            raise AssertionError("message: %r" % e)
    for i in (0, 31, len(c) - 1):
        raises(ValueError, mc.gcm_decrypt, k, iv, a, flip(c, i), t)
    raises(ValueError, mc.gcm_decrypt, k, iv, flip(a, 3), c, t)
    raises(ValueError, mc.gcm_decrypt, k, flip(iv, 11), a, c, t)
    raises(ValueError, mc.gcm_decrypt, k, iv, a, c[:-1], t)
    raises(ValueError, mc.gcm_decrypt, k, iv, b"", c, t)
    raises(ValueError, mc.gcm_decrypt, flip(k, 0), iv, a, c, t)


def test_gcm_truncated_tag_must_match_prefix():
    case, k, iv, a, p, c, t = GCM[3]
    k, iv, a, p, c, t = h(k), h(iv), h(a), h(p), h(c), h(t)
    eq(mc.gcm_decrypt(k, iv, a, c, t[:12]), p)  # a 12-byte tag is its 16-byte tag's prefix
    raises(ValueError, mc.gcm_decrypt, k, iv, a, c, t[1:13])


# ---------------------------------------------------------------------------------------------
# Zero allocation on the _into paths


def test_into_zero_allocation():
    k, iv = SP_K128, SP_IV
    src = bytearray(SP_PT)
    dst = bytearray(64)
    out16 = bytearray(16)
    out32 = bytearray(32)
    tag = bytearray(16)
    enc = bytearray(96)
    dec = bytearray(64)
    n36 = mc.encode_3of6_into(src, enc)

    def run():
        mc.ecb_encrypt_into(k, src, dst)
        mc.ecb_decrypt_into(k, src, dst)
        mc.cbc_encrypt_into(k, iv, src, dst)
        mc.cbc_decrypt_into(k, iv, src, dst)
        mc.ctr_crypt_into(k, iv, src, dst)
        mc.cmac_into(k, src, out16)
        mc.gcm_encrypt_into(k, iv, b"aad", src, dst, tag)
        mc.gcm_decrypt_into(k, iv, b"aad", dst, dst, tag)
        mc.sha256_into(src, out32)
        mc.hmac_sha256_into(k, src, out32)
        mc.encode_3of6_into(src, enc)
        mc.decode_3of6_into(enc, dec)
        mc.encode_3of6_into(src, enc, 16)
        mc.decode_3of6_into(enc, dec, 24)
        mc.compare_digest(out16, tag)
        mc.crc16_arc(src)
        mc.crc16_en13757(src)
        mc.crc16_modbus(src)

    loops = 10 if QUICK else 200  # alloc_delta warms up first (first calls may intern or cache)
    eq(alloc_delta(run, loops), 0, "bytes allocated by %d rounds of _into calls" % loops)
    eq(n36, 96)


def test_oneshot_allocates_only_result():
    # Sanity for the allocation contract: a one-shot call allocates its result (so the zero-
    # allocation check above is not vacuous), and nothing more than one bytes object's worth.
    k = SP_K128
    data = bytes(64)
    mc.cbc_decrypt(k, SP_IV, data)
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        r = mc.cbc_decrypt(k, SP_IV, data)
        mid = gc.mem_alloc()
        r2 = mc.cbc_decrypt_into(k, SP_IV, data, bytearray(64))
        after = gc.mem_alloc()
    finally:
        gc.enable()
    used = mid - before
    # 65 bytes of data (NUL-terminated like every bytes object) plus the object header (4 words),
    # each rounded up to whole GC blocks of 4 words: 128 bytes on 64-bit, 96 on 32-bit.
    block = 4 * (8 if sys.maxsize > 2**32 else 4)
    expect = ((65 + block - 1) // block) * block + block
    eq(used, expect, "bytes allocated by one cbc_decrypt of 64 bytes")
    eq(after - mid > 64, True)  # the bytearray(64) argument itself
    eq(len(r), 64)
    eq(r2, 64)
