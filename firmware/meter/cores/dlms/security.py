# DLMS/COSEM security suite 0 (Green Book 9.2.3, 9.2.7): AES-GCM-128 glo-ciphering of APDUs,
# the HLS mechanism 5 (GMAC) challenge responses, and AES key unwrap (RFC 3394) for the
# Security setup global_key_transfer method. All AES through metercrypto.
#
# Ciphered APDU (glo-xxx, Green Book 9.2.7.2.4): tag | length | SC | IC (u32) | ciphertext | T
#   SC (security control byte): bits 0-3 suite id (0), bit 4 authentication, bit 5 encryption,
#   bit 6 key set (0 = unicast), bit 7 compression. IV = sender system title (8) || IC (4).
#   SC 0x30 (authenticated + encrypted): AAD = SC || AK, GCM over the APDU, T = 12-byte tag.
#   SC 0x10 (authenticated only): AAD = SC || AK || APDU, no encryption, T = the GMAC tag.
#   Encryption without authentication (0x20), broadcast keys and compression are refused
#   (DecipherError): an unauthenticated request must never change anything.
# HLS GMAC (Green Book 9.2.7.4, mechanism id 5): f(challenge) = SC || IC || GMAC where GMAC is the
#   12-byte tag of GCM(EK, IV = system title || IC, AAD = SC || AK || challenge, no plaintext),
#   SC = 0x10.
#
# Key material lives in a Keys object owned by the caller; no function here returns, prints or
# puts a key into an exception text.
from micropython import const
import struct

import metercrypto

SC_AUTH = const(0x10)
SC_ENC = const(0x20)
SC_AE = const(0x30)
TAG_LEN = const(12)

# DecipherError codes
SHORT = const(1)
BAD_SC = const(2)
BAD_TAG = const(3)
NO_KEY = const(4)


