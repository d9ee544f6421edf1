# wM-Bus extended link layer (ELL), EN 13757-4 13.2 and OMS Vol. 2 7.2: CI 0x8C (CC ACC),
# 0x8D (CC ACC SN PayloadCRC), 0x8E (CC ACC M A), 0x8F (CC ACC M A SN PayloadCRC). With an SN
# whose encryption bits are non-zero, the payload from the PayloadCRC on is AES-128-CTR encrypted
# (IV = M A CC SN FN=0 BC=0); the CRC (CRC-16/EN-13757 of the rest, LE) is checked after
# decryption. Decrypts in place; sans-I/O; nothing allocated per frame.
import metercrypto
from micropython import const

OK = const(0)
ERR_SHORT = const(40)
ERR_CI = const(41)
ERR_CRC = const(42)  # payload CRC after decryption: wrong key or corrupt frame
ERR_KEY = const(43)  # encrypted but no key given

_LEN = b"\x02\x08\x0a\x10"  # CI 0x8C..0x8F -> header bytes after the CI (a literal: ROM when frozen)
_crc = metercrypto.crc16_en13757


class Ell:
    def __init__(self):
        self.cc = 0
        self.acc = 0
        self.sn = 0
        self.encrypted = False
        self.addr_off = 2  # M(2) A(6) used for the IV: the link's, or the ELL's own (8E/8F)
        self.next_off = 0  # the CI of the next layer
        self.iv = bytearray(16)

    def read(self, b, ci_off, end, key=None):
        ci = b[ci_off]
        if not 0x8C <= ci <= 0x8F:
            return ERR_CI
        n = _LEN[ci - 0x8C]
        p = ci_off + 1
        if p + n > end:
            return ERR_SHORT
        self.cc = b[p]
        self.acc = b[p + 1]
        self.addr_off = 2
        q = p + 2
        if ci == 0x8E or ci == 0x8F:
            self.addr_off = q
            q += 8
        self.encrypted = False
        self.sn = 0
        if ci == 0x8D or ci == 0x8F:
            self.sn = b[q] | (b[q + 1] << 8) | (b[q + 2] << 16) | ((b[q + 3] & 0x1F) << 24)
            self.encrypted = (b[q + 3] >> 5) != 0  # SN bits 29..31: encryption mode (1 = CTR)
            c = q + 4
            if self.encrypted:
                if key is None:
                    return ERR_KEY
                iv = self.iv
                a = self.addr_off
                for i in range(8):
                    iv[i] = b[a + i]
                iv[8] = self.cc
                for i in range(4):
                    iv[9 + i] = b[q + i]
                iv[13] = iv[14] = iv[15] = 0
                mv = memoryview(b)[c:end]
                metercrypto.ctr_crypt_into(key, iv, mv, mv)
            if (b[c] | (b[c + 1] << 8)) != _crc(memoryview(b)[c + 2:end]):
                return ERR_CRC
            q = c + 2
        self.next_off = q
        return OK
