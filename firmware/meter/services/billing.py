# Billing: monthly snapshot of all energy registers and the maximum demand, then reset of the
# maximum demand.
#
# Wiring:
#     bl = Billing(registers, demand, ring, events, config, tz=clock.tz)  # ring: RingStore(..., RECORD, tag)
#     metrology.attach(bl)                                   # LAST consumer (after the demand)
#     store.add(billing.SECTION, bl.state_size, bl.dump_into, bl.load_from)
#     bl.open(events, now) at boot; bl.flush() after ticks (writes snapshots taken inside ticks)
#
# The billing boundary is local midnight (config 'billing_hour', default 0) of day 'billing_day'
# (1..28, default 1) of every month, in the meter's time zone (tz = MeterClock.tz; in the repeated
# hour of October the first pass, in the skipped hour of March the transition). At the boundary (exactly: the
# metrology cuts long ticks there) the snapshot takes the value of every energy register (those with
# unit kWh or kvarh when the Billing object was made) and the import/export maximum demand with its
# time, then resets the maximum demand, logs BILLING_RESET (a = billing counter) and increments the
# billing period counter register 0-0:0.1.0. Boundaries missed while the meter was off are taken at
# resume (one snapshot per missed month, at most 13, all with the restored values: no energy is
# metered while the meter is off).
#
# Snapshot payload (in a 256-byte ring slot with seq, CRC-32 and commit byte), little endian:
#     t i32, counter u32, n u16, reserved u16, values u32 * n, md_imp u32, md_imp_t i32,
#     md_exp u32, md_exp_t i32
# Readers: get(k) -> (t, counter, {obis: value}, (md_imp, t), (md_exp, t)) k-th newest, or None.
import struct
from array import array

from meter.common import timeutil
from meter.common import events as ev
from meter.common.timezone import TimeZone

SECTION = 0x424C  # "BL"
RECORD = 256
NEVER = 0x3FFFFFFF
MAX_VALUES = (RECORD - 9 - 12 - 16) // 4
QLEN = 2


class Billing:
    state_size = 8

    def __init__(self, registers, demand, ring=None, events=None, config=None, codes=None, tz=None):
        cfg = config or {}
        self.day = cfg.get("billing_day", 1)
        self.hour = cfg.get("billing_hour", 0)
        if not 1 <= self.day <= 28 or not 0 <= self.hour <= 23:
            raise ValueError("billing day must be 1..28 and hour 0..23")
        self.tz = tz if tz is not None else TimeZone()  # the meter's (MeterClock.tz)
        self.regs = registers
        self.demand = demand
        self.ring = ring
        self.events = events
        if codes is None:
            codes = [registers.codes[s] for s in range(len(registers))
                     if registers.units[s] in ("kWh", "kvarh")]
        if len(codes) > MAX_VALUES:
            raise ValueError("too many registers for a billing snapshot")
        self.codes = tuple(codes)
        self._slots = array("H", [registers.slot(c) for c in codes])
        self.psize = 12 + 4 * len(codes) + 16
        self.s_counter = registers.define("0-0:0.1.0", "", 0)
        self.next_boundary = NEVER
        self._following = NEVER  # boundary after next_boundary, computed outside the tick
        self._pend = bytearray(QLEN * self.psize)
        self.npend = 0
        self.dropped = 0

    # --- calendar --------------------------------------------------------------------------------------
    def next_after(self, t):
        """First billing boundary strictly after meter seconds t."""
        y, m = timeutil.civil_from_days(self.tz.local_secs(t) // 86400)[:2]
        for _ in range(3):
            b = self.tz.to_utc(y, m, self.day, self.hour)
            if b > t:
                return b
            m += 1
            if m > 12:
                m = 1
                y += 1
        raise ValueError("no billing boundary")

    # --- metrology hooks -------------------------------------------------------------------------------
    def _advance_boundary(self, b):
        f = self._following
        if f == NEVER or f <= b:
            f = self.next_after(b)  # calendar math allocates a few tuples: normally done in flush()
        self.next_boundary = f
        self._following = NEVER

    def _prepare_following(self):
        if self._following == NEVER and self.next_boundary != NEVER:
            self._following = self.next_after(self.next_boundary)

    def resume(self, now):
        if self.next_boundary == NEVER:
            self.next_boundary = self.next_after(now)
            self._prepare_following()
            return
        n = 0
        while self.next_boundary <= now and n < 13:
            self.boundary(self.next_boundary)
            n += 1
        if self.next_boundary <= now:
            self.next_boundary = self.next_after(now)
            self._following = NEVER
        self._prepare_following()

    def clock_adjusted(self, old, new):
        if self.next_boundary == NEVER or new < self.next_boundary:
            return
        self.resume(new)

    def boundary(self, b):
        if self.npend >= QLEN:
            if self.ring is not None:
                self.flush()
            else:
                self.npend = 0
                self.dropped += QLEN
        vals = self.regs.values
        counter = vals[self.s_counter] + 1
        p = self._pend
        off = self.npend * self.psize
        n = len(self._slots)
        struct.pack_into("<iIHH", p, off, b, counter, n, 0)
        o = off + 12
        for i in range(n):
            struct.pack_into("<I", p, o, vals[self._slots[i]])
            o += 4
        dm = self.demand
        if dm is not None:
            mt = dm.max_time
            struct.pack_into("<IiIi", p, o, vals[dm.s_max[0]], mt[0], vals[dm.s_max[1]], mt[1])
            dm.reset_max()
        else:
            struct.pack_into("<IiIi", p, o, 0, 0, 0, 0)
        self.npend += 1
        vals[self.s_counter] = counter
        if self.events is not None:
            self.events.add(b, ev.BILLING_RESET, counter, 0)
        self._advance_boundary(b)

    # --- storage ---------------------------------------------------------------------------------------
    def flush(self):
        """Write snapshots taken inside ticks to the ring (call outside the tick)."""
        self._prepare_following()
        ring = self.ring
        n = self.npend
        if ring is None or not n:
            return 0
        ring.append_from(self._pend, n, self.psize)
        self.npend = 0
        return n

    def open(self, events=None, now=0):
        """Scan the ring at boot; logs STORAGE_CORRUPT if damaged records were found."""
        return None if self.ring is None else self.ring.open_logged(events, now)

    def get(self, k):
        """k-th newest snapshot: (t, counter, {obis: value}, (md_imp, t), (md_exp, t)) or None."""
        if self.ring is None:
            p = memoryview(self._pend)[(self.npend - 1 - k) * self.psize:] if 0 <= k < self.npend else None
        else:
            p = self.ring.nth_newest(k, self._pend, self.npend, self.psize)
        if p is None:
            return None
        t, counter, n, _ = struct.unpack_from("<iIHH", p, 0)
        if n != len(self.codes):
            return None
        vals = {}
        for i in range(n):
            vals[self.codes[i]] = struct.unpack_from("<I", p, 12 + 4 * i)[0]
        mi, ti, me, te = struct.unpack_from("<IiIi", p, 12 + 4 * n)
        return t, counter, vals, (mi, ti), (me, te)

    # --- persistence -----------------------------------------------------------------------------------
    def dump_into(self, buf):
        struct.pack_into("<iI", buf, 0, self.next_boundary, self.regs.values[self.s_counter])

    def load_from(self, buf):
        nb, counter = struct.unpack_from("<iI", buf, 0)
        if counter > 0x3FFFFFFF:
            return False
        self.next_boundary = nb
        self._following = NEVER
        self.regs.values[self.s_counter] = counter
        return True
