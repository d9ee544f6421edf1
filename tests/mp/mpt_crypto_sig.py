# Known-answer and contract tests for metercrypto's SHA-512 and Ed25519 verification; runs in
# both interpreters (and against the x64 native .mpy via tests/test_crypto_natmod.py).
# mp-heap: 8M
#
# MC_TEST_QUICK=1 (the valgrind run) skips the million-a vector and the allocation loop.
import os
from mptest import raises, eq, alloc_delta, SkipTest

try:
    from mc_impl import mc  # test hook for the native .mpy (see mpt_crypto.py)
except ImportError:
    import metercrypto as mc

h = bytes.fromhex
QUICK = (os.getenv("MC_TEST_QUICK") or "") == "1"

# FIPS 180-4 / NIST CSRC SHA-512 examples.
SHA512 = [
    (b"abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
             "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
    (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
     "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
     "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"),
    (b"", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
          "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"),
]

# RFC 8032 section 7.1: (name, public key, message, signature). The secret keys are not needed.
MSG1024 = h(
    "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1"
    "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
    "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a"
    "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
    "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10"
    "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
    "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d"
    "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
    "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b"
    "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
    "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b"
    "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
    "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d"
    "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
    "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7"
    "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
    "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09"
    "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
    "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161"
    "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
    "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca"
    "c60c905c15fc910840b94c00a0b9d0")
RFC8032 = [
    ("TEST 1", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", b"",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("TEST 2", "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", h("72"),
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("TEST 3", "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", h("af82"),
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ("TEST 1024", "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e", MSG1024,
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350"
     "aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"),
    ("TEST SHA(abc)", "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     h("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
       "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
     "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"),
]


def flip(b, i, bit=1):
    b = bytearray(b)
    b[i] ^= bit
    return bytes(b)


def test_sha512_vectors():
    for m, d in SHA512:
        eq(mc.sha512(m), h(d), m)


def test_sha512_million_a():
    if QUICK:
        raise SkipTest("MC_TEST_QUICK")
    eq(mc.sha512(b"a" * 1000000), h("e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
                                    "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b"))


def test_sha512_block_boundaries():
    # Lengths around the 112-byte padding limit and the 128-byte block: the one-shot and the
    # _into forms agree, and every length gives a different digest.
    seen = set()
    for n in (111, 112, 113, 127, 128, 129, 239, 240, 255, 256):
        d = mc.sha512(bytes(n))
        out = bytearray(64)
        eq(mc.sha512_into(memoryview(bytes(n)), out), 64)
        eq(bytes(out), d)
        seen.add(d)
    eq(len(seen), 10)


def test_sha512_into():
    out = bytearray(70)
    eq(mc.sha512_into(b"abc", out), 64)
    eq(bytes(out[:64]), h(SHA512[0][1]))
    eq(bytes(out[64:]), bytes(6))  # bytes beyond the digest untouched
    out = bytearray(20)
    eq(mc.sha512_into(b"abc", out), 20)  # truncated
    eq(bytes(out), h(SHA512[0][1])[:20])
    buf = bytearray(b"abc" + bytes(61))
    eq(mc.sha512_into(memoryview(buf)[:3], buf), 64)  # output may alias the input
    eq(bytes(buf), h(SHA512[0][1]))
    raises(ValueError, mc.sha512_into, b"abc", bytearray(0))
    raises(TypeError, mc.sha512_into, b"abc", bytes(64))
    raises(TypeError, mc.sha512, "abc")
    raises(TypeError, mc.sha512, None)
    raises(TypeError, mc.sha512, 1)


def test_ed25519_rfc8032():
    for name, pk, m, sig in RFC8032:
        eq(mc.ed25519_verify(h(pk), m, h(sig)), True, name)


def test_ed25519_rejects_changes():
    for name, pk, m, sig in RFC8032:
        pk, sig = h(pk), h(sig)
        eq(mc.ed25519_verify(pk, m + b"\x00", sig), False, name + " longer message")
        if m:
            eq(mc.ed25519_verify(pk, flip(m, len(m) - 1), sig), False, name + " message bit")
        for i in (0, 31, 32, 63):
            eq(mc.ed25519_verify(pk, m, flip(sig, i, 0x10)), False, name + " signature byte %d" % i)
        eq(mc.ed25519_verify(flip(pk, 0, 2), m, sig), False, name + " key bit")
    # Another test's key with this test's signature.
    eq(mc.ed25519_verify(h(RFC8032[1][1]), RFC8032[0][2], h(RFC8032[0][3])), False)


def test_ed25519_buffer_kinds():
    name, pk, m, sig = RFC8032[2]
    eq(mc.ed25519_verify(bytearray(h(pk)), memoryview(bytearray(m)), memoryview(h(sig))), True)
    eq(mc.ed25519_verify(memoryview(b"xx" + h(pk))[2:], bytearray(m), bytearray(h(sig))), True)


def test_ed25519_bad_arguments():
    name, pk, m, sig = RFC8032[1]
    pk, sig = h(pk), h(sig)
    for n in (0, 31, 33, 64):
        e = raises(ValueError, mc.ed25519_verify, bytes(n), m, sig)
        if "key" not in str(e):
            raise AssertionError("message: %r" % e)
    for n in (0, 32, 63, 65, 128):
        e = raises(ValueError, mc.ed25519_verify, pk, m, bytes(n))
        if "signature" not in str(e):
            raise AssertionError("message: %r" % e)
    for bad in (1, None, "x" * 32):
        raises(TypeError, mc.ed25519_verify, bad, m, sig)
        raises(TypeError, mc.ed25519_verify, pk, bad, sig)
        raises(TypeError, mc.ed25519_verify, pk, m, bad)
    raises(TypeError, mc.ed25519_verify, pk, m)
    raises(TypeError, mc.ed25519_verify, pk, m, sig, sig)


def test_ed25519_scalar_range():
    # S >= L is rejected (RFC 8032 5.1.7 step 1): S + L and L itself, with a valid R.
    L = (1 << 252) + 27742317777372353535851937790883648493
    name, pk, m, sig = RFC8032[0]
    pk, sig = h(pk), h(sig)
    s = int.from_bytes(sig[32:], "little")
    for bad in (s + L, L, (1 << 256) - 1):
        eq(mc.ed25519_verify(pk, m, sig[:32] + bad.to_bytes(32, "little")), False, hex(bad))


def test_zero_allocation():
    name, pk, m, sig = RFC8032[2]
    pk, sig = h(pk), h(sig)
    out = bytearray(64)
    data = bytes(300)
    m2 = m + b"!"

    def run():
        mc.ed25519_verify(pk, m, sig)
        mc.ed25519_verify(pk, m2, sig)  # the False path too
        mc.sha512_into(data, out)

    loops = 3 if QUICK else 20
    eq(alloc_delta(run, loops), 0, "bytes allocated by %d rounds of ed25519_verify / sha512_into" % loops)
