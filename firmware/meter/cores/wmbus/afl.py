# wM-Bus authentication and fragmentation layer (AFL), EN 13757-7 6 / OMS Vol. 2 7.3: CI 0x90,
# AFL.L, FCL(2), then per FCL: MCL(1), KI(2), MCR(4), MAC(8 or more), ML(2). Sans-I/O: offsets
# only; the MAC is checked by cores/oms/mode7.py (it needs the keys).
from micropython import const

OK = const(0)
ERR_SHORT = const(50)
ERR_CI = const(51)
ERR_FRAG = const(52)  # fragmented messages are not supported (MF set or fragment id != 0)

_MF = const(0x4000)
_MCLP = const(0x2000)
_MLP = const(0x1000)
_MCRP = const(0x0800)
_MACP = const(0x0400)
_KIP = const(0x0200)


class Afl:
    def __init__(self):
        self.fcl = 0
        self.mcl = 0
        self.mcr = -1  # message counter (low 30 bits: a small int on 32-bit), -1 when absent
        self.mcr_off = -1
        self.mcl_off = -1  # start of the MAC'ed AFL fields (MCL..MCR, ML)
        self.mac_off = -1
        self.mac_len = 0
        self.ml_off = -1
        self.next_off = 0

    def read(self, b, ci_off, end):
        if b[ci_off] != 0x90:
            return ERR_CI
        if ci_off + 4 > end:
            return ERR_SHORT
        n = b[ci_off + 1]
        q = ci_off + 2
        nxt = q + n
        if nxt > end or n < 2:
            return ERR_SHORT
        f = self.fcl = b[q] | (b[q + 1] << 8)
        if f & _MF or f & 0xFF:
            return ERR_FRAG
        q += 2
        self.mcl_off = self.mac_off = self.ml_off = -1
        self.mcr = self.mcr_off = -1
        self.mac_len = 0
        if f & _MCLP:
            self.mcl_off = q
            self.mcl = b[q]
            q += 1
        if f & _KIP:
            q += 2
        if f & _MCRP:
            if q + 4 > nxt:
                return ERR_SHORT
            self.mcr_off = q
            self.mcr = b[q] | (b[q + 1] << 8) | (b[q + 2] << 16) | ((b[q + 3] & 0x3F) << 24)
            q += 4
        if f & _MACP:
            at = self.mcl & 0x0F  # MCL.AT 4..7: AES-CMAC-128 truncated to 4, 8, 12, 16 bytes
            self.mac_len = 4 * (at - 3) if f & _MCLP and 4 <= at <= 7 else 0
            if self.mac_len == 0:
                return ERR_SHORT
            self.mac_off = q
            q += self.mac_len
        if f & _MLP:
            self.ml_off = q
            q += 2
        if q > nxt:
            return ERR_SHORT
        self.next_off = nxt
        return OK
