# OMS security mode 7 (EN 13757-7 9.4.5, OMS Vol. 2 9.2.4): AES-128-CBC with IV 0 under an
# ephemeral key; AES-CMAC MAC in the AFL over MCL, KI, MCR, ML and everything after the AFL.
# Key derivation KDFS 1 (EN 13757-7 9.6.1): K = CMAC(Kmaster, D || MCR || ID || 07*7), D = 0x00
# for Kenc, 0x01 for Kmac (meter to other). The MAC is verified BEFORE anything is decrypted, and
# the caller must check the counter (cores/oms/replay.py) before accepting the values.
import metercrypto
from micropython import const

OK = const(0)
ERR_NO_AFL = const(60)  # mode 7 needs an AFL with MCR and MAC
ERR_MAC = const(61)
ERR_LENGTH = const(62)
ERR_CHECK = const(63)  # no 2F2F after decryption (MAC was good: a meter-side error)
ERR_KDF = const(64)  # unsupported KDF selection

_SCR = const(272)


class Mode7:
    def __init__(self):
        self.kdf_in = bytearray(16)
        self.kenc = bytearray(16)
        self.kmac = bytearray(16)
        self.mac = bytearray(16)
        self.iv0 = bytes(16)
        self.scr = bytearray(_SCR)
        self._scrv = memoryview(self.scr)

    def derive(self, key, mcr_bytes_src, mcr_off, id_src, id_off):
        """Kenc and Kmac into self.kenc / self.kmac (KDFS 1)."""
        d = self.kdf_in
        for i in range(4):
            d[1 + i] = mcr_bytes_src[mcr_off + i]
            d[5 + i] = id_src[id_off + i]
        for i in range(9, 16):
            d[i] = 0x07
        d[0] = 0x00
        metercrypto.cmac_into(key, d, self.kenc)
        d[0] = 0x01
        metercrypto.cmac_into(key, d, self.kmac)

    def verify(self, b, afl, end):
        """Check the AFL MAC with self.kmac. OK or ERR_MAC/ERR_LENGTH."""
        s = self.scr
        k = 0
        for i in range(afl.mcl_off, afl.mac_off):  # MCL, KI, MCR
            s[k] = b[i]
            k += 1
        if afl.ml_off >= 0:
            s[k] = b[afl.ml_off]
            s[k + 1] = b[afl.ml_off + 1]
            k += 2
        n = end - afl.next_off
        if k + n > _SCR:
            return ERR_LENGTH
        s[k:k + n] = memoryview(b)[afl.next_off:end]
        metercrypto.cmac_into(self.kmac, self._scrv[:k + n], self.mac)
        ml = afl.mac_len
        diff = 0
        for i in range(ml):  # constant time over the MAC bytes
            diff |= self.mac[i] ^ b[afl.mac_off + i]
        return OK if diff == 0 else ERR_MAC

    def open(self, key, b, afl, tpl, end):
        """Derive, verify, then decrypt tpl.nblocks blocks at tpl.data_off in place."""
        if afl.mcr_off < 0 or afl.mac_off < 0 or afl.mcl_off < 0:
            return ERR_NO_AFL
        if (tpl.cfe >> 4) & 0x03 != 1:
            return ERR_KDF
        a = tpl.addr_off
        id_off = a + 2 if a >= 0 else -a
        self.derive(key, b, afl.mcr_off, b, id_off)
        r = self.verify(b, afl, end)
        if r != OK:
            return r
        n = tpl.nblocks * 16
        p = tpl.data_off
        if n == 0 or p + n > end:
            return ERR_LENGTH
        mv = memoryview(b)[p:p + n]
        metercrypto.cbc_decrypt_into(self.kenc, self.iv0, mv, mv)
        if b[p] != 0x2F or b[p + 1] != 0x2F:
            return ERR_CHECK
        return OK
