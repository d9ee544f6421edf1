# Sub-meter collector (wM-Bus/OMS receive role): configured gas, water and heat meters are
# decrypted, authenticated, replay-checked and decoded; their last reading feeds P1 through the
# SubmeterSource interface (channels()), replacing SettableSubmeters (which it uses inside, so
# the validation is the same). No radio I/O here: the radio port hands each frame the link layer
# accepted (`link.frame`) to receive(frame, now).
#
# Configuration (board config "oms" -> "submeters", see README "OMS / sub-meters"):
#   {"id": "12345678", "mfct": "ELS", "channel": 1, "key": "gas_key", "plain": False}
# `key` is a key name in board.keys (the key itself never leaves this object); "plain": True
# allows mode 0 (no encryption) for that meter only.
#
# Order per frame (cheap and unauthenticated checks first; nothing changes state before the MAC
# or the 2F2F check passed and the counter is fresh): lookup -> ELL -> AFL -> TPL -> mode 7 MAC
# then decrypt / mode 5 decrypt + 2F2F -> counter -> records -> reading.
import array

from meter.cores.wmbus import ell as E
from meter.cores.wmbus import afl as A
from meter.cores.wmbus import tpl as T
from meter.cores.wmbus import records as R
from meter.cores.wmbus.frame import mfct_code
from meter.cores.oms import mode5 as M5
from meter.cores.oms import mode7 as M7
from meter.cores.oms.replay import Counters
from meter.common import timeutil
from meter.services.submeters import SettableSubmeters

# results and statistics indices
OK = 0
BAD_MAC = 1  # MAC failed (mode 7) or ELL payload CRC after decryption
REPLAYED = 2
WRONG_KEY = 3  # mode 5 2F2F check failed, or no key in the key store
UNKNOWN = 4  # meter not configured (listed for install mode)
MALFORMED = 5  # header or record errors, or a security mode not allowed for the meter
N_STATS = 6

C_SND_IR = 0x46  # EN 13757-4 C field: installation request
MAX_INSTALL = 16


