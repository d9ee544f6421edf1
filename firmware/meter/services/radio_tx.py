# The meter's own OMS electricity meter frames (transmit role): records from the registers,
# security mode 7 (AFL MAC + counter, KDFS 1) or mode 5, optional ELL (CI 0x8C), access number,
# persisted counter, a per-hour duty-cycle budget (ERC 70-03 868 MHz band: 1% = 36 s per hour)
# and interval jitter from a per-meter PRNG. Builds into a preallocated buffer the frame without
# CRCs (L C M A ... as link.encode() takes it); no radio I/O here.
#
#   tx = RadioTx(id_str, mfct, key, cfg); n = tx.build(values, now) -> bytes in tx.buf[:n], or 0
#   values: dict OBIS-ish names -> int: "import_wh", "export_wh", "import_wh_1"..,
#           "export_wh_1".., "power_w", "status", "time_f" (type F)
import metercrypto
import struct

from meter.cores.wmbus import records as R
from meter.cores.wmbus.frame import mfct_code
from meter.cores.oms.mode7 import Mode7

C_SND_NR = 0x44
C_SND_IR = 0x46
DEV_ELECTRICITY = 0x02
DEFAULT_RECORDS = ("import_wh", "export_wh")  # privacy default: totals only
MIN_INTERVAL = 900  # seconds; the default is at least 15 min (ETSI review, privacy)
HOUR_BUDGET_MS = 36000  # 1% of an hour

# name -> (dif, vif bytes, tariff)
_REC = {"import_wh": (0x04, b"\x03", 0), "export_wh": (0x04, b"\x83\x3c", 0),
        "import_wh_1": (0x04, b"\x03", 1), "import_wh_2": (0x04, b"\x03", 2),
        "export_wh_1": (0x04, b"\x83\x3c", 1), "export_wh_2": (0x04, b"\x83\x3c", 2),
        "power_w": (0x04, b"\x2b", 0), "status": (0x02, b"\xfd\x17", 0),
        "time_f": (0x04, b"\x6d", 0)}


def airtime_ms(n, mode):
    """Time on air of a frame of n bytes without CRCs (format A CRCs added), in ms (rounded up):
    T1 3-of-6 at 100 kchip/s; C1 NRZ at 100 kbit/s; plus preamble and sync (EN 13757-4)."""
    blocks = 1 + (n - 10 + 15) // 16 if n > 10 else 1
    total = n + 2 * blocks
    chips = (total * 12 + 19 * 2 + 10) if mode == "T1" else (total * 8 + 64 + 16)
    return (chips + 99) // 100


class RadioTx:
    def __init__(self, ident, mfct, key, cfg=None):
        cfg = cfg or {}
        self.mode = cfg.get("mode", "T1")
        self.security = cfg.get("security", 7)
        self.ell = bool(cfg.get("ell", False))
        self.records = tuple(cfg.get("records", DEFAULT_RECORDS))
        for r in self.records:
            if r not in _REC:
                raise ValueError("radio_tx: unknown record " + r)
        self.interval = int(cfg.get("interval", MIN_INTERVAL))
        if self.security not in (5, 7) or self.mode not in ("T1", "C1"):
            raise ValueError("radio_tx: security 5/7, mode T1/C1")
        self._key = key
        self.id = int(ident, 16)
        self.m = mfct_code(mfct)
        self.acc = self.id & 0xFF
        self.counter = 0  # AFL MCR of the last frame sent; persisted by the owner
        self.buf = bytearray(256)
        self._m7 = Mode7(tx=True)
        self._iv = bytearray(16)
        self._hour = -1
        self._used_ms = 0
        self._rng = (self.id ^ (self.id >> 16)) & 0xFFFF or 0xACE1
        self.denied = 0

    def next_delay(self):
        """Seconds to the next frame: interval +- interval/16 (xorshift16, seeded by the id)."""
        x = self._rng
        x ^= (x << 7) & 0xFFFF
        x ^= x >> 9
        x ^= (x << 8) & 0xFFFF
        self._rng = x
        j = self.interval // 8
        return self.interval - j // 2 + (x % (j + 1) if j else 0)

    def _budget(self, n, now):
        h = now // 3600
        if h != self._hour:
            self._hour, self._used_ms = h, 0
        t = airtime_ms(n, self.mode)
        if self._used_ms + t > HOUR_BUDGET_MS:
            self.denied += 1
            return False
        self._used_ms += t
        return True

    def build(self, values, now, install=False):
        """Build one frame into self.buf; its length, or 0 when the duty cycle forbids it."""
        b = self.buf
        struct.pack_into("<BBHIBB", b, 0, 0, C_SND_IR if install else C_SND_NR, self.m, self.id,
                         1, DEV_ELECTRICITY)
        p = 10
        self.acc = (self.acc + 1) & 0xFF
        if self.ell:
            b[p], b[p + 1], b[p + 2] = 0x8C, 0x20, self.acc
            p += 3
        afl = -1
        if self.security == 7:
            self.counter += 1
            afl = p
            struct.pack_into("<BBHBI", b, p, 0x90, 0x0F, 0x2C00, 0x25, self.counter)
            p += 17
        tpl = p
        b[p], b[p + 1], b[p + 2] = 0x7A, self.acc, 0
        p += 5
        if self.security == 7:
            b[p] = 0x10  # CFE: KDFS 1
            p += 1
        d = p
        b[p], b[p + 1] = 0x2F, 0x2F
        p += 2
        for name in self.records:
            dif, vif, tar = _REC[name]
            p = R.encode(b, p, dif, vif, values.get(name, 0), 0, tar)
        while (p - d) % 16:
            b[p] = 0x2F
            p += 1
        nb = (p - d) // 16
        b[tpl + 3], b[tpl + 4] = nb << 4, self.security
        mv = memoryview(b)[d:p]
        if self.security == 7:
            m = self._m7
            m.derive(self._key, b, afl + 5, b, 4)
            metercrypto.cbc_encrypt_into(m.kenc, m.iv0, mv, mv)
            s = m.scr
            s[0:5] = b[afl + 4:afl + 9]
            s[5:5 + p - tpl] = b[tpl:p]
            metercrypto.cmac_into(m.kmac, memoryview(s)[:5 + p - tpl], m.mac)
            b[afl + 9:afl + 17] = m.mac[:8]
        else:
            iv = self._iv
            iv[0:8] = b[2:10]
            for i in range(8, 16):
                iv[i] = self.acc
            metercrypto.cbc_encrypt_into(self._key, iv, mv, mv)
        b[0] = p - 1
        if not self._budget(p, now):
            if self.security == 7:
                self.counter -= 1
            return 0
        return p
