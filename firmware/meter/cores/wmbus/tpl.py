# wM-Bus transport layer (TPL) header, EN 13757-7 clause 7: sans-I/O, offsets into the frame
# buffer, nothing copied. Short header (CI 0x7A and kin): ACC ST CF(2, LE). Long header (CI 0x72
# and kin): ID(4) M(2) version type, then ACC ST CF. No header (CI 0x78 and kin): data follows CI.
#
#     t = Tpl(); r = t.read(buf, ci_off, end)   # OK: t.acc, t.status, t.cf, t.mode, t.nblocks,
#                                               #     t.addr_off (8-byte M+A for the IV), t.data_off
from micropython import const

OK = const(0)
ERR_SHORT = const(20)  # frame ends inside the header
ERR_CI = const(21)  # not a TPL CI field

KIND_NONE = const(0)
KIND_SHORT = const(1)
KIND_LONG = const(2)

# CI -> header kind (EN 13757-7 Table 2, the application-data CIs the meter handles): four CIs per
# kind, in KIND order (a bytes literal: ROM when frozen, no dict on the heap)
_CIS = b"\x78\x79\x69\x70\x7a\x7b\x6a\x6e\x72\x73\x6b\x6f"


class Tpl:
    def __init__(self):
        self.kind = KIND_NONE
        self.acc = 0
        self.status = 0
        self.cf = 0
        self.cfe = 0  # configuration field extension (mode 7: KDF selection, key id)
        # from CF (EN 13757-7 7.5.8), set by read(): plain attributes, no properties on the heap
        self.mode = 0  # security mode, CF bits 8..12
        self.nblocks = 0  # encrypted 16-byte blocks (mode 5/7), CF bits 4..7
        self.addr_off = 2  # the link layer's M field: M(2) ID(4) version type
        self.data_off = 0

    def read(self, b, ci_off, end):
        ci = b[ci_off]
        k = -1
        for j in range(12):
            if _CIS[j] == ci:
                k = j >> 2
                break
        if k < 0:
            return ERR_CI
        p = ci_off + 1
        self.kind = k
        self.addr_off = 2
        if k == KIND_LONG:
            if p + 8 > end:
                return ERR_SHORT
            # the long header carries the meter's own address; its byte order differs from the
            # link's (ID before M), so the IV is built from addr_off by iv_into()
            self.addr_off = -p
            p += 8
        if k != KIND_NONE:
            if p + 4 > end:
                return ERR_SHORT
            self.acc = b[p]
            self.status = b[p + 1]
            cf = self.cf = b[p + 2] | (b[p + 3] << 8)
            self.mode = (cf >> 8) & 0x1F
            self.nblocks = (cf >> 4) & 0x0F
            p += 4
            self.cfe = 0
            if self.mode == 7:  # EN 13757-7 7.5.9: CFE follows CF in mode 7
                if p >= end:
                    return ERR_SHORT
                self.cfe = b[p]
                p += 1
        else:
            self.acc = self.status = self.cf = self.cfe = self.mode = self.nblocks = 0
        self.data_off = p
        return OK

    def iv_into(self, b, iv):
        """Mode 5 IV (EN 13757-7 9.4.3): M(2) A(6) of the meter, then ACC eight times."""
        a = self.addr_off
        if a >= 0:
            for i in range(8):
                iv[i] = b[a + i]
        else:  # long header: ID(4) M(2) ver type -> M(2) ID(4) ver type
            a = -a
            iv[0] = b[a + 4]
            iv[1] = b[a + 5]
            for i in range(4):
                iv[2 + i] = b[a + i]
            iv[6] = b[a + 6]
            iv[7] = b[a + 7]
        for i in range(8, 16):
            iv[i] = self.acc