class Collector:
    def __init__(self, submeters, keys, counter_slots=None):
        n = len(submeters)
        # per meter 8 bytes, as on air: A field (4, LE: no big ints on 32-bit), M field (2, LE),
        # P1 channel, plain allowed; one bytearray, not four objects
        self._tab = t = bytearray(8 * n)
        self.eids = []  # P1 equipment ids: manufacturer letters and the 8-digit id (no str per frame)
        for i in range(n):
            m = submeters[i]
            v = int(m["id"], 16)
            c = mfct_code(m["mfct"])
            ch = int(m["channel"])
            if not 1 <= ch <= 4:
                raise ValueError("collector: channel must be 1..4")
            for k in range(4):
                t[8 * i + k] = (v >> (8 * k)) & 0xFF
            t[8 * i + 4], t[8 * i + 5] = c & 0xFF, c >> 8
            t[8 * i + 6], t[8 * i + 7] = ch, 1 if m.get("plain") else 0
            self.eids.append("%c%c%c%s" % (((c >> 10) & 31) + 64, ((c >> 5) & 31) + 64, (c & 31) + 64,
                                           m["id"]))
        self._keys = [keys.get(m["key"]) if m.get("key") else None for m in submeters]
        self.stats = array.array("i", [0] * (N_STATS * n))
        self.total = array.array("i", [0] * N_STATS)
        self.counters = Counters(n)
        self.out = SettableSubmeters()
        self.install = []  # (id str, manufacturer, device type, rssi, snd_ir), newest last
        self._ell, self._afl, self._tpl = E.Ell(), A.Afl(), T.Tpl()
        self._m5, self._m7 = M5.Mode5(), M7.Mode7()
        self._rec = R.Record()

    def channels(self):
        return self.out.channels()

    def _count(self, i, r):
        self.total[r] += 1
        if i >= 0:
            self.stats[i * N_STATS + r] += 1
        return r

    def _find(self, b):
        t = self._tab
        for j in range(0, len(t), 8):
            if (t[j] == b[4] and t[j + 1] == b[5] and t[j + 2] == b[6] and t[j + 3] == b[7]
                    and t[j + 4] == b[2] and t[j + 5] == b[3]):
                return j >> 3
        return -1

    def _heard(self, f):
        b = f.buf
        ident = f.id_str()
        for k in range(len(self.install)):
            if self.install[k][0] == ident:
                del self.install[k]
                break
        if len(self.install) >= MAX_INSTALL:
            del self.install[0]
        self.install.append((ident, f.manufacturer(), b[9], f.rssi, b[1] == C_SND_IR))

    def receive(self, f, now):
        """One frame the link layer accepted; returns OK or a statistic index."""
        b, end = f.buf, f.end
        if end < 11:
            return self._count(-1, MALFORMED)
        i = self._find(b)
        if i < 0:
            self._heard(f)
            return self._count(-1, UNKNOWN)
        key = self._keys[i]
        p = 10
        ctr = -1
        if 0x8C <= b[p] <= 0x8F:
            e = self._ell
            r = e.read(b, p, end, key)
            if r == E.ERR_CRC:
                return self._count(i, BAD_MAC)
            if r == E.ERR_KEY:
                return self._count(i, WRONG_KEY)
            if r != E.OK:
                return self._count(i, MALFORMED)
            if e.encrypted:
                ctr = e.sn
            p = e.next_off
        afl = None
        if p < end and b[p] == 0x90:
            afl = self._afl
            if afl.read(b, p, end) != A.OK:
                return self._count(i, MALFORMED)
            p = afl.next_off
        if p >= end:
            return self._count(i, MALFORMED)
        t = self._tpl
        if t.read(b, p, end) != T.OK:
            return self._count(i, MALFORMED)
        md = t.mode
        if md == 7:
            if key is None:
                return self._count(i, WRONG_KEY)
            if afl is None:
                return self._count(i, MALFORMED)
            r = self._m7.open(key, b, afl, t, end)
            if r == M7.ERR_MAC:
                return self._count(i, BAD_MAC)
            if r != M7.OK:
                return self._count(i, MALFORMED)
            ctr = afl.mcr
        elif md == 5:
            if key is None:
                return self._count(i, WRONG_KEY)
            r = self._m5.decrypt(key, t, b, end)
            if r == M5.ERR_CHECK:
                return self._count(i, WRONG_KEY)
            if r != M5.OK:
                return self._count(i, MALFORMED)
        elif not (md == 0 and self._tab[8 * i + 7] and ctr < 0):
            return self._count(i, MALFORMED)
        if ctr >= 0 and not self.counters.fresh(i, ctr):
            return self._count(i, REPLAYED)
        r = self._reading(i, b, t.data_off, end, now, b[9])
        if r != OK:
            return self._count(i, r)
        if ctr >= 0:
            self.counters.accept(i, ctr)
        return self._count(i, OK)

    def _reading(self, i, b, p, end, now, dtype):
        rec = self._rec
        val = sc = None
        unit = "m3"
        ts = now
        while p < end:
            q = rec.decode(b, p, end)
            if q < 0:
                return MALFORMED
            if rec.dtype == R.T_NONE or rec.dtype == R.T_MFCT:
                break
            if rec.storage == 0 and rec.tariff == 0 and rec.subunit == 0 and rec.function == 0:
                u = rec.unit
                if val is None and rec.dtype in (R.T_INT, R.T_BCD) and rec.ext == 0 and (
                        u == R.U_M3 or u == R.U_WH or u == R.U_J) and rec.n_vife == 0:
                    val, sc = rec.value, rec.scaler
                    if u == R.U_WH:
                        unit, sc = "kWh", sc - 3
                    elif u == R.U_J:
                        unit, sc = "GJ", sc - 9
                elif rec.dtype == R.T_DATETIME_F:
                    dt = R.datetime_f(rec.value)
                    if dt is not None and 2020 <= dt[0] < 2088:
                        ts = timeutil.to_secs(*dt)
            p = q
        if val is None:
            return MALFORMED
        while sc < -9:  # the P1 source keeps scalers within -9..9 (exact: drop digits only
            if val % 10:  # when they are zero)
                return MALFORMED
            val //= 10
            sc += 1
        try:
            self.out.set(self._tab[8 * i + 6], dtype, self.eids[i], ts, val, sc, unit)
        except ValueError:
            return MALFORMED
        return OK

    def meter_stats(self, i):
        return self.stats[i * N_STATS:(i + 1) * N_STATS]