class DecipherError(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Keys:
    """The owner's key material (suite 0: 16-byte keys): ek = global unicast encryption key,
    ak = authentication key, kek = master key (key transfer), lls = {client SAP: password},
    hls = {client SAP: HLS secret} (unused by GMAC, which uses ek/ak), system_title = the server's
    8-byte system title. repr() never shows a key."""
    __slots__ = ("ek", "ak", "kek", "lls", "system_title")

    def __init__(self, system_title, ek=None, ak=None, kek=None, lls=None):
        if len(system_title) != 8:
            raise ValueError("system title")
        self.system_title = bytes(system_title)
        self.ek = ek
        self.ak = ak
        self.kek = kek
        self.lls = lls or {}

    def __repr__(self):
        return "<Keys>"


class Cipher:
    """Per-association working buffers (preallocated IV and AAD)."""

    def __init__(self):
        self.iv = bytearray(12)
        self.aad = bytearray(17)
        self.tag = bytearray(TAG_LEN)

    def _iv(self, title, ic):
        self.iv[0:8] = title
        struct.pack_into(">I", self.iv, 8, ic)

    def decipher(self, keys, title, buf, pos, end):
        """buf[pos:end] = SC | IC | ciphertext | tag (the glo-APDU's content). Decrypts in place;
        returns (sc, ic, plain_start, plain_len). Raises DecipherError."""
        if end - pos < 5 + TAG_LEN:
            raise DecipherError(SHORT)
        sc = buf[pos]
        if sc & 0x0F or sc & 0xC0 or not sc & SC_AUTH:
            raise DecipherError(BAD_SC)
        if keys.ek is None or keys.ak is None or title is None:
            raise DecipherError(NO_KEY)
        ic = struct.unpack_from(">I", buf, pos + 1)[0]
        self._iv(title, ic)
        start = pos + 5
        n = end - TAG_LEN - start
        mv = memoryview(buf)
        tag = mv[end - TAG_LEN:end]
        if sc == SC_AE:
            aad = self.aad
            aad[0] = sc
            aad[1:17] = keys.ak
            try:
                metercrypto.gcm_decrypt_into(keys.ek, self.iv, aad, mv[start:start + n],
                                             mv[start:start + n], tag)
            except ValueError:
                raise DecipherError(BAD_TAG)
        else:  # SC_AUTH: GMAC over SC || AK || APDU
            aad = bytes((sc,)) + bytes(keys.ak) + bytes(mv[start:start + n])
            metercrypto.gcm_encrypt_into(keys.ek, self.iv, aad, b"", bytearray(0), self.tag)
            if not metercrypto.compare_digest(self.tag, tag):
                raise DecipherError(BAD_TAG)
        return sc, ic, start, n

    def encipher(self, keys, sc, ic, buf, start, n):
        """Protect buf[start:start+n] in place and append the tag; returns the new length
        (n + 12). The caller writes tag/length/SC/IC before start."""
        self._iv(keys.system_title, ic)
        mv = memoryview(buf)
        if sc == SC_AE:
            aad = self.aad
            aad[0] = sc
            aad[1:17] = keys.ak
            metercrypto.gcm_encrypt_into(keys.ek, self.iv, aad, mv[start:start + n],
                                         mv[start:start + n], mv[start + n:start + n + TAG_LEN])
        else:
            aad = bytes((sc,)) + bytes(keys.ak) + bytes(mv[start:start + n])
            metercrypto.gcm_encrypt_into(keys.ek, self.iv, aad, b"", bytearray(0),
                                         mv[start + n:start + n + TAG_LEN])
        return n + TAG_LEN

    def gmac(self, keys, title, ic, challenge, out):
        """out[0:17] = SC(0x10) || IC || GMAC tag (HLS mechanism 5 f(challenge))."""
        self._iv(title, ic)
        aad = bytes((SC_AUTH,)) + bytes(keys.ak) + bytes(challenge)
        out[0] = SC_AUTH
        struct.pack_into(">I", out, 1, ic)
        metercrypto.gcm_encrypt_into(keys.ek, self.iv, aad, b"", bytearray(0),
                                     memoryview(out)[5:5 + TAG_LEN])

    def check_gmac(self, keys, title, challenge, resp):
        """Verify a client's f(StoC) = SC || IC || tag; returns its IC, or raises DecipherError."""
        if len(resp) != 5 + TAG_LEN:
            raise DecipherError(SHORT)
        if resp[0] != SC_AUTH:
            raise DecipherError(BAD_SC)
        ic = struct.unpack_from(">I", resp, 1)[0]
        mine = bytearray(5 + TAG_LEN)
        self.gmac(keys, title, ic, challenge, mine)
        if not metercrypto.compare_digest(mine, resp):
            raise DecipherError(BAD_TAG)
        return ic


_IV3394 = b"\xa6\xa6\xa6\xa6\xa6\xa6\xa6\xa6"


def key_unwrap(kek, wrapped):
    """RFC 3394 2.2.2 (index-based): the unwrapped key, or raise ValueError (bad length or
    integrity check failed; the text never carries key material)."""
    if len(wrapped) % 8 or len(wrapped) < 24 or len(wrapped) > 40:
        raise ValueError("wrapped key length")
    n = len(wrapped) // 8 - 1
    a = bytearray(wrapped[0:8])
    r = bytearray(wrapped[8:])
    blk = bytearray(16)
    for j in range(5, -1, -1):
        for i in range(n, 0, -1):
            t = n * j + i
            blk[0:8] = a
            for k in range(4):  # A ^ t (t < 2**8 here: n <= 4)
                blk[7 - k] ^= (t >> (8 * k)) & 0xFF
            blk[8:16] = r[8 * (i - 1):8 * i]
            metercrypto.ecb_decrypt_into(kek, blk, blk)
            a[0:8] = blk[0:8]
            r[8 * (i - 1):8 * i] = blk[8:16]
    ok = metercrypto.compare_digest(a, _IV3394)
    for k in range(16):
        blk[k] = 0
    if not ok:
        for k in range(len(r)):
            r[k] = 0
        raise ValueError("key unwrap integrity")
    return bytes(r)
