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
_IV0 = b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"  # a literal: ROM when frozen


class Mode7:
    def __init__(self, tx=False):
        self.kdf_in = bytearray(16)
        self.kenc = bytearray(16)
        self.kmac = bytearray(16)
        self.mac = bytearray(16)
        self.iv0 = _IV0
        # the transmitter's MAC input (services/radio_tx.py); the receiver MACs in place
        self.scr = bytearray(_SCR) if tx else None

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
        """Check the AFL MAC with self.kmac (the computed MAC in self.mac). OK or ERR_MAC. The
        MAC input (MCL, KI, MCR, ML, then everything after the AFL) is made contiguous in the
        frame buffer itself, no scratch copy of the frame: the k <= 9 bytes just before the data
        are saved, MCL..MCR and ML moved there, and the saved bytes put back after the CMAC."""
        s = afl.mcl_off
        kp = afl.mac_off - s  # MCL, KI, MCR
        lo = afl.ml_off
        nxt = afl.next_off
        t = nxt - kp - (2 if lo >= 0 else 0)  # > s: the MAC (>= 4 bytes) lies between
        sv = self.kdf_in  # free once derive() is done
        for i in range(nxt - t):
            sv[i] = b[t + i]
        for i in range(kp):  # from the saved copy where the move overlaps
            x = s + i
            b[t + i] = sv[x - t] if x >= t else b[x]
        if lo >= 0:
            b[nxt - 2] = sv[lo - t] if lo >= t else b[lo]
            b[nxt - 1] = sv[lo + 1 - t] if lo + 1 >= t else b[lo + 1]
        metercrypto.cmac_into(self.kmac, memoryview(b)[t:end], self.mac)
        for i in range(nxt - t):
            b[t + i] = sv[i]
        mo = afl.mac_off
        diff = 0
        for i in range(afl.mac_len):  # constant time over the MAC bytes
            diff |= self.mac[i] ^ b[mo + i]
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
